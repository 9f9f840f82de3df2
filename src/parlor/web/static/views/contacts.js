// /contacts: find your contacts here (the list stays in this browser: only short hash
// prefixes are sent, see ../contacts.js), follow them or let waitlisted ones in; and
// choose which of your own phone numbers and e-mail addresses make you findable.
import { api, post, ApiError } from '../api.js';
import { h, field, fill, alertBox, avatar, nameOf } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';
import { personRow } from './people.js';
import {
  findContacts, importKey, keyedHash, normalizeEmail, normalizePhone, normalizeCountry, parseContacts, parseList,
} from '../contacts.js';

const COUNTRY_KEY = 'parlor.defaultCountry';
// Where /waitlist (views/growth.js) keeps a waitlisted person's token.
const WAITLIST_TOKEN_KEY = 'parlor.waitlistToken';
const KIND_NAMES = { phone: 'Phone number', email: 'E-mail address' };

export async function contactsView(ctx) {
  const me = await loadMe();
  if (ctx.signal.aborted) return;
  if (!me) {
    // Waitlisted people may make themselves findable too (so members can let them in).
    let token = null;
    try { token = localStorage.getItem(WAITLIST_TOKEN_KEY); } catch { /* private mode */ }
    if (!token) {
      navigate('/login?next=/contacts', { replace: true });
      return;
    }
    const call = withToken(token);
    fill(ctx.outlet,
      h('section', { class: 'contacts stack' },
        h('p', {}, h('a', { href: '/waitlist' }, '← Your waitlist place')),
        findableSection(ctx, call, '/contacts/waitlist/identifiers')));
    return;
  }
  fill(ctx.outlet,
    h('section', { class: 'contacts stack' },
      h('p', {}, h('a', { href: '/' }, '← Hallway')),
      findSection(ctx),
      findableSection(ctx, api, '/contacts/identifiers')));
}

/** Like api.js's `api`, proving a waitlist place with its token (a header, never the URL)
 * and leaving any member's session cookie out. */
function withToken(token) {
  return (method, path, body) => api(method, path, body, { headers: { 'X-Waitlist-Token': token }, credentials: 'omit' });
}

// --- find your contacts ---------------------------------------------------------

function findSection({ signal }) {
  const alert = alertBox();
  const listId = 'contacts-list';
  const list = h('textarea', {
    id: listId, name: 'contacts', rows: 6, autocomplete: 'off', spellcheck: 'false',
    placeholder: '+44 20 7946 0018\nann@example.org',
  });
  const fileInput = h('input', {
    id: 'contacts-file', type: 'file', name: 'contacts_file', accept: '.vcf,.vcard,.csv,text/vcard,text/csv',
  });
  const country = field('Default country code', {
    name: 'country', value: localStorage.getItem(COUNTRY_KEY) || '', placeholder: '+44', inputmode: 'tel', autocomplete: 'off',
  });
  const imported = { entries: [], name: '' };
  const importNote = h('p', { class: 'muted', 'aria-live': 'polite' });
  fileInput.addEventListener('change', async () => {
    alert.clear();
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    try {
      imported.entries = parseContacts(await file.text(), file.name);
      imported.name = file.name;
      importNote.textContent = `${imported.entries.length} phone numbers and addresses read from ${file.name}.`;
    } catch (err) {
      alert.show(`Could not read ${file.name}: ${err.message}`);
    }
  });

  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Find my contacts');
  const status = h('p', { class: 'muted', role: 'status' });
  const results = h('div', { class: 'contact-results' });
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: listId }, 'Phone numbers and e-mail addresses'), list),
    h('div', { class: 'field' }, h('label', { for: 'contacts-file' }, 'Import a contacts file (vCard or CSV)'), fileInput),
    importNote,
    country.field,
    alert.el,
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    const code = country.input.value.trim();
    if (code && normalizeCountry(code) === null) {
      alert.show('A country code is 1 to 3 digits, like +44.');
      return;
    }
    localStorage.setItem(COUNTRY_KEY, code);
    const entries = [...parseList(list.value), ...imported.entries];
    if (!entries.length) {
      alert.show('Paste some phone numbers or e-mail addresses, or import a file.');
      return;
    }
    button.disabled = true;
    status.textContent = 'Looking…';
    try {
      const found = await findContacts(api, entries, code || null);
      if (signal.aborted) return;
      const skipped = found.skipped.length;
      status.textContent = `Checked ${found.count} contacts` +
        (skipped ? `; ${skipped} ${skipped === 1 ? 'entry is' : 'entries are'} not a phone number or e-mail address` +
          (code ? '.' : ' (numbers without + need a default country code).') : '.');
      fill(results, renderResults(found, alert));
    } catch (err) {
      status.textContent = '';
      alert.show(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'find-h' },
    h('h1', { id: 'find-h' }, 'Find your contacts'),
    h('p', { class: 'muted' },
      'Your list stays in this browser. Parlor gets only a few bits of a keyed hash of each entry, ',
      'which many people share, and this page picks out your contacts itself.'),
    form,
    status,
    results);
}

function renderResults(found, alert) {
  const members = found.members.map((m) => personRow(m, { alert, note: (m.contacts || []).join(', ') }));
  const waiting = found.waitlisted.map((w) => waitingRow(w, alert));
  return [
    h('h2', { id: 'members-h' }, 'On Parlor'),
    members.length
      ? h('ul', { class: 'person-list', 'aria-labelledby': 'members-h' }, members)
      : h('p', { class: 'muted empty' }, 'None of these contacts can be found here yet.'),
    waiting.length ? h('h2', { id: 'waiting-h' }, 'Waiting to join') : null,
    waiting.length ? h('ul', { class: 'person-list', 'aria-labelledby': 'waiting-h' }, waiting) : null,
  ];
}

function waitingRow(person, alert) {
  const name = nameOf(person);
  const button = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'aria-label': `Let in ${name}` }, 'Let in');
  button.addEventListener('click', async () => {
    alert.clear();
    button.disabled = true;
    try {
      const { remaining } = await post('/contacts/let-in', { entry_id: person.id });
      button.textContent = 'Let in ✓';
      button.setAttribute('aria-label', `${name} was let in`);
      if (remaining !== null && remaining !== undefined) alert.show(`${name} can now finish signing up. Invites left: ${remaining}.`);
    } catch (err) {
      alert.show(err.message);
      button.disabled = false;
    }
  });
  return h('li', { class: 'person-row' },
    avatar(person, 'md'),
    h('span', { class: 'person-text' },
      h('span', { class: 'person-title' }, name),
      h('span', { class: 'muted person-note' }, (person.contacts || []).join(', '))),
    h('span', { class: 'person-row-actions' }, button));
}

// --- make yourself findable ------------------------------------------------------

function findableSection({ signal }, call, base) {
  const alert = alertBox();
  const kind = h('select', { id: 'findable-kind', name: 'kind' },
    h('option', { value: 'phone' }, KIND_NAMES.phone),
    h('option', { value: 'email' }, KIND_NAMES.email));
  const value = field('Your phone number or e-mail address', { name: 'identifier', autocomplete: 'off' });
  const button = h('button', { type: 'submit', class: 'btn' }, 'Make findable');
  const list = h('ul', { class: 'person-list', 'aria-label': 'Your findable identifiers' });
  const empty = h('p', { class: 'muted empty' }, 'Nobody can find you by phone number or e-mail address.');

  async function refresh() {
    const { identifiers } = await call('GET', base);
    if (signal.aborted) return;
    empty.hidden = identifiers.length > 0;
    fill(list, identifiers.map((item) => {
      const when = new Date(item.added_at * 1000).toLocaleString();
      const label = `${KIND_NAMES[item.kind] || item.kind}, added ${when}`;
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'aria-label': `Remove ${label}` }, 'Remove');
      remove.addEventListener('click', async () => {
        alert.clear();
        remove.disabled = true;
        try {
          await call('DELETE', `${base}/${encodeURIComponent(item.id)}`);
          await refresh();
        } catch (err) {
          alert.show(err.message);
          remove.disabled = false;
        }
      });
      return h('li', { class: 'person-row' }, h('span', { class: 'person-text' }, label), h('span', { class: 'person-row-actions' }, remove));
    }));
  }

  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'findable-kind' }, 'Kind'), kind),
    value.field, alert.el, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    const code = localStorage.getItem(COUNTRY_KEY) || null;
    const normalized = kind.value === 'phone' ? normalizePhone(value.input.value, code) : normalizeEmail(value.input.value);
    if (!normalized) {
      alert.show(kind.value === 'phone'
        ? 'That is not a phone number (write it with + and the country code, e.g. +44 20 7946 0018).'
        : 'That is not an e-mail address.');
      return;
    }
    button.disabled = true;
    try {
      const { key } = await call('GET', '/contacts/params');
      const hash = await keyedHash(await importKey(key), kind.value, normalized);
      await call('POST', base, { kind: kind.value, hash });
      value.input.value = '';
      await refresh();
    } catch (err) {
      alert.show(err.message);
    } finally {
      button.disabled = false;
    }
  });
  refresh().catch((err) => {
    if (signal.aborted) return;
    alert.show(err instanceof ApiError && err.code === 'invalid_waitlist_token'
      ? 'Your waitlist place is gone (you signed up or left): sign in instead.'
      : err.message);
  });
  return h('section', { class: 'card', 'aria-labelledby': 'findable-h' },
    h('h2', { id: 'findable-h' }, 'Let people find you'),
    h('p', { class: 'muted' },
      'People who have your number or address in their contacts can find you here once you add it. ',
      'Parlor keeps only a keyed hash of it, so it cannot show it back to you: the list below says only its kind and when you added it. ',
      'Remove it and nobody can find you by it any more.'),
    form,
    empty,
    list);
}
