#!/usr/bin/env python3
"""wangge against martin on the same PostGIS tables, the same tile list, in the same run (issue 4).

Usage: bench_martin.py WANGGE_URL MARTIN_BIN POSTGRES_URL
  WANGGE_URL is a running `wangge serve --db POSTGRES_URL` whose cache is cold. Martin serves the
  store's `active_grids` view (the live plan's grids, what wangge's `grids` layer shows). Measured for
  wangge, martin with its default cache and martin with `--cache-size 0`: every tile of the fixed
  z10–z16 list once (cold), then wrk over the z14 list (warm, gzip, 8 connections, 10 s), and the
  ratios wangge / martin. Martin is not built by the project: `cargo install martin --version 1.14.0
  --locked --no-default-features --features postgres` (about 30 minutes here). Nothing is asserted.
"""
import json, socket, subprocess, sys, time, urllib.request
import tiles as T

wangge_url, martin_bin, pg = sys.argv[1], sys.argv[2], sys.argv[3]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_martin(extra):
    port = free_port()
    proc = subprocess.Popen([martin_bin, pg, "-l", f"127.0.0.1:{port}", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/catalog").read()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("martin did not start")


bounds = json.loads(T.get(wangge_url + "/tiles/grids.json", gz=False)[2])["bounds"]
tiles = T.tile_list(bounds)
z14 = [f"/tiles/grids/{z}/{x}/{y}.mvt" for z, x, y in tiles[14]]
results = {}
results["wangge"] = (T.cold(lambda z, x, y: f"{wangge_url}/tiles/grids/{z}/{x}/{y}.mvt", tiles),
                     T.warm(wangge_url, z14))
for label, extra in [("martin (cache)", []), ("martin (no cache)", ["--cache-size", "0"])]:
    proc, url = start_martin(extra)
    try:
        c = T.cold(lambda z, x, y: f"{url}/active_grids/{z}/{x}/{y}", tiles)
        w = T.warm(url, [f"/active_grids/{z}/{x}/{y}" for z, x, y in tiles[14]])
        results[label] = (c, w)
    finally:
        proc.kill()
        proc.wait()
for label, (c, w) in results.items():
    T.print_cold(label, c)
    T.print_warm(f"{label} warm z14 (gzip, 8 connections)", w)
wc, ww = results["wangge"]
for label in [k for k in results if k != "wangge"]:
    mc, mw = results[label]
    print(f"ratio wangge / {label}: warm z14 tiles/s x{ww['rate'] / mw['rate']:.1f}, "
          f"warm p99 x{ww['p99_ms'] / mw['p99_ms']:.2f}, cold z14 median "
          f"x{wc[14]['median'] / mc[14]['median']:.2f}, biggest z10-z12 tile "
          f"{max(wc[z]['biggest_gz'] for z in (10, 11, 12)) / 1024:.0f} KB vs "
          f"{max(mc[z]['biggest_gz'] for z in (10, 11, 12)) / 1024:.0f} KB")
