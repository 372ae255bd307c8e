// wangge 网格 command room's big screen (指挥中心大屏). One page, made once and then only updated in
// place: a fixed set of DOM nodes (figures, ten list rows, 24 chart bars) whose text and attributes
// change, and one map whose grids change colour by feature-state. Updates come as server-sent
// events from /api/screen/stream (a new summary within seconds of a patrol batch); when the server
// goes away the EventSource reconnects by itself and a quiet "重新连接中" badge shows meanwhile.
// No error page is ever left on the wall: failures are retried, not shown as pages.

/* global maplibregl */
import {absolute, getJson, CJK_FONTS} from '/app.js';

/** Colours of a grid's patrol state today: 0 not yet, 1 once, 2 twice. */
export const STATE_COLOURS = ['#c0392b', '#d4a017', '#1f9d55'];
/** Rows of the worst-first list (the server sends at most this many). */
const LIST_ROWS = 10;
/** Reconnect delay after the stream is closed for good (the server answered an error). */
const RETRY_MS = 5000;

const $ = (sel) => document.querySelector(sel);
const nf = new Intl.NumberFormat('zh-CN');
const fmtInt = (n) => (Number.isFinite(n) ? nf.format(Math.round(n)) : '—');
const fmtShare = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`);
const pad = (n) => String(n).padStart(2, '0');

/** The text of a node, set only when it changed (no layout work for equal text). */
function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

/** The page's query (area and zone) for the API, without anything else. */
function areaQuery() {
  const p = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  for (const k of ['town', 'village', 'zone']) if (p.get(k)) q.set(k, p.get(k));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The map style of the wall: dark, grids filled by patrol state, codes large. Line widths and
 * text sizes grow with the screen (`k` = height / 1080), as the page's own type does. */
function darkStyle(k = Math.max(1, innerHeight / 1080), colourFill = null) {
  const px = (n) => Math.round(n * k * 10) / 10;
  const src = (name) => ({type: 'vector', url: absolute(`/tiles/${name}.json`)});
  return {
    version: 8,
    glyphs: absolute('/tiles/fonts/{fontstack}/{range}.pbf'),
    sources: {villages: src('villages'), grids: src('grids'), roads: src('roads'), rivers: src('rivers'), labels: src('labels'),
      events: {type: 'geojson', data: {type: 'FeatureCollection', features: []}}},
    layers: [
      {id: 'background', type: 'background', paint: {'background-color': '#06121f'}},
      {id: 'villages-fill', type: 'fill', source: 'villages', 'source-layer': 'villages', paint: {'fill-color': '#0b1d33'}},
      {
        id: 'grids-fill', type: 'fill', source: 'grids', 'source-layer': 'grids',
        paint: {
          'fill-color': colourFill || ['match', ['coalesce', ['feature-state', 'p'], -1],
            0, STATE_COLOURS[0], 1, STATE_COLOURS[1], 2, STATE_COLOURS[2], '#34495e'],
          'fill-opacity': colourFill ? 0.5 : 0.62,
        },
      },
      // with the four colours filling the grids, the patrol state is each grid's thick outline,
      // on a dark casing so that red, amber and green stand apart from any fill colour
      ...(colourFill ? [{
        id: 'grids-state-casing', type: 'line', source: 'grids', 'source-layer': 'grids',
        paint: {
          'line-color': ['match', ['coalesce', ['feature-state', 'p'], -1], -1, 'rgba(0,0,0,0)', '#06121f'],
          'line-width': px(8), 'line-offset': px(4),
        },
      }, {
        id: 'grids-state', type: 'line', source: 'grids', 'source-layer': 'grids',
        paint: {
          'line-color': ['match', ['coalesce', ['feature-state', 'p'], -1],
            0, STATE_COLOURS[0], 1, STATE_COLOURS[1], 2, STATE_COLOURS[2], 'rgba(0,0,0,0)'],
          'line-width': px(4), 'line-offset': px(2),
        },
      }] : []),
      {id: 'rivers', type: 'line', source: 'rivers', 'source-layer': 'rivers', paint: {'line-color': '#2b6cb0', 'line-width': px(1.5)}},
      {id: 'roads', type: 'line', source: 'roads', 'source-layer': 'roads', paint: {'line-color': '#3d5a78', 'line-width': px(0.8), 'line-opacity': 0.7}},
      {id: 'grids-line', type: 'line', source: 'grids', 'source-layer': 'grids', paint: {'line-color': '#a9cce3', 'line-width': px(1)}},
      {id: 'villages-line', type: 'line', source: 'villages', 'source-layer': 'villages', paint: {'line-color': '#f4d03f', 'line-width': px(2.2)}},
      {
        id: 'grid-codes', type: 'symbol', source: 'labels', 'source-layer': 'labels',
        layout: {
          'text-field': ['slice', ['to-string', ['get', 'code']], 12],
          'text-font': ['dejavu-sans'],
          'text-size': ['interpolate', ['linear'], ['zoom'], 11, px(12), 13, px(16), 16, px(24)],
          'text-padding': 1,
          // an event's ring sits on its grid's label point as often as not: the label steps aside
          'text-variable-anchor': ['center', 'top', 'bottom', 'left', 'right'],
          'text-radial-offset': 0.9,
        },
        paint: {'text-color': '#ffffff', 'text-halo-color': '#06121f', 'text-halo-width': px(1.6)},
      },
      {
        id: 'villages-label', type: 'symbol', source: 'villages', 'source-layer': 'villages', maxzoom: 14,
        layout: {'text-field': ['get', 'name'], 'text-font': ['dejavu-sans'], 'text-size': px(18), 'text-offset': [0, -1.4]},
        paint: {'text-color': '#f9e79f', 'text-halo-color': '#06121f', 'text-halo-width': px(2)},
      },
      // open events: overdue ones under a pulsing red ring (its radius and opacity animated)
      {
        id: 'events-pulse', type: 'circle', source: 'events', filter: ['==', ['get', 'due'], 'overdue'],
        paint: {'circle-radius': px(14), 'circle-color': '#ff3b30', 'circle-opacity': 0.5, 'circle-blur': 0.3},
      },
      {
        id: 'events-dot', type: 'circle', source: 'events',
        // overdue on top of the others at one place, then amber
        layout: {'circle-sort-key': ['match', ['get', 'due'], 'overdue', 2, 'amber', 1, 0]},
        paint: {
          'circle-radius': ['match', ['get', 'due'], 'overdue', px(9), px(7)],
          'circle-color': ['match', ['get', 'due'], 'overdue', EVENT_COLOURS.overdue, 'amber', EVENT_COLOURS.amber, EVENT_COLOURS.ok],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': px(1.5),
        },
      },
      // circles take no part in label placement: an invisible icon the size of the ring does, so
      // grid codes move off the events instead of being drawn under them
      {
        id: 'events-keepout', type: 'symbol', source: 'events',
        layout: {'icon-image': KEEPOUT, 'icon-size': px(30) / KEEPOUT_PX, 'icon-allow-overlap': true, 'icon-padding': 0},
      },
    ],
  };
}

/** The image of `events-keepout`: transparent, `KEEPOUT_PX` square (added on `styleimagemissing`). */
const KEEPOUT = 'events-keepout';
const KEEPOUT_PX = 16;
function addKeepout(map) {
  map.on('styleimagemissing', (e) => {
    if (e.id === KEEPOUT && !map.hasImage(KEEPOUT)) {
      map.addImage(KEEPOUT, {width: KEEPOUT_PX, height: KEEPOUT_PX, data: new Uint8Array(KEEPOUT_PX * KEEPOUT_PX * 4)});
    }
  });
}

/** Event dots by deadline status (overdue red, amber before the limit, in time blue). */
export const EVENT_COLOURS = {overdue: '#ff3b30', amber: '#ffb300', ok: '#4fc3f7'};

/** The open events of a summary as GeoJSON for the map's `events` source. */
function eventFeatures(dots) {
  return {
    type: 'FeatureCollection',
    features: dots.map((d) => ({type: 'Feature', properties: {number: d.number, state: d.state, due: d.due},
      geometry: {type: 'Point', coordinates: [d.lon, d.lat]}})),
  };
}

/** Makes the overdue ring breathe (1.6 s a beat, ~12 frames a second) while any is shown. */
function startPulse(screen, k = Math.max(1, innerHeight / 1080)) {
  setInterval(() => {
    const map = screen.map;
    if (!screen.overdueShown || !map || !map.getLayer('events-pulse')) return;
    const phase = (performance.now() % 1600) / 1600;
    map.setPaintProperty('events-pulse', 'circle-radius', Math.round((10 + 20 * phase) * k * 10) / 10);
    map.setPaintProperty('events-pulse', 'circle-opacity', Math.round(0.7 * (1 - phase) * 100) / 100);
  }, 80);
}

/** With `fill=colour` in the address: the viewer's four-colour grid fill (its style's
 * `grids-fill` colour, from each grid's `color`: no two neighbours alike), else null (grids filled
 * by today's patrol state). */
async function colourFill() {
  if (new URLSearchParams(location.search).get('fill') !== 'colour') return null;
  document.body.dataset.fill = 'colour';
  try {
    const style = await getJson('/tiles/style.json');
    return style.layers.find((l) => l.id === 'grids-fill')?.paint?.['fill-color'] || null;
  } catch {
    return null;
  }
}

/** The bounds to show: the area's villages (town= / village=), else every grid. */
async function areaBounds() {
  const p = new URLSearchParams(location.search);
  const code = p.get('village') || p.get('town');
  if (code) {
    try {
      const fc = await getJson('/api/villages');
      let b = null;
      const walk = (c) => {
        if (typeof c[0] === 'number') {
          b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
        } else c.forEach(walk);
      };
      for (const f of fc.features || []) {
        if (String(f.properties?.code || '').startsWith(code) && f.geometry) walk(f.geometry.coordinates);
      }
      if (b) return b;
    } catch (e) {
      console.warn(`area bounds: ${e.message}`);
    }
  }
  const tj = await getJson('/tiles/grids.json');
  return tj.bounds;
}

/** Builds the fixed nodes: list rows and chart bars. */
function buildNodes() {
  const list = $('#missed-list');
  const rows = [];
  for (let i = 0; i < LIST_ROWS; i++) {
    const li = document.createElement('li');
    li.className = 'empty';
    const rank = document.createElement('span');
    rank.className = 'rank';
    const name = document.createElement('span');
    name.className = 'name';
    const label = document.createElement('span');
    label.className = 'l1';
    const leader = document.createElement('small');
    leader.className = 'l2';
    name.append(label, leader);
    const what = document.createElement('span');
    what.className = 'what';
    const share = document.createElement('span');
    share.className = 'share';
    li.append(rank, name, what, share);
    list.append(li);
    rows.push({li, rank, label, leader, what, share});
  }
  const svg = $('#hourly-chart');
  const ns = 'http://www.w3.org/2000/svg';
  const base = document.createElementNS(ns, 'line');
  svg.append(base);
  const bars = [];
  for (let h = 0; h < 24; h++) {
    const r = document.createElementNS(ns, 'rect');
    const title = document.createElementNS(ns, 'title');
    r.append(title);
    svg.append(r);
    bars.push({r, title});
  }
  const ticks = [0, 6, 12, 18, 24].map((h) => {
    const t = document.createElementNS(ns, 'text');
    t.textContent = `${h}时`;
    svg.append(t);
    return {h, t};
  });
  return {rows, chart: {svg, base, bars, ticks, w: 0, h: 0, last: new Array(24).fill(-1), max: -1}};
}

/** Sizes the chart to its box in real pixels (so its text is never stretched). */
function layoutChart(chart) {
  const w = Math.max(1, Math.round(chart.svg.clientWidth));
  const h = Math.max(1, Math.round(chart.svg.clientHeight));
  if (w === chart.w && h === chart.h) return;
  chart.w = w;
  chart.h = h;
  chart.svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  chart.svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
  const font = Math.max(10, Math.round(h * 0.11));
  chart.foot = font * 1.4;
  chart.plot = h - chart.foot;
  const slot = w / 24;
  chart.bars.forEach((b, i) => {
    b.r.setAttribute('x', (i * slot + slot * 0.12).toFixed(1));
    b.r.setAttribute('width', (slot * 0.76).toFixed(1));
  });
  chart.base.setAttribute('x1', '0');
  chart.base.setAttribute('x2', String(w));
  chart.base.setAttribute('y1', chart.plot.toFixed(1));
  chart.base.setAttribute('y2', chart.plot.toFixed(1));
  for (const {h: hr, t} of chart.ticks) {
    t.setAttribute('x', String(hr * slot));
    t.setAttribute('text-anchor', hr === 0 ? 'start' : hr === 24 ? 'end' : 'middle');
    t.setAttribute('y', String(h - font * 0.25));
    t.style.fontSize = `${font}px`;
  }
  chart.last.fill(-1); // redraw every bar at the new size
}

/** Draws the bars of `hourly` (24 counts); the current hour brighter. */
function drawChart(chart, hourly, nowHour) {
  layoutChart(chart);
  const max = Math.max(1, ...hourly);
  const rescale = max !== chart.max;
  chart.max = max;
  hourly.forEach((n, i) => {
    if (!rescale && chart.last[i] === n) return;
    chart.last[i] = n;
    const bh = (n / max) * (chart.plot - 4);
    const b = chart.bars[i];
    b.r.setAttribute('y', (chart.plot - bh).toFixed(1));
    b.r.setAttribute('height', bh.toFixed(1));
    setText(b.title, `${i}时 ${n} 点`);
  });
  chart.bars.forEach((b, i) => {
    const cls = i === nowHour ? 'now' : '';
    if ((b.r.getAttribute('class') || '') !== cls) b.r.setAttribute('class', cls);
  });
}

/** The screen's state and its update function (exposed as window.screen for tests). */
function makeScreen(nodes) {
  const figs = new Map([...document.querySelectorAll('[data-fig]')].map((n) => [n.dataset.fig, n]));
  const evs = new Map([...document.querySelectorAll('[data-ev]')].map((n) => [n.dataset.ev, n]));
  const gridStates = new Map(); // code → state level drawn on the map
  const screen = {map: null, summary: null, updates: 0, connected: false};

  let dotsKey = null;
  function paintEvents(dots) {
    const map = screen.map;
    const source = map && map.getSource('events');
    if (!source) return;
    const key = JSON.stringify(dots);
    if (key === dotsKey) return;
    dotsKey = key;
    source.setData(eventFeatures(dots));
    screen.overdueShown = dots.some((d) => d.due === 'overdue');
  }

  function paintGrids(grids) {
    const map = screen.map;
    if (!map || !map.getSource('grids')) return;
    for (const [code, level] of Object.entries(grids)) {
      if (gridStates.get(code) === level) continue;
      gridStates.set(code, level);
      map.setFeatureState({source: 'grids', sourceLayer: 'grids', id: Number(code)}, {p: level});
    }
  }

  screen.apply = (s) => {
    screen.summary = s;
    screen.updates += 1;
    const f = s.figures || {};
    for (const k of ['grids', 'villages', 'households', 'residents', 'workers', 'workers_on_duty',
      'grids_twice', 'grids_once', 'grids_none', 'points']) setText(figs.get(k), fmtInt(f[k]));
    setText(figs.get('coverage_share'), fmtShare(f.coverage_share));
    setText(figs.get('road_share'), fmtShare(f.road_share));
    for (const [k, n] of evs) setText(n, s.events ? fmtInt(s.events[k]) : '—');
    setText($('#missed-total'), fmtInt(s.missed_total));
    nodes.rows.forEach((row, i) => {
      const m = (s.missed || [])[i];
      const cls = m ? '' : 'empty';
      if (row.li.className !== cls) row.li.className = cls;
      setText(row.rank, m ? String(m.rank) : '');
      setText(row.label, m ? `${m.village}第${Number(String(m.grid).slice(12))}网格` : '');
      setText(row.leader, m ? `${m.grid}${m.leader ? ` · 网格长 ${m.leader}` : ''}` : '');
      const what = m ? m.missed : '';
      if (row.what.dataset.m !== what) {
        row.what.dataset.m = what;
        row.what.className = `what ${what}`;
      }
      setText(row.what, m ? (m.missed === 'patrol' ? '未巡查' : '缺二巡') : '');
      const sh = m ? (m.road_share ?? m.cell_share) : null;
      setText(row.share, m ? `路 ${fmtShare(sh)}` : '');
    });
    const at = s.computed_at ? new Date(s.computed_at) : null;
    drawChart(nodes.chart, s.hourly || [], at ? hourOf(s.computed_at) : -1);
    setText($('#hourly-max'), fmtInt(Math.max(0, ...(s.hourly || [0]))));
    setText($('#updated-at'), s.last_point_at ? clockText(s.last_point_at) : (at ? clockText(s.computed_at) : '—'));
    setText($('#day'), s.day ? `${s.day} ${weekday(s.day)}` : '');
    paintGrids(s.grids || {});
    paintEvents(s.event_dots || []);
    document.body.dataset.updates = String(screen.updates);
  };
  screen.repaint = () => {
    gridStates.clear();
    dotsKey = null;
    if (screen.summary) {
      paintGrids(screen.summary.grids || {});
      paintEvents(screen.summary.event_dots || []);
    }
  };
  return screen;
}

/** HH:MM:SS of an RFC 3339 time as written (its own zone, the screen's). */
function clockText(rfc) {
  const m = /T(\d\d:\d\d:\d\d)/.exec(rfc);
  return m ? m[1] : rfc;
}
function hourOf(rfc) {
  const m = /T(\d\d):/.exec(rfc);
  return m ? Number(m[1]) : -1;
}
function weekday(day) {
  const d = new Date(`${day}T12:00:00Z`);
  return `星期${'日一二三四五六'[d.getUTCDay()]}`;
}

/** The clock, in the screen's zone (+08:00 unless the page says zone=). */
function startClock() {
  const zone = new URLSearchParams(location.search).get('zone') || '+08:00';
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(zone);
  const offMin = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 480;
  const node = $('#clock');
  const tick = () => {
    const t = new Date(Date.now() + offMin * 60000);
    setText(node, `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`);
  };
  tick();
  setInterval(tick, 1000);
}

/** The stream: one EventSource at a time; the badge shows while it is not connected. */
function connect(screen) {
  const badge = $('#badge');
  let es = null;
  let timer = null;
  const setConnected = (ok) => {
    screen.connected = ok;
    if (badge.hidden !== ok) badge.hidden = ok;
    document.body.dataset.connected = String(ok);
  };
  const open = () => {
    timer = null;
    es = new EventSource(`/api/screen/stream${areaQuery()}`);
    screen.source = es;
    es.addEventListener('summary', (e) => {
      setConnected(true);
      try {
        screen.received = JSON.parse(e.data);
        screen.apply(screen.received);
      } catch (err) {
        console.warn(`bad summary: ${err.message}`);
      }
    });
    es.onopen = () => setConnected(true);
    es.onerror = () => {
      setConnected(false);
      // CONNECTING: the browser retries by itself; CLOSED (an error answer): we retry later
      if (es.readyState === EventSource.CLOSED && timer === null) {
        es.close();
        timer = setTimeout(open, RETRY_MS);
      }
    };
  };
  open();
}

/** Starts the screen: map, fixed nodes, clock and stream. */
export async function startScreen() {
  const nodes = buildNodes();
  const screen = makeScreen(nodes);
  window.screenApp = screen;
  startClock();
  // The first summary answers whether this screen may show anything at all.
  try {
    screen.apply(await getJson(`/api/screen/summary${areaQuery()}`));
  } catch (e) {
    const status = $('#status');
    status.hidden = false;
    status.textContent = e.status === 401 || e.status === 403
      ? '此屏幕未登录：请用屏幕令牌打开 /screen?token=…'
      : `暂时无法读取数据，稍后自动重试（${e.status || ''}）`;
    if (e.status === 401 || e.status === 403) return;
    setTimeout(() => location.reload(), RETRY_MS * 6);
    return;
  }
  try {
    const bounds = await areaBounds();
    const map = new maplibregl.Map({
      container: 'map',
      style: darkStyle(undefined, await colourFill()),
      bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
      fitBoundsOptions: {padding: 30},
      interactive: false,
      attributionControl: false,
      localIdeographFontFamily: CJK_FONTS,
      fadeDuration: 0,
    });
    screen.map = map;
    window.map = map;
    addKeepout(map);
    startPulse(screen);
    map.on('load', () => {
      screen.repaint();
      document.body.dataset.ready = 'true';
    });
    // a tile source answering late (after a restart) repaints the states
    map.on('sourcedata', (e) => {
      if (e.sourceId === 'grids' && e.isSourceLoaded && e.sourceDataType === 'metadata') screen.repaint();
    });
    map.on('error', (e) => console.warn(`map: ${e.error?.message || e}`));
    new ResizeObserver(() => layoutChart(nodes.chart)).observe(nodes.chart.svg);
  } catch (e) {
    console.warn(`map: ${e.message}`);
    document.body.dataset.ready = 'true';
  }
  connect(screen);
}
