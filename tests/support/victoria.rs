//! A real VictoriaMetrics for tests (Debian's `victoria-metrics` package): started on a free
//! loopback port over a temporary data directory, loaded through its JSON-lines import API
//! (`/api/v1/import`), flushed so the data is searchable, and stopped on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prometheus::GenSeries;

pub struct VictoriaMetrics {
    pub url: String,
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 request on loopback; returns the status line and the body.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (status, rest) = out.split_once("\r\n").unwrap_or((&out, ""));
    let body = rest.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status.to_string(), body)
}

/// Starts VictoriaMetrics and imports the series.
pub fn start(series: &[GenSeries]) -> VictoriaMetrics {
    let dir = tempfile::tempdir().unwrap();
    let port = super::prometheus::free_port();
    let bin = super::prometheus::find_bin("victoria-metrics", "victoria-metrics");
    let child = Command::new(bin)
        .arg(format!("-storageDataPath={}", dir.path().join("data").display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.disableCache")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let vm = VictoriaMetrics { url: format!("http://127.0.0.1:{port}"), port, child, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/health", b"").0.contains(" 200")
        {
            break;
        }
        assert!(Instant::now() < deadline, "victoria-metrics did not start on {}", vm.url);
        std::thread::sleep(Duration::from_millis(100));
    }
    // JSON lines: {"metric":{"__name__":..,labels},"values":[..],"timestamps":[..]}.
    let mut body = String::new();
    for s in series {
        let mut metric = serde_json::Map::new();
        metric.insert("__name__".into(), s.metric.clone().into());
        for (k, v) in &s.labels {
            metric.insert(k.clone(), v.clone().into());
        }
        let values: Vec<serde_json::Value> = s
            .samples
            .iter()
            .map(|(_, v)| {
                serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, serde_json::Value::Number)
            })
            .collect();
        let ts: Vec<i64> = s.samples.iter().map(|(t, _)| *t).collect();
        let line = serde_json::json!({"metric": metric, "values": values, "timestamps": ts});
        let _ = writeln!(body, "{line}");
        if body.len() > 8 << 20 {
            let (status, b) = http(port, "POST", "/api/v1/import", body.as_bytes());
            assert!(status.contains(" 204") || status.contains(" 200"), "import: {status} {b}");
            body.clear();
        }
    }
    if !body.is_empty() {
        let (status, b) = http(port, "POST", "/api/v1/import", body.as_bytes());
        assert!(status.contains(" 204") || status.contains(" 200"), "import: {status} {b}");
    }
    let (status, b) = http(port, "GET", "/internal/force_flush", b"");
    assert!(status.contains(" 200"), "force_flush: {status} {b}");
    vm
}
