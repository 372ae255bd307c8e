// wangge 网格 map viewer: reusable pieces (map set-up, layer switcher, grid selection, grid panel,
// "which grid am I in?" locate box) and `startViewer()`, which wires them into the plain viewer page.
// Everything is loaded from the server that serves this page (no CDN, no external host): MapLibre GL
// JS is in /vendor/, the style, glyphs and tiles under /tiles/. Other pages (planner, big screen,
// field app) import the pieces they need from this module.

/* global maplibregl */

/** Fonts MapLibre uses to draw Chinese/Japanese/Korean characters locally (no CJK glyph PBFs). */
export const CJK_FONTS =
  "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', " +
  "'WenQuanYi Micro Hei', 'Droid Sans Fallback', sans-serif";

/** The map's data layers, by tile source, with their names in the layer switcher. */
export const LAYER_NAMES = {
  villages: '村/社区 Villages',
  grids: '网格 Grids',
  micro_grids: '微网格 Micro-grids',
  buildings: '建筑 Buildings',
  roads: '道路 Roads',
  rivers: '河流 Rivers',
  labels: '网格标注 Labels',
};

/** Absolute URL of `url` (relative to this page's server); absolute URLs are kept. */
export function absolute(url) {
  return new URL(url, location.origin).href.replace(/%7B/g, '{').replace(/%7D/g, '}');
}

/**
 * Fetches the MapLibre style and makes its URLs absolute (MapLibre wants absolute source and glyph
 * URLs); the style file itself keeps them relative so it works under any host name.
 */
export async function loadStyle(url = '/tiles/style.json') {
  const style = await getJson(url);
  if (style.glyphs) style.glyphs = absolute(style.glyphs);
  if (typeof style.sprite === 'string') style.sprite = absolute(style.sprite);
  for (const source of Object.values(style.sources || {})) {
    if (source.url) source.url = absolute(source.url);
    if (Array.isArray(source.tiles)) source.tiles = source.tiles.map(absolute);
    if (typeof source.data === 'string') source.data = absolute(source.data);
  }
  return style;
}

/** GETs `url` as JSON; throws an Error naming the URL and status on failure. */
export async function getJson(url) {
  const res = await fetch(url, {headers: {Accept: 'application/json'}});
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const why = (body && (body.error || body.message)) || text.slice(0, 200) || res.statusText;
    const err = new Error(`${url}: HTTP ${res.status} ${why}`);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  if (body === null) throw new Error(`${url}: empty or non-JSON answer`);
  return body;
}

/**
 * Creates the map in `container` with the wangge style and exposes it as `window.map` (tests use it).
 * `options` are passed on to `maplibregl.Map`.
 */
export async function createMap(container, options = {}) {
  const style = await loadStyle(options.styleUrl);
  const map = new maplibregl.Map({
    container,
    style,
    center: [0, 0],
    zoom: 1,
    attributionControl: false,
    localIdeographFontFamily: CJK_FONTS,
    hash: true, // #zoom/lat/lon in the address bar: a view can be bookmarked or sent
    ...options,
  });
  map.addControl(new maplibregl.NavigationControl({visualizePitch: false}), 'top-right');
  map.addControl(new maplibregl.ScaleControl({unit: 'metric'}), 'bottom-left');
  window.map = map;
  return map;
}

/** Moves the map to the town: the bounds of the grids TileJSON (falls back to other layers). */
export async function fitToTown(map, layers = ['grids', 'villages', 'buildings']) {
  for (const layer of layers) {
    try {
      const tj = await getJson(`/tiles/${layer}.json`);
      const b = tj.bounds;
      if (Array.isArray(b) && b.length === 4 && b.every(Number.isFinite) && b[0] < b[2] && b[1] < b[3]) {
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 40, animate: false});
        return b;
      }
    } catch (e) {
      console.warn(`no bounds from /tiles/${layer}.json: ${e.message}`);
    }
  }
  return null;
}

/** Escapes text for HTML. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A layer switcher in `element`: one checkbox per tile source of the style (all style layers drawn
 * from that source switch together). `names` maps source id to label.
 */
export function layerSwitcher(map, element, names = LAYER_NAMES) {
  const bySource = new Map();
  for (const layer of map.getStyle().layers) {
    if (!layer.source) continue;
    if (!bySource.has(layer.source)) bySource.set(layer.source, []);
    bySource.get(layer.source).push(layer.id);
  }
  const order = [...Object.keys(names).filter((s) => bySource.has(s)),
    ...[...bySource.keys()].filter((s) => !(s in names))];
  element.innerHTML = order.map((source) => `
    <label><input type="checkbox" data-source="${esc(source)}" checked> ${esc(names[source] || source)}</label>`)
    .join('');
  element.addEventListener('change', (event) => {
    const box = event.target.closest('input[data-source]');
    if (!box) return;
    for (const id of bySource.get(box.dataset.source) || []) {
      map.setLayoutProperty(id, 'visibility', box.checked ? 'visible' : 'none');
    }
  });
}

/** The grid code of a rendered grid feature (its `code` property, or its numeric feature id). */
export function gridCode(feature) {
  const code = feature?.properties?.code ?? feature?.id;
  return code === undefined || code === null ? null : String(code);
}

/**
 * Hover and selection of grids with feature-state (`hover`, `selected`) on the `grids` source.
 * Returns `{select(code), clear()}`; `onSelect(code, feature, lngLat)` is called on a click.
 */
export function gridSelection(map, {fillLayer = 'grids-fill', source = 'grids', onSelect} = {}) {
  let hovered = null;
  let selected = null;
  const state = (id, s) => map.setFeatureState({source, sourceLayer: source, id}, s);
  const idOf = (code) => (/^\d{1,15}$/.test(String(code)) ? Number(code) : code);
  map.on('mousemove', fillLayer, (e) => {
    const f = e.features && e.features[0];
    if (!f || f.id === undefined) return;
    if (hovered !== null && hovered !== f.id) state(hovered, {hover: false});
    hovered = f.id;
    state(hovered, {hover: true});
    map.getCanvas().style.cursor = 'pointer';
  });
  map.on('mouseleave', fillLayer, () => {
    if (hovered !== null) state(hovered, {hover: false});
    hovered = null;
    map.getCanvas().style.cursor = '';
  });
  const api = {
    select(code) {
      if (selected !== null) state(selected, {selected: false});
      selected = code === null || code === undefined ? null : idOf(code);
      if (selected !== null) state(selected, {selected: true});
    },
    clear() {
      api.select(null);
    },
  };
  map.on('click', fillLayer, (e) => {
    const f = e.features && e.features[0];
    const code = gridCode(f);
    if (!code) return;
    api.select(f.id ?? code);
    if (onSelect) onSelect(code, f, e.lngLat);
  });
  return api;
}

/** Fetches one grid (`/api/grids/{code}`) and returns its flat properties. */
export async function fetchGrid(code) {
  const body = await getJson(`/api/grids/${encodeURIComponent(code)}`);
  return {...(body.properties || body), geometry: body.geometry || null};
}

/** People of a grid or answer: `people` list, or leader/worker fields, as [{role, name, phone}]. */
export function peopleOf(obj) {
  if (!obj) return [];
  if (Array.isArray(obj.people)) return obj.people;
  const out = [];
  if (obj.leader) out.push({role: '网格长', name: obj.leader});
  if (obj.worker) out.push({role: '网格员', name: obj.worker});
  return out;
}

const ROLE_NAMES = {
  grid_leader: '网格长', grid_worker: '网格员', leader: '网格长', worker: '网格员',
  micro_leader: '微网格长', police: '社区民警',
};

function peopleHtml(people) {
  if (!people.length) return '<p class="muted">暂无人员信息 No people on record</p>';
  return `<ul class="people">${people.map((p) => {
    const name = typeof p === 'string' ? p : p.name;
    const role = typeof p === 'string' ? '' : ROLE_NAMES[p.role] || p.role || '';
    const phone = p.phone ? ` <a href="tel:${esc(p.phone)}">${esc(p.phone)}</a>` : '';
    return `<li><span class="role">${esc(role)}</span> ${esc(name)}${phone}</li>`;
  }).join('')}</ul>`;
}

function number(v, digits = 0) {
  const n = Number(v);
  if (v === null || v === undefined || v === '' || !Number.isFinite(n)) return '–';
  return n.toLocaleString('zh-CN', {maximumFractionDigits: digits});
}

/** HTML of the grid panel for the properties `g` of one grid. */
export function gridPanelHtml(g) {
  const area = Number(g.area_m2);
  const areaText = Number.isFinite(area)
    ? (area >= 1e6 ? `${number(area / 1e6, 2)} km²` : `${number(area)} m²`) : '–';
  const village = g.village_name || g.village || g.village_code || '';
  const rows = [
    ['村/社区 Village', esc(typeof village === 'object' ? village.name || village.code : village)],
    ['户数 Households', number(g.households)],
    ['人口 Residents', number(g.residents)],
    ['权重 Weight', number(g.weight, 1)],
    ['面积 Area', areaText],
    ['紧凑度 Polsby–Popper', number(g.polsby_popper, 3)],
  ];
  if (g.perimeter_m !== undefined) rows.splice(5, 0, ['周长 Perimeter', `${number(g.perimeter_m)} m`]);
  if (g.buildings !== undefined) rows.push(['建筑 Buildings', number(g.buildings)]);
  if (g.plan_version !== undefined && g.plan_version !== null) rows.push(['方案版本 Plan version', esc(g.plan_version)]);
  if (g.micro_grids !== undefined) {
    const n = Array.isArray(g.micro_grids) ? g.micro_grids.length : g.micro_grids;
    rows.push(['微网格 Micro-grids', number(n)]);
  }
  return `
    <h2>网格 Grid <span class="code" data-testid="grid-code">${esc(g.code)}</span></h2>
    ${g.name ? `<p class="name">${esc(g.name)}</p>` : ''}
    <table class="figures">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
    <h3>人员 People</h3>
    ${peopleHtml(peopleOf(g))}
    ${printLinksHtml(g.code)}`;
}

/** Links that open the printed map of the grid's village (its code's first 12 digits) and the
 * grid's notice board as PDFs (`/api/print`). */
export function printLinksHtml(code) {
  const c = String(code ?? '');
  if (!/^[0-9]{15}$/.test(c)) return '';
  const village = c.slice(0, 12);
  return `<p class="print-links">
    <a class="button" data-testid="print-village" data-name="${village}-网格划分图"
       href="/api/print?village=${village}&amp;paper=A3">打印本村网格图 Print village map (A3 PDF)</a>
    <a class="button" data-testid="print-board" data-name="${c}-公示牌"
       href="/api/print?grid=${c}">打印公示牌 Print notice board</a></p>`;
}

/** Fetches the PDF behind print link `a` and saves it; a printed page lists grid workers and
 * their phones, so without a login it says where to log in (the planner page's form sets the
 * session for every page of this server). */
export async function printPdf(a, panel) {
  const note = (html) => {
    panel.querySelector('.print-note')?.remove();
    a.parentElement.insertAdjacentHTML('afterend', `<p class="print-note">${html}</p>`);
  };
  note('正在生成 PDF… Making the PDF…');
  try {
    const res = await fetch(a.href);
    if (res.status === 401) {
      note('打印需要登录 Printing needs a login: <a href="/planner" target="_blank" rel="noopener">登录 Log in</a>，然后再点打印 then print again.');
      return;
    }
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      note(`<span class="error">不能打印 Cannot print: ${esc(j.error || res.status)}</span>`);
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const save = document.createElement('a');
    save.href = url;
    save.download = `${a.dataset.name || 'wangge'}.pdf`;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    note('PDF 已生成 The PDF is saved.');
  } catch (e) {
    note(`<span class="error">不能打印 Cannot print: ${esc(e.message)}</span>`);
  }
}

/** Shows grid `code` in the panel element: its code at once, then its figures from the API. */
export async function showGrid(panel, code, fallback = {}) {
  const body = panel.querySelector('.panel-body') || panel;
  panel.hidden = false;
  body.innerHTML = gridPanelHtml({...fallback, code});
  try {
    const g = await fetchGrid(code);
    if (body.querySelector('[data-testid="grid-code"]')?.textContent !== String(code)) return g;
    body.innerHTML = gridPanelHtml({...fallback, ...g, code: g.code ?? code});
    return g;
  } catch (e) {
    body.insertAdjacentHTML('beforeend', `<p class="error">读取失败 Cannot read: ${esc(e.message)}</p>`);
    return null;
  }
}

// --- Coordinates: GCJ-02 (国测局, used by Gaode/Tencent) and BD-09 (Baidu) back to WGS-84. -------
// Only a fallback for placing the marker when the locate answer carries no WGS-84 point.

const A = 6378245.0;
const EE = 0.006693421622965943;

function gcjOffset(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  return [
    (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI),
    (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI),
  ];
}

/** WGS-84 [lon, lat] of a point given in `crs` (wgs84 | gcj02 | bd09), by iteration. */
export function toWgs84(lon, lat, crs) {
  let [x, y] = [lon, lat];
  if (crs === 'bd09') {
    const bx = lon - 0.0065;
    const by = lat - 0.006;
    const z = Math.sqrt(bx * bx + by * by) - 0.00002 * Math.sin(by * Math.PI * 3000.0 / 180.0);
    const t = Math.atan2(by, bx) - 0.000003 * Math.cos(bx * Math.PI * 3000.0 / 180.0);
    [x, y] = [z * Math.cos(t), z * Math.sin(t)];
    crs = 'gcj02';
  }
  if (crs === 'gcj02') {
    let [wx, wy] = [x, y];
    for (let i = 0; i < 10; i++) {
      const [dx, dy] = gcjOffset(wx, wy);
      [wx, wy] = [x - dx, y - dy];
    }
    [x, y] = [wx, wy];
  }
  return [x, y];
}

/** Calls `/api/locate` with `{lon, lat, crs}` or `{address}`; returns the JSON answer. */
export async function locate(query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, v);
  }
  return getJson(`/api/locate?${params}`);
}

/** The WGS-84 [lon, lat] an answer is about, if it says (or can be derived from the query). */
export function answerPoint(answer, query) {
  const cands = [answer.point, answer.wgs84, answer.location, answer];
  for (const c of cands) {
    if (!c) continue;
    if (Array.isArray(c) && c.length >= 2 && c.every(Number.isFinite)) return [c[0], c[1]];
    if (Array.isArray(c.coordinates)) return c.coordinates.slice(0, 2);
    if (Number.isFinite(c.lon) && Number.isFinite(c.lat) && c !== answer) return [c.lon, c.lat];
  }
  if (query.lon !== undefined && query.lat !== undefined) {
    return toWgs84(Number(query.lon), Number(query.lat), query.crs || 'wgs84');
  }
  return null;
}

function nameOf(x) {
  if (!x) return '';
  if (typeof x === 'string') return x;
  return [x.name, x.code].filter(Boolean).join(' ');
}

/** Codes of the micro-grids of a locate answer (`micro_grids` list or one `micro_grid`). */
function microCodes(a) {
  const list = Array.isArray(a.micro_grids) ? a.micro_grids : a.micro_grid ? [a.micro_grid] : [];
  return list.map((m) => (typeof m === 'string' ? m : m.code)).filter(Boolean);
}

/**
 * HTML of a locate answer: inside a grid, ambiguous near a border (with the nearby grids), or
 * outside every grid; for an address, the matched building and the other candidates.
 */
export function locateAnswerHtml(a) {
  const grid = a.grid;
  const code = grid ? (typeof grid === 'string' ? grid : grid.code) : null;
  const parts = [];
  if (a.building && a.building.address) {
    parts.push(`<p>地址 Address: ${esc(a.building.address)}${a.sure === false ? ' <span class="warn">(不确定 unsure)</span>' : ''}</p>`);
  }
  if (code) {
    const name = typeof grid === 'object' && grid.name ? ` ${esc(grid.name)}` : '';
    parts.push(`<p data-testid="locate-result">网格 Grid <span class="code" data-code="${esc(code)}">${esc(code)}</span>${name}</p>`);
  } else {
    parts.push(`<p class="outside" data-testid="locate-result">不在任何网格内 Outside every grid</p>`);
  }
  if (a.village) parts.push(`<p>村/社区 Village: ${esc(nameOf(a.village))}</p>`);
  const micro = microCodes(a);
  if (micro.length) {
    parts.push(`<p>微网格 Micro-grid: ${micro.map((m) => `<span class="code">${esc(m)}</span>`).join(', ')}</p>`);
  }
  const dist = Number(a.border_distance_m ?? a.distance_to_border_m);
  if (code && Number.isFinite(dist)) parts.push(`<p>距网格边界 To the border: ${number(dist, 1)} m</p>`);
  if (a.ambiguous) {
    parts.push(`<p class="warn">靠近边界，结果可能有歧义 Near a border: the answer may be ambiguous</p>`);
  }
  if (a.message) parts.push(`<p class="muted">${esc(a.message)}</p>`);
  if (code) {
    const people = peopleOf(a).length ? peopleOf(a) : peopleOf(typeof grid === 'object' ? grid : {});
    parts.push(peopleHtml(people));
  }
  const near = (a.grids || []).filter((g) => (g.code || g) !== code);
  if (a.ambiguous || !code) parts.push(candidatesHtml('附近网格 Nearby grids', near));
  parts.push(candidatesHtml('其他候选地址 Other matches', (a.candidates || []).slice(1)));
  return parts.join('');
}

function candidatesHtml(title, cands) {
  if (!cands.length) return '';
  return `<p>${title}:</p><ul class="candidates">${cands.map((c) => {
    const code = typeof c === 'string' ? c : c.grid_code || c.code || c.grid?.code || c.grid || '';
    const dist = Number.isFinite(c.distance_m) ? `${number(c.distance_m, 1)} m` : '';
    const label = typeof c === 'string' ? c : [c.address, c.name, code, dist].filter(Boolean).join(' · ');
    return code
      ? `<li><button type="button" data-grid="${esc(code)}">${esc(label)}</button></li>`
      : `<li>${esc(label)}</li>`;
  }).join('')}</ul>`;
}

/**
 * Wires the locate form `form` (inputs lon, lat, crs, address; a `.answer` element) to the map:
 * answers are shown in the form, the point is marked, the grid selected. `onGrid(code)` shows a grid.
 */
export function locateBox(map, form, {onGrid} = {}) {
  const out = form.querySelector('.answer');
  let marker = null;
  let picking = false;
  const pick = form.querySelector('[data-action="pick"]');
  async function run(query) {
    form.querySelector('details')?.setAttribute('open', '');
    out.innerHTML = '<p class="muted">查询中… Locating…</p>';
    try {
      const a = await locate(query);
      out.innerHTML = locateAnswerHtml(a);
      const p = answerPoint(a, query);
      if (p) {
        if (!marker) marker = new maplibregl.Marker({color: '#d7301f'});
        marker.setLngLat(p).addTo(map);
        map.easeTo({center: p, zoom: Math.max(map.getZoom(), 15)});
      }
      const code = a.grid && (typeof a.grid === 'string' ? a.grid : a.grid.code);
      if (code && onGrid) onGrid(String(code));
      return a;
    } catch (e) {
      out.innerHTML = `<p class="error" data-testid="locate-result">${esc(e.message)}</p>`;
      return null;
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const address = (f.get('address') || '').trim();
    const query = address ? {address} : {lon: f.get('lon'), lat: f.get('lat'), crs: f.get('crs')};
    if (!address && (query.lon === '' || query.lat === '')) {
      out.innerHTML = '<p class="error">请输入经纬度或地址 Enter lon/lat or an address</p>';
      return;
    }
    run(query);
  });
  out.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-grid]');
    if (b && onGrid) onGrid(b.dataset.grid);
  });
  if (pick) {
    pick.addEventListener('click', () => {
      picking = true;
      map.getCanvas().style.cursor = 'crosshair';
      out.innerHTML = '<p class="muted">在地图上点一下 Click the map</p>';
    });
    map.on('click', (e) => {
      if (!picking) return;
      picking = false;
      map.getCanvas().style.cursor = '';
      form.elements.lon.value = e.lngLat.lng.toFixed(6);
      form.elements.lat.value = e.lngLat.lat.toFixed(6);
      form.elements.crs.value = 'wgs84';
      form.elements.address.value = '';
      run({lon: form.elements.lon.value, lat: form.elements.lat.value, crs: 'wgs84'});
    });
  }
  return {run};
}

/** Starts the plain viewer on index.html. */
export async function startViewer() {
  const status = document.getElementById('status');
  const panel = document.getElementById('panel');
  const sharedView = /^#\d/.test(location.hash); // a view from the address bar wins over the town
  try {
    const map = await createMap('map');
    let hideStatus = null;
    map.on('error', (e) => {
      const msg = e.error?.message || String(e.error || e);
      status.textContent = `地图错误 Map error: ${msg}`;
      status.hidden = false;
      clearTimeout(hideStatus);
      hideStatus = setTimeout(() => (status.hidden = true), 8000);
      console.error(msg);
    });
    await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
    if (!sharedView) await fitToTown(map);
    const c = map.getCenter();
    const locateForm = document.getElementById('locate');
    locateForm.elements.lon.placeholder = c.lng.toFixed(4);
    locateForm.elements.lat.placeholder = c.lat.toFixed(4);
    layerSwitcher(map, document.getElementById('layers'));
    if (window.matchMedia('(max-width: 640px)').matches) {
      for (const d of document.querySelectorAll('#title details, #locate details')) d.open = false;
    }
    let selection = null;
    const show = (code, feature) => {
      selection.select(code);
      return showGrid(panel, code, feature?.properties || {});
    };
    selection = gridSelection(map, {onSelect: (code, f) => showGrid(panel, code, f.properties || {})});
    locateBox(map, locateForm, {onGrid: (code) => show(code)});
    document.getElementById('panel-close')?.addEventListener('click', () => {
      panel.hidden = true;
      selection.clear();
    });
    panel.addEventListener('click', (e) => {
      const a = e.target.closest('.print-links a');
      if (a) { e.preventDefault(); printPdf(a, panel); }
    });
    window.viewer = {map, selection, showGrid: show};
    document.body.dataset.ready = 'true';
  } catch (e) {
    status.textContent = `无法加载地图 Cannot load the map: ${e.message}`;
    status.hidden = false;
    console.error(e);
  }
}
