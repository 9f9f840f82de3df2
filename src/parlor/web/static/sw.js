// Parlor's service worker. The server prepends `VERSION` (changes with any shell
// file) and `SHELL` (the URLs of the app shell) when it serves /sw.js.
//
// Caches the app shell only: never /api, the socket (/ws), media or anything from
// another origin. Navigations go to the network first (pages are never stale while
// online); offline, an app page gets the cached shell and anything else (an embed,
// say) gets the offline page. Shell files come from the cache of this version; a new
// version installs a new cache and drops the old ones on activate.
/* global VERSION, SHELL */
const CACHE = `parlor-shell-${VERSION}`;
const OFFLINE = '/static/offline.html';
// Offline, these paths get the offline page rather than the app shell.
const NOT_IN_SHELL = /^\/(embed|api|ws)(\/|$)/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('parlor-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(request, url));
  } else if (url.pathname.startsWith('/static/') && SHELL.includes(url.pathname)) {
    event.respondWith(shellFile(request));
  }
  // Everything else (the API, the socket, avatars, media) goes to the network untouched.
});

async function navigate(request, url) {
  try {
    return await fetch(request);
  } catch (err) {
    const cache = await caches.open(CACHE);
    if (!NOT_IN_SHELL.test(url.pathname)) {
      const shell = await cache.match('/');
      if (shell) return shell;
    }
    const offline = await cache.match(OFFLINE);
    if (offline) return offline;
    throw err;
  }
}

async function shellFile(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  return hit || fetch(request);
}
