"""What the map-service benchmarks share: the fixed, seeded tile list and the two ways of timing it.

- `tile_list(bounds)`: per zoom 10..16, 300 tiles of the town's bounds, shuffled with seed 7 and sorted,
  as (z, x, y); the same list for every server measured.
- `cold(url_of, tiles)`: each tile requested once, sequentially, with Accept-Encoding: gzip; per zoom
  the median / p99 / max latency and the biggest tile.
- `warm(base, paths)`: wrk, 2 threads, 8 connections, 10 s, cycling the paths (cycle.lua), gzip.
"""
import gzip, math, os, random, re, statistics, subprocess, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def get(url, gz=True):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gz else {})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body, status, headers = r.read(), r.status, r.headers
    return (time.perf_counter() - t) * 1000, status, body, headers


def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_list(bounds, per_zoom=300, seed=7):
    w, s, e, n = bounds
    rnd = random.Random(seed)
    out = {}
    for z in range(10, 17):
        x0, y1 = tile(w, s, z)
        x1, y0 = tile(e, n, z)
        allt = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        rnd.shuffle(allt)
        out[z] = [(z, x, y) for x, y in sorted(allt[:per_zoom])]
    return out


def cold(url_of, tiles):
    """Per zoom: {median, p99, max, empty, biggest_gz, biggest_raw, n} of first requests."""
    res = {}
    for z in sorted(tiles):
        lat, sizes, empty = [], [], 0
        for t in tiles[z]:
            ms, st, body, headers = get(url_of(*t))
            lat.append(ms)
            if st == 204 or not body:
                empty += 1
            else:
                raw = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
                sizes.append((len(body), len(raw)))
        lat.sort()
        big = max(sizes, default=(0, 0))
        res[z] = dict(n=len(lat), empty=empty, median=statistics.median(lat),
                      p99=lat[min(len(lat) - 1, int(len(lat) * 0.99))], max=lat[-1],
                      biggest_gz=big[0], biggest_raw=big[1])
    return res


def print_cold(label, res):
    for z, r in res.items():
        print(f"{label} cold z{z}: {r['n']} tiles ({r['empty']} empty), median {r['median']:.1f} ms, "
              f"p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms, biggest {r['biggest_gz'] / 1024:.0f} KB "
              f"as sent ({r['biggest_raw'] / 1024:.0f} KB raw)")


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]


def warm(base, paths, seconds=10):
    """wrk over `paths` on `base`: {rate, p50_ms, p99_ms, non2xx}."""
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("\n".join(paths) + "\n")
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s",
                          os.path.join(HERE, "cycle.lua"), base],
                         env={**os.environ, "PATHS": f.name}, capture_output=True, text=True).stdout
    os.unlink(f.name)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return dict(rate=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                p50_ms=ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
                p99_ms=ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
                non2xx=int(errs.group(1)) if errs else 0)


def print_warm(label, r):
    print(f"{label}: {r['rate']:.0f}/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
          + (f", non-2xx {r['non2xx']}" if r["non2xx"] else ""))
