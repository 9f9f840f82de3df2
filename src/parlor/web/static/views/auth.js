// Setup (claim the admin account), sign up (with an invite code, or none when the
// instance is open) and sign in.
import { Api, get } from '../api.js';
import { h, field, fill, alertBox } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, signedIn } from '../session.js';

function nextPath(query) {
  const next = query.get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function authForm({ title, lead, fields, submitLabel, onSubmit, footer }) {
  const alert = alertBox();
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, submitLabel);
  const form = h('form', { class: 'stack', novalidate: true }, fields.map((f) => f.field), alert.el, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    button.disabled = true;
    try {
      await onSubmit();
    } catch (err) {
      alert.show(err.message || 'Something went wrong.');
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card narrow auth' },
    h('h1', {}, title),
    lead ? h('p', { class: 'muted' }, lead) : null,
    form,
    footer ? h('p', { class: 'auth-footer' }, footer) : null,
  );
}

function accountFields() {
  return {
    username: field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
    displayName: field('Display name', { name: 'display_name', autocomplete: 'name', required: true }),
    password: field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }),
  };
}

export async function setupView({ outlet, query, signal }) {
  const { needed } = await Api.setupNeeded();
  if (signal.aborted) return;
  if (!needed) {
    fill(outlet, h('section', { class: 'card narrow' },
      h('h1', {}, 'Already set up'),
      h('p', {}, 'This server already has its admin account.'),
      h('p', {}, h('a', { href: '/login' }, 'Sign in'))));
    return;
  }
  const token = field('Setup token', { name: 'token', value: query.get('token') || '', required: true, autocomplete: 'off' });
  const f = accountFields();
  fill(outlet, authForm({
    title: 'Set up Parlor',
    lead: 'Claim the admin account for this server.',
    fields: [token, f.username, f.displayName, f.password],
    submitLabel: 'Create admin account',
    onSubmit: async () => {
      const me = await Api.setup({
        token: token.input.value.trim(),
        username: f.username.input.value.trim(),
        display_name: f.displayName.input.value.trim(),
        password: f.password.input.value,
      });
      signedIn(me);
      navigate('/', { replace: true });
    },
  }));
  (query.get('token') ? f.username.input : token.input).focus();
}

export async function signupView({ outlet, query, signal }) {
  // The instance's sign-up mode decides whether to ask for a code (docs/API.md, Growth).
  const { mode } = await get('/signup-mode');
  if (signal.aborted) return;
  if (mode === 'closed') {
    fill(outlet, h('section', { class: 'card narrow auth' },
      h('h1', {}, 'Not taking new members'),
      h('p', {}, 'This server is closed to new members for now.'),
      h('p', {}, h('a', { href: '/login' }, 'Sign in'))));
    return;
  }
  const open = mode === 'open';
  const code = field(open ? 'Invite code (optional)' : 'Invite code', {
    name: 'invite_code', value: query.get('code') || '', required: !open, autocomplete: 'off',
  });
  const f = accountFields();
  const invited = Boolean(query.get('code'));
  let lead = 'Pick a name and you are in.';
  if (invited) lead = 'Someone invited you. Pick a name and you are in.';
  else if (!open) lead = 'You need an invite code from a member.';
  fill(outlet, authForm({
    title: 'Join Parlor',
    lead,
    fields: [code, f.username, f.displayName, f.password],
    submitLabel: 'Sign up',
    onSubmit: async () => {
      const me = await Api.signup({
        invite_code: code.input.value.trim(),
        username: f.username.input.value.trim(),
        display_name: f.displayName.input.value.trim(),
        password: f.password.input.value,
      });
      signedIn(me);
      navigate(nextPath(query), { replace: true });
    },
    footer: [
      'Already have an account? ', h('a', { href: '/login' }, 'Sign in'),
      open ? null : [' · No invite? ', h('a', { href: '/waitlist' }, 'Join the waitlist')],
    ],
  }));
  (invited || open ? f.username.input : code.input).focus();
}

export async function loginView({ outlet, query, signal }) {
  const me = await loadMe().catch(() => null);
  if (signal.aborted) return;
  if (me) {
    navigate(nextPath(query), { replace: true });
    return;
  }
  const username = field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  fill(outlet, authForm({
    title: 'Welcome back',
    fields: [username, password],
    submitLabel: 'Sign in',
    onSubmit: async () => {
      const user = await Api.login({ username: username.input.value.trim(), password: password.input.value });
      signedIn(user);
      navigate(nextPath(query), { replace: true });
    },
    footer: ['Have an invite? ', h('a', { href: '/signup' }, 'Sign up')],
  }));
  username.input.focus();
}
