// Setup (claim the admin account), sign up (with an invite code, or none when the
// instance is open) and sign in (a password, and/or the organisation's single sign-on).
import { Api, get } from '../api.js';
import { h, field, fill, alertBox } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, signedIn } from '../session.js';

// What a refused single sign-on sends back (/login?sso_error=CODE), in words.
const SSO_ERRORS = {
  sso_bad_state: 'That sign-in expired or was started in another browser. Try again.',
  sso_provider_error: 'Your organisation did not sign you in. Try again, or ask its administrators.',
  sso_invalid_token: 'The answer from your organisation could not be verified. Try again.',
  sso_off: 'Single sign-on is not set up on this server.',
  rate_limited: 'Many sign-ins were started from your network just now. Wait a minute, then try again.',
  suspended: 'This account is suspended.',
  banned: 'This account is banned from this server.',
};

// How this server signs people in: {password, sso: {name, start} | null}.
async function signInMethods() {
  return get('/auth/methods').catch(() => ({ password: true, sso: null }));
}

function ssoButton(sso, query) {
  // A link, not a script: the sign-in leaves for the provider (Enter follows it too).
  const href = `${sso.start}?next=${encodeURIComponent(nextPath(query))}`;
  return h('a', { class: 'btn btn-primary btn-block', href }, `Sign in with ${sso.name}`);
}

function ssoOnlyCard(sso, title, lead) {
  return h('section', { class: 'card narrow auth' },
    h('h1', {}, title),
    h('p', {}, lead),
    h('p', {}, h('a', { href: '/login' }, `Sign in with ${sso.name}`)));
}

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
  const [{ needed }, methods] = await Promise.all([Api.setupNeeded(), signInMethods()]);
  if (signal.aborted) return;
  if (!methods.password && methods.sso) {
    fill(outlet, ssoOnlyCard(methods.sso, 'Nothing to set up',
      `Admins here are those ${methods.sso.name} says are: they sign in like everyone else.`));
    return;
  }
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
  const [{ mode }, methods] = await Promise.all([get('/signup-mode'), signInMethods()]);
  if (signal.aborted) return;
  if (!methods.password && methods.sso) {
    fill(outlet, ssoOnlyCard(methods.sso, 'Join Parlor',
      `Accounts here come from ${methods.sso.name}: sign in with it and yours is made.`));
    return;
  }
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
  const [me, methods] = await Promise.all([loadMe().catch(() => null), signInMethods()]);
  if (signal.aborted) return;
  if (me) {
    navigate(nextPath(query), { replace: true });
    return;
  }
  const code = query.get('sso_error');
  const ssoAlert = alertBox();
  if (code) ssoAlert.show(SSO_ERRORS[code] || 'Signing in with your organisation did not work. Try again.');
  if (!methods.password && methods.sso) {
    const button = ssoButton(methods.sso, query);
    fill(outlet, h('section', { class: 'card narrow auth' },
      h('h1', {}, 'Welcome back'),
      h('p', { class: 'muted' }, `This server signs people in with ${methods.sso.name}.`),
      ssoAlert.el,
      button));
    button.focus();
    return;
  }
  const username = field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const card = authForm({
    title: 'Welcome back',
    fields: [username, password],
    submitLabel: 'Sign in',
    onSubmit: async () => {
      const user = await Api.login({ username: username.input.value.trim(), password: password.input.value });
      signedIn(user);
      navigate(nextPath(query), { replace: true });
    },
    footer: ['Have an invite? ', h('a', { href: '/signup' }, 'Sign up')],
  });
  if (methods.sso) {
    // Beside the password form: the organisation's sign-in first, then "or".
    card.insertBefore(h('div', { class: 'stack sso-choice' },
      ssoAlert.el, ssoButton(methods.sso, query), h('p', { class: 'muted sso-or' }, 'or with a password')),
    card.querySelector('form'));
  }
  fill(outlet, card);
  username.input.focus();
}
