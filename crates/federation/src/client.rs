//! The outbound client for node-to-node calls: trusts only the federation CA (no platform roots) and
//! presents the node's own certificate.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A reqwest client for calls between nodes. `ca_pem` is the federation CA, `cert_pem`/`key_pem` the
/// node's certificate and private key.
pub fn node_client(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<reqwest::Client, String> {
    node_client_builder(ca_pem, cert_pem, key_pem)?.build().map_err(|e| e.to_string())
}

/// The same, as a builder to adjust (timeouts, pooling).
pub fn node_client_builder(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<reqwest::ClientBuilder, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| format!("federation CA: {e}"))?).map_err(|e| format!("federation CA: {e}"))?;
    }
    if roots.is_empty() {
        return Err("federation CA: no certificate in the PEM".into());
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("node certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("node key: {e}"))?;
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("node certificate and key: {e}"))?;
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}
