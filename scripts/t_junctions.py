#!/usr/bin/env python3
"""Counts T-junctions in a plan's grids.geojson: a vertex of one grid lying strictly inside a
segment of another grid's ring (within 1e-9 degrees) without being a vertex of that ring. Zero
means every border two grids share runs through the same points on both sides — across village
borders too. Usage: scripts/t_junctions.py OUT_DIR/grids.geojson"""
import json
import sys
from collections import defaultdict

TOL = 1e-9
CELL = 1e-3


def rings(geom):
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    for p in polys:
        for r in p:
            yield [tuple(c) for c in r]


def main(path):
    feats = json.load(open(path))["features"]
    verts = defaultdict(set)  # cell -> {(x, y, feature)}
    segs = []
    for i, f in enumerate(feats):
        for r in rings(f["geometry"]):
            for c in r:
                verts[(int(c[0] // CELL), int(c[1] // CELL))].add((c[0], c[1], i))
            for a, b in zip(r, r[1:]):
                segs.append((a, b, i))
    t = 0
    by_village = defaultdict(int)
    for a, b, i in segs:
        dx, dy = b[0] - a[0], b[1] - a[1]
        l2 = dx * dx + dy * dy
        if l2 == 0:
            continue
        x0, x1 = sorted((a[0], b[0]))
        y0, y1 = sorted((a[1], b[1]))
        for cx in range(int((x0 - TOL) // CELL), int((x1 + TOL) // CELL) + 1):
            for cy in range(int((y0 - TOL) // CELL), int((y1 + TOL) // CELL) + 1):
                for x, y, j in verts.get((cx, cy), ()):
                    if j == i or (x, y) == a or (x, y) == b:
                        continue
                    s = ((x - a[0]) * dx + (y - a[1]) * dy) / l2
                    if not 0 < s < 1:
                        continue
                    px, py = a[0] + s * dx, a[1] + s * dy
                    if abs(x - px) <= TOL and abs(y - py) <= TOL:
                        t += 1
                        same = feats[i]["properties"].get("village_code") == feats[j]["properties"].get("village_code")
                        by_village["within a village" if same else "across village borders"] += 1
    print(f"{len(feats)} polygons, {len(segs)} segments, {t} T-junctions {dict(by_village)}")
    return t


if __name__ == "__main__":
    main(sys.argv[1])
