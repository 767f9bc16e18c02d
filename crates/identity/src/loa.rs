//! Levels of assurance and how an ID token's `acr` maps to them (Sweden Connect URIs by default).

use std::collections::BTreeMap;

/// Level of assurance 2, 3 or 4 (eIDAS low / substantial / high in Swedish terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Loa(pub u8);

impl Loa {
    pub fn parse(n: i64) -> Option<Loa> {
        (2..=4).contains(&n).then_some(Loa(n as u8))
    }
}

impl std::fmt::Display for Loa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoA {}", self.0)
    }
}

/// `acr` value → level. Configurable; the default knows Sweden Connect's URIs.
#[derive(Clone, Debug)]
pub struct AcrMap(pub BTreeMap<String, Loa>);

impl Default for AcrMap {
    fn default() -> AcrMap {
        AcrMap((2..=4).map(|n| (acr_uri(Loa(n)), Loa(n))).collect())
    }
}

impl AcrMap {
    pub fn level(&self, acr: &str) -> Option<Loa> {
        self.0.get(acr).copied()
    }
}

/// Sweden Connect's `acr` URI for a level.
pub fn acr_uri(loa: Loa) -> String {
    format!("http://id.elegnamnden.se/loa/1.0/loa{}", loa.0)
}
