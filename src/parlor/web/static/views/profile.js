// A person's profile (/people/:username): avatar, names, bio, counts (linking to the
// followers and following lists), nominated by, joined date; follow / unfollow and
// block / unblock; your own links to /settings.
import { api } from '../api.js';
import { h, fill, alertBox, avatar, nameOf, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe } from '../session.js';
import { followButton, profilePath } from './people.js';
import { openReport } from './report.js';
import { profileEvents } from './event.js';

const user = (name) => `/users/${encodeURIComponent(name)}`;

function joined(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

function nominatedBy(person) {
  const by = person.nominated_by;
  if (!by) return null;
  const who = by.username
    ? h('a', { href: profilePath(by) }, nameOf(by))
    : h('span', {}, nameOf(by, 'a former member')); // nobody to link to
  return h('p', { class: 'muted' }, 'Nominated by ', who);
}

export async function profileView({ outlet, params, signal, onCleanup }) {
  const me = await loadMe();
  if (signal.aborted) return;
  if (!me) {
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    return;
  }
  const alert = alertBox();
  const card = h('section', { class: 'card narrow', 'aria-labelledby': 'profile-name' });
  fill(outlet, card);

  let person;
  try {
    person = await api('GET', user(params.username));
  } catch (err) {
    if (signal.aborted) return;
    fill(card, h('h1', { id: 'profile-name' }, 'No such person'), h('p', { role: 'alert' }, err.message),
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
    const follow = person.blocked_by_you || person.blocks_you
      ? null
      : followButton(person, { alert, small: false, onChange: (fresh) => { person = fresh; render(); } });
    const block = person.blocked_by_you
      ? h('button', { type: 'button', class: 'btn btn-ghost', dataset: { key: 'block' }, onclick: () => act('DELETE', '/block') }, 'Unblock')
      : h('button', { type: 'button', class: 'btn btn-danger-ghost', dataset: { key: 'block' }, onclick: () => act('POST', '/block') }, 'Block');
    const report = h('button', {
      type: 'button', class: 'btn btn-ghost', 'aria-haspopup': 'dialog', dataset: { key: 'report' },
      onclick: (event) => {
        const button = event.currentTarget;
        openReport(card, {
          target: { kind: 'profile', id: person.id, label: nameOf(person) },
          returnFocus: () => (button.isConnected ? button : card.querySelector('[data-key="report"]')),
        });
      },
    }, 'Report profile');
    return h('div', { class: 'row' }, follow, block, report);
  }

  function counts() {
    const n = Number(person.follower_count) || 0;
    const m = Number(person.following_count) || 0;
    const base = profilePath(person);
    return h('p', { class: 'counts' },
      h('a', { href: `${base}/followers` }, h('strong', {}, String(n)), n === 1 ? ' follower' : ' followers'),
      h('span', { 'aria-hidden': 'true' }, ' · '),
      h('a', { href: `${base}/following` }, h('strong', {}, String(m)), ' following'));
  }

  const events = profileEvents(person.username);

  function memberOf() {
    const clubs = person.clubs || [];
    if (!clubs.length) return null;
    return h('section', { class: 'stack', 'aria-labelledby': 'profile-clubs-h' },
      h('h2', { id: 'profile-clubs-h' }, 'Member of'),
      h('ul', { class: 'club-list', 'aria-label': 'Clubs' }, clubs.map((c) => h('li', { class: 'room-club' },
        h('a', { href: `/clubs/${encodeURIComponent(c.id)}` }, c.name),
        c.role !== 'member' ? h('span', { class: 'badge badge-kind' }, c.role === 'admin' ? 'Admin' : 'Leader') : null))));
  }

  function render() {
    document.title = `${nameOf(person)} · Parlor`;
    rerender(card, [
      h('div', { class: 'profile-head' },
        avatar(person, 'xl'),
        h('div', { class: 'profile-names' },
          h('h1', { id: 'profile-name' }, nameOf(person)),
          h('p', { class: 'muted' }, `@${person.username}`),
          person.follows_you ? h('p', { class: 'badge follows-you' }, 'Follows you') : null)),
      person.bio ? h('p', { class: 'bio' }, person.bio) : null,
      counts(),
      person.blocks_you ? h('p', { class: 'notice' }, 'This person has blocked you.') : null,
      nominatedBy(person),
      person.joined_at ? h('p', { class: 'muted' }, `Joined ${joined(person.joined_at)}`) : null,
      actions(),
      alert.el,
      memberOf(),
      events,
    ]);
  }
  render();
  onCleanup(() => { document.title = 'Parlor'; });
}
