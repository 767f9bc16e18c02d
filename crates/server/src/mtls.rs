//! The node listener: mutual TLS between member nodes and this instance.
//!
//! `axum::serve` cannot hand handlers the client certificate, so this is our own accept loop: TCP →
//! tokio-rustls, whose verifier only accepts client certificates chaining to the federation CA → a
//! database check that the certificate is a member's current, unrevoked one and the member is in good
//! standing → hyper-util serving the same router, with the verified [`NodePeer`] in every request's
//! extensions. A certificate that does not chain fails the handshake; a revoked certificate or a
//! suspended member gets 403 problems on every request.

use std::sync::Arc;
use std::time::Duration;

use crate::edge::Edge;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use ena_core::ErrorCode;
use ena_federation::NodePeer;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::AppState;
use crate::problem::ApiError;

/// Longest a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection lives: then it is closed gracefully (in-flight requests finish) and the client
/// connects again, with a fresh handshake against the CA and the CRL.
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);

/// What the accept loop needs to know of a peer identification: whether the connection may stay open.
/// A connection whose peer is no longer in good standing is closed after the request that found it out.
pub trait Standing {
    fn in_good_standing(&self) -> bool;
}

impl Standing for PeerStatus {
    fn in_good_standing(&self) -> bool {
        matches!(self, PeerStatus::Member(_))
    }
}

/// What the handshake and the membership check concluded about the peer of a connection.
#[derive(Clone, Debug)]
pub enum PeerStatus {
    Member(NodePeer),
    /// The certificate chained to the CA but is not (or no longer) a member's good certificate.
    Refused(String),
}

/// A handler argument: the member node that made the request (mTLS listener only).
#[derive(Clone, Debug)]
pub struct Node(pub NodePeer);

impl FromRequestParts<AppState> for Node {
    type Rejection = ApiError;

    /// The verified member, if the decision point lets it `use` this API (`api:<first path segment>`).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<Node>(parts) {
            return Ok(checked);
        }
        match parts.extensions.get::<PeerStatus>() {
            Some(PeerStatus::Member(peer)) => {
                let api = parts.uri.path().trim_start_matches('/').split('/').next().unwrap_or_default();
                crate::auth::may_use(
                    state,
                    ("member", &peer.entity_id),
                    &[("organisationNumber", &peer.organisation_number)],
                    api,
                )
                .await?;
                Ok(Node(peer.clone()))
            }
            Some(PeerStatus::Refused(why)) => Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!("The client certificate is not accepted: {why}."),
            )),
            None => Err(ApiError::new(
                ErrorCode::AuthenticationRequired,
                "This operation is for member nodes: call it on the node listener with the node's federation certificate.",
            )),
        }
    }
}

/// A handler argument: what the node listener concluded about the connection's certificate, or `None`
/// on the public listener (for endpoints that accept both, like the token endpoint).
#[derive(Clone, Debug)]
pub struct MaybePeer(pub Option<PeerStatus>);

impl<S: Send + Sync> FromRequestParts<S> for MaybePeer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybePeer(parts.extensions.get::<PeerStatus>().cloned()))
    }
}

/// TLS settings of the node listener: our certificate from the federation CA; client certificates
/// required and verified against the federation CA only.
pub fn server_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<rustls::ServerConfig, String> {
    config(ca_pem, cert_pem, key_pem, false)
}

/// The same, but a client may also connect without a certificate (a certificate it presents must still
/// chain to the federation CA): for a member node's peer listener, where anyone may read the node's
/// entity configuration and every other route refuses a connection without a certificate.
pub fn server_config_public_reads(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<rustls::ServerConfig, String> {
    config(ca_pem, cert_pem, key_pem, true)
}

fn config(ca_pem: &str, cert_pem: &str, key_pem: &str, optional: bool) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let builder = if optional { builder.allow_unauthenticated() } else { builder };
    let verifier = builder.build().map_err(|e| format!("client verifier: {e}"))?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serve `app` on `listener` with mutual TLS until `shutdown` resolves; each request carries the
/// member check of its connection's certificate, made for that request, as a [`PeerStatus`] extension:
/// a member suspended or a certificate revoked while the connection is open is refused at once.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    state: AppState,
    app: Edge,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let identify = move |der: Option<Vec<u8>>| {
        let state = state.clone();
        async move {
            match der {
                Some(der) => match state.federation.node_peer(&der).await {
                    Ok(peer) => PeerStatus::Member(peer),
                    Err(why) => PeerStatus::Refused(why),
                },
                None => PeerStatus::Refused("no client certificate".into()),
            }
        }
    };
    serve_with(listener, tls, app, identify, shutdown).await;
}

/// The accept loop itself, for any listener that verifies client certificates: `identify` turns the
/// connection's client certificate (DER) into `P` for every request, which the request carries as an
/// extension (standing is checked per request, not per connection). A connection is closed once a
/// request finds its peer out of good standing, and after [`MAX_CONNECTION_AGE`] in any case. The member
/// node uses it with its own identification.
pub async fn serve_with<P, F, Fut>(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    app: Edge,
    identify: F,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) where
    P: Clone + Send + Sync + std::fmt::Debug + Standing + 'static,
    F: Fn(Option<Vec<u8>>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = P> + Send,
{
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => { tracing::warn!(error = %e, "node listener accept failed"); continue; }
            },
            () = &mut shutdown => return,
        };
        let (acceptor, identify, app) = (acceptor.clone(), identify.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(%remote, error = %e, "node TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(%remote, "node TLS handshake timed out");
                    return;
                }
            };
            let der = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
            tracing::debug!(%remote, "node connection");
            let closing = Arc::new(tokio::sync::Notify::new());
            let on_refusal = closing.clone();
            let service = tower::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                let (identify, der, app, on_refusal) = (identify.clone(), der.clone(), app.clone(), on_refusal.clone());
                async move {
                    let status = identify(der).await;
                    if !status.in_good_standing() {
                        tracing::debug!(%remote, peer = ?status, "node connection refused; closing it");
                        on_refusal.notify_one();
                    }
                    request.extensions_mut().insert(status);
                    app.oneshot(request.map(axum::body::Body::new)).await
                }
            });
            let builder = Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = closing.notified() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
                () = tokio::time::sleep(MAX_CONNECTION_AGE) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%remote, error = %e, "node connection ended");
            }
        });
    }
}
