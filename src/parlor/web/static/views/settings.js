// Settings (/settings): edit your profile, upload or remove your avatar, a link to
// security (/settings/security: views/security.js), download your data, delete your
// account (password asked again).
import { api, ApiError } from '../api.js';
import { h, field, fill, alertBox, avatar, checkbox } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';
import { calendarSettings } from './event.js';
import { topicPicker } from './clubs.js';

const BIO_MAX = 160;

/** PUT the file as the raw body (the server sniffs the type; it ignores the name). */
async function uploadAvatar(file) {
  let res;
  try {
    res = await fetch('/api/me/avatar', { method: 'PUT', credentials: 'same-origin', body: file, headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(res.status, err ? err.code : `http_${res.status}`, err ? err.message : `The server answered ${res.status}.`);
  }
  return data;
}

function section(id, title, ...children) {
  return h('section', { class: 'card narrow stack', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export async function settingsView({ outlet, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent('/settings')}`, { replace: true });
    return;
  }
  let mine = await api('GET', `/users/id/${encodeURIComponent(me.id)}`);
  if (signal.aborted) return;

  // -- profile -------------------------------------------------------------------------------
  const profileAlert = alertBox();
  const saved = h('p', { class: 'muted', role: 'status' });
  const name = field('Display name', { name: 'display_name', value: mine.display_name, maxlength: 50, autocomplete: 'name' });
  const bioId = 'settings-bio';
  const bio = h('textarea', { id: bioId, name: 'bio', rows: 3, maxlength: BIO_MAX });
  bio.value = mine.bio || '';
  const bioLeft = h('span', { class: 'muted', id: 'settings-bio-left' });
  const countBio = () => { bioLeft.textContent = `${BIO_MAX - bio.value.length} characters left`; };
  bio.setAttribute('aria-describedby', 'settings-bio-left');
  bio.addEventListener('input', countBio);
  countBio();
  const saveButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save profile');
  const profileForm = h('form', { class: 'stack', novalidate: true },
    name.field,
    h('div', { class: 'field' }, h('label', { for: bioId }, 'Bio'), bio, bioLeft),
    profileAlert.el, saved, saveButton);
  profileForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    profileAlert.clear();
    saved.textContent = '';
    saveButton.disabled = true;
    try {
      mine = await api('PATCH', '/me/profile', { display_name: name.input.value, bio: bio.value });
      name.input.value = mine.display_name;
      bio.value = mine.bio || '';
      countBio();
      saved.textContent = 'Profile saved.';
      loadMe(true);
    } catch (err) {
      profileAlert.show(err.message);
    } finally {
      saveButton.disabled = false;
    }
  });

  // -- avatar --------------------------------------------------------------------------------
  const avatarAlert = alertBox();
  const preview = h('div', { class: 'avatar-preview' });
  const fileId = 'settings-avatar-file';
  const file = h('input', { id: fileId, type: 'file', name: 'avatar', accept: 'image/png,image/jpeg,image/webp,image/gif' });
  const uploadButton = h('button', { type: 'button', class: 'btn btn-primary' }, 'Upload avatar');
  const removeButton = h('button', { type: 'button', class: 'btn btn-ghost' }, 'Remove avatar');
  const showAvatar = () => {
    fill(preview, avatar(mine, 'xl'));
    removeButton.hidden = !mine.avatar_url;
  };
  uploadButton.addEventListener('click', async () => {
    avatarAlert.clear();
    if (!file.files || !file.files[0]) {
      avatarAlert.show('Choose an image first.');
      return;
    }
    uploadButton.disabled = true;
    try {
      mine = await uploadAvatar(file.files[0]);
      file.value = '';
      showAvatar();
    } catch (err) {
      avatarAlert.show(err.message);
    } finally {
      uploadButton.disabled = false;
    }
  });
  removeButton.addEventListener('click', async () => {
    avatarAlert.clear();
    try {
      mine = await api('DELETE', '/me/avatar');
      showAvatar();
    } catch (err) {
      avatarAlert.show(err.message);
    }
  });
  showAvatar();

  // -- interests (topics you like: the hallway ranks rooms on them higher) --------------------
  const [{ topics, max_interests: maxInterests }, { interests }] = await Promise.all([
    api('GET', '/topics'), api('GET', '/me/interests'),
  ]);
  if (signal.aborted) return;
  const interestsPicker = topicPicker(topics, { legend: 'Topics you like', max: maxInterests, chosen: interests, name: 'settings-interest' });
  const interestsAlert = alertBox();
  const interestsSaved = h('p', { class: 'muted', role: 'status' });
  const interestsButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save interests');
  const interestsForm = h('form', { class: 'stack', novalidate: true },
    interestsPicker.el, interestsAlert.el, interestsSaved, interestsButton);
  interestsForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    interestsAlert.clear();
    interestsSaved.textContent = '';
    interestsButton.disabled = true;
    try {
      await api('PUT', '/me/interests', { topics: interestsPicker.value() });
      interestsSaved.textContent = 'Interests saved.';
    } catch (err) {
      interestsAlert.show(err.message);
    } finally {
      interestsButton.disabled = false;
    }
  });

  // -- delete --------------------------------------------------------------------------------
  // Confirmed by the password; an account made by single sign-on has none, and confirms
  // by having signed in again with its provider in the last few minutes.
  const deleteAlert = alertBox();
  const withPassword = me.password !== false;
  const sso = withPassword ? null : (await api('GET', '/auth/methods').catch(() => ({ sso: null }))).sso;
  const again = sso
    ? h('a', { href: `${sso.start}?next=${encodeURIComponent('/settings#settings-delete')}` }, `Sign in again with ${sso.name}`)
    : null;
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' });
  const sure = checkbox('I understand this cannot be undone', { id: 'settings-delete-sure', name: 'sure' });
  const deleteButton = h('button', { type: 'submit', class: 'btn btn-danger' }, 'Delete my account');
  const deleteForm = h('form', { class: 'stack', novalidate: true },
    h('p', {}, 'Your profile, avatar, follows, invites, sessions and notifications are deleted. Rooms you started stay, by "a former member".'),
    withPassword ? password.field : h('p', {},
      'You sign in with your organisation, so there is no password to confirm with: ',
      'if you signed in more than 10 minutes ago, sign in again first. ', again),
    sure.field,
    deleteAlert.el, deleteButton);
  deleteForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    deleteAlert.clear();
    if (!sure.input.checked) {
      deleteAlert.show('Tick the box to confirm.');
      return;
    }
    deleteButton.disabled = true;
    try {
      await api('DELETE', '/me', withPassword ? { password: password.input.value } : {});
      await loadMe(true);
      navigate('/', { replace: true });
    } catch (err) {
      deleteAlert.show(err.message);
      deleteButton.disabled = false;
    }
  });

  fill(outlet,
    h('h1', { class: 'sr-only' }, 'Settings'),
    section('settings-profile', 'Your profile',
      h('p', {}, h('a', { href: `/people/${encodeURIComponent(me.username)}` }, 'See your profile')),
      profileForm),
    section('settings-avatar', 'Avatar',
      preview,
      h('p', { class: 'muted' }, 'PNG, JPEG, WebP or GIF. It is cropped to a square and its metadata (like location) removed.'),
      h('div', { class: 'field' }, h('label', { for: fileId }, 'Choose an image'), file),
      h('div', { class: 'row' }, uploadButton, removeButton),
      avatarAlert.el),
    section('settings-interests', 'Interests',
      h('p', { class: 'muted' }, 'Live rooms on these topics come higher in your hallway, after rooms with people you follow.'),
      interestsForm),
    section('settings-security', 'Security',
      h('p', {}, 'Change your password, see where you are signed in and your tokens, and your recent sign-ins.'),
      h('a', { class: 'btn', href: '/settings/security' }, 'Password, sessions and tokens')),
    section('settings-calendar', 'Calendar', calendarSettings()),
    section('settings-data', 'Your data',
      h('p', {}, 'Everything this server holds about you, as one JSON file.'),
      h('a', { class: 'btn', href: '/api/me/export', download: '' }, 'Download my data')),
    section('settings-delete', 'Delete your account', deleteForm),
  );
}
