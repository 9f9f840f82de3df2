// A live room: stage, audience, raised hands, own controls, moderator actions,
// live updates from the socket, and the room's media connection.
//
// Snapshots of a big room list the stage, raised hands and the first few listeners
// only (docs/API.md): your own standing comes from `room.you`, the rest of the
// audience from GET /audience ("Show more").
//
// Every person's tile is a button that opens their sheet (room_person.js: profile,
// follow, moderator actions); moderators' settings and the sole moderator's "Leave
// quietly" are dialogs (room_dialogs.js). A polite live region ("Announcements")
// says what changed for you: invited to speak, on stage, hands raised.
import { Api, get, patch, post } from '../api.js';
import { h, avatar, alertBox, rerender, icon } from '../dom.js';
import { navigate } from '../router.js';
import { hook, loadMe, session } from '../session.js';
import { RoomMedia } from '../media.js';
import { pingPanel } from './inbox.js';
import { KIND_NAMES, KINDS, roomSettings, soleModeratorLeave } from './room_dialogs.js';
import { topicTags } from './clubs.js';
import { PersonSheet } from './room_person.js';
import { moderationPanel } from './room_moderation.js';
import { openReport } from './report.js';
import { guestControls, guestLinkEntry } from './room_guests.js';
import { ChatPanel } from './room_chat.js';
import { RoomKeys } from '../e2ee.js';

const SPEAKING_LEVEL = 0.05;
const SPEAKING_HOLD_MS = 700;
const LINK_REPORT_MS = 5000;
const MOVING_RETRY_MS = 1000;
const RENEW_AFTER_MS = 4000; // "can't decrypt" this long: a fresh public key (e2ee.js renew)
const ROLE_RANK = { moderator: 0, speaker: 1, listener: 2 };

const onStage = (p) => p.role === 'moderator' || p.role === 'speaker';
const isMuted = (p) => p.self_muted || p.mute_locked;
const nameOf = (p) => p.display_name || p.username || 'Someone';

export async function roomView(ctx) {
  const { outlet, params, signal, onCleanup } = ctx;
  const roomId = decodeURIComponent(params.id);
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    // Without an account: in as a guest if the room lets "anyone with the link" in.
    if (await guestLinkEntry(ctx, roomId)) return;
    if (signal.aborted) return;
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  const socket = session.socket;
  outlet.replaceChildren(h('p', { class: 'loading' }, 'Joining the room…'));

  // --- enter the room ------------------------------------------------------
  let snap;
  for (let tries = 1; ; tries += 1) {
    try {
      snap = await Api.room(roomId);
      if (!snap.ended && !snap.participants.some((p) => p.user_id === me.id)) {
        try {
          snap = await Api.join(roomId);
        } catch (err) {
          if (err.code !== 'already_in_room') throw err;
          snap = await Api.room(roomId);
        }
      }
      break;
    } catch (err) {
      if (signal.aborted) return;
      if (err.code === 'room_moving' && tries < 15) {
        // Its server went away; another takes the room over within seconds.
        outlet.replaceChildren(h('p', { class: 'loading' }, 'The room is moving to another server…'));
        await new Promise((done) => setTimeout(done, MOVING_RETRY_MS));
        continue;
      }
      outlet.replaceChildren(messageCard(err.status === 404 ? 'Room not found' : 'Cannot join this room', err.message));
      return;
    }
  }
  if (signal.aborted) return;
  if (snap.ended) {
    hook.room = snap;
    outlet.replaceChildren(endedCard(snap.title));
    return;
  }
  mountRoom(ctx, { roomId, me, socket, snap });
}

/**
 * The live room page, once in: for a member (`me` from /api/me, the tab's socket) or
 * for a guest (views/guest.js: `guest` set, `me` their guest record, their own socket;
 * no pings, `shareUrl` the guest room's /r/<name> link; reports only in a members' room:
 * nothing of a guest room is stored, not even a report). An end-to-end encrypted room
 * (`snap.encrypted`): a guest room's fixed key is `guestKey` (from the link or a
 * passphrase); a member room's keys come through the server, wrapped (e2ee.js).
 */
export function mountRoom(ctx, { roomId, me, socket, snap, guest = false, shareUrl = null, guestKey = null }) {
  const { outlet, onCleanup } = ctx;
  const canReport = !guest || !snap.guest_room;
  const keys = snap.encrypted ? new RoomKeys({ socket, roomId, myId: me.id, guestKey }) : null;

  // --- page skeleton -------------------------------------------------------
  const titleEl = h('h1', { class: 'room-title' });
  const kindEl = h('span', { class: 'badge badge-kind' });
  const countEl = h('span', { class: 'room-count' });
  const topicsEl = h('span', { class: 'room-topics' });
  const connection = h('p', { class: 'connection', role: 'status', 'aria-label': 'Connection' });
  // Your own link, when it is poor (late pongs on the socket, loss or jitter on the media).
  const linkEl = h('p', { class: 'link-quality', role: 'status', 'aria-label': 'Your link' });
  const shareStatus = h('p', { class: 'share-status', role: 'status', 'aria-label': 'Share' });
  // Polite announcements for screen readers (DESIGN §7): invited to speak, on stage, hands.
  const announcer = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', 'aria-label': 'Announcements' });
  const shareButton = h('button', {
    type: 'button', class: 'btn btn-small', dataset: { key: 'share' }, onclick: () => share(),
  }, 'Share');
  const settingsButton = h('button', {
    type: 'button', class: 'btn btn-small', hidden: true, 'aria-haspopup': 'dialog', dataset: { key: 'settings' },
    onclick: () => openSettings(),
  }, 'Room settings');
  const moderationButton = h('button', {
    type: 'button', class: 'btn btn-small', hidden: true, 'aria-haspopup': 'dialog', dataset: { key: 'moderation' },
    onclick: () => state.room && moderationPanel(page, {
      roomId, room: state.room, apply: (snapshot) => apply(snapshot), returnFocus: () => moderationButton,
    }),
  }, 'Moderation');
  const reportButton = !canReport ? null : h('button', {
    type: 'button', class: 'btn btn-ghost btn-small', 'aria-haspopup': 'dialog', dataset: { key: 'report-room' },
    onclick: () => openReport(page, {
      target: { kind: 'room', id: roomId, label: state.room ? state.room.title : '' },
      guest,
      returnFocus: () => reportButton,
    }),
  }, 'Report room');
  // An encrypted room: the lock (a link to what the server can see) and its state in words.
  const lockState = h('span', { class: 'lock-state', role: 'status', 'aria-label': 'Encryption' });
  const lockEl = !keys ? null : h('p', { class: 'lock', dataset: { state: 'waiting' } },
    // (in a new tab: following a link away from the room page leaves the room)
    h('a', {
      class: 'badge badge-lock', href: '/privacy', target: '_blank', rel: 'noopener',
      'aria-label': 'End-to-end encrypted: what the server can and cannot see (opens in a new tab)',
    }, icon('lock'), 'End-to-end encrypted'),
    ' ', lockState,
    h('span', { class: 'muted small lock-note' },
      ' Audio and chat are encrypted in your browser; the server relays them without the key. ',
      h('a', { href: '/privacy', target: '_blank', rel: 'noopener', 'aria-label': 'What the server can see (opens in a new tab)' },
        'What the server can see')));
  const alert = alertBox();
  const inviteSlot = h('div', { class: 'invite-slot' });
  const stageList = h('ul', { class: 'people stage-list', 'aria-label': 'Stage' });
  const handsSection = h('section', { class: 'hands', 'aria-labelledby': 'hands-h', hidden: true });
  const handsList = h('ul', { class: 'people hands-list', 'aria-label': 'Raised hands' });
  const handsEmpty = h('p', { class: 'muted empty' }, 'No hands raised.');
  handsSection.append(h('h2', { id: 'hands-h' }, 'Raised hands'), handsEmpty, handsList);
  const audienceHeading = h('h2', { id: 'audience-h' }, 'Audience');
  const audienceList = h('ul', { class: 'people audience-list', 'aria-label': 'Audience' });
  const audienceEmpty = h('p', { class: 'muted empty' }, 'No listeners yet.');
  const audienceMore = h('p', { class: 'muted audience-more', hidden: true });
  const showMore = h('button', {
    type: 'button', class: 'btn btn-small', hidden: true, dataset: { key: 'show-more' },
    onclick: () => loadMoreListeners(),
  }, 'Show more');
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Your controls' });
  const sink = h('div', { class: 'audio-sink', hidden: true, 'aria-hidden': 'true' });

  const guestTools = guestControls({ roomId, act: (call) => act(call) });
  const page = h('section', { class: 'room' },
    h('div', { class: 'room-head' }, titleEl, h('div', { class: 'room-links' }, connection, linkEl)),
    h('div', { class: 'room-subhead' },
      h('div', { class: 'muted room-meta' }, kindEl, countEl, topicsEl),
      h('div', { class: 'row room-tools' }, shareButton, settingsButton, moderationButton, guestTools.el, reportButton)),
    lockEl,
    shareStatus,
    announcer,
    alert.el,
    inviteSlot,
    h('section', { class: 'stage card', 'aria-labelledby': 'stage-h' },
      h('h2', { id: 'stage-h' }, 'Stage'), stageList),
    handsSection,
    h('section', { class: 'audience', 'aria-labelledby': 'audience-h' },
      audienceHeading, audienceEmpty, audienceList, h('div', { class: 'row audience-tail' }, audienceMore, showMore)),
    guest ? null : pingPanel(roomId, me),
    controls,
    sink);
  outlet.replaceChildren(page);

  // --- state ---------------------------------------------------------------
  const state = {
    room: null,
    mine: null, // your own participant record (room.you, or the snapshot when it lists you)
    mineVersion: -1,
    paged: [], // listeners fetched with "Show more", in join order
    paging: false,
    gone: false, // ended, left or removed: the page no longer follows the room
    leaving: false,
    confirmEnd: false,
    pressed: new Set(), // data-keys of controls whose action is queued or in flight
    actions: Promise.resolve(), // the tail of the queue: one action at a time, in order
    invitedBefore: false,
    hands: null, // user ids with a raised hand, as last seen by a moderator (for announcements)
  };
  const levels = new Map(); // user_id -> last time heard above the threshold
  // A `speaking` message is the whole picture and comes only when it changes: whoever
  // it names speaks until the next one; whoever it drops keeps the ring SPEAKING_HOLD_MS.
  const speakingNow = new Set();
  // Who has a poor link, as the server last said (`links`): user id -> 'late' | 'reported'.
  let poorLinks = {};
  const link = { sent: 'good', sentAt: 0, timer: null };

  const media = new RoomMedia(socket, roomId, sink, { keys });
  media.addEventListener('change', () => { renderConnection(); renderControls(); reportLink(); renderLock(); });
  if (keys) {
    keys.addEventListener('keys', () => renderLock());
    keys.addEventListener('codes', () => { if (state.room) render(); });
  }
  media.addEventListener('error', (e) => alert.show(`Audio problem: ${e.detail && e.detail.message ? e.detail.message : e.detail}`));
  // The chat and the reactions bar (room_chat.js): after the audience, before the ping panel.
  const chat = new ChatPanel({ roomId, me, socket, page, nameOf, canReport, guest, crypt: keys });
  page.querySelector('.audience').after(chat.el);
  const sheet = new PersonSheet({
    host: page, roomId, me, apply: (snapshot) => apply(snapshot), nameOf, safetyCode: keys ? (p) => codeOf(p) : null,
  });
  // The fixed control bar grows (notes, wrapped rows): keep the page's end clear of it.
  const barSize = new ResizeObserver(() => page.style.setProperty('--controls-h', `${controls.offsetHeight}px`));
  barSize.observe(controls);

  // --- rendering -----------------------------------------------------------
  function renderConnection() {
    const s = socket.state;
    connection.textContent =
      s === 'open' ? 'Connected' : s === 'reconnecting' ? 'Reconnecting…' : s === 'connecting' ? 'Connecting…' : 'Offline';
    connection.dataset.state = s;
    connection.dataset.media = media.connectionState;
    const poor = s === 'open' && (socket.late || media.poorLink);
    linkEl.textContent = poor ? 'Poor connection' : '';
    linkEl.dataset.quality = poor ? 'poor' : 'good';
  }

  /** The safety code of the key we hold for `p` (ours for us); null while there is none. */
  function codeOf(p) {
    if (!keys) return null;
    if (p.user_id === me.id) return keys.guest ? null : keys.codeNow(keys.publicKey);
    return keys.codeNow(p.public_key);
  }

  // Dropping frames for want of a key a while longer: a key was missed; ask for a new one.
  let renewTimer = null;
  function renderLock() {
    if (!keys) return;
    if (media.cantDecrypt && !renewTimer) {
      renewTimer = setTimeout(() => {
        renewTimer = null;
        if (!state.gone && media.cantDecrypt) keys.renew();
      }, RENEW_AFTER_MS);
    }
    const waiting = !keys.sendKey;
    const cant = media.cantDecrypt;
    const text = cant
      ? (waiting ? "Can't decrypt: waiting for the room key" : "Can't decrypt some audio: a key is missing")
      : waiting ? 'Waiting for the room key…' : 'Keys in place';
    if (lockState.textContent !== text) lockState.textContent = text;
    lockEl.dataset.state = cant ? 'cant-decrypt' : waiting ? 'waiting' : 'ok';
    lockEl.dataset.epoch = String(keys.epoch);
  }

  /** Tell the room how our media looks (the server judges the socket itself): on a
   *  change, at most once per LINK_REPORT_MS. */
  function reportLink() {
    const quality = media.poorLink ? 'poor' : 'good';
    clearTimeout(link.timer);
    if (quality === link.sent || state.gone) return;
    const wait = link.sentAt + LINK_REPORT_MS - performance.now();
    if (wait > 0) {
      link.timer = setTimeout(reportLink, wait);
      return;
    }
    if (socket.send({ type: 'link', room_id: roomId, quality })) {
      link.sent = quality;
      link.sentAt = performance.now();
    }
  }

  function render() {
    const room = state.room;
    const mine = state.mine;
    const amMod = Boolean(mine) && mine.role === 'moderator';
    titleEl.textContent = room.title;
    document.title = `${room.title} · Parlor`;
    kindEl.textContent = KIND_NAMES[room.kind] || 'Open';
    kindEl.title = (KINDS.find(([k]) => k === room.kind) || KINDS[0])[2];
    kindEl.dataset.kind = room.kind;
    topicsEl.replaceChildren(...[topicTags(room.topics || [], 'Room topics')].filter(Boolean));
    const count = room.listener_count ?? room.participants.filter((p) => p.role === 'listener').length;
    countEl.textContent = `${count} ${count === 1 ? 'listener' : 'listeners'}`;
    settingsButton.hidden = !amMod;
    moderationButton.hidden = !amMod;
    guestTools.render(room, mine);

    const people = [...room.participants].sort(
      (a, b) => ROLE_RANK[a.role] - ROLE_RANK[b.role] || a.joined_at - b.joined_at);
    const stage = people.filter(onStage);
    const listed = people.filter((p) => !onStage(p));
    const hands = listed.filter((p) => p.hand_raised);
    if (room.audience_complete !== false) state.paged = [];
    const known = new Set(people.map((p) => p.user_id));
    const audience = [...listed, ...state.paged.filter((p) => !known.has(p.user_id))]
      .sort((a, b) => a.joined_at - b.joined_at);

    rerender(stageList, stage.map((p) => tile(p, true)));
    audienceHeading.textContent = `Audience (${count})`;
    rerender(audienceList, audience.map((p) => tile(p, false)));
    audienceEmpty.hidden = audience.length > 0;
    const more = Math.max(0, count - audience.length);
    audienceMore.textContent = more ? `and ${more} more` : '';
    audienceMore.hidden = !more;
    showMore.hidden = !more;
    showMore.disabled = state.paging;

    handsSection.hidden = !amMod;
    if (amMod) {
      rerender(handsList, hands.map((p) => handTile(p)));
      handsEmpty.hidden = hands.length > 0;
      announceHands(hands);
    } else {
      state.hands = null;
    }
    if (sheet.userId) {
      const shown = sheet.userId;
      sheet.update(room.participants.find((p) => p.user_id === shown)
        || state.paged.find((p) => p.user_id === shown)
        || (room.audience_complete === false ? sheet.person : null), amMod);
    }
    renderInvite();
    renderControls();
    renderSpeaking();
    chat.update(mine);
  }

  /** A person on stage or in the audience: a button that opens their sheet, and their marks. */
  function tile(p, stage) {
    const you = p.user_id === me.id;
    const name = nameOf(p);
    const marksId = `marks-${p.user_id}`;
    const button = h('button', {
      type: 'button',
      class: 'person-button',
      'aria-haspopup': 'dialog',
      'aria-describedby': marksId,
      dataset: { key: `tile-${p.user_id}` },
      onclick: () => openSheet(p),
    },
    h('span', { class: 'ring' }, avatar(p, stage ? 'lg' : 'md')),
    h('span', { class: 'person-name' }, name, you ? h('span', { class: 'you' }, ' (you)') : null));
    const marks = h('span', { class: 'marks', id: marksId },
      p.role === 'moderator' ? h('span', { class: 'badge badge-mod' }, 'moderator') : null,
      p.guest ? h('span', { class: 'badge badge-guest', title: 'Joined without an account' }, 'guest') : null,
      stage && isMuted(p)
        ? h('span', { class: 'mark mark-muted', title: p.mute_locked ? 'Muted by a moderator' : 'Muted' }, icon('micOff'), 'muted')
        : null,
      stage && p.mute_locked ? h('span', { class: 'mark mark-locked' }, 'locked') : null,
      !stage && p.hand_raised ? h('span', { class: 'mark mark-hand' }, icon('hand'), 'hand raised') : null,
      !stage && p.speak_invite ? h('span', { class: 'mark mark-invited' }, 'invited to speak') : null,
      poorLinks[p.user_id]
        ? h('span', { class: 'mark mark-link', title: 'Their connection is poor: they may not hear or be heard well' },
          icon('signalLow'), 'poor connection')
        : null,
      stage ? h('span', { class: 'sr-only speaking-now', hidden: true }, 'speaking now') : null,
      keys && codeOf(p) ? h('span', { class: 'mark mark-code', dataset: { safetyCode: codeOf(p) } }, 'code ', h('span', { class: 'code-digits' }, codeOf(p))) : null);
    const quality = poorLinks[p.user_id] ? 'poor' : 'good';
    return h('li', {
      class: stage ? 'person on-stage' : 'person listener',
      dataset: stage
        ? { userId: p.user_id, role: p.role, muted: String(isMuted(p)), speaking: 'false', link: quality }
        : { userId: p.user_id, role: p.role, handRaised: String(p.hand_raised), link: quality },
    }, button, marks);
  }

  function openSheet(p) {
    const amMod = Boolean(state.mine) && state.mine.role === 'moderator';
    sheet.open(p, amMod);
  }

  function handTile(p) {
    const name = nameOf(p);
    return h('li', { class: 'person hand-row', dataset: { userId: p.user_id } },
      h('span', { class: 'ring' }, avatar(p, 'sm')),
      h('span', { class: 'person-name' }, nameOf(p)),
      p.guest ? h('span', { class: 'badge badge-guest' }, 'guest') : null,
      p.speak_invite
        ? h('button', {
          type: 'button',
          class: 'btn btn-small',
          'aria-label': `Withdraw invitation: ${name}`,
          dataset: { key: `hand-withdraw-${p.user_id}` },
          onclick: () => act(() => Api.withdrawInvite(roomId, p.user_id)),
        }, 'Withdraw invitation')
        : h('button', {
          type: 'button',
          class: 'btn btn-primary btn-small',
          'aria-label': `Invite ${name} to speak`,
          dataset: { key: `hand-inv-${p.user_id}` },
          onclick: () => act(() => Api.inviteToSpeak(roomId, p.user_id)),
        }, 'Invite')); // visible text inside the accessible name (axe: label-content-name-mismatch)
  }

  function renderInvite() {
    const mine = state.mine;
    const invited = Boolean(mine) && mine.role === 'listener' && mine.speak_invite;
    if (!invited) {
      inviteSlot.replaceChildren();
      state.invitedBefore = false;
      return;
    }
    if (state.invitedBefore && inviteSlot.firstChild) return;
    state.invitedBefore = true;
    const accept = h('button', {
      type: 'button', class: 'btn btn-primary', dataset: { key: 'accept' },
      onclick: () => act(() => Api.acceptInvite(roomId)),
    }, 'Accept invitation to speak');
    const decline = h('button', {
      type: 'button', class: 'btn', dataset: { key: 'decline' },
      onclick: () => act(() => Api.declineInvite(roomId)),
    }, 'Decline');
    inviteSlot.replaceChildren(h('div', {
      class: 'invite-banner card', role: 'alertdialog', 'aria-labelledby': 'invite-h', 'aria-describedby': 'invite-d',
    },
    h('h2', { id: 'invite-h' }, 'You are invited to speak'),
    h('p', { id: 'invite-d' }, 'A moderator asked you to join the stage. You will come up muted.'),
    h('div', { class: 'row' }, accept, decline)));
    // Not while a dialog is open: it keeps the focus it has.
    if (!page.querySelector('dialog[open]')) accept.focus();
  }

  function renderControls() {
    if (state.gone || !state.mine) return;
    const mine = state.mine;
    const room = state.room;
    const buttons = [];
    const btn = (label, key, onclick, cls = 'btn', extra = {}, ico = null) =>
      h('button', { type: 'button', class: cls, dataset: { key }, onclick, ...extra }, ico ? icon(ico) : null, label);

    if (onStage(mine)) {
      const muted = isMuted(mine);
      buttons.push(btn(muted ? 'Unmute' : 'Mute', 'mute', () => toggleMute(), muted ? 'btn btn-mic is-muted' : 'btn btn-mic', {
        disabled: mine.mute_locked,
        'aria-describedby': mine.mute_locked ? 'mic-note' : null,
      }, muted ? 'micOff' : 'mic'));
      buttons.push(btn('Leave the stage', 'step-down', () => act(() => Api.toAudience(roomId, me.id))));
    } else if (room.hand_raise !== 'off') {
      buttons.push(mine.hand_raised
        ? btn('Lower hand', 'hand', () => act(() => Api.hand(roomId, false)), 'btn btn-hand is-raised', {}, 'hand')
        : btn('Raise hand', 'hand', () => act(() => Api.hand(roomId, true)), 'btn btn-hand', {}, 'hand'));
    }
    if (media.audioBlocked) {
      buttons.push(btn('Play audio', 'play', () => media.resumeAudio(), 'btn btn-primary'));
    }
    buttons.push(btn('Leave quietly', 'leave', () => leaveQuietly(), 'btn btn-leave', {}, 'leave'));
    if (mine.role === 'moderator') {
      if (state.confirmEnd) {
        buttons.push(btn('Confirm end room', 'confirm-end', () => act(() => Api.end(roomId)), 'btn btn-danger'));
        buttons.push(btn('Cancel', 'cancel-end', () => { state.confirmEnd = false; renderControls(); focusKey('end'); }));
      } else {
        buttons.push(btn('End room', 'end', () => { state.confirmEnd = true; renderControls(); focusKey('confirm-end'); }, 'btn btn-danger-ghost'));
      }
    }
    const notes = [];
    if (onStage(mine) && mine.mute_locked) {
      notes.push(h('p', { class: 'note warn', id: 'mic-note' }, 'A moderator muted you and locked your mic: you cannot unmute until they allow it.'));
    } else if (onStage(mine) && mine.self_muted) {
      notes.push(h('p', { class: 'muted note' }, "You're muted: nobody hears you until you unmute."));
    }
    if (onStage(mine) && media.micError) {
      notes.push(h('p', { class: 'note warn' }, `Microphone unavailable: ${media.micError.message || media.micError.name}`));
    }
    rerender(controls, [...notes, h('div', { class: 'controls-row' }, buttons)]);
  }

  function focusKey(key) {
    const el = controls.querySelector(`[data-key="${key}"]`);
    if (el) el.focus();
  }

  function renderSpeaking() {
    const now = performance.now();
    for (const li of stageList.querySelectorAll('li[data-user-id]')) {
      const at = levels.get(li.dataset.userId);
      const heard = speakingNow.has(li.dataset.userId) || (at !== undefined && now - at < SPEAKING_HOLD_MS);
      const speaking = heard && li.dataset.muted !== 'true';
      if ((li.dataset.speaking === 'true') !== speaking) {
        li.dataset.speaking = String(speaking);
        li.classList.toggle('is-speaking', speaking);
        const sr = li.querySelector('.speaking-now');
        if (sr) sr.hidden = !speaking;
      }
    }
  }

  // --- announcements -------------------------------------------------------
  let announceTimer = null;
  function announce(text) {
    // Emptied first, so that the same words said twice are read twice.
    announcer.textContent = '';
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => { announcer.textContent = text; }, 50);
  }

  function announceMine(before, after) {
    if (!after) return;
    if (!before) {
      if (onStage(after)) announce(isMuted(after) ? "You're on stage, muted. Unmute when you want to talk." : "You're on stage.");
      return;
    }
    if (!onStage(before) && onStage(after)) announce("You're on stage. You're muted until you unmute.");
    else if (onStage(before) && !onStage(after)) announce("You're in the audience now.");
    else if (!before.speak_invite && after.speak_invite) announce("You're invited to speak.");
    else if (!before.mute_locked && after.mute_locked) announce('A moderator muted you and locked your mic.');
    else if (before.mute_locked && !after.mute_locked) announce('A moderator allows you to unmute again.');
    else if (before.role !== 'moderator' && after.role === 'moderator') announce("You're a moderator now.");
  }

  function announceHands(hands) {
    const now = new Set(hands.map((p) => p.user_id));
    if (state.hands) {
      const fresh = hands.filter((p) => !state.hands.has(p.user_id) && p.user_id !== me.id);
      if (fresh.length === 1) announce(`${nameOf(fresh[0])} raised a hand.`);
      else if (fresh.length > 1) announce(`${fresh.length} people raised a hand.`);
    }
    state.hands = now;
  }

  // --- state changes -------------------------------------------------------
  function apply(next) {
    if (state.gone || !next || next.id !== roomId) return;
    if (state.room && typeof next.version === 'number' && next.version < state.room.version) return;
    state.room = next;
    hook.room = next;
    if (next.ended) return showEnded();
    if (keys) keys.setPeople(next.participants);
    // A big room's snapshot may not list you; `room.you` says where you stand.
    const mine = next.participants.find((p) => p.user_id === me.id);
    if (mine && next.version >= state.mineVersion) setMine(mine, next.version);
    render();
  }

  function applyYou(you) {
    if (state.gone || !you || you.room_id !== roomId) return;
    if (typeof you.version === 'number' && you.version < state.mineVersion) return;
    if (!you.participant) {
      if (!state.leaving) showGone();
      return;
    }
    setMine(you.participant, you.version ?? state.mineVersion);
    if (state.room) render();
  }

  function setMine(mine, version) {
    announceMine(state.mine, mine);
    state.mine = mine;
    state.mineVersion = version;
    if (mine.role !== 'moderator') state.confirmEnd = false;
    media.setStage(onStage(mine), isMuted(mine));
  }

  async function loadMoreListeners() {
    if (state.paging || !state.room) return;
    state.paging = true;
    showMore.disabled = true;
    try {
      const page = await Api.audience(roomId, state.paged.length, 100);
      if (state.gone) return;
      const have = new Set(state.paged.map((p) => p.user_id));
      state.paged = [...state.paged, ...page.listeners.filter((p) => !have.has(p.user_id))];
    } catch (err) {
      if (!state.gone) alert.show(err.message);
    } finally {
      state.paging = false;
      if (!state.gone && state.room) render();
    }
  }

  // One action at a time, in the order pressed. A second press of a control whose action
  // is still pending is a double-click and dropped; a press of any other control waits its
  // turn instead of being lost (a moderator who invites and at once withdraws means both).
  async function act(call) {
    const active = document.activeElement;
    const key = active instanceof HTMLElement ? active.dataset.key ?? null : null;
    if (key !== null && state.pressed.has(key)) return;
    if (key !== null) state.pressed.add(key);
    const turn = state.actions.then(async () => {
      if (state.gone) return;
      alert.clear();
      try {
        apply(await call());
      } catch (err) {
        if (err.code === 'room_ended') showEnded();
        else alert.show(err.message);
      } finally {
        if (key !== null) state.pressed.delete(key);
      }
    });
    state.actions = turn;
    await turn;
  }

  async function toggleMute() {
    if (!state.mine) return;
    const muted = isMuted(state.mine);
    if (!muted) media.setStage(true, true); // silence the mic before telling anyone
    await act(() => Api.mute(roomId, !muted));
  }

  async function refetch() {
    try {
      apply(await Api.room(roomId));
    } catch (err) {
      if (err.status === 404 || err.code === 'room_ended') showEnded();
      else if (err.code === 'room_moving') later(refetch);
    }
  }

  /** Its server went away and another takes the room over within seconds: ask again. */
  function later(again) {
    if (!state.leaving) setTimeout(again, MOVING_RETRY_MS);
  }

  /** A subscription was refused: gone past the reconnect grace, removed while away, or ended?
   *  (The audience page answers only people in the room, and a big room's snapshot may not list you.) */
  async function checkStillIn() {
    try {
      await Api.audience(roomId, 0, 1);
    } catch (err) {
      if (err.code === 'room_ended' || err.status === 404) showEnded();
      else if (err.code === 'not_in_room' && !state.leaving) showGone();
      else if (err.code === 'room_moving') later(checkStillIn);
    }
  }

  // --- share ---------------------------------------------------------------
  let shareTimer = null;
  function shared(text) {
    shareStatus.textContent = text;
    clearTimeout(shareTimer);
    shareTimer = setTimeout(() => { shareStatus.textContent = ''; }, 4000);
  }

  async function share() {
    const url = shareUrl || `${location.origin}/rooms/${encodeURIComponent(roomId)}`;
    // Phones and tablets: the system share sheet. Elsewhere (and if it fails): copy.
    if (navigator.share && matchMedia('(pointer: coarse)').matches) {
      try {
        await navigator.share({ title: state.room ? state.room.title : 'Parlor room', url });
        return;
      } catch (err) {
        if (err && err.name === 'AbortError') return;
      }
    }
    try {
      await navigator.clipboard.writeText(url);
      shared('Link copied');
    } catch {
      shared(`Copy this link: ${url}`);
    }
  }

  // --- moderators' dialogs -------------------------------------------------
  async function openSettings() {
    if (!state.room) return;
    // The instance's topics, for the picker (none configured: no picker).
    const topics = await get('/topics').then((r) => r.topics, () => []);
    if (!state.room) return;
    roomSettings(page, {
      room: state.room,
      topics,
      save: async (changes) => apply(await patch(`/rooms/${encodeURIComponent(roomId)}`, changes)),
      invite: async (username) => apply(await post(`/rooms/${encodeURIComponent(roomId)}/invites`, { username })),
      returnFocus: () => settingsButton,
    });
  }

  async function leaveQuietly() {
    const mine = state.mine;
    const room = state.room;
    if (mine && room && mine.role === 'moderator') {
      const moderators = room.participants.filter((p) => p.role === 'moderator');
      if (moderators.length === 1 && moderators[0].user_id === me.id) {
        // The only moderator: say what leaving does, and offer a hand-over.
        const speakers = room.participants.filter((p) => p.role === 'speaker');
        soleModeratorLeave(page, {
          speakers,
          nameOf,
          handOver: async (userId) => {
            apply(await Api.makeModerator(roomId, userId));
            await leaveNow();
          },
          endRoom: async () => {
            await Api.end(roomId);
            showEnded();
          },
          returnFocus: () => controls.querySelector('[data-key="leave"]'),
        });
        return;
      }
    }
    await leaveNow();
  }

  async function leaveNow() {
    state.leaving = true;
    stopFollowing();
    try {
      await Api.leave(roomId);
    } catch { /* gone already, or ended: either way we are out */ }
    navigate('/');
  }

  function stopFollowing() {
    if (state.gone) return;
    state.gone = true;
    media.stop();
    if (keys) keys.stop();
    clearTimeout(renewTimer);
    sheet.close();
    chat.stop();
    barSize.disconnect();
    socket.unsubscribe(roomId);
    clearInterval(speakingTimer);
    clearTimeout(announceTimer);
    clearTimeout(shareTimer);
    clearTimeout(link.timer);
    socket.removeEventListener('event', onEvent);
    socket.removeEventListener('links', onLinks);
    socket.removeEventListener('late', onState);
    socket.removeEventListener('speaking', onSpeaking);
    socket.removeEventListener('welcome', onWelcome);
    socket.removeEventListener('state', onState);
    socket.removeEventListener('error', onSocketError);
  }

  function showEnded() {
    stopFollowing();
    const title = state.room ? state.room.title : '';
    outlet.replaceChildren(endedCard(title));
  }

  function showGone() {
    stopFollowing();
    const again = h('button', { type: 'button', class: 'btn btn-primary' }, 'Join again');
    again.addEventListener('click', () => navigate(location.pathname, { replace: true }));
    outlet.replaceChildren(h('section', { class: 'card narrow' },
      h('h1', {}, state.room ? state.room.title : 'Room'),
      h('p', { role: 'alert' }, 'You are no longer in this room.'),
      h('div', { class: 'row' }, again, h('a', { class: 'btn', href: '/' }, 'Back to the hallway'))));
    again.focus();
  }

  // --- socket --------------------------------------------------------------
  function onEvent(e) {
    const msg = e.detail;
    if (msg.name === 'room.state') apply(msg.data);
    else if (msg.name === 'room.you') applyYou(msg.data);
    else if (msg.name === 'room.ended' && (!msg.data || msg.data.room_id === roomId)) showEnded();
  }
  function onSpeaking(e) {
    const msg = e.detail;
    if (msg.room_id !== roomId) return;
    const now = performance.now();
    for (const userId of speakingNow) levels.set(userId, now);
    speakingNow.clear();
    for (const [userId, level] of Object.entries(msg.levels || {})) {
      if (level > SPEAKING_LEVEL) speakingNow.add(userId);
    }
    renderSpeaking();
  }
  function onLinks(e) {
    const msg = e.detail;
    if (msg.room_id !== roomId) return;
    poorLinks = msg.poor || {};
    if (state.room) render();
  }
  function onWelcome(e) {
    const { reconnect, resumed } = e.detail;
    // The socket re-subscribes by itself; media must be asked for again (and our key said).
    if (keys) keys.publish();
    media.start();
    if (reconnect && !resumed) refetch();
    link.sent = 'good'; // a new socket: say again if our media is poor
    reportLink();
  }
  function onState() {
    renderConnection();
  }
  function onSocketError(e) {
    const msg = e.detail;
    if (msg.code === 'room_moving') {
      // Subscribing or asking for media while the room changes server: ask again.
      if (msg.ref === 'subscribe') later(() => socket.send({ type: 'subscribe', room_id: roomId }));
      else if (msg.ref && msg.ref.startsWith('media')) later(() => media.start());
    } else if (msg.ref === 'subscribe' && (msg.code === 'not_in_room' || msg.code === 'room_ended')) checkStillIn();
    else if (msg.ref && msg.ref.startsWith('media')) alert.show(msg.message);
  }

  socket.addEventListener('event', onEvent);
  socket.addEventListener('speaking', onSpeaking);
  socket.addEventListener('links', onLinks);
  socket.addEventListener('late', onState);
  socket.addEventListener('welcome', onWelcome);
  socket.addEventListener('state', onState);
  socket.addEventListener('error', onSocketError);
  const speakingTimer = setInterval(renderSpeaking, 250);

  onCleanup(() => {
    const stillIn = !state.gone && !state.leaving;
    stopFollowing();
    hook.room = null;
    document.title = 'Parlor';
    // Leaving the page leaves the room (there is no background player yet).
    if (stillIn) Api.leave(roomId).catch(() => {});
  });

  apply(snap);
  renderConnection();
  renderLock();
  if (state.gone) return;
  socket.subscribe(roomId);
  if (socket.state === 'open') media.start();
}

function endedCard(title) {
  return h('section', { class: 'card narrow ended' },
    title ? h('h1', {}, title) : null,
    h('p', { class: 'ended-text', role: 'status' }, 'This room has ended'),
    h('a', { class: 'btn btn-primary', href: '/' }, 'Back to the hallway'));
}

function messageCard(title, message) {
  return h('section', { class: 'card narrow' },
    h('h1', {}, title),
    h('p', { role: 'alert' }, message),
    h('a', { class: 'btn', href: '/' }, 'Back to the hallway'));
}
