//! `ena id parse`: one identifier in, JSON out; a one-line reason and a non-zero exit when invalid.

use anyhow::anyhow;
use ena_core::AnyId;
use serde_json::json;

pub fn parse(input: &str) -> anyhow::Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let parsed = AnyId::parse_at(input, today).map_err(|e| anyhow!("invalid identifier {input:?}: {e}"))?;
    let value = match parsed {
        AnyId::Person(p) => json!({
            "kind": if p.is_coordination_number() { "samordningsnummer" } else { "personnummer" },
            "normalized": p.as_str(),
            "birthDate": p.birth_date().to_string(),
            "coordinationNumber": p.is_coordination_number(),
            "sex": p.legal_sex(),
        }),
        AnyId::Organisation(o) => json!({
            "kind": "organisationsnummer",
            "normalized": o.as_str(),
            "display": o.display_form(),
            "group": o.group(),
            "groupName": o.group_name(),
        }),
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
