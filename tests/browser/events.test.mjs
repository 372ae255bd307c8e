// Headless-Chromium test of the dispatcher's console (/events) against a running wangge server on a
// store (users and grid people are added with the wangge binary):
//
//   node tests/browser/events.test.mjs http://127.0.0.1:PORT STORE.gpkg
//
// Driven as a person at 1920×1080: not logged in, the page asks for a login; a worker reports
// events through the real POST /api/events (one with a photo); the leader logs in and sees the
// report in the queue (number, category name, title, grid); clicking it draws the event's point and
// its grid's outline on the map (read back with map.queryRenderedFeatures), the grid's people and
// the photo; accept, then dispatch to the grid's worker: the state changes in GET /api/events/{id}
// and in the list; an illegal action through the API is refused (422 naming state and action); the
// history lists both actions with the leader's name; a second dispatcher acting first makes the
// page's click a conflict, shown and reloaded; a new report appears within one poll without a
// reload; a worker is told the page is for dispatchers; an admin edits the category tree and the
// time limits in the settings (a category in use cannot be deleted; a new category and a 1-hour
// limit hold for the next report). Times page load → queue rendered and
// click → event shown (median, p95 over 10 clicks) go to OUT_DIR/events-timing.json; screenshots
// OUT_DIR/events-*.png. Exits 1 with the failed checks listed.

import fs from 'node:fs';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = (process.argv[2] || '').replace(/\/+$/, '');
const store = process.argv[3];
if (!/^https?:\/\//.test(base) || !store) {
  console.error('usage: node events.test.mjs http://HOST:PORT STORE');
  process.exit(2);
}
const bin = process.env.WANGGE_BIN || path.resolve(here, '../../target/debug/wangge');
const outDir = process.env.OUT_DIR || path.resolve(here, '../../out/browser');
fs.mkdirSync(outDir, {recursive: true});
const STEP_MS = 60_000;
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
  return ok;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A 32×24 red PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAIAAAAUMWhjAAAAJElEQVR4nGM4EaBBU8QwasGoBaMWjFowasGoBaMWjFowNCwAAOj5wC7/fbJHAAAAAElFTkSuQmCC';

// ------------------------------------------------------------------ data and people

const api = async (p, init = {}) => {
  const r = await fetch(base + p, init);
  return {status: r.status, json: await r.json().catch(() => null)};
};
const grids = (await api('/api/grids')).json.features;
// Two grids of one village, each with a label point inside it.
const G = grids[Math.floor(grids.length / 3)];
const village = G.properties.village_code;
const H = grids.find((g) => g !== G && g.properties.village_code === village) || grids.find((g) => g !== G);
check(G && H, `grids ${G?.properties.code} and ${H?.properties.code} of village ${village}`);

const LEADER_PHONE = '13700137001';
const WORKER_PHONE = '13700137002';
const PASSWORD = 'events test password';
const csv = path.join(outDir, 'events-people.csv');
fs.writeFileSync(csv, `grid_code,role,name,phone\n${G.properties.code},grid_leader,王网格长,${LEADER_PHONE}\n${G.properties.code},grid_worker,赵网格员,${WORKER_PHONE}\n`);
execFileSync(bin, ['people', csv, '--db', store], {stdio: ['ignore', 'ignore', 'inherit']});
function addUser(name, role, extra) {
  try {
    execFileSync(bin, ['user', 'add', name, '--role', role, ...extra, '--password-stdin', '--db', store], {input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'pipe']});
  } catch (e) {
    if (!/taken/.test(String(e.stderr))) throw e;
  }
}
addUser('ev-worker', 'worker', ['--phone', WORKER_PHONE]);
addUser('ev-leader', 'leader', ['--village', village]);
addUser('ev-leader2', 'leader', ['--village', village]);
addUser('ev-admin', 'admin', []);
async function cookieOf(name) {
  const r = await fetch(`${base}/api/session`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name, password: PASSWORD})});
  check(r.ok, `${name} logs in (${r.status})`);
  return r.headers.get('set-cookie').split(';')[0];
}
const workerCookie = await cookieOf('ev-worker');
const leader2Cookie = await cookieOf('ev-leader2');
// The server sees the new people within one poll of the store.
for (let i = 0; i < 100; i++) {
  const g = await api(`/api/grids/${G.properties.code}`, {headers: {cookie: leader2Cookie}});
  if ((g.json?.properties?.people || []).some((p) => p.phone === WORKER_PHONE)) break;
  await sleep(300);
}

let seq = 0;
/** Reports an event as the worker (the real POST /api/events) at the label point of grid `g`. */
async function report(g, extra = {}) {
  seq += 1;
  const [lon, lat] = g.properties.label;
  const body = {client_id: `events-test-${Date.now()}-${seq}`, category: 'sanitation.rubbish', title: `垃圾堆放 测试${seq}`,
    description: `路边堆放建筑垃圾，第${seq}处`, lon, lat, priority: 'normal', ...extra};
  const r = await api('/api/events', {method: 'POST', headers: {cookie: workerCookie, 'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  check(r.status === 201, `worker reports event ${seq} (${r.status} ${r.json?.error || ''})`);
  return {...r.json.events[0], title: body.title};
}
const leaderApi = (cookie) => async (p, init = {}) => api(p, {...init, headers: {cookie, 'Content-Type': 'application/json', ...(init.headers || {})}});
const asLeader2 = leaderApi(leader2Cookie);

const ev1 = await report(G, {photos: [{type: 'image/png', data: PNG}], title: '垃圾堆放 有照片'});
ev1.title = '垃圾堆放 有照片';
check(ev1.grid === G.properties.code, `event ${ev1.number} is located to grid ${G.properties.code} (got ${ev1.grid})`);
const ev2 = await report(G);
const others = [];
for (let i = 0; i < 4; i++) others.push(await report(i % 2 ? G : H));

// ------------------------------------------------------------------ the console

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
});
const desk = {viewport: {width: 1920, height: 1080}, deviceScaleFactor: 1, locale: 'zh-CN'};
const errors = [];
async function newPage(ctx) {
  await ctx.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort('blockedbyclient')));
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (e) => errors.push(e.message));
  // 401 (before logging in) and 409 (the conflict) are answers the test asks for
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (401|409)/.test(m.text())) errors.push(m.text()); });
  return page;
}
const shot = async (page, name) => {
  await page.screenshot({path: path.join(outDir, name)});
  console.log(`     saved ${name}`);
};
const idle = (page) => page.evaluate(() => new Promise((r) => {
  const m = window.__events.map;
  if (!m) return r();
  m.once('idle', r);
  m.triggerRepaint();
  setTimeout(r, 8000);
}));
const stateOf = async (id) => (await asLeader2(`/api/events/${id}`)).json;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const timing = {};

try {
  // -------------------------------------------------- not logged in: a login prompt
  const ctx = await browser.newContext(desk);
  const page = await newPage(ctx);
  await page.goto(`${base}/events`);
  await page.waitForSelector('dialog#login[open]');
  check(await page.isVisible('#login-name'), 'not logged in: the login prompt shows');
  check((await page.locator('#queue .row').count()) === 0, 'not logged in: no queue is shown');
  await shot(page, 'events-login.png');
  await page.fill('#login-name', 'ev-leader');
  await page.fill('#login-password', 'wrong password');
  await page.click('#login-submit');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  check(/不对/.test(await page.textContent('#login-error')), `a wrong password is told: ${await page.textContent('#login-error')}`);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-submit');

  // -------------------------------------------------- the queue
  const row1 = page.locator(`#queue .row[data-id="${ev1.id}"]`);
  await row1.waitFor();
  const rowText = await row1.textContent();
  check(await page.isHidden('#open-settings'), 'a leader is not offered the event settings');
  check(rowText.includes(ev1.number) && rowText.includes('垃圾堆放') && rowText.includes(ev1.title) && rowText.includes(G.properties.code.slice(12)),
    `the reported event's row shows number, category name, title and grid: ${rowText.replace(/\s+/g, ' ').trim()}`);
  check(await page.isVisible('#me-name') && /ev-leader/.test(await page.textContent('#me-name')), 'the leader is shown as logged in');
  const firstPart = await page.locator('#queue .part').first().textContent();
  check(/新报与超期/.test(firstPart), `new and overdue events come first (${firstPart.trim()})`);
  timing.load_to_queue_ms = await page.evaluate(() => window.__events.timing.queueMs);
  check(Number.isFinite(timing.load_to_queue_ms), `page load → queue rendered: ${timing.load_to_queue_ms?.toFixed(0)} ms`);
  await idle(page);
  await shot(page, 'events-queue.png');

  // -------------------------------------------------- one event on the map in its grid
  await row1.click();
  await page.waitForFunction((t) => document.querySelector('[data-testid="event-title"]')?.textContent === t, ev1.title);
  await idle(page);
  const drawn = await page.evaluate(() => {
    const m = window.__events.map;
    const pts = m.queryRenderedFeatures({layers: ['event-point']});
    const lines = m.queryRenderedFeatures({layers: ['event-grid-line']});
    const c = pts[0]?.geometry.coordinates;
    return {points: pts.length, lines: lines.length, at: c, px: c ? m.project(c) : null, w: m.getCanvas().clientWidth, h: m.getCanvas().clientHeight};
  });
  const [lon, lat] = G.properties.label;
  check(drawn.points >= 1 && Math.abs(drawn.at[0] - lon) < 1e-5 && Math.abs(drawn.at[1] - lat) < 1e-5,
    `the map renders the event's point at its place (${drawn.points} rendered, at ${drawn.at})`);
  check(drawn.px && drawn.px.x > 0 && drawn.px.x < drawn.w && drawn.px.y > 0 && drawn.px.y < drawn.h, 'the event point is inside the visible map');
  check(drawn.lines >= 1, `the map renders the grid's outline (${drawn.lines} line features)`);
  const detail = await page.textContent('#detail');
  check(detail.includes('赵网格员') && detail.includes('王网格长') && detail.includes(WORKER_PHONE), "the grid's people are shown");
  await page.waitForFunction(() => [...document.querySelectorAll('#detail .thumbs img')].some((i) => i.complete && i.naturalWidth > 0));
  const photoOk = await page.evaluate(() => [...document.querySelectorAll('#detail .thumbs img')].map((i) => i.complete && i.naturalWidth));
  check(photoOk.length === 1, `the report's photo is shown (${photoOk.length})`);
  const offered = await page.$$eval('#detail button.act', (bs) => bs.map((b) => b.dataset.action));
  check(offered.includes('accept') && offered.includes('return') && !offered.includes('dispatch') && !offered.includes('archive'),
    `a reported event offers the flow's legal actions only: ${offered.join(', ')}`);
  await shot(page, 'events-detail.png');

  // -------------------------------------------------- accept, then dispatch to the grid's worker
  await page.click('#detail button.act-accept');
  await page.waitForSelector('[data-testid="event-state"][data-state="accepted"]');
  let s = await stateOf(ev1.id);
  check(s.state === 'accepted', `accept: GET /api/events/${ev1.id} says ${s.state}`);
  await page.click('#detail button.act-dispatch');
  await page.selectOption('#act-form select[name="assignee_pick"]', WORKER_PHONE);
  await page.fill('#act-form input[name="note"]', '请今天处理');
  await page.click('#act-form button[type="submit"]');
  await page.waitForSelector('[data-testid="event-state"][data-state="dispatched"]');
  s = await stateOf(ev1.id);
  check(s.state === 'dispatched' && s.assignee === WORKER_PHONE, `dispatch: the API says ${s.state}, held by ${s.assignee}`);
  check((await page.textContent('#detail .facts')).includes(`赵网格员 ${WORKER_PHONE}`), 'the page names the worker who holds it');
  await page.waitForFunction((id) => document.querySelector(`#queue .row[data-id="${id}"]`)?.dataset.state === 'dispatched', ev1.id);
  check(/处置中/.test(await row1.textContent()), 'the list row shows 处置中');
  const partOf = await row1.evaluate((r) => { let p = r.previousElementSibling; while (p && !p.classList.contains('part')) p = p.previousElementSibling; return p?.textContent || ''; });
  check(/其他事件/.test(partOf), `the dispatched event moved out of the new/overdue part (${partOf.trim()})`);
  // an illegal action through the API
  const bad = await asLeader2(`/api/events/${ev1.id}/actions`, {method: 'POST', body: JSON.stringify({action: 'accept', expected_version: s.version})});
  check(bad.status === 422 && /dispatched/.test(bad.json?.error) && /accept/.test(bad.json?.error), `accepting a dispatched event is refused: ${bad.status} ${bad.json?.error}`);
  // the history, in the API and on the page
  const hist = s.history.map((h) => `${h.action}:${h.who}`);
  check(hist.includes('accept:ev-leader') && hist.includes('dispatch:ev-leader'), `the API history has both actions by ev-leader: ${hist.join(' ')}`);
  const shown = await page.$$eval('[data-testid="history"] li', (ls) => ls.map((l) => `${l.dataset.action}:${l.querySelector('.who').textContent}`));
  check(shown.includes('accept:ev-leader') && shown.includes('dispatch:ev-leader') && shown.includes('report:ev-worker'), `the page's history lists them: ${shown.join(' ')}`);
  const histText = await page.textContent('[data-testid="history"]');
  check(histText.includes('受理') && histText.includes('派遣') && histText.includes('请今天处理'), 'the history is in Chinese with the note');
  await shot(page, 'events-dispatched.png');

  // -------------------------------------------------- two dispatchers: a conflict
  await page.click(`#queue .row[data-id="${ev2.id}"]`);
  await page.waitForFunction((t) => document.querySelector('[data-testid="event-title"]')?.textContent === t, ev2.title);
  // both press 受理 at once: the other dispatcher's request reaches the server first
  let first = null;
  await page.route(`**/api/events/${ev2.id}/actions`, async (route) => {
    const e2 = await stateOf(ev2.id);
    first = await asLeader2(`/api/events/${ev2.id}/actions`, {method: 'POST', body: JSON.stringify({action: 'accept', expected_version: e2.version})});
    await route.continue();
  });
  await page.click('#detail button.act-accept');
  await page.waitForSelector('#toast.error:not([hidden])');
  check(first?.status === 200, `the other dispatcher accepts first (${first?.status})`);
  await page.unroute(`**/api/events/${ev2.id}/actions`);
  const msg = await page.textContent('#toast');
  check(/冲突/.test(msg) && /重新载入/.test(msg), `the page tells the conflict: ${msg}`);
  await page.waitForSelector('[data-testid="event-state"][data-state="accepted"]');
  check(true, 'and reloads the event (now 已受理, accepted by the other)');
  const who = await page.$$eval('[data-testid="history"] li', (ls) => ls.map((l) => `${l.dataset.action}:${l.querySelector('.who').textContent}`));
  check(who.includes('accept:ev-leader2') && !who.includes('accept:ev-leader'), `only the first dispatcher's accept is kept: ${who.join(' ')}`);
  await shot(page, 'events-conflict.png');

  // -------------------------------------------------- a new report appears without a reload
  const t0 = Date.now();
  const fresh = await report(H, {title: '井盖缺失 新报', category: 'facility.manhole', priority: 'urgent', description: '人行道井盖缺失，已临时围挡'});
  await page.waitForSelector(`#queue .row[data-id="${fresh.id}"]`, {timeout: 25_000}).catch(() => null);
  const appeared = await page.locator(`#queue .row[data-id="${fresh.id}"]`).count();
  check(appeared === 1, `a new report shows in the queue without a reload after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // -------------------------------------------------- click → event shown, 10 clicks
  const ids = [ev1, ev2, ...others, fresh].map((e) => e.id);
  await page.evaluate(() => { window.__events.timing.shown.length = 0; window.__events.timing.painted.length = 0; });
  for (let i = 0; i < 10; i++) {
    const id = ids[i % ids.length];
    await page.click(`#queue .row[data-id="${id}"]`);
    await page.waitForFunction((n) => window.__events.timing.painted.length >= n, i + 1);
  }
  const t = await page.evaluate(() => window.__events.timing);
  timing.click_to_shown_ms = {median: pct(t.shown, 50), p95: pct(t.shown, 95), n: t.shown.length};
  timing.click_to_painted_ms = {median: pct(t.painted, 50), p95: pct(t.painted, 95), n: t.painted.length};
  check(t.shown.length === 10, `click → event shown: median ${timing.click_to_shown_ms.median?.toFixed(0)} ms, p95 ${timing.click_to_shown_ms.p95?.toFixed(0)} ms; map painted: median ${timing.click_to_painted_ms.median?.toFixed(0)} ms, p95 ${timing.click_to_painted_ms.p95?.toFixed(0)} ms`);

  // -------------------------------------------------- fits 1920×1080: no page scroll, nothing clipped
  const fit = await page.evaluate(() => {
    const over = [];
    for (const sel of ['#top h1', '#counts', '#updated', '#me', '#filters', '#legend', '.ev-head h2']) {
      const el = document.querySelector(sel);
      if (el && (el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > innerWidth)) over.push(sel);
    }
    return {sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight, over};
  });
  check(fit.sw <= 1920 && fit.sh <= 1080 && fit.over.length === 0, `fits 1920×1080 (${fit.sw}×${fit.sh}, clipped: ${fit.over.join(', ') || 'none'})`);
  await page.click(`#queue .row[data-id="${fresh.id}"]`);
  await idle(page);
  await shot(page, 'events-new.png');
  await ctx.close();

  // -------------------------------------------------- a worker is not a dispatcher
  const wctx = await browser.newContext(desk);
  await wctx.addCookies([{name: workerCookie.split('=')[0], value: workerCookie.split('=').slice(1).join('='), url: base}]);
  const wpage = await newPage(wctx);
  await wpage.goto(`${base}/events`);
  await wpage.waitForFunction(() => /不是调度员/.test(document.querySelector('#queue').textContent));
  check(true, 'a worker is told the console is for leaders and admins');
  await wctx.close();

  await adminSettings();
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
}

// -------------------------------------------------- an admin sets categories and time limits
async function adminSettings() {
  const adminCookie = await cookieOf('ev-admin');
  const asAdmin = leaderApi(adminCookie);
  const categories = async () => (await asAdmin('/api/events/categories')).json;
  const find = (tree, code) => tree.flatMap((c) => [c, ...(c.children || [])]).find((c) => c.code === code);
  const before = await categories();
  const actx = await browser.newContext(desk);
  await actx.addCookies([{name: adminCookie.split('=')[0], value: adminCookie.split('=').slice(1).join('='), url: base}]);
  const page = await newPage(actx);
  await page.goto(`${base}/events`);
  await page.click('#open-settings');
  await page.waitForSelector('dialog#settings[open] .cat-top[data-code="sanitation"]');
  const shownTops = await page.$$eval('#cat-tree .cat-top', (els) => els.map((e) => e.dataset.code));
  check(JSON.stringify(shownTops) === JSON.stringify(before.map((c) => c.code)), `the settings list the stored top categories: ${shownTops.join(' ')}`);

  // Deleting a category that has events is refused by the server; nothing is written.
  await page.click('.cat-row[data-code="sanitation.rubbish"] .del');
  await page.click('.cat-top[data-code="sanitation"] .add-child');
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .code-part', 'shed');
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .cat-name', '乱搭乱建');
  await page.click('#cat-save');
  await page.waitForFunction(() => document.querySelector('#cat-error').textContent.length > 0);
  const refused = await page.textContent('#cat-error');
  check(/未保存/.test(refused) && refused.includes('sanitation.rubbish'), `deleting a category in use is refused, naming it: ${refused}`);
  let now = await categories();
  check(find(now, 'sanitation.rubbish') && !find(now, 'sanitation.shed'), 'a refused save leaves the stored tree as it was');

  // A code that is not one is told on the page before anything is sent.
  await page.click('#cat-reset');
  await page.click('.cat-top[data-code="sanitation"] .add-child');
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .code-part', 'Bad Code');
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .cat-name', '坏编码');
  await page.click('#cat-save');
  await page.waitForFunction(() => document.querySelector('#cat-error').textContent.length > 0);
  check(/Bad Code/.test(await page.textContent('#cat-error')), `a bad code is named: ${await page.textContent('#cat-error')}`);

  // Add a child and rename another: saved, and the console's filter offers the new one.
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .code-part', 'shed');
  await page.fill('.cat-top[data-code="sanitation"] .kids .cat-row:last-child .cat-name', '乱搭乱建');
  await page.fill('.cat-row[data-code="dispute.family"] .cat-name', '婚姻家庭矛盾');
  await shot(page, 'events-settings-categories.png');
  await page.click('#cat-save');
  await page.waitForFunction(() => document.querySelector('#filters select[name="category"] option[value="sanitation.shed"]'));
  now = await categories();
  check(find(now, 'sanitation.shed')?.name === '乱搭乱建' && find(now, 'dispute.family')?.name === '婚姻家庭矛盾' && find(now, 'sanitation.rubbish'),
    'the new child and the new name are stored; the rest is kept');
  check(await page.isVisible('.cat-row[data-code="sanitation.shed"]'), 'the saved tree is shown again with the new code');
  const shed = (await asAdmin(`/api/events/${(await report(H, {category: 'sanitation.shed', title: '乱搭乱建 测试'})).id}`)).json;
  check(shed.category === 'sanitation.shed', `a worker reports in the new category (${shed.category})`);

  // Limits: one override through the page; the server's effective table shows it.
  await page.click('#settings [data-tab="limits"]');
  await page.waitForSelector('#limit-defaults td[data-priority="normal"][data-step="accept"]');
  const dflt = await page.textContent('#limit-defaults td[data-priority="normal"][data-step="accept"]');
  check(dflt === '2小时', `the default limit to accept a normal event is shown: ${dflt}`);
  await page.selectOption('#limit-view', 'sanitation.shed');
  await page.click('#limit-add');
  const row = page.locator('#limit-overrides tbody tr').last();
  check(await row.locator('.o-cat').inputValue() === 'sanitation.shed', 'a new override starts with the category being viewed');
  await row.locator('.o-prio').selectOption('normal');
  await row.locator('.o-step').selectOption('accept');
  await row.locator('.o-value').fill('0');
  await page.click('#limit-save');
  await page.waitForFunction(() => document.querySelector('#limit-error').textContent.length > 0);
  check(/大于 0/.test(await page.textContent('#limit-error')), `a zero limit is told: ${await page.textContent('#limit-error')}`);
  await row.locator('.o-value').fill('1');
  await page.click('#limit-save');
  await page.waitForFunction(() => document.querySelector('#limit-effective td[data-priority="normal"][data-step="accept"]')?.textContent === '1小时');
  const cell = await page.$eval('#limit-effective td[data-priority="normal"][data-step="accept"]', (td) => ({cls: td.className, other: td.parentElement.querySelector('[data-step="handle"]').className}));
  check(cell.cls.includes('changed') && !cell.other.includes('changed'), `the changed limit is marked, the others are not (${cell.cls}/${cell.other})`);
  const stored = (await asAdmin('/api/events/limits')).json.overrides;
  check(stored.some((o) => o.category === 'sanitation.shed' && o.priority === 'normal' && o.step === 'accept' && o.hours === 1),
    `the override is stored: ${JSON.stringify(stored)}`);
  await shot(page, 'events-settings-limits.png');
  const timed = (await asAdmin(`/api/events/${(await report(H, {category: 'sanitation.shed', title: '乱搭乱建 时限'})).id}`)).json;
  check(timed.step_limit_s === 3600, `a new event in that category has 1 h to be accepted (${timed.step_limit_s} s)`);

  // The server refuses what the page would not send, and a leader may not set either.
  const typo = await asAdmin('/api/events/limits', {method: 'PUT', body: JSON.stringify([{category: 'sanitaton', hours: 3}])});
  check(typo.status === 400 && /sanitaton/.test(typo.json?.error), `a limit for an unknown category is refused: ${typo.status} ${typo.json?.error}`);
  const byLeader = await asLeader2('/api/events/limits', {method: 'PUT', body: '[]'});
  check(byLeader.status === 403, `a leader may not set limits (${byLeader.status})`);
  check((await asAdmin('/api/events/limits')).json.overrides.length === stored.length, 'the refused writes left the limits as they were');
  await actx.close();
}
await browser.close();
check(errors.length === 0, `no page errors${errors.length ? `: ${errors.join(' | ')}` : ''}`);
fs.writeFileSync(path.join(outDir, 'events-timing.json'), `${JSON.stringify(timing, null, 2)}\n`);
console.log(`     timing ${JSON.stringify(timing)}`);
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('events console: all checks passed');
