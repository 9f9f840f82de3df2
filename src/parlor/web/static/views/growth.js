// Growth: /invites (make, copy, revoke invites; let someone in by username; admins:
// the sign-up mode and the waitlist), /invite/:code (into sign-up with the code) and
// /waitlist (join; see your place with the stored token; finish sign-up when let in).
// The admins' section (sign-up mode, waitlist) is also the admin console's Sign-ups tab.
import { ApiError, del, get, post, api } from '../api.js';
import { h, field, fill, alertBox, nameOf, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, signedIn } from '../session.js';
import { embedAdminSection } from './embed-admin.js';
import { confirmAction } from './confirm.js';

const TOKEN_KEY = 'parlor.waitlistToken';
const WAITLIST_POLL_MS = 20000;
const MODES = [
  ['open', 'Open: anyone can sign up'],
  ['invite_only', 'Invite only'],
  ['closed', 'Closed: no new members'],
];

const when = (t) => new Date(t * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
// "@ann"; a deleted account has no username left: its name, or "a former member".
const at = (person) => (person && person.username ? `@${person.username}` : nameOf(person, 'a former member'));

// -- /invite/:code --------------------------------------------------------------------------

export function inviteLinkView({ params }) {
  navigate(`/signup?code=${encodeURIComponent(params.code)}`, { replace: true });
}

// -- /invites ---------------------------------------------------------------------------------

export async function invitesView({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate('/login?next=/invites', { replace: true });
    return;
  }
  const alert = alertBox();
  const allowance = h('p', { class: 'muted', 'aria-live': 'polite' });
  const made = h('div', { class: 'invite-out', hidden: true });
  const list = h('ul', { class: 'invite-list', 'aria-label': 'Your invites' });

  async function refresh() {
    const data = await get('/invites?limit=100');
    if (signal.aborted) return;
    allowance.textContent = data.remaining === null
      ? 'As an admin you can invite as many people as you like.'
      : `You have ${data.remaining} of ${data.quota} invites left.`;
    rerender(list, data.invites.length ? data.invites.map(inviteItem) : h('li', { class: 'muted' }, 'No invites yet.'));
  }

  function inviteItem(invite) {
    let status;
    if (invite.kind === 'waitlist') status = `Let ${at(invite.used_by || { username: 'someone' })} in from the waitlist`;
    else if (invite.used_by) status = `Used by ${at(invite.used_by)}`;
    else if (invite.revoked_at) status = 'Revoked';
    else status = 'Not used yet';
    const revoke = !invite.used_by && !invite.revoked_at && invite.kind === 'code'
      ? h('button', {
        type: 'button',
        class: 'btn btn-small btn-danger-ghost',
        'aria-label': `Revoke the invite made ${when(invite.created_at)}`,
        dataset: { key: `revoke-${invite.id}` },
        onclick: () => act(() => del(`/invites/${encodeURIComponent(invite.id)}`)),
      }, 'Revoke')
      : null;
    return h('li', { class: 'invite-item row' },
      h('span', {}, h('strong', {}, status), h('span', { class: 'muted' }, ` · made ${when(invite.created_at)}`)),
      revoke);
  }

  async function act(fn) {
    alert.clear();
    try {
      await fn();
      await refresh();
    } catch (err) {
      alert.show(err.message);
    }
  }

  const makeButton = h('button', { type: 'button', class: 'btn btn-primary' }, 'Make an invite');
  makeButton.addEventListener('click', () => act(async () => {
    makeButton.disabled = true;
    try {
      const { code } = await post('/invites');
      // This page's origin, not the server's idea of it: right behind any proxy.
      fill(made, inviteOut(code, `${location.origin}/invite/${encodeURIComponent(code)}`));
      made.hidden = false;
    } finally {
      makeButton.disabled = false;
    }
  }));

  const letInName = field('Username on the waitlist', { name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const letInButton = h('button', { type: 'submit', class: 'btn' }, 'Let in');
  const letInDone = h('p', { class: 'muted', 'aria-live': 'polite' });
  const letInForm = h('form', { class: 'stack', novalidate: true }, letInName.field, letInButton, letInDone);
  letInForm.addEventListener('submit', (event) => {
    event.preventDefault();
    letInDone.textContent = '';
    act(async () => {
      const { entry } = await post('/waitlist/admit', { username: letInName.input.value.trim() });
      letInDone.textContent = `${at(entry)} can now finish signing up.`;
      letInName.input.value = '';
    });
  });

  fill(outlet, h('section', { class: 'growth stack' },
    h('section', { class: 'card', 'aria-labelledby': 'invites-h' },
      h('h1', { id: 'invites-h' }, 'Invites'),
      allowance,
      h('p', { class: 'muted' }, 'Each invite lets one person sign up, and shows you as who nominated them.'),
      makeButton,
      made,
      alert.el,
      list),
    h('section', { class: 'card', 'aria-labelledby': 'letin-h' },
      h('h2', { id: 'letin-h' }, 'Let someone in from the waitlist'),
      h('p', { class: 'muted' }, 'If someone you know is waiting, type their username. It uses one of your invites.'),
      letInForm),
    me.is_admin ? signupsSection(signal, refresh) : null,
    me.is_admin ? embedAdminSection() : null, // app-shell: embedding (views/embed-admin.js)
  ));
  await refresh();
}

function inviteOut(code, url) {
  const linkField = field('Invite link', { value: url, readonly: true });
  const codeField = field('Invite code', { value: code, readonly: true });
  const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy invite link');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      copy.textContent = 'Copied';
    } catch {
      linkField.input.select();
    }
  });
  setTimeout(() => linkField.input.select());
  return [h('p', { class: 'notice' }, 'Share this now: the code is shown only once.'), linkField.field, codeField.field, copy];
}

/** Admins: the sign-up mode and the waitlist (let in, delete). Also the admin console's
 *  Sign-ups tab (views/admin.js). `refreshInvites` runs after a let-in (it spends an invite). */
export function signupsSection(signal, refreshInvites = async () => {}) {
  const alert = alertBox();
  const modeId = 'signup-mode';
  const select = h('select', { id: modeId, name: 'mode' }, MODES.map(([value, label]) => h('option', { value }, label)));
  const saved = h('p', { class: 'muted', 'aria-live': 'polite' });
  select.addEventListener('change', async () => {
    alert.clear();
    saved.textContent = '';
    try {
      await api('PUT', '/admin/signup-mode', { mode: select.value });
      saved.textContent = 'Saved.';
    } catch (err) {
      alert.show(err.message);
    }
  });
  get('/signup-mode').then(({ mode }) => { select.value = mode; }, (err) => alert.show(err.message));

  const list = h('ul', { class: 'waitlist-list', 'aria-label': 'Waitlist' });
  const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Load more');
  let cursor = null;
  let rows = [];

  async function load(reset) {
    const q = reset || !cursor ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const data = await get(`/admin/waitlist?limit=50${q}`);
    if (signal.aborted) return;
    rows = reset ? data.entries : rows.concat(data.entries);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    rerender(list, rows.length ? rows.map(entryItem) : h('li', { class: 'muted' }, 'Nobody is waiting.'));
  }

  function entryItem(entry) {
    const status = entry.status === 'admitted'
      ? `let in${entry.admitted_by ? ` by ${at(entry.admitted_by)}` : ''}, not signed up yet`
      : `waiting since ${when(entry.created_at)}`;
    // Deleting asks first: the name is freed and the person's waitlist link stops working.
    const remove = h('button', {
      type: 'button',
      class: 'btn btn-small btn-danger-ghost',
      'aria-label': `Delete ${at(entry)} from the waitlist`,
      dataset: { key: `delete-${entry.id}` },
      onclick: () => confirmAction(list.parentNode || document.body, {
        title: `Delete ${at(entry)}?`,
        text: 'They leave the waitlist, their waitlist link stops working and their name becomes free again.',
        confirmLabel: 'Delete',
        returnFocus: () => list.querySelector('button'),
        run: async () => {
          await del(`/admin/waitlist/${encodeURIComponent(entry.id)}`);
          await load(true);
          await refreshInvites(); // a let-in given back
        },
      }),
    }, 'Delete');
    return h('li', { class: 'invite-item row' },
      h('span', {}, h('strong', {}, nameOf(entry)), ` ${at(entry)} `, h('span', { class: 'muted' }, status)),
      h('span', { class: 'row' }, entry.status === 'waiting'
        ? h('button', {
          type: 'button',
          class: 'btn btn-small',
          'aria-label': `Let ${at(entry)} in`,
          dataset: { key: `admit-${entry.id}` },
          onclick: async () => {
            alert.clear();
            try {
              await post('/waitlist/admit', { entry_id: entry.id });
              await load(true);
              await refreshInvites();
            } catch (err) {
              alert.show(err.message);
            }
          },
        }, 'Let in')
        : null, remove));
  }
  more.addEventListener('click', () => load(false).catch((err) => alert.show(err.message)));
  load(true).catch((err) => alert.show(err.message));

  return h('section', { class: 'card', 'aria-labelledby': 'admin-growth-h' },
    h('h2', { id: 'admin-growth-h' }, 'Admin: who can join'),
    h('div', { class: 'field' }, h('label', { for: modeId }, 'Sign-up mode'), select),
    saved,
    h('h3', {}, 'Waitlist'),
    alert.el,
    list,
    more);
}

// -- /waitlist --------------------------------------------------------------------------------

function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the place lasts as long as the page */ }
}

/** A call that proves the waitlist place with its token (a header, never the URL). */
function withToken(method, path, token, body) {
  return api(method, path, body, { headers: { 'X-Waitlist-Token': token } });
}

export async function waitlistView(ctx) {
  const { outlet, signal, onCleanup } = ctx;
  let token = storedToken();
  let entry = null;
  if (token) {
    try {
      entry = await withToken('GET', '/waitlist/me', token);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'invalid_waitlist_token')) throw err;
      storeToken(null);
      token = null;
    }
  }
  if (signal.aborted) return;
  if (!entry) return joinForm(ctx);
  const card = h('section', { class: 'card narrow auth' });
  fill(outlet, card);
  const show = (e) => rerender(card, e.status === 'admitted' ? admittedPanel(e, token) : waitingPanel(e, token, ctx));
  show(entry);
  const timer = setInterval(async () => {
    try {
      const latest = await withToken('GET', '/waitlist/me', token);
      if (!signal.aborted && latest.status !== entry.status) {
        entry = latest;
        show(entry);
      }
    } catch { /* try again at the next tick */ }
  }, WAITLIST_POLL_MS);
  onCleanup(() => clearInterval(timer));
}

async function joinForm({ outlet, signal }) {
  const { mode } = await get('/signup-mode');
  if (signal.aborted) return;
  if (mode === 'closed') {
    fill(outlet, h('section', { class: 'card narrow auth' },
      h('h1', {}, 'Not taking new members'),
      h('p', {}, 'This server is closed to new members for now, and its waitlist too.')));
    return;
  }
  const alert = alertBox();
  const username = field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const displayName = field('Display name', { name: 'display_name', autocomplete: 'name', required: true });
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Join the waitlist');
  const form = h('form', { class: 'stack', novalidate: true }, username.field, displayName.field, alert.el, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    button.disabled = true;
    try {
      const joined = await post('/waitlist', {
        username: username.input.value.trim(),
        display_name: displayName.input.value.trim(),
      });
      storeToken(joined.token);
      navigate('/waitlist', { replace: true });
    } catch (err) {
      alert.show(err.message);
      button.disabled = false;
    }
  });
  fill(outlet, h('section', { class: 'card narrow auth' },
    h('h1', {}, 'Join the waitlist'),
    h('p', { class: 'muted' }, 'Pick your name now; it is kept for you. A member who knows your username can let you in. This browser remembers your place.'),
    form,
    h('p', { class: 'auth-footer' }, 'Have an invite? ', h('a', { href: '/signup' }, 'Sign up'))));
  username.input.focus();
}

function waitingPanel(entry, token, { signal }) {
  const alert = alertBox();
  const check = h('button', { type: 'button', class: 'btn' }, 'Check again');
  check.addEventListener('click', () => navigate('/waitlist', { replace: true }));
  const leave = h('button', { type: 'button', class: 'btn btn-danger-ghost' }, 'Leave the waitlist');
  leave.addEventListener('click', async () => {
    alert.clear();
    try {
      await withToken('DELETE', '/waitlist/me', token);
      storeToken(null);
      if (!signal.aborted) navigate('/waitlist', { replace: true });
    } catch (err) {
      alert.show(err.message);
    }
  });
  return [
    h('h1', {}, 'You are on the waitlist'),
    h('p', {}, `Your name ${at(entry)} is kept for you. Tell a member your username: they can let you in.`),
    alert.el,
    h('div', { class: 'row' }, check, leave),
  ];
}

function admittedPanel(entry, token) {
  const alert = alertBox();
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true });
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Finish sign-up');
  const form = h('form', { class: 'stack', novalidate: true }, password.field, alert.el, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    button.disabled = true;
    try {
      const me = await withToken('POST', '/waitlist/me/signup', token, { password: password.input.value });
      storeToken(null);
      signedIn(me);
      navigate('/', { replace: true });
    } catch (err) {
      alert.show(err.message);
      button.disabled = false;
    }
  });
  const by = entry.admitted_by ? `${nameOf(entry.admitted_by)} (${at(entry.admitted_by)}) let you in.` : 'You were let in.';
  setTimeout(() => password.input.focus());
  return [
    h('h1', {}, entry.display_name ? `Welcome, ${entry.display_name}` : 'Welcome'),
    h('p', {}, by, ` Choose a password to finish signing up as ${at(entry)}.`),
    form,
  ];
}
