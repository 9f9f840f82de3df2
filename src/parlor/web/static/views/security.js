// Account safety (/settings/security): change your password (signs out everything else),
// the browsers you are signed in on and your tokens (revoke any one; sign out everywhere
// else), make a token (its secret shown once) and your recent sign-ins.
import { del, get, post } from '../api.js';
import { h, field, fill, alertBox, rerender, text } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';

const EXPIRY_CHOICES = [
  ['7', '7 days'],
  ['30', '30 days'],
  ['60', '60 days'],
  ['90', '90 days'],
  ['365', '1 year'],
  ['never', 'No expiration'],
];
const RESULTS = {
  ok: 'Signed in',
  bad_credentials: 'Wrong password',
  rate_limited: 'Refused: too many attempts',
};

const date = (t) => (t ? new Date(t * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '');
const moment = (t) => (t ? new Date(t * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '');
const clientOf = (item, fallback) => text(item && item.client, fallback);

function section(id, title, ...children) {
  return h('section', { class: 'card narrow stack', 'aria-labelledby': id }, h('h2', { id, tabindex: -1 }, title), ...children);
}

export async function securityView({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent('/settings/security')}`, { replace: true });
    return;
  }
  document.title = 'Security · Parlor';

  // -- password ------------------------------------------------------------------------------
  const passwordAlert = alertBox();
  const passwordDone = h('p', { class: 'muted', role: 'status' });
  const current = field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password' });
  const fresh = field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', minlength: 8, maxlength: 200 });
  const again = field('New password again', { name: 'new_password_again', type: 'password', autocomplete: 'new-password' });
  const passwordButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password');
  const passwordForm = h('form', { class: 'stack', novalidate: true },
    h('p', { class: 'muted' }, 'Every other browser and every token is signed out; this browser stays signed in.'),
    current.field, fresh.field, again.field, passwordAlert.el, passwordDone, passwordButton);
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    passwordAlert.clear();
    passwordDone.textContent = '';
    if (fresh.input.value !== again.input.value) {
      passwordAlert.show('The new passwords differ.');
      again.input.focus();
      return;
    }
    passwordButton.disabled = true;
    try {
      const { ended } = await post('/me/password', { current_password: current.input.value, new_password: fresh.input.value });
      for (const f of [current, fresh, again]) f.input.value = '';
      made.hidden = true; // a token made before is signed out too
      passwordDone.textContent = ended === 1
        ? 'Password changed. 1 other session or token was signed out.'
        : `Password changed. ${ended} other sessions and tokens were signed out.`;
      await refresh();
    } catch (err) {
      passwordAlert.show(err.message);
    } finally {
      passwordButton.disabled = false;
    }
  });

  // -- sessions ------------------------------------------------------------------------------
  const sessionsAlert = alertBox();
  const sessionsDone = h('p', { class: 'muted', role: 'status' });
  const sessionList = h('ul', { class: 'security-list', 'aria-label': 'Where you are signed in', dataset: { heading: 'security-sessions' } });
  const othersButton = h('button', { type: 'button', class: 'btn btn-danger-ghost' }, 'Sign out everywhere else');
  othersButton.addEventListener('click', () => act(sessionsAlert, async () => {
    const { ended } = await post('/me/sessions/end-others');
    sessionsDone.textContent = ended === 1 ? 'Signed out 1 other browser.' : `Signed out ${ended} other browsers.`;
  }));

  function sessionItem(s) {
    const label = clientOf(s, 'Unknown browser');
    const lines = [
      h('span', { class: 'security-name' }, label, s.current ? h('span', { class: 'badge badge-mod' }, 'This browser') : null),
      h('span', { class: 'muted security-when' },
        `Signed in ${date(s.created_at)}`, s.last_used_at ? ` · last active ${moment(s.last_used_at)}` : ''),
    ];
    const button = s.current ? null : h('button', {
      type: 'button',
      class: 'btn btn-small btn-danger-ghost',
      'aria-label': `Sign out ${label}, signed in ${date(s.created_at)}`,
      dataset: { key: `session-${s.id}` },
      onclick: () => act(sessionsAlert, () => del(`/me/sessions/${encodeURIComponent(s.id)}`), sessionList),
    }, 'Sign out');
    return h('li', { class: 'security-item' }, h('span', { class: 'security-text' }, lines), button);
  }

  // -- tokens --------------------------------------------------------------------------------
  const tokensAlert = alertBox();
  const tokenList = h('ul', { class: 'security-list', 'aria-label': 'Your tokens', dataset: { heading: 'security-tokens' } });
  const made = h('div', { class: 'stack', hidden: true });
  const tokenName = field('Token name', { name: 'name', maxlength: 60, autocomplete: 'off', placeholder: 'e.g. my room bot' });
  const expiryId = 'token-expiry';
  const expiry = h('select', { id: expiryId, name: 'expires_in_days', 'aria-describedby': 'token-expiry-warning' },
    EXPIRY_CHOICES.map(([value, label]) => h('option', { value, selected: value === '30' }, label)));
  const warning = h('p', { id: 'token-expiry-warning', class: 'notice', hidden: true },
    'A token with no expiration works until you revoke it. Choose an expiry unless you must.');
  expiry.addEventListener('change', () => { warning.hidden = expiry.value !== 'never'; });
  const tokenButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create token');
  const tokenForm = h('form', { class: 'stack', novalidate: true },
    tokenName.field,
    h('div', { class: 'field' }, h('label', { for: expiryId }, 'Expires after'), expiry),
    warning, tokenButton);
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    act(tokensAlert, async () => {
      tokenButton.disabled = true;
      try {
        const days = expiry.value === 'never' ? null : Number(expiry.value);
        const created = await post('/tokens', { name: tokenName.input.value, expires_in_days: days });
        tokenName.input.value = '';
        fill(made, tokenOut(created));
        made.hidden = false;
      } finally {
        tokenButton.disabled = false;
      }
    });
  });

  function tokenItem(t) {
    const name = text(t.name, 'Token');
    const expires = t.expires_at ? `expires ${date(t.expires_at)}` : 'no expiration';
    const used = t.last_used_at ? `last used ${moment(t.last_used_at)}${t.client ? ` by ${t.client}` : ''}` : 'never used';
    return h('li', { class: 'security-item' },
      h('span', { class: 'security-text' },
        h('span', { class: 'security-name' }, name, t.current ? h('span', { class: 'badge badge-mod' }, 'In use here') : null),
        h('span', { class: 'muted security-when' }, `Made ${date(t.created_at)} · ${used} · `,
          t.expires_at ? expires : h('strong', { class: 'security-warn' }, expires))),
      h('button', {
        type: 'button',
        class: 'btn btn-small btn-danger-ghost',
        'aria-label': `Revoke ${name}`,
        dataset: { key: `token-${t.id}` },
        onclick: () => act(tokensAlert, () => del(`/tokens/${encodeURIComponent(t.id)}`), tokenList),
      }, 'Revoke'));
  }

  // -- sign-in history -----------------------------------------------------------------------
  const historyBody = h('tbody');
  const historyNote = h('p', { class: 'muted' });
  const historyTable = h('div', { class: 'table-scroll' },
    h('table', { class: 'security-table' },
      h('caption', { class: 'sr-only' }, 'Your recent sign-ins'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'Result'))),
      historyBody));

  function historyRow(entry) {
    const result = RESULTS[entry.result] || `Refused (${text(entry.result, 'unknown')})`;
    const times = entry.count > 1 ? ` (${entry.count} times)` : '';
    return h('tr', { class: entry.ok ? '' : 'is-failed' },
      h('td', {}, moment(entry.at)),
      h('td', {}, clientOf(entry, 'Unknown client')),
      h('td', {}, result + times));
  }

  // `list`: when the button that acted is gone with its item, focus goes to the list's
  // section heading rather than being lost.
  async function act(alert, fn, list = null) {
    alert.clear();
    sessionsDone.textContent = '';
    try {
      await fn();
      await refresh();
      if (list && (!document.activeElement || document.activeElement === document.body)) {
        const heading = document.getElementById(list.dataset.heading);
        if (heading) heading.focus();
      }
    } catch (err) {
      alert.show(err.message);
    }
  }

  async function refresh() {
    const [{ sessions }, { tokens }, history] = await Promise.all([get('/me/sessions'), get('/tokens'), get('/me/sign-ins')]);
    if (signal.aborted) return;
    rerender(sessionList, (sessions || []).map(sessionItem));
    othersButton.hidden = !(sessions || []).some((s) => !s.current);
    rerender(tokenList, tokens && tokens.length ? tokens.map(tokenItem) : h('li', { class: 'muted' }, 'No tokens.'));
    const entries = (history && history.sign_ins) || [];
    fill(historyBody, entries.length
      ? entries.map(historyRow)
      : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No sign-ins yet.')));
    historyNote.textContent = `Sign-ins of the last ${text(history && history.kept_days, 30)} days. No addresses are kept.`;
  }

  fill(outlet,
    h('h1', { class: 'sr-only' }, 'Security'),
    h('p', { class: 'narrow back' }, h('a', { href: '/settings' }, 'Back to settings')),
    section('security-password', 'Change your password', passwordForm),
    section('security-sessions', 'Where you are signed in',
      sessionList, sessionsAlert.el, sessionsDone, othersButton),
    section('security-tokens', 'Tokens',
      h('p', { class: 'muted' }, 'Tokens let bots and scripts act as you (Authorization: Bearer …).'),
      tokenList, tokensAlert.el,
      h('h3', {}, 'Create a token'), tokenForm, made),
    section('security-history', 'Recent sign-ins', historyNote, historyTable),
  );
  await refresh();
}

function tokenOut(created) {
  const secret = field(`New token “${text(created.name, 'token')}”`, { value: created.token, readonly: true, spellcheck: 'false' });
  const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy token');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      copy.textContent = 'Copied';
    } catch {
      secret.input.select();
    }
  });
  setTimeout(() => secret.input.select());
  return [h('p', { class: 'notice', role: 'status' }, 'Copy it now: the token is shown only once.'), secret.field, copy];
}

