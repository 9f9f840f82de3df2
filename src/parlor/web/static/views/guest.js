// /r/<name>: a guest room. Type a display name and you are in (no account, no
// install); the first to arrive opens the room and moderates it. The room page is
// the members' one (room.js mountRoom) on a socket of the guest's own (/ws/guest).
// Nothing of the guest is kept: their place dies with their token when they leave.
//
// End-to-end encrypted guest rooms (docs/E2EE.md §1): the key is in the link's fragment
// (`#k=…`, which the browser never sends to the server) or derived from a passphrase
// each person types; the page keeps it in sessionStorage for a reload, nowhere else.
import { get, post } from '../api.js';
import { h, alertBox, icon } from '../dom.js';
import { fragmentKey, newFragment } from '../e2ee.js';
import { b64d, b64e, passphraseKey } from '../e2ee_crypto.js';
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
  const linkKey = fragmentKey();
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
    const key = snap && snap.encrypted ? linkKey || keptKey(snap.id) : null;
    if (snap && !snap.ended && (!snap.encrypted || key)) {
      return enterAsGuest(ctx, { guest: mine, room: snap }, name, { key, inLink: Boolean(linkKey) });
    }
  }
  // Encrypted and live, without the key in the link: the passphrase is asked for.
  const askPassphrase = status.live && status.encrypted && !linkKey;
  // Opening it, without a key in the link: it may be made encrypted here.
  const offerEncryption = !status.live && !linkKey;
  const encrypted = offerEncryption ? encryptOption('guest-encrypted') : null;
  const passphrase = askPassphrase || offerEncryption
    ? passphraseField(askPassphrase ? 'The room\'s passphrase'
      : 'Passphrase (optional: instead of a key in the link)', askPassphrase)
    : null;
  if (passphrase && encrypted) {
    passphrase.el.hidden = true;
    encrypted.input.addEventListener('change', () => { passphrase.el.hidden = !encrypted.input.checked; });
  }
  const lockNote = (status.live && status.encrypted) || linkKey
    ? h('p', { class: 'muted small' }, 'End-to-end encrypted: ',
      linkKey ? 'the key is in this link, and only in your browser.' : 'everyone types the same passphrase.')
    : null;
  let chosen = null; // {key, inLink}
  namePrompt(ctx, {
    title: status.live ? status.title : name,
    intro: status.live
      ? `${status.count} ${status.count === 1 ? 'person is' : 'people are'} here. No account needed.`
      : 'Nobody is here yet: you open the room and moderate it. No account needed.',
    extra: [lockNote, encrypted && encrypted.el, passphrase && passphrase.el],
    enter: async (displayName) => {
      chosen = await chooseKey({ name, linkKey, askPassphrase, encrypted, passphrase });
      const body = { display_name: displayName };
      if (chosen) body.encrypted = true;
      return post(`/guest-rooms/${encodeURIComponent(name)}/enter`, body);
    },
    then: (entered) => {
      if (entered.room.encrypted && !chosen) {
        // It was opened encrypted meanwhile: come back for its passphrase.
        navigate(location.pathname, { replace: true });
        return;
      }
      enterAsGuest(ctx, entered, name, entered.room.encrypted ? chosen : null);
    },
  });
}

/** The key the person chose or was given, or null for a room in the clear. */
async function chooseKey({ name, linkKey, askPassphrase, encrypted, passphrase }) {
  if (linkKey) return { key: linkKey, inLink: true };
  const typed = passphrase ? passphrase.input.value : '';
  if (askPassphrase || (encrypted && encrypted.input.checked && typed)) {
    if (!typed) throw new Error('Type the room\'s passphrase: its audio and chat are encrypted with it.');
    return { key: await passphraseKey(typed, name), inLink: false };
  }
  if (encrypted && encrypted.input.checked) {
    // The key goes in the link (never to the server): share the link to share the key.
    history.replaceState(null, '', location.pathname + location.search + newFragment());
    return { key: fragmentKey(), inLink: true };
  }
  return null;
}

function passphraseField(label, required) {
  const input = h('input', {
    id: 'guest-passphrase', name: 'passphrase', type: 'password', autocomplete: 'off', required,
    'aria-describedby': 'guest-passphrase-hint',
  });
  const el = h('div', { class: 'field' },
    h('label', { for: 'guest-passphrase' }, label),
    input,
    h('p', { class: 'muted small', id: 'guest-passphrase-hint' },
      'It never leaves this browser: the room key is made from it here. Tell it to the others yourself.'));
  return { el, input };
}

const KEPT_KEY = 'parlor.guest.key.';

function keptKey(roomId) {
  try {
    const text = sessionStorage.getItem(KEPT_KEY + roomId);
    return text ? b64d(text) : null;
  } catch {
    return null;
  }
}

function keepKey(roomId, key) {
  try {
    sessionStorage.setItem(KEPT_KEY + roomId, b64e(key));
  } catch { /* no storage: a reload asks again */ }
}

/** The display-name form; `enter(name)` answers {guest, room}, `then` takes it. */
export function namePrompt(ctx, { title, intro, enter, then, signIn = false, extra = [] }) {
  const { outlet, signal } = ctx;
  document.title = `${title} · Parlor`;
  const alert = alertBox();
  const input = h('input', {
    id: 'guest-name', name: 'display_name', type: 'text', maxlength: 40, autocomplete: 'nickname', required: true,
  });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Enter the room');
  const form = h('form', { class: 'guest-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'guest-name' }, 'Your name'), input),
    extra,
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

/** In the room as a guest: a socket of their own, then the room page. `e2ee`: an
 *  encrypted room's {key, inLink} (the share link then carries the key when it came in one). */
export function enterAsGuest(ctx, { guest, room }, name, e2ee = null) {
  if (e2ee) keepKey(room.id, e2ee.key);
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
    shareUrl: name ? `${location.origin}/r/${encodeURIComponent(name)}${e2ee && e2ee.inLink ? location.hash : ''}` : null,
    guestKey: e2ee ? e2ee.key : null,
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
    const encrypted = encryptOption('guest-start-encrypted');
    const form = h('form', { class: 'guest-start-form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: 'guest-room-name' }, 'Guest room name'),
        input,
        h('p', { class: 'muted small', id: 'guest-room-hint' },
          '4 to 64 letters, digits, - or _. Anyone with its link joins without an account; nothing is kept.')),
      encrypted.el,
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
      // Encrypted: a fresh key in the link's fragment, which the browser never sends.
      navigate(`/r/${encodeURIComponent(name)}${encrypted.input.checked ? newFragment() : ''}`);
    });
    box.replaceChildren(h('h2', { id: 'guest-start-h' }, 'Guest room'), form, alert.el);
    box.hidden = false;
  }).catch(() => { /* no guest rooms offered */ });
  return box;
}

/** "End-to-end encrypted": a checkbox with what it means, and a link to the privacy page. */
export function encryptOption(id) {
  const input = h('input', { type: 'checkbox', id, name: 'encrypted', 'aria-describedby': `${id}-hint` });
  const el = h('div', { class: 'encrypt-option' },
    h('div', { class: 'check' }, input, h('label', { for: id }, icon('lock'), ' End-to-end encrypted')),
    h('p', { class: 'muted small', id: `${id}-hint` },
      'Audio and chat are encrypted in each browser: the server relays them without being able to hear or read them. ',
      h('a', { href: '/privacy', target: '_blank', rel: 'noopener', 'aria-label': 'What the server still sees (opens in a new tab)' },
        'What the server still sees')));
  return { el, input };
}

function problem(title, text) {
  return h('section', { class: 'card narrow page-message' },
    h('h1', {}, title),
    h('p', { role: 'alert' }, text),
    h('a', { class: 'btn btn-primary', href: '/' }, 'Back to the start'));
}
