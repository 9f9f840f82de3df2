// /search: people and live rooms as you type (GET /api/search, docs/API.md "People").
// Debounced; only the answer to the latest question is shown; the query is kept in
// the address (?q=) so Back returns to the same results. Keyboard: ↓ from the field
// goes to the first result, ↑/↓ move between results, Escape clears the field.
// Also the top bar's "Search" link (mountSearchLink), shown while signed in.
import { get } from '../api.js';
import { h, fill, alertBox, avatar, icon, nameOf } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, onSessionChange } from '../session.js';
import { personRow } from './people.js';

const DEBOUNCE_MS = 200;
const QUERY_MAX = 50; // the API's limit (after trimming)

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export async function searchView({ outlet, query, signal, onCleanup }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    return;
  }
  const alert = alertBox();
  const input = h('input', {
    id: 'search-q', type: 'search', name: 'q', maxlength: QUERY_MAX, autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false', enterkeyhint: 'search',
    placeholder: 'Name, @username or room title',
    'aria-describedby': 'search-hint',
    'aria-controls': 'search-results',
  });
  const form = h('form', { class: 'search-form', role: 'search', novalidate: true },
    h('label', { for: 'search-q', class: 'search-label' }, 'Search people and rooms'),
    h('div', { class: 'search-box' }, icon('search'), input));
  const hint = h('p', { id: 'search-hint', class: 'muted search-hint' },
    'Results appear as you type. Press ↓ to move to them.');
  const status = h('p', { class: 'muted search-status', role: 'status' });
  const results = h('div', { id: 'search-results', class: 'search-results' });
  fill(outlet, h('section', { class: 'search card', 'aria-labelledby': 'search-h' },
    h('h1', { id: 'search-h' }, 'Search'),
    form, hint, alert.el, status, results));

  let timer = null;
  let asked = 0; // the latest question; older answers are dropped
  let shown = null; // the query whose results are on screen

  async function run(raw) {
    clearTimeout(timer);
    const q = raw.trim();
    keepInAddress(q);
    if (!q) {
      asked += 1;
      shown = null;
      alert.clear();
      status.textContent = '';
      fill(results);
      return;
    }
    if (q === shown) return;
    const question = ++asked;
    try {
      const answer = await get(`/search?q=${encodeURIComponent(q)}`);
      if (signal.aborted || question !== asked) return;
      shown = q;
      alert.clear();
      render(q, answer);
    } catch (err) {
      if (signal.aborted || question !== asked) return;
      alert.show(err.message);
    }
  }

  function render(q, { people = [], rooms = [] }) {
    status.textContent = people.length || rooms.length
      ? `${plural(people.length, 'person', 'people')} and ${plural(rooms.length, 'live room', 'live rooms')} for “${q}”`
      : `Nobody and no live room matches “${q}”.`;
    fill(results,
      people.length ? h('h2', { id: 'people-h' }, 'People') : null,
      people.length
        ? h('ul', { class: 'person-list', 'aria-labelledby': 'people-h' }, people.map((p) => personRow(p, { alert })))
        : null,
      rooms.length ? h('h2', { id: 'rooms-h' }, 'Live rooms') : null,
      rooms.length ? h('ul', { class: 'search-rooms', 'aria-labelledby': 'rooms-h' }, rooms.map(roomRow)) : null);
  }

  function keepInAddress(q) {
    const next = q ? `/search?q=${encodeURIComponent(q)}` : '/search';
    if (location.pathname + location.search !== next) history.replaceState(null, '', next);
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value), DEBOUNCE_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(input.value);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      const first = resultLinks()[0];
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === 'Escape' && input.value) {
      event.preventDefault();
      input.value = '';
      run('');
    }
  });
  results.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const links = resultLinks();
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    const next = event.key === 'ArrowDown' ? at + 1 : at - 1;
    if (next < 0) input.focus();
    else if (next < links.length) links[next].focus();
  });
  const resultLinks = () => [...results.querySelectorAll('a[href]')];
  onCleanup(() => clearTimeout(timer));

  const initial = (query.get('q') || '').slice(0, QUERY_MAX);
  input.value = initial;
  input.focus();
  if (initial.trim()) await run(initial);
}

function roomRow(room) {
  const speakers = room.speakers || [];
  const names = speakers.slice(0, 3).map((s) => nameOf(s));
  if (speakers.length > 3) names.push(`${speakers.length - 3} more`);
  const listeners = Number(room.listener_count) || 0;
  const followed = Number(room.followed_count) || 0;
  return h('li', { class: 'search-room' },
    h('span', { class: 'avatar-stack', 'aria-hidden': 'true' }, speakers.slice(0, 3).map((s) => avatar(s, 'sm'))),
    h('span', { class: 'person-text' },
      h('a', { class: 'person-link', href: `/rooms/${encodeURIComponent(room.id)}` }, room.title || 'Untitled room'),
      h('span', { class: 'muted person-note' },
        [names.length ? names.join(', ') : 'No one on stage',
          plural(listeners, 'listener', 'listeners'),
          followed ? `${followed} you follow` : null].filter(Boolean).join(' · '))));
}

/** The top bar's link to /search, shown while signed in (before the bell). */
export function mountSearchLink() {
  const slot = document.getElementById('topbar-extra');
  if (!slot) return;
  const link = h('a', { class: 'chip topbar-search', href: '/search', 'aria-label': 'Search', hidden: true },
    icon('search'), h('span', { class: 'topbar-search-text', 'aria-hidden': 'true' }, 'Search'));
  slot.prepend(link);
  const follow = (me) => { link.hidden = !me; };
  onSessionChange(follow);
  loadMe().then(follow).catch(() => {});
}
