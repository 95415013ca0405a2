#!/usr/bin/env python3
"""Load benchmark of `aiops serve`: a queue of at least --items items (seeded with the real
`aiops sizing --demo --enqueue`, several demo seeds until the count is reached), then
--clients concurrent clients on loopback send --requests requests in all, a mix of the list
page (page 1 and deep pages, with and without filters), the API list and the API detail.
Prints p50/p95/max latency per kind, errors, throughput, the server's peak RSS (VmHWM)
and the seeding time. Bounded: stops after --requests.

Usage: python3 benches/serve_load.py [--bin target/release/aiops] [--items 10000]
       [--clients 50] [--requests 5000] [--scale 2000]
"""
import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "load-test-token-0123456789abcdef"


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("AIOPS_BIN", "target/release/aiops"))
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--scale", type=int, default=2000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="aiops-serve-load-")
    db = os.path.join(tmp, "queue.db")
    with open(os.path.join(tmp, "tokens.yaml"), "w") as f:
        f.write(f"tokens:\n  - name: load\n    roles: [viewer]\n    token: {TOKEN}\n")
    env = dict(os.environ, KUBECONFIG="/nonexistent")
    env.pop("AIOPS_DB", None)
    t0 = time.monotonic()
    total, seed = 0, 1
    while total < a.items:
        subprocess.run([a.bin, "sizing", "--demo", "--scale", str(a.scale), "--seed", str(seed),
                        "--as-of", "2026-11-23T00:00:00Z", "--enqueue", "--db", db, "-o", "json"],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stats = json.loads(subprocess.run([a.bin, "queue", "stats", "--db", db, "-o", "json"], check=True,
                                          env=env, capture_output=True).stdout)
        total = stats["items"]
        print(f"seed {seed}: {total} items", file=sys.stderr)
        seed += 1
    seeding = time.monotonic() - t0
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--tokens", os.path.join(tmp, "tokens.yaml"),
                            "--listen", "127.0.0.1:0", "--out", os.path.join(tmp, "reports"), "--demo",
                            "--schedule", "verify=off"],
                           env=env, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "serve.log"), "w"))
    line = srv.stdout.readline().decode()
    addr = line.strip().rsplit("http://", 1)[-1]
    host, port = addr.rsplit(":", 1)
    # A sample of ids for the detail requests.
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request("GET", f"/api/v1/recommendations?limit=500&offset={total // 3}", headers={"Authorization": f"Bearer {TOKEN}"})
    ids = [i["id"] for i in json.loads(c.getresponse().read())["items"]]
    c.close()
    pages = max(1, total // 50)
    kinds = [
        ("page:list", lambda r: "/queue"),
        ("page:list-deep", lambda r: f"/queue?page={r.randint(1, pages)}"),
        ("page:list-filtered", lambda r: "/queue?state=pending&tier=medium&namespace=shop"),
        ("api:list", lambda r: f"/api/v1/recommendations?limit=100&offset={r.randint(0, total)}"),
        ("api:detail", lambda r: f"/api/v1/recommendations/{r.choice(ids)}"),
        ("page:detail", lambda r: f"/queue/{r.choice(ids)}"),
    ]
    lat = {k: [] for k, _ in kinds}
    errors = []
    counter = {"n": 0}
    lock = threading.Lock()

    def client(n):
        r = random.Random(n)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                if counter["n"] >= a.requests:
                    break
                counter["n"] += 1
            kind, path = kinds[r.randrange(len(kinds))]
            p = path(r)
            t = time.monotonic()
            try:
                conn.request("GET", p, headers={"Authorization": f"Bearer {TOKEN}"})
                resp = conn.getresponse()
                resp.read()
                dt = time.monotonic() - t
                if resp.status != 200:
                    errors.append(f"{resp.status} {p}")
                with lock:
                    lat[kind].append(dt)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{e!r} {p}")
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(a.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    hwm = ""
    with open(f"/proc/{srv.pid}/status") as f:
        for l in f:
            if l.startswith("VmHWM"):
                hwm = l.split(":", 1)[1].strip()
    srv.terminate()
    srv.wait(timeout=30)
    done = sum(len(v) for v in lat.values())
    print(f"queue items: {total} (seeded in {seeding:.1f} s); clients: {a.clients}; requests: {done}; "
          f"wall: {wall:.1f} s; throughput: {done / wall:.0f} req/s; errors: {len(errors)}; server peak RSS: {hwm}")
    print(f"{'kind':22} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    everything = []
    for k, v in lat.items():
        everything += v
        print(f"{k:22} {len(v):6d} {pct(v, 50) * 1000:9.1f} {pct(v, 95) * 1000:9.1f} {max(v or [0]) * 1000:9.1f}")
    print(f"{'all':22} {len(everything):6d} {pct(everything, 50) * 1000:9.1f} {pct(everything, 95) * 1000:9.1f} "
          f"{max(everything or [0]) * 1000:9.1f}")
    for e in errors[:10]:
        print("error:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
