// The outbox (IndexedDB): patrol points, visits and event reports wait here until the server has
// answered them. An item leaves the outbox only after a 2xx answer (or a 4xx that says the item
// itself is wrong, kept aside in `rejected`), so nothing is lost; every kind is idempotent on the
// server (a patrol point by worker, instant and position; a visit or event by its client_id), so
// an item sent twice because its answer was lost is stored once.

const DB = 'wangge-field';
const STORE = 'outbox';
const REJECTED = 'rejected';

let dbp = null;
function db() {
  dbp = dbp || new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE, {keyPath: 'seq', autoIncrement: true});
      req.result.createObjectStore(REJECTED, {keyPath: 'seq'});
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbp;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Queues `body` of kind `kind` ('point', 'visit', 'event'). */
export async function put(kind, body) {
  const tx = (await db()).transaction(STORE, 'readwrite');
  tx.objectStore(STORE).add({kind, body, queued_at: Date.now()});
  await done(tx);
}

/** Every queued item of `kind`, oldest first. */
export async function list(kind) {
  const tx = (await db()).transaction(STORE, 'readonly');
  const req = tx.objectStore(STORE).getAll();
  await done(tx);
  return req.result.filter((x) => !kind || x.kind === kind);
}

/** Removes items (by seq); with `rejected`, keeps them aside with the server's reason. */
export async function remove(items, reason) {
  const tx = (await db()).transaction([STORE, REJECTED], 'readwrite');
  for (const it of items) {
    tx.objectStore(STORE).delete(it.seq);
    if (reason) tx.objectStore(REJECTED).put({...it, reason});
  }
  await done(tx);
}

/** How many items wait, per kind. */
export async function counts() {
  const all = await list();
  const c = {point: 0, visit: 0, event: 0};
  for (const x of all) c[x.kind] = (c[x.kind] || 0) + 1;
  return c;
}

const SENDERS = {
  point: {url: '/api/patrol/points', batch: 200},
  visit: {url: '/api/visits', batch: 50},
  event: {url: '/api/events', batch: 5},
};

let flushing = null;
let again = false;

/**
 * Sends what waits, kind by kind, in batches; one flush at a time (a call during a flush makes
 * it go round once more, for what was queued meanwhile). Returns `{sent, kept, reason, byKind}`:
 * items answered (per kind), items still waiting (offline, logged out, server down). A call
 * joining a running flush gets its outcome with nothing counted as sent by it (the first caller
 * counts them), so a count of sent items adds each once.
 */
export function flush() {
  if (flushing) {
    again = true;
    return flushing.then((r) => ({...r, sent: 0, byKind: {}}));
  }
  flushing = (async () => {
    const total = {sent: 0, kept: 0, reason: '', byKind: {}};
    do {
      again = false;
      const r = await flushAll();
      for (const [k, n] of Object.entries(r.byKind)) total.byKind[k] = (total.byKind[k] || 0) + n;
      Object.assign(total, {sent: total.sent + r.sent, kept: r.kept, reason: r.reason});
    } while (again && !total.reason);
    return total;
  })().finally(() => { flushing = null; });
  return flushing;
}

async function flushAll() {
  const out = {sent: 0, kept: 0, reason: '', byKind: {}};
  for (const [kind, s] of Object.entries(SENDERS)) {
    const items = await list(kind);
    for (let i = 0; i < items.length; i += s.batch) {
      const part = items.slice(i, i + s.batch);
      let res;
      try {
        res = await fetch(s.url, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify(part.map((x) => x.body)),
          credentials: 'same-origin',
        });
      } catch (e) {
        out.kept += items.length - i;
        out.reason = '无网络';
        break;
      }
      if (res.ok) {
        await remove(part);
        out.sent += part.length;
        out.byKind[kind] = (out.byKind[kind] || 0) + part.length;
      } else if (res.status === 400 || res.status === 413 || res.status === 422) {
        const j = await res.json().catch(() => ({}));
        await remove(part, j.error || `HTTP ${res.status}`);
      } else {
        // 401 (log in again), 403, 404 (no such route yet), 5xx: keep and try later
        out.kept += items.length - i;
        out.reason = res.status === 401 ? '需要重新登录' : `服务器 ${res.status}`;
        break;
      }
    }
  }
  return out;
}
