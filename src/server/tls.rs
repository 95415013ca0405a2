//! HTTPS for `aiops serve`: a certificate and key from PEM files (a mounted
//! `kubernetes.io/tls` Secret gives `tls.crt` and `tls.key`), reloaded when the certificate
//! file changes (cert-manager renews the Secret in place), and a listener whose TLS
//! handshakes run beside the accept loop so a slow or silent client holds up no one.
//!
//! rustls with the aws-lc-rs provider, TLS 1.2 and 1.3 as rustls's safe defaults; HTTP/1.1
//! only (`alpn: http/1.1`), as the plain listener.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once; further connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// How often the certificate file's modification time is looked at.
pub const RELOAD_CHECK: Duration = Duration::from_secs(30);

/// The PEM files of the server's certificate (chain) and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate or key cannot be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Reads the certificate chain and key and builds the server configuration.
///
/// # Errors
/// A file cannot be read, holds no PEM certificate or private key, or the key does not match
/// the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|source| TlsError::Read { path: p.to_path_buf(), source });
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&cert_pem).collect::<Result<_, _>>().map_err(|e| {
            TlsError::Invalid { path: files.cert.clone(), reason: format!("not a PEM certificate file: {e}") }
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: files.cert.clone(),
            reason: "holds no `-----BEGIN CERTIFICATE-----` block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Invalid {
        path: files.key.clone(),
        reason: format!("holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid { path: files.cert.clone(), reason: e.to_string() })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Invalid {
            path: files.key.clone(),
            reason: format!("does not go with the certificate in {}: {e}", files.cert.display()),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An `axum::serve` listener that hands out finished TLS connections.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `tcp`; handshakes run in their own tasks; the certificate file is
    /// looked at again every `reload_check` ([`RELOAD_CHECK`] in the server).
    #[must_use]
    pub fn new(tcp: TcpListener, files: TlsFiles, config: Arc<ServerConfig>, reload_check: Duration) -> Self {
        let local = tcp.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, files, config, reload_check, tx));
        TlsListener { local, ready }
    }
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

async fn accept_loop(
    tcp: TcpListener,
    files: TlsFiles,
    config: Arc<ServerConfig>,
    reload_check: Duration,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let mut acceptor = TlsAcceptor::from(config);
    let mut seen = modified(&files.cert);
    let mut checked = tokio::time::Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "Could not accept a connection.");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        if checked.elapsed() >= reload_check {
            checked = tokio::time::Instant::now();
            let now = modified(&files.cert);
            if now != seen {
                seen = now;
                match load(&files) {
                    Ok(c) => {
                        acceptor = TlsAcceptor::from(c);
                        tracing::info!(cert = %files.cert.display(), "Reloaded the TLS certificate.");
                    }
                    Err(e) => tracing::error!(
                        error = %crate::redact::redact(&e.to_string()),
                        "The TLS certificate changed but cannot be used; serving the previous one."
                    ),
                }
            }
        }
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed."),
                Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out."),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop only ends when this listener is dropped; wait forever so
            // graceful shutdown decides when serving stops.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
