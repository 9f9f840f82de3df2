// The hallway: live rooms (refreshed on `hallway.changed` and every 10 s), start a room,
// admin invites, sign out. Signed out: a welcome with sign in / sign up links.
import { Api } from '../api.js';
import { h, field, alertBox, avatar, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, session, signOut } from '../session.js';

const REFRESH_MS = 10000;

export async function hallwayView(ctx) {
  const me = await loadMe();
  if (ctx.signal.aborted) return;
  if (!me) return signedOutView(ctx);
  return signedInView(ctx, me);
}

async function signedOutView({ outlet, signal }) {
  let setupNeeded = false;
  try {
    setupNeeded = (await Api.setupNeeded()).needed;
  } catch { /* the welcome works without it */ }
  if (signal.aborted) return;
  outlet.replaceChildren(h('section', { class: 'card narrow welcome' },
    h('h1', {}, 'Live audio rooms'),
    h('p', { class: 'muted' }, 'Drop in, listen, raise your hand, talk. Nothing is recorded.'),
    setupNeeded
      ? h('p', { class: 'notice' }, 'This server is not set up yet: open the setup link printed by ', h('code', {}, 'parlor serve'), '.')
      : null,
    h('div', { class: 'row' },
      h('a', { class: 'btn btn-primary', href: '/login' }, 'Sign in'),
      h('a', { class: 'btn', href: '/signup' }, 'Sign up')),
  ));
}

function signedInView({ outlet, signal, onCleanup }, me) {
  const alert = alertBox();
  const title = field('Room title', { name: 'title', maxlength: 120, autocomplete: 'off', placeholder: 'What do you want to talk about?' });
  const startButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start a room');
  const startForm = h('form', { class: 'start-room', novalidate: true }, title.field, startButton);
  startForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    startButton.disabled = true;
    try {
      const room = await Api.createRoom(title.input.value);
      navigate(`/rooms/${encodeURIComponent(room.id)}`);
    } catch (err) {
      alert.show(err.message);
      startButton.disabled = false;
    }
  });

  const list = h('ul', { class: 'room-list', 'aria-label': 'Live rooms' });
  const listStatus = h('p', { class: 'muted empty' }, 'Looking for live rooms…');

  const signOutButton = h('button', { type: 'button', class: 'btn btn-ghost' }, 'Sign out');
  signOutButton.addEventListener('click', async () => {
    signOutButton.disabled = true;
    try {
      await signOut();
    } catch (err) {
      alert.show(err.message);
    }
    navigate('/', { replace: true });
  });

  const adminBox = me.is_admin ? inviteBox(alert) : null;

  outlet.replaceChildren(
    h('section', { class: 'hallway' },
      h('div', { class: 'hallway-head' },
        h('div', { class: 'me' }, avatar(me, 'sm'), h('span', {}, me.display_name)),
        signOutButton),
      h('section', { class: 'card start-card', 'aria-labelledby': 'start-h' },
        h('h1', { id: 'start-h' }, 'Hallway'),
        startForm,
        alert.el),
      adminBox,
      h('section', { class: 'rooms', 'aria-labelledby': 'live-h' },
        h('h2', { id: 'live-h' }, 'Live now'),
        listStatus,
        list)));

  let loading = false;
  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      const { rooms } = await Api.rooms();
      if (signal.aborted) return;
      rerender(list, rooms.map(roomCard));
      listStatus.textContent = rooms.length ? '' : 'No live rooms right now. Start one!';
      listStatus.hidden = rooms.length > 0;
    } catch (err) {
      if (!signal.aborted) {
        listStatus.hidden = false;
        listStatus.textContent = `Could not load rooms: ${err.message}`;
      }
    } finally {
      loading = false;
    }
  }

  const socket = session.socket;
  const onEvent = (e) => { if (e.detail.name === 'hallway.changed') refresh(); };
  const onWelcome = () => refresh();
  socket.addEventListener('event', onEvent);
  socket.addEventListener('welcome', onWelcome);
  const timer = setInterval(refresh, REFRESH_MS);
  const onVisible = () => { if (!document.hidden) refresh(); };
  document.addEventListener('visibilitychange', onVisible);
  onCleanup(() => {
    socket.removeEventListener('event', onEvent);
    socket.removeEventListener('welcome', onWelcome);
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  });
  refresh();
}

function roomCard(room) {
  const speakers = room.speakers || [];
  const names = speakers.map((s) => s.display_name || s.username);
  const count = room.listener_count || 0;
  return h('li', { class: 'room-card card' },
    h('h3', { class: 'room-title' }, room.title),
    h('div', { class: 'room-people' },
      h('span', { class: 'avatar-stack', 'aria-hidden': 'true' }, speakers.slice(0, 3).map((s) => avatar(s, 'sm'))),
      h('span', { class: 'speaker-names' }, names.length ? names.join(', ') : 'No one on stage')),
    h('div', { class: 'room-foot' },
      h('span', { class: 'muted' }, `${count} ${count === 1 ? 'listener' : 'listeners'}`),
      h('a', {
        class: 'btn btn-primary btn-small',
        href: `/rooms/${encodeURIComponent(room.id)}`,
        'aria-label': `Join ${room.title}`,
        dataset: { key: `join-${room.id}` },
      }, 'Join')));
}

function inviteBox(alert) {
  const out = h('div', { class: 'invite-out', hidden: true });
  const button = h('button', { type: 'button', class: 'btn' }, 'Create invite');
  button.addEventListener('click', async () => {
    alert.clear();
    button.disabled = true;
    try {
      const { code } = await Api.createInvite();
      const link = `${location.origin}/signup?code=${encodeURIComponent(code)}`;
      const linkField = field('Invite link', { value: link, readonly: true });
      const codeField = field('Invite code', { value: code, readonly: true });
      const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy invite link');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(link);
          copy.textContent = 'Copied';
        } catch {
          linkField.input.select();
        }
      });
      out.replaceChildren(linkField.field, codeField.field, copy);
      out.hidden = false;
      linkField.input.focus();
      linkField.input.select();
    } catch (err) {
      alert.show(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card admin', 'aria-labelledby': 'admin-h' },
    h('h2', { id: 'admin-h' }, 'Invite someone'),
    h('p', { class: 'muted' }, 'Each invite lets one person sign up.'),
    button,
    out);
}
