// The admin console (docs/API.md, Admin): /admin/<section> with the sections Reports,
// People, Sign-ups, Settings and Audit log as tabs (links: each has its own address),
// and the top bar's "Admin" link for admins. A person's page is views/admin_person.js.
// Only admins see it; the server checks every call anyway.
import { api, get, post, del, patch } from '../api.js';
import { h, fill, alertBox, avatar, nameOf, text, checkbox, field } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, onSessionChange } from '../session.js';
import { signupsSection } from './growth.js';
import { embedAdminSection } from './embed-admin.js';
import { clubsSection } from './admin_clubs.js';

export const SECTIONS = [
  ['reports', 'Reports'],
  ['people', 'People'],
  ['signups', 'Sign-ups'],
  ['clubs', 'Clubs'],
  ['settings', 'Settings'],
  ['audit', 'Audit log'],
];
const SEARCH_DEBOUNCE_MS = 200;
const CLUB_RULES = [
  ['members', 'Any member'],
  ['hosts', 'Members who hosted enough rooms'],
  ['admins', 'Admins only'],
  ['off', 'Nobody (clubs off)'],
];

export const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '');
export const day = (t) => (t ? new Date(t * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '');
export const at = (person) => (person && person.username ? `@${person.username}` : nameOf(person, 'a former member'));
export const personPath = (id) => `/admin/people/${encodeURIComponent(id)}`;

/** The API helper handed to section modules written elsewhere (the reports queue):
 *  call it as api(method, path, body) or use its get/post/del/patch. */
export const adminApi = Object.assign((...args) => api(...args), { api, get, post, del, patch });

/** Signed in as an admin, or the page says why not (sign in first; not found). */
export async function requireAdmin({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return null;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return null;
  }
  if (!me.is_admin) {
    // Members get the same page as for an address that does not exist.
    document.title = 'Page not found · Parlor';
    fill(outlet, h('section', { class: 'card narrow page-message' },
      h('h1', {}, 'Page not found'),
      h('p', {}, 'There is nothing at this address. The link may be mistyped, or the page may have moved.'),
      h('a', { class: 'btn btn-primary', href: '/' }, 'Back to the hallway')));
    return null;
  }
  return me;
}

/** The console's frame: its heading and the section tabs, `current` marked. */
export function consoleFrame(current, ...content) {
  const tabs = h('nav', { class: 'admin-tabs', 'aria-label': 'Admin sections' },
    h('ul', {}, SECTIONS.map(([key, label]) => h('li', {},
      h('a', { href: `/admin/${key}`, class: 'admin-tab', 'aria-current': key === current ? 'page' : false }, label)))));
  return h('section', { class: 'admin-console' }, h('h1', { class: 'admin-title' }, 'Admin'), tabs, content);
}

export async function adminView(ctx) {
  const { outlet, params, signal } = ctx;
  const me = await requireAdmin(ctx);
  if (!me) return;
  const section = params.section || 'reports';
  const found = SECTIONS.find(([key]) => key === section);
  if (!found) {
    navigate('/admin/reports', { replace: true });
    return;
  }
  document.title = `${found[1]} · Admin · Parlor`;
  const panel = h('section', { class: 'admin-panel', 'aria-labelledby': 'admin-section-h' },
    h('h2', { id: 'admin-section-h', class: 'sr-only' }, found[1]));
  fill(outlet, consoleFrame(section, panel));
  const sections = { reports, people, signups, clubs: clubsSection, settings, audit };
  await sections[section](panel, ctx);
}

// -- Reports: the reports queue is another module (views/admin_reports.js) ----------------------

async function reports(panel) {
  const container = h('div', { class: 'admin-reports' });
  panel.append(container);
  let module = null;
  try {
    module = await import('./admin_reports.js');
  } catch {
    module = null;
  }
  if (!module || typeof module.renderReports !== 'function') {
    fill(container, h('p', { class: 'card muted' }, 'Reports will appear here.'));
    return;
  }
  await module.renderReports(container, adminApi);
}

// -- People ------------------------------------------------------------------------------------------

async function people(panel, { query, signal, onCleanup }) {
  const alert = alertBox();
  const input = h('input', {
    id: 'admin-people-q', type: 'search', name: 'q', maxlength: 50, autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false', placeholder: 'Username or display name',
  });
  const form = h('form', { class: 'search-form', role: 'search', novalidate: true },
    h('label', { for: 'admin-people-q', class: 'search-label' }, 'Find people'),
    h('div', { class: 'search-box' }, input));
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('ul', { class: 'person-list', 'aria-label': 'People' });
  panel.append(h('div', { class: 'card stack' }, form, alert.el, status, list));

  let timer = null;
  let asked = 0;
  async function run(raw) {
    clearTimeout(timer);
    const q = raw.trim();
    const next = q ? `/admin/people?q=${encodeURIComponent(q)}` : '/admin/people';
    if (location.pathname + location.search !== next) history.replaceState(null, '', next);
    const question = ++asked;
    try {
      const found = await get(`/admin/users?limit=50&q=${encodeURIComponent(q)}`);
      if (signal.aborted || question !== asked) return;
      alert.clear();
      const rows = found.people || [];
      status.textContent = q
        ? (rows.length ? `${rows.length} found for “${q}”` : `Nobody matches “${q}”.`)
        : (rows.length ? 'The newest members' : 'Nobody has joined yet.');
      fill(list, rows.map(personRow));
    } catch (err) {
      if (!signal.aborted && question === asked) alert.show(err.message);
    }
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value), SEARCH_DEBOUNCE_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(input.value);
  });
  onCleanup(() => clearTimeout(timer));
  input.value = (query.get('q') || '').slice(0, 50);
  input.focus();
  await run(input.value);
}

export function stateBadge(state, isAdmin = false) {
  if (isAdmin) return h('span', { class: 'badge badge-mod' }, 'Admin');
  if (state === 'banned') return h('span', { class: 'badge badge-banned' }, 'Banned');
  if (state === 'suspended') return h('span', { class: 'badge badge-suspended' }, 'Suspended');
  return null;
}

function personRow(person) {
  return h('li', { class: 'person-row' },
    avatar(person, 'md'),
    h('span', { class: 'person-text' },
      h('a', { class: 'person-link', href: personPath(person.id) }, h('strong', {}, nameOf(person))),
      h('span', { class: 'muted person-handle' }, `${at(person)} · joined ${day(person.created_at)}`)),
    stateBadge(person.state, person.is_admin));
}

// -- Sign-ups: the sign-up mode and the waitlist (views/growth.js) ----------------------------------

async function signups(panel, { signal }) {
  panel.append(signupsSection(signal));
}

// -- Settings --------------------------------------------------------------------------------------

async function settings(panel, { signal }) {
  const alert = alertBox();
  const saved = h('p', { class: 'muted', 'aria-live': 'polite' });
  const invites = field('Invites per member', { name: 'invites_per_member', type: 'number', min: 0, max: 1000, step: 1, inputmode: 'numeric' });
  const guests = checkbox('Allow guest rooms (people without an account join by link)', { name: 'guest_rooms' });
  const rule = h('select', { id: 'admin-clubs-rule', name: 'clubs_rule' },
    CLUB_RULES.map(([value, label]) => h('option', { value }, label)));
  const minRooms = field('Rooms hosted before founding a club', { name: 'club_min_rooms_hosted', type: 'number', min: 1, max: 1000, step: 1, inputmode: 'numeric' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save settings');
  const form = h('form', { class: 'stack', novalidate: true },
    invites.field,
    h('p', { class: 'muted' }, 'Admins have no limit. Lowering it takes no invite back.'),
    guests.field,
    h('p', { class: 'muted' }, 'Guests open rooms at /r/<name>, or enter members\' rooms whose moderators let anyone with the link in. Nothing about them is kept.'),
    h('div', { class: 'field' }, h('label', { for: 'admin-clubs-rule' }, 'Who may found a club'), rule),
    minRooms.field,
    alert.el, save, saved);

  function show(s) {
    invites.input.value = String(s.invites_per_member);
    guests.input.checked = Boolean(s.guest_rooms);
    rule.value = s.clubs_rule;
    minRooms.input.value = String(s.club_min_rooms_hosted);
    minRooms.field.hidden = s.clubs_rule !== 'hosts';
  }
  rule.addEventListener('change', () => { minRooms.field.hidden = rule.value !== 'hosts'; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    saved.textContent = '';
    const changes = {
      invites_per_member: Number(invites.input.value),
      guest_rooms: guests.input.checked,
      clubs_rule: rule.value,
    };
    if (rule.value === 'hosts') changes.club_min_rooms_hosted = Number(minRooms.input.value);
    for (const key of ['invites_per_member', 'club_min_rooms_hosted']) {
      if (key in changes && !Number.isInteger(changes[key])) {
        alert.show('Use whole numbers.');
        return;
      }
    }
    save.disabled = true;
    try {
      show(await patch('/admin/settings', changes));
      saved.textContent = 'Saved.';
    } catch (err) {
      alert.show(err.message);
    } finally {
      save.disabled = false;
    }
  });
  panel.append(
    h('section', { class: 'card', 'aria-labelledby': 'admin-settings-h' },
      h('h2', { id: 'admin-settings-h' }, 'Instance settings'), form),
    embedAdminSection());
  try {
    const current = await get('/admin/settings');
    if (!signal.aborted) show(current);
  } catch (err) {
    alert.show(err.message);
  }
}

// -- Audit log -------------------------------------------------------------------------------------

const ACTIONS = {
  'user.warn': 'warned',
  'user.suspend': 'suspended',
  'user.ban': 'banned',
  'user.lift': 'lifted the sanction of',
  'user.avatar_remove': 'removed the picture of',
  'room.end': 'ended the room',
  'settings.change': 'changed the settings',
  'signup_mode.set': 'set the sign-up mode',
  'waitlist.admit': 'let in from the waitlist',
  'embed_origins.set': 'set the sites that may embed rooms',
};

export function whoActed(entry) {
  if (entry.by_operator) return 'The operator';
  return entry.by ? at(entry.by) : 'A former admin';
}

async function audit(panel, { signal }) {
  const alert = alertBox();
  const list = h('ol', { class: 'audit-list', 'aria-label': 'Audit log' });
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Load more');
  panel.append(h('div', { class: 'card stack' }, alert.el, status, list, more));
  let before = null;

  async function load(first) {
    alert.clear();
    try {
      const page = await get(`/admin/audit?limit=50${before && !first ? `&before=${before}` : ''}`);
      if (signal.aborted) return;
      const entries = page.entries || [];
      if (first && !entries.length) status.textContent = 'No admin has done anything yet.';
      list.append(...entries.map(auditRow));
      before = page.next_before;
      more.hidden = !before;
    } catch (err) {
      alert.show(err.message);
    }
  }
  more.addEventListener('click', () => load(false));
  await load(true);
}

function auditRow(entry) {
  const target = entry.target
    ? (entry.target.id ? h('a', { href: personPath(entry.target.id) }, at(entry.target)) : at(entry.target))
    : null;
  const room = entry.room ? `“${text(entry.room.title, entry.room.id)}”` : null;
  return h('li', { class: 'audit-item' },
    h('p', { class: 'audit-what' },
      h('strong', {}, whoActed(entry)), ' ', ACTIONS[entry.action] || entry.action, ' ',
      target, room ? [' ', room] : null),
    entry.detail ? h('p', { class: 'audit-detail' }, entry.detail) : null,
    h('p', { class: 'muted audit-when' }, h('time', { datetime: new Date(entry.at * 1000).toISOString() }, when(entry.at))));
}

// -- the top bar's link ------------------------------------------------------------------------------

/** "Admin" in the top bar, for admins only. */
export function mountAdminLink() {
  const slot = document.getElementById('topbar-extra');
  if (!slot) return;
  const link = h('a', { class: 'chip topbar-admin', href: '/admin', hidden: true }, 'Admin');
  slot.prepend(link);
  const follow = (me) => { link.hidden = !(me && me.is_admin); };
  onSessionChange(follow);
  loadMe().then(follow).catch(() => {});
}
