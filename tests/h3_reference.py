#!/usr/bin/env python3
"""Reference H3 cells for tests/patrol.rs: reads `lat lng res` lines on stdin, prints one cell
index (hex, as h3.latlng_to_cell gives it) per line. Exits 3 if the `h3` package is missing."""
import sys

try:
    import h3
except ImportError as e:  # the Rust test skips loudly on this exit code
    print(f"cannot import h3: {e}", file=sys.stderr)
    sys.exit(3)

out = []
for line in sys.stdin:
    if not line.strip():
        continue
    lat, lng, res = line.split()
    out.append(h3.latlng_to_cell(float(lat), float(lng), int(res)))
sys.stdout.write("\n".join(out) + "\n")
