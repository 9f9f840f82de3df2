// The embeddable room, /embed/room/<id>, or guest room, /embed/r/<name> (docs/API.md,
// Embedding): title, stage with speaking rings, listener count, join/leave, raise hand,
// audio; for an iframe on a site the admin lists. Runs as its own page (embed.html),
// not inside the app's router.
//
// Signing in: inside a frame on another site the app's SameSite cookie is not sent, so
// the embed signs in with POST /api/embed/login, which sets a partitioned cookie that
// only frames on that same site get. "Open in Parlor" is always there too. In a guest
// room nobody signs in: a display name and you are in, on a partitioned guest cookie
// of the same kind, and a guest's socket (/ws/guest) as on /r/<name>.
//
// Events to the embedding page, posted only to its origin and only when that origin is
// in the list the server gave (never '*'):
//   {type: 'parlor.embed', version: 1, event: 'joined', room_id}
//   {type: 'parlor.embed', version: 1, event: 'left', room_id, reason: 'left' | 'removed' | 'ended'}
//   {type: 'parlor.embed', version: 1, event: 'speaking', room_id, speakers: [{user_id, display_name}]}
//   {type: 'parlor.embed', version: 1, event: 'hand', room_id, raised: bool}
//
// An end-to-end encrypted room (docs/E2EE.md): a member's keys come as on the room page
// (e2ee.js); a guest room's key from the frame's own fragment (`…/embed/r/<name>#k=…`).
// Without a key nothing is played (every frame is dropped) and the lock says so.
import { Api, ApiError, get, post } from '../api.js';
import { h, avatar, alertBox, icon, field } from '../dom.js';
import { ParlorSocket, defaultUrl } from '../socket.js';
import { RoomMedia } from '../media.js';
import { RoomKeys, fragmentKey } from '../e2ee.js';

const SPEAKING_LEVEL = 0.05;
const SPEAKING_HOLD_MS = 700;
const PREVIEW_EVERY_MS = 5000;

const onStage = (p) => p.role === 'moderator' || p.role === 'speaker';
const isMuted = (p) => p.self_muted || p.mute_locked;
const nameOf = (p) => p.display_name || p.username || 'Someone';

/** The embedding page's origin, if the server lists it; null otherwise (then nothing is posted). */
export function parentOrigin(allowed) {
  if (window.parent === window) return null;
  let origin = null;
  if (location.ancestorOrigins && location.ancestorOrigins.length) origin = location.ancestorOrigins[0];
  else if (document.referrer) {
    try { origin = new URL(document.referrer).origin; } catch { origin = null; }
  }
  return origin && allowed.includes(origin) ? origin : null;
}

/** What the page embeds: a members' room by id, or a guest room by name. */
function embedTarget(path) {
  const room = path.match(/^\/embed\/room\/([^/]+)\/?$/);
  if (room) return { roomId: decodeURIComponent(room[1]), name: null };
  const guest = path.match(/^\/embed\/r\/([^/]+)\/?$/);
  return { roomId: '', name: guest ? decodeURIComponent(guest[1]) : null };
}

async function main() {
  const outlet = document.getElementById('main');
  const target0 = embedTarget(location.pathname);
  const name = target0.name;
  const asGuest = name !== null;
  // A guest room's id is the live one's, and a new one once it ended and is opened again.
  let roomId = target0.roomId;
  const previewPath = asGuest
    ? `/embed/guest-rooms/${encodeURIComponent(name)}` : `/embed/rooms/${encodeURIComponent(roomId)}`;
  const roomUrl = asGuest
    ? `${location.origin}/r/${encodeURIComponent(name)}` : `${location.origin}/rooms/${encodeURIComponent(roomId)}`;

  let preview;
  try {
    preview = await get(previewPath);
  } catch (err) {
    outlet.replaceChildren(message(err));
    return;
  }
  if (asGuest) roomId = preview.room.id || '';
  const target = parentOrigin(preview.origins);
  const tell = (event, extra = {}) => {
    if (target) window.parent.postMessage({ type: 'parlor.embed', version: 1, event, room_id: roomId, ...extra }, target);
  };

  // --- skeleton ------------------------------------------------------------
  const titleEl = h('h1', { class: 'embed-title' });
  const countEl = h('p', { class: 'muted embed-count' });
  const stageList = h('ul', { class: 'people embed-stage', 'aria-label': 'Stage' });
  const alert = alertBox();
  const status = h('p', { class: 'sr-only', role: 'status' });
  const controls = h('div', { class: 'embed-controls', role: 'group', 'aria-label': 'Your controls' });
  const sink = h('div', { class: 'audio-sink', hidden: true, 'aria-hidden': 'true' });
  const lockState = h('span', { class: 'lock-state', role: 'status', 'aria-label': 'Encryption' });
  const lockEl = h('p', { class: 'lock embed-lock', hidden: !preview.room.encrypted },
    h('a', { class: 'badge badge-lock', href: '/privacy', target: '_blank', rel: 'noopener' },
      icon('lock'), 'End-to-end encrypted'),
    ' ', lockState);
  const openLink = h('a', { class: 'embed-open', href: roomUrl, target: '_blank', rel: 'noopener' }, 'Open in Parlor');
  outlet.replaceChildren(h('section', { class: 'embed-room', 'aria-labelledby': 'embed-title' },
    h('header', { class: 'embed-head' },
      h('img', { src: '/static/icon.svg', alt: '', width: 24, height: 24 }),
      h('div', { class: 'embed-head-text' }, titleEl, countEl)),
    lockEl, stageList, alert.el, status, controls,
    h('footer', { class: 'embed-foot' }, openLink), sink));
  titleEl.id = 'embed-title';

  const state = {
    room: null, mine: null, me: null, joined: false, leaving: false, speaking: '',
    actions: Promise.resolve(), pressed: new Set(),
  };
  const levels = new Map();
  let socket = null;
  let media = null;
  let keys = null; // an encrypted room's RoomKeys, while in it
  let previewTimer = null;

  // --- rendering -----------------------------------------------------------
  function renderRoom() {
    const room = state.room;
    titleEl.textContent = room.title;
    document.title = `${room.title} · Parlor`;
    const count = room.listener_count ?? 0;
    countEl.textContent = room.live === false ? 'Nobody is here yet: come in and open it.'
      : `${count} ${count === 1 ? 'listener' : 'listeners'}`;
    const stage = (room.stage || room.participants.filter(onStage))
      .slice().sort((a, b) => a.joined_at - b.joined_at);
    stageList.replaceChildren(...stage.map((p) => h('li', {
      class: 'person on-stage', dataset: { userId: p.user_id, muted: String(isMuted(p)), speaking: 'false' },
    },
    h('span', { class: 'ring' }, avatar(p, 'md')),
    h('span', { class: 'person-name' }, nameOf(p)),
    h('span', { class: 'marks' },
      p.role === 'moderator' ? h('span', { class: 'badge badge-mod' }, 'moderator') : null,
      isMuted(p) ? h('span', { class: 'mark mark-muted' }, icon('micOff'), 'muted') : null,
      h('span', { class: 'sr-only speaking-now', hidden: true }, 'speaking now')))));
    renderSpeaking();
    renderControls();
  }

  function renderLock() {
    if (!keys) {
      lockState.textContent = '';
      return;
    }
    const waiting = !keys.sendKey;
    lockState.textContent = media && media.cantDecrypt
      ? (waiting ? "Can't decrypt: no room key" : "Can't decrypt some audio: a key is missing")
      : waiting ? 'Waiting for the room key…' : 'Keys in place';
  }

  function renderSpeaking() {
    const now = performance.now();
    const speakers = [];
    for (const li of stageList.querySelectorAll('li[data-user-id]')) {
      const at = levels.get(li.dataset.userId);
      const speaking = at !== undefined && now - at < SPEAKING_HOLD_MS && li.dataset.muted !== 'true';
      if (speaking) speakers.push(li.dataset.userId);
      if ((li.dataset.speaking === 'true') !== speaking) {
        li.dataset.speaking = String(speaking);
        li.classList.toggle('is-speaking', speaking);
        li.querySelector('.speaking-now').hidden = !speaking;
      }
    }
    const key = speakers.join(',');
    if (state.joined && key !== state.speaking) {
      state.speaking = key;
      const stage = state.room ? (state.room.stage || state.room.participants) : [];
      const named = (id) => {
        const p = stage.find((x) => x.user_id === id);
        return { user_id: id, display_name: p ? nameOf(p) : '' };
      };
      tell('speaking', { speakers: speakers.map(named) });
    }
  }

  function button(label, key, onclick, cls = 'btn btn-small', ico = null, extra = {}) {
    return h('button', { type: 'button', class: cls, dataset: { key }, onclick, ...extra }, ico ? icon(ico) : null, label);
  }

  function renderControls() {
    const focused = document.activeElement && controls.contains(document.activeElement)
      ? document.activeElement.dataset.key : null;
    const items = [];
    if (!state.me) {
      items.push(asGuest ? guestForm() : signInForm());
    } else if (!state.joined) {
      items.push(button('Join the room', 'join', () => join(), 'btn btn-primary btn-small'));
      items.push(button('Sign out', 'sign-out', () => signOut(), 'btn btn-ghost btn-small'));
    } else {
      const mine = state.mine;
      if (mine && mine.role === 'listener' && mine.speak_invite) {
        items.push(h('p', { class: 'embed-note' }, 'You are invited to speak.'));
        items.push(button('Accept invitation to speak', 'accept', () => act(() => Api.acceptInvite(roomId)), 'btn btn-primary btn-small'));
        items.push(button('Decline', 'decline', () => act(() => Api.declineInvite(roomId))));
      }
      if (mine && onStage(mine)) {
        const muted = isMuted(mine);
        items.push(button(muted ? 'Unmute' : 'Mute', 'mute', () => toggleMute(),
          muted ? 'btn btn-small btn-mic is-muted' : 'btn btn-small btn-mic', muted ? 'micOff' : 'mic',
          { disabled: mine.mute_locked }));
      } else if (mine && state.room.hand_raise !== 'off') {
        items.push(mine.hand_raised
          ? button('Lower hand', 'hand', () => setHand(false), 'btn btn-small btn-hand is-raised', 'hand')
          : button('Raise hand', 'hand', () => setHand(true), 'btn btn-small btn-hand', 'hand'));
      }
      if (media && media.audioBlocked) items.push(button('Play audio', 'play', () => media.resumeAudio(), 'btn btn-primary btn-small'));
      items.push(button('Leave', 'leave', () => leave(), 'btn btn-small btn-leave', 'leave'));
    }
    controls.replaceChildren(...items);
    if (focused) {
      const again = controls.querySelector(`[data-key="${focused}"]`);
      if (again) again.focus();
    }
  }

  function signInForm() {
    const user = field('Username', { name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
    const pass = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { class: 'embed-signin', 'aria-label': 'Sign in to join' },
      h('p', { class: 'embed-note' }, 'Sign in with your Parlor account to listen and take part.'),
      user.field, pass.field,
      h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Sign in and join'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      alert.clear();
      try {
        state.me = await post('/embed/login', { username: user.input.value.trim(), password: pass.input.value });
      } catch (err) {
        alert.show(err.message);
        return;
      }
      try {
        await join();
      } catch (err) {
        console.error(err);
        alert.show(err.message || String(err));
      }
    });
    return form;
  }

  function guestForm() {
    const shown = field('Your name', { name: 'display_name', autocomplete: 'nickname', maxlength: 40, required: true });
    const form = h('form', { class: 'embed-signin', 'aria-label': 'Come in as a guest' },
      h('p', { class: 'embed-note' }, 'No account needed: type the name others will see. Nothing about you is kept.'),
      shown.field,
      h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Enter the room'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      alert.clear();
      if (!shown.input.value.trim()) {
        alert.show('Type the name others will see.');
        shown.input.focus();
        return;
      }
      await join(shown.input.value.trim());
    });
    return form;
  }

  /** In a guest room: come in (opening it if nobody is there), or, `displayName` null,
   * back in after a reload with the guest the cookie still names. */
  async function enterAsGuest(displayName) {
    if (displayName === null) return Api.room(roomId);
    const body = { display_name: displayName };
    if (fragmentKey()) body.encrypted = true; // opening it: encrypted, the key in this frame's link
    const entered = await post(`/embed/guest-rooms/${encodeURIComponent(name)}/enter`, body);
    state.me = entered.guest;
    roomId = entered.room.id;
    return entered.room;
  }

  // --- actions ---------------------------------------------------------------
  // One action at a time, in the order pressed (as on the room page). A second press of a
  // control whose action is still pending is a double-click and dropped; a press of any
  // other control waits its turn instead of being lost (accept, then at once unmute).
  async function act(call) {
    const active = document.activeElement;
    const key = active instanceof HTMLElement ? active.dataset.key ?? null : null;
    if (key !== null && state.pressed.has(key)) return null;
    if (key !== null) state.pressed.add(key);
    const turn = state.actions.then(async () => {
      if (!state.joined) return null;
      alert.clear();
      try {
        const snap = await call();
        if (snap && snap.id === roomId) applySnapshot(snap);
        return snap;
      } catch (err) {
        if (err.code === 'room_ended') ended();
        else alert.show(err.message);
        return null;
      } finally {
        if (key !== null) state.pressed.delete(key);
      }
    });
    state.actions = turn.catch(() => null);
    return turn;
  }

  async function join(displayName = null) {
    let snap = null;
    try {
      snap = asGuest ? await enterAsGuest(displayName) : await Api.join(roomId);
    } catch (err) {
      if (err.code === 'room_ended') return ended();
      if (err.code !== 'already_in_room') {
        alert.show(err.message);
        renderControls();
        return null;
      }
      snap = await Api.room(roomId);
    }
    clearInterval(previewTimer);
    state.joined = true;
    state.mine = snap.participants.find((p) => p.user_id === state.me.id) || null;
    follow(Boolean(snap.encrypted));
    applySnapshot(snap);
    status.textContent = 'You joined the room.';
    tell('joined');
    return snap;
  }

  async function setHand(raised) {
    const snap = await act(() => Api.hand(roomId, raised));
    if (snap) status.textContent = raised ? 'Hand raised.' : 'Hand lowered.';
  }

  async function toggleMute() {
    if (!state.mine) return;
    const muted = isMuted(state.mine);
    if (!muted && media) media.setStage(true, true);
    await act(() => Api.mute(roomId, !muted));
  }

  async function leave() {
    state.leaving = true; // room.you (null) may arrive before the answer
    try { await Api.leave(roomId); } catch { /* out already */ }
    stopFollowing('left');
    state.leaving = false;
    status.textContent = 'You left the room.';
    backToPreview();
  }

  function backToPreview() {
    clearInterval(previewTimer);
    refreshPreview();
    previewTimer = setInterval(refreshPreview, PREVIEW_EVERY_MS);
  }

  async function signOut() {
    try { await post('/embed/logout'); } catch { /* signed out anyway */ }
    state.me = null;
    renderControls();
  }

  function ended() {
    stopFollowing('ended');
    if (asGuest) { // its name opens a new one: back to the preview, and the name form
      status.textContent = 'The room has ended.';
      backToPreview();
      return;
    }
    clearInterval(previewTimer);
    outlet.replaceChildren(message(new ApiError(410, 'room_ended', 'This room has ended.')));
  }

  // --- live updates ------------------------------------------------------------
  function applySnapshot(snap) {
    if (snap.ended) return ended();
    if (state.room && state.room.version !== undefined && snap.version < state.room.version) return;
    state.room = snap;
    if (keys) keys.setPeople(snap.participants);
    const mine = snap.participants.find((p) => state.me && p.user_id === state.me.id);
    if (mine) setMine(mine);
    renderRoom();
  }

  function setMine(mine) {
    const before = state.mine;
    state.mine = mine;
    if (media) media.setStage(onStage(mine), isMuted(mine));
    if (before && before.hand_raised !== mine.hand_raised) tell('hand', { raised: mine.hand_raised });
    else if (!before && mine.hand_raised) tell('hand', { raised: true });
  }

  function follow(encrypted) {
    socket = asGuest
      ? new ParlorSocket(defaultUrl('/ws/guest'), { prefix: 'parlor.guest', meUrl: '/api/guest/me' })
      : new ParlorSocket();
    keys = encrypted
      ? new RoomKeys({ socket, roomId, myId: state.me.id, guest: asGuest, guestKey: asGuest ? fragmentKey() : null })
      : null;
    if (keys) keys.addEventListener('keys', () => renderLock());
    lockEl.hidden = !encrypted;
    media = new RoomMedia(socket, roomId, sink, { keys });
    media.addEventListener('change', () => { renderControls(); renderLock(); });
    renderLock();
    socket.addEventListener('welcome', () => {
      if (keys) keys.publish();
      media.start();
    });
    socket.addEventListener('event', (e) => {
      const msg = e.detail;
      if (msg.name === 'room.state' && msg.data.id === roomId) applySnapshot(msg.data);
      else if (msg.name === 'room.you' && msg.data.room_id === roomId) {
        if (!msg.data.participant) {
          if (state.joined) {
            stopFollowing(state.leaving ? 'left' : 'removed');
            status.textContent = 'You are no longer in this room.';
            backToPreview();
          }
        } else {
          setMine(msg.data.participant);
          renderControls();
        }
      } else if (msg.name === 'room.ended' && msg.data.room_id === roomId) ended();
    });
    socket.addEventListener('speaking', (e) => {
      if (e.detail.room_id !== roomId) return;
      const now = performance.now();
      for (const [userId, level] of Object.entries(e.detail.levels || {})) {
        if (level > SPEAKING_LEVEL) levels.set(userId, now);
      }
      renderSpeaking();
    });
    socket.connect();
    socket.subscribe(roomId);
    state.speakingTimer = setInterval(renderSpeaking, 250);
  }

  function stopFollowing(reason) {
    if (!state.joined) return;
    state.joined = false;
    state.mine = null;
    state.speaking = '';
    if (asGuest) state.me = null; // a guest out of the room is nobody: their token died
    clearInterval(state.speakingTimer);
    if (media) media.stop();
    if (keys) keys.stop();
    if (socket) socket.close();
    media = null;
    keys = null;
    renderLock();
    socket = null;
    tell('left', { reason });
    renderControls();
  }

  async function refreshPreview() {
    try {
      const next = await get(previewPath);
      if (!state.joined) {
        if (asGuest) roomId = next.room.id || '';
        state.room = next.room;
        renderRoom();
      }
    } catch (err) {
      if (err.code === 'room_ended' || err.status === 404) ended();
    }
  }

  // --- start -------------------------------------------------------------------
  state.room = preview.room;
  if (asGuest) {
    const mine = roomId ? await get('/guest/me').catch(() => null) : null;
    state.me = mine && mine.room_id === roomId ? mine : null;
  } else {
    try {
      state.me = await Api.me();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) alert.show(err.message);
      state.me = null;
    }
  }
  renderRoom();
  if (asGuest && state.me) await join();
  previewTimer = setInterval(refreshPreview, PREVIEW_EVERY_MS);
  window.parlor = Object.assign(window.parlor || {}, { embed: state });
}

function message(err) {
  const title = err.status === 404 ? 'Room not found'
    : err.code === 'room_ended' ? 'This room has ended'
      : err.code === 'embedding_off' ? 'Embedding is off'
        : err.code === 'room_not_embeddable' ? 'This room cannot be embedded'
          : err.code === 'guest_rooms_off' ? 'Guest rooms are off'
            : err.code === 'invalid_room_name' ? 'Not a room name'
              : 'Cannot show this room';
  return h('section', { class: 'embed-message' },
    h('h1', {}, title),
    h('p', { role: 'status' }, err.message),
    h('a', { href: '/', target: '_blank', rel: 'noopener' }, 'Open Parlor'));
}

main();
