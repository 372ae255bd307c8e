// Drives the planner's editor for scripts/bench-planner (not a test: figures only).
//   node tests/browser/bench-planner.mjs http://HOST:PORT VILLAGE BUILDINGS
// Logs in as `bench`, opens the village, paints 30 brush strokes at spots spread over the map with
// grids picked in turn (timing each step to its first frame, and the page's own work), measures the
// cost of one unchanged frame, then unbalances the draft and rebalances 5 times, then saves 5
// one-building changes; reads the page's own timings (window.__plannerPerf, performance.now()) and
// prints median and p95 of each.

import {chromium} from 'playwright-core';

const [base, village, n] = process.argv.slice(2);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const line = (what, xs) => console.log(`${what}: median ${pct(xs, 50).toFixed(0)} ms, p95 ${pct(xs, 95).toFixed(0)} ms (n=${xs.length})`);
const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run']});
try {
  const page = await browser.newPage({viewport: {width: 1920, height: 1080}});
  page.setDefaultTimeout(120_000);
  await page.goto(`${base}/planner?village=${village}`);
  await page.fill('#login-name', 'bench');
  await page.fill('#login-password', 'bench password');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const info = await page.evaluate(() => ({ready: window.__plannerPerf.ready, parts: window.__plannerPerf.readyParts, grids: window.__planner.V.codes.length,
    buildings: window.__planner.V.data.buildings.length}));
  console.log(`village ${village}: ${info.buildings} buildings (asked ${n}), ${info.grids} grids`);
  console.log(`open → ready (data, cells, first render): ${info.ready.toFixed(0)} ms: GET /edit ${info.parts.fetch.toFixed(0)} ms, ` +
    `the page's own work ${info.parts.prepare.toFixed(0)} ms, the map's tiling and first frame ${info.parts.map.toFixed(0)} ms`);
  const box = await page.locator('#map').boundingBox();
  const codes = await page.$$eval('#bars .bar', (bs) => bs.map((b) => b.dataset.code));
  for (let i = 0; i < 30; i++) {
    await page.click(`#bars .bar[data-code="${codes[(i * 7) % codes.length]}"]`);
    const x = box.x + box.width * (0.2 + 0.6 * ((i * 0.618) % 1));
    const y = box.y + box.height * (0.2 + 0.6 * ((i * 0.382 + 0.3) % 1));
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let k = 1; k <= 8; k++) await page.mouse.move(x + k * 6, y + (k % 3) * 4);
    await page.mouse.up();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    if (await page.evaluate(() => window.__planner.V.pieces.size)) await page.keyboard.press('Control+z');
  }
  line('brush stroke → first frame drawn with it', await page.evaluate(() => window.__plannerPerf.strokes));
  line('brush stroke: the page\'s own work (cells moved, shapes traced, feature state, bars)', await page.evaluate(() => window.__plannerPerf.strokeWork));
  // What one frame of this map costs here with nothing changed (back-to-back repaints): on a machine
  // without a GPU (headless Chromium, software WebGL) this floor dominates the figure above.
  const floor = await page.evaluate(async () => {
    const map = window.__planner.map;
    const out = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await new Promise((r) => { map.once('render', r); map.triggerRepaint(); });
      out.push(performance.now() - t0);
    }
    return out;
  });
  line('one frame with nothing changed (back to back)', floor);
  // Rebalance of a draft that needs it: one grid merged into a neighbour (about twice the band),
  // five different pairs, as POST /api/villages/{code}/rebalance from the page.
  const rb = await page.evaluate(async (village) => {
    const V = window.__planner.V;
    const base = window.__planner.assignment();
    const out = [];
    for (let g = 0; out.length < 5 && g < V.codes.length; g += 7) {
      const f = V.faceGrid.findIndex((x) => x === g);
      const h = (V.nbrs[f] || []).map(([o]) => V.faceGrid[o]).find((x) => x >= 0 && x !== g);
      if (h === undefined) continue;
      const a = Object.fromEntries(Object.entries(base).map(([id, c]) => [id, c === V.codes[h] ? V.codes[g] : c]));
      const sum = (code) => V.data.buildings.reduce((t, b) => t + (a[b.id] === code ? b.households : 0), 0);
      const before = sum(V.codes[g]);
      const t0 = performance.now();
      const r = await fetch(`/api/villages/${village}/rebalance`, {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({assignment: a, locked: []})});
      const j = await r.json();
      const hh = (code) => (j.grids || []).find((x) => x.code === code)?.households;
      out.push({ms: performance.now() - t0, status: r.status, moved: (j.moved || []).length, added: (j.added || []).length, before, merged: hh(V.codes[g]), gone: hh(V.codes[h]), max: Math.max(...(j.grids || []).map((x) => x.households))});
    }
    return out;
  }, village);
  console.log(`rebalance answers: ${rb.map((r) => `${r.status}: ${r.moved} moved, ${r.added} added, merged grid ${r.before} → ${r.merged} hh, max ${r.max}`).join(', ')}`);
  line('rebalance of a merged pair (request → answer)', rb.map((r) => r.ms));
  // Saves as a planner saves: a small change, a reason, 保存新版本; timed from the POST to its
  // answer (the page then opens the saved version, not counted).
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const saves = [];
  for (let i = 0; saves.length < 5 && i < 40; i++) {
    // after a save the page opens the saved version and zooms to it: click once the map is still
    await page.waitForFunction(() => !window.__planner.map.isMoving() && window.__planner.map.loaded());
    const at = await page.evaluate((i) => {
      const P = window.__planner, V = P.V;
      const b = V.data.buildings[(i * 997) % V.data.buildings.length];
      const f = b.cell, g = V.faceGrid[f];
      const h = (V.nbrs[f] || []).map(([o]) => V.faceGrid[o]).find((x) => x >= 0 && x !== g);
      if (h === undefined) return null;
      const p = P.map.project(b.position);
      return {h, x: p.x, y: p.y};
    }, i);
    if (!at) continue;
    await page.evaluate((h) => window.__planner.setActive(h), at.h);
    await page.click('button[data-tool="click"]');
    await page.mouse.click(box.x + at.x, box.y + at.y);
    // a change that leaves a grid in pieces cannot be saved: take it back (the reason box may hold
    // the keyboard's focus, so not with Ctrl+Z)
    if (await page.evaluate(() => window.__planner.V.pieces.size)) { await page.evaluate(() => window.__planner.undo()); continue; }
    const n0 = await page.evaluate(() => window.__plannerPerf.save.length);
    await page.fill('#reason', `bench save ${i}`);
    await page.click('#save');
    await page.waitForFunction((n0) => window.__plannerPerf.save.length > n0 && /已保存/.test(document.querySelector('#messages').textContent), n0);
    saves.push(await page.evaluate(() => window.__plannerPerf.save.at(-1)));
  }
  line('save (POST plans → 201)', saves);
} finally {
  await browser.close();
}
