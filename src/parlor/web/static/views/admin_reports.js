// Admin console: the report queue (docs/API.md, Reports). `renderReports(container, api)`
// fills `container` with the Open / Handled tabs, each report with the context it kept
// (the profile text, the room, who was on stage, the room's activity before it), and
// "Action taken" / "Dismiss" on open ones. The console page (/admin) imports it; until
// then /admin/reports shows it alone (`adminReportsView`).
import { api as defaultApi } from '../api.js';
import { h, fill, alertBox, nameOf, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';
import { REASONS } from './report.js';
import { AUDIT_ACTIONS } from './audit_actions.js';

const REASON_NAMES = Object.fromEntries(REASONS);
const KIND_NAMES = { person: 'Person', profile: 'Profile', room: 'Room', message: 'Message', club: 'Club' };
const OUTCOME_NAMES = { actioned: 'Action taken', dismissed: 'Dismissed' };
const ROOM_KINDS = { open: 'open', social: 'social', closed: 'closed' };
const ACTIONS = AUDIT_ACTIONS;
const PAGE = 20;

const when = (seconds) => new Date(seconds * 1000).toLocaleString();
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString();
const who = (p) => (p && p.username ? `${nameOf(p)} (@${p.username})` : nameOf(p, 'a former member'));

function caller(api) {
  if (typeof api === 'function') return api;
  if (api && typeof api.api === 'function') return api.api;
  return defaultApi;
}

/** Render the report queue into `container`. `api`: api.js's `api(method, path, body)`. */
export async function renderReports(container, api) {
  const call = caller(api);
  const alert = alertBox();
  const status = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const tabs = [['open', 'Open'], ['handled', 'Handled']].map(([state, label]) => h('button', {
    type: 'button', role: 'tab', class: 'tab', id: `reports-tab-${state}`, 'aria-controls': 'reports-panel',
    dataset: { state }, onclick: () => show(state),
  }, label));
  const tablist = h('div', { role: 'tablist', class: 'report-tabs', 'aria-label': 'Report queue' }, tabs);
  tablist.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    event.preventDefault();
    const step = event.key === 'ArrowRight' ? 1 : tabs.length - 1;
    const next = tabs[(Math.max(0, tabs.indexOf(document.activeElement)) + step) % tabs.length];
    next.focus();
    show(next.dataset.state);
  });
  const list = h('ul', { class: 'report-list' });
  const empty = h('p', { class: 'muted empty' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true, onclick: () => load(false) }, 'Show more');
  const panel = h('div', { role: 'tabpanel', id: 'reports-panel', class: 'report-panel' }, empty, list, more);

  fill(container,
    h('section', { class: 'admin-reports', 'aria-labelledby': 'admin-reports-h' },
      h('h2', { id: 'admin-reports-h' }, 'Reports'),
      h('p', { class: 'muted' },
        'Parlor records no audio. Decide from the report, the context it kept (the profile as it was, ',
        'who was on stage, the room’s activity log) and what moderators saw.'),
      tablist, alert.el, status, panel));

  let state = 'open';
  let items = [];
  let next = null;

  function show(which) {
    state = which;
    for (const tab of tabs) {
      const on = tab.dataset.state === which;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      tab.classList.toggle('is-current', on);
    }
    panel.setAttribute('aria-labelledby', `reports-tab-${which}`);
    list.setAttribute('aria-label', which === 'open' ? 'Open reports' : 'Handled reports');
    items = [];
    next = null;
    render();
    return load(true);
  }

  async function load(first) {
    alert.clear();
    const asked = state;
    const query = new URLSearchParams({ state: asked, limit: String(PAGE) });
    if (!first && next) query.set('cursor', next);
    try {
      const page = await call('GET', `/admin/reports?${query}`);
      if (asked !== state) return;
      items = first ? page.items : items.concat(page.items);
      next = page.next;
    } catch (err) {
      alert.show(err.message);
    }
    render();
  }

  function render() {
    rerender(list, items.map((r) => h('li', {}, reportCard(r, resolve))));
    empty.hidden = items.length > 0;
    empty.textContent = state === 'open' ? 'No open reports.' : 'No handled reports yet.';
    more.hidden = !next;
  }

  async function resolve(report, outcome, note) {
    alert.clear();
    try {
      await call('POST', `/admin/reports/${encodeURIComponent(report.id)}/resolve`,
        note ? { outcome, note } : { outcome });
    } catch (err) {
      alert.show(err.message);
      return;
    }
    const at = items.indexOf(report);
    items = items.filter((r) => r !== report);
    render();
    status.textContent = `${outcome === 'actioned' ? 'Marked as action taken' : 'Dismissed'}: report about ${report.target.label}.`;
    // Keep the keyboard in the queue: the next report, or the tab.
    const cards = list.querySelectorAll('.report-item h3');
    const target = cards[Math.min(at, cards.length - 1)];
    if (target) target.focus();
    else tabs[0].focus();
  }

  await show('open');
}

function reportCard(r, resolve) {
  const headingId = `report-${r.id}-h`;
  const about = r.target.label;
  const lines = [
    h('h3', { id: headingId, tabindex: '-1' }, `${KIND_NAMES[r.target.kind] || r.target.kind}: ${about}`),
    h('p', { class: 'report-meta' },
      h('strong', {}, REASON_NAMES[r.reason] || r.reason),
      ` · reported by ${who(r.reporter)} · ${when(r.created_at)}`),
    r.note ? h('blockquote', { class: 'report-note' }, r.note) : null,
    context(r),
  ];
  const tools = [];
  if (r.reported_user && r.reported_user.id) {
    tools.push(h('a', {
      class: 'btn btn-small', href: `/admin/people/${encodeURIComponent(r.reported_user.id)}`,
      'aria-label': `View person: ${nameOf(r.reported_user)}`,
    }, 'View person'));
  }
  if (r.state === 'open') {
    lines.push(resolveForm(r, about, resolve, tools));
  } else {
    lines.push(h('p', { class: 'report-outcome' },
      h('strong', {}, OUTCOME_NAMES[r.outcome] || r.outcome),
      ` by ${who(r.handled_by)}${r.handled_at ? ` · ${when(r.handled_at)}` : ''}`));
    if (r.resolution_note) lines.push(h('p', { class: 'report-note' }, r.resolution_note));
    if (tools.length) lines.push(h('div', { class: 'row' }, tools));
  }
  return h('article', { class: 'card report-item', 'aria-labelledby': headingId }, lines);
}

function resolveForm(r, about, resolve, tools) {
  const noteId = `report-${r.id}-note`;
  const note = h('input', { id: noteId, name: 'note', maxlength: 500, autocomplete: 'off' });
  let busy = false;
  const act = (outcome) => async () => {
    if (busy) return;
    busy = true;
    buttons.forEach((b) => { b.disabled = true; });
    await resolve(r, outcome, note.value.trim());
    busy = false;
    buttons.forEach((b) => { b.disabled = false; });
  };
  const buttons = [
    h('button', { type: 'button', class: 'btn btn-primary btn-small', 'aria-label': `Action taken: report about ${about}`, onclick: act('actioned') }, 'Action taken'),
    h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Dismiss report about ${about}`, onclick: act('dismissed') }, 'Dismiss'),
  ];
  return h('div', { class: 'report-resolve' },
    h('div', { class: 'field' }, h('label', { for: noteId }, 'Note for the record (optional, admins only)'), note),
    h('div', { class: 'row' }, buttons, tools));
}

function context(r) {
  const parts = [];
  const message = r.context && r.context.message;
  if (message) {
    // The line as text (h() appends strings as text nodes): whatever it holds shows as typed.
    parts.push(h('div', { class: 'report-context-part' },
      h('h4', {}, 'The chat message'),
      h('blockquote', { class: 'report-message' }, message.text)));
  }
  const profile = r.context && r.context.profile;
  if (profile) {
    parts.push(h('div', { class: 'report-context-part' },
      h('h4', {}, 'Profile when reported'),
      h('dl', { class: 'report-facts' },
        h('dt', {}, 'Name'), h('dd', {}, `${profile.display_name} (@${profile.username})`),
        h('dt', {}, 'Bio'), h('dd', {}, profile.bio || '(empty)'))));
  }
  const room = r.context && r.context.room;
  if (room) {
    const kind = room.kind ? `${ROOM_KINDS[room.kind] || room.kind} room` : 'room';
    const stage = room.stage.length
      ? room.stage.map((p) => `${p.display_name} (@${p.username}, ${p.role})`).join(', ')
      : (room.live ? 'nobody' : 'nobody (the room had ended)');
    parts.push(h('div', { class: 'report-context-part' },
      h('h4', {}, r.target.kind === 'room' ? 'The room when reported' : 'Reported in'),
      h('dl', { class: 'report-facts' },
        h('dt', {}, 'Room'), h('dd', {}, `“${room.title}”, ${kind}${room.live ? ', live' : ', ended'}`),
        h('dt', {}, 'On stage'), h('dd', {}, stage)),
      auditLog(room.audit)));
  }
  if (!parts.length) return null;
  return h('div', { class: 'report-context' }, parts);
}

function auditLog(entries) {
  if (!entries.length) return h('p', { class: 'muted' }, 'No room activity in the 15 minutes before the report.');
  return h('details', { class: 'report-audit' },
    h('summary', {}, `Room activity before the report (${entries.length})`),
    h('ol', { class: 'audit-list' }, entries.map((e) => {
      const verb = ACTIONS[e.action] || e.action;
      const target = e.target ? ` ${who(e.target)}` : '';
      return h('li', {},
        h('span', { class: 'audit-time' }, clock(e.at)), ' ',
        `${e.actor ? who(e.actor) : 'Someone'} ${verb}${verb.endsWith(':') || !ACTIONS[e.action] ? target : ''}`,
        h('code', { class: 'audit-code' }, e.action));
    })));
}

/** /admin/reports: the queue alone, for admins (the console at /admin shows it too). */
export async function adminReportsView({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  document.title = 'Reports · Parlor';
  const card = h('section', { class: 'card admin-console' });
  fill(outlet, h('h1', {}, 'Admin: reports'), card);
  if (!me.is_admin) {
    fill(card, h('p', { role: 'alert' }, 'Only admins can see the report queue.'));
    return;
  }
  await renderReports(card, defaultApi);
}
