// Headless-Chromium test of the map viewer against a running wangge server.
//
//   node tests/browser/viewer.test.mjs http://127.0.0.1:PORT
//
// Opens `/` and checks: the style loaded; the `grids` layer drew features; clicking a grid shows its
// code in the panel (and /api/grids/{code} answered); the locate box answers for a point inside that
// grid, for the address of a drawn building (its grid) and for a point outside the town (outside);
// glyph PBFs loaded (none failed); NO request went to a host other than the server; no console
// errors. Saves out/browser/overview.png and out/browser/viewer.png. Exits 1 with the reasons on any
// failure. Environment: CHROMIUM (default /usr/bin/chromium), OUT_DIR (default <repo>/out/browser).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = (process.argv[2] || process.env.WANGGE_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(base)) {
  console.error('usage: node viewer.test.mjs http://HOST:PORT   (the running wangge server)');
  process.exit(2);
}
const origin = new URL(base).origin;
const outDir = process.env.OUT_DIR || path.resolve(here, '../../out/browser');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 60_000; // generous: the machine is shared and slow

const failures = [];
/** The colour the page shows at (x, y): a 1×1 screenshot decoded by the page's own 2-D canvas. */
async function pixelAt(page, x, y) {
  const png = await page.screenshot({clip: {x, y, width: 1, height: 1}});
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = c.height = 1;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    return Array.from(g.getImageData(0, 0, 1, 1).data.slice(0, 3));
  }, png.toString('base64'));
}

/** Largest difference of one channel between two rgb colours. */
const colourDistance = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

const check = (ok, message) => {
  if (!ok) failures.push(message);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
  return ok;
};

const requests = []; // {url, status, failure}
const consoleErrors = [];

fs.mkdirSync(outDir, {recursive: true});
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: {width: 1280, height: 800},
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  // Never let a request leave the machine: anything not on the server is recorded and aborted.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    return route.abort('blockedbyclient');
  });
  context.on('request', (req) => requests.push({url: req.url(), status: null, failure: null, req}));
  context.on('requestfinished', async (req) => {
    const r = requests.find((x) => x.req === req);
    const res = await req.response().catch(() => null);
    if (r && res) r.status = res.status();
  });
  context.on('requestfailed', (req) => {
    const r = requests.find((x) => x.req === req);
    if (r) r.failure = req.failure()?.errorText || 'failed';
  });

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));

  await page.goto(`${base}/`, {waitUntil: 'load'});
  const ready = await page
    .waitForFunction(() => document.body.dataset.ready === 'true' || !document.getElementById('status')?.hidden,
      null, {timeout: STEP_MS})
    .then(() => page.evaluate(() => document.body.dataset.ready === 'true'))
    .catch(() => false);
  if (!check(ready, 'viewer started (body[data-ready])')) {
    const status = await page.evaluate(() => document.getElementById('status')?.textContent).catch(() => '');
    throw new Error(`viewer did not start: ${status || 'no status message'}`);
  }

  // Style loaded and the grids drawn.
  await waitIdle(page);
  const style = await page.evaluate(() => ({
    loaded: window.map.isStyleLoaded(),
    layers: window.map.getStyle().layers.map((l) => l.id),
  }));
  check(style.loaded, 'map style loaded');
  check(style.layers.includes('grids-fill'), `style has the grids-fill layer (${style.layers.length} layers)`);
  const drawn = await page.evaluate(() => window.map.queryRenderedFeatures({layers: ['grids-fill']}).length);
  check(drawn > 0, `grids layer rendered features (${drawn})`);
  await page.screenshot({path: path.join(outDir, 'overview.png')});

  // The layer switcher: unticking Grids hides them, ticking shows them again.
  await page.uncheck('#layers input[data-source="grids"]');
  await waitIdle(page);
  const hidden = await page.evaluate(() => window.map.queryRenderedFeatures({layers: ['grids-fill']}).length);
  await page.check('#layers input[data-source="grids"]');
  await waitIdle(page);
  const again = await page.evaluate(() => window.map.queryRenderedFeatures({layers: ['grids-fill']}).length);
  check(drawn > 0 && hidden === 0 && again === drawn, `layer switcher hides and shows grids (${drawn} → ${hidden} → ${again})`);

  // A point well inside one grid, on the map canvas and not under a floating box.
  const spot = await page.evaluate(() => {
    const map = window.map;
    const canvas = map.getCanvas();
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    const codeAt = (x, y) => {
      const f = map.queryRenderedFeatures([x, y], {layers: ['grids-fill']})[0];
      return f ? String(f.properties.code ?? f.id) : null;
    };
    for (let fy = 0.5; fy < 0.95; fy += 0.04) {
      for (const dy of [0, -1]) {
        const y = Math.round(h * (dy ? 1 - fy : fy));
        for (let fx = 0.35; fx < 0.8; fx += 0.03) {
          const x = Math.round(w * fx);
          const code = codeAt(x, y);
          if (!code || document.elementFromPoint(x, y) !== canvas) continue;
          const around = [[20, 0], [-20, 0], [0, 20], [0, -20]].every(([ax, ay]) => codeAt(x + ax, y + ay) === code);
          if (!around) continue;
          const ll = map.unproject([x, y]);
          return {x, y, code, lon: ll.lng, lat: ll.lat};
        }
      }
    }
    return null;
  });
  if (!check(spot !== null, 'found a grid on screen to click')) throw new Error('no grid to click');

  // What the canvas drew there: the grid fill, then no fill with the layer off, then the fill
  // again; a transparent fill or an undrawn layer leaves the same pixels and fails.
  const fillShown = await pixelAt(page, spot.x, spot.y);
  await page.uncheck('#layers input[data-source="grids"]');
  await waitIdle(page);
  const fillHidden = await pixelAt(page, spot.x, spot.y);
  await page.check('#layers input[data-source="grids"]');
  await waitIdle(page);
  check(colourDistance(fillShown, fillHidden) > 12,
    `the grid fill is drawn where it is clicked: rgb ${fillShown} with the layer, ${fillHidden} without`);

  // Click it: the panel shows its code, then its figures from /api/grids/{code}.
  await page.mouse.click(spot.x, spot.y);
  const shown = await page
    .waitForFunction((code) => document.querySelector('#panel [data-testid="grid-code"]')?.textContent === code,
      spot.code, {timeout: STEP_MS})
    .then(() => true)
    .catch(() => false);
  check(shown, `clicking a grid shows its code ${spot.code} in the panel`);
  const selectedState = await page.evaluate((code) => {
    const f = window.map.queryRenderedFeatures({layers: ['grids-fill']}).find((x) => String(x.properties.code ?? x.id) === code);
    return f && f.id !== undefined ? window.map.getFeatureState({source: 'grids', sourceLayer: 'grids', id: f.id}) : null;
  }, spot.code);
  check(selectedState?.selected === true, `the clicked grid is highlighted (feature-state ${JSON.stringify(selectedState)})`);
  await waitIdle(page);
  const fillSelected = await pixelAt(page, spot.x, spot.y);
  check(colourDistance(fillSelected, fillShown) > 12,
    `the highlight is drawn where it was clicked: rgb ${fillSelected}, before the click ${fillShown}`);
  const apiGrid = await waitRequest(page, (r) => new URL(r.url).pathname === `/api/grids/${spot.code}`);
  check(apiGrid && apiGrid.status === 200, `/api/grids/${spot.code} answered 200 (${apiGrid?.status ?? 'no request'})`);
  await page.waitForTimeout(200);
  const panelError = await page.evaluate(() => document.querySelector('#panel .error')?.textContent || '');
  check(!panelError, `grid panel shows no error${panelError ? `: ${panelError}` : ''}`);

  // The locate box: the same point must fall in the same grid.
  const answer = await locateBy(page, {lon: spot.lon.toFixed(7), lat: spot.lat.toFixed(7), crs: 'wgs84'});
  check(answer !== null, `locate box answered: ${JSON.stringify(answer)}`);
  check(answer !== null && answer.includes(spot.code), `locate answer names grid ${spot.code}`);
  const apiLocate = await waitRequest(page, (r) => new URL(r.url).pathname === '/api/locate');
  check(apiLocate && apiLocate.status === 200, `/api/locate answered 200 (${apiLocate?.status ?? 'no request'})`);

  // After locating, the map zooms in: labels are drawn, so glyph ranges are fetched.
  await waitIdle(page);
  await page.screenshot({path: path.join(outDir, 'viewer.png')});
  const labels = await page.evaluate(() => window.map.queryRenderedFeatures({layers: ['labels']}).length);
  check(labels > 0, `grid labels drawn at zoom ${await page.evaluate(() => window.map.getZoom().toFixed(1))} (${labels})`);
  const glyphs = requests.filter((r) => /\/tiles\/fonts\/.+\.pbf$/.test(new URL(r.url).pathname));
  check(glyphs.length > 0, `glyph ranges requested (${glyphs.map((r) => decodeURIComponent(new URL(r.url).pathname)).join(', ')})`);
  const badGlyphs = glyphs.filter((r) => r.status !== 200);
  check(badGlyphs.length === 0, `every glyph range loaded with 200${badGlyphs.map((r) => ` ${r.url} → ${r.status ?? r.failure}`).join('')}`);
  const tiles = requests.filter((r) => /\.mvt$/.test(new URL(r.url).pathname) || /\/tiles\/[^/]+\/\d+\/\d+\/\d+/.test(r.url));
  check(tiles.length > 0, `vector tiles requested (${tiles.length})`);

  // An address: a building drawn on the map, located by its address, falls in its own grid.
  const building = await page.evaluate(() => {
    const fs = window.map.queryRenderedFeatures({layers: ['buildings', 'buildings-point']});
    const f = fs.find((x) => x.properties.address && x.properties.grid_code);
    return f ? {address: f.properties.address, grid: String(f.properties.grid_code)} : null;
  });
  if (check(building !== null, `a drawn building has an address and grid_code${building ? ` (${building.address})` : ''}`)) {
    const byAddress = await locateBy(page, {address: building.address});
    check(byAddress !== null && byAddress.includes(building.grid),
      `locating address ${building.address} names its grid ${building.grid}: ${JSON.stringify(byAddress)}`);
  }

  // A point just west of the town: the answer says it is outside every grid.
  const bounds = await page.evaluate(() => fetch('/tiles/grids.json').then((r) => r.json()).then((t) => t.bounds));
  const outside = await locateBy(page, {lon: (bounds[0] - 0.02).toFixed(6), lat: ((bounds[1] + bounds[3]) / 2).toFixed(6)});
  check(outside !== null && outside.includes('不在任何网格内'), `a point outside the town is answered as outside: ${JSON.stringify(outside)}`);

  // Print, not logged in: a printed page lists workers' phones, so the panel says where to log in
  // (the 401 of /api/print is the one failed request allowed below).
  const printLink = await page.$('#panel [data-testid="print-village"]');
  if (check(printLink !== null, 'the grid panel offers to print the village map')) {
    await printLink.click();
    await page.waitForFunction(() => /登录/.test(document.querySelector('#panel .print-note')?.textContent || ''), null, {timeout: 15000}).catch(() => {});
    const note = await page.evaluate(() => document.querySelector('#panel .print-note')?.textContent || '');
    check(/登录/.test(note) && !!(await page.$('#panel .print-note a[href="/planner"]')), `print without a login says where to log in: "${note}"`);
  }
} catch (e) {
  check(false, `test stopped: ${e.message}`);
} finally {
  // Every request stayed on the server; none failed; no console errors.
  const foreign = requests.filter((r) => !isLocal(r.url));
  check(foreign.length === 0, `no request left the server (${requests.length} requests)${
    foreign.map((r) => `\n     foreign: ${r.url}`).join('')}`);
  // MapLibre cancels the requests of tiles that left the view while the map moved: not a failure.
  const cancelledTile = (r) => r.failure === 'net::ERR_ABORTED' && /\.mvt$|\.pbf$/.test(new URL(r.url).pathname) &&
    !/\/fonts\//.test(r.url);
  const printRefused = (r) => r.url.includes('/api/print?') && r.status === 401;
  const broken = requests.filter((r) => isLocal(r.url) && !r.url.startsWith('data:') && !r.url.startsWith('blob:') &&
    !printRefused(r) && ((r.failure && !cancelledTile(r)) || (r.status !== null && r.status >= 400)));
  check(broken.length === 0, `no failed request${broken.map((r) => `\n     ${r.url} → ${r.status ?? r.failure}`).join('')}`);
  const expected = (m) => /status of 401/.test(m) && requests.some((r) => r.url.includes('/api/print?'));
  check(consoleErrors.filter((m) => !expected(m)).length === 0, `no console errors${consoleErrors.map((m) => `\n     ${m}`).join('')}`);
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, {recursive: true, force: true});
}

if (failures.length) {
  console.error(`\nbrowser test FAILED (${failures.length}):\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(`\nbrowser test passed; screenshots in ${outDir}`);

function isLocal(url) {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

async function waitIdle(page) {
  await page.evaluate((ms) => new Promise((resolve, reject) => {
    const map = window.map;
    const timer = setTimeout(() => reject(new Error(`map not idle after ${ms} ms`)), ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) done();
    else map.once('idle', done);
  }), STEP_MS);
}

// Fills the locate box with `{lon, lat, crs}` or `{address}`, submits, and returns the answer's text
// (null if no answer came).
async function locateBy(page, q) {
  await page.evaluate(() => { document.querySelector('#locate .answer').innerHTML = ''; });
  await page.fill('#locate input[name="lon"]', q.lon ?? '');
  await page.fill('#locate input[name="lat"]', q.lat ?? '');
  await page.selectOption('#locate select[name="crs"]', q.crs ?? 'wgs84');
  await page.fill('#locate input[name="address"]', q.address ?? '');
  await page.click('#locate button[type="submit"]');
  return page
    .waitForFunction(() => {
      const el = document.querySelector('#locate [data-testid="locate-result"]');
      return el ? document.querySelector('#locate .answer').innerText : null;
    }, null, {timeout: STEP_MS})
    .then((h) => h.jsonValue())
    .catch(() => null);
}

async function waitRequest(page, pred) {
  for (let i = 0; i < 100; i++) {
    const r = requests.find((x) => pred(x) && (x.status !== null || x.failure));
    if (r) return r;
    await page.waitForTimeout(100);
  }
  return requests.find(pred) || null;
}
