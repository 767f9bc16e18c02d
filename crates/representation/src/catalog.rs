//! Packages (mandate themes) and services, from `data/representation/packages.toml`: which register roles
//! hold a package, whether it may be granted and passed on, and which package a service needs.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::register::Role;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct Package {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    /// `organisation` or `person`: whose package it is.
    pub party: String,
    /// Register roles that hold it for their company.
    pub roles: Vec<Role>,
    pub assignable: bool,
    pub delegable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub package: String,
}

#[derive(Deserialize)]
struct File {
    package: Vec<Package>,
    service: Vec<Service>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub packages: Vec<Package>,
    pub services: Vec<Service>,
    package_index: HashMap<String, usize>,
    service_index: HashMap<String, usize>,
}

pub const SHIPPED_CATALOG: &str = include_str!("../../../data/representation/packages.toml");

impl Catalog {
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        for p in &file.package {
            if p.party != "organisation" && p.party != "person" {
                return Err(format!("package {}: party must be organisation or person", p.id));
            }
        }
        for s in &file.service {
            if !file.package.iter().any(|p| p.id == s.package) {
                return Err(format!("service {}: unknown package {}", s.id, s.package));
            }
        }
        let package_index = file.package.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect();
        let service_index = file.service.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Ok(Catalog { packages: file.package, services: file.service, package_index, service_index })
    }

    pub fn shipped() -> Catalog {
        Catalog::parse(SHIPPED_CATALOG).expect("the shipped package catalog is valid")
    }

    pub fn package(&self, id: &str) -> Option<&Package> {
        self.package_index.get(id).map(|&i| &self.packages[i])
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.service_index.get(id).map(|&i| &self.services[i])
    }

    /// The organisation packages `roles` hold.
    pub fn held_by_roles<'a>(&'a self, roles: &'a [Role]) -> impl Iterator<Item = &'a Package> + 'a {
        self.packages.iter().filter(move |p| p.party == "organisation" && p.roles.iter().any(|r| roles.contains(r)))
    }
}
