// Admin: which sites may embed rooms (/embed/room/<id> in their iframes). Shown on
// /invites next to the sign-up mode; the list is an instance fact (docs/API.md, Embedding).
import { api, get } from '../api.js';
import { h, field, alertBox } from '../dom.js';

export function embedAdminSection() {
  const alert = alertBox();
  const sites = field('Sites that may embed rooms', {
    name: 'embed-origins', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
    placeholder: 'https://example.org, https://blog.example.org',
    'aria-describedby': 'embed-origins-help',
  });
  const help = h('p', { id: 'embed-origins-help', class: 'muted' },
    'Origins separated by commas (scheme, host and port; no path). Leave empty to turn embedding off.');
  const from = h('p', { class: 'muted', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'btn btn-small' }, 'Save sites');
  const reset = h('button', { type: 'button', class: 'btn btn-small btn-ghost' }, 'Use the server setting');

  function show(data) {
    sites.input.value = data.origins.join(', ');
    from.textContent = data.source === 'admin'
      ? 'Set here by an admin.'
      : `From the server setting PARLOR_EMBED_ORIGINS${data.origins.length ? '' : ' (empty: embedding is off)'}.`;
    reset.hidden = data.source !== 'admin';
  }

  async function put(origins) {
    alert.clear();
    try {
      show(await api('PUT', '/admin/embed-origins', { origins }));
      from.textContent = `Saved. ${from.textContent}`;
    } catch (err) {
      alert.show(err.message);
    }
  }

  const form = h('form', { class: 'stack', novalidate: true }, sites.field, help, h('div', { class: 'row' }, save, reset), from, alert.el);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    put(sites.input.value.split(/[\s,]+/).filter(Boolean));
  });
  reset.addEventListener('click', () => put(null));
  get('/admin/embed-origins').then(show, (err) => alert.show(err.message));

  return h('section', { class: 'card', 'aria-labelledby': 'admin-embed-h' },
    h('h2', { id: 'admin-embed-h' }, 'Admin: embedding rooms'),
    form);
}
