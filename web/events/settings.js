// wangge 事件设置 (admins, in the dispatcher's console): the deployment's category tree and the time
// limits of each step. Edits are made on the page and saved whole with PUT /api/events/categories
// and PUT /api/events/limits; the server checks them (codes, duplicates, categories still used by
// stored events, limits naming unknown categories) and its message is shown as it gives it. The
// limits tab shows the saved limits of one category as the server computes them
// (GET /api/events/limits?category=): the page keeps no copy of the rules.
//
// Tests read `window.__settings`: {tree, limits} as last loaded from the server.

import {getJson, esc} from '/app.js';

const $ = (s, root = document) => root.querySelector(s);
const PRIORITY = {urgent: '特急', high: '紧急', normal: '一般', low: '低'};
const STEP = {accept: '受理', dispatch: '派遣', handle: '处置', verify: '核查', archive: '归档'};
/** A code part: what the server's dotted codes are made of. */
const CODE_PART = /^[a-z][a-z0-9_]*$/;
const D = {send: null, toast: null, onSaved: null, tree: [], limits: null};
window.__settings = {get tree() { return D.tree; }, get limits() { return D.limits; }};

/** Hours in words: 30分钟, 4小时, 3天. */
export function hoursText(h) {
  if (h < 1) return `${Math.round(h * 60)}分钟`;
  if (h >= 48 && h % 24 === 0) return `${h / 24}天`;
  return `${Number(h.toFixed(2))}小时`;
}

// ------------------------------------------------------------------ categories

function catRow(code, name, {top = false, fresh = false, parent = ''} = {}) {
  const codeCell = fresh
    ? `<span class="code fresh">${parent ? `<span class="pre" title="${esc(parent)}">${esc(parent)}.</span>` : ''}<input class="code-part" placeholder="编码" aria-label="分类编码"></span>`
    : `<span class="code">${esc(code)}</span>`;
  return `<div class="cat-row${top ? ' top' : ''}" data-code="${esc(code)}" data-parent="${esc(parent)}">
    ${codeCell}<input class="cat-name" value="${esc(name)}" placeholder="名称" aria-label="分类名称">
    ${top ? '<button type="button" class="add-child">添加子类</button>' : ''}
    <button type="button" class="del" title="删除此分类${top ? '及其子类' : ''}">删除</button></div>`;
}
function topHtml(c, fresh = false) {
  const kids = (c.children || []).map((k) => catRow(k.code, k.name, {parent: c.code})).join('');
  return `<div class="cat-top" data-code="${esc(c.code)}">${catRow(c.code, c.name, {top: true, fresh})}<div class="kids">${kids}</div></div>`;
}
function renderTree() {
  $('#cat-tree').innerHTML = D.tree.map((c) => topHtml(c)).join('');
  $('#cat-error').textContent = '';
}
/** The code of a row: its stored code, or its parent's and the typed part. */
function rowCode(row) {
  const part = $('.code-part', row);
  if (!part) return {code: row.dataset.code};
  const p = part.value.trim();
  if (!CODE_PART.test(p)) return {error: `编码“${p || '（空）'}”不对：用小写字母开头，只含小写字母、数字和下划线`, input: part};
  const parent = row.closest('.cat-top')?.querySelector('.cat-row.top');
  const parentCode = row.classList.contains('top') ? '' : rowCode(parent).code;
  if (parentCode === undefined) return {error: '请先填好所属大类的编码', input: part};
  return {code: parentCode ? `${parentCode}.${p}` : p};
}
/** The tree as edited, or an error naming the row. */
function treeFromPage() {
  const out = [];
  for (const top of document.querySelectorAll('#cat-tree .cat-top')) {
    const rows = [$('.cat-row.top', top), ...top.querySelectorAll('.kids .cat-row')];
    const cats = [];
    for (const row of rows) {
      const c = rowCode(row);
      const name = $('.cat-name', row).value.trim();
      if (c.error) return c;
      if (!name) return {error: `分类 ${c.code} 缺少名称`, input: $('.cat-name', row)};
      cats.push({code: c.code, name, children: []});
    }
    const [head, ...kids] = cats;
    head.children = kids;
    out.push(head);
  }
  return {value: out};
}
/** Reads a tab's edits (`{value}` or `{error, input}`), PUTs them to `url`, shows a refusal in `err`;
 * the server's answer, or null when nothing was saved. */
async function put(err, read, url, refused = (e) => `未保存：${e.message}`) {
  err.textContent = '';
  const r = read();
  if (r.error) {
    err.textContent = r.error;
    r.input?.focus();
    return null;
  }
  try {
    return await D.send(url, 'PUT', r.value);
  } catch (e) {
    err.textContent = refused(e);
    return null;
  }
}
async function saveTree() {
  const tree = await put($('#cat-error'), treeFromPage, '/api/events/categories', (e) => (e.status === 409
    ? `未保存：要删除的分类仍有事件或处置时限在用，请保留它们（或先在“处置时限”中改掉）。${e.message}` : `未保存：${e.message}`));
  if (!tree) return;
  D.tree = tree;
  renderTree();
  D.toast('事件分类已保存', 'ok');
  await D.onSaved?.();
  await fillLimitCats();
}
function wireTree() {
  const tree = $('#cat-tree');
  tree.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    const row = b.closest('.cat-row');
    if (b.classList.contains('del')) {
      (row.classList.contains('top') ? row.closest('.cat-top') : row).remove();
    } else if (b.classList.contains('add-child')) {
      const kids = $('.kids', row.closest('.cat-top'));
      kids.insertAdjacentHTML('beforeend', catRow('', '', {fresh: true, parent: row.dataset.code || '…'}));
      $('.cat-row:last-child .code-part', kids).focus();
    }
  });
  tree.addEventListener('input', () => { $('#cat-error').textContent = ''; });
  $('#cat-add-top').addEventListener('click', () => {
    tree.insertAdjacentHTML('beforeend', topHtml({code: '', name: '', children: []}, true));
    $('.cat-top:last-child .code-part', tree).focus();
  });
  $('#cat-reset').addEventListener('click', renderTree);
  $('#cat-save').addEventListener('click', saveTree);
}

// ------------------------------------------------------------------ limits

function options(map, blank) {
  return `${blank ? `<option value="">${blank}</option>` : ''}${Object.entries(map).map(([k, v]) => `<option value="${k}">${v}</option>`).join('')}`;
}
function catOptions() {
  const out = [];
  const walk = (list, depth) => list.forEach((c) => {
    out.push(`<option value="${esc(c.code)}">${'\u3000'.repeat(depth)}${esc(c.name)}（${esc(c.code)}）</option>`);
    walk(c.children || [], depth + 1);
  });
  walk(D.tree, 0);
  return out.join('');
}
function overrideRow(o = {}) {
  const tr = document.createElement('tr');
  tr.innerHTML = `<td><select class="o-cat" aria-label="分类">${catOptions()}</select></td>
    <td><select class="o-prio" aria-label="优先级">${options(PRIORITY, '全部')}</select></td>
    <td><select class="o-step" aria-label="环节">${options(STEP, '全部')}</select></td>
    <td><select class="o-kind" aria-label="方式"><option value="hours">限定小时数</option><option value="factor">默认时限的倍数</option></select></td>
    <td><input class="o-value" type="number" min="0" step="any" aria-label="数值"></td>
    <td><button type="button" class="del">删除</button></td>`;
  if (o.category) $('.o-cat', tr).value = o.category;
  $('.o-prio', tr).value = o.priority || '';
  $('.o-step', tr).value = o.step || '';
  $('.o-kind', tr).value = o.factor !== undefined ? 'factor' : 'hours';
  $('.o-value', tr).value = o.factor ?? o.hours ?? '';
  return tr;
}
function renderOverrides() {
  const body = $('#limit-overrides tbody');
  body.replaceChildren(...D.limits.overrides.map(overrideRow));
  $('#limit-error').textContent = '';
}
/** A priority × step table of hours; cells that differ from `base` are marked. */
function hoursTable(rows, base) {
  const at = (list, p, s) => list?.find((r) => r.priority === p && r.step === s)?.hours;
  const head = `<tr><th>优先级</th>${Object.values(STEP).map((s) => `<th>${s}</th>`).join('')}</tr>`;
  const body = Object.entries(PRIORITY).map(([p, pn]) => `<tr><th>${pn}</th>${Object.keys(STEP).map((s) => {
    const h = at(rows, p, s);
    const changed = base && h !== at(base, p, s);
    return `<td class="${changed ? 'changed' : ''}" data-priority="${p}" data-step="${s}">${h === undefined ? '—' : hoursText(h)}</td>`;
  }).join('')}</tr>`).join('');
  return `<table class="hours">${head}${body}</table>`;
}
async function showEffective() {
  const code = $('#limit-view').value;
  if (!code) return;
  const l = await getJson(`/api/events/limits?category=${encodeURIComponent(code)}`);
  $('#limit-effective').innerHTML = hoursTable(l.effective, l.defaults);
}
async function fillLimitCats() {
  const sel = $('#limit-view');
  const keep = sel.value;
  sel.innerHTML = catOptions();
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  for (const s of document.querySelectorAll('#limit-overrides .o-cat')) {
    const v = s.value;
    s.innerHTML = catOptions();
    s.value = v;
  }
  await showEffective();
}
/** The overrides as edited, or an error naming the row. */
function overridesFromPage() {
  const out = [];
  const rows = document.querySelectorAll('#limit-overrides tbody tr');
  for (const [i, tr] of [...rows].entries()) {
    const v = Number($('.o-value', tr).value);
    if (!$('.o-cat', tr).value) return {error: `第 ${i + 1} 条：请选择分类`, input: $('.o-cat', tr)};
    if (!(v > 0)) return {error: `第 ${i + 1} 条：数值须大于 0`, input: $('.o-value', tr)};
    const o = {category: $('.o-cat', tr).value};
    if ($('.o-prio', tr).value) o.priority = $('.o-prio', tr).value;
    if ($('.o-step', tr).value) o.step = $('.o-step', tr).value;
    o[$('.o-kind', tr).value] = v;
    out.push(o);
  }
  return {value: out};
}
async function saveLimits() {
  const limits = await put($('#limit-error'), overridesFromPage, '/api/events/limits');
  if (!limits) return;
  D.limits = limits;
  renderOverrides();
  await showEffective();
  D.toast('处置时限已保存（对此后开始的环节生效）', 'ok');
}
function wireLimits() {
  $('#limit-add').addEventListener('click', () => {
    const tr = overrideRow({category: $('#limit-view').value});
    $('#limit-overrides tbody').append(tr);
    $('.o-value', tr).focus();
  });
  $('#limit-overrides').addEventListener('click', (ev) => {
    if (ev.target.closest('button.del')) ev.target.closest('tr').remove();
  });
  $('#limit-overrides').addEventListener('input', () => { $('#limit-error').textContent = ''; });
  $('#limit-reset').addEventListener('click', renderOverrides);
  $('#limit-save').addEventListener('click', saveLimits);
  $('#limit-view').addEventListener('change', showEffective);
}

// ------------------------------------------------------------------ the dialog

function showTab(name) {
  for (const t of document.querySelectorAll('#settings [role="tab"]')) {
    const on = t.dataset.tab === name;
    t.setAttribute('aria-selected', String(on));
    $(`#${t.getAttribute('aria-controls')}`).hidden = !on;
  }
}
async function open() {
  [D.tree, D.limits] = await Promise.all([getJson('/api/events/categories'), getJson('/api/events/limits')]);
  renderTree();
  renderOverrides();
  $('#limit-defaults').innerHTML = hoursTable(D.limits.defaults);
  $('#settings').showModal();
  await fillLimitCats();
}

/** Shows the settings button to admins and wires the dialog. `deps`: {send, toast, onSaved}. */
export function initSettings(me, deps) {
  Object.assign(D, deps);
  const button = $('#open-settings');
  button.hidden = me?.role !== 'admin';
  if (button.hidden || button.dataset.wired) return;
  button.dataset.wired = '1';
  wireTree();
  wireLimits();
  for (const t of document.querySelectorAll('#settings [role="tab"]')) t.addEventListener('click', () => showTab(t.dataset.tab));
  $('#settings-close').addEventListener('click', () => $('#settings').close());
  button.addEventListener('click', () => open().catch((e) => D.toast(`设置载入失败：${e.message}`, 'error')));
}
