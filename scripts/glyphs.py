#!/usr/bin/env python3
"""Builds the map's glyph PBFs (signed-distance-field font ranges) from a TrueType font.

MapLibre draws labels from glyph ranges fetched at
`{glyphs}/{fontstack}/{start}-{end}.pbf`, 256 code points per file, in the
`glyphs.proto` format of mapbox/node-fontnik: 24 px glyphs, 3 px buffer, an SDF
with radius 8 and cutoff 0.25 (edge at 192/255). We write every range in
0..=65535 (ranges the font does not cover become empty files), so the viewer
never asks for a range that 404s. CJK is not in here on purpose: the page sets
MapLibre's `localIdeographFontFamily`, which draws ideographs, kana, hangul,
CJK punctuation and full-width forms with the machine's own fonts.

The distance field is computed from the glyph outline itself (curves flattened
to segments, non-zero winding for inside/outside), as sdf-glyph-foundry does,
so it is exact rather than estimated from an anti-aliased bitmap.

Needs `freetype-py` and `numpy` (PyPI). Run from the repository root:

    python3 -m venv /tmp/glyphs-venv && /tmp/glyphs-venv/bin/pip install freetype-py numpy
    /tmp/glyphs-venv/bin/python scripts/glyphs.py \
        /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf dejavu-sans tiles/fonts

Output is deterministic: same font file, same bytes.
"""

import math
import os
import sys

import freetype
import numpy as np

SIZE = 24  # px per em, as fontnik
BUFFER = 3  # px of SDF around each glyph bitmap
RADIUS = 8.0  # px over which the distance field falls off
CUTOFF = 0.25  # fraction of the range that lies inside the glyph
CURVE_STEPS = 8  # segments per quadratic/cubic Bézier


def varint(n):
    """Protobuf base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(tag, n):
    return varint(tag << 3) + varint(n)


def field_sint(tag, n):
    return field_varint(tag, (n << 1) ^ (n >> 31) if n < 0 else n << 1)


def field_bytes(tag, data):
    return varint((tag << 3) | 2) + varint(len(data)) + data


def outline_segments(outline):
    """Flattens a FreeType outline into an (n, 4) array of segments x0, y0, x1, y1 in px."""
    segs = []
    pts = [(p[0] / 64.0, p[1] / 64.0) for p in outline.points]
    tags = outline.tags
    start = 0
    for end in outline.contours:
        contour = list(range(start, end + 1))
        start = end + 1
        if len(contour) < 2:
            continue
        # Expand TrueType implied on-curve points between consecutive conics.
        nodes = []  # (x, y, kind) kind: 1 on, 0 conic control, 2 cubic control
        for i in contour:
            t = tags[i] & 3
            kind = 1 if t == 1 else (0 if t == 0 else 2)
            nodes.append((pts[i][0], pts[i][1], kind))
        # Rotate so the contour starts on an on-curve point (or a midpoint).
        first_on = next((k for k, n in enumerate(nodes) if n[2] == 1), None)
        if first_on is None:
            a, b = nodes[0], nodes[1]
            nodes.insert(0, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, 1))
            first_on = 0
        nodes = nodes[first_on:] + nodes[:first_on]
        nodes.append(nodes[0])
        cur = nodes[0][:2]
        i = 1
        while i < len(nodes):
            x, y, kind = nodes[i]
            if kind == 1:
                segs.append((cur[0], cur[1], x, y))
                cur = (x, y)
                i += 1
            elif kind == 0:
                ctrl = (x, y)
                nx, ny, nk = nodes[i + 1]
                if nk == 0:
                    end_pt = ((x + nx) / 2, (y + ny) / 2)
                    nodes.insert(i + 1, (end_pt[0], end_pt[1], 1))
                else:
                    end_pt = (nx, ny)
                prev = cur
                for s in range(1, CURVE_STEPS + 1):
                    t = s / CURVE_STEPS
                    u = 1 - t
                    px = u * u * cur[0] + 2 * u * t * ctrl[0] + t * t * end_pt[0]
                    py = u * u * cur[1] + 2 * u * t * ctrl[1] + t * t * end_pt[1]
                    segs.append((prev[0], prev[1], px, py))
                    prev = (px, py)
                cur = end_pt
                i += 2
            else:
                c1 = (x, y)
                c2 = nodes[i + 1][:2]
                end_pt = nodes[i + 2][:2]
                prev = cur
                for s in range(1, CURVE_STEPS + 1):
                    t = s / CURVE_STEPS
                    u = 1 - t
                    px = u**3 * cur[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * end_pt[0]
                    py = u**3 * cur[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * end_pt[1]
                    segs.append((prev[0], prev[1], px, py))
                    prev = (px, py)
                cur = end_pt
                i += 3
    return np.array(segs, dtype=np.float64).reshape(-1, 4)


def glyph_message(face, code, ascender):
    """One `glyph` protobuf message for `code`, or None if the font cannot load it."""
    face.load_char(code, freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP)
    g = face.glyph
    advance = int(round(g.advance.x / 64.0))
    segs = outline_segments(g.outline)
    if len(segs) == 0:
        return field_varint(1, code) + field_varint(3, 0) + field_varint(4, 0) + field_sint(
            5, 0
        ) + field_sint(6, -ascender) + field_varint(7, advance)
    xs = np.concatenate([segs[:, 0], segs[:, 2]])
    ys = np.concatenate([segs[:, 1], segs[:, 3]])
    left = int(math.floor(xs.min()))
    right = int(math.ceil(xs.max()))
    bottom = int(math.floor(ys.min()))
    top = int(math.ceil(ys.max()))
    width = right - left
    height = top - bottom
    bw = width + 2 * BUFFER
    bh = height + 2 * BUFFER
    # Pixel centres of the bitmap in font px, y up; row 0 is the top row.
    px = left - BUFFER + np.arange(bw) + 0.5
    py = top + BUFFER - np.arange(bh) - 0.5
    gx, gy = np.meshgrid(px, py)
    qx = gx.reshape(-1, 1)
    qy = gy.reshape(-1, 1)
    x0, y0, x1, y1 = (segs[:, k].reshape(1, -1) for k in range(4))
    dx = x1 - x0
    dy = y1 - y0
    len2 = dx * dx + dy * dy
    safe = np.where(len2 > 0, len2, 1.0)
    t = np.clip(((qx - x0) * dx + (qy - y0) * dy) / safe, 0.0, 1.0)
    ex = x0 + t * dx - qx
    ey = y0 + t * dy - qy
    dist = np.sqrt((ex * ex + ey * ey).min(axis=1))
    # Non-zero winding number of each pixel centre.
    cross = dx * (qy - y0) - (qx - x0) * dy
    up = (y0 <= qy) & (y1 > qy) & (cross > 0)
    down = (y1 <= qy) & (y0 > qy) & (cross < 0)
    winding = up.sum(axis=1) - down.sum(axis=1)
    signed = np.where(winding != 0, -dist, dist)
    value = 255.0 - 255.0 * (signed / RADIUS + CUTOFF)
    bitmap = np.clip(np.round(value), 0, 255).astype(np.uint8).tobytes()
    return (
        field_varint(1, code)
        + field_bytes(2, bitmap)
        + field_varint(3, width)
        + field_varint(4, height)
        + field_sint(5, left)
        + field_sint(6, top - ascender)
        + field_varint(7, advance)
    )


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: glyphs.py FONT.ttf FONTSTACK OUT_DIR")
    font_path, stack, out_dir = sys.argv[1:]
    face = freetype.Face(font_path)
    face.set_char_size(SIZE * 64, 0, 72, 72)
    ascender = int(round(face.size.ascender / 64.0))
    by_range = {}
    for code, index in face.get_chars():
        if index and code <= 0xFFFF:
            by_range.setdefault(code // 256, []).append(code)
    target = os.path.join(out_dir, stack)
    os.makedirs(target, exist_ok=True)
    glyph_count = 0
    for r in range(256):
        start, end = r * 256, r * 256 + 255
        name = f"{start}-{end}"
        body = field_bytes(1, stack.encode()) + field_bytes(2, name.encode())
        for code in sorted(by_range.get(r, [])):
            body += field_bytes(3, glyph_message(face, code, ascender))
            glyph_count += 1
        with open(os.path.join(target, name + ".pbf"), "wb") as f:
            f.write(field_bytes(1, body))
    print(f"{stack}: {glyph_count} glyphs in 256 ranges under {target}")


if __name__ == "__main__":
    main()
