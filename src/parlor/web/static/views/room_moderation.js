// The moderators' "Moderation" dialog on the room page: what they do to the whole room
// at once (mute everyone on stage but the moderators, lower all hands, open a social or
// closed room up to everyone) and the room's moderation trail (GET …/audit: who did
// what to whom, when), newest first, paged with "Show older".
import { Api } from '../api.js';
import { h, alertBox, nameOf } from '../dom.js';
import { modal } from './room_dialogs.js';
import { AUDIT_ACTIONS } from './audit_actions.js';

const PAGE = 30;

function who(p, byAdmin) {
  if (byAdmin) return 'An admin';
  if (p && p.guest) return 'A guest';
  return p ? nameOf(p) : 'A former member';
}

// A guest has no name in the trail (it was never stored): "a guest".
function whom(p) {
  if (!p) return 'a former member';
  return p.guest ? 'a guest' : nameOf(p);
}

/** One trail entry as a sentence: "Ada muted: Bob". */
export function sentence(e) {
  const verb = AUDIT_ACTIONS[e.action] || e.action;
  const target = e.target !== undefined && (verb.endsWith(':') || !AUDIT_ACTIONS[e.action])
    ? ` ${whom(e.target)}` : '';
  return `${who(e.by, e.by_admin)} ${verb}${target}`;
}

/**
 * @param {HTMLElement} host  the room page
 * @param {object} o
 * @param {string} o.roomId
 * @param {object} o.room      the snapshot when the dialog opens
 * @param {(snapshot) => void} o.apply  takes the snapshot an action answers
 * @param {() => HTMLElement} o.returnFocus
 */
export function moderationPanel(host, { roomId, room, apply, returnFocus }) {
  const { body } = modal(host, { title: 'Moderation', returnFocus, className: 'moderation-dialog' });
  const alert = alertBox();
  const status = h('p', { class: 'muted invite-status', role: 'status' });
  const list = h('ol', { class: 'audit-list trail-list', 'aria-label': 'Moderation trail' });
  const empty = h('p', { class: 'muted', hidden: true }, 'Nothing yet.');
  const older = h('button', { type: 'button', class: 'btn btn-small', hidden: true, dataset: { key: 'older' } }, 'Show older');
  let next = null;
  let busy = false;

  const run = async (button, call, done) => {
    if (busy) return;
    // not disabled while it runs: a disabled button would drop the keyboard focus
    busy = true;
    button.setAttribute('aria-busy', 'true');
    alert.clear();
    status.textContent = '';
    try {
      apply(await call());
      status.textContent = done;
    } catch (err) {
      alert.show(err.message);
      return false;
    } finally {
      busy = false;
      button.removeAttribute('aria-busy');
    }
    await load(true); // the trail, with what was just done at its top
    return true;
  };

  const muteAll = h('button', { type: 'button', class: 'btn', dataset: { key: 'mute-all' } }, 'Mute everyone on stage');
  muteAll.addEventListener('click', () => run(muteAll, () => Api.muteAll(roomId),
    'Everyone on stage but the moderators is muted. They can unmute themselves.'));
  const lowerHands = h('button', { type: 'button', class: 'btn', dataset: { key: 'lower-hands' } }, 'Lower all hands');
  lowerHands.addEventListener('click', () => run(lowerHands, () => Api.lowerHands(roomId), 'All hands are down.'));
  const buttons = [muteAll, lowerHands];
  if (room.kind !== 'open') {
    const openUp = h('button', { type: 'button', class: 'btn', dataset: { key: 'open-up' } }, 'Open the room to everyone');
    openUp.addEventListener('click', async () => {
      if (await run(openUp, () => Api.openUp(roomId), 'The room is open: anyone can join.')) {
        openUp.remove();
        muteAll.focus();
      }
    });
    buttons.push(openUp);
  }

  async function load(fresh) {
    try {
      const page = await Api.roomAudit(roomId, PAGE, fresh ? null : next);
      const items = page.entries.map((e) => h('li', { tabindex: fresh ? null : '-1' },
        h('time', { class: 'audit-time', datetime: new Date(e.at * 1000).toISOString() },
          new Date(e.at * 1000).toLocaleTimeString()), ' ', sentence(e)));
      if (fresh) list.replaceChildren(...items);
      else list.append(...items);
      return items[0] || null;
      next = page.next_before;
      older.hidden = next === null;
      empty.hidden = list.childElementCount > 0;
    } catch (err) {
      alert.show(err.message);
      return null;
    }
  }
  older.addEventListener('click', async () => {
    older.disabled = true;
    const first = await load(false);
    older.disabled = false;
    // on to what was loaded: its first entry (focusable for this), read out where it starts
    if (first) first.focus();
  });

  body.append(
    h('p', { class: 'muted' }, 'For everyone in the room at once.'),
    h('div', { class: 'row mod-actions', role: 'group', 'aria-label': 'Room-wide actions' }, buttons),
    status,
    alert.el,
    h('h3', { id: 'trail-h' }, 'Moderation trail'),
    empty,
    list,
    h('div', { class: 'row' }, older));
  muteAll.focus();
  load(true);
}
