// The service worker of the field page (/field, scope /field): keeps the page, its scripts, the
// map library, the style, glyphs, sprites and every tile and grid file seen, so that after one
// visit the page opens and locates with no signal. Writes (POST) always go to the network: the
// page's outbox (IndexedDB) keeps what could not be sent.

const VERSION = 'wangge-field-v1';
const SHELL = [
  '/field', '/field/field.js', '/field/geo.js', '/field/outbox.js', '/field/field.css',
  '/field/manifest.json', '/field/icon.svg', '/app.js', '/vendor/maplibre-gl.js',
  '/vendor/maplibre-gl.css', '/tiles/style.json',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(VERSION).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

/** Network first (fresh when online), the cached copy when not. */
async function networkFirst(req) {
  const cache = await caches.open(VERSION);
  try {
    const res = await fetch(req);
    if (res.ok) cache.put(req, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(req, {ignoreVary: true});
    if (hit) return hit;
    throw e;
  }
}

/** Cache first (tiles and glyphs do not change within a revision), filled from the network. */
async function cacheFirst(req) {
  const cache = await caches.open(VERSION);
  const hit = await cache.match(req, {ignoreVary: true});
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) cache.put(req, res.clone());
  return res;
}

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  const p = url.pathname;
  if (p.startsWith('/tiles/fonts/') || /^\/tiles\/[^/]+\/\d+\/\d+\/\d+/.test(p) || p.startsWith('/vendor/')) {
    e.respondWith(cacheFirst(req));
  } else if (p === '/api/grids' || p === '/api/field/me' || p === '/api/events/categories'
      || p.startsWith('/tiles/') || p.startsWith('/field') || p === '/app.js') {
    e.respondWith(networkFirst(req));
  }
});
