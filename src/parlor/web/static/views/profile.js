// A person's profile (/people/:username): avatar, names, bio, counts, nominated by,
// joined date; follow / unfollow and block / unblock; your own links to /settings.
import { api } from '../api.js';
import { h, alertBox, avatar } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';

const user = (name) => `/users/${encodeURIComponent(name)}`;

/** The person's picture when they have one, else the initials avatar. */
export function picture(person, size = 'lg') {
  if (!person.avatar_url) return avatar(person, size);
  // Decorative: the name is always written next to it.
  return h('img', {
    class: `avatar avatar-${size}`,
    src: person.avatar_url,
    alt: '',
    width: size === 'lg' ? 72 : 52,
    height: size === 'lg' ? 72 : 52,
    style: 'object-fit: cover',
  });
}

function joined(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

function nominatedBy(person) {
  const by = person.nominated_by;
  if (!by) return null;
  const who = by.username
    ? h('a', { href: `/people/${encodeURIComponent(by.username)}` }, by.display_name)
    : h('span', {}, by.display_name); // "a former member": nobody to link to
  return h('p', { class: 'muted' }, 'Nominated by ', who);
}

export async function profileView({ outlet, params, signal }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  const alert = alertBox();
  const card = h('section', { class: 'card narrow', 'aria-labelledby': 'profile-name' });
  outlet.replaceChildren(card);

  let person;
  try {
    person = await api('GET', user(params.username));
  } catch (err) {
    if (signal.aborted) return;
    card.replaceChildren(h('h1', { id: 'profile-name' }, 'No such person'), h('p', { role: 'alert' }, err.message),
      h('p', {}, h('a', { href: '/' }, 'Back to the hallway')));
    return;
  }
  if (signal.aborted) return;

  async function act(method, tail) {
    alert.clear();
    try {
      person = await api(method, user(person.username) + tail);
      render();
    } catch (err) {
      alert.show(err.message);
    }
  }

  function actions() {
    if (person.is_you) {
      return h('div', { class: 'row' }, h('a', { class: 'btn', href: '/settings' }, 'Edit profile'));
    }
    const follow = person.followed_by_you
      ? h('button', { type: 'button', class: 'btn', dataset: { key: 'follow' }, onclick: () => act('DELETE', '/follow') }, 'Unfollow')
      : h('button', {
        type: 'button', class: 'btn btn-primary', dataset: { key: 'follow' }, disabled: person.blocked_by_you || person.blocks_you,
        onclick: () => act('POST', '/follow'),
      }, 'Follow');
    const block = person.blocked_by_you
      ? h('button', { type: 'button', class: 'btn btn-ghost', dataset: { key: 'block' }, onclick: () => act('DELETE', '/block') }, 'Unblock')
      : h('button', { type: 'button', class: 'btn btn-danger-ghost', dataset: { key: 'block' }, onclick: () => act('POST', '/block') }, 'Block');
    return h('div', { class: 'row' }, follow, block);
  }

  function render() {
    const counts = `${person.follower_count} ${person.follower_count === 1 ? 'follower' : 'followers'} · ${person.following_count} following`;
    card.replaceChildren(
      h('div', { class: 'row' },
        picture(person),
        h('div', {},
          h('h1', { id: 'profile-name' }, person.display_name),
          h('p', { class: 'muted' }, `@${person.username}`))),
      person.bio ? h('p', { class: 'bio' }, person.bio) : null,
      h('p', { class: 'counts' }, counts),
      person.follows_you ? h('p', { class: 'muted' }, 'Follows you') : null,
      person.blocks_you ? h('p', { class: 'notice' }, 'This person has blocked you.') : null,
      nominatedBy(person),
      h('p', { class: 'muted' }, `Joined ${joined(person.joined_at)}`),
      actions(),
      alert.el,
    );
  }
  render();
}
