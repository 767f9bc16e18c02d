//! The federation CA: a self-signed P-256 root created on first start in the data directory, issuing
//! node certificates for a member's CSR or bare public key (the member keeps its private key), and
//! signing the CRL.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ena_core::hex;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertificateSigningRequestParams, DnType,
    DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    RevocationReason, RevokedCertParams, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub const CA_KEY_FILE: &str = "federation-ca.key";
pub const CA_CERT_FILE: &str = "federation-ca.pem";
/// The CA's name in the deployment's key vault.
pub const VAULT_NAME: &str = "federation-ca";
/// How long a node certificate is valid.
pub const CERT_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The member's key request is unusable; the message says why.
    #[error("{0}")]
    BadRequest(String),
    #[error("certificate authority: {0}")]
    Internal(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Hex serial number.
    pub serial: String,
    pub pem: String,
    /// base64url SHA-256 of the DER certificate (the `x5t#S256` form), published in node metadata.
    pub thumbprint: String,
    pub not_after: OffsetDateTime,
}

/// The host of an entity identifier (`https://host[:port][/path]`).
pub fn entity_host(entity_id: &str) -> Option<&str> {
    let rest = entity_id.strip_prefix("https://")?;
    let host = rest.split(['/', ':', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

/// SHA-256 thumbprint (base64url) of a DER certificate.
pub fn thumbprint(der: &[u8]) -> String {
    B64.encode(Sha256::digest(der))
}

pub struct FederationCa {
    key: KeyPair,
    cert_pem: String,
}

impl std::fmt::Debug for FederationCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationCa").finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> CaError {
    CaError::Internal(e.to_string())
}

impl FederationCa {
    /// The CA in the deployment's key vault (its key and certificate as one secret, so instances that
    /// start at once agree on both), made on first use: imported from a data directory's
    /// `federation-ca.key`/`.pem` of before the vault (`legacy_dir`), or created named after the federation.
    pub async fn open(
        vault: &ena_keys::KeyVault,
        legacy_dir: Option<&Path>,
        federation_name: &str,
    ) -> Result<FederationCa, CaError> {
        let made = vault
            .first(VAULT_NAME, OffsetDateTime::now_utc().unix_timestamp(), || -> Result<Vec<u8>, CaError> {
                let (key_pem, cert_pem) = match legacy_dir.map(|d| (d.join(CA_KEY_FILE), d.join(CA_CERT_FILE))) {
                    Some((key, cert)) if key.exists() => {
                        (std::fs::read_to_string(key)?, std::fs::read_to_string(cert)?)
                    }
                    _ => FederationCa::create(federation_name)?,
                };
                Ok(serde_json::to_vec(&serde_json::json!({"key": key_pem, "certificate": cert_pem}))
                    .unwrap_or_default())
            })
            .await
            .map_err(internal)?;
        let stored: serde_json::Value = serde_json::from_slice(&made.secret).map_err(internal)?;
        let (Some(key_pem), Some(cert_pem)) = (stored["key"].as_str(), stored["certificate"].as_str()) else {
            return Err(internal("the stored CA lacks its key or certificate"));
        };
        let key = KeyPair::from_pem(key_pem).map_err(internal)?;
        Ok(FederationCa { key, cert_pem: cert_pem.to_owned() })
    }

    /// A new self-signed CA named after the federation: (key PEM, certificate PEM).
    fn create(federation_name: &str) -> Result<(String, String), CaError> {
        let key = KeyPair::generate().map_err(internal)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(internal)?;
        params.distinguished_name.push(DnType::CommonName, format!("{federation_name} federation CA"));
        params.distinguished_name.push(DnType::OrganizationName, federation_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(internal)?;
        Ok((key.serialize_pem(), cert.pem()))
    }

    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, CaError> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key).map_err(internal)
    }

    /// Issue a node certificate for `entity_id` from `request` (a PEM `CERTIFICATE REQUEST` whose subject
    /// CN is the entity's host, or a PEM `PUBLIC KEY`). Only the public key is taken from a CSR; every
    /// other field is ours (a CSR cannot ask to be a CA).
    pub fn issue(
        &self,
        request: &str,
        entity_id: &str,
        organisation: &str,
        org_number: &str,
    ) -> Result<Issued, CaError> {
        let host = entity_host(entity_id)
            .ok_or_else(|| CaError::BadRequest(format!("entity id {entity_id} is not an https URL with a host")))?;
        let mut params =
            CertificateParams::new(vec![host.to_owned()]).map_err(|e| CaError::BadRequest(e.to_string()))?;
        params.subject_alt_names.push(SanType::URI(
            entity_id.try_into().map_err(|_| CaError::BadRequest("entity id is not ASCII".into()))?,
        ));
        params.distinguished_name.push(DnType::CommonName, host);
        params.distinguished_name.push(DnType::OrganizationName, organisation);
        // serialNumber (2.5.4.5): the organisation number, as Swedish e-service certificates carry it.
        params.distinguished_name.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(
                org_number
                    .try_into()
                    .map_err(|_| CaError::BadRequest("organisation number is not printable".into()))?,
            ),
        );
        let serial = end_entity(&mut params);
        let issuer = self.issuer()?;
        let request = request.trim();
        let cert = if request.starts_with("-----BEGIN CERTIFICATE REQUEST-----") {
            let csr = CertificateSigningRequestParams::from_pem(request)
                .map_err(|e| CaError::BadRequest(format!("the CSR cannot be read or its signature is wrong: {e}")))?;
            let cn = csr.params.distinguished_name.get(&DnType::CommonName).map(dn_text);
            if cn.as_deref() != Some(host) {
                return Err(CaError::BadRequest(format!(
                    "the CSR's subject CN is {}, it must be the entity's host {host}",
                    cn.unwrap_or_else(|| "missing".into())
                )));
            }
            params.signed_by(&csr.public_key, &issuer).map_err(internal)?
        } else if request.starts_with("-----BEGIN PUBLIC KEY-----") {
            let spki = SubjectPublicKeyInfo::from_pem(request)
                .map_err(|e| CaError::BadRequest(format!("the public key cannot be read: {e}")))?;
            if spki.der_bytes().is_empty() {
                return Err(CaError::BadRequest("the public key is empty".into()));
            }
            params.signed_by(&spki, &issuer).map_err(internal)?
        } else {
            return Err(CaError::BadRequest(
                "send a PEM CERTIFICATE REQUEST (CSR) or a PEM PUBLIC KEY; the private key stays with you".into(),
            ));
        };
        Ok(Issued {
            serial: hex(&serial),
            thumbprint: thumbprint(cert.der()),
            pem: cert.pem(),
            not_after: params.not_after,
        })
    }

    /// A TLS server certificate for this instance's node listener, for `names` (DNS names or IP
    /// addresses), on a key made here; returns (certificate PEM, private key PEM).
    pub fn issue_server(&self, names: &[String]) -> Result<(String, String), CaError> {
        let key = KeyPair::generate().map_err(internal)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(|e| CaError::BadRequest(e.to_string()))?;
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        end_entity(&mut params);
        let cert = params.signed_by(&key, &self.issuer()?).map_err(internal)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A CRL (PEM) listing `revoked` (hex serial, revocation time), numbered `number`, valid a day.
    pub fn crl(&self, revoked: &[(String, OffsetDateTime)], number: u64) -> Result<String, CaError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(1),
            next_update: now + time::Duration::days(1),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&unhex(serial)),
                    revocation_time: *at,
                    reason_code: Some(RevocationReason::CessationOfOperation),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer()?).map_err(internal)?.pem().map_err(internal)
    }
}

/// What every certificate this CA issues to a node shares: not a CA, signing only, TLS client and server
/// use, a fresh positive random serial (returned), valid from five minutes ago for `CERT_DAYS`.
fn end_entity(params: &mut CertificateParams) -> [u8; 16] {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::Sha256;
    let mut serial = rand_serial();
    // Positive (top bit clear) and without a leading zero byte: DER writes integers minimally, so a
    // serial starting 0x00 would be one byte shorter in the certificate (and the CRL) than the one we
    // record — one certificate in 128 could then not be matched to its revocation.
    serial[0] &= 0x7f;
    if serial[0] == 0 {
        serial[0] = 1;
    }
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(CERT_DAYS);
    serial
}

fn dn_text(v: &DnValue) -> String {
    match v {
        DnValue::Utf8String(s) => s.clone(),
        DnValue::PrintableString(s) => s.as_str().to_owned(),
        DnValue::Ia5String(s) => s.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}

fn rand_serial() -> [u8; 16] {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    b
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn csr(cn: &str) -> (KeyPair, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        (key, pem)
    }

    #[tokio::test]
    async fn issues_for_csrs_and_public_keys_and_refuses_mismatches() {
        let db = ena_store::testing::sqlite().await;
        let vault = ena_keys::KeyVault::new(db.store.clone(), ena_keys::Kek::generate());
        let ca = FederationCa::open(&vault, None, "ena test").await.unwrap();
        let again = FederationCa::open(&vault, None, "ena test").await.unwrap();
        assert_eq!(ca.certificate_pem(), again.certificate_pem(), "the CA survives a restart");

        let (_key, request) = csr("node.kommun.example.se");
        let issued = ca.issue(&request, "https://node.kommun.example.se", "Kommunen", "2120001234").unwrap();
        assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(issued.serial.len(), 32);
        let (_, der) = x509_parser::pem::parse_x509_pem(issued.pem.as_bytes()).unwrap();
        let cert = der.parse_x509().unwrap();
        assert!(!cert.is_ca());
        assert_eq!(thumbprint(&der.contents), issued.thumbprint);

        let (_k, wrong) = csr("evil.example.se");
        let e = ca.issue(&wrong, "https://node.kommun.example.se", "Kommunen", "2120001234").unwrap_err();
        assert!(e.to_string().contains("subject CN"), "{e}");
        assert!(ca.issue("garbage", "https://node.kommun.example.se", "K", "2120001234").is_err());
        let tampered = request.replace("MII", "MIJ");
        assert!(ca.issue(&tampered, "https://node.kommun.example.se", "K", "2120001234").is_err());

        let key = KeyPair::generate().unwrap();
        let by_key = ca.issue(&key.public_key_pem(), "https://node.kommun.example.se", "K", "2120001234").unwrap();
        assert_ne!(by_key.serial, issued.serial);

        let crl = ca.crl(&[(issued.serial.clone(), OffsetDateTime::now_utc())], 1).unwrap();
        let (_, der) = x509_parser::pem::parse_x509_pem(crl.as_bytes()).unwrap();
        let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der.contents).unwrap();
        let serials: Vec<String> = parsed.iter_revoked_certificates().map(|r| hex(r.raw_serial())).collect();
        assert_eq!(serials, vec![issued.serial]);
    }
}
