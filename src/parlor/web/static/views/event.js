// Events: an event's page (/events/:id) with its details in your time zone, "Notify me",
// "Add to calendar", and for its hosts Start / Edit / Cancel; the schedule form
// (/events/new); the small cards the hallway and profiles list (docs/API.md, Events).
// Live: a `notification` about this event on the tab's socket reloads it.
import { api, get, post, patch } from '../api.js';
import { h, fill, alertBox, field, nameOf } from '../dom.js';
import { navigate } from '../router.js';
import { loadMe, session } from '../session.js';

const REFRESH_MS = 15000;
const e = (id) => `/events/${encodeURIComponent(id)}`;

/** "Thursday, 11 March 2027 at 19:00" in the viewer's own time zone. */
export function localTime(seconds, style = 'full') {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: style, timeStyle: 'short' });
}

function zoneTime(seconds, zone) {
  try {
    return new Date(seconds * 1000).toLocaleString(undefined, { timeStyle: 'short', timeZone: zone });
  } catch {
    return null;
  }
}

const STATES = { live: 'Live now', cancelled: 'Cancelled', missed: 'Did not take place', ended: 'Ended' };

/** A card for lists (hallway, profiles): title, host, local time, live mark, a link in. */
export function eventCard(ev) {
  const state = ev.live ? 'Live now' : STATES[ev.state] || null;
  return h('li', { class: 'event-card card', dataset: { eventId: ev.id } },
    h('h3', { class: 'event-title' }, ev.title),
    h('p', { class: 'muted' }, `${nameOf(ev.host)} · `, h('time', { datetime: ev.starts_at_iso }, localTime(ev.starts_at, 'medium'))),
    clubLine(ev),
    state ? h('p', { class: `badge event-state${ev.live ? ' is-live' : ''}` }, state) : null,
    ev.notify ? h('p', { class: 'muted' }, 'You will be notified') : null,
    h('div', { class: 'room-foot' },
      h('a', {
        class: 'btn btn-small',
        href: e(ev.id),
        'aria-label': `Details of ${ev.title}`,
        dataset: { key: `event-${ev.id}` },
      }, 'Details')));
}

/** The club an event belongs to, as a link to its page (or nothing). */
function clubLine(ev) {
  return ev.club
    ? h('p', { class: 'room-club muted' }, 'Club: ', h('a', { href: `/clubs/${encodeURIComponent(ev.club.id)}` }, ev.club.name))
    : null;
}

/** The fields the schedule and edit forms share; `ev` fills them for an edit. */
function eventForm(ev, submitLabel, onSubmit) {
  const alert = alertBox();
  const title = field('Event title', { name: 'title', maxlength: 120, autocomplete: 'off', required: true, value: ev ? ev.title : '' });
  const descId = `desc-${Math.random().toString(36).slice(2, 7)}`;
  const description = h('textarea', { id: descId, name: 'description', rows: 3, maxlength: 1000 });
  description.value = ev ? ev.description : '';
  const starts = field('Starts', { type: 'datetime-local', name: 'starts', required: true, value: ev ? toLocalInput(ev.starts_at) : '' });
  const ends = field('Ends (optional)', { type: 'datetime-local', name: 'ends', value: ev && ev.ends_at ? toLocalInput(ev.ends_at) : '' });
  const zone = field('Time zone for calendars', {
    name: 'time_zone', autocomplete: 'off',
    value: ev ? (ev.time_zone || '') : Intl.DateTimeFormat().resolvedOptions().timeZone || '',
  });
  const cohosts = field('Co-hosts (usernames, comma-separated, up to 5)', {
    name: 'cohosts', autocomplete: 'off', value: ev ? ev.cohosts.map((c) => c.username).join(', ') : '',
  });
  const topics = field('Topics (comma-separated, up to 3)', { name: 'topics', autocomplete: 'off', value: ev ? ev.topics.join(', ') : '' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel);
  const form = h('form', { class: 'stack event-form', novalidate: true },
    title.field,
    h('div', { class: 'field' }, h('label', { for: descId }, 'Description'), description),
    starts.field, ends.field, zone.field, cohosts.field, topics.field,
    submit, alert.el);
  const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    if (!starts.input.value) {
      alert.show('Pick when it starts.');
      starts.input.focus();
      return;
    }
    submit.disabled = true;
    const body = {
      title: title.input.value,
      description: description.value,
      starts_at: new Date(starts.input.value).toISOString(),
      ends_at: ends.input.value ? new Date(ends.input.value).toISOString() : null,
      time_zone: zone.input.value.trim() || null,
      cohosts: list(cohosts.input.value),
      topics: list(topics.input.value),
    };
    try {
      await onSubmit(body);
    } catch (err) {
      alert.show(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** A datetime-local input's value for a time, in the viewer's zone. */
function toLocalInput(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function signedIn(signal) {
  const me = await loadMe();
  if (signal.aborted) return null;
  if (!me) navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
  return me;
}

export async function newEventView({ outlet, signal }) {
  if (!(await signedIn(signal))) return;
  document.title = 'Schedule an event · Parlor';
  // From a club's page (/events/new?club=<id>): one of the club's events.
  const clubId = new URLSearchParams(location.search).get('club');
  const form = eventForm(null, 'Schedule', async (body) => {
    const ev = await post('/events', clubId ? { ...body, club_id: clubId } : body);
    navigate(e(ev.id));
  });
  fill(outlet, h('section', { class: 'card narrow', 'aria-labelledby': 'new-event-h' },
    h('h1', { id: 'new-event-h' }, clubId ? 'Schedule a club event' : 'Schedule an event'),
    h('p', { class: 'muted' }, clubId
      ? 'It shows on the club\'s page and opens as one of the club\'s rooms. People can ask to be reminded.'
      : 'People can ask to be reminded. You open its room when it is time.'),
    form));
  form.querySelector('input').focus();
}

export async function eventView({ outlet, params, signal, onCleanup }) {
  if (params.id === 'new') return newEventView({ outlet, signal });
  const me = await signedIn(signal);
  if (!me) return;
  const alert = alertBox();
  const card = h('section', { class: 'card narrow event-page', 'aria-labelledby': 'event-h' });
  fill(outlet, card);
  let ev;
  let editing = false;
  let confirmCancel = false;

  // Only the answer to the latest question counts: an older load landing after a newer
  // one (or after an action's answer) must not bring back a stale event.
  let asked = 0;
  async function load() {
    const question = ++asked;
    try {
      const fresh = await get(e(params.id));
      if (question !== asked) return;
      ev = fresh;
    } catch (err) {
      if (signal.aborted || question !== asked) return;
      fill(card, h('h1', { id: 'event-h' }, 'No such event'), h('p', { role: 'alert' }, err.message),
        h('p', {}, h('a', { href: '/' }, 'Back to the hallway')));
      ev = null;
      return;
    }
    if (!signal.aborted) render();
  }

  async function act(fn) {
    alert.clear();
    const question = ++asked;
    try {
      const fresh = await fn();
      if (question !== asked) {
        load();
        return;
      }
      ev = fresh;
      render();
    } catch (err) {
      alert.show(err.message);
    }
  }

  function hostControls() {
    if (!ev.you_host || ev.state !== 'scheduled') return null;
    const start = h('button', {
      type: 'button', class: 'btn btn-primary', dataset: { key: 'start' },
      onclick: () => act(async () => {
        const started = await post(`${e(ev.id)}/start`);
        if (started.room_id) navigate(`/rooms/${encodeURIComponent(started.room_id)}`);
        return started;
      }),
    }, 'Start the event');
    const edit = h('button', {
      type: 'button', class: 'btn', 'aria-expanded': String(editing), dataset: { key: 'edit' },
      onclick: () => { editing = !editing; render(); },
    }, 'Edit event');
    let cancel = null;
    if (ev.you_are_host) {
      cancel = confirmCancel
        ? h('span', { class: 'row' },
          h('button', { type: 'button', class: 'btn btn-danger', dataset: { key: 'cancel-yes' }, onclick: () => act(() => post(`${e(ev.id)}/cancel`)) }, 'Yes, cancel the event'),
          h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { confirmCancel = false; render(); } }, 'Keep it'))
        : h('button', { type: 'button', class: 'btn btn-danger-ghost', dataset: { key: 'cancel' }, onclick: () => { confirmCancel = true; render(); } }, 'Cancel event');
    }
    return h('div', { class: 'row' }, start, edit, cancel);
  }

  function render() {
    document.title = `${ev.title} · Parlor`;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const hostTime = ev.time_zone && ev.time_zone !== zone ? zoneTime(ev.starts_at, ev.time_zone) : null;
    const state = ev.live ? 'Live now' : STATES[ev.state] || null;
    const notify = ['scheduled', 'live'].includes(ev.state) ? h('button', {
      type: 'button',
      class: `btn${ev.notify ? ' is-on' : ''}`,
      'aria-pressed': String(ev.notify),
      dataset: { key: 'notify' },
      onclick: () => act(() => api('PUT', `${e(ev.id)}/notify`, { on: !ev.notify })),
    }, 'Notify me') : null;
    const join = ev.live && ev.room_id
      ? h('a', { class: 'btn btn-primary', href: `/rooms/${encodeURIComponent(ev.room_id)}`, dataset: { key: 'join' } }, 'Join the live room')
      : null;
    const people = [ev.host, ...ev.cohosts].map((p, i) => [i ? ', ' : '', h('a', { href: `/people/${encodeURIComponent(p.username)}` }, nameOf(p))]);
    fill(card,
      h('h1', { id: 'event-h' }, ev.title),
      state ? h('p', { class: `badge event-state${ev.live ? ' is-live' : ''}`, role: 'status' }, state) : h('p', { role: 'status', class: 'sr-only' }),
      h('p', {}, h('time', { datetime: ev.starts_at_iso }, localTime(ev.starts_at)),
        ev.ends_at ? [' – ', h('time', { datetime: ev.ends_at_iso }, localTime(ev.ends_at, 'medium'))] : null),
      h('p', { class: 'muted' }, `Times in your time zone (${zone}).`, hostTime ? ` ${hostTime} in ${ev.time_zone}.` : ''),
      h('p', {}, 'Hosted by ', people),
      clubLine(ev),
      ev.description ? h('p', { class: 'event-description' }, ev.description) : null,
      ev.topics.length ? h('p', { class: 'muted' }, `Topics: ${ev.topics.join(', ')}`) : null,
      typeof ev.subscriber_count === 'number' ? h('p', { class: 'muted' }, `${ev.subscriber_count} asked to be notified`) : null,
      h('div', { class: 'row' },
        join,
        notify,
        h('a', { class: 'btn btn-ghost', href: ev.ics_url, download: `${ev.id}.ics` }, 'Add to calendar')),
      hostControls(),
      editing ? eventForm(ev, 'Save changes', async (body) => {
        const changes = { ...body };
        if (!ev.you_are_host) delete changes.cohosts;
        ev = await patch(e(ev.id), changes);
        editing = false;
        render();
      }) : null,
      alert.el,
      h('p', {}, h('a', { href: '/' }, 'Back to the hallway')));
  }

  const socket = session.socket;
  const onEvent = (m) => {
    const d = m.detail;
    if (d.name === 'notification' && d.data && d.data.event && d.data.event.id === params.id) load();
  };
  const onWelcome = () => load();
  if (socket) {
    socket.addEventListener('event', onEvent);
    socket.addEventListener('welcome', onWelcome);
  }
  const timer = setInterval(() => { if (!editing && !document.hidden) load(); }, REFRESH_MS);
  onCleanup(() => {
    clearInterval(timer);
    if (socket) {
      socket.removeEventListener('event', onEvent);
      socket.removeEventListener('welcome', onWelcome);
    }
  });
  await load();
}

/** A profile's "Upcoming events" section (empty: nothing shown). */
export function profileEvents(username) {
  const list = h('ul', { class: 'event-list', 'aria-label': 'Upcoming events' });
  const wrap = h('section', { class: 'stack', 'aria-labelledby': 'profile-events-h', hidden: true },
    h('h2', { id: 'profile-events-h' }, 'Upcoming events'), list);
  get(`/users/${encodeURIComponent(username)}/events`).then(({ events }) => {
    fill(list, events.map(eventCard));
    wrap.hidden = events.length === 0;
  }).catch(() => { /* the profile works without it */ });
  return wrap;
}

/** Settings: the private calendar feed (make, show once, turn off). */
export function calendarSettings() {
  const alert = alertBox();
  const status = h('p', { 'aria-live': 'polite' });
  const urlBox = h('div', { class: 'field', hidden: true });
  const make = h('button', { type: 'button', class: 'btn' }, 'Make a calendar link');
  const revoke = h('button', { type: 'button', class: 'btn btn-danger-ghost', hidden: true }, 'Turn off the calendar link');
  const show = (active, url) => {
    status.textContent = active
      ? (url ? 'Your calendar link (shown once: copy it into your calendar app):' : 'Your calendar link is on. Making a new one turns the old one off.')
      : 'No calendar link. Your calendar app can follow the events you host or asked to be notified about.';
    revoke.hidden = !active;
    make.textContent = active ? 'Make a new calendar link' : 'Make a calendar link';
    if (url) {
      const id = 'calendar-url';
      fill(urlBox, h('label', { for: id }, 'Calendar link'), h('input', { id, readonly: true, value: url, onfocus: (ev) => ev.target.select() }));
    }
    urlBox.hidden = !url;
  };
  make.addEventListener('click', async () => {
    alert.clear();
    try {
      const res = await post('/me/calendar');
      show(true, res.url);
    } catch (err) { alert.show(err.message); }
  });
  revoke.addEventListener('click', async () => {
    alert.clear();
    try {
      await api('DELETE', '/me/calendar');
      show(false, null);
    } catch (err) { alert.show(err.message); }
  });
  get('/me/calendar').then((res) => show(res.active, null)).catch((err) => alert.show(err.message));
  return [status, urlBox, h('div', { class: 'row' }, make, revoke), alert.el];
}
