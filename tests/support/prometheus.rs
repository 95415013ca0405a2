//! A real Prometheus for tests: writes samples as OpenMetrics, backfills them with
//! `promtool tsdb create-blocks-from openmetrics` (one file per 2-hour block, which keeps
//! promtool fast), starts `prometheus` on a free loopback port over that data, waits until it
//! is ready, and stops it on drop. Needs Debian's `prometheus` package (`.ci/run` installs it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One generated series: metric, labels, samples `(unix_ms, value)`.
pub struct GenSeries {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

pub struct Prometheus {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(bin: &str) -> PathBuf {
    find_bin(bin, "prometheus")
}

/// A program on the PATH (or in /usr/bin, /usr/local/bin), else a panic naming the Debian
/// package that has it.
pub fn find_bin(bin: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/local/bin"]) {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{bin}` not found: install Debian's `{package}` package (bash scripts/setup.sh does)");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Backfills the series and starts Prometheus over them.
pub fn start(series: &[GenSeries]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let om_dir = dir.path().join("om");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&om_dir).unwrap();
    // Group samples into 2-hour blocks, one OpenMetrics file each.
    const BLOCK_MS: i64 = 2 * 3600 * 1000;
    let mut blocks: BTreeMap<i64, String> = BTreeMap::new();
    for s in series {
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let selector = if labels.is_empty() {
            s.metric.clone()
        } else {
            format!("{}{{{}}}", s.metric, labels.join(","))
        };
        for &(t, v) in &s.samples {
            let text = blocks.entry(t.div_euclid(BLOCK_MS)).or_default();
            let value = if v.is_nan() { "NaN".to_string() } else { format!("{v}") };
            let _ = writeln!(text, "{selector} {value} {}.{:03}", t.div_euclid(1000), t.rem_euclid(1000));
        }
    }
    let promtool = find("promtool");
    let mut files = Vec::new();
    for (i, (_, body)) in blocks.iter().enumerate() {
        // OpenMetrics wants each series' samples in time order, which they are per block
        // only if grouped by series: sort lines by (series, time).
        let mut lines: Vec<&str> = body.lines().collect();
        lines.sort_by(|a, b| {
            let (sa, ta) = a.rsplit_once(' ').unwrap();
            let (sb, tb) = b.rsplit_once(' ').unwrap();
            let key = |s: &str| s.rsplit_once(' ').map_or(s, |(sel, _)| sel).to_string();
            key(sa).cmp(&key(sb)).then(ta.parse::<f64>().unwrap().total_cmp(&tb.parse::<f64>().unwrap()))
        });
        let path = om_dir.join(format!("block-{i:05}.om"));
        std::fs::write(&path, lines.join("\n") + "\n# EOF\n").unwrap();
        files.push(path);
    }
    // Backfill two files at a time (the machine has two cores).
    for chunk in files.chunks(2) {
        let children: Vec<Child> = chunk
            .iter()
            .map(|f| {
                Command::new(&promtool)
                    .args(["tsdb", "create-blocks-from", "openmetrics"])
                    .arg(f)
                    .arg(&data)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "promtool failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").unwrap();
    let port = free_port();
    let child = Command::new(find("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let prom = Prometheus { url: url.clone(), child, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                return prom;
            }
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready on {url}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
