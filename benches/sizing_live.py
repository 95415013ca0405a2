#!/usr/bin/env python3
"""Benchmark: `aiops sizing` live against a real Prometheus holding 7 days of 1-minute samples.

Objects come from a demo snapshot directory (`aiops snapshot demo --scale N`); for the first
N running containers of it this script writes 7 days of 1-minute CPU-counter and memory
samples (and, with --prometheus-only, the kube-state-metrics series that mode discovers
workloads from, also every minute) as OpenMetrics, one file per 2-hour block, backfills them
with `promtool tsdb create-blocks-from openmetrics` (two at a time), starts `prometheus` on a
free loopback port and times, end to end (GNU time: wall and peak RSS), the local plan
through the JSON API and through remote read side by side, alternating, median of --runs:

  aiops sizing --snapshot DIR --prometheus-url URL --plan local --fetch json|remote-read -o json
  aiops sizing --prometheus-only --prometheus-url URL --plan local --fetch json|remote-read -o json

and, with --baseline BIN, the same commands of an older aiops (no --fetch: its JSON path).
It checks that both fetch paths give the same report, and prints how far push-down is from
local with --push-down.

Usage: benches/sizing_live.py --aiops BIN --snapshot DIR --containers N
         [--baseline BIN --baseline-snapshot DIR] [--runs 3] [--prometheus-only] [--push-down]
"""
import argparse, json, math, os, random, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--aiops", required=True)
ap.add_argument("--baseline")
ap.add_argument("--baseline-snapshot", help="the same demo written by the baseline (older snapshot format)")
ap.add_argument("--snapshot", required=True)
ap.add_argument("--containers", type=int, required=True)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--prometheus-only", action="store_true")
ap.add_argument("--push-down", action="store_true")
ap.add_argument("--data-cache", help="keep the backfilled Prometheus data under this directory and reuse it when the "
                "same containers are asked for again (generating 7 days x 5,000 containers takes minutes)")
args = ap.parse_args()

snap = args.snapshot
meta = json.load(open(os.path.join(snap, "snapshot.json")))
end_s = int(time.mktime(time.strptime(meta["as_of"], "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone
pods = json.load(open(os.path.join(snap, "objects", "pod.json")))["items"]
rs_file = os.path.join(snap, "objects", "replicaset.json")
replicasets = json.load(open(rs_file))["items"] if os.path.exists(rs_file) else []
containers, ksm_pods = [], {}
for p in pods:
    if p.get("status", {}).get("phase") != "Running":
        continue
    for c in p["spec"]["containers"]:
        if len(containers) >= args.containers:
            break
        containers.append((p["metadata"]["namespace"], p["metadata"]["name"], c["name"]))
        ksm_pods.setdefault((p["metadata"]["namespace"], p["metadata"]["name"]), (p, []))[1].append(c)
work = tempfile.mkdtemp(prefix="aiops-bench-")
om, data = os.path.join(work, "om"), os.path.join(work, "data")
cached = False
if args.data_cache:
    import hashlib
    key = hashlib.sha256(repr((meta["as_of"], containers, args.prometheus_only, sorted(ksm_pods))).encode()).hexdigest()[:16]
    data = os.path.join(args.data_cache, f"prom-{len(containers)}-{key}")
    cached = os.path.exists(os.path.join(data, ".complete"))
    if not cached:
        shutil.rmtree(data, ignore_errors=True)
os.makedirs(om); os.makedirs(data, exist_ok=True)
minutes = 7 * 1440 + 10
start_s = end_s - minutes * 60


def ksm_series():
    """(selector, value) of every kube-state-metrics series, constant over the window."""
    out = []
    for (ns, name), (p, cs) in ksm_pods.items():
        base = f'namespace="{ns}",pod="{name}"'
        out.append((f"kube_pod_info{{{base},node=\"n\"}}", 1))
        out.append((f"kube_pod_status_phase{{{base},phase=\"Running\"}}", 1))
        for o in p["metadata"].get("ownerReferences", []):
            if o.get("controller"):
                out.append((f'kube_pod_owner{{{base},owner_kind="{o["kind"]}",owner_name="{o["name"]}",owner_is_controller="true"}}', 1))
        for c in cs:
            cb = f'{base},container="{c["name"]}"'
            out.append((f'kube_pod_container_info{{{cb},image="x"}}', 1))
            res = c.get("resources", {})
            for kind, metric in (("requests", "kube_pod_container_resource_requests"), ("limits", "kube_pod_container_resource_limits")):
                for r, q in res.get(kind, {}).items():
                    v = parse_quantity(q)
                    if v is not None and r in ("cpu", "memory"):
                        out.append((f'{metric}{{{cb},resource="{r}"}}', v))
    for rs in replicasets:
        for o in rs["metadata"].get("ownerReferences", []):
            if o.get("controller"):
                out.append((f'kube_replicaset_owner{{namespace="{rs["metadata"]["namespace"]}",replicaset="{rs["metadata"]["name"]}",'
                            f'owner_kind="{o["kind"]}",owner_name="{o["name"]}",owner_is_controller="true"}}', 1))
    return out


def parse_quantity(q):
    q = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in sorted(units.items(), key=lambda x: -len(x[0])):
        if q.endswith(u):
            return float(q[: -len(u)]) * f
    try:
        return float(q)
    except ValueError:
        return None


gen = backfill = 0.0
if not cached:
    t0 = time.time()
    rng = random.Random(7)
    params = [(rng.uniform(0.01, 0.8), rng.uniform(50e6, 900e6)) for _ in containers]
    ksm = ksm_series() if args.prometheus_only else []
    block_min = 120
    files = []
    counters = [0.0] * len(containers)
    for b in range(0, minutes + 1, block_min):
        path = os.path.join(om, f"b{b:06d}.om")
        span = range(b, min(b + block_min, minutes + 1))
        with open(path, "w") as f:
            for metric in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes"):
                for i, (ns, pod, c) in enumerate(containers):
                    base_cpu, base_mem = params[i]
                    sel = f'{metric}{{namespace="{ns}",pod="{pod}",container="{c}"}}'
                    lines = []
                    for m in span:
                        t = start_s + m * 60
                        day = math.sin(m / 1440 * 2 * math.pi)
                        if metric.startswith("container_cpu"):
                            counters[i] += base_cpu * (1 + 0.5 * day) * 60
                            v = counters[i]
                        else:
                            v = base_mem * (1 + 0.2 * day)
                        lines.append(f"{sel} {v:.3f} {t}")
                    f.write("\n".join(lines) + "\n")
            for sel, v in ksm:
                f.write("\n".join(f"{sel} {v} {start_s + m * 60}" for m in span) + "\n")
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
    if args.data_cache:
        open(os.path.join(data, ".complete"), "w").close()
shutil.rmtree(om)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
cfg = os.path.join(work, "p.yml")
open(cfg, "w").write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                         "--storage.tsdb.retention.time=100y"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(cmd):
    """Wall seconds, peak RSS MiB and stdout of one run."""
    tf = os.path.join(work, "time")
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return wall, int(open(tf).read().split()[-1]) // 1024, r.stdout


try:
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(url + "/-/ready").status == 200:
                break
        except Exception:
            time.sleep(0.2)
    # promtool writes 2-hour blocks; a server that has held 7 days has compacted them into
    # 6 h, 18 h, 54 h... blocks (each minute it compacts what it can). Timing before that
    # measures a store no real server has, with compaction competing for the cores, so wait
    # until the block count holds for over a minute (once: the data directory remembers).
    settled = os.path.join(data, ".compacted")
    compact = 0.0
    if not os.path.exists(settled):
        t0, last, since = time.time(), None, time.time()
        while time.time() - since < 75:
            text = urllib.request.urlopen(url + "/metrics").read().decode()
            now = tuple(line for line in text.splitlines()
                        if line.startswith(("prometheus_tsdb_blocks_loaded ", "prometheus_tsdb_compactions_total ")))
            if now != last:
                last, since = now, time.time()
            time.sleep(5)
        compact = time.time() - t0
        open(settled, "w").close()
    print(f"== {len(containers)} containers x 7 days of 1-minute samples"
          f"{' (+ kube-state-metrics series)' if args.prometheus_only else ''}: " + (f"reused {data}" if cached else f"generate {gen:.0f} s, backfill {backfill:.0f} s")
          + (f", waited {compact:.0f} s for Prometheus to compact the blocks" if compact else ""), flush=True)
    modes = [("snapshot", ["--snapshot", snap])]
    if args.prometheus_only:
        # Without a snapshot the window ends at "now": pin it to the samples' end.
        modes.append(("prometheus-only", ["--prometheus-only", "--as-of", meta["as_of"]]))
    for mode, source in modes:
        variants = [("json", [args.aiops], source, ["--fetch", "json"]),
                    ("remote-read", [args.aiops], source, ["--fetch", "remote-read"])]
        if args.baseline:
            base_source = ["--snapshot", args.baseline_snapshot or snap] if mode == "snapshot" else source
            variants.append(("baseline", [args.baseline], base_source, []))
        results = {name: [] for name, _, _, _ in variants}
        outputs = {}
        for run in range(args.runs):
            for name, binary, src, extra in variants:
                cmd = binary + ["sizing"] + src + ["--prometheus-url", url, "--plan", "local", "-o", "json"] + extra
                wall, rss, out = timed(cmd)
                results[name].append((wall, rss))
                outputs[name] = json.loads(out)
        for name, _, _, _ in variants:
            walls = [w for w, _ in results[name]]
            label = "baseline (JSON)" if name == "baseline" else f"fetch {name}"
            print(f"containers {len(containers):5d}  {mode:15s}  {label:17s}  wall {statistics.median(walls):6.2f} s"
                  f"  (runs {' '.join(f'{w:.2f}' for w in walls)})  peak RSS {max(r for _, r in results[name])} MiB", flush=True)
        a, b = dict(outputs["json"]), dict(outputs["remote-read"])
        a.pop("fetch", None); b.pop("fetch", None)
        sized = sum(1 for c in a["containers"] if c["samples"] > 0)
        print(f"  json and remote-read reports identical: {'yes' if a == b else 'NO'}; containers sized from data: {sized}", flush=True)
    if args.push_down:
        wall, rss, out = timed([args.aiops, "sizing", "--snapshot", snap, "--prometheus-url", url, "--plan", "push-down", "-o", "json"])
        pushed = {(c["namespace"], c["workload"]["name"], c["container"]): c for c in json.loads(out)["containers"]}
        print(f"containers {len(containers):5d}  snapshot         push-down          wall {wall:6.2f} s  peak RSS {rss} MiB", flush=True)
        worst = {}
        for c in outputs["json"]["containers"]:
            d = pushed.get((c["namespace"], c["workload"]["name"], c["container"]))
            if d is None or c["samples"] == 0:
                continue
            for res in ("cpu", "memory"):
                for f in ("p50", "p95", "p99", "max"):
                    x, y = c[res][f], d[res][f]
                    if x is not None and y is not None:
                        worst[f"{res}.{f}"] = max(worst.get(f"{res}.{f}", 0.0), abs(x - y) / max(abs(x), 1e-12))
        print("  push-down vs local (worst relative difference): " + ", ".join(f"{k} {v:.2%}" for k, v in sorted(worst.items())), flush=True)
finally:
    prom.terminate(); prom.wait()
    shutil.rmtree(work, ignore_errors=True)
