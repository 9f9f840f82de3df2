// The report dialog: report a person, their profile or a room to the instance's admins.
// A reason (radio buttons), an optional note, then a confirmation. Keyboard: the first
// reason has focus, arrows move between reasons, Enter sends, Escape closes.
import { post } from '../api.js';
import { h, alertBox } from '../dom.js';
import { modal } from './room_dialogs.js';

// The server's reasons (domain/reports.py Reason), in the order they are offered.
export const REASONS = [
  ['harassment', 'Harassment or bullying'],
  ['hate', 'Hate speech'],
  ['spam', 'Spam or scams'],
  ['impersonation', 'Pretending to be someone else'],
  ['sexual_content', 'Sexual content'],
  ['violence', 'Violence or threats'],
  ['self_harm', 'Self-harm or suicide'],
  ['illegal', 'Something illegal'],
  ['other', 'Something else'],
];
const NOTE_MAX = 500;

const TITLES = { person: 'Report', profile: 'Report profile', room: 'Report room', message: 'Report' };

let serial = 0;

/**
 * Open the dialog. `target`: {kind: 'person'|'profile'|'room', id, label} (label: how the
 * reported person or room is called). `roomId`: the room a person is reported from (its
 * context goes with the report). `guest`: the reporter is a guest, who cannot be told the
 * outcome (nothing of them is kept). `returnFocus()`: where focus goes when it closes.
 */
export function openReport(host, { target, roomId = null, guest = false, returnFocus }) {
  const n = ++serial;
  const title = target.kind === 'room' ? `Report room “${target.label}”` : `${TITLES[target.kind]} ${target.label}`;
  const { body, close } = modal(host, { title, returnFocus, className: 'report-dialog' });
  const alert = alertBox();
  const group = `report-reason-${n}`;
  const choices = REASONS.map(([value, label]) => {
    const id = `${group}-${value}`;
    return h('div', { class: 'choice' },
      h('input', { type: 'radio', name: group, id, value, required: true }),
      h('label', { for: id }, label));
  });
  const noteId = `report-note-${n}`;
  const noteHint = `report-note-hint-${n}`;
  const note = h('textarea', {
    id: noteId, name: 'note', maxlength: NOTE_MAX, rows: 3, 'aria-describedby': noteHint,
  });
  const send = h('button', { type: 'submit', class: 'btn btn-danger' }, 'Send report');
  const form = h('form', { class: 'stack report-form', novalidate: true },
    h('fieldset', { class: 'choices' }, h('legend', {}, 'What is wrong?'), choices),
    h('div', { class: 'field' },
      h('label', { for: noteId }, 'Anything moderators should know (optional)'),
      note,
      h('p', { class: 'muted report-hint', id: noteHint },
        'Parlor records no audio. Moderators decide from your report, the room’s activity log and what they saw themselves. ',
        'The person you report is not told who reported them.')),
    alert.el,
    h('div', { class: 'row dialog-actions' },
      send,
      h('button', { type: 'button', class: 'btn', onclick: () => close() }, 'Cancel')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    const picked = form.querySelector(`input[name="${group}"]:checked`);
    if (!picked) {
      alert.show('Choose what is wrong.');
      form.querySelector('input[type="radio"]').focus();
      return;
    }
    const payload = { target: { kind: target.kind, id: target.id }, reason: picked.value };
    if (note.value.trim()) payload.note = note.value;
    if (roomId && target.kind !== 'room') payload.room_id = roomId;
    send.disabled = true;
    try {
      await post('/reports', payload);
    } catch (err) {
      alert.show(err.message);
      send.disabled = false;
      return;
    }
    thanks(body, close, guest);
  });
  body.append(form);
  form.querySelector('input[type="radio"]').focus();
}

function thanks(body, close, guest) {
  const done = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => close() }, 'Done');
  body.replaceChildren(
    h('div', { class: 'stack report-sent', role: 'status' },
      h('p', {}, h('strong', {}, 'Thank you: your report was sent.')),
      h('p', {}, guest
        ? 'An admin will look at it. As a guest you will not be told the outcome: nothing of you is kept.'
        : 'An admin will look at it. You will get a notification when it has been handled.')),
    h('div', { class: 'row dialog-actions' }, done));
  done.focus();
}
