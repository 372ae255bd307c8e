// Which grid am I in, answered in the page against cached grid outlines (GeoJSON features of
// /api/grids), so it works with no signal. Distances are metres on a local equirectangular
// projection: exact enough within a town.

const R = 6371008.8;
const RAD = Math.PI / 180;

/** Metres east/north of (lon0, lat0). */
function project(lon, lat, lon0, lat0) {
  return [(lon - lon0) * RAD * R * Math.cos(lat0 * RAD), (lat - lat0) * RAD * R];
}

/** Rings of a Polygon or MultiPolygon geometry. */
function polygons(g) {
  if (!g) return [];
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') return g.coordinates;
  return [];
}

function inRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether (lon, lat) is inside the geometry (holes excluded). */
export function contains(geometry, lon, lat) {
  return polygons(geometry).some((rings) => inRing(rings[0], lon, lat) && !rings.slice(1).some((h) => inRing(h, lon, lat)));
}

function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len > 0 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Metres from (lon, lat) to the geometry's border. */
export function borderDistance(geometry, lon, lat) {
  let best = Infinity;
  for (const rings of polygons(geometry)) {
    for (const ring of rings) {
      for (let i = 1; i < ring.length; i++) {
        const [ax, ay] = project(ring[i - 1][0], ring[i - 1][1], lon, lat);
        const [bx, by] = project(ring[i][0], ring[i][1], lon, lat);
        best = Math.min(best, segmentDistance(0, 0, ax, ay, bx, by));
      }
    }
  }
  return best;
}

/**
 * The grids of `features` at (lon, lat) with accuracy `accuracy` metres: `{inside, near,
 * ambiguous}`: the feature containing the point (or null), and every feature whose border is
 * within the accuracy (the containing one first); ambiguous when more than one grid may hold
 * the point, or the point is outside every grid but near one.
 */
export function locateIn(features, lon, lat, accuracy) {
  const acc = Math.max(accuracy || 0, 1);
  let inside = null;
  const near = [];
  for (const f of features) {
    const [x0, y0, x1, y1] = f.bbox || (f.bbox = bboxOf(f.geometry));
    const pad = acc / (R * RAD);
    const padX = pad / Math.max(Math.cos(lat * RAD), 0.01);
    if (lon < x0 - padX || lon > x1 + padX || lat < y0 - pad || lat > y1 + pad) continue;
    const isIn = contains(f.geometry, lon, lat);
    const d = borderDistance(f.geometry, lon, lat);
    if (isIn) inside = f;
    if (isIn || d <= acc) near.push({feature: f, distance: isIn ? 0 : d, border: d});
  }
  near.sort((a, b) => a.distance - b.distance);
  const ambiguous = near.length > 1 || (!inside && near.length > 0);
  return {inside, near, ambiguous};
}

function bboxOf(geometry) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const rings of polygons(geometry)) {
    for (const [x, y] of rings[0]) {
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  return [x0, y0, x1, y1];
}

/** A polygon approximating a circle of `radius` metres around (lon, lat). */
export function circle(lon, lat, radius, steps = 48) {
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const a = (i / steps) * 2 * Math.PI;
    ring.push([
      lon + (radius * Math.cos(a)) / (R * RAD * Math.cos(lat * RAD)),
      lat + (radius * Math.sin(a)) / (R * RAD),
    ]);
  }
  return {type: 'Polygon', coordinates: [ring]};
}

/** Metres between two lon/lat points. */
export function distance(a, b) {
  const [x, y] = project(b[0], b[1], a[0], a[1]);
  return Math.hypot(x, y);
}
