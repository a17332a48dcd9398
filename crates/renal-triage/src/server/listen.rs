//! `serve`'s own connection loop around the router (instead of `axum::serve`, which sets no
//! timeout): a cap on open connections (beyond it a new one is closed at once), TLS with
//! rustls when a certificate is given (each handshake in its own task, bounded in time, so a
//! slow handshake never holds the accept loop), and HTTP/1 with a timeout on reading a
//! request's header (a client that trickles its header, or keeps an idle connection, is cut
//! off); the client's address reaches the handlers as `ConnectInfo`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connection limits and TLS.
#[derive(Clone)]
pub struct Limits {
    /// Open connections at most (beyond: closed at accept).
    pub max_connections: usize,
    /// Time to send a request's header (and to start the next one on a kept-alive connection).
    pub header_timeout: Duration,
    /// Time to finish a TLS handshake.
    pub handshake_timeout: Duration,
    pub tls: Option<Arc<tokio_rustls::TlsAcceptor>>,
}

/// A TLS acceptor from PEM files (the certificate chain, then the private key).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{}: not a PEM private key", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the certificate and key do not go together")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(client = %peer.ip(), "connection refused: too many open connections");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match &limits.tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                    {
                        Ok(Ok(tls)) => connection(tls, peer, app, &limits).await,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(client = %peer.ip(), "TLS handshake timed out"),
                    }
                }
                None => connection(tcp, peer, app, &limits).await,
            }
        });
    }
}

/// One connection's requests, HTTP/1 with the header timeout.
async fn connection<I>(io: I, peer: SocketAddr, app: Router, limits: &Limits)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move {
                use tower_service::Service;
                app.call(req.map(axum::body::Body::new)).await
            }
        });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    if let Err(e) = b.serve_connection(TokioIo::new(io), service).await {
        tracing::debug!(client = %peer.ip(), error = %e, "connection ended");
    }
}
