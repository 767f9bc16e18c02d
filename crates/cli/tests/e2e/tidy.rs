//! Tidy checks over the source tree: module docs, write transactions, migrations, route declarations.

use super::*;

/// Every Rust file says what it is for on its first line (rust-analyzer's habit).
#[test]
fn tidy_every_rust_file_starts_with_a_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut missing = Vec::new();
    let mut stack = vec![root.join("crates")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                if !text.starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(seen > 10, "found only {seen} files; is the walk wrong?");
    assert!(missing.is_empty(), "files without a leading //! line: {missing:?}");
}

/// Every write transaction begins with `BeginWrite::begin_write` (`BEGIN IMMEDIATE` on SQLite): a
/// deferred `BEGIN` that reads and then writes fails with "database is locked" under load.
#[test]
fn tidy_no_deferred_write_transactions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (mut offending, mut seen) = (Vec::new(), 0);
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") && !path.ends_with("tests") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.starts_with(root.join("crates/store")) {
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in [".begin().await", ".begin_with("] {
                    if text.contains(pattern) {
                        offending.push(format!("{}: {pattern}", path.display()));
                    }
                }
            }
        }
    }
    assert!(seen > 10, "found only {seen} files; is the walk wrong?");
    assert!(offending.is_empty(), "write transactions must begin with begin_write: {offending:?}");
}

/// The two dialects' migrations describe the same schema: the same files, and in each the same tables
/// with the same columns of the same kind once the dialects' type names are normalised (INTEGER/BIGINT,
/// BLOB/BYTEA, …), so a column added to one cannot be forgotten in the other.
#[test]
fn tidy_migrations_are_the_same_schema_in_both_dialects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/store/migrations");
    let files = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (sqlite, postgres) = (files("sqlite"), files("postgres"));
    assert!(sqlite.len() >= 18, "found only {} migrations; is the path wrong?", sqlite.len());
    assert_eq!(sqlite, postgres, "each migration exists in both dialects");
    let kind = |t: &str| match t.to_ascii_uppercase().as_str() {
        "INTEGER" | "BIGINT" | "INT" | "SMALLINT" | "INT8" | "BIGSERIAL" => "integer",
        "TEXT" | "VARCHAR" => "text",
        "BLOB" | "BYTEA" => "bytes",
        "REAL" | "DOUBLE" | "FLOAT8" => "real",
        "BOOLEAN" | "BOOL" => "boolean",
        other => panic!("type {other} is not mapped between the dialects; add it here"),
    };
    // (table, column, kind) of every CREATE TABLE / ALTER TABLE … ADD COLUMN in a file.
    let schema = |text: &str| {
        let text: String = text.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        let mut columns = Vec::new();
        for (i, _) in text.match_indices("CREATE TABLE") {
            let rest = &text[i + "CREATE TABLE".len()..];
            let table = rest.split_whitespace().next().unwrap().trim_start_matches("IF NOT EXISTS").to_owned();
            let body = &rest[rest.find('(').unwrap() + 1..];
            let mut depth = 0;
            let end = body
                .char_indices()
                .find(|&(_, c)| {
                    depth += i32::from(c == '(') - i32::from(c == ')');
                    depth < 0
                })
                .unwrap()
                .0;
            let mut depth = 0;
            let mut part = String::new();
            let mut parts = Vec::new();
            for c in body[..end].chars() {
                depth += i32::from(c == '(') - i32::from(c == ')');
                if c == ',' && depth == 0 {
                    parts.push(std::mem::take(&mut part));
                } else {
                    part.push(c);
                }
            }
            parts.push(part);
            for p in parts {
                let words: Vec<&str> = p.split_whitespace().collect();
                let Some(first) = words.first() else { continue };
                if ["PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT"]
                    .contains(&first.to_ascii_uppercase().as_str())
                {
                    continue;
                }
                let ty = words[1].split('(').next().unwrap();
                columns.push((table.clone(), first.to_string(), kind(ty)));
            }
        }
        for line in text.lines().filter(|l| l.contains("ADD COLUMN")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let table = words[words.iter().position(|w| *w == "TABLE").unwrap() + 1].to_owned();
            let at = words.iter().position(|w| *w == "COLUMN").unwrap();
            columns.push((table, words[at + 1].to_owned(), kind(words[at + 2].trim_end_matches([';', ',']))));
        }
        columns.sort();
        columns
    };
    let mut compared = 0;
    for name in &sqlite {
        let read = |dialect: &str| std::fs::read_to_string(root.join(dialect).join(name)).unwrap();
        let (a, b) = (schema(&read("sqlite")), schema(&read("postgres")));
        assert_eq!(a, b, "{name}: the dialects' tables differ");
        compared += a.len();
    }
    assert!(compared > 100, "compared only {compared} columns; is the parser wrong?");
}

/// No route can carry a personal identity number in its path or query: no path parameter or query
/// parameter of any operation in the OpenAPI document is named for one (they travel in bodies).
#[test]
fn tidy_no_route_takes_an_identity_number_in_its_url() {
    let doc = ena_server::openapi::document();
    let doc = serde_json::to_value(&doc).unwrap();
    let forbidden =
        ["personnummer", "personalnumber", "personal_number", "samordningsnummer", "personid", "person_id", "ssn"];
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let lower = path.to_ascii_lowercase().replace('-', "");
        assert!(!forbidden.iter().any(|f| lower.contains(f)), "{path} names an identity number in its path");
        for (_, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                seen += 1;
                let name = p["name"].as_str().unwrap_or_default().to_ascii_lowercase().replace('-', "");
                assert!(
                    !forbidden.iter().any(|f| name.contains(f)) && name != "person" && name != "pnr",
                    "{path}: parameter {name:?} ({}) would put an identity number in the URL",
                    p["in"]
                );
            }
        }
    }
    assert!(seen > 20, "saw only {seen} parameters; is the walk wrong?");
}

/// A route cannot exist without saying who may call it: the central server and the member node add
/// routes only through `callers::Routes` (`.get(path, caller, handler)` …), never with axum's bare
/// `.route(`, so every route is in the declarations `authorize` decides by (which refuses an
/// undeclared one).
#[test]
fn tidy_every_route_declares_its_caller() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates");
    let (mut bare, mut seen) = (Vec::new(), 0);
    let mut stack = vec![crates.join("server/src"), crates.join("node/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("callers.rs") {
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if line.contains(".route(") || line.contains(".nest(") {
                        bare.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(seen > 20, "found only {seen} files; is the walk wrong?");
    assert!(bare.is_empty(), "routes added without a declared caller: {bare:?}");
    let routes = ena_server::routes();
    assert!(routes.declared().len() > 100, "only {} declared routes", routes.declared().len());
    let (local, peer) = (ena_node::api::local_routes(), ena_node::api::peer_routes());
    let node = [local.0, local.1, peer.0, peer.1].iter().map(|r| r.declared().len()).sum::<usize>();
    assert!(node > 20, "only {node} declared node routes");
}
