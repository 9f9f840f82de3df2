// An admin's page about one person (/admin/people/<id>): who they are, their standing,
// the actions (Warn, Suspend, Ban, Lift, Remove picture, End a live room of theirs — each
// asks first, with a reason), their sanctions, the reports against them, whom they
// invited and the rooms they hosted.
import { ApiError, get, post } from '../api.js';
import { h, fill, alertBox, avatar, nameOf, text } from '../dom.js';
import { at, consoleFrame, day, personPath, requireAdmin, stateBadge, when } from './admin.js';
import { confirmAction } from './confirm.js';

const DURATIONS = [
  [1, '1 day'],
  [3, '3 days'],
  [7, '1 week'],
  [30, '30 days'],
  [365, '1 year'],
];
const REASON_MAX = 500;
const KIND_NAMES = { warn: 'Warning', suspend: 'Suspension', ban: 'Ban', lift: 'Lifted' };

let serial = 0;

/** A labelled textarea; returns {field, input}. */
function textArea(label, attrs = {}) {
  const id = `admin-text-${++serial}`;
  const input = h('textarea', { id, rows: 3, maxlength: REASON_MAX, ...attrs });
  return { field: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

export async function adminPersonView(ctx) {
  const { outlet, params, signal } = ctx;
  const me = await requireAdmin(ctx);
  if (!me) return;
  const userId = params.id;
  const alert = alertBox();
  const page = h('div', { class: 'admin-person stack' });
  fill(outlet, consoleFrame('people', h('p', {}, h('a', { href: '/admin/people' }, '← People')), alert.el, page));

  async function load(focusKey = null) {
    let person;
    try {
      person = await get(`/admin/users/${encodeURIComponent(userId)}`);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 404) {
        fill(page, h('section', { class: 'card' }, h('h2', {}, 'No such person'),
          h('p', {}, 'Nobody has this id: the account may have been deleted.')));
      } else {
        alert.show(err.message);
      }
      return;
    }
    if (signal.aborted) return;
    document.title = `${nameOf(person.user)} · Admin · Parlor`;
    fill(page,
      summary(person),
      actions(person, me),
      sanctionsCard(person),
      reportsCard(person),
      invitesCard(person),
      roomsCard(person));
    if (focusKey) {
      // After an action: back on its button, or on the heading if the button went.
      const again = page.querySelector(`[data-key="${focusKey}"]`);
      (again || page.querySelector('h2')).focus();
    }
    loadReports(person.user.id);
  }

  function summary(person) {
    const u = person.user;
    const st = person.standing || {};
    let standing = 'In good standing.';
    if (st.state === 'suspended') standing = `Suspended until ${when(st.until)}.`;
    if (st.state === 'banned') standing = `Banned since ${when(st.since)}.`;
    return h('section', { class: 'card admin-summary', 'aria-labelledby': 'admin-person-h' },
      h('div', { class: 'row' },
        avatar({ ...u, user_id: u.id }, 'lg'),
        h('div', { class: 'person-text' },
          h('h2', { id: 'admin-person-h', class: 'admin-person-name', tabindex: '-1' }, nameOf(u), ' ', stateBadge(st.state, u.is_admin)),
          h('p', { class: 'muted' }, at(u), ' · ', h('a', { href: `/people/${encodeURIComponent(text(u.username))}` }, 'Public profile')))),
      u.bio ? h('p', { class: 'admin-bio' }, u.bio) : null,
      h('dl', { class: 'admin-facts' },
        h('dt', {}, 'Joined'), h('dd', {}, day(u.created_at)),
        h('dt', {}, 'Invited by'), h('dd', {}, person.invited_by
          ? (person.invited_by.id ? h('a', { href: personPath(person.invited_by.id) }, at(person.invited_by)) : at(person.invited_by))
          : 'Nobody (the first admin, or an open sign-up)'),
        h('dt', {}, 'Standing'), h('dd', { class: 'admin-standing' }, standing)));
  }

  function actions(person, me) {
    const u = person.user;
    const state = (person.standing || {}).state;
    const box = h('section', { class: 'card', 'aria-labelledby': 'admin-actions-h' },
      h('h2', { id: 'admin-actions-h' }, 'Actions'));
    const buttons = h('div', { class: 'row admin-actions' });
    const button = (label, key, onclick, cls = 'btn') => h('button', { type: 'button', class: cls, 'aria-haspopup': 'dialog', dataset: { key }, onclick }, label);
    const back = (key) => () => page.querySelector(`[data-key="${key}"]`);
    const host = outlet;
    const done = (key) => () => load(key);

    if (u.is_admin || u.id === me.id) {
      box.append(h('p', { class: 'muted' }, u.id === me.id ? 'This is you: admins cannot sanction themselves.' : 'Admins cannot be sanctioned.'));
    } else {
      buttons.append(button('Warn', 'warn', () => {
        const message = textArea('Message they will read', { required: true });
        confirmAction(host, {
          title: `Warn ${nameOf(u)}`,
          text: 'They get your message in their notifications (not your name).',
          confirmLabel: 'Send warning',
          danger: false,
          fields: [message.field],
          returnFocus: back('warn'),
          run: async () => { await post(`/admin/users/${encodeURIComponent(u.id)}/warn`, { message: message.input.value }); await done('warn')(); },
        });
      }));
      if (state !== 'banned') {
        buttons.append(button(state === 'suspended' ? 'Change suspension' : 'Suspend', 'suspend', () => {
          const id = `admin-days-${++serial}`;
          const duration = h('select', { id, name: 'days' }, DURATIONS.map(([days, label]) => h('option', { value: String(days) }, label)));
          duration.value = '7';
          const reason = textArea('Reason (for the audit log)', { required: true });
          confirmAction(host, {
            title: `Suspend ${nameOf(u)}`,
            text: 'They are signed out everywhere and removed from live rooms now, and cannot sign in until the suspension ends. Their unused invites are revoked.',
            confirmLabel: 'Suspend',
            fields: [h('div', { class: 'field' }, h('label', { for: id }, 'For how long'), duration), reason.field],
            returnFocus: back('suspend'),
            run: async () => {
              await post(`/admin/users/${encodeURIComponent(u.id)}/suspend`, { days: Number(duration.value), reason: reason.input.value });
              await done('suspend')();
            },
          });
        }, 'btn btn-danger-ghost'));
        buttons.append(button('Ban', 'ban', () => {
          const reason = textArea('Reason (for the audit log)', { required: true });
          confirmAction(host, {
            title: `Ban ${nameOf(u)}`,
            text: 'They are signed out everywhere and removed from live rooms now, and cannot sign in again until an admin lifts the ban. Their unused invites are revoked.',
            confirmLabel: 'Ban',
            fields: [reason.field],
            returnFocus: back('ban'),
            run: async () => { await post(`/admin/users/${encodeURIComponent(u.id)}/ban`, { reason: reason.input.value }); await done('ban')(); },
          });
        }, 'btn btn-danger'));
      }
      if (state === 'suspended' || state === 'banned') {
        buttons.append(button(state === 'banned' ? 'Lift ban' : 'Lift suspension', 'lift', () => {
          const reason = textArea('Reason (optional)');
          confirmAction(host, {
            title: `Lift the ${state === 'banned' ? 'ban' : 'suspension'} of ${nameOf(u)}`,
            text: 'They can sign in again at once. Revoked invites stay revoked.',
            confirmLabel: 'Lift',
            danger: false,
            fields: [reason.field],
            returnFocus: back('lift'),
            run: async () => { await post(`/admin/users/${encodeURIComponent(u.id)}/lift`, { reason: reason.input.value }); await done('lift')(); },
          });
        }, 'btn btn-primary'));
      }
    }
    if (u.avatar_url) {
      buttons.append(button('Remove picture', 'avatar', () => {
        const reason = textArea('Reason (optional)');
        confirmAction(host, {
          title: `Remove the picture of ${nameOf(u)}`,
          text: 'Their profile shows their initials instead. They can upload another picture.',
          confirmLabel: 'Remove picture',
          fields: [reason.field],
          returnFocus: back('avatar'),
          run: async () => { await post(`/admin/users/${encodeURIComponent(u.id)}/avatar/remove`, { reason: reason.input.value }); await done('avatar')(); },
        });
      }, 'btn btn-danger-ghost'));
    }
    if (buttons.childElementCount) box.append(buttons);
    return box;
  }

  function endRoom(room) {
    const reason = textArea('Reason (for the audit log)', { required: true });
    confirmAction(outlet, {
      title: `End “${text(room.title, 'this room')}”`,
      text: 'Everyone in it is told the room has ended.',
      confirmLabel: 'End room',
      fields: [reason.field],
      returnFocus: () => page.querySelector('h2'),
      run: async () => { await post(`/admin/rooms/${encodeURIComponent(room.id)}/end`, { reason: reason.input.value }); await load(); },
    });
  }

  function sanctionsCard(person) {
    const items = person.sanctions || [];
    return h('section', { class: 'card', 'aria-labelledby': 'admin-sanctions-h' },
      h('h2', { id: 'admin-sanctions-h' }, 'Sanctions'),
      items.length
        ? h('ol', { class: 'audit-list', 'aria-label': 'Sanctions' }, items.map((x) => h('li', { class: 'audit-item' },
          h('p', { class: 'audit-what' },
            h('strong', {}, KIND_NAMES[x.kind] || x.kind),
            x.kind === 'suspend' ? ` until ${when(x.until)}` : '',
            x.in_force ? ' (in force)' : (x.ended_at && x.kind !== 'warn' && x.kind !== 'lift' ? ` (ended ${when(x.ended_at)})` : ''),
            ' · by ', x.by_operator ? 'the operator' : (x.by ? at(x.by) : 'a former admin')),
          x.reason ? h('p', { class: 'audit-detail' }, x.reason) : null,
          h('p', { class: 'muted audit-when' }, when(x.created_at)))))
        : h('p', { class: 'muted' }, 'None.'));
  }

  const reportsBody = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  function reportsCard() {
    return h('section', { class: 'card', 'aria-labelledby': 'admin-reports-h' },
      h('h2', { id: 'admin-reports-h' }, 'Reports against them'), reportsBody);
  }
  async function loadReports(id) {
    try {
      const data = await get(`/admin/users/${encodeURIComponent(id)}/reports`);
      if (signal.aborted) return;
      const items = Array.isArray(data) ? data : (data && data.reports) || [];
      fill(reportsBody, items.length
        ? h('ul', { class: 'audit-list', 'aria-label': 'Reports against them' }, items.map((r) => h('li', { class: 'audit-item' },
          h('p', { class: 'audit-what' }, h('strong', {}, text(r.reason, 'Report')), r.state ? ` · ${r.state}` : ''),
          r.note ? h('p', { class: 'audit-detail' }, r.note) : null,
          h('p', { class: 'muted audit-when' }, when(r.created_at)))))
        : h('p', { class: 'muted' }, 'None.'));
    } catch (err) {
      if (signal.aborted) return;
      // Without the reports API (an older server) there is nothing to show yet.
      fill(reportsBody, h('p', { class: 'muted' }, err.status === 404 ? 'Reports will appear here.' : err.message));
    }
  }

  function invitesCard(person) {
    const invites = person.invites || [];
    const used = invites.filter((i) => i.used_by);
    return h('section', { class: 'card', 'aria-labelledby': 'admin-invites-h' },
      h('h2', { id: 'admin-invites-h' }, 'Whom they invited'),
      h('p', { class: 'muted' }, `${invites.length}${person.invites_more ? '+' : ''} invites made, ${used.length} used.`),
      used.length
        ? h('ul', { class: 'invite-list', 'aria-label': 'People they invited' }, used.map((i) => h('li', { class: 'invite-item row' },
          h('span', {}, i.used_by.id ? h('a', { href: personPath(i.used_by.id) }, at(i.used_by)) : at(i.used_by),
            h('span', { class: 'muted' }, ` · ${i.kind === 'waitlist' ? 'let in from the waitlist' : 'with an invite'}, ${day(i.used_at)}`)))))
        : null);
  }

  function roomsCard(person) {
    const rooms = person.rooms_hosted || [];
    return h('section', { class: 'card', 'aria-labelledby': 'admin-rooms-h' },
      h('h2', { id: 'admin-rooms-h' }, 'Rooms they hosted'),
      rooms.length
        ? h('ul', { class: 'invite-list', 'aria-label': 'Rooms they hosted' }, rooms.map((r) => h('li', { class: 'invite-item row' },
          h('span', {},
            r.live ? h('a', { href: `/rooms/${encodeURIComponent(r.id)}` }, text(r.title, 'Untitled room')) : text(r.title, 'Untitled room'),
            h('span', { class: 'muted' }, r.live ? ' · live now' : ` · ${day(r.created_at)}`)),
          r.live ? h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'aria-haspopup': 'dialog', 'aria-label': `End ${text(r.title, 'the room')}`, onclick: () => endRoom(r) }, 'End room') : null)))
        : h('p', { class: 'muted' }, 'None yet.'),
      person.rooms_hosted_count > rooms.length ? h('p', { class: 'muted' }, `${person.rooms_hosted_count} in all; the latest ${rooms.length} are listed.`) : null);
  }

  await load();
}
