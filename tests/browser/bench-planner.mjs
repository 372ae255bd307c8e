// Drives the planner's editor for scripts/bench-planner (not a test: figures only).
//   node tests/browser/bench-planner.mjs http://HOST:PORT VILLAGE BUILDINGS
// Logs in as `bench`, opens the village, paints 30 brush strokes at spots spread over the map with
// grids picked in turn, then unbalances the draft and rebalances 5 times; reads the page's own
// timings (window.__plannerPerf, performance.now()) and prints median and p95 of each.

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
  const info = await page.evaluate(() => ({ready: window.__plannerPerf.ready, grids: window.__planner.V.codes.length,
    buildings: window.__planner.V.data.buildings.length}));
  console.log(`village ${village}: ${info.buildings} buildings (asked ${n}), ${info.grids} grids`);
  console.log(`open → ready (data, cells, first render): ${info.ready.toFixed(0)} ms`);
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
  line('brush stroke → map rendered', await page.evaluate(() => window.__plannerPerf.strokes));
  for (let i = 0; i < 5; i++) {
    await page.click('[data-action="rebalance"]');
    await page.waitForFunction((k) => window.__plannerPerf.rebalance.length > k, i);
    await page.keyboard.press('Control+z');
  }
  line('rebalance (request, answer applied)', await page.evaluate(() => window.__plannerPerf.rebalance));
} finally {
  await browser.close();
}
