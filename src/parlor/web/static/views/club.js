// A club's page (/clubs/<id>): what it is, join / follow / leave, its live rooms, its
// upcoming events (leaders schedule them from here), its people by role; for its leaders and
// admins: start a club room, invite, answer requests; for admins: roles and settings.
// Every action answers with the page's new data, which is drawn again.
import { api, ApiError, get } from '../api.js';
import { h, field, fill, alertBox, checkbox, nameOf } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';
import { MODES, ROLE_NAMES, clubPath, modePicker, topicPicker, topicTags } from './clubs.js';
import { eventCard } from './event.js';

const LEADING = new Set(['admin', 'leader']);
const MEMBERS = new Set(['admin', 'leader', 'member']);

function section(id, title, ...children) {
  return h('section', { class: 'card stack', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

async function uploadAvatar(clubId, file) {
  let res;
  try {
    res = await fetch(`/api/clubs/${encodeURIComponent(clubId)}/avatar`, {
      method: 'PUT', credentials: 'same-origin', body: file, headers: { Accept: 'application/json' },
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(res.status, err ? err.code : `http_${res.status}`, err ? err.message : `The server answered ${res.status}.`);
  }
  return data;
}

export async function clubView({ outlet, params, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  const base = `/clubs/${encodeURIComponent(params.id)}`;
  let club;
  let topics;
  try {
    [club, { topics }] = await Promise.all([get(base), get('/topics')]);
  } catch (err) {
    if (signal.aborted) return;
    document.title = 'Club not found · Parlor';
    fill(outlet, h('section', { class: 'card narrow page-message' },
      h('h1', {}, 'Club not found'), h('p', { role: 'alert' }, err.message), h('a', { href: '/clubs' }, 'All clubs')));
    return;
  }
  if (signal.aborted) return;
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = alertBox();

  /** Run an API call that answers with the club; draw it, or show why not. */
  async function act(button, method, path, body, done) {
    alert.clear();
    status.textContent = '';
    if (button) button.disabled = true;
    try {
      club = await api(method, `${base}${path}`, body);
      if (signal.aborted) return;
      draw();
      if (done) status.textContent = done;
    } catch (err) {
      alert.show(err.message);
      if (button) button.disabled = false;
    }
  }

  const button = (label, onclick, cls = 'btn') => {
    const b = h('button', { type: 'button', class: cls }, label);
    b.addEventListener('click', () => onclick(b));
    return b;
  };

  function standing() {
    const { role, pending } = club.you;
    const out = [];
    if (club.archived) return h('p', { class: 'notice' }, 'This club is archived: nobody runs it any more.');
    if (pending === 'invite') {
      out.push(h('p', {}, 'You are invited to join this club.'),
        button('Accept invitation', (b) => act(b, 'POST', '/invitation/accept', {}, 'You joined the club.'), 'btn btn-primary'),
        button('Decline invitation', (b) => act(b, 'POST', '/invitation/decline', {}, 'Invitation declined.')));
    } else if (pending === 'request') {
      out.push(h('p', {}, 'You asked to join: an admin or a leader will answer.'),
        button('Withdraw request', (b) => act(b, 'POST', '/leave', {}, 'Request withdrawn.')));
    } else if (!MEMBERS.has(role)) {
      if (club.mode === 'open') out.push(button('Join club', (b) => act(b, 'POST', '/join', {}, 'You joined the club.'), 'btn btn-primary'));
      if (club.mode === 'approval') out.push(button('Ask to join', (b) => act(b, 'POST', '/join', {}, 'Request sent.'), 'btn btn-primary'));
      if (club.mode === 'invite') out.push(h('p', { class: 'muted' }, 'Invite-only: a leader or an admin invites members.'));
    }
    if (role === null && pending !== 'invite') out.push(button('Follow club', (b) => act(b, 'POST', '/follow', {}, 'You follow the club.')));
    if (role === 'follower') out.push(button('Unfollow club', (b) => act(b, 'POST', '/leave', {}, 'You no longer follow the club.')));
    if (MEMBERS.has(role)) out.push(button('Leave club', (b) => act(b, 'POST', '/leave', {}, 'You left the club.')));
    return h('div', { class: 'row club-actions' }, out);
  }

  function liveRooms() {
    const rooms = club.live_rooms;
    return section('club-live-h', 'Live rooms',
      rooms.length
        ? h('ul', { class: 'room-list', 'aria-label': 'Club live rooms' }, rooms.map((r) => h('li', { class: 'room-card card' },
          h('h3', { class: 'room-title' }, r.title),
          r.club && r.club.members_only ? h('span', { class: 'badge badge-kind' }, 'Members only') : null,
          topicTags(r.topics, 'Room topics'),
          h('a', { class: 'btn btn-primary btn-small', href: `/rooms/${encodeURIComponent(r.id)}`, 'aria-label': `Join ${r.title}` }, 'Join'))))
        : h('p', { class: 'muted' }, 'No live rooms right now.'));
  }

  function startRoom() {
    const title = field('Room title', { name: 'club-room-title', maxlength: 120, autocomplete: 'off' });
    const only = checkbox('Members only', { name: 'members_only' });
    const picker = topicPicker(topics, { legend: 'Room topics', max: 3, chosen: club.topics, name: 'club-room-topic' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start a club room');
    const a = alertBox();
    const form = h('form', { class: 'stack', novalidate: true }, title.field, only.field, picker.el, a.el, submit);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      a.clear();
      submit.disabled = true;
      try {
        const room = await api('POST', '/rooms', {
          title: title.input.value, club_id: club.id, members_only: only.input.checked, topics: picker.value(),
        });
        navigate(`/rooms/${encodeURIComponent(room.id)}`);
      } catch (err) {
        a.show(err.message);
        submit.disabled = false;
      }
    });
    return section('club-start-h', 'Start a club room', form);
  }

  function usernameForm(label, buttonLabel, path, done) {
    const who = field(label, { name: 'username', maxlength: 40, autocomplete: 'off' });
    const submit = h('button', { type: 'submit', class: 'btn' }, buttonLabel);
    const form = h('form', { class: 'row', novalidate: true }, who.field, submit);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      act(submit, 'POST', path, { username: who.input.value }, done);
    });
    return form;
  }

  function person(p, role) {
    const you = p.id === me.id;
    const name = `${nameOf(p)} (@${p.username})`;
    const tools = [];
    if (club.you.role === 'admin' && !club.archived) {
      const id = `club-role-${p.id}`;
      const select = h('select', { id, 'aria-label': `Role of ${nameOf(p)}` },
        ['admin', 'leader', 'member'].map((r) => h('option', { value: r, selected: r === role }, ROLE_NAMES[r])));
      tools.push(select,
        button(`Change role of ${nameOf(p)}`, (b) => act(b, 'PUT', `/members/${encodeURIComponent(p.id)}`, { role: select.value }, 'Role changed.'), 'btn btn-small'));
      if (!you) tools.push(button(`Remove ${nameOf(p)}`, (b) => act(b, 'DELETE', `/members/${encodeURIComponent(p.id)}`, undefined, 'Removed.'), 'btn btn-small btn-danger'));
    }
    return h('li', { class: 'club-person' },
      h('a', { href: `/people/${encodeURIComponent(p.username)}` }, name), you ? h('span', { class: 'muted' }, ' (you)') : null,
      tools.length ? h('div', { class: 'row' }, tools) : null);
  }

  function people() {
    const groups = [['admin', 'Admins'], ['leader', 'Leaders'], ['member', 'Members']];
    return section('club-people-h', 'Members',
      h('p', { class: 'muted' }, `${club.counts.follower} ${club.counts.follower === 1 ? 'follower' : 'followers'}`),
      groups.map(([role, title]) => {
        const list = club.people[role];
        return h('div', { class: 'stack' },
          h('h3', {}, `${title} (${club.counts[role]})`),
          list.length ? h('ul', { class: 'club-people', 'aria-label': title }, list.map((p) => person(p, role))) : h('p', { class: 'muted' }, 'None.'));
      }));
  }

  function waiting() {
    const kind = { request: 'asks to join', nomination: 'nominated' };
    const items = club.waiting.map((w) => h('li', { class: 'club-person' },
      h('span', {}, `${nameOf(w.person)} (@${w.person.username}) ${kind[w.kind] || w.kind}${w.by ? ` by @${w.by.username}` : ''}`),
      h('div', { class: 'row' },
        button(`Approve ${nameOf(w.person)}`, (b) => act(b, 'POST', `/requests/${encodeURIComponent(w.id)}/approve`, {}, 'Approved.'), 'btn btn-small btn-primary'),
        button(`Decline ${nameOf(w.person)}`, (b) => act(b, 'POST', `/requests/${encodeURIComponent(w.id)}/decline`, {}, 'Declined.'), 'btn btn-small'))));
    const invited = club.invited.map((w) => h('li', {}, `${nameOf(w.person)} (@${w.person.username})`));
    return section('club-admin-h', 'Club tools',
      usernameForm('Invite by username', 'Invite', '/invites', 'Invitation sent.'),
      h('h3', {}, 'Requests and nominations'),
      items.length ? h('ul', { class: 'club-people', 'aria-label': 'Requests and nominations' }, items) : h('p', { class: 'muted' }, 'Nothing waiting.'),
      invited.length ? [h('h3', {}, 'Invited'), h('ul', { 'aria-label': 'Invited' }, invited)] : null);
  }

  function settings() {
    const descId = 'club-desc';
    const rulesId = 'club-rules';
    const desc = h('textarea', { id: descId, rows: 2, maxlength: 500 });
    desc.value = club.description;
    const rules = h('textarea', { id: rulesId, rows: 3, maxlength: 1000 });
    rules.value = club.rules;
    const picker = topicPicker(topics, { legend: 'Club topics', max: 3, chosen: club.topics, name: 'club-topic' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save club settings');
    const form = h('form', { class: 'stack', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: descId }, 'Description'), desc),
      h('div', { class: 'field' }, h('label', { for: rulesId }, 'Rules'), rules),
      picker.el, modePicker('club-mode', club.mode), save);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const mode = (form.querySelector('input[name="club-mode"]:checked') || {}).value;
      act(save, 'PATCH', '', { description: desc.value, rules: rules.value, topics: picker.value(), mode }, 'Settings saved.');
    });
    const fileId = 'club-avatar-file';
    const file = h('input', { type: 'file', id: fileId, accept: 'image/png,image/jpeg,image/webp,image/gif' });
    file.addEventListener('change', async () => {
      if (!file.files.length) return;
      alert.clear();
      try {
        club = await uploadAvatar(club.id, file.files[0]);
        draw();
        status.textContent = 'Club picture saved.';
      } catch (err) {
        alert.show(err.message);
      }
    });
    return section('club-settings-h', 'Club settings', form,
      h('div', { class: 'field' }, h('label', { for: fileId }, 'Club picture'), file));
  }

  function draw() {
    document.title = `${club.name} · Parlor`;
    const mode = (MODES.find(([m]) => m === club.mode) || [null, club.mode])[1];
    const role = club.you.role;
    fill(outlet, h('section', { class: 'club-page narrow stack' },
      h('header', { class: 'card stack club-head' },
        h('div', { class: 'row' },
          club.avatar_url ? h('img', { class: 'avatar avatar-lg avatar-img', src: club.avatar_url, alt: '', width: 72, height: 72 }) : null,
          h('h1', {}, club.name)),
        topicTags(club.topics),
        h('p', { class: 'muted' }, `${mode} · ${club.counts.admin + club.counts.leader + club.counts.member} members`
          + (role ? ` · you: ${ROLE_NAMES[role]}` : '')),
        club.description ? h('p', {}, club.description) : null,
        standing(), alert.el, status),
      club.rules ? section('club-rules-h', 'Rules', h('p', { class: 'club-rules' }, club.rules)) : null,
      liveRooms(),
      LEADING.has(role) && !club.archived ? startRoom() : null,
      section('club-events-h', 'Upcoming events',
        h('ul', { class: 'room-list event-list club-events', id: 'club-events', 'aria-label': 'Upcoming events' },
          club.upcoming_events.map(eventCard)),
        club.upcoming_events.length ? null : h('p', { class: 'muted' }, 'No upcoming events.'),
        LEADING.has(role) && !club.archived
          ? h('p', {}, h('a', { class: 'btn', href: `/events/new?club=${encodeURIComponent(club.id)}` }, 'Schedule an event'))
          : null),
      people(),
      role === 'member' && !club.archived ? section('club-nominate-h', 'Nominate someone',
        h('p', { class: 'muted' }, 'An admin of the club approves; then they are invited.'),
        usernameForm('Nominate by username', 'Nominate', '/nominations', 'Nomination sent.')) : null,
      LEADING.has(role) && !club.archived ? waiting() : null,
      role === 'admin' && !club.archived ? settings() : null,
      h('p', {}, h('a', { href: '/clubs' }, 'All clubs'))));
  }
  draw();
  if (location.pathname !== clubPath(club.id)) history.replaceState(null, '', clubPath(club.id));
}
