//! The restricted Markdown mail bodies may use, rendered to HTML that cannot run anything.
//!
//! Not CommonMark: a small, fixed subset — paragraphs, `#`/`##`/`###` headings, `-`/`*` and `1.` lists,
//! `**strong**`, `*emphasis*`, and `[text](https://…)` links (https and mailto only). Every other
//! character is text: it is escaped before any markup is added, raw HTML is shown as the characters it
//! is, and a link's URL is checked and escaped as an attribute. Inertness does not depend on a
//! sanitiser catching what a full Markdown engine let through; it follows from never emitting a tag
//! from input.

/// Render `text` (restricted Markdown) as HTML.
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Option<&'static str> = None;
    let close_paragraph = |out: &mut String, p: &mut Vec<&str>| {
        if !p.is_empty() {
            out.push_str("<p>");
            out.push_str(&p.iter().map(|l| inline(l.trim())).collect::<Vec<_>>().join("<br>"));
            out.push_str("</p>\n");
            p.clear();
        }
    };
    let close_list = |out: &mut String, l: &mut Option<&'static str>| {
        if let Some(tag) = l.take() {
            out.push_str(&format!("</{tag}>\n"));
        }
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            close_paragraph(&mut out, &mut paragraph);
            close_list(&mut out, &mut list);
            continue;
        }
        if let Some((level, rest)) = heading(trimmed) {
            close_paragraph(&mut out, &mut paragraph);
            close_list(&mut out, &mut list);
            out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(rest)));
            continue;
        }
        if let Some((tag, rest)) = list_item(trimmed) {
            close_paragraph(&mut out, &mut paragraph);
            if list != Some(tag) {
                close_list(&mut out, &mut list);
                out.push_str(&format!("<{tag}>\n"));
                list = Some(tag);
            }
            out.push_str(&format!("<li>{}</li>\n", inline(rest)));
            continue;
        }
        close_list(&mut out, &mut list);
        paragraph.push(line);
    }
    close_paragraph(&mut out, &mut paragraph);
    close_list(&mut out, &mut list);
    out
}

/// Headings start at level 3 (the page around a message has its own h1 and h2).
fn heading(line: &str) -> Option<(usize, &str)> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    let rest = line[hashes..].strip_prefix(' ')?;
    (1..=3).contains(&hashes).then_some((hashes + 2, rest.trim()))
}

fn list_item(line: &str) -> Option<(&'static str, &str)> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some(("ul", rest));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        return line[digits..].strip_prefix(". ").map(|rest| ("ol", rest));
    }
    None
}

/// Escape `text` for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link target we emit: https or mailto, nothing that could be read as another scheme or break out
/// of the attribute (it is escaped as well).
pub fn safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("mailto:"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
}

/// Inline markup in one line: links, strong, emphasis; everything else escaped.
fn inline(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            let label = &after[..close];
            let url = &after[close + 2..close + 2 + end];
            if safe_url(url) && !label.contains('[') {
                out.push_str(&format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                    escape(url),
                    emphasis(label)
                ));
                rest = &after[close + 3 + end..];
                continue;
            }
        }
        let next = rest[1..].find('[').map_or(rest.len(), |i| i + 1);
        out.push_str(&emphasis(&rest[..next]));
        rest = &rest[next..];
    }
    out
}

/// `**strong**` and `*emphasis*` in escaped text (a marker without its pair is text).
fn emphasis(text: &str) -> String {
    let escaped = escape(text);
    let strong = pairs(&escaped, "**", "strong");
    pairs(&strong, "*", "em")
}

fn pairs(text: &str, marker: &str, tag: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        match after.find(marker) {
            // A pair encloses some text that does not start with a space ("2 * 3 * 4" is arithmetic).
            Some(end) if end > 0 && !after.starts_with(' ') => {
                out.push_str(&rest[..start]);
                out.push_str(&format!("<{tag}>{}</{tag}>", &after[..end]));
                rest = &after[end + marker.len()..];
            }
            _ => {
                out.push_str(&rest[..start + marker.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_renders() {
        let html = to_html(
            "# Beslut\n\nDu har fått **bifall** på *din* ansökan.\nSe [Mina sidor](https://exempel.se/a?b=1&c=2).\n\n- ett\n- två\n\n1. första\n2. andra",
        );
        assert_eq!(
            html,
            "<h3>Beslut</h3>\n<p>Du har fått <strong>bifall</strong> på <em>din</em> ansökan.<br>Se <a href=\"https://exempel.se/a?b=1&amp;c=2\" rel=\"noopener noreferrer\">Mina sidor</a>.</p>\n<ul>\n<li>ett</li>\n<li>två</li>\n</ul>\n<ol>\n<li>första</li>\n<li>andra</li>\n</ol>\n"
        );
    }

    #[test]
    fn nothing_from_input_becomes_a_tag_or_a_script_url() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[klick](javascript:alert(1))",
            "[klick](JaVaScRiPt:alert(1))",
            "[x](https://a.se\" onmouseover=\"alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "**<svg/onload=alert(1)>**",
            "<a href=\"javascript:alert(1)\">a</a>",
            "# <iframe src=//evil>",
        ] {
            let html = to_html(payload);
            let tags: Vec<&str> = html.split('<').skip(1).map(|t| t.split(['>', ' ']).next().unwrap()).collect();
            assert!(
                tags.iter()
                    .all(|t| ["p", "/p", "h3", "/h3", "strong", "/strong", "em", "/em", "br", "a", "/a"].contains(t)),
                "{payload} → {html}"
            );
            assert!(!html.contains("href=\"javascript") && !html.contains("href=\"data"), "{payload} → {html}");
            assert!(!html.contains("\" onmouseover"), "{payload} → {html}");
        }
    }

    #[test]
    fn unpaired_markers_stay_text() {
        assert_eq!(to_html("2 * 3 = 6"), "<p>2 * 3 = 6</p>\n");
        assert_eq!(to_html("**a** b **"), "<p><strong>a</strong> b **</p>\n");
        assert_eq!(to_html("2 * 3 * 4"), "<p>2 * 3 * 4</p>\n");
    }
}
