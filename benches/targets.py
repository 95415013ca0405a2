#!/usr/bin/env python3
"""The performance table of issue 18, measured on this machine with release builds:

  live sizing, 70 / 700 / 5,000 containers, 7 d x 1 min, end to end (JSON path and remote
      read side by side; benches/sizing_live.py against a real Prometheus)
  sizing --snapshot, report weekly --snapshot, hpa --snapshot on 10,000 workloads
  audit -f on 1,000 Deployments (JSON-in-YAML as benches/gen_deployments.py writes them,
      and the same objects as block YAML)

Wall time is the median of --runs runs, peak RSS the largest (GNU /usr/bin/time). With
--baseline BIN (an older aiops, e.g. built from main) each figure is measured for it too,
on inputs it can read (a snapshot it wrote itself), alternating runs of the two binaries.

Usage: benches/targets.py --aiops BIN [--baseline BIN] [--runs 3] [--sizes 70,700,5000]
                          [--skip live,snapshot,audit] [--workloads 10000] [--data-cache DIR]
"""
import argparse, os, platform, shutil, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--aiops", required=True)
ap.add_argument("--baseline")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--sizes", default="70,700,5000")
ap.add_argument("--workloads", type=int, default=10000)
ap.add_argument("--skip", default="")
ap.add_argument("--data-cache", help="passed to sizing_live.py: keep and reuse the backfilled Prometheus data")
args = ap.parse_args()
skip = set(filter(None, args.skip.split(",")))
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="aiops-targets-")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    load = open("/proc/loadavg").read().split()[:3]
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, {platform.system()} {platform.release()}, load average {' '.join(load)}"


def run(cmd, stdout=subprocess.DEVNULL):
    tf = os.path.join(work, "time")
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return wall, int(open(tf).read().split()[-1]) / 1024


def measure(label, variants, before=None):
    """variants: [(name, cmd)], run alternately; prints one line per variant."""
    res = {n: [] for n, _ in variants}
    for _ in range(args.runs):
        for name, cmd in variants:
            if before:
                before(name)
            res[name].append(run(cmd() if callable(cmd) else cmd))
    for name, _ in variants:
        walls = [w for w, _ in res[name]]
        print(f"{label:38s} {name:9s} wall {statistics.median(walls):6.2f} s  (runs {' '.join(f'{w:.2f}' for w in walls)})"
              f"  peak RSS {max(r for _, r in res[name]):7.1f} MiB", flush=True)


print(f"machine: {machine()}")
print(f"aiops: {args.aiops}" + (f"; baseline: {args.baseline}" if args.baseline else ""), flush=True)
bins = [("aiops", args.aiops)] + ([("baseline", args.baseline)] if args.baseline else [])

snaps = {}
if "snapshot" not in skip:
    for name, b in bins:
        d = os.path.join(work, f"demo-{name}")
        subprocess.run([b, "snapshot", "demo", "--scale", str(args.workloads), "--out", d], check=True, stdout=subprocess.DEVNULL)
        snaps[name] = d
        print(f"{name}: {args.workloads}-workload demo snapshot, {subprocess.check_output(['du', '-sh', d], text=True).split()[0]}", flush=True)

if "live" not in skip:
    for n in [int(x) for x in args.sizes.split(",") if x]:
        # A cluster of about n containers (the demo runs ~1.93 containers per workload), so
        # that the row measures sizing n containers, not loading a larger cluster's objects.
        scale = max(1, -(-n * 100 // 190))
        live = {}
        for name, b in bins:
            d = os.path.join(work, f"live-{n}-{name}")
            subprocess.run([b, "snapshot", "demo", "--scale", str(scale), "--out", d], check=True, stdout=subprocess.DEVNULL)
            live[name] = d
        print(f"== live sizing: {scale}-workload demo snapshot (objects), the first {n} running containers", flush=True)
        cmd = [sys.executable, os.path.join(here, "sizing_live.py"), "--aiops", args.aiops, "--snapshot", live["aiops"],
               "--containers", str(n), "--runs", str(args.runs)]
        if args.data_cache:
            cmd += ["--data-cache", args.data_cache]
        if args.baseline:
            cmd += ["--baseline", args.baseline, "--baseline-snapshot", live["baseline"]]
        if n <= 1000:
            cmd += ["--prometheus-only"]
        subprocess.run(cmd, check=True)

if "snapshot" not in skip:
    print(f"== {args.workloads} workloads from a snapshot directory", flush=True)
    measure("sizing --snapshot -o json", [(n, [b, "sizing", "--snapshot", snaps[n], "-o", "json"]) for n, b in bins])
    # Each run writes into a folder of its own, as a weekly CronJob does (a new date's
    # reports and ~10,000 new PHRs): deleting the last run's 10,000 files just before the
    # next run makes the file system's inode allocation several seconds slower
    # (ext4's recently-deleted check), which no real run pays.
    runs = iter(range(1_000_000))
    measure("report weekly --snapshot",
            [(n, lambda b=b, n=n: [b, "-q", "report", "weekly", "--snapshot", snaps[n], "--out",
                                   os.path.join(work, f"reports-{next(runs)}")]) for n, b in bins])
    measure("hpa --snapshot -o json", [(n, [b, "hpa", "--snapshot", snaps[n], "-o", "json"]) for n, b in bins])
    for d in snaps.values():
        shutil.rmtree(d, ignore_errors=True)

if "audit" not in skip:
    print("== audit -f, 1,000 Deployments", flush=True)
    for style, flag in (("JSON-in-YAML", []), ("block YAML", ["--block-yaml"])):
        gen = os.path.join(work, f"manifests-{'block' if flag else 'json'}")
        os.makedirs(os.path.join(gen, "deployments"))
        subprocess.run([sys.executable, os.path.join(here, "gen_deployments.py"), gen, "1000", "7"] + flag, check=True)
        measure(f"audit -f ({style}) -o json",
                [(n, [b, "audit", "-f", gen, "-o", "json", "--no-default-exemptions"]) for n, b in bins])

print(f"machine at the end: {machine()}")
shutil.rmtree(work, ignore_errors=True)
