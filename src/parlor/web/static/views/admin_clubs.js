// The admin console's Clubs section (/admin/clubs): find clubs, remove one (with a
// reason, asked in a dialog; the admin audit log keeps it).
import { get, post } from '../api.js';
import { h, field, fill, alertBox } from '../dom.js';
import { confirmAction } from './confirm.js';

export async function clubsSection(panel, { signal }) {
  const alert = alertBox();
  const q = field('Find clubs', { name: 'q', type: 'search', maxlength: 50, autocomplete: 'off' });
  const form = h('form', { class: 'search-form', role: 'search', novalidate: true }, q.field,
    h('button', { type: 'submit', class: 'btn' }, 'Find'));
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('ul', { class: 'club-list', 'aria-label': 'Clubs' });
  panel.append(h('div', { class: 'card stack' }, form, alert.el, status, list));

  async function run() {
    try {
      const query = q.input.value.trim();
      const found = await get(`/admin/clubs?limit=50${query ? `&q=${encodeURIComponent(query)}` : ''}`);
      if (signal.aborted) return;
      status.textContent = found.clubs.length ? `${found.clubs.length} clubs` : 'No clubs.';
      fill(list, found.clubs.map((club) => {
        const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, `Remove ${club.name}`);
        remove.addEventListener('click', () => {
          const reason = field('Reason', { name: 'reason', maxlength: 500, autocomplete: 'off' });
          confirmAction(document.body, {
            title: `Remove ${club.name}?`,
            text: 'The club, its members and followers go for good; its live rooms end.',
            confirmLabel: 'Remove club',
            fields: [reason.field],
            run: async () => {
              await post(`/admin/clubs/${encodeURIComponent(club.id)}/remove`, { reason: reason.input.value });
              status.textContent = `${club.name} removed.`;
              await run();
            },
            returnFocus: () => q.input,
          });
        });
        return h('li', { class: 'club-item' },
          h('a', { href: `/clubs/${encodeURIComponent(club.id)}` }, club.name),
          h('span', { class: 'muted' }, ` · ${club.member_count} members `), remove);
      }));
    } catch (err) {
      alert.show(err.message);
    }
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); run(); });
  await run();
}
