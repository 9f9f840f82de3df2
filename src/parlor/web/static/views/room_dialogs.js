// The room page's dialogs: a modal helper, "Leave quietly" for the only moderator,
// and the moderators' room settings (rename, who can join, hand raising, invitations).
import { h, alertBox } from '../dom.js';
import { topicPicker } from './clubs.js';

let serial = 0;
const uid = (prefix) => `${prefix}-${++serial}`;

export const KINDS = [
  ['open', 'Open', 'Anyone can join.'],
  ['social', 'Social', 'People the moderators follow, and people you invite.'],
  ['closed', 'Closed', 'Only people you invite.'],
];
export const KIND_NAMES = Object.fromEntries(KINDS.map(([k, name]) => [k, name]));
const HANDS = [
  ['everyone', 'Everyone'],
  ['followed_by_speakers', 'People someone on stage follows'],
  ['off', 'Nobody (hand raising off)'],
];

/**
 * A modal <dialog> inside `host`: focus stays in it, Escape or a click on the backdrop
 * closes it, and focus goes back to `returnFocus()` (an element, or null) afterwards.
 * Returns {dialog, body, close}.
 */
export function modal(host, { title, returnFocus, className = '' }) {
  const titleId = uid('dlg');
  const body = h('div', { class: 'dialog-body' });
  const closeButton = h('button', { type: 'button', class: 'btn btn-ghost btn-small dialog-close', 'aria-label': 'Close' }, '✕');
  const dialog = h('dialog', { class: `dialog ${className}`.trim(), 'aria-labelledby': titleId },
    h('div', { class: 'dialog-inner' },
      h('div', { class: 'dialog-head' }, h('h2', { id: titleId }, title), closeButton),
      body));
  closeButton.addEventListener('click', () => dialog.close());
  // A click on the backdrop lands on the <dialog> itself (its content is the inner box).
  dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener('close', () => {
    dialog.remove();
    const back = returnFocus && returnFocus();
    if (back && back.isConnected) back.focus();
  });
  host.append(dialog);
  dialog.showModal();
  return { dialog, body, close: () => { if (dialog.open) dialog.close(); } };
}

/**
 * "Leave quietly" when you are the only moderator. `speakers`: the others on stage
 * (longest there first). With some, offer to hand moderation to one of them (then leave)
 * or to end the room; with none, say that leaving ends the room.
 */
export function soleModeratorLeave(host, { speakers, nameOf, handOver, endRoom, returnFocus }) {
  const { body, close } = modal(host, { title: "You're the only moderator", returnFocus, className: 'leave-dialog' });
  const alert = alertBox();
  const busy = (on) => body.querySelectorAll('button, input').forEach((el) => { el.disabled = on; });
  const run = async (fn) => {
    alert.clear();
    busy(true);
    try {
      await fn();
      close();
    } catch (err) {
      alert.show(err.message);
      busy(false);
    }
  };
  const cancel = h('button', { type: 'button', class: 'btn', onclick: () => close() }, 'Cancel');
  if (!speakers.length) {
    body.append(
      h('p', {}, 'Nobody else is on stage: if you leave, the room ends for everyone.'),
      alert.el,
      h('div', { class: 'row dialog-actions' },
        h('button', { type: 'button', class: 'btn btn-danger', onclick: () => run(endRoom) }, 'Leave and end the room'),
        cancel));
    cancel.focus();
    return;
  }
  const group = uid('heir');
  const choices = speakers.map((p, i) => {
    const id = uid('heir-opt');
    return h('div', { class: 'choice' },
      h('input', { type: 'radio', name: group, id, value: p.user_id, checked: i === 0 }),
      h('label', { for: id }, nameOf(p)));
  });
  const picked = () => {
    const on = body.querySelector(`input[name="${group}"]:checked`);
    return on ? on.value : null;
  };
  body.append(
    h('p', {}, 'If you leave, someone on stage has to keep the room going. Hand moderation to one of them, or end the room.'),
    h('fieldset', { class: 'choices' }, h('legend', {}, 'Make moderator'), choices),
    alert.el,
    h('div', { class: 'row dialog-actions' },
      h('button', {
        type: 'button', class: 'btn btn-primary',
        onclick: () => run(async () => { const who = picked(); if (who) await handOver(who); }),
      }, 'Make moderator and leave'),
      h('button', { type: 'button', class: 'btn btn-danger-ghost', onclick: () => run(endRoom) }, 'End the room'),
      cancel));
  body.querySelector('input[type="radio"]').focus();
}

/**
 * Room settings for moderators: title, who can join, who can raise a hand, its topics
 * (one PATCH with what changed), and invitations by username for social and closed rooms.
 */
export function roomSettings(host, { room, topics = [], save, invite, returnFocus }) {
  const { body, close } = modal(host, { title: 'Room settings', returnFocus, className: 'settings-dialog' });
  const alert = alertBox();
  const titleId = uid('title');
  const title = h('input', { id: titleId, name: 'title', maxlength: 120, autocomplete: 'off', value: room.title, required: true });
  const kindGroup = uid('kind');
  const kindRadios = KINDS.map(([value, name, explain]) => {
    const id = uid('kind-opt');
    const hint = uid('kind-hint');
    return h('div', { class: 'choice' },
      h('input', { type: 'radio', name: kindGroup, id, value, checked: room.kind === value, 'aria-describedby': hint }),
      h('label', { for: id }, name),
      h('span', { class: 'muted choice-hint', id: hint }, explain));
  });
  const handsId = uid('hands');
  const hands = h('select', { id: handsId, class: 'select' },
    HANDS.map(([value, label]) => h('option', { value, selected: room.hand_raise === value }, label)));
  const chosen = room.topics || [];
  const topicBox = topics.length ? topicPicker(topics, { legend: 'Topics', max: 3, chosen, name: uid('room-topic') }) : null;
  const saveButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save changes');
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: titleId }, 'Room title'), title),
    h('fieldset', { class: 'choices' }, h('legend', {}, 'Who can join'), kindRadios),
    h('div', { class: 'field' }, h('label', { for: handsId }, 'Who can raise a hand'), hands),
    topicBox && topicBox.el,
    alert.el,
    h('div', { class: 'row dialog-actions' }, saveButton));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    const checked = form.querySelector(`input[name="${kindGroup}"]:checked`);
    const changes = {};
    if (title.value.trim() !== room.title) changes.title = title.value;
    if (checked && checked.value !== room.kind) changes.kind = checked.value;
    if (hands.value !== room.hand_raise) changes.hand_raise = hands.value;
    if (topicBox && [...topicBox.value()].sort().join() !== [...chosen].sort().join()) changes.topics = topicBox.value();
    if (!Object.keys(changes).length) return close();
    saveButton.disabled = true;
    try {
      await save(changes);
      close();
    } catch (err) {
      alert.show(err.message);
      saveButton.disabled = false;
    }
  });
  body.append(form);
  if (room.kind !== 'open') body.append(inviteForm(invite));
  title.focus();
}

function inviteForm(invite) {
  const id = uid('invite');
  const input = h('input', { id, name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 40 });
  const status = h('p', { class: 'muted invite-status', role: 'status' });
  const alert = alertBox();
  const button = h('button', { type: 'submit', class: 'btn' }, 'Invite');
  const form = h('form', { class: 'invite-form', novalidate: true, 'aria-labelledby': `${id}-h` },
    h('h3', { id: `${id}-h` }, 'Invite people'),
    h('p', { class: 'muted' }, 'They can join this room and are told in their inbox.'),
    h('div', { class: 'row invite-row' },
      h('div', { class: 'field' }, h('label', { for: id }, 'Username to invite'), input),
      button),
    alert.el, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    status.textContent = '';
    const username = input.value.trim().replace(/^@/, '');
    if (!username) return alert.show('Type the username of the person to invite.');
    button.disabled = true;
    try {
      await invite(username);
      status.textContent = `Invited @${username.toLowerCase()}`;
      input.value = '';
    } catch (err) {
      alert.show(err.message);
    } finally {
      button.disabled = false;
      input.focus();
    }
  });
  return form;
}
