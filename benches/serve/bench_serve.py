#!/usr/bin/env python3
"""The map-service benchmark (issue 4): one running `wangge serve`, measured from outside.

Usage: bench_serve.py BASE_URL PID VILLAGE_CODE STORE
  - cold: every tile of a fixed, seeded list over z10–z16 requested once (first request of each),
    sequentially, with Accept-Encoding: gzip: median / p99 / max per zoom, biggest tile;
  - warm: wrk (8 connections, 2 threads, 10 s) cycling the z14 list, gzip: tiles/s, p50, p99;
  - locate: wrk over /api/locate at every grid's label point: locates/s, p50, p99;
  - memory: the server's RSS (VmRSS) when loaded, after the cold tiles and after the warm runs;
  - building tiles (drawn from the store per tile) cold at z14 and z16, and address lookups;
  - a newly activated plan: `wangge activate` of version 1 of VILLAGE_CODE, then the time until the
    z14 grid tile at one of its grids changes (its ETag is a hash of its bytes), whether a tile of
    another village kept its ETag, and the memory after.
Needs python3, wrk; nothing is asserted, figures are printed."""
import gzip, json, math, os, random, re, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request

base, pid, village, store = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
here = os.path.dirname(os.path.abspath(__file__))
wangge = os.environ.get("WANGGE", "target/release/wangge")

def get(path, gz=True):
    req = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip"} if gz else {})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body, status, etag = r.read(), r.status, r.headers.get("ETag")
    return (time.perf_counter() - t) * 1000, status, body, etag

def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y

tj = json.loads(get("/tiles/grids.json", gz=False)[2])
w, s, e, n = tj["bounds"]
rnd = random.Random(7)
paths = {}
for z in range(10, 17):
    x0, y1 = tile(w, s, z); x1, y0 = tile(e, n, z)
    allt = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    rnd.shuffle(allt)
    paths[z] = [f"/tiles/grids/{z}/{x}/{y}.mvt" for x, y in sorted(allt[:300])]

def rss():
    st = {l.split()[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith(("VmRSS", "VmHWM"))}
    return f"VmRSS {st['VmRSS:'] / 1024:.0f} MiB (VmHWM {st['VmHWM:'] / 1024:.0f} MiB)"

print(f"town bounds {w:.4f},{s:.4f},{e:.4f},{n:.4f}")
print(f"server memory, loaded: {rss()}")
for z in sorted(paths):
    lat, sizes, empty = [], [], 0
    for p in paths[z]:
        ms, st, body, _ = get(p)
        lat.append(ms)
        if st == 204:
            empty += 1
        else:
            sizes.append((len(body), len(gzip.decompress(body))))
    lat.sort()
    big = max(sizes, default=(0, 0))
    print(f"cold z{z}: {len(lat)} tiles ({empty} empty), median {statistics.median(lat):.1f} ms, "
          f"p99 {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.1f} ms, max {lat[-1]:.1f} ms, "
          f"biggest {big[0] / 1024:.0f} KB gzipped ({big[1] / 1024:.0f} KB raw)")

def wrk(name, lines):
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("\n".join(lines) + "\n")
    out = subprocess.run(["wrk", "-t2", "-c8", "-d10s", "--latency", "-s", os.path.join(here, "cycle.lua"), base],
                         env={**os.environ, "PATHS": f.name}, capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(f"warm {name}: {float(rate):.0f}/s, p50 {p50}, p99 {p99}" + (f", non-2xx {errs.group(1)}" if errs else ""))

print(f"server memory, after the cold tiles: {rss()}")

def timed(name, urls):
    lat, sizes = [], []
    for u in urls:
        ms, st, body, _ = get(u)
        lat.append(ms)
        sizes.append(len(body))
    lat.sort()
    print(f"{name}: {len(lat)} requests, median {statistics.median(lat):.1f} ms, "
          f"p99 {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.1f} ms, max {lat[-1]:.1f} ms, "
          f"biggest {max(sizes) / 1024:.0f} KB")

for z in (14, 16):
    timed(f"cold z{z} building tiles (from the store)", [p.replace("/grids/", "/buildings/") for p in paths[z][:100]])
cx, cy = (w + e) / 2, (s + n) / 2
near = json.loads(get(f"/api/buildings?bbox={cx - 0.01},{cy - 0.01},{cx + 0.01},{cy + 0.01}", gz=False)[2])["features"]
addrs = [f["properties"]["address"] for f in near if f["properties"]["address"]][:100]
timed("address lookups (exact)", ["/api/locate?address=" + urllib.parse.quote(a) for a in addrs])
timed("address lookups (no building number)", ["/api/locate?address=" + urllib.parse.quote(a[:a.rfind("号") + 1]) for a in addrs if "号" in a])

wrk("z14 grid tiles (gzip, 8 connections)", paths[14])
grids = json.loads(get("/api/grids", gz=False)[2])["features"]
wrk("locate (8 connections)", [f"/api/locate?lon={g['properties']['label'][0]}&lat={g['properties']['label'][1]}" for g in grids])
print(f"server memory, warm: {rss()}")

# A tile at one of the village's grids, and one at a grid of a village far from it.
mine = json.loads(get(f"/api/grids?village={village}", gz=False)[2])["features"]
lx, ly = mine[0]["properties"]["label"]
probe = "/tiles/grids/14/%d/%d.mvt" % tile(lx, ly, 14)
far = max(grids, key=lambda g: min(abs(g["properties"]["label"][0] - lx), abs(g["properties"]["label"][1] - ly)))
other = "/tiles/grids/14/%d/%d.mvt" % tile(*far["properties"]["label"], 14)
etag0, other0 = get(probe)[3], get(other)[3]
t = time.perf_counter()
subprocess.run([wangge, "activate", "--db", store, "--village", village, "--version", "1"], check=True, capture_output=True)
t_cmd = time.perf_counter() - t
while get(probe)[3] == etag0 and time.perf_counter() - t < 30:
    time.sleep(0.02)
t_seen = time.perf_counter() - t
print(f"newly activated plan: command {t_cmd * 1000:.0f} ms, visible in tiles {t_seen * 1000:.0f} ms after the command started "
      f"(tile {probe}); a tile of another village {'kept' if get(other)[3] == other0 else 'changed'} its ETag ({other})")
time.sleep(1)
print(f"server memory, after the activation: {rss()}")
