//! The TLS listener with certificates made by `openssl` (as a user or cert-manager would
//! make them): handshakes, a silent client holding up no one, reload on change, and the
//! errors for unusable files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use axum::serve::Listener;
use rustls::RootCertStore;
use tokio::io::AsyncWriteExt;

use super::*;

/// A CA `<name>-ca.pem` and a leaf for localhost/127.0.0.1 it signed (`<name>.pem`,
/// `<name>.key`), made by `scripts/dev-cert.sh` with `openssl`.
fn issue(dir: &Path, name: &str) -> TlsFiles {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev-cert.sh");
    let o =
        Command::new("bash").arg(script).arg(dir).arg(name).output().expect("bash and openssl are installed");
    assert!(o.status.success(), "dev-cert.sh: {}", String::from_utf8_lossy(&o.stderr));
    TlsFiles { cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}.key")) }
}

fn connector(ca: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects and completes a handshake, trusting only `ca`.
async fn handshake(addr: SocketAddr, ca: &Path) -> Result<(), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector(ca).connect(name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"x").await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::test]
async fn handshakes_run_beside_a_silent_client_and_a_renewed_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let files = issue(dir.path(), "a");
    let config = load(&files).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut listener = TlsListener::new(tcp, files.clone(), config, Duration::ZERO);
    let addr = listener.local_addr().unwrap();

    // A client that connects and says nothing: the next client is still served.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let client = tokio::spawn({
        let ca = dir.path().join("a-ca.pem");
        async move { handshake(addr, &ca).await }
    });
    let (_io, peer) = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await.expect("served");
    assert!(peer.ip().is_loopback());
    client.await.unwrap().unwrap();

    // cert-manager renews the Secret: a certificate from another CA replaces the files.
    let b = issue(dir.path(), "b");
    std::fs::copy(&b.cert, &files.cert).unwrap();
    std::fs::copy(&b.key, &files.key).unwrap();
    let old_ca = handshake(addr, &dir.path().join("a-ca.pem")).await;
    assert!(old_ca.is_err(), "the renewed certificate is served, so the old CA no longer verifies it");
    let client = tokio::spawn({
        let ca = dir.path().join("b-ca.pem");
        async move { handshake(addr, &ca).await }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await.expect("served");
    client.await.unwrap().unwrap();
}

#[test]
fn unusable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = issue(dir.path(), "a");
    let b = issue(dir.path(), "b");
    let mismatched = TlsFiles { cert: a.cert.clone(), key: b.key.clone() };
    let e = load(&mismatched).unwrap_err().to_string();
    assert!(e.contains("b.key") && e.contains("a.pem") && e.contains("does not go with"), "{e}");

    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    let e =
        load(&TlsFiles { cert: dir.path().join("empty.pem"), key: a.key.clone() }).unwrap_err().to_string();
    assert!(e.contains("empty.pem") && e.contains("no `-----BEGIN CERTIFICATE-----`"), "{e}");

    let e = load(&TlsFiles { cert: a.cert.clone(), key: a.cert.clone() }).unwrap_err().to_string();
    assert!(e.contains("a.pem") && e.contains("no usable private key"), "{e}");

    let e = load(&TlsFiles { cert: dir.path().join("missing.pem"), key: a.key }).unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");
}
