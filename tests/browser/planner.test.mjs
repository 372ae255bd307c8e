// Headless-Chromium test of the planner's editor (/planner) against a running wangge server over a
// store, driven as a planner drives it: mouse strokes, clicks on bars and buttons, keyboard.
//
//   node tests/browser/planner.test.mjs http://127.0.0.1:PORT STORE [VILLAGE]
//
// STORE is the server's --db (the test runs `wangge plans --db STORE`). Checks: a border building
// painted into the neighbouring grid with stepped mouse moves changes both bars by its households
// and the rendered grid under it; undo restores the exact assignment; a stroke that leaves a grid
// in pieces shows red and save is refused (naming the grid); a locked grid does not change;
// rebalance puts every unlocked grid in band and leaves the locked one; save with a reason →
// `wangge plans` lists it by that planner; activation from the timeline → /api/locate at that
// building answers the new grid; a second browser's save makes the first one's a conflict; write
// routes without a user are 401; planners log in through the page's form (users made with
// `wangge user add`). Screenshots (1920×1080) go to SHOTS (default /work/notes/shots
// or out/browser). Exits 1 listing the failures. CHROMIUM defaults to /usr/bin/chromium.

import fs from 'node:fs';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = (process.argv[2] || '').replace(/\/+$/, '');
const store = process.argv[3];
if (!/^https?:\/\//.test(base) || !store) {
  console.error('usage: node planner.test.mjs http://HOST:PORT STORE [VILLAGE]');
  process.exit(2);
}
const bin = process.env.WANGGE_BIN || path.resolve(here, '../../target/debug/wangge');
const shots = process.env.SHOTS || path.resolve(here, '../../out/browser');
fs.mkdirSync(shots, {recursive: true});
const STEP_MS = 90_000;

const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
  return ok;
};
// Requests of the test itself are the first planner's (a session cookie), unless `init` is given.
let cookie = '';
const getJson = async (p, init) => {
  const r = await fetch(base + p, init || (cookie ? {headers: {cookie}} : undefined));
  return {status: r.status, json: await r.json().catch(() => null)};
};

// Planners are users of the store (`wangge user add`), given every town of the map; each browser
// logs in through the planner page's login form.
const PASSWORD = 'planner test password';
async function addPlanner(user) {
  const vs = (await getJson('/api/villages', {})).json.features.map((f) => f.properties.code);
  const towns = [...new Set(vs.map((c) => c.slice(0, 9)))].flatMap((t) => ['--town', t]);
  try {
    execFileSync(bin, ['user', 'add', user, '--role', 'planner', ...towns, '--password-stdin', '--db', store], {input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'pipe']});
  } catch (e) {
    if (!/taken/.test(String(e.stderr))) throw e;
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
});

async function open(user, village) {
  const ctx = await browser.newContext({viewport: {width: 1920, height: 1080}});
  await addPlanner(user);
  await ctx.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort('blockedbyclient')));
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${base}/planner${village ? `?village=${village}` : ''}`);
  await page.fill('#login-name', user);
  // From here on every console error counts (before, the page's GET /api/session was a 401),
  // but the conflict test's 409: the browser logs every failed fetch as an error.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 409/.test(m.text())) page.errors.push(m.text()); });
  await page.fill('#login-password', PASSWORD);
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, {timeout: STEP_MS});
  return page;
}

const bars = (page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#bars .bar')].map((b) =>
  [b.dataset.code, {hh: +b.dataset.households, w: +b.dataset.weight, state: b.dataset.state, locked: b.classList.contains('locked')}])));
const assignment = (page) => page.evaluate(() => JSON.stringify(window.__planner.assignment()));
const settled = (page) => page.evaluate(() => new Promise((r) => {
  const m = window.__planner.map;
  m.once('idle', r);
  m.triggerRepaint();
  setTimeout(r, 3000);
}));

/** The pixel of building `id` after centring the map on it at `zoom`. */
async function focus(page, id, zoom = 18) {
  return page.evaluate(async ([id, zoom]) => {
    const P = window.__planner;
    const b = P.V.data.buildings.find((x) => x.id === id);
    P.map.jumpTo({center: b.position, zoom});
    await new Promise((r) => { P.map.once('idle', r); P.map.triggerRepaint(); setTimeout(r, 3000); });
    const p = P.map.project(b.position);
    const r = P.map.getCanvas().getBoundingClientRect();
    return {x: p.x + r.left, y: p.y + r.top, lx: p.x, ly: p.y};
  }, [id, zoom]);
}

/** Border buildings alone in their cell, far (> 12 m) from any other: [{id, from, to, hh}]. */
const borderBuildings = (page) => page.evaluate(() => {
  const V = window.__planner.V;
  const out = [];
  for (let f = 0; f < V.nf; f++) {
    if (V.faceItems[f].length !== 1) continue;
    const g = V.faceGrid[f];
    const other = V.nbrs[f].map(([o]) => V.faceGrid[o]).find((h) => h >= 0 && h !== g);
    if (other === undefined || g < 0) continue;
    const i = V.faceItems[f][0];
    const b = V.data.buildings[i];
    if (b.households <= 0) continue;
    const lonlat = b.position;
    const close = V.data.buildings.some((c, j) => j !== i && Math.hypot((c.position[0] - lonlat[0]) * 95000, (c.position[1] - lonlat[1]) * 111000) < 12);
    if (close) continue;
    out.push({id: b.id, from: V.codes[g], to: V.codes[other], hh: b.households});
  }
  return out;
});

async function stroke(page, at, steps = 6) {
  await page.mouse.move(at.x - 3, at.y - 2);
  await page.mouse.down();
  for (let i = 0; i <= steps; i++) await page.mouse.move(at.x - 3 + i, at.y - 2 + (i % 3), {steps: 2});
  await page.mouse.up();
  await settled(page);
}

const gridUnder = (page, at) => page.evaluate(([x, y]) => {
  // the cell the map drew there, and the grid its fill was painted for (feature state)
  const f = window.__planner.map.queryRenderedFeatures([x, y], {layers: ['grids-fill']})[0];
  return f && f.state.g >= 0 ? window.__planner.V.codes[f.state.g] : null;
}, [at.lx, at.ly]);

try {
  await addPlanner('alice');
  const login = await fetch(`${base}/api/session`, {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({name: 'alice', password: PASSWORD})});
  check(login.status === 200, `POST /api/session as alice → ${login.status}`);
  cookie = (login.headers.get('set-cookie') || '').split(';')[0];
  const villages = (await getJson('/api/planner/villages')).json.villages;
  const village = process.argv[4] || villages.slice().sort((a, b) => b.grids - a.grids)[0].code;
  const A = await open('alice', village);
  await A.screenshot({path: path.join(shots, 'planner-open.png')});
  const plans0 = (await getJson(`/api/villages/${village}/plans`)).json.plans;
  const base0 = plans0.find((p) => p.active).version;

  // --- the print link: the active version's wall map as a PDF, fetched as the planner's browser would
  const printed = await A.evaluate(async () => {
    const a = document.querySelector('#print');
    if (!a || a.hidden) return null;
    const res = await fetch(a.href);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return {href: a.getAttribute('href'), status: res.status, type: res.headers.get('content-type'),
      head: String.fromCharCode(...bytes.slice(0, 5)), size: bytes.length, visible: a.offsetParent !== null};
  });
  if (check(printed !== null, 'the planner offers to print the active version')) {
    check(printed.visible && printed.href === `/api/print?village=${village}&paper=A3`, `print link ${printed.href}`);
    check(printed.status === 200 && printed.type === 'application/pdf' && printed.head === '%PDF-' && printed.size > 10_000,
      `the link gives a PDF (${printed.status} ${printed.type} ${printed.head} ${printed.size} B)`);
  }

  // --- paint one border building into the neighbouring grid
  await A.click('[data-tool="brush"]');
  await A.fill('#radius', '5');
  let painted = null;
  for (const c of (await borderBuildings(A)).slice(0, 25)) {
    const before = await bars(A);
    const asg = await assignment(A);
    await A.click(`#bars .bar[data-code="${c.to}"]`);
    const at = await focus(A, c.id);
    const under0 = await gridUnder(A, at);
    await stroke(A, at);
    const pieces = await A.evaluate(() => window.__planner.V.pieces.size);
    const now = JSON.parse(await assignment(A));
    if (pieces > 0 || now[c.id] !== c.to) {
      await A.keyboard.press('Control+z');
      check(await assignment(A) === asg, `undo after a refused try restores the exact assignment (${c.id})`);
      continue;
    }
    painted = {...c, before, after: await bars(A), under0, under1: await gridUnder(A, at), at, asg};
    break;
  }
  if (check(painted, 'a border building was painted into its neighbouring grid with a brush stroke')) {
    const {before, after, hh, from, to} = painted;
    check(Math.abs(before[from].hh - after[from].hh - hh) < 1e-6, `bar ${from} fell by ${hh} households (${before[from].hh} → ${after[from].hh})`);
    check(Math.abs(after[to].hh - before[to].hh - hh) < 1e-6, `bar ${to} rose by ${hh} households (${before[to].hh} → ${after[to].hh})`);
    check(painted.under0 === from && painted.under1 === to, `the rendered grid under the building changed ${painted.under0} → ${painted.under1}`);
    await A.screenshot({path: path.join(shots, 'planner-painted.png')});
    // undo / redo exact
    const drafted = await assignment(A);
    await A.keyboard.press('Control+z');
    check(await assignment(A) === painted.asg, 'Ctrl+Z restores the exact previous assignment');
    await A.keyboard.press('Control+Shift+z');
    check(await assignment(A) === drafted, 'Ctrl+Shift+Z redoes it');
    // the draft survives a reload
    await A.reload();
    await A.waitForFunction(() => document.body.dataset.ready === 'true');
    check(await assignment(A) === drafted, 'the draft survives a page reload (localStorage)');
  }

  // --- a stroke that leaves a grid in pieces: red, and save refused naming the grid
  {
    const asg = await assignment(A);
    const plan = await A.evaluate(() => {
      const V = window.__planner.V;
      // a building in the middle of grid g (no neighbour cell of another grid), and a grid far away
      for (let f = 0; f < V.nf; f++) {
        const g = V.faceGrid[f];
        if (g < 0 || V.faceItems[f].length !== 1) continue;
        if (V.nbrs[f].some(([o]) => V.faceGrid[o] !== g)) continue;
        const near = new Set();
        for (const [o] of V.nbrs[f]) for (const [q] of V.nbrs[o]) near.add(V.faceGrid[q]);
        const far = V.codes.findIndex((c, h) => h !== g && !near.has(h) && !V.locked.has(h));
        if (far >= 0) return {id: V.data.buildings[V.faceItems[f][0]].id, far: V.codes[far]};
      }
      return null;
    });
    if (check(plan, 'found a building inside a grid, away from another grid')) {
      await A.click(`#bars .bar[data-code="${plan.far}"]`);
      await A.keyboard.press('c');
      const at = await focus(A, plan.id);
      await A.mouse.click(at.x, at.y);
      await settled(A);
      const red = await A.evaluate(([x, y]) => window.__planner.map.queryRenderedFeatures([x, y], {layers: ['pieces']}).length, [at.lx, at.ly]);
      check(red > 0, `the split piece of ${plan.far} is drawn in red under the building`);
      await A.screenshot({path: path.join(shots, 'planner-pieces.png')});
      const nPlans = (await getJson(`/api/villages/${village}/plans`)).json.plans.length;
      await A.fill('#reason', '试一下');
      await A.click('#save');
      await A.waitForTimeout(500);
      const msg = await A.textContent('#messages');
      check(/不能保存/.test(msg) && msg.includes(plan.far), `save refused, naming the grid: "${msg.slice(0, 80)}"`);
      check((await getJson(`/api/villages/${village}/plans`)).json.plans.length === nPlans, 'no version was saved');
      await A.keyboard.press('Control+z');
      check(await assignment(A) === asg, 'undo removes the piece');
      await A.keyboard.press('b');
    }
  }

  // --- a locked grid does not change
  {
    const b0 = await bars(A);
    const codes = Object.keys(b0);
    const locked = painted ? painted.from : codes[0];
    const other = painted ? painted.to : codes[1];
    await A.click(`#bars .bar[data-code="${locked}"] .lock`);
    await A.click(`#bars .bar[data-code="${other}"]`);
    await A.fill('#radius', '150');
    const lockedIds = await A.evaluate((c) => Object.entries(window.__planner.assignment()).filter(([, g]) => g === c).map(([id]) => id), locked);
    const at = await focus(A, lockedIds[0], 16);
    await stroke(A, at, 20);
    const after = JSON.parse(await assignment(A));
    check(lockedIds.every((id) => after[id] === locked), `locked grid ${locked} kept all ${lockedIds.length} buildings under a brush of another grid`);
    check((await bars(A))[locked].hh === b0[locked].hh, 'its bar did not move');
    check((await bars(A))[locked].locked, 'its bar shows the lock');
    await A.screenshot({path: path.join(shots, 'planner-locked.png')});

    // --- rebalance: merge one unlocked grid into a neighbour (far over the band), then rebalance
    const merge = await A.evaluate((lockedCode) => {
      const V = window.__planner.V;
      for (let f = 0; f < V.nf; f++) {
        const g = V.faceGrid[f];
        if (g < 0 || V.locked.has(g)) continue;
        for (const [o] of V.nbrs[f]) {
          const h = V.faceGrid[o];
          if (h >= 0 && h !== g && !V.locked.has(h) && V.codes[h] !== lockedCode) return {from: V.codes[g], into: V.codes[h]};
        }
      }
      return null;
    }, locked);
    if (check(merge, 'two unlocked neighbouring grids to merge')) {
      await A.click(`#bars .bar[data-code="${merge.from}"]`);
      await A.keyboard.press('m');
      const pt = await A.evaluate((code) => {
        const P = window.__planner;
        const f = P.V.features.find((x) => x && x.properties.code === code);
        const p = P.map.project(f.properties.lp);
        const r = P.map.getCanvas().getBoundingClientRect();
        return {x: p.x + r.left, y: p.y + r.top, c: f.properties.lp};
      }, merge.into);
      await A.evaluate((c) => window.__planner.map.jumpTo({center: c}), pt.c);
      await settled(A);
      const pt2 = await A.evaluate((c) => { const P = window.__planner; const p = P.map.project(c); const r = P.map.getCanvas().getBoundingClientRect(); return {x: p.x + r.left, y: p.y + r.top}; }, pt.c);
      await A.mouse.click(pt2.x, pt2.y);
      await settled(A);
      const merged = await bars(A);
      check(!merged[merge.from] || merged[merge.from].hh === 0, `${merge.from} merged into ${merge.into} (${merged[merge.into].hh} households)`);
      const lockedBefore = JSON.parse(await assignment(A));
      await A.keyboard.press('r');
      await A.waitForFunction(() => /均衡：/.test(document.querySelector('#messages').textContent), null, {timeout: STEP_MS});
      await settled(A);
      const rb = await bars(A);
      const out = Object.entries(rb).filter(([c, b]) => c !== locked && b.hh > 0 && b.state !== 'within');
      check(out.length === 0, `after rebalance every unlocked grid is in band (out: ${JSON.stringify(out)}; "${await A.textContent('#messages')}")`);
      const now = JSON.parse(await assignment(A));
      check(Object.entries(lockedBefore).every(([id, g]) => (g === locked) === (now[id] === locked)), 'rebalance left the locked grid untouched');
      check(await A.evaluate(() => window.__planner.V.pieces.size) === 0, 'no grid in pieces after rebalance');
      await A.screenshot({path: path.join(shots, 'planner-rebalanced.png')});
    }
  }

  // --- save with a reason; `wangge plans` lists it; activate from the timeline; locate answers
  const savedDraft = JSON.parse(await assignment(A));
  await A.fill('#reason', '测试：边界楼栋调整');
  await A.click('#save');
  await A.waitForFunction(() => /已保存为版本/.test(document.querySelector('#messages').textContent), null, {timeout: STEP_MS});
  const listed = JSON.parse(execFileSync(bin, ['plans', '--village', village, '--json', '--db', store], {encoding: 'utf8'}));
  const mine = (Array.isArray(listed) ? listed : listed.plans || []).find((p) => p.author === 'alice' && p.reason === '测试：边界楼栋调整');
  check(mine && !mine.active, `wangge plans lists version ${mine?.version} by alice with the reason, not active yet`);
  if (mine) {
    await A.click(`#versions [data-activate="${mine.version}"]`);
    await A.waitForFunction(() => /已启用版本/.test(document.querySelector('#messages').textContent), null, {timeout: STEP_MS});
    // A building whose grid the saved draft changed (the painted one, unless rebalance moved it
    // back): after activation, locate at it answers its grid in the draft.
    const original = painted ? JSON.parse(painted.asg) : {};
    const movedId = [painted?.id, ...Object.keys(savedDraft)].find((id) => id && original[id] &&
      savedDraft[id] !== original[id] && !String(savedDraft[id]).startsWith('new:'));
    if (check(movedId, 'the saved draft moved a building into an existing grid')) {
      const b = await A.evaluate((id) => window.__planner.V.data.buildings.find((x) => x.id === id).position, movedId);
      const want = savedDraft[movedId];
      let loc = null;
      for (let i = 0; i < 20; i++) {
        loc = (await getJson(`/api/locate?lon=${b[0]}&lat=${b[1]}`)).json;
        if (loc?.grid?.code === want) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      check(loc?.grid?.code === want, `after activation /api/locate at ${movedId} answers its grid in the saved draft ${want} (got ${loc?.grid?.code}; was ${original[movedId]})`);
    }
  }

  // --- two browsers: the second saves first; the first gets a conflict with its message
  {
    const B = await open('bob', village);
    for (const [P, who] of [[B, 'bob'], [A, 'alice']]) {
      const c = (await borderBuildings(P))[who === 'bob' ? 0 : 1];
      await P.click(`#bars .bar[data-code="${c.to}"]`);
      await P.keyboard.press('c');
      const at = await focus(P, c.id);
      await P.mouse.click(at.x, at.y);
      await settled(P);
      if (await P.evaluate(() => window.__planner.V.pieces.size)) await P.keyboard.press('Control+z');
      await P.fill('#reason', `${who} 的修改`);
    }
    // B saves and activates first: A's base is no longer the active version (409).
    await B.check('#activate-now');
    await B.click('#save');
    await B.waitForFunction(() => /已保存为版本/.test(document.querySelector('#messages').textContent), null, {timeout: STEP_MS});
    await A.click('#save');
    await A.waitForSelector('#dialog[open]', {timeout: 15000}).catch(async () => console.log('no dialog; messages:', await A.textContent('#messages')));
    const text = await A.textContent('#dialog-text');
    check(/他人/.test(text) && /conflict/.test(text), `the first browser's save is a conflict: "${text.slice(0, 90)}"`);
    await A.screenshot({path: path.join(shots, 'planner-conflict.png')});
    await A.click('#dialog button[value="keep"]');
    await B.close();
  }

  // --- bring in a grid layer drawn elsewhere: the active plan's own grids as a town's GIS office
  // would hand them over (a zipped Shapefile in the CGCS2000 3° Gauss–Krüger zone, GBK attributes)
  {
    const C = await open('alice', village);
    const grids = (await getJson('/api/grids')).json.features.filter((f) => f.properties.village_code === village);
    const dir = path.join(shots, 'import');
    fs.rmSync(dir, {recursive: true, force: true});
    fs.mkdirSync(dir, {recursive: true});
    const src = path.join(dir, 'source.geojson');
    fs.writeFileSync(src, JSON.stringify({type: 'FeatureCollection', features: grids.map((g, i) => ({type: 'Feature',
      properties: {CODE: g.properties.code, 名称: `第${i + 1}网格`}, geometry: g.geometry}))}));
    const lon = grids[0].properties.label[0];
    const epsg = 4513 + Math.round(lon / 3) - 25; // CGCS2000 3° zone with the zone number on eastings
    execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', '-t_srs', `EPSG:${epsg}`, '-lco', 'ENCODING=GBK', path.join(dir, 'grids.shp'), src]);
    execFileSync('python3', ['-m', 'zipfile', '-c', path.join(dir, 'grids.zip'), ...['shp', 'shx', 'dbf', 'prj', 'cpg'].map((e) => path.join(dir, `grids.${e}`)).filter((f) => fs.existsSync(f))]);
    const before = await C.evaluate(() => JSON.stringify(window.__planner.assignment()));
    const imported = async (file) => {
      await C.evaluate(() => { document.querySelector('#messages').textContent = ''; });
      await C.setInputFiles('#import', file);
      await C.waitForFunction(() => /导入/.test(document.querySelector('#messages').textContent) && !/正在读取/.test(document.querySelector('#messages').textContent), null, {timeout: STEP_MS});
      await settled(C);
      return C.textContent('#messages');
    };
    // a CRS that cannot be the file's: refused or found to miss the village; the draft unchanged
    await C.fill('#import-crs', 'EPSG:4490');
    let msg = await imported(path.join(dir, 'grids.zip'));
    check(/导入失败|没有一栋建筑/.test(msg) && msg.includes('grids.zip'), `a wrong coordinate system is told: ${msg.slice(0, 160)}`);
    check(await C.evaluate(() => JSON.stringify(window.__planner.assignment())) === before, 'a refused layer leaves the draft as it was');
    // not a layer at all
    msg = await imported({name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('网格 1 2 3')});
    check(/导入失败/.test(msg) && msg.includes('notes.txt'), `a file that is not a layer is refused, naming it: ${msg.slice(0, 160)}`);
    // the real thing: its CRS read from the .prj, codes from the upper-case DBF column
    await C.fill('#import-crs', '');
    msg = await imported(path.join(dir, 'grids.zip'));
    const same = await C.evaluate(() => {
      const a = window.__planner.assignment();
      const bs = window.__planner.V.data.buildings;
      return {n: bs.length, differ: bs.filter((b) => b.grid && a[b.id] !== b.grid).map((b) => `${b.id}:${b.grid}→${a[b.id]}`)};
    });
    check(msg.includes(`${grids.length} 个网格`) && /0 栋落在两个网格里/.test(msg) && /0 栋不在任何网格里/.test(msg),
      `the zipped Shapefile in EPSG:${epsg} is read: ${msg.slice(0, 160)}`);
    check(same.differ.length === 0, `every one of ${same.n} buildings lands in the grid it is in (${same.differ.slice(0, 5).join(', ')})`);
    await C.screenshot({path: path.join(shots, 'planner-imported.png')});
    // the draft as a GeoPackage (grids and buildings), read back with GDAL
    const [dl] = await Promise.all([C.waitForEvent('download'), C.click('[data-action="export-gpkg"]')]);
    const gpkg = path.join(dir, dl.suggestedFilename());
    await dl.saveAs(gpkg);
    const ogrJson = (layer) => JSON.parse(execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', gpkg, layer], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}));
    const page = await C.evaluate(() => ({codes: window.__planner.V.codes.filter((_, g) => window.__planner.V.features[g]?.geometry.coordinates.length),
      assignment: window.__planner.assignment()}));
    const gGrids = ogrJson('grids').features;
    const gBuildings = ogrJson('buildings').features;
    check(dl.suggestedFilename() === `${village}-draft.gpkg` && gGrids.map((f) => f.properties.code).sort().join() === page.codes.slice().sort().join(),
      `the exported GeoPackage ${dl.suggestedFilename()} holds the draft's ${gGrids.length} grids (GDAL reads them)`);
    const wrong = gBuildings.filter((f) => page.assignment[f.properties.id] !== f.properties.grid_code);
    check(gBuildings.length === Object.keys(page.assignment).length && wrong.length === 0 && gGrids.every((f) => /Polygon/.test(f.geometry.type) && Number.isInteger(f.properties.households)),
      `…and its ${gBuildings.length} buildings with their draft grid (${wrong.length} differ)`);
    // the two refusals above are 400s the browser logs as failed loads; anything else is an error
    const unexpected = C.errors.filter((e) => !/status of 400/.test(e));
    check(unexpected.length === 0 && C.errors.length === 2, `no page errors while importing but the two refusals (${C.errors.slice(0, 3).join(' | ')})`);
    await C.close();
  }

  // --- write routes without a user
  for (const [p, body] of [[`/api/villages/${village}/plans`, {base: base0, assignment: {}, reason: 'x'}], [`/api/villages/${village}/activate`, {version: base0, expect: base0}], ['/api/planner/layers?file=grids.geojson', {type: 'FeatureCollection', features: []}]]) {
    const r = await getJson(p, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)});
    check(r.status === 401 && r.json?.error, `anonymous POST ${p} → ${r.status} ${r.json?.error}`);
  }
  check(A.errors.length === 0, `no page errors (${A.errors.slice(0, 3).join(' | ')})`);
} catch (e) {
  failures.push(`exception: ${e.stack || e}`);
  console.log(e);
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`\n${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('planner: all checks passed');
