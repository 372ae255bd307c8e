#!/usr/bin/env python3
"""Micro-grids of villager groups: one rural village of 30 square villager groups of 30-140
households (plus one of 164 and one of 131, the sizes issue 19 names), houses of 1-3 households
(seeded), partitioned by a wangge binary. Prints how many micro-grids lie outside 50-80 in grids
whose households divide into that band, how many (group, micro-grid) pieces the groups make, how
many pieces hold under 10 households, and where the 164- and 131-household groups went.

Usage: scripts/groups_micro.py [--bin target/release/wangge] [--seed 1]
"""
import argparse, collections, csv, json, os, random, subprocess, tempfile

def write_village(d, seed):
    rng = random.Random(seed)
    lon0, lat0, cw = 120.5, 31.0, 0.004
    sizes = [164, 131] + [rng.randint(30, 140) for _ in range(28)]
    rng.shuffle(sizes)
    groups, houses = [], []
    for gi, hh in enumerate(sizes):
        x0, y0 = lon0 + (gi % 6) * cw, lat0 + (gi // 6) * cw
        name = f"第{gi + 1}组"
        ring = [[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + cw], [x0, y0 + cw], [x0, y0]]
        groups.append({"type": "Feature", "properties": {"id": name}, "geometry": {"type": "Polygon", "coordinates": [ring]}})
        left = hh
        while left > 0:
            h = min(left, rng.choice([1, 1, 2, 2, 3]))
            left -= h
            pt = [round(x0 + cw * (0.03 + 0.94 * rng.random()), 7), round(y0 + cw * (0.03 + 0.94 * rng.random()), 7)]
            houses.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": pt},
                           "properties": {"id": f"H{len(houses)}", "households": h, "residents": 3 * h, "group": name}})
    w, h = 6 * cw, 5 * cw
    ring = [[lon0, lat0], [lon0 + w, lat0], [lon0 + w, lat0 + h], [lon0, lat0 + h], [lon0, lat0]]
    villages = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                 "properties": {"code": "320583104201", "name": "组村", "mode": "rural"}}]
    for name, fs in (("villages", villages), ("buildings", houses), ("groups", groups)):
        with open(os.path.join(d, name + ".geojson"), "w") as f:
            json.dump({"type": "FeatureCollection", "features": fs}, f, ensure_ascii=False)
    return {x["properties"]["id"]: x["properties"] for x in houses}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/wangge")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        house = write_village(d, a.seed)
        out = os.path.join(d, "out")
        subprocess.run([a.bin, "partition", d, "--out", out, "--quiet"], check=True)
        grids = {g["properties"]["code"]: g["properties"]["households"]
                 for g in json.load(open(os.path.join(out, "grids.geojson")))["features"]}
        micro = json.load(open(os.path.join(out, "micro_grids.geojson")))["features"]
        divides = lambda w: any(50 * k <= w <= 80 * k for k in range(1, 40))
        outside = [m["properties"]["households"] for m in micro
                   if divides(grids[m["properties"]["grid_code"]]) and not 50 <= m["properties"]["households"] <= 80]
        pieces = collections.defaultdict(collections.Counter)
        total = collections.Counter()
        for r in csv.DictReader(open(os.path.join(out, "assignment.csv"))):
            p = house[r["id"]]
            pieces[p["group"]][r["micro_grid_code"]] += p["households"]
            total[p["group"]] += p["households"]
        n = sum(len(c) for c in pieces.values())
        small = sum(1 for c in pieces.values() for v in c.values() if v < 10)
        print(f"seed {a.seed}: {len(outside)} of {len(micro)} micro-grids outside 50-80 {sorted(outside)}; "
              f"{n} group pieces for {len(pieces)} groups, {small} under 10 households")
        for g in sorted(pieces, key=lambda g: -total[g]):
            if total[g] in (164, 131):
                print(f"  group of {total[g]}: {sorted(pieces[g].values(), reverse=True)}")

if __name__ == "__main__":
    main()
