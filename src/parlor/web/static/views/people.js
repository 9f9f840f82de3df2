// People wherever they are listed: the follow button (one component for every view:
// search, follow lists, contacts, profiles, rooms), a person row, and the followers /
// following pages (/people/:username/followers, /people/:username/following).
import { api, ApiError } from '../api.js';
import { h, fill, alertBox, avatar, nameOf } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, session } from '../session.js';

const PAGE = 30;

export const profilePath = (person) => `/people/${encodeURIComponent(person.username)}`;
const byId = (id) => `/users/id/${encodeURIComponent(id)}`;

/**
 * A Follow toggle for `person` (a profile, a list or search entry, or a room participant:
 * anything with `id` or `user_id`, a name and `followed_by_you`; without
 * `followed_by_you` it starts as "Follow"). It reads "Follow" / "Following", its
 * accessible name is that text and the person's name ("Follow Ann" / "Following Ann":
 * the visible text is part of the name, as WCAG 2.5.3 asks) and aria-pressed says
 * whether you follow them. null for yourself, or when there is nobody to follow (a
 * former member). `onChange(profile)` gets the server's answer (the person's profile,
 * with fresh counts); errors go to `alert` (an alertBox) when given.
 */
export function followButton(person, { onChange = null, alert = null, small = true } = {}) {
  const id = person && (person.id || person.user_id);
  if (!id || (session.me && session.me.id === id)) return null;
  const name = nameOf(person);
  let followed = Boolean(person.followed_by_you);
  const label = h('span', {});
  const button = h('button', { type: 'button', dataset: { key: `follow-${id}` } },
    label, h('span', { class: 'sr-only' }, ` ${name}`));
  const show = () => {
    button.className = `btn follow-btn${small ? ' btn-small' : ''}${followed ? ' is-following' : ' btn-primary'}`;
    label.textContent = followed ? 'Following' : 'Follow';
    button.setAttribute('aria-pressed', String(followed));
    button.title = followed ? `Unfollow ${name}` : '';
  };
  show();
  button.addEventListener('click', async () => {
    if (alert) alert.clear();
    button.disabled = true;
    try {
      const profile = await api(followed ? 'DELETE' : 'POST', `${byId(id)}/follow`);
      followed = Boolean(profile.followed_by_you);
      person.followed_by_you = followed;
      show();
      if (onChange) onChange(profile);
    } catch (err) {
      if (alert) alert.show(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A list item: avatar, name linking to the profile, @username, extra text, follow button. */
export function personRow(person, { alert = null, note = null, actions = null } = {}) {
  const name = nameOf(person);
  const who = person.username
    ? h('a', { class: 'person-link', href: profilePath(person) }, name)
    : h('span', {}, name);
  return h('li', { class: 'person-row', dataset: { userId: person.id || person.user_id } },
    avatar(person, 'md'),
    h('span', { class: 'person-text' },
      h('span', { class: 'person-title' }, who),
      person.username ? h('span', { class: 'muted person-handle' }, `@${person.username}`) : null,
      note ? h('span', { class: 'muted person-note' }, note) : null),
    h('span', { class: 'person-row-actions' }, actions, followButton(person, { alert })));
}

// --- /people/:username/followers and /following -----------------------------------

const TABS = [
  ['followers', 'Followers'],
  ['following', 'Following'],
];

export const followersView = (ctx) => followListView(ctx, 'followers');
export const followingView = (ctx) => followListView(ctx, 'following');

async function followListView({ outlet, params, signal }, which) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  const card = h('section', { class: 'card narrow follow-lists', 'aria-labelledby': 'follows-h' },
    h('p', { class: 'loading' }, 'Loading…'));
  fill(outlet, card);
  const base = `/users/${encodeURIComponent(params.username)}`;
  let person;
  try {
    person = await api('GET', base);
  } catch (err) {
    if (signal.aborted) return;
    fill(card, h('h1', { id: 'follows-h' }, 'No such person'), h('p', { role: 'alert' }, err.message),
      h('p', {}, h('a', { href: '/' }, 'Back to the hallway')));
    return;
  }
  if (signal.aborted) return;

  const name = nameOf(person);
  const alert = alertBox();
  const label = which === 'followers' ? `Followers of ${name}` : `People ${name} follows`;
  const list = h('ul', { class: 'person-list', 'aria-label': label });
  const status = h('p', { class: 'muted empty', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true, dataset: { key: 'more' } }, 'Load more');
  const tabs = h('nav', { class: 'tabs', 'aria-label': `${name}: followers and following` },
    h('ul', {}, TABS.map(([key, text]) => {
      const count = key === 'followers' ? person.follower_count : person.following_count;
      return h('li', {}, h('a', {
        href: `${profilePath(person)}/${key}`,
        class: key === which ? 'tab is-current' : 'tab',
        'aria-current': key === which ? 'page' : false,
      }, `${text} `, h('span', { class: 'tab-count' }, String(count ?? 0))));
    })));
  fill(card,
    h('p', { class: 'back' }, h('a', { href: profilePath(person) }, `← ${name}`)),
    h('div', { class: 'follows-head' },
      avatar(person, 'md'),
      h('h1', { id: 'follows-h' }, which === 'followers' ? `${name}’s followers` : `${name} follows`)),
    tabs,
    alert.el,
    status,
    list,
    more);

  let cursor = null;
  let shown = 0;
  async function load() {
    more.disabled = true;
    try {
      const q = `?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api('GET', `${base}/${which}${q}`);
      if (signal.aborted) return;
      const rows = page.users.map((u) => personRow(u, { alert }));
      const first = rows.length ? rows[0].querySelector('a') : null;
      list.append(...rows);
      shown += rows.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.hidden = shown > 0;
      status.textContent = shown ? '' : emptyText(person, which);
      // "Load more" moves focus to the first new person, not back to the top.
      if (first && shown > rows.length) first.focus();
    } catch (err) {
      if (signal.aborted) return;
      status.hidden = true;
      alert.show(err instanceof ApiError && err.code === 'blocked_by_user'
        ? 'This person has blocked you: you cannot see their lists.'
        : err.message);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);
  await load();
}

function emptyText(person, which) {
  if (which === 'followers') return person.is_you ? 'Nobody follows you yet.' : 'Nobody follows them yet.';
  return person.is_you ? 'You follow nobody yet.' : 'They follow nobody yet.';
}
