// Path routing with history.pushState. A view is `(ctx) => void | Promise<void>`;
// ctx.onCleanup(fn) registers teardown, ctx.signal aborts when the route changes.

const routes = [];
let outlet = null;
let current = null; // {controller, cleanups}

export function route(pattern, view) {
  routes.push({ pattern, view });
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

export function start(el) {
  outlet = el;
  window.addEventListener('popstate', render);
  document.addEventListener('click', onLinkClick);
  render();
}

function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest && event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (/^\/(static|api|ws)\b/.test(url.pathname)) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search + url.hash);
}

export function render() {
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups.reverse()) {
      try { fn(); } catch (err) { console.error(err); }
    }
  }
  const cleanups = [];
  const controller = new AbortController();
  current = { controller, cleanups };
  const path = location.pathname.replace(/\/+$/, '') || '/';
  for (const { pattern, view } of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    outlet.replaceChildren();
    const ctx = {
      outlet,
      params: m.groups || {},
      query: new URLSearchParams(location.search),
      signal: controller.signal,
      onCleanup: (fn) => cleanups.push(fn),
    };
    Promise.resolve()
      .then(() => view(ctx))
      .catch((err) => {
        console.error(err);
        if (!controller.signal.aborted) showCrash(err);
      });
    return;
  }
  outlet.replaceChildren(notFound());
}

function notFound() {
  const wrap = document.createElement('section');
  wrap.className = 'card narrow';
  wrap.innerHTML = '<h1>Page not found</h1><p><a href="/">Back to the hallway</a></p>';
  return wrap;
}

function showCrash(err) {
  const wrap = document.createElement('section');
  wrap.className = 'card narrow';
  const h1 = document.createElement('h1');
  h1.textContent = 'Something went wrong';
  const p = document.createElement('p');
  p.setAttribute('role', 'alert');
  p.textContent = err && err.message ? err.message : String(err);
  const a = document.createElement('a');
  a.href = '/';
  a.textContent = 'Back to the hallway';
  wrap.append(h1, p, a);
  outlet.replaceChildren(wrap);
}
