#!/usr/bin/env python3
"""Compare wangge's partitioner with METIS (and max-p-regions) like for like.

What it does, for each size N (number of units):
  1. Generates, from a seed, N random Voronoi units inside one rectangular village
     (about 2,500 m² per unit, around 120.0°E 30.0°N). The Voronoi diagram is bounded exactly by the
     rectangle (the points are mirrored across its four sides), so neighbouring units share the very same
     vertices and every unit edge is either shared with one neighbour or lies on the village border.
     Weights: households uniform 1..30, residents = round(households × U(2.5, 3.5)).
     Written as wangge input: villages.geojson (code 330100001200, name) + units.geojson (id, households,
     residents).
  2. Runs `wangge partition <dir> --out <out> --band MIN..MAX --quiet` (release binary) and reads
     grids.geojson: k = the number of grids it made.
  3. Runs METIS (pymetis, k-way, seed 1) on the same unit adjacency graph (units sharing an edge), vertex
     weights = households, k parts, four ways: plain edges (edge-cut, METIS's default imbalance 1.03);
     edges weighted by their shared border length in metres (so METIS minimises total border length: the
     fairest setting for compactness); the same with METIS's contiguity option; and the same with the
     imbalance bound widened to the band's maximum (ufactor = 1000·(MAX·k/total − 1); METIS has no
     lower bound, so parts may fall under MIN).
  4. Optionally (--maxp, smallest size only) runs spopt's max-p-regions heuristic with threshold MIN
     households (it chooses its own number of regions).
  5. Dissolves each part (shapely union_all) and computes, the same way for every method:
     Polsby–Popper 4πA/P² (perimeter includes holes), in a local equirectangular metre frame about each
     part's centroid latitude (as wangge does: x = Δlon·111,320·cos φ, y = Δlat·110,574); weight per part
     (min/mean/max), share of parts within the band, parts in more than one piece (disconnected), and the
     wall time of the partitioning call (wangge: the whole CLI run incl. reading and writing files;
     METIS: part_graph only; graph building and dissolving are not timed for anyone).

Other subcommand, the issue's speed case ("20k buildings into ~775 grids in under 2 s"):
  buildings --n 20000 --seed S --out DIR   writes villages.geojson + buildings.geojson (Point features at the
  same random points: id, households 1..30 (mean 15.5), residents, kind=residential), ~310k households.
  Time it with: /usr/bin/time -v wangge partition DIR --out OUT --quiet

Usage (from the repo root, with a venv holding numpy scipy shapely pymetis [spopt geopandas]):
  python3 -m venv .venv && .venv/bin/pip install numpy scipy shapely pymetis   # spopt optional
  .venv/bin/python scripts/compare_partitioners.py compare --sizes 2000,5000,20000 --seed 1 \
      --work out/compare [--band 300..500] [--wangge target/release/wangge] [--maxp]
  .venv/bin/python scripts/compare_partitioners.py buildings --n 20000 --seed 1 --out out/bld20k

Same seed → same input files (byte-identical) and the same METIS partition.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
from scipy.spatial import Voronoi
import shapely
from shapely.geometry import Polygon, mapping

LON0, LAT0 = 120.0, 30.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0
AREA_PER_UNIT_M2 = 2_500.0
ASPECT = 1.6  # width / height of the rectangular village
VILLAGE_CODE = "330100001200"


# ---------------------------------------------------------------- generator


def generate(n, seed):
    """Random points, exact bounded Voronoi cells in metres, weights. Returns a dict."""
    rng = np.random.default_rng(seed)
    area = n * AREA_PER_UNIT_M2
    h = math.sqrt(area / ASPECT)
    w = h * ASPECT
    pts = np.column_stack([rng.uniform(0, w, n), rng.uniform(0, h, n)])
    households = rng.integers(1, 31, n)
    residents = np.rint(households * rng.uniform(2.5, 3.5, n)).astype(int)
    # mirror across the four sides: the cells of the original points are then bounded by the rectangle
    mirrored = [
        pts,
        np.column_stack([-pts[:, 0], pts[:, 1]]),
        np.column_stack([2 * w - pts[:, 0], pts[:, 1]]),
        np.column_stack([pts[:, 0], -pts[:, 1]]),
        np.column_stack([pts[:, 0], 2 * h - pts[:, 1]]),
    ]
    vor = Voronoi(np.vstack(mirrored))
    verts = vor.vertices.copy()
    eps = 1e-6 * max(w, h)
    # snap vertices on the border exactly onto it
    for col, lo, hi in ((0, 0.0, w), (1, 0.0, h)):
        v = verts[:, col]
        v[np.abs(v - lo) < eps] = lo
        v[np.abs(v - hi) < eps] = hi
    cells = []
    for i in range(n):
        region = vor.regions[vor.point_region[i]]
        if -1 in region or len(region) < 3:
            raise RuntimeError(f"unit {i}: unbounded Voronoi cell (mirroring failed)")
        ring = verts[region]
        # order counter-clockwise around the point (cells are convex)
        ang = np.arctan2(ring[:, 1] - pts[i, 1], ring[:, 0] - pts[i, 0])
        cells.append(ring[np.argsort(ang)])
    # adjacency with shared border length (metres), from the ridges between two original points
    edges = {}
    for (a, b), rv in zip(vor.ridge_points, vor.ridge_vertices):
        if a < n and b < n and -1 not in rv:
            length = float(np.linalg.norm(verts[rv[0]] - verts[rv[1]]))
            if length > 1e-9:
                edges[(min(a, b), max(a, b))] = length
    return {
        "n": n,
        "w": w,
        "h": h,
        "pts": pts,
        "cells": cells,
        "households": households,
        "residents": residents,
        "edges": edges,
    }


def to_lonlat(xy):
    """Metres in the generator frame -> (lon, lat), rounded to 1e-9° (shared vertices stay shared)."""
    xy = np.asarray(xy, dtype=float)
    lon = LON0 + xy[..., 0] / (M_PER_DEG_LON_EQ * math.cos(math.radians(LAT0)))
    lat = LAT0 + xy[..., 1] / M_PER_DEG_LAT
    return np.round(lon, 9), np.round(lat, 9)


def ring_coords(ring_xy):
    lon, lat = to_lonlat(ring_xy)
    coords = [[float(a), float(b)] for a, b in zip(lon, lat)]
    coords.append(coords[0])
    return coords


def write_fc(path, features):
    with open(path, "w") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(json.dumps(ft, separators=(",", ":")) for ft in features))
        f.write("\n]}\n")


def write_village(d, g):
    rect = np.array([[0, 0], [g["w"], 0], [g["w"], g["h"]], [0, g["h"]]])
    write_fc(
        os.path.join(d, "villages.geojson"),
        [
            {
                "type": "Feature",
                "properties": {"code": VILLAGE_CODE, "name": f"Voronoi village ({g['n']} units)", "mode": "town"},
                "geometry": {"type": "Polygon", "coordinates": [ring_coords(rect)]},
            }
        ],
    )


def write_units(d, g):
    os.makedirs(d, exist_ok=True)
    write_village(d, g)
    feats = []
    for i, ring in enumerate(g["cells"]):
        feats.append(
            {
                "type": "Feature",
                "properties": {"id": f"u{i}", "households": int(g["households"][i]), "residents": int(g["residents"][i])},
                "geometry": {"type": "Polygon", "coordinates": [ring_coords(ring)]},
            }
        )
    write_fc(os.path.join(d, "units.geojson"), feats)


def write_buildings(d, g):
    os.makedirs(d, exist_ok=True)
    write_village(d, g)
    lon, lat = to_lonlat(g["pts"])
    feats = []
    for i in range(g["n"]):
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "id": f"b{i}",
                    "households": int(g["households"][i]),
                    "residents": int(g["residents"][i]),
                    "kind": "residential",
                },
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            }
        )
    write_fc(os.path.join(d, "buildings.geojson"), feats)


# ---------------------------------------------------------------- measures


def local_metric(geom_lonlat):
    """Equirectangular metres about the geometry's centroid latitude (wangge's frame)."""
    c = geom_lonlat.centroid
    k = M_PER_DEG_LON_EQ * math.cos(math.radians(c.y))
    return shapely.transform(geom_lonlat, lambda a: np.column_stack([(a[:, 0] - c.x) * k, (a[:, 1] - c.y) * M_PER_DEG_LAT]))


def pp(geom_m):
    p = geom_m.length  # exterior + holes
    return 4 * math.pi * geom_m.area / (p * p) if p > 0 else 0.0


def pieces(geom):
    return len(geom.geoms) if geom.geom_type == "MultiPolygon" else 1


def summarize(name, parts, weights, band, seconds, note=""):
    """parts: list of shapely geometries in lon/lat; weights: list of numbers."""
    lo, hi = band
    pps = [pp(local_metric(p)) for p in parts]
    inband = sum(1 for x in weights if lo <= x <= hi)
    return {
        "method": name,
        "k": len(parts),
        "pp_mean": float(np.mean(pps)),
        "pp_min": float(np.min(pps)),
        "w_min": float(min(weights)),
        "w_mean": float(np.mean(weights)),
        "w_max": float(max(weights)),
        "in_band": inband / len(parts),
        "disconnected": sum(1 for p in parts if pieces(p) > 1),
        "seconds": seconds,
        "note": note,
    }


def unit_polys_lonlat(g):
    out = []
    for ring in g["cells"]:
        lon, lat = to_lonlat(ring)
        out.append(Polygon(np.column_stack([lon, lat])))
    return out


def dissolve(polys, labels, k):
    groups = [[] for _ in range(k)]
    for i, lab in enumerate(labels):
        groups[lab].append(polys[i])
    return [shapely.union_all(gr) for gr in groups if gr]


# ---------------------------------------------------------------- runners


def run_wangge(binary, d, out, band):
    t = time.perf_counter()
    subprocess.run(
        [binary, "partition", d, "--out", out, "--band", f"{band[0]}..{band[1]}", "--quiet"],
        check=True,
    )
    secs = time.perf_counter() - t
    with open(os.path.join(out, "grids.geojson")) as f:
        fc = json.load(f)
    parts = [shapely.geometry.shape(ft["geometry"]) for ft in fc["features"]]
    weights = [ft["properties"]["households"] for ft in fc["features"]]
    own = float(np.mean([ft["properties"]["polsby_popper"] for ft in fc["features"]]))
    return parts, weights, secs, own


def csr(g, weighted):
    n = g["n"]
    nbrs = [[] for _ in range(n)]
    for (a, b), length in sorted(g["edges"].items()):
        wgt = max(1, int(round(length))) if weighted else 1
        nbrs[a].append((b, wgt))
        nbrs[b].append((a, wgt))
    xadj, adjncy, ew = [0], [], []
    for lst in nbrs:
        for b, wgt in lst:
            adjncy.append(b)
            ew.append(wgt)
        xadj.append(len(adjncy))
    return xadj, adjncy, ew


def run_metis(g, k, weighted, contiguous=False, ufactor=None):
    """METIS k-way (seed 1); ufactor None = METIS's default imbalance (1.03 for k-way)."""
    import pymetis

    xadj, adjncy, ew = csr(g, weighted)
    opts = pymetis.Options(seed=1)
    if contiguous:
        opts.contig = 1
    if ufactor is not None:
        opts.ufactor = ufactor
    t = time.perf_counter()
    _, labels = pymetis.part_graph(
        k,
        adjacency=pymetis.CSRAdjacency(xadj, adjncy),
        vweights=[int(x) for x in g["households"]],
        eweights=ew if weighted else None,
        options=opts,
    )
    return labels, time.perf_counter() - t


def run_maxp(g, polys, threshold):
    import geopandas as gpd
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    gdf = gpd.GeoDataFrame(
        {"households": g["households"].astype(float), "x": g["pts"][:, 0], "y": g["pts"][:, 1]},
        geometry=polys,
    )
    w = Rook.from_dataframe(gdf, use_index=False, silence_warnings=True)
    np.random.seed(1)
    t = time.perf_counter()
    model = MaxPHeuristic(gdf, w, ["x", "y"], "households", threshold, top_n=2, max_iterations_construction=99)
    model.solve()
    return [int(x) for x in model.labels_], time.perf_counter() - t


# ---------------------------------------------------------------- main


def fmt_row(r):
    return (
        f"| {r['method']:<24} | {r['k']:>4} | {r['pp_mean']:.3f} | {r['pp_min']:.3f} | "
        f"{r['w_min']:>5.0f} | {r['w_mean']:>5.0f} | {r['w_max']:>5.0f} | {100 * r['in_band']:5.1f}% | "
        f"{r['disconnected']:>4} | {r['seconds']:8.2f} |{(' ' + r['note']) if r['note'] else ''}"
    )


HEADER = (
    "| method                   |    k | PP mean | PP min | w min | w mean | w max | in band | disc |  time s |\n"
    "|--------------------------|------|---------|--------|-------|--------|-------|---------|------|---------|"
)


def compare(args):
    band = tuple(int(x) for x in args.band.split(".."))
    results = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        d = os.path.join(args.work, f"units{n}")
        g = generate(n, args.seed)
        write_units(d, g)
        total = int(g["households"].sum())
        polys = unit_polys_lonlat(g)
        rows = []
        parts, weights, secs, own = run_wangge(args.wangge, d, os.path.join(args.work, f"out{n}"), band)
        k = len(parts)
        rows.append(summarize("wangge", parts, weights, band, secs, f"(own PP mean {own:.3f}; time = whole CLI run)"))
        # the band as METIS's imbalance bound: max part <= (1 + ufactor/1000) * mean (METIS has no lower bound)
        uf = max(1, int(round(1000 * (band[1] * k / total - 1))))
        runs = (
            ("METIS edge-cut", False, False, None),
            ("METIS border-length", True, False, None),
            ("METIS border-len contig", True, True, None),
            (f"METIS border-len uf={uf}", True, False, uf),
        )
        for name, weighted, contig, ufac in runs:
            try:
                labels, secs = run_metis(g, k, weighted, contig, ufac)
            except Exception as e:  # METIS may refuse contig on some graphs
                print(f"{name} failed: {e!r}", file=sys.stderr)
                continue
            parts_m = dissolve(polys, labels, k)
            wts = np.bincount(labels, weights=g["households"], minlength=k)
            rows.append(summarize(name, parts_m, [w for w in wts if w > 0], band, secs))
        if args.maxp and n == min(int(s) for s in args.sizes.split(",")):
            try:
                labels, secs = run_maxp(g, polys, band[0])
                kk = max(labels) + 1
                parts_m = dissolve(polys, labels, kk)
                wts = np.bincount(labels, weights=g["households"], minlength=kk)
                rows.append(summarize("max-p (spopt)", parts_m, [w for w in wts if w > 0], band, secs, "threshold = band min"))
            except Exception as e:
                print(f"max-p failed: {e!r}", file=sys.stderr)
        print(f"\n### {n} units, {total} households, band {band[0]}..{band[1]}, seed {args.seed}\n")
        print(HEADER)
        for r in rows:
            print(fmt_row(r))
        sys.stdout.flush()
        results[n] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--sizes", default="2000,5000,20000")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--work", default="out/compare")
    c.add_argument("--band", default="300..500")
    c.add_argument("--wangge", default="target/release/wangge")
    c.add_argument("--maxp", action="store_true", help="also run spopt max-p-regions on the smallest size")
    c.add_argument("--json", help="write all figures here")
    b = sub.add_parser("buildings")
    b.add_argument("--n", type=int, default=20000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--out", required=True)
    u = sub.add_parser("units")
    u.add_argument("--n", type=int, default=2000)
    u.add_argument("--seed", type=int, default=1)
    u.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "compare":
        compare(args)
    elif args.cmd == "buildings":
        g = generate(args.n, args.seed)
        write_buildings(args.out, g)
        print(f"{args.n} buildings, {int(g['households'].sum())} households -> {args.out}")
    else:
        g = generate(args.n, args.seed)
        write_units(args.out, g)
        print(f"{args.n} units, {int(g['households'].sum())} households -> {args.out}")


if __name__ == "__main__":
    main()
