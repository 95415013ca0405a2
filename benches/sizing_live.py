#!/usr/bin/env python3
"""Benchmark: `aiops sizing` live against a real Prometheus holding 7 days of 1-minute samples.

Objects come from a demo snapshot directory (`aiops snapshot demo --scale N`); for every
running container of it this script writes 7 days of 1-minute CPU-counter and memory samples
as OpenMetrics, one file per 2-hour block, backfills them with `promtool tsdb
create-blocks-from openmetrics` (two at a time), starts `prometheus` on a free loopback port,
and times `aiops sizing --snapshot DIR --prometheus-url URL --plan local|push-down -o json`
(wall time and peak RSS from GNU time), then prints how far the two plans' figures differ.
Usage: benches/sizing_live.py AIOPS_BIN SNAPSHOT_DIR MAX_CONTAINERS
"""
import json, math, os, random, shutil, socket, subprocess, sys, tempfile, time, urllib.request

aiops, snap, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
meta = json.load(open(os.path.join(snap, "snapshot.json")))
end_s = int(time.mktime(time.strptime(meta["as_of"], "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone
pods = json.load(open(os.path.join(snap, "objects", "pod.json")))["items"]
containers = []
for p in pods:
    if p.get("status", {}).get("phase") != "Running":
        continue
    for c in p["spec"]["containers"]:
        containers.append((p["metadata"]["namespace"], p["metadata"]["name"], c["name"]))
containers = containers[:limit]
work = tempfile.mkdtemp(prefix="aiops-bench-")
om, data = os.path.join(work, "om"), os.path.join(work, "data")
os.makedirs(om); os.makedirs(data)
minutes = 7 * 1440 + 10
start_s = end_s - minutes * 60
t0 = time.time()
rng = random.Random(7)
params = [(rng.uniform(0.01, 0.8), rng.uniform(50e6, 900e6)) for _ in containers]
block_min = 120
files = []
counters = [0.0] * len(containers)
for b in range(0, minutes + 1, block_min):
    path = os.path.join(om, f"b{b:06d}.om")
    with open(path, "w") as f:
        rng_lines = []
        for metric in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes"):
            for i, (ns, pod, c) in enumerate(containers):
                base_cpu, base_mem = params[i]
                sel = f'{metric}{{namespace="{ns}",pod="{pod}",container="{c}"}}'
                lines = []
                for m in range(b, min(b + block_min, minutes + 1)):
                    t = start_s + m * 60
                    day = math.sin(m / 1440 * 2 * math.pi)
                    if metric.startswith("container_cpu"):
                        counters[i] += base_cpu * (1 + 0.5 * day) * 60
                        v = counters[i]
                    else:
                        v = base_mem * (1 + 0.2 * day)
                    lines.append(f"{sel} {v:.3f} {t}")
                f.write("\n".join(lines) + "\n")
        f.write("# EOF\n")
    files.append(path)
gen = time.time() - t0
t0 = time.time()
promtool = shutil.which("promtool") or "/usr/bin/promtool"
for i in range(0, len(files), 2):
    procs = [subprocess.Popen([promtool, "tsdb", "create-blocks-from", "openmetrics", f, data], stdout=subprocess.DEVNULL) for f in files[i:i + 2]]
    for p in procs:
        assert p.wait() == 0
backfill = time.time() - t0
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
cfg = os.path.join(work, "p.yml")
open(cfg, "w").write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                         "--storage.tsdb.retention.time=100y"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(url + "/-/ready").status == 200:
                break
        except Exception:
            time.sleep(0.2)
    results = {}
    for plan in ("local", "push-down"):
        for run in range(2):
            t0 = time.time()
            r = subprocess.run(["/usr/bin/time", "-f", "%M", aiops, "sizing", "--snapshot", snap, "--prometheus-url", url,
                                "--plan", plan, "-o", "json"], capture_output=True, text=True)
            wall = time.time() - t0
            assert r.returncode == 0, r.stderr
            rss = int(r.stderr.strip().splitlines()[-1]) // 1024
            out = json.loads(r.stdout)
            results[plan] = out
            sized = sum(1 for c in out["containers"] if c["samples"] > 0)
            print(f"containers {len(containers):6d} plan {plan:9s} (run {run + 1}): aiops sizing live wall {wall:6.2f} s  "
                  f"peak RSS {rss} MiB  workload containers sized from data {sized}  "
                  f"[generate {gen:.0f} s, backfill {backfill:.0f} s]", flush=True)
    # Agreement of the two plans on the same data: worst relative difference per statistic.
    key = lambda c: (c["namespace"], c["workload"]["kind"], c["workload"]["name"], c["container"])
    pushed = {key(c): c for c in results["push-down"]["containers"]}
    worst = {}
    for c in results["local"]["containers"]:
        d = pushed.get(key(c))
        if d is None or c["samples"] == 0:
            continue
        for res in ("cpu", "memory"):
            for f in ("p50", "p95", "p99", "max"):
                a, b = c[res][f], d[res][f]
                if a is None or b is None:
                    continue
                rel = abs(a - b) / max(abs(a), 1e-12)
                worst[f"{res}.{f}"] = max(worst.get(f"{res}.{f}", 0.0), rel)
    print("plans agree (worst relative difference): " + ", ".join(f"{k} {v:.2%}" for k, v in sorted(worst.items())), flush=True)
finally:
    prom.terminate(); prom.wait()
    shutil.rmtree(work, ignore_errors=True)
