// Clubs (/clubs): your clubs and invitations, find clubs by name and topic, found a club
// (when the instance's rule lets you: docs/API.md, Clubs). A club's page is views/club.js.
import { api, get } from '../api.js';
import { h, field, fill, alertBox, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';

export const MODES = [
  ['open', 'Open', 'Anyone can join'],
  ['approval', 'By approval', 'People ask to join; an admin or a leader lets them in'],
  ['invite', 'Invite-only', 'Only people an admin or a leader invites'],
];
export const ROLE_NAMES = { admin: 'Admin', leader: 'Leader', member: 'Member', follower: 'Follower' };

export const clubPath = (id) => `/clubs/${encodeURIComponent(id)}`;

/** Topic tags as a list (decorative names; the topics are words anyone can read). */
export function topicTags(topics, label = 'Topics') {
  if (!topics || !topics.length) return null;
  return h('ul', { class: 'topic-tags', 'aria-label': label }, topics.map((t) => h('li', { class: 'badge badge-topic' }, t)));
}

/** Checkboxes for picking topics, at most `max`: returns {el, value()}. */
export function topicPicker(topics, { legend, max, chosen = [], name }) {
  const boxes = topics.map((t) => {
    const id = `${name}-${t}`;
    const input = h('input', { type: 'checkbox', id, value: t, checked: chosen.includes(t) });
    return { input, el: h('div', { class: 'check topic-check' }, input, h('label', { for: id }, t)) };
  });
  const hint = h('p', { class: 'muted', id: `${name}-hint` }, `Pick up to ${max}.`);
  const sync = () => {
    const n = boxes.filter((b) => b.input.checked).length;
    for (const b of boxes) b.input.disabled = !b.input.checked && n >= max;
  };
  for (const b of boxes) b.input.addEventListener('change', sync);
  sync();
  const el = h('fieldset', { class: 'topic-picker', 'aria-describedby': `${name}-hint` },
    h('legend', {}, legend), hint, h('div', { class: 'topic-grid' }, boxes.map((b) => b.el)));
  return { el, value: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value) };
}

export function modePicker(name, current = 'open') {
  return h('fieldset', { class: 'kind-picker' },
    h('legend', {}, 'Membership'),
    MODES.map(([value, label, explain]) => {
      const id = `${name}-${value}`;
      return h('div', { class: 'kind-option' },
        h('input', { type: 'radio', name, id, value, checked: value === current, 'aria-describedby': `${id}-hint` }),
        h('label', { for: id },
          h('span', { class: 'kind-name' }, label),
          h('span', { class: 'kind-hint', id: `${id}-hint` }, explain)));
    }));
}

function clubItem(club, extra = null) {
  return h('li', { class: 'club-item card' },
    h('a', { class: 'club-name', href: clubPath(club.id) }, club.name),
    club.role ? h('span', { class: 'badge badge-kind' }, ROLE_NAMES[club.role] || club.role) : null,
    club.archived ? h('span', { class: 'badge' }, 'Archived') : null,
    club.description ? h('p', { class: 'muted' }, club.description) : null,
    topicTags(club.topics),
    typeof club.member_count === 'number' ? h('p', { class: 'muted' }, `${club.member_count} ${club.member_count === 1 ? 'member' : 'members'}`) : null,
    extra);
}

export async function clubsView({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent('/clubs')}`, { replace: true });
    return;
  }
  document.title = 'Clubs · Parlor';
  const [mine, { topics }] = await Promise.all([get('/me/clubs'), get('/topics')]);
  if (signal.aborted) return;

  // -- yours and your invitations ---------------------------------------------------------
  const yours = h('ul', { class: 'club-list', 'aria-label': 'Your clubs' },
    mine.clubs.map((c) => clubItem(c)));
  const invitations = mine.invitations.length
    ? h('section', { class: 'card stack', 'aria-labelledby': 'clubs-inv-h' },
      h('h2', { id: 'clubs-inv-h' }, 'Invitations'),
      h('ul', { class: 'club-list', 'aria-label': 'Club invitations' }, mine.invitations.map((c) => clubItem(c,
        h('a', { class: 'btn btn-small', href: clubPath(c.id) }, `Answer ${c.name}`)))))
    : null;

  // -- find --------------------------------------------------------------------------------
  const q = field('Club name', { name: 'q', type: 'search', maxlength: 50, autocomplete: 'off' });
  const topicId = 'clubs-topic';
  const topicSelect = h('select', { id: topicId, name: 'topic' },
    h('option', { value: '' }, 'Any topic'), topics.map((t) => h('option', { value: t }, t)));
  const results = h('ul', { class: 'club-list', 'aria-label': 'Clubs found' });
  const findStatus = h('p', { class: 'muted', role: 'status' });
  const findForm = h('form', { class: 'stack', role: 'search', 'aria-label': 'Find clubs', novalidate: true },
    q.field,
    h('div', { class: 'field' }, h('label', { for: topicId }, 'Topic'), topicSelect),
    h('button', { type: 'submit', class: 'btn' }, 'Find clubs'));
  async function find() {
    const params = new URLSearchParams();
    if (q.input.value.trim()) params.set('q', q.input.value.trim());
    if (topicSelect.value) params.set('topic', topicSelect.value);
    try {
      const found = await get(`/clubs?${params}`);
      if (signal.aborted) return;
      rerender(results, found.clubs.map((c) => clubItem(c)));
      findStatus.textContent = found.clubs.length ? `${found.clubs.length} found` : 'No clubs found.';
    } catch (err) {
      findStatus.textContent = err.message;
    }
  }
  findForm.addEventListener('submit', (e) => { e.preventDefault(); find(); });

  // -- found ---------------------------------------------------------------------------------
  const alert = alertBox();
  let foundSection;
  if (mine.can_found) {
    const name = field('Name', { name: 'name', maxlength: 50, autocomplete: 'off', required: true });
    const descId = 'club-new-desc';
    const rulesId = 'club-new-rules';
    const desc = h('textarea', { id: descId, name: 'description', rows: 2, maxlength: 500 });
    const rules = h('textarea', { id: rulesId, name: 'rules', rows: 3, maxlength: 1000 });
    const picker = topicPicker(topics, { legend: 'Topics', max: 3, name: 'club-new-topic' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Found the club');
    const form = h('form', { class: 'stack', novalidate: true },
      name.field,
      h('div', { class: 'field' }, h('label', { for: descId }, 'Description'), desc),
      h('div', { class: 'field' }, h('label', { for: rulesId }, 'Rules'), rules),
      picker.el, modePicker('club-new-mode'), alert.el, submit);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      alert.clear();
      submit.disabled = true;
      const mode = (form.querySelector('input[name="club-new-mode"]:checked') || {}).value || 'open';
      try {
        const club = await api('POST', '/clubs', {
          name: name.input.value, description: desc.value, rules: rules.value, topics: picker.value(), mode,
        });
        navigate(clubPath(club.id));
      } catch (err) {
        alert.show(err.message);
        submit.disabled = false;
      }
    });
    foundSection = h('section', { class: 'card stack', 'aria-labelledby': 'clubs-found-h' },
      h('h2', { id: 'clubs-found-h' }, 'Found a club'), form);
  } else {
    foundSection = h('section', { class: 'card stack', 'aria-labelledby': 'clubs-found-h' },
      h('h2', { id: 'clubs-found-h' }, 'Found a club'),
      h('p', { class: 'muted' }, mine.cannot_found_because || 'You cannot found a club yet.'));
  }

  fill(outlet, h('section', { class: 'clubs-page narrow stack' },
    h('h1', {}, 'Clubs'),
    invitations,
    h('section', { class: 'card stack', 'aria-labelledby': 'clubs-yours-h' },
      h('h2', { id: 'clubs-yours-h' }, 'Your clubs'),
      mine.clubs.length ? yours : h('p', { class: 'muted' }, 'You are in no club yet: find one below, or found one.')),
    h('section', { class: 'card stack', 'aria-labelledby': 'clubs-find-h' },
      h('h2', { id: 'clubs-find-h' }, 'Find clubs'), findForm, findStatus, results),
    foundSection));
  find();
}
