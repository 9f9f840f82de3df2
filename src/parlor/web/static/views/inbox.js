// Notifications: the header bell (unread count, live) and the /inbox page (list,
// mark read, per-kind mute toggles, "Join" on pings and started rooms).
// Live: every `notification` event on the tab's socket (docs/API.md).
import { get, post, api } from '../api.js';
import { h, fill, alertBox, avatar, checkbox, nameOf, rerender, icon } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, onSessionChange, session } from '../session.js';

const PAGE = 30;

const KIND_LABELS = {
  ping: 'Mute pings',
  room_started: 'Mute rooms started by people you follow',
  new_follower: 'Mute new followers',
  waitlist_joined: 'Mute sign-ups of people you let in',
  room_invite: 'Mute invitations into rooms',
  club_invite: 'Mute invitations into clubs',
};

export const Notes = {
  list: (before) => get(`/notifications?limit=${PAGE}${before ? `&before=${before}` : ''}`),
  read: (id) => post(`/notifications/${encodeURIComponent(id)}/read`),
  readAll: (upTo) => post('/notifications/read-all', upTo ? { up_to: upTo } : {}),
  settings: () => get('/notifications/settings'),
  setMuted: (muted) => api('PUT', '/notifications/settings', { muted }),
  ping: (roomId, userId) => post('/pings', { room_id: roomId, user_id: userId }),
};

// --- the unread count, shared by the bell and the inbox page -------------------

const unread = new EventTarget();
let unreadCount = 0;

function setUnread(n) {
  unreadCount = Math.max(0, Number(n) || 0);
  unread.dispatchEvent(new CustomEvent('change', { detail: unreadCount }));
}

/** What a notification says, as plain text. */
export function describe(n) {
  const who = nameOf(n.actor, 'A former member');
  const title = n.room && n.room.title ? `“${n.room.title}”` : 'a room';
  switch (n.kind) {
    case 'ping': return `${who} asks you to join them in ${title}`;
    case 'room_started': return `${who} started ${title}`;
    case 'new_follower': return `${who} followed you`;
    case 'waitlist_joined': return `${who}, whom you let in, has joined`;
    case 'room_invite': return `${who} invited you into ${title}`;
    case 'club_invite': return `${who} invited you to join the club ${n.club && n.club.name ? `“${n.club.name}”` : ''}`.trimEnd();
    case 'report_handled': return reportHandled(n.report);
    case 'event_reminder': return `Reminder: ${eventTitle(n)} starts ${n.event && n.event.starts_at ? `at ${new Date(n.event.starts_at * 1000).toLocaleTimeString(undefined, { timeStyle: 'short' })}` : 'soon'}${late(n)}`;
    case 'event_starting': return `${eventTitle(n)} is starting now${late(n)}`;
    case 'event_live': return `${who} started ${eventTitle(n)}: it is live`;
    case 'event_changed': return `${who} changed ${eventTitle(n)}`;
    case 'event_cancelled': return `${who} cancelled ${eventTitle(n)}`;
    case 'warned': return `A warning from the admins: ${n.text || 'mind the rules of this server.'}`;
    default: return `${who}: ${n.kind}`;
  }
}

function eventTitle(n) {
  return n.event && n.event.title ? `“${n.event.title}”` : 'an event';
}

/** Reminders sent after their time (the server was down) say so. */
function late(n) {
  return n.text === 'late' ? ' (sent late)' : '';
}

// What a reporter is told: the outcome only, never who handled it or what happened to anyone.
const OUTCOMES = {
  actioned: 'a moderator took action. Thank you for helping keep Parlor safe.',
  dismissed: 'a moderator looked at it and found nothing against the rules.',
};

function reportHandled(report) {
  if (!report) return 'A report you made has been handled.';
  const target = report.target || {};
  const label = target.label || 'someone';
  const what = target.kind === 'room' ? `the room “${label}”` : target.kind === 'profile' ? `the profile of ${label}` : label;
  return `Your report about ${what} was handled: ${OUTCOMES[report.outcome] || 'it is closed.'}`;
}

/** The bell in the header: a link to /inbox with the unread count; follows the session. */
export function mountBell() {
  const slot = document.getElementById('topbar-extra');
  if (!slot) return;
  const count = h('span', { class: 'bell-count', 'aria-hidden': 'true' });
  const bell = h('a', { class: 'chip bell', href: '/inbox', hidden: true }, bellIcon(), count);
  slot.append(bell);
  const show = (n) => {
    count.textContent = String(n);
    bell.setAttribute('aria-label', `Notifications, ${n} unread`);
    bell.dataset.unread = String(n);
  };
  unread.addEventListener('change', (e) => show(e.detail));
  show(0);

  let socket = null;
  // The server's count is the truth: each event asks for it again, and only the answer
  // to the latest question counts (an older one may land after a newer event).
  const onEvent = (e) => {
    if (e.detail.name === 'notification' && !e.detail.data.read) refreshCount();
  };
  const onWelcome = () => refreshCount();
  let asked = 0;
  async function refreshCount() {
    const question = ++asked;
    try {
      const { unread_count: n } = await get('/notifications?limit=1');
      if (question === asked) setUnread(n);
    } catch { /* the bell waits for the next event */ }
  }
  const follow = (me) => {
    if (socket) {
      socket.removeEventListener('event', onEvent);
      socket.removeEventListener('welcome', onWelcome);
      socket = null;
    }
    bell.hidden = !me;
    if (!me) return;
    socket = session.socket;
    if (socket) {
      socket.addEventListener('event', onEvent);
      socket.addEventListener('welcome', onWelcome);
    }
    refreshCount();
  };
  onSessionChange(follow);
  loadMe().then((me) => { if (me && !socket) follow(me); }).catch(() => {});
}

function bellIcon() {
  const span = icon('bell', '1.1em');
  span.className = 'icon';
  return span;
}

// --- /inbox --------------------------------------------------------------------

export async function inboxView({ outlet, signal, onCleanup }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate('/login?next=/inbox', { replace: true });
    return;
  }
  const alert = alertBox();
  const list = h('ul', { class: 'inbox-list', 'aria-label': 'Notifications' });
  const status = h('p', { class: 'muted empty' }, 'Loading…');
  const readAllButton = h('button', { type: 'button', class: 'btn btn-small' }, 'Mark all read');
  const moreButton = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Show older');
  const mutes = h('div', { class: 'stack', role: 'group', 'aria-label': 'Notification settings' });

  fill(outlet,
    h('section', { class: 'inbox' },
      h('section', { class: 'card' },
        h('div', { class: 'row inbox-head' },
          h('h1', {}, 'Inbox'), readAllButton),
        alert.el,
        status,
        list,
        moreButton),
      h('section', { class: 'card', 'aria-labelledby': 'mutes-h' },
        h('h2', { id: 'mutes-h' }, 'Notification settings'),
        h('p', { class: 'muted' }, 'Muted kinds are not kept and not delivered.'),
        mutes)));

  const items = []; // newest first
  let nextBefore = null;

  function render() {
    rerender(list, items.map(itemRow));
    status.hidden = items.length > 0;
    status.textContent = items.length ? '' : 'Nothing yet.';
    moreButton.hidden = !nextBefore;
    readAllButton.disabled = unreadCount === 0;
  }

  function itemRow(n) {
    const text = describe(n);
    const join = n.room && n.room.live && ['ping', 'room_started', 'room_invite', 'event_live'].includes(n.kind)
      ? h('a', {
        class: 'btn btn-primary btn-small',
        href: `/rooms/${encodeURIComponent(n.room.id)}`,
        'aria-label': `Join ${n.room.title}`,
        onclick: () => { if (!n.read) markRead(n); },
      }, 'Join')
      : null;
    const mark = n.read ? null : h('button', {
      type: 'button',
      class: 'chip',
      'aria-label': `Mark read: ${text}`,
      dataset: { key: `read-${n.id}` },
      onclick: () => markRead(n),
    }, 'Mark read');
    return h('li', { class: `card inbox-item${n.read ? ' is-read' : ''}` },
      n.actor && n.actor.id ? avatar(n.actor, 'md') : null,
      h('div', { class: 'inbox-body' },
        h('p', { class: 'inbox-text' },
          n.read ? null : h('strong', { class: 'unread-mark' }, 'New: '),
          text),
        h('p', { class: 'muted inbox-when' },
          new Date(n.created_at * 1000).toLocaleString()),
        h('div', { class: 'row' }, join, n.event ? h('a', {
          class: 'btn btn-small',
          href: `/events/${encodeURIComponent(n.event.id)}`,
          'aria-label': `See event ${n.event.title}`,
        }, 'See event') : null, n.club ? h('a', {
          class: 'btn btn-small',
          href: `/clubs/${encodeURIComponent(n.club.id)}`,
          'aria-label': `See the club ${n.club.name}`,
          onclick: () => { if (!n.read) markRead(n); },
        }, 'See the club') : null, mark)));
  }

  async function markRead(n) {
    alert.clear();
    try {
      const res = await Notes.read(n.id);
      n.read = true;
      setUnread(res.unread_count);
      render();
    } catch (err) {
      alert.show(err.message);
    }
  }

  readAllButton.addEventListener('click', async () => {
    alert.clear();
    try {
      const res = await Notes.readAll(items.length ? items[0].id : null);
      for (const n of items) n.read = true;
      setUnread(res.unread_count);
      render();
    } catch (err) {
      alert.show(err.message);
    }
  });

  moreButton.addEventListener('click', async () => {
    try {
      const page = await Notes.list(nextBefore);
      items.push(...page.notifications);
      nextBefore = page.next_before;
      render();
    } catch (err) {
      alert.show(err.message);
    }
  });

  async function load() {
    try {
      const page = await Notes.list(null);
      if (signal.aborted) return;
      items.splice(0, items.length, ...page.notifications);
      nextBefore = page.next_before;
      setUnread(page.unread_count);
      render();
    } catch (err) {
      if (!signal.aborted) alert.show(`Could not load notifications: ${err.message}`);
    }
  }

  async function loadMutes() {
    try {
      const { muted } = await Notes.settings();
      if (signal.aborted) return;
      fill(mutes, Object.entries(KIND_LABELS).map(([kind, label]) => muteToggle(kind, label, muted[kind])));
    } catch (err) {
      if (!signal.aborted) alert.show(`Could not load settings: ${err.message}`);
    }
  }

  function muteToggle(kind, label, on) {
    const id = `mute-${kind}`;
    const { field: row, input: box } = checkbox(label, { id, name: id, checked: Boolean(on) });
    box.addEventListener('change', async () => {
      alert.clear();
      box.disabled = true;
      try {
        const { muted } = await Notes.setMuted({ [kind]: box.checked });
        box.checked = muted[kind];
      } catch (err) {
        box.checked = !box.checked;
        alert.show(err.message);
      } finally {
        box.disabled = false;
      }
    });
    return row;
  }

  const socket = session.socket;
  const onEvent = (e) => {
    if (e.detail.name !== 'notification') return;
    const n = e.detail.data;
    if (!items.some((x) => x.id === n.id)) items.unshift(n);
    render();
  };
  const onWelcome = () => load();
  socket.addEventListener('event', onEvent);
  socket.addEventListener('welcome', onWelcome);
  const onUnread = () => { readAllButton.disabled = unreadCount === 0; };
  unread.addEventListener('change', onUnread);
  onCleanup(() => {
    socket.removeEventListener('event', onEvent);
    socket.removeEventListener('welcome', onWelcome);
    unread.removeEventListener('change', onUnread);
  });
  await Promise.all([load(), loadMutes()]);
}

// --- "Ping a follower" (the room page) ------------------------------------------

/** A fold-out list of your followers with a "Ping" button each (POST /api/pings). */
export function pingPanel(roomId, me) {
  const alert = alertBox();
  const list = h('ul', { class: 'ping-list', 'aria-label': 'Followers to ping' });
  const status = h('p', { class: 'muted empty' }, 'Loading your followers…');
  const panel = h('details', { class: 'card ping-panel' },
    h('summary', {}, 'Ping a follower'),
    alert.el, status, list);
  let loaded = false;
  panel.addEventListener('toggle', async () => {
    if (!panel.open || loaded) return;
    loaded = true;
    try {
      const { users } = await get(`/users/id/${encodeURIComponent(me.id)}/followers?limit=100`);
      status.textContent = users.length ? '' : 'Nobody follows you yet.';
      status.hidden = users.length > 0;
      fill(list, users.map((u) => {
        const name = nameOf(u);
        const button = h('button', { type: 'button', class: 'chip', 'aria-label': `Ping ${name}` }, 'Ping');
        button.addEventListener('click', async () => {
          alert.clear();
          button.disabled = true;
          try {
            await Notes.ping(roomId, u.id);
            button.textContent = 'Pinged';
          } catch (err) {
            alert.show(err.message);
            button.disabled = false;
          }
        });
        return h('li', { class: 'ping-row' }, avatar(u, 'sm'), h('span', { class: 'ping-name' }, name), button);
      }));
    } catch (err) {
      loaded = false;
      alert.show(err.message);
    }
  });
  return panel;
}
