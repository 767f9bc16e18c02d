//! The outbound client for node-to-node calls: trusts only the federation CA (no platform roots),
//! presents the node's own certificate, and — for hosts whose certificate the federation publishes —
//! accepts only that certificate ([`Pins`]).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A reqwest client for calls between nodes. `ca_pem` is the federation CA, `cert_pem`/`key_pem` the
/// node's certificate and private key.
pub fn node_client(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<reqwest::Client, String> {
    node_client_builder(ca_pem, cert_pem, key_pem)?.build().map_err(|e| e.to_string())
}

/// Server certificates pinned by host name: the SHA-256 thumbprint (base64url) the federation publishes
/// for the member node on that host (`tls_client_certificate_sha256`, the certificate it also serves
/// with). A certificate the CA issued to someone else for that name — a mis-issuance, or a stolen CA key
/// used by a man in the middle — is refused in the handshake.
#[derive(Debug, Default)]
pub struct Pins(std::sync::RwLock<std::collections::HashMap<String, String>>);

impl Pins {
    /// Pin `host` (lower-cased) to `thumbprint`, replacing what was pinned before.
    pub fn set(&self, host: &str, thumbprint: &str) {
        self.0.write().expect("pins").insert(host.to_ascii_lowercase(), thumbprint.to_owned());
    }

    fn get(&self, host: &str) -> Option<String> {
        self.0.read().expect("pins").get(&host.to_ascii_lowercase()).cloned()
    }
}

/// The WebPKI check against the federation CA, then the pin of the host, if it has one.
#[derive(Debug)]
struct PinningVerifier {
    inner: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
    pins: std::sync::Arc<Pins>,
}

impl rustls::client::danger::ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        if let rustls::pki_types::ServerName::DnsName(name) = server_name
            && let Some(expected) = self.pins.get(name.as_ref())
            && crate::ca::thumbprint(end_entity.as_ref()) != expected
        {
            return Err(rustls::Error::General(format!(
                "the certificate of {} is not the one the federation publishes for it",
                name.as_ref()
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The same, as a builder to adjust (timeouts, pooling).
pub fn node_client_builder(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<reqwest::ClientBuilder, String> {
    node_client_builder_pinned(ca_pem, cert_pem, key_pem, std::sync::Arc::new(Pins::default()))
}

/// A builder whose client checks server certificates against `pins` as well as the CA.
pub fn node_client_builder_pinned(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    pins: std::sync::Arc<Pins>,
) -> Result<reqwest::ClientBuilder, String> {
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
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(std::sync::Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("federation CA: {e}"))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(PinningVerifier { inner, pins }))
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("node certificate and key: {e}"))?;
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}

/// Resolves `*.localhost` to 127.0.0.1 (RFC 6761) and everything else with the system resolver, so a
/// demo or test federation on one machine uses real entity host names and certificates.
#[derive(Debug)]
pub struct LocalhostAware;

impl reqwest::dns::Resolve for LocalhostAware {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: reqwest::dns::Addrs =
                    Box::new(std::iter::once(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
                return Ok(addrs);
            }
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// A client for reading members' public endpoints (their entity configurations): trusts only the
/// federation CA, presents no certificate.
pub fn member_reader(ca_pem: &str) -> Result<reqwest::Client, String> {
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).map_err(|e| e.to_string())?;
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .dns_resolver(std::sync::Arc::new(LocalhostAware))
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
}
