// 网格规划编辑器 — the planner's editor.
//
// Opens a village (GET /api/villages/{code}/edit): its cells as TopoJSON (each border once), its
// buildings and the active plan. A draft is the grid of every cell; a stroke moves cells (with
// their buildings) into the active grid. Grid shapes are never drawn by hand: each grid is traced
// from the topology by keeping the borders between its cells and other grids' cells and chaining
// them into rings (the engine's dissolve), so grids always tile the village. After each stroke the
// grids it touched are traced again, land left without buildings joins the neighbour it shares the
// longest border with (the rule a save follows), and grids in pieces are shown in red.
//
// State kept in localStorage (key wangge.planner.<village>) so a draft survives a reload.

const HARD = (1 << 1) | (1 << 2) | (1 << 3); // river, rail, expressway
const CLS = {boundary: 1, river: 2, rail: 4, expressway: 8, major: 16, minor: 32, group: 64};
// The map colours of wangge::partition::colour::PALETTE (ColorBrewer Set2), shared with the viewer
// and print: grids start with the colours the server gave them; a save colours the plan again.
const PALETTE = ['#66c2a5', '#fc8d62', '#8da0cb', '#ffd92f', '#e78ac3'];
const CJK_FONTS = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif";

const $ = (s) => document.querySelector(s);
const perf = (window.__plannerPerf = {strokes: [], strokeWork: [], ready: null, rebalance: [], save: []});

let map;
let V = null; // the village being edited (see load())
let tool = 'brush';
let user = ''; // the logged-in planner (GET /api/session), see ensureLogin()

// ---------------------------------------------------------------- HTTP

async function api(method, url, body) {
  const headers = {'Accept': 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  return {status: res.status, ok: res.ok, json};
}

/** Who is logged in; if nobody (401), a login form until POST /api/session succeeds. The session
 * is an HttpOnly cookie the browser sends with every request. */
async function ensureLogin() {
  const me = await api('GET', '/api/session');
  if (me.ok) { user = me.json.name; return; }
  const form = document.createElement('form');
  form.id = 'login';
  form.innerHTML = '<h2>规划员登录</h2>' +
    '<label>用户名 <input id="login-name" autocomplete="username" required></label>' +
    '<label>密码 <input id="login-password" type="password" autocomplete="current-password" required></label>' +
    '<button type="submit">登录</button><p id="login-error" role="alert"></p>';
  document.body.appendChild(form);
  $('#login-name').value = localStorage.getItem('wangge.planner.user') || '';
  $('#login-name').focus();
  await new Promise((resolve) => form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('POST', '/api/session', {name: $('#login-name').value, password: $('#login-password').value});
    if (!r.ok) { $('#login-error').textContent = r.json?.error || `登录失败 ${r.status}`; return; }
    user = r.json.name;
    localStorage.setItem('wangge.planner.user', user);
    form.remove();
    resolve();
  }));
}

// ---------------------------------------------------------------- topology

/** Decodes the TopoJSON arcs (quantised, delta-encoded) to [lon, lat] arrays. */
function decodeArcs(topo) {
  const [sx, sy] = topo.transform.scale;
  const [tx, ty] = topo.transform.translate;
  return topo.arcs.map((arc) => {
    let x = 0, y = 0;
    return arc.map(([dx, dy]) => { x += dx; y += dy; return [x * sx + tx, y * sy + ty]; });
  });
}

function ringArea(r) {
  let s = 0;
  for (let i = 0, n = r.length - 1; i < n; i++) s += r[i][0] * r[i + 1][1] - r[i + 1][0] * r[i][1];
  return s / 2;
}

function inRing(p, r) {
  let inside = false;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
    const [xi, yi] = r[i], [xj, yj] = r[j];
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The outline of a set of faces (`inSet(f)`), as MultiPolygon coordinates: the directed arcs of
 *  its faces whose other side is not in the set, chained into rings; holes go to the smallest
 *  outer ring that holds them. */
function trace(faces, inSet) {
  const T = V.topo;
  const out = []; // directed refs
  for (const f of faces) {
    for (const ring of T.faceRings[f]) {
      for (const ref of ring) {
        const a = ref < 0 ? ~ref : ref;
        const other = ref < 0 ? T.arcLeft[a] : T.arcRight[a];
        if (other < 0 || !inSet(other)) out.push(ref);
      }
    }
  }
  const pts = (ref) => (ref < 0 ? T.arcs[~ref].slice().reverse() : T.arcs[ref]);
  const key = (p) => p[0].toFixed(7) + ',' + p[1].toFixed(7);
  const starts = new Map();
  for (const ref of out) {
    const k = key(pts(ref)[0]);
    if (!starts.has(k)) starts.set(k, []);
    starts.get(k).push(ref);
  }
  const used = new Set();
  const rings = [];
  for (const ref0 of out) {
    if (used.has(ref0)) continue;
    const ring = [];
    let ref = ref0;
    let guard = out.length + 2;
    while (ref !== undefined && !used.has(ref) && guard-- > 0) {
      used.add(ref);
      const p = pts(ref);
      for (let i = ring.length ? 1 : 0; i < p.length; i++) ring.push(p[i]);
      const next = (starts.get(key(p[p.length - 1])) || []).find((r) => !used.has(r));
      ref = next;
    }
    if (ring.length >= 4) {
      const a = ring[0], b = ring[ring.length - 1];
      if (a[0] !== b[0] || a[1] !== b[1]) ring.push(a);
      rings.push(ring);
    }
  }
  const outers = [], holes = [];
  for (const r of rings) (ringArea(r) > 0 ? outers : holes).push(r);
  const polys = outers.map((r) => [r]);
  for (const h of holes) {
    let best = -1, bestA = Infinity;
    outers.forEach((o, i) => {
      const a = Math.abs(ringArea(o));
      if (a < bestA && inRing(h[0], o)) { best = i; bestA = a; }
    });
    if (best >= 0) polys[best].push(h);
  }
  return polys;
}

// ---------------------------------------------------------------- the village

/** Builds the editing state from the /edit answer. */
function prepare(data) {
  const topo = data.topology;
  const arcs = decodeArcs(topo);
  const nf = topo.objects.cells.geometries.length;
  const arcLeft = new Int32Array(arcs.length).fill(-1);
  const arcRight = new Int32Array(arcs.length).fill(-1);
  const faceRings = new Array(nf);
  const faceItems = new Array(nf);
  const faceGrid0 = new Array(nf);
  for (const g of topo.objects.cells.geometries) {
    faceRings[g.id] = g.arcs;
    faceItems[g.id] = [];
    faceGrid0[g.id] = g.properties.grid;
    for (const ring of g.arcs) for (const ref of ring) {
      if (ref < 0) arcRight[~ref] = g.id; else arcLeft[ref] = g.id;
    }
  }
  const arcLen = arcs.map((a) => {
    let s = 0;
    for (let i = 1; i < a.length; i++) {
      const dx = (a[i][0] - a[i - 1][0]) * Math.cos((a[i][1] * Math.PI) / 180), dy = a[i][1] - a[i - 1][1];
      s += Math.hypot(dx, dy) * 111320;
    }
    return s;
  });
  const nbrs = Array.from({length: nf}, () => []);
  arcs.forEach((_, a) => {
    const l = arcLeft[a], r = arcRight[a];
    if (l >= 0 && r >= 0 && l !== r) { nbrs[l].push([r, a]); nbrs[r].push([l, a]); }
  });
  const itemIndex = new Map();
  data.buildings.forEach((b, i) => itemIndex.set(b.id, i));
  for (const g of topo.objects.cells.geometries) {
    for (const id of g.properties.items) {
      const i = itemIndex.get(id);
      if (i !== undefined) faceItems[g.id].push(i);
    }
  }
  const faceWeight = new Float64Array(nf), faceHH = new Float64Array(nf), faceRes = new Float64Array(nf);
  const itemFaces = data.buildings.map(() => []);
  // where the village has units, they carry their buildings' sums: buildings add nothing more
  const hasUnits = data.buildings.some((b) => b.kind === 'unit');
  faceItems.forEach((items, f) => {
    for (const i of items) {
      const b = data.buildings[i];
      const counts = !hasUnits || b.kind === 'unit';
      // a unit spread over several faces counts once: its figures go to its first face
      if (counts && itemFaces[i].length === 0) { faceWeight[f] += b.weight; faceHH[f] += b.households; faceRes[f] += b.residents; }
      itemFaces[i].push(f);
    }
  });
  // pieces of the village (faces joined by arcs)
  const piece = new Int32Array(nf).fill(-1);
  let np = 0;
  for (let s = 0; s < nf; s++) {
    if (piece[s] >= 0) continue;
    const st = [s]; piece[s] = np;
    while (st.length) { const f = st.pop(); for (const [o] of nbrs[f]) if (piece[o] < 0) { piece[o] = np; st.push(o); } }
    np++;
  }
  const codes = data.grids.map((g) => g.code);
  const idx = new Map(codes.map((c, i) => [c, i]));
  const faceGrid = Int32Array.from(faceGrid0, (c) => (c == null ? -1 : idx.get(c) ?? -1));
  return {
    data, code: data.village.code, base: data.plan ? data.plan.version : null,
    band: data.band, target: data.target_residents,
    topo: {arcs, arcLeft, arcRight, faceRings, arcClass: topo.arc_class, arcLen},
    nf, nbrs, faceItems, itemFaces, faceWeight, faceHH, faceRes, piece,
    codes, faceGrid, original: Int32Array.from(faceGrid), originalCodes: codes.slice(),
    locked: new Set(), colors: [], active: 0, undo: [], redo: [], pieces: new Map(), newK: 0,
    features: [],
  };
}

// ---------------------------------------------------------------- figures, colours, pieces

function gridFaces() {
  const out = V.codes.map(() => []);
  for (let f = 0; f < V.nf; f++) if (V.faceGrid[f] >= 0) out[V.faceGrid[f]].push(f);
  return out;
}

function figures() {
  const n = V.codes.length;
  const hh = new Float64Array(n), res = new Float64Array(n), w = new Float64Array(n), nb = new Int32Array(n);
  for (let f = 0; f < V.nf; f++) {
    const g = V.faceGrid[f];
    if (g < 0) continue;
    hh[g] += V.faceHH[f]; res[g] += V.faceRes[f]; w[g] += V.faceWeight[f]; nb[g] += V.faceItems[f].length;
  }
  return {hh, res, w, nb};
}

/** Greedy colouring of the grids' adjacency, keeping each grid's colour when no neighbour has it. */
function colour() {
  const n = V.codes.length;
  const adj = Array.from({length: n}, () => new Set());
  for (let a = 0; a < V.topo.arcs.length; a++) {
    const l = V.topo.arcLeft[a], r = V.topo.arcRight[a];
    if (l < 0 || r < 0) continue;
    const gl = V.faceGrid[l], gr = V.faceGrid[r];
    if (gl >= 0 && gr >= 0 && gl !== gr) { adj[gl].add(gr); adj[gr].add(gl); }
  }
  const order = [...Array(n).keys()].sort((a, b) => adj[b].size - adj[a].size || a - b);
  const c = new Array(n).fill(-1);
  for (const g of order) if (V.colors[g] != null && ![...adj[g]].some((o) => c[o] === V.colors[g])) c[g] = V.colors[g];
  for (const g of order) {
    if (c[g] >= 0) continue;
    const taken = new Set([...adj[g]].map((o) => c[o]));
    let k = 0; while (taken.has(k)) k++;
    c[g] = k;
  }
  V.colors = c;
}

/** Components of grid g's faces. */
function components(g, faces) {
  const seen = new Set();
  const comps = [];
  for (const s of faces) {
    if (seen.has(s)) continue;
    const comp = [s]; seen.add(s);
    for (let i = 0; i < comp.length; i++) {
      for (const [o] of V.nbrs[comp[i]]) if (!seen.has(o) && V.faceGrid[o] === g) { seen.add(o); comp.push(o); }
    }
    comps.push(comp);
  }
  return comps;
}

const hasItems = (f) => V.faceItems[f].length > 0;

/** Land of `grids` cut off from their buildings joins the neighbour sharing the longest border;
 *  then each grid's pieces holding buildings are found (per piece of the village). */
function settle(grids) {
  const faces = gridFaces();
  const released = [];
  for (const g of grids) {
    const comps = components(g, faces[g]);
    const withItems = comps.filter((c) => c.some(hasItems));
    if (withItems.length === 0 && comps.length <= 1) continue;
    for (const c of comps) if (!c.some(hasItems) && (withItems.length > 0 || c !== comps[0])) released.push(...c);
  }
  if (released.length) {
    for (const f of released) V.faceGrid[f] = -1;
    for (let round = 0; round < 1000; round++) {
      const choice = [];
      for (const f of released) {
        if (V.faceGrid[f] >= 0) continue;
        const shared = new Map();
        for (const [o, a] of V.nbrs[f]) {
          const g = V.faceGrid[o];
          if (g >= 0) shared.set(g, (shared.get(g) || 0) + V.topo.arcLen[a]);
        }
        let best = -1, bl = -1;
        for (const [g, l] of shared) if (l > bl || (l === bl && g < best)) { best = g; bl = l; }
        if (best >= 0) choice.push([f, best]);
      }
      if (!choice.length) break;
      for (const [f, g] of choice) { V.faceGrid[f] = g; grids.add(g); }
    }
  }
  const faces2 = gridFaces();
  for (const g of grids) {
    const byPiece = new Map();
    for (const c of components(g, faces2[g])) {
      if (!c.some(hasItems)) continue;
      const p = V.piece[c[0]];
      if (!byPiece.has(p)) byPiece.set(p, []);
      byPiece.get(p).push(c);
    }
    const stray = [];
    for (const cs of byPiece.values()) {
      if (cs.length < 2) continue;
      const items = (c) => c.reduce((s, f) => s + V.faceItems[f].length, 0);
      cs.sort((a, b) => items(b) - items(a) || a[0] - b[0]);
      for (const c of cs.slice(1)) stray.push(...c);
    }
    if (stray.length) V.pieces.set(g, stray); else V.pieces.delete(g);
  }
}

// ---------------------------------------------------------------- drawing

function labelPoint(polys) {
  let best = null, ba = -1;
  for (const p of polys) { const a = Math.abs(ringArea(p[0])); if (a > ba) { ba = a; best = p; } }
  if (!best) return null;
  // the centroid of the largest outer ring if it lies inside, else its mid vertex
  const r = best[0];
  let cx = 0, cy = 0, A = 0;
  for (let i = 0; i < r.length - 1; i++) {
    const c = r[i][0] * r[i + 1][1] - r[i + 1][0] * r[i][1];
    A += c; cx += (r[i][0] + r[i + 1][0]) * c; cy += (r[i][1] + r[i + 1][1]) * c;
  }
  const p = A ? [cx / (3 * A), cy / (3 * A)] : r[0];
  return inRing(p, r) ? p : r[Math.floor(r.length / 2)];
}

/** Grid g's label: its code's last three digits (新K for a new grid) and its households. */
function gridLabel(g, fig) {
  const code = V.codes[g];
  return `${code.startsWith('new:') ? '新' + code.slice(4) : code.slice(-3)}\n${Math.round(fig.hh[g])}户`;
}

/** Grid g traced from its cells, with its label and label point (its colour is the cells'
 *  feature state, not a property). */
function gridFeature(g, faces, fig) {
  const inG = (f) => V.faceGrid[f] === g;
  const polys = faces.length ? trace(faces, inG) : [];
  return {
    type: 'Feature', id: g,
    geometry: {type: 'MultiPolygon', coordinates: polys},
    properties: {code: V.codes[g], label: gridLabel(g, fig), locked: V.locked.has(g) ? 1 : 0, lp: labelPoint(polys)},
  };
}

/** Traces the grids in `changed` (all when null) again and redraws: the cells' fills and the
 *  borders between grids change through feature state (no re-tiling), the labels, red pieces and
 *  bars are drawn again. */
function redraw(changed) {
  const faces = gridFaces();
  const fig = figures();
  const before = V.colors.slice();
  colour();
  const recolored = new Set();
  V.colors.forEach((c, g) => { if (before[g] !== c) recolored.add(g); });
  const labels = [];
  for (let g = 0; g < V.codes.length; g++) {
    // a grid only recoloured keeps its outline: its colour is the cells' feature state
    if (changed === null || changed.has(g) || !V.features[g]) V.features[g] = gridFeature(g, faces[g], fig);
    else {
      const p = V.features[g].properties;
      p.label = gridLabel(g, fig);
      p.locked = V.locked.has(g) ? 1 : 0;
    }
    const p = V.features[g].properties;
    if (p.lp) labels.push(`${p.lp}|${p.locked}|${p.label}`);
  }
  V.features.length = V.codes.length;
  paintFaces();
  paintBorders();
  // the labels' source is sent to the map's worker only when a label or its place changed
  const key = labels.join(';');
  if (key !== V.labelKey) {
    V.labelKey = key;
    map.getSource('grid-labels').setData({
      type: 'FeatureCollection',
      features: V.features.filter((f) => f.properties.lp).map((f) => ({
        type: 'Feature', geometry: {type: 'Point', coordinates: f.properties.lp},
        properties: {label: (f.properties.locked ? '[锁] ' : '') + f.properties.label},
      })),
    });
  }
  // buildings: colour through feature state (no re-tiling)
  const touched = changed === null ? null : new Set();
  if (touched) for (let f = 0; f < V.nf; f++) if (changed.has(V.faceGrid[f]) || recolored.has(V.faceGrid[f])) for (const i of V.faceItems[f]) touched.add(i);
  const paint = (i) => {
    const f = V.data.buildings[i].cell;
    const g = V.faceGrid[f];
    map.setFeatureState({source: 'buildings', id: i}, {c: g >= 0 ? V.colors[g] % PALETTE.length : -1});
  };
  if (touched) for (const i of touched) paint(i); else V.data.buildings.forEach((_, i) => paint(i));
  drawPieces();
  drawBars(fig);
  drawActive(fig);
  saveDraft();
}

/** Each cell's fill shows its grid: feature state `g` (the grid) and `c` (its colour), set only
 *  where they changed since the last paint. */
function paintFaces() {
  const shown = V.shownFaces || (V.shownFaces = new Int32Array(V.nf).fill(-2));
  for (let f = 0; f < V.nf; f++) {
    const g = V.faceGrid[f];
    const c = g >= 0 ? V.colors[g] % PALETTE.length : -1;
    const key = g < 0 ? -1 : g * PALETTE.length + c;
    if (shown[f] === key) continue;
    shown[f] = key;
    map.setFeatureState({source: 'faces', id: f}, {g, c});
  }
}

/** Each arc of the cell topology is a border when its two sides lie in different grids (or one
 *  side is outside the village); `locked` and `high` mark the borders of locked grids and of the
 *  highlighted one. Only arcs whose state changed are sent to the map. */
function paintBorders() {
  const T = V.topo;
  const shown = V.shownArcs || (V.shownArcs = new Int8Array(T.arcs.length).fill(-1));
  const hl = V.highlight ?? V.active;
  for (let a = 0; a < T.arcs.length; a++) {
    const l = T.arcLeft[a], r = T.arcRight[a];
    const gl = l >= 0 ? V.faceGrid[l] : -1, gr = r >= 0 ? V.faceGrid[r] : -1;
    const border = gl !== gr;
    const locked = border && (V.locked.has(gl) || V.locked.has(gr));
    const high = border && (gl === hl || gr === hl);
    const key = (border ? 1 : 0) | (locked ? 2 : 0) | (high ? 4 : 0);
    if (shown[a] === key) continue;
    shown[a] = key;
    map.setFeatureState({source: 'borders', id: a}, {border, locked, high});
  }
}

/** Marks grid g's borders as highlighted (the active grid when g is null). */
function highlight(g) {
  V.highlight = g;
  paintBorders();
}

function drawPieces() {
  const feats = [];
  for (const [g, stray] of V.pieces) {
    const set = new Set(stray);
    const polys = trace(stray, (f) => set.has(f));
    feats.push({type: 'Feature', geometry: {type: 'MultiPolygon', coordinates: polys}, properties: {code: V.codes[g]}});
  }
  map.getSource('pieces').setData({type: 'FeatureCollection', features: feats});
  // hard-barrier crossings: a river/rail/expressway arc with one grid on both sides, where the
  // active plan had two grids there
  const cross = [];
  const T = V.topo;
  for (let a = 0; a < T.arcs.length; a++) {
    if (!(T.arcClass[a] & HARD)) continue;
    const l = T.arcLeft[a], r = T.arcRight[a];
    if (l < 0 || r < 0) continue;
    if (V.faceGrid[l] === V.faceGrid[r] && V.original[l] !== V.original[r]) {
      cross.push({type: 'Feature', geometry: {type: 'LineString', coordinates: T.arcs[a]}, properties: {}});
    }
  }
  map.getSource('crossings').setData({type: 'FeatureCollection', features: cross});
  V.crossings = cross.length;
}

function state(w) {
  return w < V.band[0] ? 'under' : w > V.band[1] ? 'over' : 'within';
}

let sortBy = 'code';
function drawBars(fig) {
  const n = V.codes.length;
  const max = Math.max(V.band[1] * 1.4, ...fig.w);
  const rmax = Math.max(V.target * 1.6, ...fig.res);
  let order = [...Array(n).keys()].filter((g) => fig.nb[g] > 0 || V.features[g]?.geometry.coordinates.length);
  const off = (g) => Math.max(0, V.band[0] - fig.w[g], fig.w[g] - V.band[1]);
  if (sortBy === 'households') order.sort((a, b) => fig.w[b] - fig.w[a]);
  else if (sortBy === 'off') order.sort((a, b) => off(b) - off(a) || a - b);
  else order.sort((a, b) => (V.codes[a] < V.codes[b] ? -1 : 1));
  const pct = (x, m) => `${Math.max(0, Math.min(100, (100 * x) / m)).toFixed(1)}%`;
  const html = order.map((g) => {
    const s = state(fig.w[g]);
    const rs = fig.res[g] > V.target * 1.15 ? 'over' : fig.res[g] < V.target * 0.6 ? 'under' : 'within';
    const cls = ['bar', g === V.active ? 'active' : '', V.locked.has(g) ? 'locked' : '', V.pieces.has(g) ? 'pieces' : ''].join(' ');
    const code = V.codes[g].startsWith('new:') ? '新' + V.codes[g].slice(4) : V.codes[g].slice(-3);
    return `<div class="${cls}" role="listitem" data-g="${g}" data-code="${V.codes[g]}" data-weight="${fig.w[g]}" data-households="${fig.hh[g]}" data-state="${s}" title="${V.codes[g]}：${Math.round(fig.hh[g])} 户，${Math.round(fig.res[g])} 人，${fig.nb[g]} 栋">` +
      `<button class="lock" data-lock="${g}" title="锁定/解锁">锁</button>` +
      `<span class="sw" style="background:${PALETTE[V.colors[g] % PALETTE.length]}"></span>` +
      `<span class="code">${code}</span>` +
      `<span class="meters"><span class="meter"><span class="band" style="left:${pct(V.band[0], max)};width:${pct(V.band[1] - V.band[0], max)}"></span><span class="fill ${s}" style="width:${pct(fig.w[g], max)}"></span></span>` +
      `<span class="meter"><span class="band" style="left:${pct(V.target * 0.6, rmax)};width:${pct(V.target * 0.55, rmax)}"></span><span class="fill ${rs}" style="width:${pct(fig.res[g], rmax)}"></span></span></span>` +
      `<span class="num">${Math.round(fig.w[g])}户<br>${Math.round(fig.res[g])}人</span></div>`;
  });
  // only the bars that changed are replaced (a stroke changes two or three of them)
  const box = $('#bars');
  const prev = V.barHtml || [];
  if (prev.length === html.length && box.children.length === html.length) {
    html.forEach((h, k) => { if (h !== prev[k]) box.children[k].outerHTML = h; });
  } else box.innerHTML = html.join('');
  V.barHtml = html;
  const outOf = order.filter((g) => state(fig.w[g]) !== 'within').length;
  $('#band').textContent = `范围 ${V.band[0]}–${V.band[1]} 户 · 目标 ${V.target} 人 · 超出范围 ${outOf} 个`;
}

function drawActive(fig) {
  const g = V.active;
  const code = V.codes[g] || '';
  $('#active').innerHTML = code
    ? `<span class="swatch" style="background:${PALETTE[V.colors[g] % PALETTE.length]}"></span>正在绘制：${code}　${Math.round(fig.hh[g])} 户 · ${Math.round(fig.res[g])} 人${V.locked.has(g) ? '　[已锁定]' : ''}`
    : '未选择网格';
  const msgs = [];
  for (const g of V.pieces.keys()) msgs.push(`网格 ${V.codes[g]} 被分成了几块（红色部分），不能保存`);
  if (V.crossings) msgs.push(`${V.crossings} 处跨越河流/铁路/高速（红线）`);
  message(msgs.join('\n'), false);
}

function message(text, ok) {
  const m = $('#messages');
  m.textContent = text;
  m.classList.toggle('ok', !!ok);
}

// ---------------------------------------------------------------- editing

/** Moves `faces` into grid `g` as one step (skipping locked grids); returns the step. */
function move(faces, g, label) {
  if (g < 0 || V.locked.has(g)) { message(`网格 ${V.codes[g] || ''} 已锁定，不能改动`); return null; }
  const step = [];
  for (const f of faces) {
    const from = V.faceGrid[f];
    if (from === g || (from >= 0 && V.locked.has(from))) continue;
    step.push([f, from, g]);
    V.faceGrid[f] = g;
  }
  if (!step.length) return null;
  const changed = new Set([g]);
  for (const [, from] of step) if (from >= 0) changed.add(from);
  const before = Int32Array.from(V.faceGrid);
  settle(changed);
  // settle may move empty land too: record it in the step
  for (let f = 0; f < V.nf; f++) if (V.faceGrid[f] !== before[f]) step.push([f, before[f], V.faceGrid[f]]);
  return {step, changed, label};
}

/** Applies a stroke's moves and redraws, timing the redraw. */
function stroke(faces, g, label, pending) {
  const t0 = performance.now();
  const r = move(faces, g, label);
  if (!r) return pending;
  const all = pending || {step: [], changed: new Set(), label};
  all.step.push(...r.step);
  for (const x of r.changed) all.changed.add(x);
  redraw(r.changed);
  perf.strokeWork.push(performance.now() - t0);
  map.once('render', () => perf.strokes.push(performance.now() - t0));
  return all;
}

function commit(s) {
  if (!s || !s.step.length) return;
  V.undo.push(s);
  V.redo = [];
  saveDraft();
}

function applySteps(s, reverse) {
  const steps = reverse ? s.step.slice().reverse() : s.step;
  for (const [f, from, to] of steps) V.faceGrid[f] = reverse ? from : to;
  const changed = new Set(s.changed);
  for (const [, from, to] of s.step) { if (from >= 0) changed.add(from); if (to >= 0) changed.add(to); }
  for (const g of changed) if (g >= V.codes.length) changed.delete(g);
  settleAll();
  redraw(null);
}

function settleAll() {
  V.pieces.clear();
  settle(new Set(V.codes.keys()));
}

function undo() { const s = V.undo.pop(); if (s) { applySteps(s, true); V.redo.push(s); } }
function redo() { const s = V.redo.pop(); if (s) { applySteps(s, false); V.undo.push(s); } }

function newGrid() {
  V.newK += 1;
  V.codes.push(`new:${V.newK}`);
  V.features.push(null);
  V.active = V.codes.length - 1;
  V.colors.push(null);
  message(`新网格 新${V.newK}：用画笔把楼栋画进来`, true);
  redraw(new Set([V.active]));
}

// ---------------------------------------------------------------- pointer tools

let index = null; // buildings bucketed by ~50 m cells
function buildIndex() {
  index = new Map();
  V.data.buildings.forEach((b, i) => {
    const k = `${Math.floor(b.position[0] / 0.0005)},${Math.floor(b.position[1] / 0.0005)}`;
    if (!index.has(k)) index.set(k, []);
    index.get(k).push(i);
  });
}

function near(lngLat, metres) {
  const out = [];
  const dlat = metres / 111320, dlon = metres / (111320 * Math.cos((lngLat.lat * Math.PI) / 180));
  for (let x = Math.floor((lngLat.lng - dlon) / 0.0005); x <= Math.floor((lngLat.lng + dlon) / 0.0005); x++) {
    for (let y = Math.floor((lngLat.lat - dlat) / 0.0005); y <= Math.floor((lngLat.lat + dlat) / 0.0005); y++) {
      for (const i of index.get(`${x},${y}`) || []) {
        const p = V.data.buildings[i].position;
        if (((p[0] - lngLat.lng) / dlon) ** 2 + ((p[1] - lngLat.lat) / dlat) ** 2 <= 1) out.push(i);
      }
    }
  }
  return out;
}

const facesOf = (items) => { const s = new Set(); for (const i of items) for (const f of V.itemFaces[i]) s.add(f); return [...s]; };

function nearestBuilding(point) {
  let best = -1, bd = 12 * 12;
  for (const i of near(map.unproject(point), 80)) {
    const q = map.project(V.data.buildings[i].position);
    const d = (q.x - point.x) ** 2 + (q.y - point.y) ** 2;
    if (d < bd) { bd = d; best = i; }
  }
  return best;
}

function radius() { return Math.max(5, +$('#radius').value || 40); }

function pointerTools() {
  const canvas = map.getCanvasContainer();
  const ring = document.createElement('div'); ring.id = 'brush-ring'; $('#map').appendChild(ring);
  const rect = document.createElement('div'); rect.id = 'box-rect'; $('#map').appendChild(rect);
  let down = null, pending = null, frame = 0, queued = [];
  const metresPerPixel = () => (40075016.686 * Math.cos((map.getCenter().lat * Math.PI) / 180)) / (512 * 2 ** map.getZoom());
  const showRing = (p) => {
    if (tool !== 'brush') { ring.style.display = 'none'; return; }
    const r = radius() / metresPerPixel();
    Object.assign(ring.style, {display: 'block', left: `${p.x - r}px`, top: `${p.y - r}px`, width: `${2 * r}px`, height: `${2 * r}px`});
  };
  const flush = () => {
    frame = 0;
    const items = new Set();
    for (const p of queued) for (const i of near(map.unproject(p), radius())) items.add(i);
    queued = [];
    if (items.size) pending = stroke(facesOf([...items]), V.active, '画笔', pending);
  };
  canvas.addEventListener('mousedown', (e) => {
    if (e.button !== 0 || tool === 'pan') return;
    const p = map.mouseEvent ? null : null; void p;
    const pt = {x: e.offsetX, y: e.offsetY};
    down = pt; pending = null;
    if (tool === 'brush' || tool === 'box') { map.dragPan.disable(); e.preventDefault(); }
    if (tool === 'brush') { queued.push(pt); frame = frame || requestAnimationFrame(flush); }
  }, true);
  canvas.addEventListener('mousemove', (e) => {
    const pt = {x: e.offsetX, y: e.offsetY};
    showRing(pt);
    if (!down) return;
    if (tool === 'brush') { queued.push(pt); frame = frame || requestAnimationFrame(flush); }
    if (tool === 'box') {
      Object.assign(rect.style, {display: 'block', left: `${Math.min(down.x, pt.x)}px`, top: `${Math.min(down.y, pt.y)}px`,
        width: `${Math.abs(pt.x - down.x)}px`, height: `${Math.abs(pt.y - down.y)}px`});
    }
  });
  window.addEventListener('mouseup', (e) => {
    if (!down) return;
    const pt = {x: e.offsetX, y: e.offsetY};
    const start = down; down = null;
    map.dragPan.enable();
    if (tool === 'brush') {
      if (frame) { cancelAnimationFrame(frame); flush(); }
      commit(pending); pending = null;
    } else if (tool === 'box') {
      rect.style.display = 'none';
      const a = map.unproject(start), b = map.unproject(pt);
      const [x0, x1] = [Math.min(a.lng, b.lng), Math.max(a.lng, b.lng)], [y0, y1] = [Math.min(a.lat, b.lat), Math.max(a.lat, b.lat)];
      const items = [];
      V.data.buildings.forEach((bd, i) => { const q = bd.position; if (q[0] >= x0 && q[0] <= x1 && q[1] >= y0 && q[1] <= y1) items.push(i); });
      commit(stroke(facesOf(items), V.active, '框选'));
    } else if (tool === 'click' || tool === 'group' || tool === 'merge' || tool === 'pick') {
      if (Math.abs(pt.x - start.x) + Math.abs(pt.y - start.y) > 4) return;
      clickTool(pt);
    }
  });
}

function clickTool(pt) {
  const i = nearestBuilding(pt);
  const gridAt = () => {
    const f = map.queryRenderedFeatures([pt.x, pt.y], {layers: ['grids-fill']})[0];
    return f ? V.faceGrid[f.id] : -1;
  };
  if (tool === 'click') {
    if (i >= 0) commit(stroke(facesOf([i]), V.active, '单栋'));
  } else if (tool === 'group') {
    if (i < 0) return;
    const grp = V.data.buildings[i].group;
    const items = grp ? V.data.buildings.map((b, j) => (b.group === grp ? j : -1)).filter((j) => j >= 0) : [i];
    commit(stroke(facesOf(items), V.active, '小组'));
  } else if (tool === 'merge') {
    const into = gridAt();
    if (into >= 0 && into !== V.active) {
      const faces = gridFaces()[V.active];
      commit(stroke(faces, into, '合并'));
      message(`已把 ${V.codes[V.active]} 并入 ${V.codes[into]}`, true);
      V.active = into;
      redraw(new Set([into]));
    }
    setTool('brush');
  } else if (tool === 'pick') {
    const g = gridAt();
    if (g >= 0) setActive(g);
  }
}

function setTool(t) {
  tool = t;
  document.querySelectorAll('button[data-tool]').forEach((b) => b.classList.toggle('on', b.dataset.tool === t));
  // not `data-tool`: the page would then hold two elements matching [data-tool="…"], the body first
  document.body.dataset.activeTool = t;
}

function setActive(g) {
  V.active = g;
  V.highlight = null;
  redraw(new Set());
}

// ---------------------------------------------------------------- actions

function assignUnassigned() {
  const faces = [];
  for (let f = 0; f < V.nf; f++) if (V.faceGrid[f] < 0 && hasItems(f)) faces.push(f);
  if (!faces.length) { message('没有未分配的楼栋', true); return; }
  const step = [];
  for (let round = 0; round < 1000; round++) {
    let any = false;
    for (const f of faces) {
      if (V.faceGrid[f] >= 0) continue;
      const shared = new Map();
      for (const [o, a] of V.nbrs[f]) { const g = V.faceGrid[o]; if (g >= 0) shared.set(g, (shared.get(g) || 0) + V.topo.arcLen[a]); }
      let best = -1, bl = -1;
      for (const [g, l] of shared) if (l > bl) { best = g; bl = l; }
      if (best >= 0) { V.faceGrid[f] = best; step.push([f, -1, best]); any = true; }
    }
    if (!any) break;
  }
  for (const f of faces) if (V.faceGrid[f] < 0 && V.active >= 0) { V.faceGrid[f] = V.active; step.push([f, -1, V.active]); }
  const changed = new Set(step.map((s) => s[2]));
  commit({step, changed, label: '归并未分配'});
  settleAll();
  redraw(null);
  message(`${faces.length} 个单元已归入相邻网格`, true);
}

function toggleLock(g) {
  if (V.locked.has(g)) V.locked.delete(g); else V.locked.add(g);
  redraw(new Set([g]));
}

function lockAll() {
  const all = V.codes.every((_, g) => V.locked.has(g));
  V.codes.forEach((_, g) => (all ? V.locked.delete(g) : V.locked.add(g)));
  redraw(null);
}

/** Splits the active grid in two along its longer axis at the weighted median. */
function split() {
  const g = V.active;
  if (V.locked.has(g)) { message('已锁定的网格不能拆分'); return; }
  const faces = gridFaces()[g].filter(hasItems);
  if (faces.length < 2) return;
  const pos = (f) => V.data.buildings[V.faceItems[f][0]].position;
  const xs = faces.map((f) => pos(f)[0]), ys = faces.map((f) => pos(f)[1]);
  const spanX = (Math.max(...xs) - Math.min(...xs)) * Math.cos((ys[0] * Math.PI) / 180), spanY = Math.max(...ys) - Math.min(...ys);
  const axis = spanX >= spanY ? 0 : 1;
  faces.sort((a, b) => pos(a)[axis] - pos(b)[axis] || a - b);
  const total = faces.reduce((s, f) => s + V.faceWeight[f], 0);
  let acc = 0, cut = 0;
  while (cut < faces.length - 1 && acc + V.faceWeight[faces[cut]] <= total / 2) acc += V.faceWeight[faces[cut++]];
  newGrid();
  commit(stroke(faces.slice(Math.max(cut, 1)), V.active, '拆分'));
}

async function rebalance() {
  message('正在均衡…', true);
  const t0 = performance.now();
  const locked = [...V.locked].map((g) => V.codes[g]).filter((c) => !c.startsWith('new:'));
  const r = await api('POST', `/api/villages/${V.code}/rebalance`, {assignment: assignment(), locked});
  perf.rebalance.push(performance.now() - t0);
  if (!r.ok) { message(`均衡失败：${r.json?.error || r.status}`); return; }
  // Grids the server split off so the band can be reached arrive as new:K names.
  for (const c of r.json.added || []) {
    if (V.codes.includes(c)) continue;
    V.codes.push(c);
    V.features.push(null);
    V.colors.push(null);
    V.newK = Math.max(V.newK, +c.slice(4) || 0);
  }
  const idx = new Map(V.codes.map((c, i) => [c, i]));
  const step = [];
  const want = new Int32Array(V.faceGrid);
  V.data.buildings.forEach((b, i) => {
    const c = r.json.assignment[b.id];
    const g = idx.get(c);
    if (g === undefined) return;
    for (const f of V.itemFaces[i]) want[f] = g;
  });
  for (let f = 0; f < V.nf; f++) if (want[f] !== V.faceGrid[f] && !V.locked.has(V.faceGrid[f])) { step.push([f, V.faceGrid[f], want[f]]); V.faceGrid[f] = want[f]; }
  commit({step, changed: new Set(step.flatMap((s) => [s[1], s[2]])), label: '均衡'});
  settleAll();
  redraw(null);
  const fig = figures();
  const out = V.codes.filter((_, g) => !V.locked.has(g) && fig.w[g] > 0 && state(fig.w[g]) !== 'within').length;
  const count = (r.json.added?.length ? `；为容纳户数新增网格 ${r.json.added.length} 个` : '') +
    (r.json.merged?.length ? `；户数不足，并入邻格 ${r.json.merged.join('、')}` : '');
  message(`均衡：移动 ${r.json.moved.length} 栋${count}；未锁定网格中超出范围 ${out} 个`, out === 0);
}

/** The draft as the API takes it: building id → grid code or new:K. */
function assignment() {
  const out = {};
  V.data.buildings.forEach((b, i) => {
    const g = V.faceGrid[V.itemFaces[i][0]];
    if (g >= 0) out[b.id] = V.codes[g];
  });
  return out;
}

function compare() {
  const moved = [];
  V.data.buildings.forEach((b, i) => {
    const f = V.itemFaces[i][0];
    const a = V.original[f], d = V.faceGrid[f];
    if ((a >= 0 ? V.originalCodes[a] : null) !== (d >= 0 ? V.codes[d] : null)) moved.push(i);
  });
  const orig = new Set(V.originalCodes);
  const now = new Set(V.codes.filter((_, g) => gridFaces()[g].some(hasItems)));
  const added = [...now].filter((c) => !orig.has(c));
  const removed = [...orig].filter((c) => !now.has(c));
  const changed = new Set();
  for (const i of moved) { const f = V.itemFaces[i][0]; if (V.original[f] >= 0) changed.add(V.originalCodes[V.original[f]]); if (V.faceGrid[f] >= 0) changed.add(V.codes[V.faceGrid[f]]); }
  map.getSource('moved').setData({type: 'FeatureCollection', features: moved.map((i) => ({type: 'Feature', geometry: {type: 'Point', coordinates: V.data.buildings[i].position}, properties: {}}))});
  message(`与启用版本 ${V.base ?? '（无）'} 相比：移动 ${moved.length} 栋；新增网格 ${added.length} 个${added.length ? '（' + added.join('、') + '）' : ''}；删除 ${removed.length} 个${removed.length ? '（' + removed.join('、') + '）' : ''}；改动 ${changed.size} 个；保留编码 ${[...orig].filter((c) => now.has(c)).length} 个`, true);
  return {moved: moved.length, added, removed, changed: [...changed]};
}

async function save() {
  if (V.pieces.size) {
    const g = V.pieces.keys().next().value;
    message(`不能保存：网格 ${V.codes[g]} 被分成了几块（红色部分）`);
    zoomTo(V.features[g]);
    return;
  }
  if (V.data.buildings.some((_, i) => V.faceGrid[V.itemFaces[i][0]] < 0)) { message('不能保存：还有未分配的楼栋（用“归并未分配”）'); return; }
  const reason = $('#reason').value.trim();
  if (!reason) { message('请填写修改原因'); $('#reason').focus(); return; }
  const t0 = performance.now();
  const r = await api('POST', `/api/villages/${V.code}/plans`, {base: V.base, assignment: assignment(), reason, activate: $('#activate-now').checked});
  perf.save.push(performance.now() - t0);
  if (r.status === 201) {
    localStorage.removeItem(draftKey());
    await load(V.code, {fresh: true});
    message(`已保存为版本 ${r.json.saved.version}${r.json.activated ? '，并已启用' : ''}（保留编码 ${r.json.saved.kept}，新编码 ${r.json.saved.issued}，停用 ${r.json.saved.retired}）`, true);
    $('#reason').value = '';
    return;
  }
  if (r.status === 409) {
    const choice = await ask(`保存被拒绝：${r.json?.error || ''}\n\n此村在你编辑期间已被他人保存或启用了新版本。`, [['reload', '载入他们的版本'], ['keep', '保留我的草稿并对比']]);
    if (choice === 'reload') { localStorage.removeItem(draftKey()); await load(V.code, {fresh: true}); message('已载入最新版本', true); }
    else {
      const theirs = await api('GET', `/api/villages/${V.code}/edit`);
      if (theirs.ok) {
        V.base = theirs.json.plan ? theirs.json.plan.version : null;
        message(`保留草稿；当前启用版本为 ${V.base}。对比后可再次保存（将基于版本 ${V.base}）`, false);
        saveDraft();
      }
    }
    $('#messages').dataset.conflict = 'true';
    return;
  }
  const probs = r.json?.problems || [];
  message(`不能保存：${r.json?.error || r.status}`);
  const p = probs.find((x) => x.kind === 'not_contiguous');
  if (p) { const g = V.codes.indexOf(p.ids[0]); if (g >= 0) zoomTo(V.features[g]); }
}

function zoomTo(feature) {
  if (!feature || !feature.geometry.coordinates.length) return;
  let b = null;
  for (const poly of feature.geometry.coordinates) for (const p of poly[0]) b = b ? b.extend(p) : new maplibregl.LngLatBounds(p, p);
  if (b) map.fitBounds(b, {padding: 80, duration: 0});
}

function ask(text, buttons) {
  const d = $('#dialog');
  $('#dialog-text').textContent = text;
  $('#dialog-buttons').innerHTML = buttons.map(([v, l]) => `<button value="${v}">${l}</button>`).join('');
  return new Promise((resolve) => { d.onclose = () => resolve(d.returnValue); d.showModal(); });
}

// ---------------------------------------------------------------- versions

async function versions() {
  const r = await api('GET', `/api/villages/${V.code}/plans`);
  if (!r.ok) return;
  const list = r.json.plans.slice().reverse();
  $('#versions').innerHTML = list.map((p) => `<li class="${p.active ? 'active' : ''}" data-version="${p.version}">v${p.version}${p.active ? '（启用中）' : ''} · ${esc(p.author)} · ${p.created_at.replace('T', ' ').slice(0, 16)}<br><small>${esc(p.reason)}</small>` +
    `${p.active ? '' : `<button data-diff="${p.version}">与启用版对比</button><button data-activate="${p.version}">启用</button>`}</li>`).join('');
}

const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));

async function diffWith(v) {
  const r = await api('GET', `/api/villages/${V.code}/diff?from=${V.base}&to=${v}`);
  if (!r.ok) { message(r.json?.error || '对比失败'); return; }
  const d = r.json;
  message(`版本 ${d.from} → ${d.to}：移动 ${d.moved.length} 栋；新增 ${d.added.length}，删除 ${d.removed.length}，改动 ${d.changed.length}，不变 ${d.unchanged.length} 个网格`, true);
}

async function activateVersion(v) {
  const r = await api('POST', `/api/villages/${V.code}/activate`, {version: v, expect: V.base});
  if (!r.ok) { message(`启用失败：${r.json?.error || r.status}`); return; }
  localStorage.removeItem(draftKey());
  await load(V.code, {fresh: true});
  message(`已启用版本 ${v}`, true);
}

// ---------------------------------------------------------------- draft persistence

const draftKey = () => `wangge.planner.${V.code}`;

function saveDraft() {
  if (!V) return;
  try {
    localStorage.setItem(draftKey(), JSON.stringify({
      base: V.base, codes: V.codes, faceGrid: Array.from(V.faceGrid), locked: [...V.locked].map((g) => V.codes[g]),
      newK: V.newK, active: V.codes[V.active], undo: V.undo.slice(-200).map((s) => ({step: s.step, changed: [...s.changed], label: s.label})),
    }));
  } catch { /* storage full: the draft lives on in the page */ }
}

function restoreDraft() {
  const raw = localStorage.getItem(draftKey());
  if (!raw) return false;
  try {
    const d = JSON.parse(raw);
    if (d.faceGrid.length !== V.nf || d.base !== V.base) return false;
    V.codes = d.codes;
    V.faceGrid = Int32Array.from(d.faceGrid);
    V.locked = new Set(d.locked.map((c) => V.codes.indexOf(c)).filter((g) => g >= 0));
    V.newK = d.newK || 0;
    V.active = Math.max(0, V.codes.indexOf(d.active));
    V.undo = (d.undo || []).map((s) => ({step: s.step, changed: new Set(s.changed), label: s.label}));
    return true;
  } catch { return false; }
}

// ---------------------------------------------------------------- exports and imports

/** Hands `data` (text or a Blob) to the browser as a download named `name`. */
function download(name, data, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], {type}));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** The draft's grids as GeoJSON features (shapes traced from the cells, figures as the bars show). */
function draftGrids() {
  const fig = figures();
  return V.features.filter((f) => f && f.geometry.coordinates.length).map((f) => ({
    type: 'Feature', geometry: f.geometry,
    properties: {code: f.properties.code, village_code: V.code, households: fig.hh[f.id], residents: fig.res[f.id], buildings: fig.nb[f.id], color: V.colors[f.id]},
  }));
}

function exportGeojson() {
  download(`${V.code}-draft-grids.geojson`, JSON.stringify({type: 'FeatureCollection', features: draftGrids()}), 'application/geo+json');
}

/** The draft as one GeoPackage (grids and buildings with their grid), written by the server. */
async function exportGpkg() {
  const a = assignment();
  const buildings = V.data.buildings.map((b) => ({type: 'Feature', geometry: {type: 'Point', coordinates: b.position},
    properties: {id: b.id, kind: b.kind || 'building', households: b.households, residents: b.residents, grid_code: a[b.id] ?? null}}));
  const name = `${V.code}-draft.gpkg`;
  const res = await fetch(`/api/planner/geopackage?file=${encodeURIComponent(name)}`, {method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({layers: [
      {name: 'grids', description: `村/社区 ${V.code} 网格草稿（基于版本 ${V.base ?? '无'}）`, features: draftGrids()},
      {name: 'buildings', description: `村/社区 ${V.code} 建筑及其所属网格（草稿）`, features: buildings}]})});
  if (!res.ok) {
    const j = await res.json().catch(() => null);
    message(`导出 GeoPackage 失败：${j?.error || `HTTP ${res.status}`}`, false);
    return;
  }
  download(name, await res.blob(), 'application/geopackage+sqlite3');
  message(`已导出 ${name}：网格 ${draftGrids().length} 个，建筑 ${buildings.length} 栋`, true);
}

function exportCsv() {
  const a = assignment();
  const rows = ['kind,id,village_code,plan_version,grid_code'];
  for (const [id, c] of Object.entries(a)) rows.push(`${V.data.buildings.find((b) => b.id === id)?.kind === 'unit' ? 'unit' : 'building'},${id},${V.code},${V.base ?? ''},${c}`);
  download(`${V.code}-assignment.csv`, rows.join('\n') + '\n', 'text/csv');
}

/** Sends a layer file to the server, which reads it as `wangge partition` reads a town's layers
 * (any format, its coordinate system into lon/lat, GBK text), then brings it into the draft. */
async function readLayer(file) {
  const crs = $('#import-crs').value.trim();
  message(`正在读取 ${file.name}…`, true);
  const url = `/api/planner/layers?file=${encodeURIComponent(file.name)}${crs ? `&crs=${encodeURIComponent(crs)}` : ''}`;
  const res = await fetch(url, {method: 'POST', headers: {'Accept': 'application/json', 'Content-Type': 'application/octet-stream'}, body: file});
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    message(`导入失败（${file.name}）：${json?.error || `HTTP ${res.status}`}`, false);
    return;
  }
  importLayer(json, file.name);
}

/** A polygon's grid code: `code` or `grid_code` in any case (DBF columns are often upper case), or 网格编码. */
function layerCode(p) {
  const key = Object.keys(p).find((k) => ['code', 'grid_code', '网格编码', '网格代码'].includes(k.toLowerCase()));
  return key === undefined ? '' : String(p[key] ?? '');
}

/** Reads a grid layer drawn elsewhere into the draft: each building to the polygon holding it. */
function importLayer(fc, name = '') {
  const polys = (fc.features || []).filter((f) => f.geometry && /Polygon/.test(f.geometry.type)).map((f) => ({
    code: layerCode(f.properties || {}),
    parts: f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates,
  }));
  const inside = (p, parts) => parts.some((poly) => inRing(p, poly[0]) && !poly.slice(1).some((h) => inRing(p, h)));
  const none = [], two = [];
  const codeOf = new Map();
  const step = [];
  const held = V.data.buildings.filter((b) => polys.some((q) => inside(b.position, q.parts))).length;
  if (!held) {
    message(`导入${name ? ` ${name}` : ''}：${polys.length} 个多边形，但本村没有一栋建筑落在其中。图层是否属于本村？坐标系是否正确（可在“坐标系”中指定，如 EPSG:4527）？草稿未改动。`, false);
    return;
  }
  V.data.buildings.forEach((b, i) => {
    const hits = polys.filter((q) => inside(b.position, q.parts));
    if (hits.length === 0) { none.push(b.id); return; }
    if (hits.length > 1) two.push(b.id);
    const c = hits[0].code;
    if (!codeOf.has(c)) {
      let g = V.codes.indexOf(c);
      if (g < 0) { newGrid(); g = V.active; }
      codeOf.set(c, g);
    }
    for (const f of V.itemFaces[i]) if (V.faceGrid[f] !== codeOf.get(c)) { step.push([f, V.faceGrid[f], codeOf.get(c)]); V.faceGrid[f] = codeOf.get(c); }
  });
  commit({step, changed: new Set(step.map((s) => s[2])), label: '导入'});
  settleAll();
  redraw(null);
  const fig = figures();
  const oob = V.codes.filter((_, g) => fig.nb[g] > 0 && state(fig.w[g]) !== 'within');
  message(`导入${name ? ` ${name}：` : ' '}${polys.length} 个网格：${two.length} 栋落在两个网格里（重叠），${none.length} 栋不在任何网格里（缝隙，保留原网格）` +
    `${none.length ? '：' + none.slice(0, 8).join('、') : ''}；${oob.length} 个网格超出范围；${V.pieces.size} 个网格被分成几块。形状已按单元重建，无缝无叠。`, !two.length && !none.length && !oob.length && !V.pieces.size);
}

// ---------------------------------------------------------------- map

function style() {
  return {
    version: 8,
    glyphs: `${location.origin}/tiles/fonts/{fontstack}/{range}.pbf`,
    sources: {},
    layers: [{id: 'background', type: 'background', paint: {'background-color': '#f4f1ea'}}],
  };
}

function addLayers() {
  const empty = {type: 'FeatureCollection', features: []};
  for (const s of ['grid-labels', 'pieces', 'crossings', 'moved', 'lines', 'buildings']) map.addSource(s, {type: 'geojson', data: empty});
  // the cells and their arcs are the biggest sources (20,000 cells: 60,000 arcs): a tile buffer of
  // 8 px (borders are at most 4 px wide) instead of 128 takes a third off their tiling
  for (const s of ['faces', 'borders']) map.addSource(s, {type: 'geojson', data: empty, buffer: 8});
  const on = (k) => ['boolean', ['feature-state', k], false];
  // the cells, filled in their grid's colour; without antialiasing no seam shows between two cells
  map.addLayer({id: 'grids-fill', type: 'fill', source: 'faces', paint: {
    'fill-color': ['match', ['coalesce', ['feature-state', 'c'], -1], ...PALETTE.flatMap((c, i) => [i, c]), '#000000'],
    'fill-opacity': ['case', ['>=', ['coalesce', ['feature-state', 'c'], -1], 0], 0.55, 0], 'fill-antialias': false}});
  map.addLayer({id: 'lines-river', type: 'line', source: 'lines', filter: ['==', ['get', 'k'], 'river'], paint: {'line-color': '#3b83c4', 'line-width': 4}});
  map.addLayer({id: 'lines-rail', type: 'line', source: 'lines', filter: ['==', ['get', 'k'], 'rail'], paint: {'line-color': '#444', 'line-width': 2.5, 'line-dasharray': [3, 2]}});
  map.addLayer({id: 'lines-road', type: 'line', source: 'lines', filter: ['in', ['get', 'k'], ['literal', ['expressway', 'major', 'minor']]],
    paint: {'line-color': ['match', ['get', 'k'], 'expressway', '#e08a1e', 'major', '#ffffff', '#ffffffcc'], 'line-width': ['match', ['get', 'k'], 'expressway', 4, 'major', 3, 1.5]}});
  map.addLayer({id: 'lines-group', type: 'line', source: 'lines', filter: ['==', ['get', 'k'], 'group'], paint: {'line-color': '#7a5c99', 'line-width': 1.2, 'line-dasharray': [2, 2]}});
  // one layer for all of the topology's arcs: an arc drawn with width 0 is no border at all (a
  // zero width gives the GPU no pixels to shade, where a zero opacity still would)
  map.addLayer({id: 'grids-line', type: 'line', source: 'borders', paint: {
    'line-color': ['case', on('high'), '#1f6fb2', '#243447'], 'line-width': ['case', on('high'), 4, on('border'), 1.6, 0]}});
  map.addLayer({id: 'grids-locked', type: 'line', source: 'borders', paint: {'line-color': '#243447', 'line-width': ['case', on('locked'), 3, 0], 'line-dasharray': [1, 1]}});
  map.addLayer({id: 'lines-boundary', type: 'line', source: 'lines', filter: ['==', ['get', 'k'], 'boundary'], paint: {'line-color': '#1c2530', 'line-width': 2.5}});
  map.addLayer({id: 'buildings', type: 'circle', source: 'buildings', paint: {
    'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 1.5, 16, 4, 18, 7],
    'circle-color': ['match', ['coalesce', ['feature-state', 'c'], -1], ...PALETTE.flatMap((c, i) => [i, c]), '#9e9e9e'],
    'circle-stroke-color': '#1c2530', 'circle-stroke-width': 0.6,
  }});
  map.addLayer({id: 'pieces', type: 'fill', source: 'pieces', paint: {'fill-color': '#e00000', 'fill-opacity': 0.55}});
  map.addLayer({id: 'pieces-line', type: 'line', source: 'pieces', paint: {'line-color': '#e00000', 'line-width': 3}});
  map.addLayer({id: 'crossings', type: 'line', source: 'crossings', paint: {'line-color': '#e00000', 'line-width': 6, 'line-opacity': 0.8}});
  map.addLayer({id: 'moved', type: 'circle', source: 'moved', paint: {'circle-radius': 6, 'circle-color': 'transparent', 'circle-stroke-color': '#d0021b', 'circle-stroke-width': 2}});
  map.addLayer({id: 'grid-labels', type: 'symbol', source: 'grid-labels', layout: {
    'text-field': ['get', 'label'], 'text-font': ['dejavu-sans'], 'text-size': 13, 'text-allow-overlap': false,
  }, paint: {'text-color': '#1c2530', 'text-halo-color': '#ffffff', 'text-halo-width': 1.6}});
}

function staticLayers() {
  const T = V.topo;
  const kind = (c) => (c & CLS.river ? 'river' : c & CLS.rail ? 'rail' : c & CLS.expressway ? 'expressway' : c & CLS.major ? 'major'
    : c & CLS.minor ? 'minor' : c & CLS.group ? 'group' : c & CLS.boundary ? 'boundary' : null);
  const feats = [];
  T.arcs.forEach((a, i) => {
    const c = T.arcClass[i];
    if (c & CLS.boundary) feats.push({type: 'Feature', geometry: {type: 'LineString', coordinates: a}, properties: {k: 'boundary'}});
    const k = kind(c & ~CLS.boundary);
    if (k) feats.push({type: 'Feature', geometry: {type: 'LineString', coordinates: a}, properties: {k}});
  });
  map.getSource('lines').setData({type: 'FeatureCollection', features: feats});
  map.getSource('borders').setData({type: 'FeatureCollection', features: T.arcs.map((a, i) => ({
    type: 'Feature', id: i, geometry: {type: 'LineString', coordinates: a}, properties: {}}))});
  const ring = (refs) => refs.flatMap((ref, k) => {
    const p = ref < 0 ? T.arcs[~ref].slice().reverse() : T.arcs[ref];
    return k ? p.slice(1) : p;
  });
  map.getSource('faces').setData({type: 'FeatureCollection', features: T.faceRings.map((rings, f) => ({
    type: 'Feature', id: f, geometry: {type: 'Polygon', coordinates: rings.map(ring)}, properties: {}}))});
  V.shownFaces = null;
  V.shownArcs = null;
  map.getSource('buildings').setData({type: 'FeatureCollection', features: V.data.buildings.map((b, i) => ({
    type: 'Feature', id: i, geometry: {type: 'Point', coordinates: b.position}, properties: {id: b.id, hh: b.households},
  }))});
}

// ---------------------------------------------------------------- loading

async function villages() {
  const r = await api('GET', '/api/planner/villages');
  if (!r.ok) { $('#status').textContent = r.json?.error || '无法读取村社区列表'; return []; }
  const sel = $('#village');
  sel.innerHTML = r.json.villages.map((v) => `<option value="${v.code}">${esc(v.name)} ${v.code} · 超出范围 ${v.out_of_band}/${v.grids}` +
    `${v.last_saved_by ? ` · ${esc(v.last_saved_by)} ${v.last_saved_at.slice(0, 10)}` : ''}</option>`).join('');
  return r.json.villages;
}

async function load(code, {fresh} = {}) {
  $('#status').textContent = '载入中…';
  const t0 = performance.now();
  const r = await api('GET', `/api/villages/${code}/edit`);
  if (!r.ok) { $('#status').textContent = r.json?.error || `载入失败 ${r.status}`; return; }
  const t1 = performance.now();
  V = prepare(r.json);
  V.colors = r.json.grids.map((g) => (g.color == null ? null : g.color));
  const restored = !fresh && restoreDraft();
  buildIndex();
  settleAll();
  staticLayers();
  redraw(null);
  setActive(Math.min(V.active, V.codes.length - 1));
  $('#village').value = code;
  $('#version').textContent = V.base ? `启用版本 v${V.base}（${r.json.plan.author}）` : '尚无方案';
  // the wall map of the active version (what the village office hangs), as the viewer prints it
  $('#print').href = `/api/print?village=${code}&paper=A3`;
  $('#print').hidden = !V.base;
  history.replaceState(null, '', `/planner?village=${code}`);
  zoomTo({geometry: {coordinates: V.features.filter(Boolean).flatMap((f) => f.geometry.coordinates)}});
  const t2 = performance.now();
  await versions();
  const t3 = performance.now();
  map.once('idle', () => {
    perf.ready = performance.now() - t0;
    // where the time went: the /edit answer, the page's own work, the map's tiling and first frame
    perf.readyParts = {fetch: t1 - t0, prepare: t2 - t1, map: performance.now() - t3};
    perf.coldReady = performance.now();
    document.body.dataset.ready = 'true';
    $('#status').textContent = `${r.json.village.name}：${V.data.buildings.length} 栋，${V.codes.length} 个网格${restored ? '（已恢复草稿）' : ''}`;
  });
  if (restored) message('已恢复上次未保存的草稿', true);
}

function keys() {
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) {
      if (!(e.ctrlKey && (e.key === 's' || e.key === 'S'))) return;
    }
    const k = e.key.toLowerCase();
    if (e.ctrlKey && k === 'z') { e.preventDefault(); (e.shiftKey ? redo : undo)(); return; }
    if (e.ctrlKey && k === 'y') { e.preventDefault(); redo(); return; }
    if (e.ctrlKey && k === 's') { e.preventDefault(); save(); return; }
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const act = {b: () => setTool('brush'), x: () => setTool('box'), c: () => setTool('click'), g: () => setTool('group'),
      u: assignUnassigned, n: newGrid, s: split, m: () => setTool('merge'), r: rebalance, d: compare,
      l: () => (e.shiftKey ? lockAll() : toggleLock(V.active)), p: () => setTool('pick'),
      '[': () => { $('#radius').value = Math.max(5, radius() - 10); }, ']': () => { $('#radius').value = radius() + 10; }}[k];
    if (act) { e.preventDefault(); act(); }
  });
}

function wire() {
  document.querySelectorAll('button[data-tool]').forEach((b) => b.addEventListener('click', () => setTool(b.dataset.tool)));
  const actions = {unassigned: assignUnassigned, new: newGrid, split, merge: () => { setTool('merge'); message('点击要并入的网格', true); },
    rebalance, lock: () => toggleLock(V.active), lockall: lockAll, undo, redo, compare,
    'export-geojson': exportGeojson, 'export-csv': exportCsv, 'export-gpkg': () => exportGpkg().catch((e) => message(`导出 GeoPackage 失败：${e.message}`, false))};
  document.querySelectorAll('[data-action]').forEach((b) => b.addEventListener('click', () => actions[b.dataset.action]()));
  $('#bars').addEventListener('click', (e) => {
    const lock = e.target.closest('[data-lock]');
    if (lock) { toggleLock(+lock.dataset.lock); return; }
    const bar = e.target.closest('.bar');
    if (bar) setActive(+bar.dataset.g);
  });
  $('#bars').addEventListener('mouseover', (e) => {
    const bar = e.target.closest('.bar');
    if (bar) highlight(+bar.dataset.g);
  });
  $('#sort').addEventListener('change', (e) => { sortBy = e.target.value; drawBars(figures()); });
  $('#save').addEventListener('click', save);
  $('#village').addEventListener('change', (e) => load(e.target.value));
  $('#versions').addEventListener('click', (e) => {
    const d = e.target.closest('[data-diff]'), a = e.target.closest('[data-activate]');
    if (d) diffWith(+d.dataset.diff);
    if (a) activateVersion(+a.dataset.activate);
  });
  $('#import').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    e.target.value = '';
    if (f) await readLayer(f);
  });
}

async function main() {
  map = new maplibregl.Map({container: 'map', style: style(), center: [0, 0], zoom: 1, attributionControl: false,
    localIdeographFontFamily: CJK_FONTS, doubleClickZoom: false, boxZoom: false, fadeDuration: 0});
  await new Promise((r) => map.on('load', r));
  addLayers();
  pointerTools();
  wire();
  keys();
  setTool('brush');
  await ensureLogin();
  $('#who').textContent = `规划员：${user}`;
  const list = await villages();
  const want = new URLSearchParams(location.search).get('village') || list[0]?.code;
  if (want) await load(want);
  window.__planner = {get V() { return V; }, assignment, compare, save, undo, redo, setActive, setTool, toggleLock, rebalance, figures, map};
}

main();
