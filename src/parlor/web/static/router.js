// Path routing with history.pushState. A view is `(ctx) => void | Promise<void>`;
// ctx.onCleanup(fn) registers teardown, ctx.signal aborts when the route changes.
import { h } from './dom.js';

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
  // /auth: the single sign-on routes redirect to the identity provider (a real navigation).
  if (/^\/(static|api|ws|auth)\b/.test(url.pathname)) return;
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
  document.title = 'Parlor'; // views that want more set their own
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
  document.title = 'Page not found · Parlor';
  return h('section', { class: 'card narrow page-message' },
    h('h1', {}, 'Page not found'),
    h('p', {}, 'There is nothing at this address. The link may be mistyped, or the page may have moved.'),
    h('a', { class: 'btn btn-primary', href: '/' }, 'Back to the hallway'));
}

function showCrash(err) {
  // The server could not be reached (offline, or the app shell came from the service
  // worker's cache): say so and offer to try again, not "something went wrong".
  if (err && err.code === 'network') {
    const again = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => location.reload() }, 'Try again');
    outlet.replaceChildren(h('section', { class: 'card narrow page-message offline' },
      h('h1', {}, 'You are offline'),
      h('p', { role: 'status' }, 'Parlor cannot reach its server. Check your connection, then try again.'),
      again));
    return;
  }
  outlet.replaceChildren(h('section', { class: 'card narrow' },
    h('h1', {}, 'Something went wrong'),
    h('p', { role: 'alert' }, err && err.message ? err.message : String(err)),
    h('a', { href: '/' }, 'Back to the hallway')));
}
