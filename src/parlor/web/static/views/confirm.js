// Asking before an action that is hard to undo (admins' sanctions, deletions): a modal
// dialog (views/room_dialogs.js) with the question, optional fields and a confirm button.
import { h, alertBox } from '../dom.js';
import { modal } from './room_dialogs.js';

/**
 * Open the dialog inside `host`. `fields`: elements shown above the buttons (a reason,
 * a duration). `run()` is awaited when confirmed: the dialog closes when it resolves and
 * shows its error otherwise. Focus goes back to `returnFocus()` afterwards.
 */
export function confirmAction(host, { title, text, confirmLabel, fields = [], run, returnFocus, danger = true }) {
  const { body, close } = modal(host, { title, returnFocus, className: 'confirm-dialog' });
  const alert = alertBox();
  const yes = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}` }, confirmLabel);
  const no = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  no.addEventListener('click', close);
  const form = h('form', { class: 'stack', novalidate: true },
    text ? h('p', {}, text) : null,
    fields,
    alert.el,
    h('div', { class: 'row dialog-actions' }, yes, no));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    yes.disabled = true;
    try {
      await run();
      close();
    } catch (err) {
      alert.show(err.message);
      yes.disabled = false;
    }
  });
  body.append(form);
  const first = form.querySelector('textarea, input, select');
  (first || yes).focus();
}
