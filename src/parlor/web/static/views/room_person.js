// The person sheet of the room page: opens from anyone's tile (a button, so the
// keyboard reaches it) with their name, a link to their profile, Follow/Unfollow,
// Report, and, for moderators, what a moderator can do to them.
import { Api, get, post, del } from '../api.js';
import { h, avatar, alertBox, rerender } from '../dom.js';
import { modal } from './room_dialogs.js';
import { openReport } from './report.js';

const onStage = (p) => p.role === 'moderator' || p.role === 'speaker';
const ROLE_NAMES = { moderator: 'Moderator', speaker: 'Speaker', listener: 'Listener' };

export class PersonSheet {
  /**
   * @param {object} o
   * @param {HTMLElement} o.host   where the dialog lives (the room page)
   * @param {string} o.roomId
   * @param {object} o.me          the signed-in user
   * @param {(snapshot) => void} o.apply  takes the snapshot a room action answers
   * @param {(p) => string} o.nameOf
   * @param {((p) => string | null) | null} [o.safetyCode]  an encrypted room: the code of
   *   the key we hold for them (docs/E2EE.md §6)
   */
  constructor({ host, roomId, me, apply, nameOf, safetyCode = null }) {
    Object.assign(this, { host, roomId, me, apply, nameOf, safetyCode });
    this.handle = null;
  }

  get userId() {
    return this.handle ? this.person.user_id : null;
  }

  open(person, amMod) {
    this.close();
    this.person = person;
    this.amMod = amMod;
    this.gone = false;
    this.profile = undefined; // undefined: loading; null: not available
    this.confirmBlock = false;
    this.busy = false;
    this.alert = alertBox();
    this.content = h('div', { class: 'sheet-content' });
    const key = `tile-${person.user_id}`;
    this.handle = modal(this.host, {
      title: this.nameOf(person),
      className: 'person-sheet',
      returnFocus: () => this.host.querySelector(`[data-key="${CSS.escape(key)}"]`),
    });
    const { dialog, body } = this.handle;
    dialog.addEventListener('close', () => { if (this.handle && this.handle.dialog === dialog) this.handle = null; });
    body.append(this.content, this.alert.el);
    this.render();
    this.loadProfile();
  }

  /** The room changed: `person` is their new record, or null when they left. */
  update(person, amMod) {
    if (!this.handle) return;
    if (person) this.person = person;
    else this.gone = true;
    this.amMod = amMod;
    this.render();
  }

  close() {
    if (this.handle) this.handle.close();
    this.handle = null;
  }

  async loadProfile() {
    const p = this.person;
    if (!p.username) {
      this.profile = null;
      return this.render();
    }
    try {
      this.profile = await get(`/users/id/${encodeURIComponent(p.user_id)}`);
    } catch {
      this.profile = null;
    }
    if (this.handle && this.person.user_id === p.user_id) this.render();
  }

  async run(call, { closeAfter = false } = {}) {
    if (this.busy) return;
    this.busy = true;
    this.alert.clear();
    try {
      const result = await call();
      if (result && result.participants) this.apply(result);
      if (closeAfter) this.close();
    } catch (err) {
      this.alert.show(err.message);
    } finally {
      this.busy = false;
      if (this.handle) this.render();
    }
  }

  render() {
    if (!this.handle) return;
    const p = this.person;
    const name = this.nameOf(p);
    const you = p.user_id === this.me.id;
    const marks = [ROLE_NAMES[p.role] || ''];
    if (p.guest) marks.push('guest (no account)');
    if (onStage(p) && (p.self_muted || p.mute_locked)) marks.push(p.mute_locked ? 'muted by a moderator' : 'muted');
    if (!onStage(p) && p.hand_raised) marks.push('hand raised');
    if (!onStage(p) && p.speak_invite) marks.push('invited to speak');
    rerender(this.content, [
      h('div', { class: 'sheet-who' },
        h('span', { class: 'ring' }, avatar(p, 'lg')),
        h('div', {},
          p.username ? h('p', { class: 'muted sheet-username' }, `@${p.username}`) : null,
          h('p', { class: 'sheet-marks' }, this.gone ? 'No longer in this room' : marks.join(' · ')))),
      this.codeRow(p, you),
      this.socialRow(p, name, you),
      this.amMod && !you && !this.gone ? this.moderatorActions(p, name) : null,
    ]);
  }

  /** An encrypted room: their safety code, to compare aloud with the one their page shows. */
  codeRow(p, you) {
    if (!this.safetyCode) return null;
    const code = this.safetyCode(p);
    return h('p', { class: 'sheet-code', dataset: { safetyCode: code || '' } },
      code ? ['Safety code: ', h('strong', { class: 'code' }, code)] : 'No key yet: no safety code.',
      code ? h('span', { class: 'muted small' },
        you ? ' Yours: read it to the others; their pages show the same for you.'
          : ' Ask them to read theirs aloud: it should be the same.') : null);
  }

  socialRow(p, name, you) {
    if (!p.username) return null;
    const link = h('a', {
      class: 'btn btn-small', href: `/people/${encodeURIComponent(p.username)}`, target: '_blank', rel: 'noopener',
      'aria-label': `View profile of ${name} (opens in a new tab)`, dataset: { key: 'profile' },
    }, 'View profile');
    let follow = null;
    const profile = this.profile;
    if (you || (profile && profile.is_you)) {
      follow = null;
    } else if (profile === undefined) {
      follow = h('button', { type: 'button', class: 'btn btn-small', disabled: true, 'aria-busy': 'true', dataset: { key: 'follow' } }, 'Follow');
    } else if (profile && (profile.blocked_by_you || profile.blocks_you)) {
      follow = h('span', { class: 'muted' }, profile.blocked_by_you ? 'You blocked them' : '');
    } else if (profile) {
      const following = profile.followed_by_you;
      const path = `/users/id/${encodeURIComponent(p.user_id)}/follow`;
      follow = h('button', {
        type: 'button',
        class: following ? 'btn btn-small' : 'btn btn-primary btn-small',
        'aria-label': `${following ? 'Unfollow' : 'Follow'} ${name}`,
        dataset: { key: 'follow' },
        onclick: () => this.run(async () => {
          this.profile = following ? await del(path) : await post(path);
        }),
      }, following ? 'Unfollow' : 'Follow');
    }
    const report = you ? null : h('button', {
      type: 'button', class: 'btn btn-ghost btn-small', 'aria-haspopup': 'dialog',
      'aria-label': `Report ${name}`, dataset: { key: 'report' },
      onclick: () => this.report(p, name),
    }, 'Report');
    return h('div', { class: 'row sheet-social' }, link, follow, report);
  }

  /** The report dialog takes the sheet's place; focus goes back to their tile after. */
  report(p, name) {
    const key = `tile-${p.user_id}`;
    this.close();
    openReport(this.host, {
      target: { kind: 'person', id: p.user_id, label: name },
      roomId: this.roomId,
      returnFocus: () => this.host.querySelector(`[data-key="${CSS.escape(key)}"]`),
    });
  }

  moderatorActions(p, name) {
    const id = p.user_id;
    const r = this.roomId;
    const b = (label, ariaLabel, key, call, { cls = 'btn btn-small', disabled = false, closeAfter = false } = {}) =>
      h('button', {
        type: 'button', class: cls, 'aria-label': ariaLabel, disabled, dataset: { key },
        onclick: () => this.run(call, { closeAfter }),
      }, label);
    if (this.confirmBlock) {
      return h('div', { class: 'sheet-confirm', role: 'group', 'aria-label': 'Confirm remove and block' },
        h('p', {}, `Remove and block ${name}? They cannot come back to this room, nor join rooms you moderate.`),
        h('div', { class: 'row' },
          b('Yes, remove and block', `Yes, remove and block ${name}`, 'confirm-block',
            () => Api.remove(r, id, true), { cls: 'btn btn-danger btn-small', closeAfter: true }),
          h('button', {
            type: 'button', class: 'btn btn-small', dataset: { key: 'cancel-block' },
            onclick: () => { this.confirmBlock = false; this.render(); this.focusKey('block'); },
          }, 'Cancel')));
    }
    const stage = onStage(p);
    const buttons = [];
    if (stage) {
      if (p.mute_locked) {
        buttons.push(b('Allow unmute', `Allow unmute for ${name}`, 'unlock', () => Api.unlockMute(r, id)));
      } else {
        buttons.push(b('Mute', `Mute ${name}`, 'mute', () => Api.muteSpeaker(r, id, false), { disabled: p.self_muted }));
        buttons.push(b('Lock mic', `Lock mic for ${name}`, 'lock', () => Api.muteSpeaker(r, id, true)));
      }
      buttons.push(b('To audience', `Move ${name} to audience`, 'audience', () => Api.toAudience(r, id)));
      buttons.push(p.role === 'speaker'
        ? b('Make moderator', `Make moderator: ${name}`, 'make-mod', () => Api.makeModerator(r, id))
        : b('Revoke moderator', `Revoke moderator for ${name}`, 'revoke-mod', () => Api.revokeModerator(r, id)));
    } else if (!p.speak_invite) {
      buttons.push(b('Invite', `Invite ${name} to speak`, 'invite', () => Api.inviteToSpeak(r, id), { cls: 'btn btn-primary btn-small' }));
    } else {
      buttons.push(b('Withdraw invitation', `Withdraw invitation: ${name}`, 'withdraw', () => Api.withdrawInvite(r, id)));
    }
    buttons.push(b('Remove', `Remove ${name}`, 'remove', () => Api.remove(r, id, false), { cls: 'btn btn-danger-ghost btn-small', closeAfter: true }));
    buttons.push(h('button', {
      type: 'button', class: 'btn btn-danger-ghost btn-small', 'aria-label': `Remove and block ${name}`, dataset: { key: 'block' },
      onclick: () => { this.confirmBlock = true; this.render(); this.focusKey('confirm-block'); },
    }, 'Remove and block'));
    return h('div', { class: 'sheet-actions', role: 'group', 'aria-label': 'Moderator actions' }, buttons);
  }

  focusKey(key) {
    const el = this.content.querySelector(`[data-key="${key}"]`);
    if (el) el.focus();
  }
}
