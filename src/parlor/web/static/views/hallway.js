// The hallway: live rooms ranked for you, people you follow first (refreshed on
// `hallway.changed` and every 10 s), start a room,
// links to your places (profile, search, invites, contacts, inbox, settings), sign out.
// Signed out: a welcome with sign in / sign up links.
import { Api, get, post } from '../api.js';
import { h, field, fill, alertBox, avatar, icon, nameOf, rerender } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, session, signOut } from '../session.js';
import { encryptOption, guestRoomStarter } from './guest.js';
import { eventCard } from './event.js';

const REFRESH_MS = 10000;

export async function hallwayView(ctx) {
  const me = await loadMe();
  if (ctx.signal.aborted) return;
  if (!me) return signedOutView(ctx);
  return signedInView(ctx, me);
}

async function signedOutView({ outlet, signal }) {
  let setupNeeded = false;
  try {
    setupNeeded = (await Api.setupNeeded()).needed;
  } catch { /* the welcome works without it */ }
  if (signal.aborted) return;
  fill(outlet, h('section', { class: 'card narrow welcome' },
    h('h1', {}, 'Live audio rooms'),
    h('p', { class: 'muted' }, 'Drop in, listen, raise your hand, talk. Nothing is recorded.'),
    setupNeeded
      ? h('p', { class: 'notice' }, 'This server is not set up yet: open the setup link printed by ', h('code', {}, 'parlor serve'), '.')
      : null,
    h('div', { class: 'row' },
      h('a', { class: 'btn btn-primary', href: '/login' }, 'Sign in'),
      h('a', { class: 'btn', href: '/signup' }, 'Sign up')),
  ), guestRoomStarter());
}

/** Who can join a room you start (docs/API.md, Rooms: kinds). */
const ROOM_KINDS = [
  ['open', 'Open', 'Anyone can join'],
  ['social', 'Social', 'People you follow'],
  ['closed', 'Closed', 'Only people you invite'],
];

/** The start-a-room form: a title and who can join (a radio group with short explanations). */
function startRoomForm(alert) {
  const title = field('Room title', { name: 'title', maxlength: 120, autocomplete: 'off', placeholder: 'What do you want to talk about?' });
  const kinds = h('fieldset', { class: 'kind-picker' },
    h('legend', {}, 'Who can join'),
    ROOM_KINDS.map(([value, name, explain], i) => {
      const id = `start-kind-${value}`;
      return h('div', { class: 'kind-option' },
        h('input', { type: 'radio', name: 'kind', id, value, checked: i === 0, 'aria-describedby': `${id}-hint` }),
        h('label', { for: id },
          h('span', { class: 'kind-name' }, name),
          h('span', { class: 'kind-hint', id: `${id}-hint` }, explain)));
    }));
  const startButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start a room');
  const encrypted = encryptOption('start-encrypted');
  const form = h('form', { class: 'start-room', novalidate: true },
    title.field, h('div', { class: 'start-row' }, kinds, startButton), encrypted.el);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    startButton.disabled = true;
    const kind = (form.querySelector('input[name="kind"]:checked') || {}).value || 'open';
    try {
      const body = { title: title.input.value, kind };
      if (encrypted.input.checked) body.encrypted = true;
      const room = await post('/rooms', body);
      navigate(`/rooms/${encodeURIComponent(room.id)}`);
    } catch (err) {
      alert.show(err.message);
      startButton.disabled = false;
    }
  });
  return form;
}

function signedInView({ outlet, signal, onCleanup }, me) {
  const alert = alertBox();
  const startForm = startRoomForm(alert);

  const list = h('ul', { class: 'room-list', 'aria-label': 'Live rooms' });
  const eventList = h('ul', { class: 'room-list event-list', 'aria-label': 'Upcoming events' });
  const eventStatus = h('p', { class: 'muted empty', hidden: true }, 'No events scheduled.');
  // Only the rooms on one topic (`?topic=`), or all.
  const topicSelect = h('select', { id: 'hallway-topic', name: 'topic' }, h('option', { value: '' }, 'All topics'));
  get('/topics')
    .then(({ topics }) => { if (!signal.aborted) topicSelect.append(...topics.map((t) => h('option', { value: t }, t))); })
    .catch(() => { /* no filter then */ });
  topicSelect.addEventListener('change', () => refresh());
  const topicFilter = h('div', { class: 'field topic-filter' }, h('label', { for: 'hallway-topic' }, 'Topic'), topicSelect);
  const listStatus = h('p', { class: 'muted empty' }, 'Looking for live rooms…');

  const signOutButton = h('button', { type: 'button', class: 'btn btn-ghost' }, 'Sign out');
  signOutButton.addEventListener('click', async () => {
    signOutButton.disabled = true;
    try {
      await signOut();
    } catch (err) {
      alert.show(err.message);
    }
    navigate('/', { replace: true });
  });

  const places = placesNav(me);

  // /api/me carries no picture: the profile does (fetched once, drawn when it comes).
  const meAvatar = h('span', { class: 'me-avatar' }, avatar(me, 'sm'));
  get(`/users/id/${encodeURIComponent(me.id)}`)
    .then((mine) => { if (!signal.aborted && mine.avatar_url) fill(meAvatar, avatar(mine, 'sm')); })
    .catch(() => { /* the initials stay */ });

  fill(outlet,
    h('section', { class: 'hallway' },
      h('div', { class: 'hallway-head' },
        h('a', { class: 'me', href: `/people/${encodeURIComponent(me.username)}` }, meAvatar, h('span', {}, nameOf(me))),
        signOutButton),
      h('section', { class: 'card start-card', 'aria-labelledby': 'start-h' },
        h('h1', { id: 'start-h' }, 'Hallway'),
        startForm,
        alert.el),
      guestRoomStarter(),
      places,
      h('section', { class: 'rooms', 'aria-labelledby': 'live-h' },
        h('h2', { id: 'live-h' }, 'Live now'),
        topicFilter,
        listStatus,
        list),
      h('section', { class: 'rooms events', 'aria-labelledby': 'events-h' },
        h('div', { class: 'row' },
          h('h2', { id: 'events-h' }, 'Upcoming events'),
          h('a', { class: 'btn btn-small', href: '/events/new' }, 'Schedule an event')),
        eventStatus,
        eventList)));

  let loading = false;
  let again = false; // a change arrived while loading: load once more after
  async function refresh() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    again = false;
    try {
      const topic = topicSelect.value;
      const { rooms, events = [] } = topic ? await get(`/rooms?topic=${encodeURIComponent(topic)}`) : await Api.rooms();
      if (signal.aborted) return;
      rerender(list, rooms.map(roomCard));
      rerender(eventList, events.map(eventCard));
      eventStatus.hidden = events.length > 0;
      listStatus.textContent = rooms.length ? '' : (topic ? `No live rooms on ${topic} right now.` : 'No live rooms right now. Start one!');
      listStatus.hidden = rooms.length > 0;
    } catch (err) {
      if (!signal.aborted) {
        listStatus.hidden = false;
        listStatus.textContent = `Could not load rooms: ${err.message}`;
      }
    } finally {
      loading = false;
      if (again && !signal.aborted) refresh();
    }
  }

  const socket = session.socket;
  // `hallway.changed` (coalesced, ≤1/s; at once when someone you follow starts a room):
  // refetch, so the list is always the server's, filtered for you (blocks never show).
  const onEvent = (e) => {
    const { name, data } = e.detail;
    // hallway changes, and news about an event (it went live, changed, was cancelled)
    if (name === 'hallway.changed' || (name === 'notification' && data && data.event)) refresh();
  };
  const onWelcome = () => refresh();
  socket.addEventListener('event', onEvent);
  socket.addEventListener('welcome', onWelcome);
  const timer = setInterval(refresh, REFRESH_MS);
  const onVisible = () => { if (!document.hidden) refresh(); };
  document.addEventListener('visibilitychange', onVisible);
  onCleanup(() => {
    socket.removeEventListener('event', onEvent);
    socket.removeEventListener('welcome', onWelcome);
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  });
  refresh();
}

/** "2 you follow on stage", "1 you follow is listening", or nothing. */
export function followedLine(room) {
  const onStage = room.followed_on_stage || 0;
  const inRoom = room.followed_in_room || 0;
  if (onStage) return `${onStage} you follow on stage`;
  if (inRoom) return `${inRoom} you follow ${inRoom === 1 ? 'is' : 'are'} listening`;
  return null;
}

function roomCard(room) {
  const speakers = room.speakers || [];
  const names = speakers.map((s) => nameOf(s));
  const more = Math.max(0, (room.speaker_count || 0) - names.length);
  if (more) names.push(`${more} more`);
  const count = Number(room.listener_count) || 0;
  const followed = followedLine(room);
  const club = room.club;
  return h('li', { class: 'room-card card', dataset: { roomId: room.id } },
    h('h3', { class: 'room-title' }, room.title),
    room.encrypted
      ? h('p', { class: 'room-lock muted small' },
        h('span', { class: 'badge badge-lock' }, icon('lock'), 'End-to-end encrypted'),
        ' The server relays it without hearing it.')
      : null,
    club ? h('p', { class: 'room-club muted' },
      h('a', { href: `/clubs/${encodeURIComponent(club.id)}` }, club.name),
      club.members_only ? h('span', { class: 'badge badge-kind' }, 'Members only') : null) : null,
    followed ? h('p', { class: 'followed-line muted' }, followed) : null,
    room.topics && room.topics.length
      ? h('ul', { class: 'topic-tags', 'aria-label': 'Room topics' }, room.topics.map((t) => h('li', { class: 'badge badge-topic' }, t)))
      : null,
    h('div', { class: 'room-people' },
      h('span', { class: 'avatar-stack', 'aria-hidden': 'true' }, speakers.slice(0, 3).map((s) => avatar(s, 'sm'))),
      h('span', { class: 'speaker-names' }, names.length ? names.join(', ') : 'No one on stage')),
    h('div', { class: 'room-foot' },
      h('span', { class: 'muted' }, `${count} ${count === 1 ? 'listener' : 'listeners'}`),
      h('a', {
        class: 'btn btn-primary btn-small',
        href: `/rooms/${encodeURIComponent(room.id)}`,
        'aria-label': `Join ${room.title}`,
        dataset: { key: `join-${room.id}` },
      }, 'Join')));
}

function placesNav(me) {
  const link = (href, text) => h('li', {}, h('a', { class: 'place', href }, text));
  return h('nav', { class: 'places', 'aria-label': 'Your places' },
    h('ul', {},
      link(`/people/${encodeURIComponent(me.username)}`, 'Your profile'),
      link('/search', 'Search'),
      link('/clubs', 'Clubs'),
      link('/contacts', 'Contacts'),
      link('/invites', me.is_admin ? 'Invites and waitlist' : 'Invites'),
      link('/inbox', 'Inbox'),
      link('/settings', 'Settings')));
}
