//! The example organisation of `ena demo`, the messaging benchmark and the tests: Exempelkommunen's social
//! services, which own the orosanmälan message type (its schema goes in `orosanmalan.json` beside it).

/// The lines to add to the municipality node's `node.toml`.
pub const MUNICIPALITY_TOML: &str = r#"
[[address]]
address = "212000-0142:socialtjanst"
kind = "function"
name = "Exempelkommunen, socialtjänsten"
accepts = ["se.kommun.orosanmalan@1.0"]

[[message_type]]
id = "se.kommun.orosanmalan"
version = "1.0"
title = "Orosanmälan"
schema = "orosanmalan.json"
classification = { confidentiality = 3, integrity = 2, availability = 1 }
"#;
