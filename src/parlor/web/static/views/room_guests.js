// Guests on the room page: a moderator's switches ("Anyone with the link" in a members'
// room; "Stage on" in a guest room), and the way in for someone without an account who
// opens a members' room's link (a display name, then the room, as a guest).
import { ApiError, get, post } from '../api.js';
import { h } from '../dom.js';

/** The moderator's guest switch, rendered with the room; hidden for everyone else. */
export function guestControls({ roomId, act }) {
  const path = (tail) => `/rooms/${encodeURIComponent(roomId)}/${tail}`;
  const el = h('span', { class: 'guest-tools' });
  let shown = '';
  function render(room, mine) {
    const amMod = Boolean(mine) && mine.role === 'moderator';
    let key = '';
    if (amMod && room.guest_room) key = `stage-${room.open_stage}`;
    else if (amMod) key = `link-${room.guests_allowed}`;
    if (key === shown) return;
    shown = key;
    if (!key) {
      el.replaceChildren();
      return;
    }
    // A toggle button (aria-pressed): its name stays, its state is read out.
    const [label, pressed, hint, call] = room.guest_room
      ? ['Stage on', !room.open_stage,
        room.open_stage ? 'Everyone may speak. Turn the stage on: newcomers listen and raise a hand.'
          : 'The stage is on: listeners raise a hand to speak.',
        () => post(path('open-stage'), { open: !room.open_stage })]
      : ['Anyone with the link', room.guests_allowed,
        room.guests_allowed ? 'People without an account can join by this room\'s link, as guests.'
          : 'Only members can join. Turn on to let anyone with the link in as a guest.',
        () => post(path('guests'), { allowed: !room.guests_allowed })];
    const hintId = `guest-hint-${roomId}`;
    el.replaceChildren(
      h('button', {
        type: 'button', class: pressed ? 'btn btn-small is-on' : 'btn btn-small',
        'aria-pressed': String(pressed), 'aria-describedby': hintId,
        dataset: { key: room.guest_room ? 'stage-on' : 'guests-link' },
        onclick: () => act(call),
      }, label),
      h('span', { class: 'sr-only', id: hintId }, hint));
  }
  return { el, render };
}

/**
 * Signed out on /rooms/<id>: if the room lets guests in, ask for a display name and
 * enter as a guest (true: this took the page); else false (the caller asks to sign in).
 */
export async function guestLinkEntry(ctx, roomId) {
  let info;
  try {
    info = await get(`/guest/rooms/${encodeURIComponent(roomId)}`);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'network') throw err;
    return false;
  }
  if (ctx.signal.aborted) return true;
  const { namePrompt, enterAsGuest } = await import('./guest.js');
  namePrompt(ctx, {
    title: info.title,
    intro: 'You can listen in without an account. Moderators may invite you to speak.',
    signIn: true,
    enter: (displayName) => post(`/guest/rooms/${encodeURIComponent(roomId)}/enter`, { display_name: displayName }),
    then: (entered) => enterAsGuest(ctx, entered, null),
  });
  return true;
}
