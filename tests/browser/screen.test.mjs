// Headless-Chromium test of the command room's big screen (/screen). It runs its own server (so it
// can restart it):
//
//   node tests/browser/screen.test.mjs target/debug/wangge town.gpkg
//
// With a screen token (`wangge token add --role screen`) opened once as /screen?token=…, at
// 1920×1080 and at 3840×2160 (device scale 1: the wall's true resolution): no scrollbars and no
// clipped panel, the map canvas drawn at the viewport's own pixels, the figures on screen equal
// /api/screen/summary's, no console errors. At 1920×1080 then: a patrol batch posted by a
// worker's token shows within 10 s; the server is killed (the quiet "重新连接中" badge shows, no
// error page) and started again (the page reconnects by itself and shows the next batch); and a
// soak of thousands of summaries applied at an accelerated rate leaves the JS heap (CDP
// Runtime.getHeapUsage after a GC) and the DOM node count (CDP Memory.getDOMCounters) within 10%.
// Screenshots: out/browser/screen-1920.png, screen-3840.png, screen-colour.png, screen-reconnecting.png,
// screen-soak.png. Environment: CHROMIUM (default /usr/bin/chromium), OUT_DIR, SOAK_UPDATES
// (default 5000). Exits 1 with the failed checks listed.

import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const [bin, db] = process.argv.slice(2);
if (!bin || !db) {
  console.error('usage: node screen.test.mjs path/to/wangge town.gpkg');
  process.exit(2);
}
const outDir = process.env.OUT_DIR || path.resolve(here, '../../out/browser');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const SOAK_UPDATES = Number(process.env.SOAK_UPDATES || 5000);
const STEP_MS = 60_000;
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
  return ok;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the server

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => {
    const {port} = s.address();
    s.close(() => resolve(port));
  });
});
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let server = null;

async function startServer() {
  server = spawn(bin, ['serve', '--db', db, '--listen', `127.0.0.1:${port}`], {stdio: ['ignore', 'ignore', 'pipe']});
  server.stderr.on('data', () => {});
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await sleep(200);
  }
  throw new Error('the server did not start');
}
async function stopServer() {
  if (!server) return;
  const s = server;
  server = null;
  const gone = new Promise((r) => s.once('exit', r));
  s.kill('SIGTERM');
  await gone;
}

function token(name, role, phone) {
  const args = ['token', 'add', '--name', name, '--role', role, '--db', db];
  if (phone) args.push('--phone', phone);
  return execFileSync(bin, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim();
}

const stamp = Date.now().toString(36);
const screenToken = token(`wall-${stamp}`, 'screen');
const PHONE = `139${String(Date.now()).slice(-8)}`;
const workerToken = token(`phone-${stamp}`, 'worker', PHONE);

/** Local time +08:00 as RFC 3339. */
function local(t) {
  const d = new Date(t + 8 * 3600e3);
  return `${d.toISOString().slice(0, 19)}+08:00`;
}

/** Posts a walk of `n` points of today (ending a minute ago) near `(lon, lat)`; returns how many were stored. */
async function postBatch(lon, lat, n, salt) {
  const end = Date.now() - 60e3;
  const midnight = Math.floor((end + 8 * 3600e3) / 86400e3) * 86400e3 - 8 * 3600e3;
  const points = [];
  for (let i = 0; i < n; i++) {
    const t = end - (n - 1 - i) * 20e3;
    if (t < midnight) continue;
    points.push({worker: PHONE, time: local(t), lon: lon + 1e-5 * (i % 5) + salt * 1e-7, lat: lat + 1e-5 * Math.floor(i / 5), accuracy: 5});
  }
  const r = await fetch(`${base}/api/patrol/points`, {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: `Bearer ${workerToken}`},
    body: JSON.stringify(points),
  });
  const body = await r.json();
  if (!r.ok) throw new Error(`POST /api/patrol/points: ${r.status} ${JSON.stringify(body)}`);
  return body.stored;
}

// ---------------------------------------------------------------- page helpers

/** What the page shows and what the API says, compared. */
async function figuresMatch(page) {
  return page.evaluate(async () => {
    const s = await (await fetch('/api/screen/summary')).json();
    const bad = [];
    const digits = (t) => t.replace(/[^\d]/g, '');
    for (const n of document.querySelectorAll('[data-fig]')) {
      const k = n.dataset.fig;
      const v = s.figures[k];
      const want = k.endsWith('_share')
        ? (v === null ? '—' : `${(v * 100).toFixed(1)}%`)
        : String(Math.round(v));
      const got = k.endsWith('_share') ? n.textContent : digits(n.textContent);
      if (got !== want) bad.push(`${k}: screen ${n.textContent}, API ${v}`);
    }
    for (const n of document.querySelectorAll('[data-ev]')) {
      const want = s.events ? String(s.events[n.dataset.ev]) : '—';
      const got = s.events ? digits(n.textContent) : n.textContent;
      if (got !== want) bad.push(`event ${n.dataset.ev}: ${n.textContent} vs ${want}`);
    }
    const rows = [...document.querySelectorAll('#missed-list li:not(.empty)')];
    if (rows.length !== s.missed.length) bad.push(`list: ${rows.length} rows, API ${s.missed.length}`);
    s.missed.forEach((m, i) => {
      if (!rows[i] || !rows[i].textContent.includes(m.grid)) bad.push(`row ${i + 1} is not grid ${m.grid}`);
    });
    if (digits(document.querySelector('#missed-total').textContent) !== String(s.missed_total)) bad.push('missed total');
    const hours = [...document.querySelectorAll('#hourly-chart rect')].map((r) => r.querySelector('title').textContent);
    s.hourly.forEach((n, h) => {
      if (hours[h] !== `${h}时 ${n} 点`) bad.push(`hour ${h}: ${hours[h]} vs ${n}`);
    });
    const states = Object.entries(s.grids);
    for (const [code, level] of states) {
      const st = window.map.getFeatureState({source: 'grids', sourceLayer: 'grids', id: Number(code)});
      if (st.p !== level) {
        bad.push(`grid ${code}: map state ${st.p} vs ${level}`);
        break;
      }
    }
    return {bad, summary: s};
  });
}

/** No scrollbars, and nothing cut off inside a panel. */
async function layoutProblems(page) {
  return page.evaluate(() => {
    const bad = [];
    const d = document.documentElement;
    if (d.scrollWidth > innerWidth || d.scrollHeight > innerHeight) bad.push(`page ${d.scrollWidth}×${d.scrollHeight} > ${innerWidth}×${innerHeight}`);
    for (const el of document.querySelectorAll('#top, #figures, .fig, #missed, #missed-list li, #hourly')) {
      if (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1) {
        bad.push(`${el.id || el.className || el.tagName}: content ${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight}`);
      }
    }
    for (const el of document.querySelectorAll('#missed-list .l1, #missed-list .l2')) {
      if (el.scrollWidth > el.clientWidth + 1) bad.push(`list text cut: ${el.textContent}`);
    }
    return bad;
  });
}

/** Waits until the map's style and tiles are loaded and it is not moving. Polled, not the
 * 'idle' event: the overdue ring repaints the map every 80 ms, so on a slow machine it may
 * never be idle between two frames. */
async function waitIdle(page) {
  await page.evaluate((ms) => new Promise((resolve, reject) => {
    const map = window.map;
    const start = performance.now();
    const poll = () => {
      if (map.isStyleLoaded() && map.areTilesLoaded() && !map.isMoving()) return resolve();
      if (performance.now() - start > ms) return reject(new Error(`map tiles not loaded after ${ms} ms`));
      setTimeout(poll, 100);
    };
    poll();
  }), STEP_MS);
}

// ---------------------------------------------------------------- the test

fs.mkdirSync(outDir, {recursive: true});
const consoleErrors = []; // {at, text}
let restartWindow = null; // [from, to] ms: connection errors expected then
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-screen-'));
let browser;
try {
  await startServer();
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  });
  let soakPage = null;
  for (const [w, h] of [[3840, 2160], [3840, 1080], [1920, 1080]]) {
    const context = await browser.newContext({viewport: {width: w, height: h}, deviceScaleFactor: 1});
    await context.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort('blockedbyclient')));
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push({at: Date.now(), text: `${w}: ${m.text()}`}); });
    page.on('pageerror', (e) => consoleErrors.push({at: Date.now(), text: `${w}: page error: ${e.message}`}));
    await page.goto(`${base}/screen?token=${screenToken}`, {waitUntil: 'load'});
    check(new URL(page.url()).search === '', `${w}×${h}: the token is gone from the address (${page.url()})`);
    const ready = await page.waitForFunction(() => document.body.dataset.ready === 'true' && Number(document.body.dataset.updates) >= 1 && document.body.dataset.connected === 'true', null, {timeout: STEP_MS}).then(() => true).catch(() => false);
    if (!check(ready, `${w}×${h}: screen started, connected to the stream`)) {
      const st = await page.evaluate(() => document.getElementById('status')?.textContent);
      throw new Error(`screen did not start: ${st}`);
    }
    await waitIdle(page);
    const layout = await layoutProblems(page);
    check(layout.length === 0, `${w}×${h}: no scrollbars, nothing cut off${layout.length ? `: ${layout.join('; ')}` : ''}`);
    const canvas = await page.evaluate(() => {
      const c = window.map.getCanvas();
      return {w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight, dpr: devicePixelRatio};
    });
    check(canvas.w === Math.round(canvas.cw * canvas.dpr) && canvas.h === Math.round(canvas.ch * canvas.dpr),
      `${w}×${h}: the map is drawn at the screen's own pixels (${canvas.w}×${canvas.h} for ${canvas.cw}×${canvas.ch} CSS px)`);
    const drawn = await page.evaluate(() => window.map.queryRenderedFeatures({layers: ['grids-fill']}).length);
    check(drawn > 0, `${w}×${h}: grids drawn (${drawn})`);
    const m = await figuresMatch(page);
    check(m.bad.length === 0, `${w}×${h}: the screen shows the API's figures${m.bad.length ? `: ${m.bad.join('; ')}` : ''}`);
    await page.screenshot({path: path.join(outDir, w * 9 === h * 16 ? `screen-${w}.png` : `screen-${w}x${h}.png`)});
    if (w === 1920) soakPage = page;
    else await context.close();
  }

  // fill=colour: the grids in the viewer's four colours (their `color`), patrol state as outlines
  {
    const context = await browser.newContext({viewport: {width: 1920, height: 1080}, deviceScaleFactor: 1});
    await context.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort('blockedbyclient')));
    const cp = await context.newPage();
    cp.setDefaultTimeout(STEP_MS);
    cp.on('pageerror', (e) => consoleErrors.push({at: Date.now(), text: `colour: page error: ${e.message}`}));
    await cp.goto(`${base}/screen?fill=colour&token=${screenToken}`, {waitUntil: 'load'});
    check(new URL(cp.url()).search === '?fill=colour', `colour: the token is gone, fill=colour kept (${cp.url()})`);
    await cp.waitForFunction(() => document.body.dataset.ready === 'true' && Number(document.body.dataset.updates) >= 1, null, {timeout: STEP_MS});
    await waitIdle(cp);
    const c = await cp.evaluate(() => {
      const fill = JSON.stringify(window.map.getPaintProperty('grids-fill', 'fill-color'));
      const grids = window.map.queryRenderedFeatures({layers: ['grids-fill']});
      const colours = [...new Set(grids.map((f) => f.properties.color))].sort();
      const outlined = window.map.queryRenderedFeatures({layers: ['grids-state']}).length;
      const cased = window.map.queryRenderedFeatures({layers: ['grids-state-casing']}).length;
      return {byColour: fill.includes('"color"') && !fill.includes('feature-state'), colours, grids: grids.length, outlined, cased,
        legend: getComputedStyle(document.querySelector('#legend .sw.none')).boxShadow};
    });
    check(c.byColour && c.colours.length >= 3 && c.colours.every((x) => Number.isInteger(x) && x >= 0 && x <= 4),
      `colour: ${c.grids} grids filled by their map colour (${c.colours.join(', ')})`);
    check(c.outlined > 0 && c.legend.includes('inset'), `colour: the patrol state is drawn as outlines (${c.outlined}), the legend says so`);
    check(c.cased === c.outlined, `colour: each state outline has its dark casing (${c.cased} of ${c.outlined}), apart from the fill`);
    await cp.screenshot({path: path.join(outDir, 'screen-colour.png')});
    await context.close();
  }

  const page = soakPage;
  // A patrol batch shows within 10 s.
  const s0 = (await figuresMatch(page)).summary;
  const target = s0.missed[0] ? s0.missed[0].grid : Object.keys(s0.grids)[0];
  const grid = await (await fetch(`${base}/api/grids/${target}`)).json();
  const label = grid.properties?.label || null;
  const bbox = (() => {
    let b = [180, 90, -180, -90];
    const walk = (c) => (typeof c[0] === 'number' ? (b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])]) : c.forEach(walk));
    walk(grid.geometry.coordinates);
    return b;
  })();
  // a point inside the grid: its label if given, else found by the locate route
  let at = label;
  if (!at) {
    for (let k = 0; k < 200 && !at; k++) {
      const lon = bbox[0] + (bbox[2] - bbox[0]) * ((k * 0.618) % 1);
      const lat = bbox[1] + (bbox[3] - bbox[1]) * ((k * 0.382 + 0.5) % 1);
      const r = await (await fetch(`${base}/api/locate?lon=${lon}&lat=${lat}`)).json();
      if (r.grid && (r.grid.code === target || r.grid === target)) at = [lon, lat];
    }
  }
  if (!at) at = [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2];
  const before = s0.figures.points;
  const t0 = Date.now();
  // 40 points 20 s apart: a patrol of 13 minutes (the grid turns amber)
  const stored = await postBatch(at[0], at[1], 40, 1);
  const shown = await page.waitForFunction((want) => document.querySelector('[data-fig="points"]').textContent.replace(/[^\d]/g, '') === String(want), before + stored, {timeout: 10_000}).then(() => true).catch(() => false);
  check(stored > 0 && shown, `a batch of ${stored} points showed on the screen after ${Date.now() - t0} ms (≤ 10 s)`);
  const m1 = await figuresMatch(page);
  check(m1.bad.length === 0, `after the batch the screen still equals the API${m1.bad.length ? `: ${m1.bad.join('; ')}` : ''}`);

  // Two events reported in the grid: one 3 h ago (past the 2 h to accept: overdue), one now.
  const postEvent = async (id, hoursAgo) => {
    const r = await fetch(`${base}/api/events`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${workerToken}`},
      body: JSON.stringify({client_id: `${stamp}-${id}`, category: 'sanitation.rubbish', title: `screen ${id}`,
        lon: at[0], lat: at[1], crs: 'wgs84', source: 'worker', priority: 'normal',
        reported_at: new Date(Date.now() - hoursAgo * 3600e3).toISOString()}),
    });
    const body = await r.json();
    if (!r.ok) throw new Error(`POST /api/events: ${r.status} ${JSON.stringify(body)}`);
    return body.events[0].number;
  };
  const late = await postEvent('late', 3);
  const fresh = await postEvent('fresh', 0);
  const te = Date.now();
  const evShown = await page.waitForFunction((n) => (window.screenApp.summary?.event_dots || []).some((d) => d.number === n), fresh, {timeout: 15_000}).then(() => true).catch(() => false);
  check(evShown, `two new events reached the screen after ${Date.now() - te} ms`);
  // the ring keeps the map repainting (never idle): wait for both dots to be drawn
  await page.waitForFunction((ns) => {
    const drawn = window.map.queryRenderedFeatures({layers: ['events-dot']}).map((x) => x.properties.number);
    return ns.every((n) => drawn.includes(n));
  }, [late, fresh], {timeout: STEP_MS}).catch(() => {});
  const dots = await page.evaluate(() => {
    const f = window.map.queryRenderedFeatures({layers: ['events-dot']}).map((x) => [x.properties.number, x.properties.due]);
    const ring = window.map.queryRenderedFeatures({layers: ['events-pulse']}).map((x) => x.properties.number);
    return {f, ring, dots: window.screenApp.summary.event_dots};
  });
  const dueOf = (n) => (dots.f.find(([m]) => m === n) || [])[1];
  check(dueOf(late) === 'overdue' && dueOf(fresh) === 'ok', `the map drew the overdue and the fresh event (${JSON.stringify(dots.f)})`);
  check(dots.ring.includes(late) && !dots.ring.includes(fresh), 'only the overdue event has the pulsing ring');
  // the grid's code stays readable: placed (not hidden) while the events' keep-out is placed too,
  // so the two do not overlap (symbol placement guarantees it)
  const placed = await page.evaluate((code) => ({
    label: window.map.queryRenderedFeatures({layers: ['grid-codes']}).some((x) => String(x.properties.code) === code),
    keepout: window.map.queryRenderedFeatures({layers: ['events-keepout']}).length,
  }), target);
  check(placed.label && placed.keepout >= 1, `grid ${target}'s code is shown beside its events, not under them (label ${placed.label}, keep-outs ${placed.keepout})`);
  check(dots.dots[0].due === 'overdue', 'overdue events come first in the summary');
  const radii = [];
  for (let i = 0; i < 4; i++) {
    radii.push(await page.evaluate(() => window.map.getPaintProperty('events-pulse', 'circle-radius')));
    await sleep(370);
  }
  check(new Set(radii).size > 1, `the overdue ring pulses (radius ${radii.join(', ')})`);
  const me = await figuresMatch(page);
  check(me.bad.length === 0 && me.summary.events.overdue >= 1 && me.summary.events.open >= 2,
    `the event figures on screen equal the API (${JSON.stringify(me.summary.events)})${me.bad.length ? `: ${me.bad.join('; ')}` : ''}`);
  // a close-up of the events on the wall
  await page.screenshot({path: path.join(outDir, 'screen-events.png')});

  // The server restarts: a quiet badge meanwhile, then the page reconnects by itself.
  restartWindow = [Date.now(), Infinity];
  await stopServer();
  const badge = await page.waitForFunction(() => !document.getElementById('badge').hidden, null, {timeout: 15_000}).then(() => true).catch(() => false);
  check(badge, 'server down: the "重新连接中" badge shows');
  await page.screenshot({path: path.join(outDir, 'screen-reconnecting.png')});
  await sleep(3000);
  await startServer();
  const back = await page.waitForFunction(() => document.getElementById('badge').hidden && document.body.dataset.connected === 'true', null, {timeout: 30_000}).then(() => true).catch(() => false);
  restartWindow[1] = Date.now();
  check(back, `server back: the screen reconnected by itself in ${Date.now() - restartWindow[0]} ms (badge gone)`);
  const still = await page.evaluate(() => ({title: document.title, figures: !!document.getElementById('figures'), url: location.pathname}));
  check(still.title === '网格巡查指挥大屏' && still.figures && still.url === '/screen', `no error page after the restart (${JSON.stringify(still)})`);
  const before2 = Number(await page.evaluate(() => document.querySelector('[data-fig="points"]').textContent.replace(/[^\d]/g, '')));
  const stored2 = await postBatch(at[0], at[1], 8, 2);
  const t1 = Date.now();
  const shown2 = await page.waitForFunction((want) => document.querySelector('[data-fig="points"]').textContent.replace(/[^\d]/g, '') === String(want), before2 + stored2, {timeout: 10_000}).then(() => true).catch(() => false);
  check(shown2, `after the restart a new batch showed within ${Date.now() - t1} ms`);

  // Soak: thousands of summaries at an accelerated rate; heap and DOM nodes stay flat.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  const measure = async () => {
    for (let i = 0; i < 3; i++) {
      await cdp.send('HeapProfiler.collectGarbage');
      await sleep(100);
    }
    const heap = await cdp.send('Runtime.getHeapUsage');
    // the pulsing ring keeps the map drawing, and a frame in flight holds a few listeners for
    // its length (longer on a busy machine): the fewest of ten samples is the page's own (a
    // leak raises that too)
    let dom = await cdp.send('Memory.getDOMCounters');
    for (let i = 0; i < 9; i++) {
      await sleep(120);
      const d = await cdp.send('Memory.getDOMCounters');
      if (d.jsEventListeners < dom.jsEventListeners) dom = d;
    }
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    return {heap: heap.usedSize, domNodes: dom.nodes, listeners: dom.jsEventListeners, elements: nodes};
  };
  const drive = (n) => page.evaluate(async (n) => {
    const app = window.screenApp;
    const real = app.received || app.summary;
    const codes = Object.keys(real.grids);
    for (let k = 0; k < n; k++) {
      const s = structuredClone(real);
      const r = (m) => Math.floor(Math.random() * m);
      for (const key of ['grids_twice', 'grids_once', 'grids_none', 'points', 'workers_on_duty']) s.figures[key] = r(100000);
      s.figures.coverage_share = Math.random();
      s.figures.road_share = Math.random();
      s.hourly = s.hourly.map(() => r(5000));
      for (const c of codes) s.grids[c] = r(3);
      s.missed = s.missed.slice(0, r(s.missed.length + 1)).map((m, i) => ({...m, rank: i + 1, missed: r(2) ? 'patrol' : 'second_patrol', road_share: Math.random()}));
      s.missed_total = r(1000);
      s.last_point_at = new Date(Date.now() - r(86400e3)).toISOString().slice(0, 19) + '+08:00';
      app.apply(s);
      if (k % 50 === 49) await new Promise((res) => requestAnimationFrame(() => res()));
    }
    app.apply(app.received || real); // what the stream sent last
    return app.updates;
  }, n);
  await drive(500); // warm-up: caches, JIT, map buffers
  const m0 = await measure();
  const t2 = Date.now();
  // real stream updates during the soak, too
  const posting = (async () => {
    for (let i = 0; i < 3; i++) {
      await postBatch(at[0], at[1], 3, 10 + i);
      await sleep(2500);
    }
  })();
  const updates = await drive(SOAK_UPDATES);
  await posting;
  const took = Date.now() - t2;
  await sleep(3000);
  await waitIdle(page);
  // a leak never gives its listeners back; a frame or a tile request in flight does: measure
  // again for up to 20 s until the count is back to where the soak began
  let m2 = await measure();
  for (let tries = 0; m2.listeners > m0.listeners && tries < 20; tries++) {
    await sleep(1000);
    await waitIdle(page);
    const m = await measure();
    if (m.listeners < m2.listeners) m2 = {...m2, listeners: m.listeners};
  }
  const within = (a, b) => Math.abs(b - a) <= 0.1 * a;
  console.log(`soak: ${SOAK_UPDATES} summaries in ${took} ms (${updates} updates in all; at one update per 2 s that is ${(SOAK_UPDATES * 2 / 3600).toFixed(1)} h of a wall)`);
  console.log(`soak: heap ${m0.heap} → ${m2.heap} bytes, DOM nodes ${m0.domNodes} → ${m2.domNodes}, elements ${m0.elements} → ${m2.elements}, listeners ${m0.listeners} → ${m2.listeners}`);
  check(within(m0.heap, m2.heap), `soak: JS heap flat within 10% (${(m0.heap / 1e6).toFixed(2)} → ${(m2.heap / 1e6).toFixed(2)} MB)`);
  check(within(m0.domNodes, m2.domNodes) && m0.elements === m2.elements, `soak: DOM nodes flat (${m0.domNodes} → ${m2.domNodes}; elements ${m0.elements} → ${m2.elements})`);
  check(m2.listeners <= m0.listeners, `soak: no new event listeners (${m0.listeners} → ${m2.listeners})`);
  const m3 = await figuresMatch(page);
  check(m3.bad.length === 0, `after the soak the screen equals the API again${m3.bad.length ? `: ${m3.bad.join('; ')}` : ''}`);
  await page.screenshot({path: path.join(outDir, 'screen-soak.png')});

  // Console errors: none, but connection errors while the server was down.
  const expected = (e) => restartWindow && e.at >= restartWindow[0] && e.at <= restartWindow[1] + 2000
    && /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|Failed to load resource|net::/.test(e.text);
  const unexpected = consoleErrors.filter((e) => !expected(e));
  check(unexpected.length === 0, `no console errors${unexpected.length ? `: ${unexpected.map((e) => e.text).join(' | ')}` : ''} (${consoleErrors.length - unexpected.length} connection errors while the server was down)`);
} catch (e) {
  failures.push(`aborted: ${e.stack || e.message}`);
  console.log(`FAIL aborted: ${e.stack || e.message}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
  fs.rmSync(userDataDir, {recursive: true, force: true});
}
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('\nall screen checks passed');
