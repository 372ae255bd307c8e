#!/usr/bin/env python3
"""Regenerate the real-data fixtures fixtures/providence/ and fixtures/shanghai/.

NOT run by CI. The outputs are committed; this script documents exactly how they
were made and rebuilds them byte-identically from the read-only source data in
../shared/data (relative to the repository root).

Requirements
    * GDAL command-line tools (ogr2ogr, ogrinfo)   e.g. apt-get install gdal-bin
    * Python 3.9+ with shapely >= 2.0              e.g. pip install shapely
  Made with GDAL 3.6.2 and shapely 2.2.0 / GEOS 3.14.1. Other GEOS versions may
  pick other representative points or union vertex orders; rings are put into a
  canonical order before writing to keep the output stable.

Usage (from the repository root)
    python3 scripts/fixtures_real.py                 # write fixtures/providence, fixtures/shanghai
    python3 scripts/fixtures_real.py --out /tmp/x    # write into /tmp/x/{providence,shanghai}
    python3 scripts/fixtures_real.py --check         # validate the written fixtures, print a report
    python3 scripts/fixtures_real.py --data DIR      # source data somewhere else

What it does
  providence/  (../shared/data/providence/blocks.zip, districts.zip; EPSG:4269 taken as lon/lat)
    units.geojson     one feature per 2010 census block: id=GEOID10, residents=TOTPOP,
                      area_land=ALAND10, ward=WARD (1..15, kept for comparison).
    villages.geojson  one feature: the union of all blocks, code 999999999001.
    wards.geojson     the 15 real wards, residents summed from the blocks.
    README.md, LICENSE.maup.txt
  shanghai/    (../shared/data/shanghai_bund/shanghai_bund_lujiazui_osm.gpkg; EPSG:4326)
    villages.geojson  the slice's tile bbox split by the OSM county boundary lines into
                      3 communities (外滩 / 北外滩 / 陆家嘴); codes = real NBS 2023 township
                      code (from china_division_2023_streets.csv) + "001".
    buildings.geojson OSM building polygons with kind and estimated households/residents.
    barriers.geojson  surface roads (major/minor) and river/canal bank lines.
    README.md

Conventions for every output file
  * coordinates rounded to 7 decimals (round(x, 7)), done once on the inputs, so
    vertices shared by neighbouring polygons stay bit-identical; results of
    geometric operations (union, polygonize, clip) are rounded the same way;
  * exterior rings counter-clockwise, holes clockwise (RFC 7946), each ring
    starting at its lexicographically smallest vertex, parts sorted;
  * one feature per line, UTF-8, features sorted by a stable key.
"""

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import shapely
from shapely.geometry import LineString, Point, box, shape
from shapely.ops import linemerge, polygonize, unary_union
from shapely.strtree import STRtree

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data"
NDIGITS = 7
MAX_BYTES = 3 * 1024 * 1024

# --------------------------------------------------------------------------------------
# generic helpers


def run(cmd):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), res.stderr.decode("utf-8", "replace")))
    return res.stdout


def ogr_layers(src):
    """Layer names of a data source (ogrinfo -q)."""
    out = run(["ogrinfo", "-q", "-ro", src]).decode("utf-8")
    names = []
    for line in out.splitlines():
        line = line.strip()
        if ":" in line and line.split(":", 1)[0].isdigit():
            names.append(line.split(":", 1)[1].strip().split(" (")[0])
    return names


def read_layer(src, layer=None):
    """All features of a layer as GeoJSON dicts, via ogr2ogr (no reprojection)."""
    cmd = ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", src]
    if layer:
        cmd.append(layer)
    return json.loads(run(cmd).decode("utf-8"))["features"]


def r7(v):
    return round(v, NDIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def round_coords(c):
    """Round nested GeoJSON coordinates; drop repeated consecutive points."""
    if isinstance(c[0], (int, float)):
        return [r7(c[0]), r7(c[1])]
    out = [round_coords(x) for x in c]
    if isinstance(out[0][0], (int, float)):  # a point sequence
        dedup = [out[0]]
        for p in out[1:]:
            if p != dedup[-1]:
                dedup.append(p)
        out = dedup
    return out


def rounded_shape(geojson_geom):
    return shape({"type": geojson_geom["type"], "coordinates": round_coords(geojson_geom["coordinates"])})


def round_geom(g):
    """Round an arbitrary shapely geometry to NDIGITS decimals (same rule as inputs)."""
    return shapely.transform(g, lambda a: [[r7(x), r7(y)] for x, y in a])


def polygons_of(g):
    if g.is_empty:
        return []
    if g.geom_type == "Polygon":
        return [g]
    if g.geom_type in ("MultiPolygon", "GeometryCollection"):
        out = []
        for p in g.geoms:
            out.extend(polygons_of(p))
        return out
    return []


def lines_of(g):
    if g.is_empty:
        return []
    if g.geom_type == "LineString":
        return [g]
    if g.geom_type in ("MultiLineString", "GeometryCollection"):
        out = []
        for p in g.geoms:
            out.extend(lines_of(p))
        return out
    return []


def canon_ring(coords, ccw):
    """Closed ring -> list of [x, y], oriented, starting at the smallest vertex."""
    pts = [[r7(x), r7(y)] for x, y in coords]
    if pts[0] == pts[-1]:
        pts = pts[:-1]
    area2 = sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1]
                for i in range(len(pts)))
    if (area2 > 0) != ccw:
        pts.reverse()
    k = min(range(len(pts)), key=lambda i: pts[i])
    pts = pts[k:] + pts[:k]
    return pts + [pts[0]]


def polygon_coords(p):
    rings = [canon_ring(p.exterior.coords, True)]
    rings += sorted(canon_ring(h.coords, False) for h in p.interiors)
    return rings


def geojson_polygonal(g, force_multi=False):
    parts = polygons_of(g)
    if len(parts) == 1 and not force_multi:
        return {"type": "Polygon", "coordinates": polygon_coords(parts[0])}
    return {"type": "MultiPolygon", "coordinates": sorted(polygon_coords(p) for p in parts)}


def geojson_line(line):
    return {"type": "LineString", "coordinates": [[r7(x), r7(y)] for x, y in line.coords]}


def feature(props, geom):
    return {"type": "Feature", "properties": props, "geometry": geom}


def write_fc(path, features):
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def vertices(g):
    s = set()
    for p in polygons_of(g):
        for ring in [p.exterior] + list(p.interiors):
            s.update((x, y) for x, y in ring.coords)
    return s


# WGS84 / GRS80 are identical to well below a millimetre for areas.
A_AXIS = 6378137.0
E2 = 6.69438002290e-3


def area_m2(g, lat0=None):
    """Area in square metres: local projection x = N(lat0)*cos(lat)*dlon, y = M(lat0)*dlat
    (sinusoidal-like, ~equal-area; error far below 0.1 % at these sizes)."""
    if g.is_empty:
        return 0.0
    c = g.centroid
    lon0 = c.x
    if lat0 is None:
        lat0 = c.y
    s = math.sin(math.radians(lat0))
    w = math.sqrt(1.0 - E2 * s * s)
    n = A_AXIS / w
    m = A_AXIS * (1.0 - E2) / (w * w * w)

    def proj(a):
        return [[n * math.cos(math.radians(y)) * math.radians(x - lon0), m * math.radians(y - lat0)]
                for x, y in a]

    return shapely.transform(g, proj).area


# --------------------------------------------------------------------------------------
# Providence

PROV_README = """# Providence, RI — 2010 census blocks as ready-made units (real data)

Real data, generated by `scripts/fixtures_real.py` (not run by CI) from
`../shared/data/providence/blocks.zip` and `districts.zip`.

## Source and licence

* GitHub `mggg/maup` @ 5ad80356044d5da5ad7febd773545075342bc6ec, `examples/blocks.zip` and
  `examples/districts.zip`. Repository licence: MIT, copied here as `LICENSE.maup.txt`.
* Block geometry and counts: US Census Bureau 2010 (TIGER/Line + P.L. 94-171), public domain.
* CRS of the shapefiles is EPSG:4269 (NAD83 lon/lat); it is used as WGS84 lon/lat unchanged
  (the two differ by about a metre here). Coordinates rounded to 7 decimals (the source has at most 6,
  so the rounding changes nothing and shared block vertices stay identical).

## Files

| file | features | content |
|---|---|---|
| `units.geojson` | {n_units} | one census block each (Polygon; {n_multi} MultiPolygon block kept as it is) |
| `villages.geojson` | 1 | the union of all blocks ({village_type}, {village_parts} part(s), {village_holes} hole(s)) |
| `wards.geojson` | {n_wards} | the city's real 15-ward plan |

Fields:

* `units.geojson`: `id` = GEOID10 (15-digit block id), `residents` = TOTPOP (persons, integer),
  `area_land` = ALAND10 (m², land only), `ward` = WARD (1..15), the block's ward in the real plan —
  kept for comparison only.
* `villages.geojson`: `code` = `999999999001` (a made-up code, not a Chinese division code),
  `name` = `Providence, RI (2010 census blocks)`, `mode` = `town`. Its vertices are block
  vertices (union computed on the rounded blocks, then rounded the same way).
* `wards.geojson`: `ward` (1..15), `residents` (sum of TOTPOP of the blocks whose WARD is this ward),
  `blocks` (number of such blocks). Each ward outline is exactly the union of its blocks (same vertices).

Totals: {residents} residents in {n_units} blocks ({zero_blocks} blocks have 0 people);
ward populations {ward_min}..{ward_max} (mean {ward_mean}).

## Important: persons, not households

There is **no households field**. Only persons (`residents`) are given; no household count was made
up. Run with the persons weight and a band around the real ward sizes, e.g.

    --weight residents --band 11300..12500

to ask for 15 grids like the 15 wards (real wards: {ward_min}..{ward_max} people).
The `ward` field is an oracle for comparison: a real balanced, contiguous 15-way partition.

Notes: TIGER block edges mostly follow streets, rail and water, so block adjacency already respects
barriers, but there is no barrier layer here. The block rook-adjacency graph (shared edge of positive
length) is connected ({adj_edges} edges, {adj_components} component).
"""


def build_providence(data, out):
    src = data / "providence"
    blocks_src = "/vsizip/" + str(src / "blocks.zip") + "/blocks.shp"
    wards_src = "/vsizip/" + str(src / "districts.zip") + "/districts.shp"
    assert ogr_layers(blocks_src) == ["blocks"], ogr_layers(blocks_src)
    raw = read_layer(blocks_src)
    raw_w = read_layer(wards_src)

    units = []
    geoms = []
    for f in raw:
        p = f["properties"]
        g = rounded_shape(f["geometry"])
        if not g.is_valid:
            sys.exit("invalid block after rounding: %s (%s)" % (p["GEOID10"], shapely.is_valid_reason(g)))
        ward = p["WARD"]
        assert ward is not None and float(ward).is_integer() and 1 <= ward <= 15, p
        props = {"id": p["GEOID10"], "residents": int(p["TOTPOP"]),
                 "area_land": int(p["ALAND10"]), "ward": int(ward)}
        geoms.append((props["id"], g))
        units.append(feature(props, geojson_polygonal(g, force_multi=(f["geometry"]["type"] == "MultiPolygon"))))
    units.sort(key=lambda f: f["properties"]["id"])
    ids = [f["properties"]["id"] for f in units]
    assert len(set(ids)) == len(ids)

    block_geoms = [g for _, g in geoms]
    union = round_geom(unary_union(block_geoms))
    if not union.is_valid:
        sys.exit("union of blocks invalid after rounding: %s" % shapely.is_valid_reason(union))
    extra = vertices(union) - set().union(*(vertices(g) for g in block_geoms))
    if extra:
        print("WARNING: %d union vertices are not block vertices" % len(extra), file=sys.stderr)
    village = feature({"code": "999999999001", "name": "Providence, RI (2010 census blocks)", "mode": "town"},
                      geojson_polygonal(union))

    pop = {}
    cnt = {}
    for f in units:
        w = f["properties"]["ward"]
        pop[w] = pop.get(w, 0) + f["properties"]["residents"]
        cnt[w] = cnt.get(w, 0) + 1
    wards = []
    for f in raw_w:
        w = f["properties"]["id"]
        assert float(w).is_integer()
        w = int(w)
        g = rounded_shape(f["geometry"])
        if not g.is_valid:
            fixed = round_geom(g.buffer(0))
            print("ward %d invalid (%s), fixed with buffer(0)" % (w, shapely.is_valid_reason(g)), file=sys.stderr)
            g = fixed
        wards.append(feature({"ward": w, "residents": pop[w], "blocks": cnt[w]}, geojson_polygonal(g)))
    wards.sort(key=lambda f: f["properties"]["ward"])
    assert [f["properties"]["ward"] for f in wards] == list(range(1, 16))

    adj_edges, comps = rook_adjacency(block_geoms)
    out.mkdir(parents=True, exist_ok=True)
    write_fc(out / "units.geojson", units)
    write_fc(out / "villages.geojson", [village])
    write_fc(out / "wards.geojson", wards)
    shutil.copyfile(src / "LICENSE.maup.txt", out / "LICENSE.maup.txt")
    parts = polygons_of(union)
    wp = [pop[w] for w in range(1, 16)]
    (out / "README.md").write_text(PROV_README.format(
        n_units=len(units),
        n_multi=sum(1 for f in units if f["geometry"]["type"] == "MultiPolygon"),
        village_type=village["geometry"]["type"], village_parts=len(parts),
        village_holes=sum(len(p.interiors) for p in parts),
        n_wards=len(wards), residents="{:,}".format(sum(wp)),
        zero_blocks=sum(1 for f in units if f["properties"]["residents"] == 0),
        ward_min="{:,}".format(min(wp)), ward_max="{:,}".format(max(wp)),
        ward_mean="{:,}".format(round(sum(wp) / 15)),
        adj_edges="{:,}".format(adj_edges), adj_components=comps), encoding="utf-8")


def rook_adjacency(geoms):
    """(number of rook edges, number of connected components); rook = shared boundary length > 0."""
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    parent = list(range(len(geoms)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = 0
    for i, j in zip(left.tolist(), right.tolist()):
        if i >= j:
            continue
        shared = geoms[i].boundary.intersection(geoms[j].boundary)
        if shared.length > 0:
            edges += 1
            a, b = find(i), find(j)
            if a != b:
                parent[a] = b
    comps = len({find(i) for i in range(len(geoms))})
    return edges, comps


# --------------------------------------------------------------------------------------
# Shanghai

# community anchors: (district code, township name, community name, anchor lon/lat inside it)
SH_COMMUNITIES = [
    ("310101", "外滩街道", "外滩片区", (121.4850, 31.2380)),      # 南京东路 / 河南中路, 黄浦区
    ("310109", "北外滩街道", "北外滩片区", (121.4950, 31.2490)),  # 北苏州路 / 东大名路, 虹口区
    ("310115", "陆家嘴街道", "陆家嘴片区", (121.49526, 31.24195)),  # 东方明珠, 浦东新区
]
# building kind rules (see README)
KIND_DETAIL = {
    "apartments": "residential", "residential": "residential", "house": "residential",
    "dormitory": "residential", "detached": "residential", "terrace": "residential",
    "school": "school", "university": "school", "college": "school", "kindergarten": "school",
    "hospital": "hospital", "clinic": "hospital",
    "industrial": "factory", "factory": "factory", "warehouse": "factory", "manufacture": "factory",
    "office": "office", "bank": "office", "embassy": "office", "government": "office",
    "commercial": "commercial", "retail": "commercial", "shop": "commercial", "mall": "commercial",
    "hotel": "commercial", "supermarket": "commercial",
}
NAME_RESIDENTIAL = ("小区", "新村", "公寓")
LANDUSE_KIND = {"school": "school", "university": "school", "college": "school", "kindergarten": "school",
                "hospital": "hospital", "industrial": "factory",
                "commercial": "commercial", "retail": "commercial"}
DEFAULT_KIND = "commercial"
DEFAULT_FLOORS = 6.0
M2_PER_DWELLING = 90.0
PERSONS_PER_HOUSEHOLD = 2.3
ROAD_CLASS = {"major_road": "major_road", "minor_road": "minor_road", "rail": "rail"}
TUNNEL_WORDS = ("隧道", "隧道", "地道")
# river/canal polygons (OSM ids in the gpkg) whose banks become barriers
RIVER_POLYGONS = [("黄浦江", [71118583, 39089117]), ("苏州河", [8002009]), ("虹口港", [511382730])]
CANAL_LINES = ["虹口港"]  # narrow canal: its centre line too


def half_up(x):
    return int(math.floor(x + 0.5))


def truthy(v):
    return v not in (None, "", "False", "false", "no", False, 0)


def township_codes(data):
    rows = {}
    with open(data / "china_division" / "china_division_2023_streets.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows[(r["areaCode"], r["name"])] = r["code"]
    return rows


SH_README = """# Shanghai Bund / Lujiazui — OSM buildings, roads, rivers (real data)

Real data, generated by `scripts/fixtures_real.py` (not run by CI) from
`../shared/data/shanghai_bund/shanghai_bund_lujiazui_osm.gpkg`.

## Source and licence

Map data © OpenStreetMap contributors, available under the Open Database Licence (ODbL 1.0),
https://www.openstreetmap.org/copyright. These files are a derived database and are under the ODbL too;
keep the attribution "© OpenStreetMap contributors" with them.

The gpkg is a conversion of 34 Tilezen/Nextzen z16 vector tiles (every feature source=openstreetmap.org)
found in GitHub liuyanchen1994/vue-maptalks.three.demo @ 7b47305029f36a56099545dd245512dd68f81030
(`public/data/shangHai.js`; the repository's code is not used). CRS EPSG:4326 (WGS84, not GCJ-02:
东方明珠 sits at its WGS84 position). Coordinates rounded to 7 decimals.

## Files

| file | features | content |
|---|---|---|
| `villages.geojson` | {n_villages} | 3 communities, mode `town` |
| `buildings.geojson` | {n_buildings} | OSM building footprints (Polygon) |
| `barriers.geojson` | {n_barriers} | {barrier_counts} |

### villages.geojson — how the communities were drawn

The slice is the extent of the 34 tiles: {bbox} (the gpkg `earth` layer's envelope, about 3.6 × 2.6 km).
It was cut along the three OSM county-level boundary lines in the gpkg (黄浦区 | 浦东新区, 虹口区 | 浦东新区,
杨浦区 | 浦东新区, which run along the middle of 黄浦江; the 黄浦区 | 虹口区 line follows 苏州河). This gives
4 faces; the 0.1 km² 杨浦区 sliver in the north-east corner (river water and a quay strip, no
buildings) is left out. The other three faces are the communities. Water is not cut out: each community
reaches the district line in mid-river, and the river banks are barrier lines.

| code | name | district | area (km², incl. water) | buildings | households | residents |
|---|---|---|---|---|---|---|
{village_rows}

`code` = the real NBS 2023 township code of the 街道 that holds most of the face
(`china_division_2023_streets.csv`) + `001`. The 3-digit suffix and the names (…片区) are made up for
this fixture and the polygons are NOT the real 街道 or 社区 boundaries — only the district lines are real.
(The 黄浦区 face also covers parts of 南京东路、豫园、小东门街道.)

### buildings.geojson

OSM `building` polygons only: no `building_part` pieces ({n_parts_skipped} skipped), no building label points
or address/entrance points ({n_points_skipped} skipped). Properties:

* `id` = `osm-<way id>`, or `osm-r<relation id>` for the {n_relations} multipolygon-relation buildings
  (Tilezen stores relation ids negated).
* `kind`, by the first rule that applies:
  1. the OSM building tag (Tilezen `kind_detail`): apartments/residential/house/dormitory → residential;
     school/university/college/kindergarten → school; hospital/clinic → hospital;
     industrial/factory/warehouse → factory; office/bank/embassy/government → office;
     commercial/retail/shop/mall/hotel/supermarket → commercial;
  2. the name contains 小区, 新村 or 公寓 → residential;
  3. the building lies in residential land use (Tilezen `landuse_kind` = residential, or its
     representative point is inside a residential land-use polygon of the gpkg) → residential;
  4. other land use: school → school, hospital → hospital, industrial → factory,
     commercial/retail → commercial;
  5. otherwise `commercial` (the CBD default).
  Result: {kind_counts}.
* `households` — **an estimate, not a count.** Only for `residential` buildings:
  `households = round(footprint_m2 × floors / 90)`, where footprint_m2 is the polygon's area on the
  ellipsoid, `floors = max(1, height / 3)` when OSM gives a height (m) > 0, else the default
  **{default_floors} floors** (the 1980s 工人新村 blocks here, e.g. 崂山/乳山村, are 5–6 storeys),
  and 90 m² of gross floor area per dwelling. {n_res_height} of the {n_res} residential buildings have a height.
  All other kinds: 0.
* `residents = round(households × 2.3)` (2020 census: about 2.3 persons per household in 黄浦区 and
  浦东新区). Non-residential: 0. Rounding is half-up.
* `address` = `addr:street` + `addr:housenumber` (+ 号) where OSM has them ({n_address} buildings).

Totals: {total_households} households, {total_residents} residents (estimates) in {n_res} residential buildings.
The slice is a business district; this is a small, made-up-by-rule population, not census data.

Cleaning: {n_invalid} polygons were invalid after rounding (fixed with buffer(0)); {n_dropped} buildings
were dropped because their representative point lies outside every community ({n_dropped_bbox} outside the
slice, {n_dropped_sliver} in the left-out 杨浦区 sliver); {n_clipped} buildings reaching past the slice
edge were clipped to their community ({n_clipped_multi} left several pieces, the largest kept);
{n_duplicates} exact duplicate footprint(s) dropped ({duplicates}; the smallest id kept).
OSM buildings still overlap in places (a podium or annex mapped as its own building under or beside a tower):
{n_overlaps} pairs overlap by more than 1 m² (largest {max_overlap} m²); they were left as they are.

### barriers.geojson

`class` and, where OSM has one, `name`. One LineString per feature (OSM ways merged by Tilezen).

* roads: Tilezen `major_road` (trunk/primary/secondary/tertiary and links) → `major_road`,
  `minor_road` (residential/service/unclassified/living_street) → `minor_road`, `rail` → `rail`;
  `path` and `ferry` skipped; tunnels skipped as underground (is_tunnel, or 隧道/地道 in the name:
  延安东路隧道, 外滩隧道, 人民路隧道, 新建路隧道, 大连路隧道, 复兴东路隧道, 陆家嘴环路地道 …).
  Every rail line in the slice is an underground metro line, so there is no `rail` barrier.
  {n_roads_skipped_tunnel} tunnel roads skipped.
* rivers (`river`): the banks of 黄浦江, 苏州河 and 虹口港 = outlines of their OSM water polygons
  (merged per river; tile-edge cuts and the water-to-water joins removed), plus the 虹口港 canal
  centre line outside 黄浦江/苏州河. Mid-river centre lines of 黄浦江/苏州河 are not included (the banks are the barrier).
  Small ponds and pools are not barriers.
"""


def build_shanghai(data, out):
    gpkg = str(data / "shanghai_bund" / "shanghai_bund_lujiazui_osm.gpkg")
    layers = ogr_layers(gpkg)
    for name in ("buildings", "roads", "water", "boundaries", "landuse", "earth"):
        assert name in layers, (name, layers)
    earth = read_layer(gpkg, "earth")
    bnd = read_layer(gpkg, "boundaries")
    blds = read_layer(gpkg, "buildings")
    roads = read_layer(gpkg, "roads")
    water = read_layer(gpkg, "water")
    landuse = read_layer(gpkg, "landuse")
    codes = township_codes(data)

    # ---- villages
    minx, miny, maxx, maxy = unary_union([shape(f["geometry"]) for f in earth]).bounds
    frame = box(r7(minx), r7(miny), r7(maxx), r7(maxy))
    lines = [LineString(round_coords(f["geometry"]["coordinates"])) for f in bnd
             if f["properties"]["kind"] == "county"]
    faces = [round_geom(f) for f in polygonize(unary_union(lines + [frame.exterior]))]
    villages = []
    used = set()
    for county, street, cname, (x, y) in SH_COMMUNITIES:
        hit = [i for i, fc in enumerate(faces) if fc.contains(Point(x, y))]
        assert len(hit) == 1 and hit[0] not in used, (street, hit)
        used.add(hit[0])
        code9 = codes[(county, street)]
        assert len(code9) == 9 and code9.startswith(county)
        g = faces[hit[0]]
        assert g.is_valid, shapely.is_valid_reason(g)
        villages.append({"code": code9 + "001", "name": cname, "street": street, "county": county, "geom": g})
    left_out = [fc for i, fc in enumerate(faces) if i not in used]
    villages.sort(key=lambda v: v["code"])

    # ---- landuse (residential polygons)
    res_lu = [rounded_shape(f["geometry"]) for f in landuse
              if f["properties"]["kind"] == "residential" and f["geometry"]["type"] in ("Polygon", "MultiPolygon")]
    res_lu = [g if g.is_valid else g.buffer(0) for g in res_lu]
    res_tree = STRtree(res_lu)

    # ---- buildings
    stats = {"invalid": 0, "dropped": 0, "dropped_bbox": 0, "dropped_sliver": 0, "clipped": 0,
             "clipped_multi": 0, "parts": 0, "points": 0, "relations": 0, "address": 0, "res_height": 0,
             "multi_in": 0}
    buildings = []
    bgeoms = []
    for f in blds:
        p = f["properties"]
        gt = f["geometry"]["type"] if f["geometry"] else None
        if p["kind"] == "building_part":
            stats["parts"] += 1
            continue
        if p["kind"] != "building" or gt not in ("Polygon", "MultiPolygon"):
            stats["points"] += 1
            continue
        g = rounded_shape(f["geometry"])
        if not g.is_valid:
            stats["invalid"] += 1
            g = round_geom(g.buffer(0))
        parts = polygons_of(g)
        if len(parts) > 1:
            stats["multi_in"] += 1
            g = max(parts, key=lambda q: q.area)
        rep = g.representative_point()
        home = [v for v in villages if v["geom"].covers(rep)]
        if not home:
            stats["dropped"] += 1
            if frame.covers(rep):
                stats["dropped_sliver"] += 1
            else:
                stats["dropped_bbox"] += 1
            continue
        v = home[0]
        if not v["geom"].covers(g):
            stats["clipped"] += 1
            pieces = polygons_of(round_geom(g.intersection(v["geom"])))
            if len(pieces) > 1:
                stats["clipped_multi"] += 1
            g = max(pieces, key=lambda q: q.area)
            if not g.is_valid:
                g = max(polygons_of(round_geom(g.buffer(0))), key=lambda q: q.area)
            assert v["geom"].covers(g), p["id"]
        assert g.is_valid and g.geom_type == "Polygon", p["id"]
        osm_id = int(p["id"])
        bid = "osm-%d" % osm_id if osm_id > 0 else "osm-r%d" % -osm_id
        if osm_id < 0:
            stats["relations"] += 1
        kind = classify(p, g, res_lu, res_tree)
        height = p.get("height")
        households = 0
        if kind == "residential":
            if height is not None and height > 0:
                floors = max(1.0, height / 3.0)
                stats["res_height"] += 1
            else:
                floors = DEFAULT_FLOORS
            households = half_up(area_m2(g) * floors / M2_PER_DWELLING)
        residents = half_up(households * PERSONS_PER_HOUSEHOLD)
        props = {"id": bid, "households": households, "residents": residents, "kind": kind}
        street, number = p.get("addr_street"), p.get("addr_housenumber")
        if street or number:
            addr = (street or "") + (number or "")
            if number and not number.endswith("号"):
                addr += "号"
            props["address"] = addr
            stats["address"] += 1
        buildings.append((feature(props, geojson_polygonal(g)), g, v))
    # exact duplicates (same footprint mapped twice): keep the smallest id
    buildings.sort(key=lambda t: t[0]["properties"]["id"])
    seen = set()
    kept = []
    duplicates = []
    for f, g, v in buildings:
        key = json.dumps(f["geometry"]["coordinates"])
        if key in seen:
            duplicates.append(f["properties"]["id"])
            continue
        seen.add(key)
        kept.append((f, g, v))
        v["n"] = v.get("n", 0) + 1
        v["hh"] = v.get("hh", 0) + f["properties"]["households"]
        v["res"] = v.get("res", 0) + f["properties"]["residents"]
    buildings = [f for f, _, _ in kept]
    bgeoms = [g for _, g, _ in kept]
    assert len({f["properties"]["id"] for f in buildings}) == len(buildings)

    # overlaps among buildings (reported, not changed)
    tree = STRtree(bgeoms)
    li, ri = tree.query(bgeoms, predicate="intersects")
    overlaps = []
    for i, j in zip(li.tolist(), ri.tolist()):
        if i < j:
            a = area_m2(bgeoms[i].intersection(bgeoms[j]), lat0=bgeoms[i].centroid.y)
            if a > 1.0:
                overlaps.append(a)

    # ---- barriers: roads
    barriers = []
    skipped_tunnel = 0
    for f in roads:
        p = f["properties"]
        cls = ROAD_CLASS.get(p["kind"])
        if cls is None:
            continue
        name = p.get("name") or None
        if truthy(p.get("is_tunnel")) or (name and any(w in name for w in TUNNEL_WORDS)):
            skipped_tunnel += 1
            continue
        g = shape({"type": f["geometry"]["type"], "coordinates": round_coords(f["geometry"]["coordinates"])})
        if g.geom_type == "MultiLineString":
            g = linemerge(g)
        for part in lines_of(g):
            if len(part.coords) >= 2 and part.length > 0:
                barriers.append((cls, name, part))
    # ---- barriers: rivers
    wpoly = {}
    for f in water:
        if f["geometry"] and f["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            g = rounded_shape(f["geometry"])
            wpoly[int(f["properties"]["id"])] = g if g.is_valid else g.buffer(0)
    all_water = unary_union([wpoly[i] for _, ids in RIVER_POLYGONS for i in ids])
    edge = frame.exterior.buffer(1e-8)
    banks = all_water.boundary.difference(edge)
    for name, ids in RIVER_POLYGONS:
        mine = unary_union([wpoly[i] for i in ids]).buffer(1e-8)
        piece = round_geom(banks.intersection(mine))
        merged = linemerge(lines_of(piece)) if lines_of(piece) else piece
        for part in lines_of(merged):
            if part.length > 0:
                barriers.append(("river", name, part))
    big_rivers = unary_union([wpoly[i] for name, ids in RIVER_POLYGONS if name not in CANAL_LINES for i in ids])
    for f in water:
        p = f["properties"]
        if p.get("name") in CANAL_LINES and f["geometry"]["type"] in ("LineString", "MultiLineString"):
            g = shape({"type": f["geometry"]["type"], "coordinates": round_coords(f["geometry"]["coordinates"])})
            # only the part outside 黄浦江/苏州河 (OSM continues it to mid-river)
            g = round_geom(g.difference(big_rivers))
            for part in lines_of(linemerge(lines_of(g)) if len(lines_of(g)) > 1 else g):
                barriers.append(("river", p["name"], part))
    bfeats = []
    for cls, name, line in barriers:
        props = {"class": cls}
        if name:
            props["name"] = name
        bfeats.append(feature(props, geojson_line(line)))
    bfeats = [f for f in bfeats if len(f["geometry"]["coordinates"]) >= 2]
    bfeats.sort(key=lambda f: (f["properties"]["class"], f["properties"].get("name", ""),
                               f["geometry"]["coordinates"]))

    vfeats = [feature({"code": v["code"], "name": v["name"], "mode": "town"}, geojson_polygonal(v["geom"]))
              for v in villages]

    out.mkdir(parents=True, exist_ok=True)
    write_fc(out / "villages.geojson", vfeats)
    write_fc(out / "buildings.geojson", buildings)
    write_fc(out / "barriers.geojson", bfeats)

    kinds = {}
    for f in buildings:
        kinds[f["properties"]["kind"]] = kinds.get(f["properties"]["kind"], 0) + 1
    bcls = {}
    for f in bfeats:
        bcls[f["properties"]["class"]] = bcls.get(f["properties"]["class"], 0) + 1
    district = {"310101": "黄浦区", "310109": "虹口区", "310115": "浦东新区"}
    rows = "\n".join("| %s | %s | %s %s | %.2f | %d | %d | %d |" % (
        v["code"], v["name"], district[v["county"]], v["street"], area_m2(v["geom"]) / 1e6,
        v.get("n", 0), v.get("hh", 0), v.get("res", 0)) for v in villages)
    res = [f for f in buildings if f["properties"]["kind"] == "residential"]
    (out / "README.md").write_text(SH_README.format(
        n_villages=len(vfeats), n_buildings=len(buildings), n_barriers=len(bfeats),
        barrier_counts=", ".join("%d %s" % (bcls[k], k) for k in sorted(bcls)),
        bbox="lon %s..%s, lat %s..%s" % (frame.bounds[0], frame.bounds[2], frame.bounds[1], frame.bounds[3]),
        village_rows=rows,
        n_parts_skipped=stats["parts"], n_points_skipped=stats["points"], n_relations=stats["relations"],
        kind_counts=", ".join("%d %s" % (kinds[k], k) for k in sorted(kinds)),
        default_floors=int(DEFAULT_FLOORS), n_res_height=stats["res_height"], n_res=len(res),
        n_address=stats["address"],
        total_households="{:,}".format(sum(f["properties"]["households"] for f in buildings)),
        total_residents="{:,}".format(sum(f["properties"]["residents"] for f in buildings)),
        n_invalid=stats["invalid"], n_dropped=stats["dropped"], n_dropped_bbox=stats["dropped_bbox"],
        n_dropped_sliver=stats["dropped_sliver"], n_clipped=stats["clipped"],
        n_clipped_multi=stats["clipped_multi"], n_overlaps=len(overlaps),
        n_duplicates=len(duplicates), duplicates=", ".join(duplicates) or "none",
        max_overlap="%.0f" % max(overlaps) if overlaps else "0",
        n_roads_skipped_tunnel=skipped_tunnel), encoding="utf-8")
    if stats["multi_in"]:
        print("note: %d multi-part buildings reduced to their largest part" % stats["multi_in"], file=sys.stderr)
    if left_out:
        print("note: left out %d face(s), %.3f km2" % (len(left_out), sum(area_m2(g) for g in left_out) / 1e6),
              file=sys.stderr)


def classify(p, g, res_lu, res_tree):
    detail = p.get("kind_detail")
    if detail in KIND_DETAIL:
        return KIND_DETAIL[detail]
    name = p.get("name") or ""
    if any(w in name for w in NAME_RESIDENTIAL):
        return "residential"
    lu = p.get("landuse_kind")
    if lu == "residential":
        return "residential"
    rep = g.representative_point()
    for i in res_tree.query(rep).tolist():
        if res_lu[i].covers(rep):
            return "residential"
    if lu in LANDUSE_KIND:
        return LANDUSE_KIND[lu]
    return DEFAULT_KIND


# --------------------------------------------------------------------------------------
# validation


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def check_polygonal(feats, label, problems):
    for f in feats:
        g = shape(f["geometry"])
        if not g.is_valid:
            problems.append("%s %s invalid: %s" % (label, f["properties"], shapely.is_valid_reason(g)))
        for p in polygons_of(g):
            if not p.exterior.is_ccw:
                problems.append("%s exterior not CCW" % label)
            for h in p.interiors:
                if h.is_ccw:
                    problems.append("%s hole not CW" % label)


def check(root):
    problems = []
    print("== file sizes")
    for sub in ("providence", "shanghai"):
        for fn in sorted(os.listdir(root / sub)):
            size = (root / sub / fn).stat().st_size
            print("  %-32s %9d bytes%s" % (sub + "/" + fn, size, "  > 3 MB!" if size >= MAX_BYTES else ""))
            if size >= MAX_BYTES:
                problems.append("%s/%s too big" % (sub, fn))

    # ---- Providence
    pv = root / "providence"
    units, vill, wards = load(pv / "units.geojson"), load(pv / "villages.geojson"), load(pv / "wards.geojson")
    for label, fs in (("unit", units), ("village", vill), ("ward", wards)):
        check_polygonal(fs, "providence " + label, problems)
    ug = [shape(f["geometry"]) for f in units]
    vg = shape(vill[0]["geometry"])
    lat0 = vg.centroid.y
    su = sum(area_m2(g, lat0=lat0) for g in ug)
    sv = area_m2(vg, lat0=lat0)
    uu = unary_union(ug)
    edges, comps = rook_adjacency(ug)
    bverts = set().union(*(vertices(g) for g in ug))
    extra = vertices(vg) - bverts
    outside = sum(1 for g in ug if not vg.covers(g))
    print("== providence")
    print("  units %d (types %s), residents %d, zero-pop %d, households field present: %s" % (
        len(units), sorted({f["geometry"]["type"] for f in units}),
        sum(f["properties"]["residents"] for f in units),
        sum(1 for f in units if f["properties"]["residents"] == 0),
        any("households" in f["properties"] for f in units)))
    print("  village %s code %s parts %d holes %d" % (
        vill[0]["geometry"]["type"], vill[0]["properties"]["code"], len(polygons_of(vg)),
        sum(len(p.interiors) for p in polygons_of(vg))))
    print("  sum unit area %.1f m2, village area %.1f m2, relative difference %.3e" % (su, sv, (su - sv) / sv))
    print("  village symmetric difference with union(units): %.3e of village area" % (
        vg.symmetric_difference(uu).area / vg.area))
    print("  village vertices not block vertices: %d; units not covered by village: %d" % (len(extra), outside))
    print("  rook adjacency: %d edges, %d component(s)" % (edges, comps))
    wr = [(f["properties"]["ward"], f["properties"]["residents"]) for f in wards]
    print("  wards %d, residents %s, sum %d" % (len(wards), [r for _, r in wr], sum(r for _, r in wr)))
    wsum = unary_union([shape(f["geometry"]) for f in wards])
    print("  wards union vs village: symmetric difference %.3e of village area" % (
        wsum.symmetric_difference(vg).area / vg.area))
    worst = 0.0
    for f in wards:
        k = f["properties"]["ward"]
        wg = shape(f["geometry"])
        bu = unary_union([g for g, u in zip(ug, units) if u["properties"]["ward"] == k])
        worst = max(worst, bu.symmetric_difference(wg).area / wg.area)
        if sum(u["properties"]["residents"] for u in units if u["properties"]["ward"] == k) != f["properties"]["residents"]:
            problems.append("ward %d residents mismatch" % k)
    print("  each ward vs union of its blocks: worst symmetric difference %.3e of ward area" % worst)
    if comps != 1:
        problems.append("providence adjacency has %d components" % comps)
    for f in units:
        p = f["properties"]
        if not (isinstance(p["id"], str) and isinstance(p["residents"], int) and p["residents"] >= 0):
            problems.append("bad unit props %s" % p)

    # ---- Shanghai
    sh = root / "shanghai"
    sv_, sb, sr = load(sh / "villages.geojson"), load(sh / "buildings.geojson"), load(sh / "barriers.geojson")
    check_polygonal(sv_, "shanghai village", problems)
    check_polygonal(sb, "shanghai building", problems)
    vgs = [shape(f["geometry"]) for f in sv_]
    print("== shanghai")
    for f, g in zip(sv_, vgs):
        p = f["properties"]
        ok = len(p["code"]) == 12 and p["code"].isdigit()
        print("  village %s %s %s area %.3f km2 valid %s code-ok %s" % (
            p["code"], p["name"], p["mode"], area_m2(g) / 1e6, g.is_valid, ok))
        if not ok:
            problems.append("bad code %s" % p["code"])
    for i in range(len(vgs)):
        for j in range(i + 1, len(vgs)):
            ov = vgs[i].intersection(vgs[j]).area
            if ov > 0:
                problems.append("villages %d/%d overlap" % (i, j))
    notin = 0
    types = set()
    for f in sb:
        g = shape(f["geometry"])
        types.add(g.geom_type)
        if not any(v.covers(g) for v in vgs):
            notin += 1
        p = f["properties"]
        if p["kind"] != "residential" and (p["households"] or p["residents"]):
            problems.append("non-residential with households %s" % p["id"])
    kinds = {}
    for f in sb:
        kinds[f["properties"]["kind"]] = kinds.get(f["properties"]["kind"], 0) + 1
    print("  buildings %d %s, kinds %s" % (len(sb), sorted(types), kinds))
    print("  households %d, residents %d, buildings not inside a village: %d" % (
        sum(f["properties"]["households"] for f in sb), sum(f["properties"]["residents"] for f in sb), notin))
    if notin:
        problems.append("%d buildings not inside a village" % notin)
    bc = {}
    for f in sr:
        k = (f["properties"]["class"], f["geometry"]["type"])
        bc[k] = bc.get(k, 0) + 1
    print("  barriers %d %s" % (len(sr), bc))
    print("  named barriers: %s" % sorted({f["properties"].get("name") for f in sr if f["properties"]["class"] == "river"}))
    print("== problems: %d" % len(problems))
    for p in problems[:50]:
        print("  " + p)
    return 0 if not problems else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="source data dir (default ../shared/data)")
    ap.add_argument("--out", type=Path, default=REPO / "fixtures", help="output root (default fixtures/)")
    ap.add_argument("--check", action="store_true", help="validate the files in --out instead of writing")
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args.out))
    for tool in ("ogr2ogr", "ogrinfo"):
        if shutil.which(tool) is None:
            sys.exit("%s not found (apt-get install gdal-bin)" % tool)
    build_providence(args.data.resolve(), args.out / "providence")
    build_shanghai(args.data.resolve(), args.out / "shanghai")


if __name__ == "__main__":
    main()
