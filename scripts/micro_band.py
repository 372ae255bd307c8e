#!/usr/bin/env python3
"""Micro-grids in band on point buildings: N point buildings of 1-30 households (seeded) in four
square town-mode villages, partitioned by a wangge binary; prints how many micro-grids lie outside
50-80 in grids whose households divide into that band, and the mean Polsby-Popper of micro-grids.

Usage: scripts/micro_band.py [--bin target/release/wangge] [--seed 1] [--buildings 20000]
"""
import argparse, collections, json, os, random, subprocess, tempfile

def write_town(d, seed, n):
    r = random.Random(seed)
    lon0, lat0, step = 121.40, 31.20, 0.02
    villages, buildings = [], []
    for i in range(2):
        for j in range(2):
            x0, y0 = lon0 + i * step, lat0 + j * step
            ring = [[x0, y0], [x0 + step, y0], [x0 + step, y0 + step], [x0, y0 + step], [x0, y0]]
            villages.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": {"code": f"3101010130{i * 2 + j + 1:02d}", "name": f"点{i}{j}社区", "mode": "town"}})
            for k in range(n // 4):
                h = r.randint(1, 30)
                pt = [x0 + step * (0.002 + 0.996 * r.random()), y0 + step * (0.002 + 0.996 * r.random())]
                buildings.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": pt},
                                  "properties": {"id": f"b{i}{j}-{k}", "households": h, "residents": 3 * h, "kind": "residential"}})
    for name, fs in (("villages", villages), ("buildings", buildings)):
        with open(os.path.join(d, name + ".geojson"), "w") as f:
            json.dump({"type": "FeatureCollection", "features": fs}, f)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/wangge")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--buildings", type=int, default=20000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        write_town(d, a.seed, a.buildings)
        out = os.path.join(d, "out")
        subprocess.run([a.bin, "partition", d, "--out", out, "--quiet"], check=True)
        grids = json.load(open(os.path.join(out, "grids.geojson")))["features"]
        micro = json.load(open(os.path.join(out, "micro_grids.geojson")))["features"]
    households = {g["properties"]["code"]: g["properties"]["households"] for g in grids}
    divides = lambda w: any(k * 50 <= w <= k * 80 for k in range(1, int(w // 50) + 2))
    outside = [m["properties"] for m in micro
               if divides(households[m["properties"]["grid_code"]]) and not 50 <= m["properties"]["households"] <= 80]
    pp = [m["properties"]["polsby_popper"] for m in micro]
    print(f"seed {a.seed}: {len(grids)} grids, {len(micro)} micro-grids, {len(outside)} outside 50-80 "
          f"where the grid divides; micro-grid Polsby-Popper mean {sum(pp) / len(pp):.4f}")
    for m in outside[:10]:
        print(f"  {m['code']}: {m['households']} households (grid {households[m['grid_code']]})")

if __name__ == "__main__":
    main()
