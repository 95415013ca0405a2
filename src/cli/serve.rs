//! `aiops serve` flags → the server's options; prints the address it listens on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, GlobalArgs, exit, output};
use crate::config::Config;
use crate::server::{self, ServeOptions};

/// `aiops serve` flags (the source flags `--demo`, `--snapshot`, live, and `--db` are the
/// global ones).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback must be asked for (e.g. 0.0.0.0:8080 in a pod)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Bearer tokens file (YAML: `tokens: [{name, roles, token | sha256}]`; roles viewer,
    /// approver, security-approver, operator)
    #[arg(long, value_name = "FILE")]
    pub tokens: PathBuf,
    /// Folder the scheduled reports and their PHRs are written to
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Change a schedule: `JOB=CRON` (sec min hour day-of-month month day-of-week, UTC) or
    /// `JOB=off`; jobs health-report, security-report, sizing, hpa, verify. Repeatable.
    #[arg(long = "schedule", value_name = "JOB=CRON")]
    pub schedules: Vec<String>,
    /// Do not run, at start-up, the runs missed while the server was down
    #[arg(long)]
    pub no_catch_up: bool,
    /// How long a running job may take to finish at shutdown before it is abandoned (it
    /// then runs again at the next start)
    #[arg(long, default_value = "25s", value_parser = super::parse_duration_arg)]
    pub shutdown_grace: Duration,
    /// Mark the cookies `Secure` with `__Host-`/`__Secure-` names (behind a TLS-terminating
    /// ingress; implied by --tls-cert)
    #[arg(long)]
    pub secure_cookies: bool,
    /// Serve HTTPS with this PEM certificate (chain), e.g. `tls.crt` of a mounted
    /// `kubernetes.io/tls` Secret; reloaded when the file changes. Needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Browser session lifetime
    #[arg(long, default_value = "8h", value_parser = super::parse_duration_arg)]
    pub session_ttl: Duration,
    /// Test and demo clock: virtual time starts at --as-of (or now) and runs this many
    /// times faster than real time, so schedules fire in seconds
    #[arg(long, value_name = "FACTOR", hide = true)]
    pub clock_speed: Option<f64>,
    /// Announce each start and end of a `[maintenance]` window to this webhook
    /// (Slack-compatible `{"text": ...}`). The URL is a secret and is never printed; in a
    /// cluster prefer --notify-file
    #[arg(long, value_name = "URL", conflicts_with = "notify_file")]
    pub notify: Option<String>,
    /// Read the webhook URL from this file (a mounted Secret); when it does not exist, say so
    /// and announce nothing
    #[arg(long, value_name = "FILE")]
    pub notify_file: Option<PathBuf>,
    /// How the watcher's notifications are written: `slack` (`{"text": ...}`) or `json` (a
    /// generic object: kind, incident, cause, controller, item, tier, times, link, text)
    #[arg(long, value_enum, default_value = "slack")]
    pub notify_format: NotifyFormat,
    /// The server's address as people reach it (e.g. https://aiops.example.com), for links to
    /// queue items in notifications
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Watch the cluster's pods (as `aiops watch` does): incidents, live diagnoses and their
    /// remediations in the queue, posted to the webhook when one is given
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub watch_tuning: super::watch::WatchTuning,
    /// Several replicas: elect a leader through a `coordination.k8s.io/v1` Lease; every
    /// replica serves the page and the API, only the leader runs the schedules and --watch
    #[arg(long)]
    pub leader_elect: bool,
    /// The Lease's name
    #[arg(long, value_name = "NAME", default_value = "aiops-serve", requires = "leader_elect")]
    pub lease_name: String,
    /// The Lease's namespace (default: the pod's own, or the kubeconfig context's)
    #[arg(long, value_name = "NS", requires = "leader_elect")]
    pub lease_namespace: Option<String>,
    /// How long followers wait, after the last renewal they saw, before taking the lease over
    /// (whole seconds)
    #[arg(long, default_value = "15s", value_parser = super::parse_duration_arg, requires = "leader_elect")]
    pub lease_duration: Duration,
    /// How long the leader keeps leading without renewing (shorter than --lease-duration)
    #[arg(long, default_value = "10s", value_parser = super::parse_duration_arg, requires = "leader_elect")]
    pub lease_renew_deadline: Duration,
    /// How often each replica reads the lease and the leader renews it
    #[arg(long, default_value = "2s", value_parser = super::parse_duration_arg, requires = "leader_elect")]
    pub lease_retry_period: Duration,
}

/// `--notify-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NotifyFormat {
    Slack,
    Json,
}

impl ServeArgs {
    /// The server's options.
    ///
    /// # Errors
    /// An unreadable or empty --notify-file.
    pub fn options(&self, g: &GlobalArgs) -> Result<ServeOptions, CliError> {
        let notify = match &self.notify_file {
            Some(file) => super::report::notify_url_from(file)?,
            None => self.notify.clone(),
        };
        Ok(ServeOptions {
            listen: self.listen,
            tokens: self.tokens.clone(),
            out: self.out.clone(),
            schedules: self.schedules.clone(),
            catch_up: !self.no_catch_up,
            shutdown_grace: self.shutdown_grace,
            secure_cookies: self.secure_cookies,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => {
                    Some(server::tls::TlsFiles { cert: cert.clone(), key: key.clone() })
                }
                _ => None,
            },
            session_ttl: self.session_ttl,
            clock_speed: self.clock_speed,
            notify,
            notify_format: match self.notify_format {
                NotifyFormat::Slack => server::notices::Format::Slack,
                NotifyFormat::Json => server::notices::Format::Json,
            },
            public_url: self.public_url.clone(),
            watch: self.watch.then(|| self.watch_tuning.request(g)),
            leader: self.leader_elect.then(|| crate::jobs::leader::LeaderOptions {
                lease_name: self.lease_name.clone(),
                lease_namespace: self.lease_namespace.clone(),
                timing: crate::analysis::election::Timing {
                    lease_duration: self.lease_duration,
                    renew_deadline: self.lease_renew_deadline,
                    retry_period: self.lease_retry_period,
                },
            }),
        })
    }
}

/// Runs `aiops serve` until SIGTERM or Ctrl-C.
///
/// # Errors
/// Bad flags or files, the address cannot be bound.
pub async fn run(args: &ServeArgs, g: &GlobalArgs, config: &Config) -> Result<u8, CliError> {
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    let on_listening = |addr: SocketAddr| {
        let _ = output::emit(&format!("aiops serve listening on {scheme}://{addr}\n"));
    };
    server::run(&args.options(g)?, config, g.source()?, g.scope(), on_listening)
        .await
        .map_err(CliError::Serve)?;
    Ok(exit::OK)
}
