// wangge 网格事件调度台 (the dispatcher's console, /events): the queue of new and overdue events, the
// chosen event on the map inside its grid with that grid's people, its details, photos and history,
// and buttons for the actions the server says are open to this caller now (GET /api/events/{id}
// `actions`: the flow's legal transitions filtered by the caller's rights; the page has no copy of
// the state machine). Polls the queue every 10 s. Everything comes from the serving binary.
//
// Tests read `window.__events`: {map, timing: {queueMs, shown: [ms], painted: [ms]}, selected}.

/* global maplibregl */
import {createMap, getJson, esc} from '/app.js';
import {initSettings} from '/events/settings.js';

/** How often the queue is fetched again. */
export const POLL_MS = 10_000;
/** The open states (what "全部在办" lists). */
const OPEN = 'reported,accepted,dispatched,handled,verified';
/** Labels of names the API sends (display only; the flow itself stays on the server). */
const STATE = {reported: '待受理', accepted: '已受理', dispatched: '处置中', handled: '待核查',
  verified: '已核查', archived: '已结案', evaluated: '已评价', returned: '已退回'};
const PRIORITY = {low: '低', normal: '一般', high: '紧急', urgent: '特急'};
const SOURCE = {worker: '网格员上报', hotline: '热线', resident: '群众上报', inspection: '巡查督查'};
const LEVEL = {grid: '网格', village: '村/社区', town: '镇/街道'};
const ROLE = {grid_leader: '网格长', grid_worker: '网格员', micro_leader: '微网格长', police: '社区民警'};
const DUE_COLOURS = {overdue: '#d93025', amber: '#f29900', ok: '#1a73e8', none: '#80868b'};

const $ = (s) => document.querySelector(s);
const S = {me: null, map: null, list: [], sig: '', selected: null, event: null, grid: null,
  villages: [], cats: new Map(), timer: null, busy: false};
const T = {queueMs: null, shown: [], painted: []};
window.__events = {timing: T, get map() { return S.map; }, get selected() { return S.event; }};

// ------------------------------------------------------------------ small helpers

const pad = (n) => String(n).padStart(2, '0');
function clock(t) {
  const d = new Date(t);
  return `${d.getMonth() + 1}月${d.getDate()}日 ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** A span of time in words: 5分钟, 3小时, 2天. */
function span(ms) {
  const m = Math.max(0, Math.round(ms / 60000));
  if (m < 60) return `${m}分钟`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}小时${m % 60 && h < 10 ? `${m % 60}分` : ''}`;
  return `${Math.floor(h / 24)}天`;
}
/** The deadline chip of an event: text and class. */
function dueChip(e, now = Date.now()) {
  if (!e.due_at || e.due === 'none') return {cls: 'none', text: STATE[e.state] || e.state};
  const left = Date.parse(e.due_at) - now;
  if (e.due === 'overdue') return {cls: 'overdue', text: `超期${span(-left)}`};
  return {cls: e.due, text: `剩${span(left)}`};
}
function toast(text, kind = 'info') {
  const t = $('#toast');
  t.textContent = text;
  t.className = kind;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 9000 : 5000);
}
/** fetch as JSON; an Error with `status` and the server's message on failure. */
async function send(url, method, body) {
  const r = await fetch(url, {method, credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', Accept: 'application/json'}, body: body && JSON.stringify(body)});
  const j = await r.json().catch(() => null);
  if (!r.ok) {
    const err = new Error((j && (j.error || j.message)) || `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return j;
}

// ------------------------------------------------------------------ login

async function whoAmI() {
  try {
    return await getJson('/api/session');
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}
function askLogin() {
  const d = $('#login');
  if (!d.open) d.showModal();
  $('#login-name').focus();
}
async function submitLogin(ev) {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    await send('/api/session', 'POST', {name: $('#login-name').value.trim(), password: $('#login-password').value});
  } catch (e) {
    $('#login-error').textContent = e.status === 401 ? '用户名或密码不对' : `登录失败：${e.message}`;
    return;
  }
  $('#login').close();
  $('#login-password').value = '';
  await begin();
}
function isDispatcher(me) {
  return me && (me.role === 'leader' || me.role === 'admin');
}

// ------------------------------------------------------------------ filters

/** Whether the caller's area covers village `code` (leaders: their towns and villages). */
function inArea(code) {
  const sc = S.me?.scope;
  if (!sc || S.me.role === 'admin') return true;
  return (sc.villages || []).includes(code) || (sc.towns || []).some((t) => code.startsWith(t));
}
/** The category filter (again after an admin saves the tree: the choice is kept if it still exists). */
async function fillCategories() {
  const tree = await getJson('/api/events/categories');
  const cat = $('#filters').elements.category;
  const keep = cat.value;
  cat.length = 1;
  S.cats.clear();
  const walk = (list, depth) => {
    for (const c of list) {
      S.cats.set(c.code, c.name);
      cat.add(new Option(`${'\u3000'.repeat(depth)}${c.name}`, c.code));
      walk(c.children || [], depth + 1);
    }
  };
  walk(tree, 0);
  cat.value = S.cats.has(keep) ? keep : '';
}
async function fillFilters() {
  const f = $('#filters');
  const [, villages] = await Promise.all([fillCategories(), getJson('/api/villages')]);
  S.villages = villages.features.map((v) => v.properties).filter((v) => inArea(v.code))
    .sort((a, b) => a.code.localeCompare(b.code));
  const vil = f.elements.village;
  vil.length = 1;
  for (const v of S.villages) vil.add(new Option(v.name || v.code, v.code));
}
async function villageChanged() {
  const f = $('#filters');
  const g = f.elements.grid;
  g.length = 1;
  g.disabled = !f.elements.village.value;
  if (f.elements.village.value) {
    const fc = await getJson(`/api/grids?village=${encodeURIComponent(f.elements.village.value)}`);
    for (const p of fc.features.map((x) => x.properties).sort((a, b) => a.code.localeCompare(b.code))) {
      g.add(new Option(`${p.code.slice(12)} ${p.name || ''}`.trim(), p.code));
    }
  }
  await refreshQueue();
}
function queueUrl() {
  const f = $('#filters').elements;
  const q = new URLSearchParams({limit: '500'});
  const st = f.state.value;
  if (st === 'open') q.set('state', OPEN);
  else if (st === 'overdue') q.set('overdue', 'true');
  else q.set('state', st);
  if (f.category.value) q.set('category', f.category.value);
  if (f.grid.value) q.set('grid', f.grid.value);
  else if (f.village.value) q.set('village', f.village.value);
  return `/api/events?${q}`;
}

// ------------------------------------------------------------------ the queue

/** New (reported) and overdue first, then the other open ones; the most pressing deadline first. */
function order(list) {
  const dueRank = {overdue: 0, amber: 1, ok: 2, none: 3};
  const first = (e) => (e.state === 'reported' || e.due === 'overdue' ? 0 : 1);
  const due = (e) => (e.due_at ? Date.parse(e.due_at) : Infinity);
  return [...list].sort((a, b) => first(a) - first(b) || (dueRank[a.due] ?? 4) - (dueRank[b.due] ?? 4)
    || due(a) - due(b) || Date.parse(a.reported_at) - Date.parse(b.reported_at));
}
function gridName(code) {
  if (!code) return '未定位';
  const v = S.villages.find((x) => code.startsWith(x.code));
  return `${v ? v.name : code.slice(0, 12)} ${code.slice(12)}号网格`;
}
function rowHtml(e, now) {
  const chip = dueChip(e, now);
  return `<div class="row${e.id === S.selected ? ' selected' : ''}" role="listitem" tabindex="0" data-id="${e.id}" data-state="${esc(e.state)}">
    <div class="what"><b class="title">${esc(e.title)}</b>
      <span class="cat">${esc(e.category_name || e.category)}</span>${e.priority === 'high' || e.priority === 'urgent' ? `<span class="prio">${PRIORITY[e.priority]}</span>` : ''}
      <small class="sub"><span class="num">${esc(e.number)}</span> · ${esc(gridName(e.grid))} · <span class="st">${esc(e.state_label || STATE[e.state])}</span></small></div>
    <span class="age">${span(now - Date.parse(e.reported_at))}</span>
    <span class="due ${chip.cls}">${esc(chip.text)}</span></div>`;
}
function renderQueue() {
  const now = Date.now();
  const list = order(S.list);
  const head = list.filter((e) => e.state === 'reported' || e.due === 'overdue');
  const rest = list.slice(head.length);
  const part = (title, items) => (items.length ? `<h3 class="part">${title}<small>${items.length}</small></h3>${items.map((e) => rowHtml(e, now)).join('')}` : '');
  $('#queue').innerHTML = list.length ? part('新报与超期', head) + part('其他事件', rest)
    : '<p class="empty">队列为空：没有符合筛选条件的事件。</p>';
  const count = (p) => S.list.filter(p).length;
  const set = (k, n) => { $(`[data-count="${k}"]`).textContent = String(n); };
  set('reported', count((e) => e.state === 'reported'));
  set('overdue', count((e) => e.due === 'overdue'));
  set('amber', count((e) => e.due === 'amber'));
  set('open', count((e) => OPEN.split(',').includes(e.state)));
  $('#queue-note').textContent = S.list.length >= 500 ? '只显示前 500 条，请用筛选缩小范围。' : '';
  const src = S.map?.getSource('queue');
  if (src) {
    src.setData({type: 'FeatureCollection', features: S.list.map((e) => ({type: 'Feature', id: e.id,
      geometry: {type: 'Point', coordinates: [e.lon, e.lat]}, properties: {id: e.id, due: e.due}}))});
  }
  if (T.queueMs === null) T.queueMs = performance.now();
}
async function refreshQueue() {
  let body;
  try {
    body = await getJson(queueUrl());
  } catch (e) {
    if (e.status === 401) { askLogin(); return; }
    $('#queue-note').textContent = `队列读取失败：${e.message}（稍后自动重试）`;
    return;
  }
  const list = body.events || [];
  const sig = JSON.stringify(list.map((e) => [e.id, e.version, e.due]));
  const d = new Date();
  $('#updated-at').textContent = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  S.list = list;
  if (sig !== S.sig || T.queueMs === null) {
    S.sig = sig;
    renderQueue();
  } else {
    // same events: ages and deadlines still move
    for (const row of document.querySelectorAll('#queue .row')) {
      const e = list.find((x) => String(x.id) === row.dataset.id);
      if (!e) continue;
      const chip = dueChip(e);
      row.querySelector('.age').textContent = span(Date.now() - Date.parse(e.reported_at));
      row.querySelector('.due').textContent = chip.text;
    }
  }
  const cur = S.event && list.find((e) => e.id === S.event.id);
  if (cur && cur.version !== S.event.version && !S.busy) await showEvent(S.event.id, {quiet: true});
}

// ------------------------------------------------------------------ the map

function addLayers(map) {
  const empty = {type: 'FeatureCollection', features: []};
  map.addSource('queue', {type: 'geojson', data: empty});
  map.addSource('event-grid', {type: 'geojson', data: empty});
  map.addSource('event-point', {type: 'geojson', data: empty});
  map.addLayer({id: 'event-grid-fill', type: 'fill', source: 'event-grid', paint: {'fill-color': '#f29900', 'fill-opacity': 0.12}});
  map.addLayer({id: 'event-grid-line', type: 'line', source: 'event-grid', paint: {'line-color': '#e8710a', 'line-width': 4}});
  map.addLayer({id: 'queue-points', type: 'circle', source: 'queue', paint: {
    'circle-radius': 6, 'circle-stroke-width': 1.5, 'circle-stroke-color': '#ffffff',
    'circle-color': ['match', ['get', 'due'], 'overdue', DUE_COLOURS.overdue, 'amber', DUE_COLOURS.amber, 'ok', DUE_COLOURS.ok, DUE_COLOURS.none]}});
  map.addLayer({id: 'event-point', type: 'circle', source: 'event-point', paint: {
    'circle-radius': 13, 'circle-color': '#c5221f', 'circle-stroke-width': 4, 'circle-stroke-color': '#ffffff'}});
  map.on('click', 'queue-points', (ev) => {
    const id = ev.features?.[0]?.properties?.id;
    if (id) select(Number(id));
  });
  map.on('mouseenter', 'queue-points', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'queue-points', () => { map.getCanvas().style.cursor = ''; });
}
async function startMap() {
  const map = await createMap('map', {hash: false, fadeDuration: 0});
  S.map = map;
  await new Promise((r) => (map.loaded() ? r() : map.once('load', r)));
  addLayers(map);
  try {
    const tj = await getJson('/tiles/grids.json');
    const b = tj.bounds;
    if (S.villages.length && S.me.role !== 'admin') {
      const codes = new Set(S.villages.map((v) => v.code));
      const fc = await getJson('/api/villages');
      const box = bbox(fc.features.filter((f) => codes.has(f.properties.code)).map((f) => f.geometry));
      if (box) return map.fitBounds(box, {padding: 40, animate: false});
    }
    if (Array.isArray(b)) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 40, animate: false});
  } catch (e) {
    console.warn(`map bounds: ${e.message}`);
  }
}
/** The bounds [[w, s], [e, n]] of geometries, or null. */
function bbox(geoms) {
  let b = null;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else c.forEach(walk);
  };
  for (const g of geoms) if (g) walk(g.coordinates);
  return b && [[b[0], b[1]], [b[2], b[3]]];
}
function showOnMap(e, grid) {
  const map = S.map;
  if (!map) return;
  map.getSource('event-point').setData({type: 'FeatureCollection', features: [{type: 'Feature',
    geometry: {type: 'Point', coordinates: [e.lon, e.lat]}, properties: {id: e.id, number: e.number}}]});
  const g = grid?.geometry;
  map.getSource('event-grid').setData({type: 'FeatureCollection', features: g
    ? [{type: 'Feature', geometry: g, properties: {code: grid.properties?.code || ''}}] : []});
  const box = g ? bbox([g]) : [[e.lon - 0.003, e.lat - 0.002], [e.lon + 0.003, e.lat + 0.002]];
  map.fitBounds(box, {padding: 90, maxZoom: 17, animate: false});
}

// ------------------------------------------------------------------ one event

function peopleHtml(grid) {
  const people = grid?.properties?.people || [];
  if (!people.length) return '<p class="muted">该网格暂无人员信息。</p>';
  return `<ul class="people">${people.map((p) => `<li><span class="role">${esc(ROLE[p.role] || p.role || '')}</span>
    ${esc(p.name)} ${p.phone ? `<a href="tel:${esc(p.phone)}">${esc(p.phone)}</a>` : ''}</li>`).join('')}</ul>`;
}
/** Who a key (a phone or a name) is among the grid's people: `赵网格员 139…`, else the key. */
function holder(key, grid) {
  if (!key) return '';
  const p = (grid?.properties?.people || []).find((x) => x.phone === key || x.name === key);
  return p && p.name !== key ? `${p.name} ${key}` : key;
}
function historyHtml(e, grid) {
  const items = (e.history || []).slice().reverse();
  return `<ol class="history" data-testid="history">${items.map((h) => `<li data-action="${esc(h.action)}">
    <div><b>${esc(h.label || h.action)}</b> <span class="who">${esc(h.who)}</span>
    <time>${esc(clock(h.at))}</time></div>
    <div class="muted">${h.from_state ? `${esc(STATE[h.from_state] || h.from_state)} → ` : ''}${esc(STATE[h.to_state] || h.to_state)}${h.level && h.level !== 'grid' ? `（${esc(LEVEL[h.level] || h.level)}）` : ''}${h.assignee ? ` · 处置人 ${esc(holder(h.assignee, grid))}` : ''}</div>
    ${h.reason ? `<div class="reason">原因：${esc(h.reason)}</div>` : ''}${h.note ? `<div class="note">${esc(h.note)}</div>` : ''}
    ${(h.photos || []).length ? `<div class="thumbs">${h.photos.map((p) => photoHtml(e, p)).join('')}</div>` : ''}</li>`).join('')}</ol>`;
}
function photoHtml(e, p) {
  const u = `/api/events/${e.id}/photos/${p}`;
  return `<a href="${u}" target="_blank" rel="noopener"><img src="${u}" alt="事件照片" loading="lazy"></a>`;
}
function assigneeOptions(grid) {
  const people = (grid?.properties?.people || []).filter((p) => p.role !== 'grid_leader');
  return people.map((p) => `<option value="${esc(p.phone || p.name)}">${esc(p.name)}（${esc(ROLE[p.role] || p.role)}${p.phone ? ` ${esc(p.phone)}` : ''}）</option>`).join('');
}
function actionsHtml(e, grid) {
  const offers = e.actions || [];
  if (!offers.length) return '<p class="muted">当前状态下您没有可执行的操作。</p>';
  return `<div class="buttons">${offers.map((o) => `<button type="button" class="act act-${esc(o.action)}" data-action="${esc(o.action)}">${esc(o.label)}</button>`).join('')}</div>
    <form id="act-form" hidden>
      <h4 id="act-title"></h4>
      <label data-need="assignee">派给 <select name="assignee_pick"><option value="">选择本网格人员…</option>${assigneeOptions(grid)}</select>
        <input name="assignee" placeholder="或输入姓名/手机号"></label>
      <label data-need="reason">原因 <input name="reason" placeholder="必填"></label>
      <label data-need="rating">评价 <select name="rating"><option value="5">5 很好</option><option value="4">4 好</option><option value="3">3 一般</option><option value="2">2 差</option><option value="1">1 很差</option></select></label>
      <label>备注 <input name="note" placeholder="可不填"></label>
      <div class="buttons"><button type="submit" class="primary">确定</button><button type="button" data-cancel>取消</button></div>
    </form>`;
}
function detailHtml(e, grid) {
  const chip = dueChip(e);
  const loc = e.location || {};
  const place = [gridName(e.grid), e.micro_grid ? `微网格 ${e.micro_grid.slice(15)}` : '', e.address || ''].filter(Boolean).join(' · ');
  const rows = [
    ['编号', `<span class="num">${esc(e.number)}</span>`],
    ['类别', esc(e.category_name || e.category)],
    ['优先级', esc(PRIORITY[e.priority] || e.priority)],
    ['来源', `${esc(SOURCE[e.source] || e.source)} · ${esc(e.reporter)}`],
    ['上报时间', esc(clock(e.reported_at))],
    ['层级', esc(LEVEL[e.level] || e.level)],
    ['位置', esc(place) + (loc.ambiguous ? ` <span class="warn">靠近网格边界（${esc((loc.near || []).map((g) => g.slice(12)).join('、'))}）</span>` : '')],
    ['处置人', esc(holder(e.assignee, grid) || '—')],
    ['本步时限', e.due_at ? `${esc(clock(e.due_at))} <span class="due ${chip.cls}">${esc(chip.text)}</span>` : '—'],
  ];
  return `<header class="ev-head"><h2 data-testid="event-title">${esc(e.title)}</h2>
      <span class="state" data-testid="event-state" data-state="${esc(e.state)}">${esc(e.state_label || STATE[e.state])}</span></header>
    <table class="facts">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
    ${e.description ? `<p class="desc">${esc(e.description)}</p>` : ''}
    <section class="actions" aria-label="操作"><h3>调度操作</h3>${actionsHtml(e, grid)}</section>
    <section><h3>网格人员 <small>${esc(e.grid || '')}</small></h3>${peopleHtml(grid)}</section>
    <section><h3>处置记录</h3>${historyHtml(e, grid)}</section>`;
}
async function loadGrid(code) {
  if (!code) return null;
  if (S.grid?.properties?.code === code) return S.grid;
  try {
    return await getJson(`/api/grids/${encodeURIComponent(code)}`);
  } catch (e) {
    console.warn(`grid ${code}: ${e.message}`);
    return null;
  }
}
async function showEvent(id, {quiet = false} = {}) {
  const e = await getJson(`/api/events/${id}`);
  const grid = await loadGrid(e.grid);
  if (S.selected !== id) return e; // another click came meanwhile
  S.event = e;
  S.grid = grid;
  $('#detail').innerHTML = detailHtml(e, grid);
  wireActions();
  if (!quiet) showOnMap(e, grid);
  for (const row of document.querySelectorAll('#queue .row')) row.classList.toggle('selected', row.dataset.id === String(id));
  return e;
}
async function select(id) {
  const t0 = performance.now();
  S.selected = id;
  try {
    await showEvent(id);
  } catch (e) {
    if (e.status === 401) return askLogin();
    toast(`读取事件失败：${e.message}`, 'error');
    return;
  }
  T.shown.push(performance.now() - t0);
  const map = S.map;
  if (map) {
    await new Promise((r) => {
      if (map.loaded() && !map.isMoving() && map.areTilesLoaded()) { map.once('idle', r); map.triggerRepaint(); } else map.once('idle', r);
      setTimeout(r, 8000);
    });
    T.painted.push(performance.now() - t0);
  }
}

// ------------------------------------------------------------------ actions

function wireActions() {
  const d = $('#detail');
  const form = d.querySelector('#act-form');
  for (const b of d.querySelectorAll('button.act')) {
    b.addEventListener('click', () => {
      const offer = (S.event.actions || []).find((o) => o.action === b.dataset.action);
      if (!offer) return;
      const needs = offer.needs || [];
      if (!needs.length && !['return', 'escalate', 'handle_in_grid'].includes(offer.action)) {
        act(offer, {});
        return;
      }
      form.hidden = false;
      form.dataset.action = offer.action;
      d.querySelector('#act-title').textContent = offer.label;
      for (const l of form.querySelectorAll('[data-need]')) l.hidden = !needs.includes(l.dataset.need);
      (form.querySelector('[data-need]:not([hidden]) select, [data-need]:not([hidden]) input') || form.elements.note).focus();
    });
  }
  if (!form) return;
  form.elements.assignee_pick.addEventListener('change', () => { form.elements.assignee.value = form.elements.assignee_pick.value; });
  form.querySelector('[data-cancel]').addEventListener('click', () => { form.hidden = true; });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const offer = (S.event.actions || []).find((o) => o.action === form.dataset.action);
    if (!offer) return;
    const f = form.elements;
    const extra = {note: f.note.value.trim()};
    const needs = offer.needs || [];
    if (needs.includes('assignee')) {
      extra.assignee = f.assignee.value.trim();
      if (!extra.assignee) return toast('请选择或输入处置人', 'error');
    }
    if (needs.includes('reason')) {
      extra.reason = f.reason.value.trim();
      if (!extra.reason) return toast('请填写原因', 'error');
    }
    if (needs.includes('rating')) extra.rating = Number(f.rating.value);
    act(offer, extra);
  });
}
async function act(offer, extra) {
  const e = S.event;
  S.busy = true;
  for (const b of document.querySelectorAll('#detail button')) b.disabled = true;
  try {
    await send(`/api/events/${e.id}/actions`, 'POST', {action: offer.action, expected_version: e.version, ...extra});
    toast(`已${offer.label}：${e.title}`, 'ok');
  } catch (err) {
    if (err.status === 409) toast('操作冲突：该事件刚被其他调度员处理过，已重新载入最新状态，请确认后再操作。', 'error');
    else if (err.status === 401) askLogin();
    else toast(`操作未成功：${err.message}`, 'error');
  } finally {
    S.busy = false;
  }
  await showEvent(e.id, {quiet: true}).catch((x) => toast(`读取事件失败：${x.message}`, 'error'));
  await refreshQueue();
}

// ------------------------------------------------------------------ start

async function begin() {
  S.me = await whoAmI();
  if (!S.me) return askLogin();
  $('#me').hidden = false;
  $('#me-name').textContent = `${S.me.name}（${{admin: '管理员', leader: '网格长', planner: '规划员', worker: '网格员', screen: '大屏'}[S.me.role] || S.me.role}）`;
  initSettings(S.me, {send, toast, onSaved: () => fillCategories().then(refreshQueue)});
  if (!isDispatcher(S.me)) {
    $('#queue').innerHTML = `<p class="empty">当前账号不是调度员：受理和派遣事件需要网格长或管理员账号。请退出后换一个账号登录。</p>`;
    return;
  }
  await fillFilters();
  await Promise.all([refreshQueue(), startMap().then(() => renderQueue())]);
  clearInterval(S.timer);
  S.timer = setInterval(refreshQueue, POLL_MS);
}

export function startConsole() {
  $('#login-form').addEventListener('submit', submitLogin);
  $('#login').addEventListener('cancel', (ev) => ev.preventDefault());
  $('#logout').addEventListener('click', async () => {
    await fetch('/api/session', {method: 'DELETE', credentials: 'same-origin'}).catch(() => null);
    location.reload();
  });
  const f = $('#filters');
  f.elements.village.addEventListener('change', villageChanged);
  for (const k of ['state', 'category', 'grid']) f.elements[k].addEventListener('change', refreshQueue);
  $('#queue').addEventListener('click', (ev) => {
    const row = ev.target.closest('.row');
    if (row) select(Number(row.dataset.id));
  });
  $('#queue').addEventListener('keydown', (ev) => {
    const row = ev.target.closest('.row');
    if (row && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); select(Number(row.dataset.id)); }
  });
  begin().catch((e) => toast(`启动失败：${e.message}`, 'error'));
}
