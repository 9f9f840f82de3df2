// /r/<name>: a guest room. Type a display name and you are in (no account, no
// install); the first to arrive opens the room and moderates it. The room page is
// the members' one (room.js mountRoom) on a socket of the guest's own (/ws/guest).
// Nothing of the guest is kept: their place dies with their token when they leave.
import { get, post } from '../api.js';
import { h, alertBox } from '../dom.js';
import { navigate } from '../router.js';
import { hook } from '../session.js';
import { ParlorSocket, defaultUrl } from '../socket.js';
import { mountRoom } from './room.js';

export const NAME_RULE = /^[A-Za-z0-9_-]{4,64}$/;

export async function guestRoomView(ctx) {
  const { outlet, params, signal } = ctx;
  const name = decodeURIComponent(params.name);
  document.title = 'Guest room · Parlor';
  if (!NAME_RULE.test(name)) {
    outlet.replaceChildren(problem('Not a room name',
      'A guest room\'s name is 4 to 64 letters, digits, dashes or underscores, like /r/team-standup.'));
    return;
  }
  let status;
  try {
    status = await get(`/guest-rooms/${encodeURIComponent(name)}`);
  } catch (err) {
    if (signal.aborted) return;
    if (err.code === 'network') throw err;
    outlet.replaceChildren(problem(err.code === 'guest_rooms_off' ? 'Guest rooms are off' : 'Cannot open this room',
      err.code === 'guest_rooms_off' ? 'This server does not let people in without an account.' : err.message));
    return;
  }
  if (signal.aborted) return;
  // Back on the page (a reload) while still in the room: straight in, same place.
  const mine = await get('/guest/me').catch(() => null);
  if (signal.aborted) return;
  if (mine && status.live && mine.room_id === status.room_id) {
    let snap;
    try {
      snap = await get(`/rooms/${encodeURIComponent(mine.room_id)}`);
    } catch {
      snap = null;
    }
    if (signal.aborted) return;
    if (snap && !snap.ended) return enterAsGuest(ctx, { guest: mine, room: snap }, name);
  }
  namePrompt(ctx, {
    title: status.live ? status.title : name,
    intro: status.live
      ? `${status.count} ${status.count === 1 ? 'person is' : 'people are'} here. No account needed.`
      : 'Nobody is here yet: you open the room and moderate it. No account needed.',
    enter: (displayName) => post(`/guest-rooms/${encodeURIComponent(name)}/enter`, { display_name: displayName }),
    then: (entered) => enterAsGuest(ctx, entered, name),
  });
}

/** The display-name form; `enter(name)` answers {guest, room}, `then` takes it. */
export function namePrompt(ctx, { title, intro, enter, then, signIn = false }) {
  const { outlet, signal } = ctx;
  document.title = `${title} · Parlor`;
  const alert = alertBox();
  const input = h('input', {
    id: 'guest-name', name: 'display_name', type: 'text', maxlength: 40, autocomplete: 'nickname', required: true,
  });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Enter the room');
  const form = h('form', { class: 'guest-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'guest-name' }, 'Your name'), input),
    h('div', { class: 'row' }, button,
      signIn ? h('a', { class: 'btn', href: `/login?next=${encodeURIComponent(location.pathname)}` }, 'Sign in instead') : null));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    if (!input.value.trim()) {
      alert.show('Type the name others will see.');
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const entered = await enter(input.value);
      if (!signal.aborted) then(entered);
    } catch (err) {
      if (signal.aborted) return;
      alert.show(err.message);
      button.disabled = false;
      input.focus();
    }
  });
  outlet.replaceChildren(h('section', { class: 'card narrow guest-entry' },
    h('h1', {}, title),
    h('p', { class: 'muted' }, intro),
    form,
    alert.el,
    h('p', { class: 'muted small' }, 'Nothing about you is kept: your name is gone when you leave.')));
  input.focus();
}

/** In the room as a guest: a socket of their own, then the room page. */
export function enterAsGuest(ctx, { guest, room }, name) {
  const socket = new ParlorSocket(defaultUrl('/ws/guest'), { prefix: 'parlor.guest', meUrl: '/api/guest/me' });
  const memberSocket = hook.socket;
  socket.addEventListener('state', (e) => { hook.socketState = e.detail; });
  hook.socket = socket;
  socket.connect();
  hook.socketState = socket.state;
  ctx.onCleanup(() => {
    socket.close();
    hook.socket = memberSocket;
    hook.socketState = memberSocket ? memberSocket.state : 'closed';
  });
  const me = { id: guest.id, display_name: guest.display_name, username: '', guest: true };
  mountRoom(ctx, {
    roomId: room.id,
    me,
    socket,
    snap: room,
    guest: true,
    shareUrl: name ? `${location.origin}/r/${encodeURIComponent(name)}` : null,
  });
}

/**
 * "Start a guest room": a name, then /r/<name> (share that link). Empty unless the
 * instance allows guest rooms (asked once the element is on the page).
 */
export function guestRoomStarter() {
  const box = h('section', { class: 'card guest-starter', 'aria-labelledby': 'guest-start-h', hidden: true });
  get('/guest-rooms').then((info) => {
    if (!info.enabled) return;
    const alert = alertBox();
    const input = h('input', {
      id: 'guest-room-name', name: 'name', type: 'text', maxlength: 64, autocomplete: 'off',
      'aria-describedby': 'guest-room-hint', placeholder: 'team-standup',
    });
    const form = h('form', { class: 'guest-start-form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: 'guest-room-name' }, 'Guest room name'),
        input,
        h('p', { class: 'muted small', id: 'guest-room-hint' },
          '4 to 64 letters, digits, - or _. Anyone with its link joins without an account; nothing is kept.')),
      h('button', { type: 'submit', class: 'btn' }, 'Start a guest room'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      alert.clear();
      const name = input.value.trim();
      if (!NAME_RULE.test(name)) {
        alert.show('A guest room\'s name is 4 to 64 letters, digits, dashes or underscores.');
        input.focus();
        return;
      }
      navigate(`/r/${encodeURIComponent(name)}`);
    });
    box.replaceChildren(h('h2', { id: 'guest-start-h' }, 'Guest room'), form, alert.el);
    box.hidden = false;
  }).catch(() => { /* no guest rooms offered */ });
  return box;
}

function problem(title, text) {
  return h('section', { class: 'card narrow page-message' },
    h('h1', {}, title),
    h('p', { role: 'alert' }, text),
    h('a', { class: 'btn btn-primary', href: '/' }, 'Back to the start'));
}
