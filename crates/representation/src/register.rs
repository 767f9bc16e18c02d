//! The company register: companies, their signatories and signing rule, board and CEO. ena ships a
//! fixture (`data/representation/companies.toml`) standing in for Bolagsverket; a real adapter implements
//! [`CompanyRegister`] over a synced copy of the register.

use std::collections::HashMap;

use ena_core::Organisationsnummer;
use serde::{Deserialize, Serialize};

/// How a company is bound by signatures (firmateckning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningRule {
    /// Each signatory alone (ensam firmateckning).
    Sole,
    /// Two signatories together (två i förening).
    Joint,
    /// The board jointly: every board member.
    Board,
}

/// A role a person holds in a company's register entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Signatory,
    Ceo,
    Board,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Signatory => "signatory",
            Role::Ceo => "ceo",
            Role::Board => "board",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    /// Normalised (12 digits).
    pub organisation_number: String,
    pub name: String,
    pub signing_rule: SigningRule,
    pub signatories: Vec<String>,
    pub board: Vec<String>,
    pub ceo: Option<String>,
}

impl Company {
    /// The persons whose approvals can bind the company, and how many distinct ones a grant needs.
    pub fn binding(&self) -> (&[String], usize) {
        match self.signing_rule {
            SigningRule::Sole => (&self.signatories, 1),
            SigningRule::Joint => (&self.signatories, 2.min(self.signatories.len().max(1))),
            SigningRule::Board => (&self.board, self.board.len().max(1)),
        }
    }

    /// May `person` take part in binding the company?
    pub fn can_bind(&self, person: &str) -> bool {
        self.binding().0.iter().any(|p| p == person)
    }

    pub fn roles_of(&self, person: &str) -> Vec<Role> {
        let mut roles = Vec::new();
        if self.signatories.iter().any(|p| p == person) {
            roles.push(Role::Signatory);
        }
        if self.ceo.as_deref() == Some(person) {
            roles.push(Role::Ceo);
        }
        if self.board.iter().any(|p| p == person) {
            roles.push(Role::Board);
        }
        roles
    }
}

/// Where company facts come from.
pub trait CompanyRegister: Send + Sync {
    fn company(&self, organisation_number: &str) -> Option<Company>;
    /// The companies in which `person` holds a role, with the roles.
    fn roles_of(&self, person: &str) -> Vec<(String, Vec<Role>)>;
}

#[derive(Deserialize)]
struct FixtureFile {
    company: Vec<FixtureCompany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureCompany {
    organisation_number: String,
    name: String,
    signing_rule: SigningRule,
    #[serde(default)]
    signatories: Vec<String>,
    #[serde(default)]
    board: Vec<String>,
    ceo: Option<String>,
}

/// The register held in memory (the fixture, or a generated one for benchmarks).
#[derive(Debug, Default)]
pub struct FixtureRegister {
    companies: HashMap<String, Company>,
    by_person: HashMap<String, Vec<String>>,
}

pub const SHIPPED_COMPANIES: &str = include_str!("../../../data/representation/companies.toml");

impl FixtureRegister {
    /// Parse a fixture file; every number is checked.
    pub fn parse(text: &str) -> Result<FixtureRegister, String> {
        let file: FixtureFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut register = FixtureRegister::default();
        for c in file.company {
            let org = Organisationsnummer::parse(&c.organisation_number)
                .map_err(|e| format!("{}: {e}", c.organisation_number))?;
            let person = |p: &String| {
                ena_core::PersonId::parse(p).map(|p| p.as_str().to_owned()).map_err(|e| format!("{}: {e}", c.name))
            };
            let company = Company {
                organisation_number: org.as_str().to_owned(),
                name: c.name.clone(),
                signing_rule: c.signing_rule,
                signatories: c.signatories.iter().map(person).collect::<Result<_, _>>()?,
                board: c.board.iter().map(person).collect::<Result<_, _>>()?,
                ceo: c.ceo.as_ref().map(person).transpose()?,
            };
            register.insert(company);
        }
        Ok(register)
    }

    /// The shipped fixture.
    pub fn shipped() -> FixtureRegister {
        FixtureRegister::parse(SHIPPED_COMPANIES).expect("the shipped company fixture is valid")
    }

    pub fn insert(&mut self, company: Company) {
        let mut people: Vec<&String> =
            company.signatories.iter().chain(company.board.iter()).chain(company.ceo.iter()).collect();
        people.sort();
        people.dedup();
        for p in people {
            self.by_person.entry(p.clone()).or_default().push(company.organisation_number.clone());
        }
        self.companies.insert(company.organisation_number.clone(), company);
    }

    pub fn len(&self) -> usize {
        self.companies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.companies.is_empty()
    }
}

impl CompanyRegister for FixtureRegister {
    fn company(&self, organisation_number: &str) -> Option<Company> {
        self.companies.get(organisation_number).cloned()
    }

    fn roles_of(&self, person: &str) -> Vec<(String, Vec<Role>)> {
        self.by_person
            .get(person)
            .into_iter()
            .flatten()
            .filter_map(|org| self.companies.get(org).map(|c| (org.clone(), c.roles_of(person))))
            .collect()
    }
}
