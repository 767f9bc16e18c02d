//! Log output: the human format escapes control characters inside each line, so text that came from
//! outside (another node's problem detail, a remote error, a header) cannot forge log lines or drive
//! the terminal. JSON logs need no such care: the JSON encoder escapes.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Start human-format logging to standard output (as the JSON format) with `filter`.
/// No ANSI colours: the writer escapes every control character, the colour codes included.
pub fn init_human(filter: EnvFilter) {
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(false).with_writer(Escaping).init();
}

/// Standard output, with every control character of a line but its final newline escaped. The fmt
/// layer writes one whole event per `write` call, so the line break it ends with is the only one kept.
#[derive(Clone, Copy, Debug)]
pub struct Escaping;

impl<'a> MakeWriter<'a> for Escaping {
    type Writer = EscapingWriter<std::io::Stdout>;
    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(std::io::stdout())
    }
}

#[derive(Debug)]
pub struct EscapingWriter<W: Write>(pub W);

/// `line` with control characters written as `\n`, `\u{1b}` …, but for one trailing newline.
pub fn escape_line(line: &str) -> String {
    let (body, end) = match line.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (line, ""),
    };
    let mut out = String::with_capacity(line.len());
    for c in body.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push_str(end);
    out
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(escape_line(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_text_cannot_forge_a_log_line_or_colour_the_terminal() {
        let forged = "WARN delivery refused: nope\n2026-12-01T00:00:00Z INFO message delivered \u{1b}[2J\r\n";
        let mut w = EscapingWriter(Vec::new());
        w.write_all(forged.as_bytes()).unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert_eq!(out.matches('\n').count(), 1, "one event, one line: {out:?}");
        assert!(out.ends_with("\\r\n"), "{out:?}");
        assert!(out.contains("nope\\n2026") && out.contains("\\u{1b}[2J") && !out.contains('\u{1b}'), "{out:?}");
        assert_eq!(escape_line("plain line\n"), "plain line\n");
        assert_eq!(escape_line("tab\there"), "tab\\there");
    }
}
