// The grid worker's phone page (/field): which grid am I in (located in the page against cached
// grids, so it works offline), my grids, patrol with watchPosition (points queued in IndexedDB
// and sent once), household visits due, and event reports. Vanilla JS; MapLibre is vendored.

import {loadStyle, CJK_FONTS} from '/app.js';
import {locateIn, circle, distance} from '/field/geo.js';
import * as outbox from '/field/outbox.js';

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const GRIDS_KEY = 'wangge.field.grids';   // {villageCode: [feature, …]}
const ME_KEY = 'wangge.field.me';         // GET /api/field/me, for offline
const DUE_KEY = 'wangge.field.due';       // the last due list, for offline
const TODAY_KEY = 'wangge.field.today';   // the last GET /api/field/today, for offline
const EVENTS_KEY = 'wangge.field.events'; // my open events, for offline
const OPEN_STATES = 'reported,accepted,dispatched,handled,verified,returned';
const POOR_ACCURACY_M = 150;
const SEND_EVERY = 20;                    // points queued before a send is tried
const SEND_INTERVAL_MS = 30_000;

const S = {me: null, fix: null, map: null, watch: null, wake: null, walked: 0, sent: 0, lastAnswer: null, track: []};
window.__field = S;

// ------------------------------------------------------------------ small helpers

function cachedGrids() {
  try { return JSON.parse(localStorage.getItem(GRIDS_KEY)) || {}; } catch { return {}; }
}
function allFeatures() {
  return Object.values(cachedGrids()).flat();
}
async function getJson(url) {
  const r = await fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'});
  const j = await r.json().catch(() => null);
  if (!r.ok) { const e = new Error(j?.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
  return j;
}
function clientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
/** Says whether the server answers: the browser's flag, then a probe the service worker never
 * answers from its cache (a captive Wi-Fi or a dead server is offline too). */
async function setOnline() {
  let on = navigator.onLine;
  if (on) on = await fetch('/api/health', {cache: 'no-store'}).then((r) => r.ok, () => false);
  $('#net').dataset.online = String(on);
  $('#net').textContent = on ? '在线' : '离线';
}
function tel(p) {
  const role = p.role === 'grid_leader' ? '网格长' : '网格员';
  if (!p.phone) return `<p>${role} ${esc(p.name)}</p>`;
  return `<a class="tel" href="tel:${esc(p.phone)}" data-role="${esc(p.role)}"><span>${role} ${esc(p.name)}</span><span class="num">${esc(p.phone)}</span><span class="call">拨打</span></a>`;
}

/** Fetches and keeps the grids of `village` (GeoJSON features with their leaders' phones). */
async function cacheVillage(village) {
  const fc = await getJson(`/api/grids?village=${encodeURIComponent(village)}`);
  const all = cachedGrids();
  all[village] = fc.features.map((f) => ({type: 'Feature', id: f.id, geometry: f.geometry, properties: {
    code: f.properties.code, name: f.properties.name, village_code: f.properties.village_code,
    village_name: f.properties.village_name, households: f.properties.households, people: f.properties.people,
  }}));
  localStorage.setItem(GRIDS_KEY, JSON.stringify(all));
  return all[village];
}

// ------------------------------------------------------------------ map

async function startMap() {
  if (!window.maplibregl) return;
  let style;
  try { style = await loadStyle('/tiles/style.json'); } catch { return; }
  const map = new maplibregl.Map({
    container: 'map', style, center: [120.97, 31.3], zoom: 12, attributionControl: false,
    localIdeographFontFamily: CJK_FONTS, pitchWithRotate: false, dragRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  S.map = map;
  map.on('load', () => {
    map.addSource('field-grids', {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
    map.addSource('field-me', {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
    // Under the basemap's labels, so grid names and codes stay readable over the outline and track.
    const labels = map.getStyle().layers.find((l) => l.type === 'symbol')?.id;
    map.addLayer({id: 'field-grids-line', type: 'line', source: 'field-grids', paint: {'line-color': '#0b3d91', 'line-width': 4}}, labels);
    map.addLayer({id: 'field-acc', type: 'fill', source: 'field-me', filter: ['==', ['get', 'kind'], 'accuracy'], paint: {'fill-color': '#1e88e5', 'fill-opacity': 0.18}}, labels);
    map.addLayer({id: 'field-track', type: 'line', source: 'field-me', filter: ['==', ['get', 'kind'], 'track'], paint: {'line-color': '#c62828', 'line-width': 4}}, labels);
    // the buildings I have not passed this month: key targets red, the rest orange
    map.addSource('field-unpassed', {type: 'geojson', data: unpassedGeojson(S.unpassed || [])});
    // zoomed out they are small so the buildings beneath still show; key targets on top
    map.addLayer({id: 'field-unpassed', type: 'circle', source: 'field-unpassed', layout: {'circle-sort-key': ['case', ['get', 'target'], 1, 0]}, paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, ['case', ['get', 'target'], 3.5, 2], 16, ['case', ['get', 'target'], 7, 5]],
      'circle-color': ['case', ['get', 'target'], '#c62828', '#ef6c00'],
      'circle-stroke-color': '#fff', 'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 13, 0.5, 16, 2],
    }});
    map.addLayer({id: 'field-dot', type: 'circle', source: 'field-me', filter: ['==', ['get', 'kind'], 'me'], paint: {'circle-radius': 8, 'circle-color': '#1e88e5', 'circle-stroke-color': '#fff', 'circle-stroke-width': 3}});
    document.body.dataset.map = 'ready';
    if (S.lastAnswer) drawAnswer(...S.lastAnswer);
  });
  map.on('click', (e) => answerFor(e.lngLat.lng, e.lngLat.lat, 10, 'map'));
}

function showPosition(lon, lat, acc) {
  if (S.reportPlace) return; // the report form is about a visit's place
  $('#r-position').textContent = `位置：${lon.toFixed(5)}, ${lat.toFixed(5)}（±${Math.round(acc)} 米）`;
}

/** The position, its accuracy circle and the patrol track so far (the map follows). */
function drawPosition(lon, lat, acc) {
  const m = S.map;
  if (!m || !m.getSource('field-me')) return;
  m.getSource('field-me').setData({type: 'FeatureCollection', features: [
    {type: 'Feature', properties: {kind: 'accuracy'}, geometry: circle(lon, lat, Math.max(acc, 3))},
    {type: 'Feature', properties: {kind: 'track'}, geometry: {type: 'LineString', coordinates: S.track.length > 1 ? S.track : [[lon, lat], [lon, lat]]}},
    {type: 'Feature', properties: {kind: 'me'}, geometry: {type: 'Point', coordinates: [lon, lat]}},
  ]});
  if (m.getZoom() < 15) m.jumpTo({center: [lon, lat], zoom: 16});
  else m.setCenter([lon, lat]);
}

function drawAnswer(lon, lat, acc, features) {
  S.lastAnswer = [lon, lat, acc, features];
  const m = S.map;
  if (!m || !m.getSource('field-me')) return;
  m.getSource('field-grids').setData({type: 'FeatureCollection', features});
  drawPosition(lon, lat, acc);
  m.jumpTo({center: [lon, lat], zoom: 16});
}

// ------------------------------------------------------------------ which grid am I in

function showAnswer(html) {
  $('#answer').innerHTML = html;
}

function answerHtml(hit, acc, source) {
  const {inside, near, ambiguous} = hit;
  const main = inside || near[0].feature;
  const p = main.properties;
  const mine = S.me?.grids?.find((g) => g.code === p.code);
  const people = mine ? mine.people : (p.people || []);
  const parts = [`<div class="card answer" data-testid="answer" data-code="${esc(p.code)}">`];
  if (ambiguous) {
    const names = near.map((n) => `${esc(n.feature.properties.name)}（${esc(n.feature.properties.code)}）`);
    const more = inside ? names : ['网格外', ...names];
    parts.push(`<p class="warn" data-testid="border">可能在 ${more.join(' 或 ')}：离边界不到 ${Math.round(acc)} 米</p>`);
  }
  parts.push(`<p class="grid">${esc(p.name)}</p><p class="code">${esc(p.code)}</p>`);
  parts.push(`<p class="village">${esc(p.village_name)}（${esc(p.village_code)}）${p.households ? ` · ${p.households} 户` : ''}</p>`);
  parts.push(`<p class="hint" id="micro"></p>`);
  const leaders = people.filter((x) => x.role === 'grid_leader');
  const workers = people.filter((x) => x.role !== 'grid_leader');
  parts.push(...leaders.map(tel), ...workers.map(tel));
  if (!leaders.length) parts.push('<p class="hint">未登记网格长。</p>');
  parts.push(`<p class="hint">定位精度约 ${Math.round(acc)} 米 · ${source === 'server' ? '服务器核对' : '本机判断'}</p></div>`);
  return parts.join('');
}

/** Answers for a position: in the page against cached grids; the server when none is cached. */
async function answerFor(lon, lat, acc, how) {
  S.fix = {lon, lat, acc, time: Date.now()};
  showPosition(lon, lat, acc);
  let hit = locateIn(allFeatures(), lon, lat, acc);
  let source = 'page';
  if (!hit.near.length && navigator.onLine) {
    try {
      const a = await getJson(`/api/locate?lon=${lon}&lat=${lat}`);
      if (a.village?.code) await cacheVillage(a.village.code);
      hit = locateIn(allFeatures(), lon, lat, acc);
      source = 'server';
    } catch { /* offline after all: say what we know */ }
  }
  if (!hit.near.length) {
    showAnswer(`<div class="card answer" data-testid="answer" data-code=""><p class="bad">不在已知的任何网格内。</p>${
      navigator.onLine ? '' : '<p class="hint">当前离线，只能判断已缓存的网格。</p>'}</div>`);
    drawAnswer(lon, lat, acc, []);
    return null;
  }
  showAnswer(answerHtml(hit, acc, source));
  drawAnswer(lon, lat, acc, hit.near.map((n) => n.feature));
  if (navigator.onLine) addMicroGrids(lon, lat);
  document.body.dataset.located = how || 'gps';
  return hit;
}

async function addMicroGrids(lon, lat) {
  try {
    const a = await getJson(`/api/locate?lon=${lon}&lat=${lat}`);
    const m = (a.micro_grids || []).map((x) => x.code).join('、');
    if (m && $('#micro')) $('#micro').textContent = `微网格 ${m}`;
  } catch { /* optional */ }
}

// Phones give a page their position only over HTTPS (or on the machine itself): on http://
// the browser refuses with code 1, which is not the worker's permission to give.
const INSECURE = '手机定位需要安全连接（HTTPS），本页是用 http:// 打开的。请改用管理员给的 https:// 地址打开本页（第一次使用先安装该地址下的证书 /ca.pem）。现在可以输入地址，或在地图上点一下。';

function explain(err) {
  if (!window.isSecureContext) err = {code: 'insecure', message: INSECURE};
  const why = {
    1: '没有获得定位权限。请在浏览器设置里允许本网站使用位置，或者输入地址、在地图上点一下。',
    2: '暂时无法取得位置（信号弱或定位关闭）。可以输入地址，或在地图上点一下。',
    3: '定位超时。可以再试一次，或输入地址、在地图上点一下。',
  }[err.code] || err.message || '无法定位。';
  $('#why-address').textContent = why;
  $('#why-address').className = 'warn';
  $('#why-address').dataset.code = String(err.code || 0);
  $('#address-form').hidden = false;
}

function locateMe() {
  if (!('geolocation' in navigator)) return explain({code: 2});
  $('#locate').textContent = '正在定位…';
  navigator.geolocation.getCurrentPosition(async (pos) => {
    $('#locate').textContent = '我在哪个网格？';
    const {longitude, latitude, accuracy} = pos.coords;
    if (accuracy > POOR_ACCURACY_M) explain({code: 2, message: `定位精度较差（约 ${Math.round(accuracy)} 米）。结果仅供参考，可输入地址核对。`});
    else $('#address-form').hidden = true;
    await answerFor(longitude, latitude, accuracy, 'gps');
  }, (err) => {
    $('#locate').textContent = '我在哪个网格？';
    explain(err);
  }, {enableHighAccuracy: true, timeout: 20_000, maximumAge: 0});
}

let typing = null;
function addressTyped() {
  clearTimeout(typing);
  const q = $('#address').value.trim();
  if (q.length < 2) { $('#candidates').innerHTML = ''; return; }
  typing = setTimeout(async () => {
    try {
      const a = await getJson(`/api/locate?address=${encodeURIComponent(q)}`);
      const cands = a.candidates || [];
      $('#candidates').innerHTML = cands.slice(0, 6).map((c, i) =>
        `<li><button type="button" data-i="${i}">${esc(c.address)}<br><small>网格 ${esc(c.grid_code || '—')} · 村 ${esc((c.grid_code || '').slice(0, 12))}</small></button></li>`).join('');
      $('#candidates').querySelectorAll('button').forEach((b) => b.addEventListener('click', () => {
        const c = cands[+b.dataset.i];
        answerFor(c.lon, c.lat, 5, 'address');
      }));
    } catch (e) {
      $('#candidates').innerHTML = `<li class="hint">${e.status === 404 ? '没有找到这个地址' : navigator.onLine ? esc(e.message) : '离线时不能查地址'}</li>`;
    }
  }, 300);
}

// ------------------------------------------------------------------ me, login, my grids

async function loadMe() {
  try {
    S.me = await getJson('/api/field/me');
    localStorage.setItem(ME_KEY, JSON.stringify(S.me));
  } catch (e) {
    if (e.status === 401 || e.status === 403) { S.me = null; localStorage.removeItem(ME_KEY); }
    else S.me = JSON.parse(localStorage.getItem(ME_KEY) || 'null'); // offline: who I was
  }
  $('#me-button').textContent = S.me ? `${S.me.name} · 退出` : '登录';
  renderMine();
  if (!S.me) { $('#today').innerHTML = ''; $('#my-events').innerHTML = ''; showUnpassed([]); }
  if (S.me && navigator.onLine) {
    const villages = [...new Set(S.me.grids.map((g) => g.village_code).filter(Boolean))];
    await Promise.all(villages.map((v) => cacheVillage(v).catch(() => null)));
    prefetchTiles().catch(() => { document.body.dataset.prefetch = 'failed'; });
  }
}

// ------------------------------------------------------------------ the map of my grids, offline

/** Zooms whose tiles are fetched ahead over my grids: the town at a glance down to house level. */
const PREFETCH_ZOOMS = [13, 14, 15, 16, 17];
/** Tiles fetched ahead at most (a few MB): a worker's grids need a few dozen per layer. */
const PREFETCH_MAX = 800;

/** Whether the service worker controls the page (on a first visit it takes over once active). */
async function controlled() {
  const sw = navigator.serviceWorker;
  if (!sw) return false;
  if (sw.controller) return true;
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  await Promise.race([sw.ready, wait(10_000)]);
  if (!sw.controller) await Promise.race([new Promise((r) => sw.addEventListener('controllerchange', r, {once: true})), wait(5_000)]);
  return !!sw.controller;
}

/** Tiles `[z, x, y]` covering the lon/lat box `b` ([w, s, e, n]) at zoom `z`. */
function tilesOver(b, z) {
  const n = 2 ** z;
  const x = (lon) => Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
  const y = (lat) => {
    const r = (lat * Math.PI) / 180;
    return Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)));
  };
  const out = [];
  for (let tx = x(b[0]); tx <= x(b[2]); tx++) for (let ty = y(b[3]); ty <= y(b[1]); ty++) out.push([z, tx, ty]);
  return out;
}

/** Fetches every basemap tile over my grids (a tenth around them) at PREFETCH_ZOOMS, so the map
 * of where I patrol draws with no signal: the service worker keeps each tile it passes on. */
async function prefetchTiles() {
  if (!(await controlled())) { document.body.dataset.prefetch = 'no-worker'; return; }
  const mine = new Set(S.me.grids.map((g) => g.code));
  const feats = allFeatures().filter((f) => mine.has(f.properties.code));
  if (!feats.length) { document.body.dataset.prefetch = 'none'; return; }
  const b = [180, 90, -180, -90];
  const walk = (c) => { if (typeof c[0] === 'number') { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); } else c.forEach(walk); };
  feats.forEach((f) => walk(f.geometry.coordinates));
  const [dx, dy] = [(b[2] - b[0]) / 10, (b[3] - b[1]) / 10];
  const box = [b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy];
  document.body.dataset.prefetch = 'running';
  const style = await getJson('/tiles/style.json');
  const urls = [];
  for (const src of Object.values(style.sources)) {
    if (src.type !== 'vector' || !src.url) continue;
    const tj = await getJson(src.url);
    const template = tj.tiles?.[0];
    if (!template) continue;
    const path = new URL(template, location.href).pathname.replace(/%7B/gi, '{').replace(/%7D/gi, '}');
    for (const z of PREFETCH_ZOOMS) {
      if (z < (tj.minzoom ?? 0) || z > (tj.maxzoom ?? 22)) continue;
      for (const [tz, tx, ty] of tilesOver(box, z)) urls.push(path.replace('{z}', tz).replace('{x}', tx).replace('{y}', ty));
    }
  }
  const todo = urls.slice(0, PREFETCH_MAX);
  let done = 0;
  const worker = async () => {
    while (todo.length) {
      const u = todo.shift();
      await fetch(u, {credentials: 'same-origin'}).catch(() => null);
      done += 1;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  S.prefetched = {tiles: done, of: urls.length, box};
  document.body.dataset.prefetch = 'done';
}

function renderMine() {
  if (!S.me) { $('#mine').innerHTML = '<p class="hint">登录后显示我的网格。</p>'; return; }
  if (!S.me.grids.length) { $('#mine').innerHTML = `<p class="hint">${esc(S.me.name)} 没有登记在任何网格。</p>`; return; }
  $('#mine').innerHTML = S.me.grids.map((g) => `<div class="card" data-mine="${esc(g.code)}">
    <p class="grid"><b>${esc(g.name)}</b></p><p class="code">${esc(g.code)} · ${esc(g.village_name)} · ${g.households} 户</p>
    ${g.people.map(tel).join('')}</div>`).join('');
}

function login() {
  if (S.me) {
    fetch('/api/session', {method: 'DELETE', credentials: 'same-origin'}).finally(() => { S.me = null; localStorage.removeItem(ME_KEY); loadMe(); });
    return;
  }
  $('#login').showModal();
}

async function submitLogin(ev) {
  ev.preventDefault();
  const r = await fetch('/api/session', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, credentials: 'same-origin',
    body: JSON.stringify({name: $('#login-name').value, password: $('#login-password').value}),
  }).catch(() => null);
  if (!r || !r.ok) {
    const j = r ? await r.json().catch(() => ({})) : {};
    $('#login-error').textContent = r ? (r.status === 401 ? '用户名或密码不对' : j.error || `登录失败 ${r.status}`) : '离线，不能登录';
    return;
  }
  $('#login').close();
  await loadMe();
  loadDue();
  send();
}

// ------------------------------------------------------------------ sending the outbox

async function refreshCounts() {
  const c = await outbox.counts();
  $('#p-walked').textContent = S.walked;
  $('#p-queued').textContent = c.point;
  $('#p-sent').textContent = S.sent;
  return c;
}

async function send() {
  if (!navigator.onLine) {
    const c = await refreshCounts();
    const waiting = c.point + c.visit + c.event;
    $('#patrol-note').textContent = waiting ? `${waiting} 条待发送（离线，联网后自动发送）` : '';
    return;
  }
  const r = await outbox.flush();
  S.sent += r.byKind.point || 0; // 已发送 counts patrol points, each once
  if (r.reason === '无网络') setOnline();
  const c = await refreshCounts();
  const waiting = c.point + c.visit + c.event;
  $('#patrol-note').textContent = waiting ? `${waiting} 条待发送${r.reason ? `（${r.reason}）` : ''}` : (S.sent ? '全部已发送' : '');
  return r;
}

// ------------------------------------------------------------------ patrol

async function wakeLock() {
  try {
    if ('wakeLock' in navigator && document.visibilityState === 'visible') S.wake = await navigator.wakeLock.request('screen');
  } catch { S.wake = null; }
}

async function onFix(pos) {
  const {longitude, latitude, accuracy} = pos.coords;
  const worker = S.me?.worker;
  if (!worker) return;
  await outbox.put('point', {
    worker, time: new Date(pos.timestamp).toISOString(), lon: +longitude.toFixed(7), lat: +latitude.toFixed(7),
    crs: 'wgs84', accuracy: Math.round(accuracy * 10) / 10,
  });
  S.walked += 1;
  S.fix = {lon: longitude, lat: latitude, acc: accuracy, time: pos.timestamp};
  showPosition(longitude, latitude, accuracy);
  S.track.push([longitude, latitude]);
  drawPosition(longitude, latitude, accuracy);
  const c = await refreshCounts();
  if (c.point >= SEND_EVERY && navigator.onLine) send();
}

let timer = null;
async function togglePatrol() {
  const b = $('#patrol');
  if (S.watch !== null) {
    navigator.geolocation.clearWatch(S.watch);
    S.watch = null;
    clearInterval(timer);
    if (S.wake) { S.wake.release().catch(() => {}); S.wake = null; }
    b.textContent = '开始巡查';
    b.dataset.on = 'false';
    await send();
    return;
  }
  if (!S.me) { $('#patrol-note').textContent = '请先登录，巡查轨迹记在自己名下。'; login(); return; }
  S.watch = navigator.geolocation.watchPosition(onFix, (err) => explainPatrol(err), {enableHighAccuracy: true, maximumAge: 0, timeout: 60_000});
  timer = setInterval(send, SEND_INTERVAL_MS);
  await wakeLock();
  b.textContent = '结束巡查';
  b.dataset.on = 'true';
  $('#patrol-note').textContent = S.wake ? '巡查中，屏幕保持常亮。' : '巡查中。请保持本页打开。';
}

function explainPatrol(err) {
  $('#patrol-note').textContent = !window.isSecureContext ? INSECURE.replace('现在可以输入地址，或在地图上点一下。', '')
    : err.code === 1 ? '没有定位权限，无法记录巡查轨迹。' : '暂时取不到位置，继续尝试中…';
}

// ------------------------------------------------------------------ visits

async function loadDue() {
  if (!S.me) return;
  const pos = S.fix ? `?lon=${S.fix.lon}&lat=${S.fix.lat}` : '';
  let due;
  try {
    due = await getJson(`/api/visits/due${pos}`);
    localStorage.setItem(DUE_KEY, JSON.stringify(due));
  } catch (e) {
    due = JSON.parse(localStorage.getItem(DUE_KEY) || 'null');
    if (!due) { $('#visits-head').textContent = e.status === 403 ? '没有可走访的网格。' : '离线，暂无走访清单。'; return; }
  }
  const queued = new Set((await outbox.list('visit')).map((x) => x.body.household));
  const list = due.list.filter((d) => !queued.has(d.household));
  $('#visits-head').textContent = `应走访 ${due.due} 户（共 ${due.households} 户），其中逾期 ${due.overdue} 户。${S.fix ? '由近到远：' : ''}`;
  $('#due').dataset.from = S.fix ? 'here' : '';
  $('#due').innerHTML = list.map((d) => `<li data-household="${esc(d.household)}">
    <button type="button" class="visit"><span class="addr">${esc(d.address || d.building)} · ${d.door} 户</span>
      <span class="meta">${d.tag ? `<b>${d.tag === 'help' ? '帮扶·每周' : '关注·半月'}</b> ` : '每月 '}${d.overdue ? '<span class="overdue">逾期</span> ' : ''}${d.distance_m != null ? `<span class="dist">${Math.round(d.distance_m)} 米</span>` : ''}</span>
    </button></li>`).join('');
  $('#due').querySelectorAll('li').forEach((li) => li.querySelector('button').addEventListener('click', () => openVisit(li, list.find((d) => d.household === li.dataset.household))));
}

function openVisit(li, d) {
  if (li.querySelector('form')) return;
  const f = document.createElement('form');
  f.className = 'card';
  f.innerHTML = `<label>发现情况<textarea name="found" rows="2" maxlength="500"></textarea></label>
    <label>处理情况<textarea name="done" rows="2" maxlength="500"></textarea></label>
    <label class="check"><input type="checkbox" name="problem"> 发现问题，需要上报</label>
    <button class="big primary" type="submit">记录走访</button>`;
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const visit = {
      client_id: clientId(), household: d.household, grid: d.grid, visited_at: new Date().toISOString(),
      lon: S.fix?.lon ?? d.lon, lat: S.fix?.lat ?? d.lat, found: f.found.value, done: f.done.value,
    };
    await outbox.put('visit', visit);
    li.remove();
    if (f.problem.checked) offerReport(visit, d);
    await send();
  });
  li.append(f);
}

/** After a visit that found a problem: one tap fills the report form at the visit's place. */
function offerReport(visit, d) {
  const where = d.address || d.building;
  $('#visit-offer').innerHTML = `<div class="card warn" data-testid="offer" data-household="${esc(visit.household)}">
    <p>走访 ${esc(where)} 发现问题：${esc(visit.found || '（未填写）')}</p>
    <button type="button" class="big primary" id="offer-report">上报为事件</button>
    <button type="button" class="big" id="offer-dismiss">不上报</button></div>`;
  $('#offer-dismiss').addEventListener('click', () => { $('#visit-offer').innerHTML = ''; });
  $('#offer-report').addEventListener('click', () => {
    S.reportPlace = {lon: visit.lon, lat: visit.lat, address: d.address || null, household: visit.household};
    $('#r-words').value = `入户走访 ${where}（${visit.household}）：${visit.found}`.slice(0, 500);
    $('#r-position').textContent = `位置：走访地点 ${where}（${(+visit.lon).toFixed(5)}, ${(+visit.lat).toFixed(5)}）`;
    $('#r-position').dataset.place = 'visit';
    $('#visit-offer').innerHTML = '';
    showTab('report');
  });
}

// ------------------------------------------------------------------ my grid today

const pct = (s) => (s == null ? '—' : `${Math.round(s * 1000) / 10}%`);
const hhmm = (t) => String(t).slice(11, 16);
const km = (m) => (Math.round(m / 100) / 10).toString();

function shareRow(name, key, today, month, counts) {
  const cell = (w, period) => `<td data-k="${key}" data-period="${period}">${w ? pct(w[key]) : '—'}${w ? `<small>${counts(w)}</small>` : ''}</td>`;
  return `<tr><td>${name}</td>${cell(today, 'today')}${cell(month, 'month')}</tr>`;
}

/** The unpassed buildings with a known point, as map points. */
function unpassedGeojson(list) {
  return {type: 'FeatureCollection', features: list.filter((u) => u.lon != null && u.lat != null).map((u) => ({
    type: 'Feature', geometry: {type: 'Point', coordinates: [u.lon, u.lat]}, properties: {id: u.id, target: !!u.target},
  }))};
}

/** Marks the unpassed buildings on the map (now, or when the map has loaded). */
function showUnpassed(list) {
  S.unpassed = list;
  S.map?.getSource('field-unpassed')?.setData(unpassedGeojson(list));
}

/** Centres the map on an unpassed building of the list. */
function goToUnpassed(id) {
  const u = (S.unpassed || []).find((x) => x.id === id);
  if (!u || u.lon == null || !S.map) return;
  S.map.easeTo({center: [u.lon, u.lat], zoom: Math.max(S.map.getZoom(), 17), duration: 400});
  document.querySelector('main').scrollTop = 0;
}

function renderToday(t, stale) {
  const names = Object.fromEntries((S.me?.grids || []).map((g) => [g.code, g.name]));
  const grids = t.grids.map((g) => `<div class="today-grid" data-grid="${esc(g.code)}" data-state="${esc(g.state)}">
      <p class="gname">${esc(names[g.code] || g.code)}</p>
      <span class="state" data-state="${esc(g.state)}">${esc(g.state_zh)}</span>
      <ul class="times">${g.patrols.map((p, i) => `<li data-start="${esc(p.start)}">第 ${i + 1} 次 ${hhmm(p.start)}–${hhmm(p.end)} · ${p.points} 个点${p.mine ? '' : '（同事）'}</li>`).join('')}</ul>
    </div>`).join('');
  const [d, m] = [t.me_today, t.me_month];
  const shares = m ? `<div class="card" data-testid="shares"><h2>我的覆盖率</h2>
      <table class="shares"><thead><tr><th></th><th>今日</th><th>本月</th></tr></thead><tbody>
      ${shareRow('重点目标', 'target_share', d, m, (w) => `${w.targets_passed}/${w.targets} 处`)}
      ${shareRow('建筑', 'building_share', d, m, (w) => `${w.buildings_passed}/${w.buildings} 栋`)}
      ${shareRow('道路', 'road_share', d, m, (w) => `${km(w.road_walked_m)}/${km(w.road_m)} 公里`)}
      ${shareRow('网格单元', 'cell_share', d, m, (w) => `${w.cells_visited}/${w.cells} 格`)}
      </tbody></table><p class="hint">巡查 今日 <b data-k="patrols" data-period="today">${d ? d.patrols : 0}</b> 次 · 本月 <b data-k="patrols" data-period="month">${m.patrols}</b> 次</p></div>` : '';
  const item = (u) => `<li data-id="${esc(u.id)}"><button type="button" class="go"${u.lon == null ? ' disabled' : ''}>${u.target ? '<span class="tgt">重点</span>' : ''}${esc(u.address || u.id)}${u.distance_m != null ? ` <span class="dist">${Math.round(u.distance_m)} 米</span>` : ''}</button></li>`;
  const first = t.unpassed.slice(0, 6);
  const rest = t.unpassed.slice(6);
  const who = t.passed_by === 'me' ? '我' : '网格';
  const unpassed = `<div class="card unpassed" data-testid="unpassed"><h2>本月${who}未经过</h2>
      <p>重点目标 <b data-k="targets_unpassed">${t.targets_unpassed}</b> 处 · 建筑 <b data-k="buildings_unpassed">${t.buildings_unpassed}</b> 栋${S.fix ? '，由近到远' : ''}</p>
      <ul>${first.map(item).join('')}</ul>
      ${rest.length ? `<details><summary>再看 ${rest.length} 处</summary><ul>${rest.map(item).join('')}</ul></details>` : ''}</div>`;
  showUnpassed(t.unpassed);
  const day = `${+t.day.slice(5, 7)}月${+t.day.slice(8, 10)}日`;
  $('#today').innerHTML = `<div class="card" data-testid="today" data-day="${esc(t.day)}"><h2>今日巡查 · ${day}${stale ? ' <span class="stale">离线，上次数据</span>' : ''}</h2>
    ${grids || '<p class="hint">没有登记为网格员的网格。</p>'}</div>${shares}${unpassed}`;
}

function renderEvents(list, stale) {
  const li = (e) => `<li data-number="${esc(e.number)}"><button type="button" class="ev-open" data-id="${esc(e.id)}"><b>${esc(e.number)}</b> ${esc(e.title)}<br>
    <span class="due" data-due="${esc(e.due)}">${esc(e.state_label)}${e.due === 'overdue' ? ' · 已超时' : e.due === 'amber' ? ' · 快到期' : ''}</span></button></li>`;
  $('#my-events').innerHTML = `<div class="card events" data-testid="events"><h2>我的待办事件 <b data-k="events">${list.length}</b> 件${stale ? ' <span class="stale">离线</span>' : ''}</h2>
    ${list.length ? `<ul>${list.slice(0, 20).map(li).join('')}</ul>` : '<p class="hint">没有未办结的事件。</p>'}</div>`;
}

/** My grid today and my open events: from the server, or the last ones kept when offline. */
async function loadToday() {
  if (!S.me) return;
  document.body.dataset.today = 'loading';
  const pos = S.fix ? `?lon=${S.fix.lon}&lat=${S.fix.lat}` : '';
  try {
    const t = await getJson(`/api/field/today${pos}`);
    localStorage.setItem(TODAY_KEY, JSON.stringify(t));
    renderToday(t, false);
  } catch {
    const t = JSON.parse(localStorage.getItem(TODAY_KEY) || 'null');
    if (t) renderToday(t, true); else $('#today').innerHTML = '<p class="hint">离线，暂无今日巡查情况。</p>';
  }
  try {
    const e = await getJson(`/api/events?state=${OPEN_STATES}`);
    localStorage.setItem(EVENTS_KEY, JSON.stringify(e.events));
    renderEvents(e.events, false);
  } catch {
    const e = JSON.parse(localStorage.getItem(EVENTS_KEY) || 'null');
    if (e) renderEvents(e, true); else $('#my-events').innerHTML = '';
  }
  document.body.dataset.today = 'shown';
}

// ------------------------------------------------------------------ act on an event

/** Actions a phone offers: those needing an assignee or a rating belong to the console. */
const PHONE_ACTIONS = new Set(['handle_in_grid', 'reply', 'escalate', 'resubmit', 'accept', 'return', 'verify', 'reopen', 'archive']);
const EV = {event: null, action: null};

/** Opens an event's sheet: what it is, what happened to it, and the actions this worker may take
 * now. Acting needs the server (an action is checked against the event's current version), so
 * offline the sheet says so and offers none. */
async function openEvent(id) {
  const sheet = $('#event-sheet');
  $('#event-form').reset();
  Object.assign(EV, {event: null, action: null});
  $('#ev-act').hidden = true;
  $('#ev-result').textContent = '';
  delete $('#ev-result').dataset.ok;
  $('#ev-photo-button').textContent = '拍照或选择照片';
  if (!sheet.open) sheet.showModal();
  let e;
  try {
    e = await getJson(`/api/events/${encodeURIComponent(id)}`);
  } catch (err) {
    const kept = (JSON.parse(localStorage.getItem(EVENTS_KEY) || '[]')).find((x) => String(x.id) === String(id));
    $('#ev-title').textContent = kept ? `${kept.number} ${kept.title}` : '事件';
    $('#ev-meta').textContent = kept ? kept.state_label : '';
    $('#ev-desc').textContent = kept?.description || '';
    $('#ev-history').innerHTML = '';
    $('#ev-actions').innerHTML = `<p class="hint" data-testid="ev-offline">${err.status ? esc(err.message) : '离线：联网后才能办理事件。'}</p>`;
    return;
  }
  EV.event = e;
  $('#ev-title').textContent = `${e.number} ${e.title}`;
  $('#ev-meta').textContent = `${e.state_label} · ${e.category_name || e.category}${e.grid ? ` · 网格 ${e.grid}` : ''}${e.due === 'overdue' ? ' · 已超时' : e.due === 'amber' ? ' · 快到期' : ''}`;
  $('#ev-desc').textContent = e.description || '';
  $('#ev-history').innerHTML = (e.history || []).slice(-4).map((h) => `<li data-action="${esc(h.action)}">${esc(when(h.at))} ${esc(h.who)} ${esc(h.label)}${h.note ? `：${esc(h.note)}` : ''}</li>`).join('');
  const offers = (e.actions || []).filter((a) => PHONE_ACTIONS.has(a.action));
  $('#ev-actions').innerHTML = offers.length
    ? offers.map((a) => `<button type="button" data-action="${esc(a.action)}" data-needs="${esc(a.needs.join(','))}" aria-pressed="false">${esc(a.label)}</button>`).join('')
    : '<p class="hint">此事件现在没有需要我办理的步骤。</p>';
}

const when = (t) => new Date(t).toLocaleString('zh-CN', {month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false});

function chooseAction(button) {
  EV.action = button.dataset.action;
  document.querySelectorAll('#ev-actions button').forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
  const needsReason = button.dataset.needs.split(',').includes('reason');
  $('#ev-reason-box').hidden = !needsReason;
  $('#ev-reason').required = needsReason;
  $('#ev-note-label').textContent = EV.action === 'escalate' ? '为什么上报上级' : '处置情况';
  $('#ev-submit').textContent = `确认${button.textContent}`;
  $('#ev-act').hidden = false;
  $('#ev-note').focus();
}

async function submitAction(ev) {
  ev.preventDefault();
  const e = EV.event;
  if (!e || !EV.action) return;
  const result = $('#ev-result');
  const photo = await photoData($('#ev-photo').files[0]);
  const body = {
    action: EV.action, expected_version: e.version, note: $('#ev-note').value.trim(),
    photos: photo ? [{type: 'image/jpeg', data: photo}] : [],
  };
  if (!$('#ev-reason-box').hidden) body.reason = $('#ev-reason').value.trim();
  $('#ev-submit').disabled = true;
  let r;
  try {
    r = await fetch(`/api/events/${encodeURIComponent(e.id)}/actions`, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body), credentials: 'same-origin',
    });
  } catch {
    r = null;
  } finally {
    $('#ev-submit').disabled = false;
  }
  const j = r ? await r.json().catch(() => ({})) : {};
  if (r?.ok) {
    // the sheet shows the event as it now is: its state, its history and what comes next
    const done = `已办理：${j.state_label || j.state}。`;
    await openEvent(e.id);
    result.dataset.ok = 'true';
    result.textContent = done;
    loadToday();
    return;
  }
  result.dataset.ok = 'false';
  if (!r) result.textContent = '没有网络，未能办理：联网后再试。';
  else if (r.status === 409) {
    result.textContent = '此事件刚被别人更新，已重新载入，请再看一下。';
    await openEvent(e.id);
    result.dataset.ok = 'false';
    result.textContent = '此事件刚被别人更新，已重新载入，请再看一下。';
  } else result.textContent = j.error || `服务器 ${r.status}`;
}

// ------------------------------------------------------------------ report an event

const FALLBACK_CATEGORIES = [
  {code: 'safety', name: '安全隐患'}, {code: 'environment', name: '环境卫生'},
  {code: 'dispute', name: '矛盾纠纷'}, {code: 'facility', name: '设施损坏'}, {code: 'other', name: '其他'},
];

async function loadCategories() {
  let tree = null;
  try { tree = await getJson('/api/events/categories'); localStorage.setItem('wangge.field.categories', JSON.stringify(tree)); } catch {
    tree = JSON.parse(localStorage.getItem('wangge.field.categories') || 'null');
  }
  const flat = [];
  const walk = (nodes, prefix) => (nodes || []).forEach((n) => {
    if (n.children?.length) walk(n.children, `${prefix}${n.name}·`); else flat.push({code: n.code, name: prefix + n.name});
  });
  walk(Array.isArray(tree) && tree.length ? tree : FALLBACK_CATEGORIES, '');
  $('#r-category').innerHTML = flat.map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`).join('');
}

function photoData(file) {
  return new Promise((resolve) => {
    if (!file) return resolve(null);
    const img = new Image();
    img.onload = () => {
      const k = Math.min(1, 1280 / Math.max(img.width, img.height));
      const c = document.createElement('canvas');
      c.width = Math.round(img.width * k); c.height = Math.round(img.height * k);
      c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(img.src);
      resolve(c.toDataURL('image/jpeg', 0.7).split(',')[1]);
    };
    img.onerror = () => resolve(null);
    img.src = URL.createObjectURL(file);
  });
}

async function submitReport(ev) {
  ev.preventDefault();
  delete $('#r-result').dataset.queued; // the status of this report, not of the last one
  $('#r-result').textContent = '';
  const words = $('#r-words').value.trim();
  const cat = $('#r-category');
  const photo = await photoData($('#r-photo').files[0]);
  const body = {
    client_id: clientId(), category: cat.value, title: `${cat.selectedOptions[0]?.textContent || ''}：${words.slice(0, 20)}`,
    description: words, source: 'worker', priority: 'normal', reported_at: new Date().toISOString(),
    photos: photo ? [{type: 'image/jpeg', data: photo}] : [],
  };
  const place = S.reportPlace || S.fix;
  if (place) Object.assign(body, {lon: place.lon, lat: place.lat, crs: 'wgs84'});
  if (S.reportPlace?.address) body.address = S.reportPlace.address;
  await outbox.put('event', body);
  $('#report').reset();
  S.reportPlace = null;
  delete $('#r-position').dataset.place;
  if (S.fix) showPosition(S.fix.lon, S.fix.lat, S.fix.acc); else $('#r-position').textContent = '位置：尚未定位';
  $('#r-photo-name').textContent = '未选择照片';
  $('#r-photo-button').textContent = '拍照或选择照片';
  const r = await send();
  const left = (await outbox.counts()).event;
  $('#r-result').textContent = left ? `已保存在手机上，联网后自动上报（${r?.reason || '离线'}）。` : '已上报。';
  $('#r-result').dataset.queued = String(left);
  $('#r-result').scrollIntoView({block: 'end'});
}

// ------------------------------------------------------------------ start

function showTab(name) {
  document.querySelectorAll('.tab').forEach((t) => { t.dataset.active = String(t.id === `tab-${name}`); });
  document.querySelectorAll('#tabs button').forEach((b) => (b.dataset.tab === name ? b.setAttribute('aria-current', 'page') : b.removeAttribute('aria-current')));
  document.querySelector('main').scrollTop = 0; // a tab opens at its top
  if (name === 'visits') loadDue();
  if (name === 'mine') loadToday();
}

async function start() {
  await setOnline();
  window.addEventListener('online', () => { setOnline(); send(); });
  window.addEventListener('offline', setOnline);
  document.addEventListener('visibilitychange', () => { if (S.watch !== null && !S.wake) wakeLock(); });
  $('#locate').addEventListener('click', locateMe);
  $('#address').addEventListener('input', addressTyped);
  $('#address-form').addEventListener('submit', (e) => { e.preventDefault(); addressTyped(); });
  $('#me-button').addEventListener('click', login);
  $('#login-form').addEventListener('submit', submitLogin);
  $('#login-cancel').addEventListener('click', () => $('#login').close());
  $('#patrol').addEventListener('click', togglePatrol);
  $('#report').addEventListener('submit', submitReport);
  $('#today').addEventListener('click', (e) => { const b = e.target.closest('[data-testid=unpassed] li button.go'); if (b) goToUnpassed(b.closest('li').dataset.id); });
  $('#my-events').addEventListener('click', (e) => { const b = e.target.closest('button.ev-open'); if (b) openEvent(b.dataset.id); });
  $('#ev-actions').addEventListener('click', (e) => { const b = e.target.closest('button[data-action]'); if (b) chooseAction(b); });
  $('#event-form').addEventListener('submit', submitAction);
  $('#ev-close').addEventListener('click', () => $('#event-sheet').close());
  $('#ev-photo').addEventListener('change', () => {
    $('#ev-photo-button').textContent = $('#ev-photo').files[0] ? '已选照片，可重新拍照' : '拍照或选择照片';
  });
  $('#r-photo').addEventListener('change', () => {
    const f = $('#r-photo').files[0];
    $('#r-photo-name').textContent = f ? `已选照片：${f.name}` : '未选择照片';
    $('#r-photo-button').textContent = f ? '重新拍照或选择' : '拍照或选择照片';
  });
  document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/field-sw.js', {scope: '/field'}).catch(() => {});
  startMap();
  await Promise.all([loadMe(), loadCategories()]);
  await send();
  document.body.dataset.ready = 'true';
}

S.send = send;
S.answerFor = answerFor;
S.outbox = outbox;
S.distance = distance;
start();
