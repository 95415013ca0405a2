//! A real PostgreSQL (Debian's, `/usr/lib/postgresql/<version>/bin`) for the queue tests:
//! one server per test binary in a temporary directory on a free loopback port, started on
//! first use, one fresh database per test, and stopped (its directory removed) when the test
//! binary exits, however it exits: a watchdog process waits for the test binary's end.
//!
//! `initdb` refuses to run as root, so as root the server runs as the `postgres` user
//! (`runuser`) in a directory that user owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The running server.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
}

/// Debian installs each major version under /usr/lib/postgresql/<major>/bin; 15 first.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let preferred = root.join("15/bin");
    if preferred.join("initdb").exists() {
        return preferred;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|b| b.join("initdb").exists());
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup.sh")
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A command run as the server's user (`postgres` when we are root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(c: &mut Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Server {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("aiops-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("the server's directory");
    if is_root() {
        run(Command::new("chown").arg("postgres:postgres").arg(&dir), "chown of the server's directory");
    }
    let data = dir.join("data");
    run(
        as_owner(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]),
        "initdb",
    );
    // The superuser connects without a password; every other role with one (SCRAM), so the
    // tests of the password's sources mean something.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .expect("pg_hba.conf");
    // Stop the server when this process ends (a panic, a kill, or the normal end): a
    // watchdog outside it, with no handle on the test's output.
    let pid = std::process::id();
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         {runuser}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        runuser = if is_root() { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    // Never waited for: it outlives this process on purpose.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server's watchdog");
    // A port found free can be taken before the server binds it: try a few.
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=300 -c fsync=off",
            dir.display()
        );
        let ok = as_owner(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Server { port, dir, bin };
        }
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("PostgreSQL did not start:\n{log}");
}

/// The server of this test binary (started on first use).
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

impl Server {
    /// The URL of database `name` as the superuser.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL on database `name` (as the superuser) with `psql`.
    pub fn psql(&self, name: &str, sql: &str) -> std::process::Output {
        Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", name, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql")
    }
}

impl Server {
    /// Every row of database `name` as `pg_dump --data-only` writes it.
    pub fn dump(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["--data-only", "-h", "127.0.0.1", "-U", "postgres", "-p", &self.port.to_string(), name])
            .stdin(Stdio::null())
            .output()
            .expect("pg_dump");
        assert!(out.status.success(), "pg_dump {name}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A new empty database on the test binary's server; its URL.
pub fn fresh_database() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let s = server();
    let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let out = s.psql("postgres", &format!("CREATE DATABASE {name}"));
    assert!(out.status.success(), "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&out.stderr));
    s.url(&name)
}

/// The database name of a URL from [`fresh_database`].
#[must_use]
pub fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}
