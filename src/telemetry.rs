//! Logging setup: `tracing` to stderr, text or JSON, level from `-v`/`-q`, the config, or
//! `RUST_LOG` (which wins when set); every line passes redaction. Touches only the global
//! subscriber.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `level` is a filter such as `warn` or `aiops=debug`.
pub fn init(format: LogFormat, level: &str, rust_log: Option<String>) {
    let filter = rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        // kube-client logs a dropped watch stream or a retried 503 with its own debug dumps;
        // aiops reports the same failures in words (the watcher's stream errors, the
        // collectors' gaps), so they are off unless RUST_LOG asks for them.
        .or_else(|| EnvFilter::try_new(format!("{level},kube_client=off")).ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| RedactingStderr);
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// Installs the process-wide TLS crypto provider. kube and reqwest both link rustls; with
/// more than one provider compiled in, rustls cannot pick one by itself and would panic
/// when the first client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// stderr through the one redaction step: every log line aiops writes passes it.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().lock().write_all(crate::redact::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
