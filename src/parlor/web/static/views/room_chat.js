// The room's chat panel and reactions bar (room.js creates one per room page).
//
// Lines come from the socket (`chat.history` on subscribing, then `chat.message`,
// `chat.deleted`, `chat.settings`, `chat.you`: docs/API.md) and are written with text
// nodes only: whatever a line holds, links or markup, shows as the characters typed
// (h() appends strings as text; nothing here sets innerHTML).
//
// Reactions come aggregated (`reactions`: counts per emoji, and per sender for the
// first few): each sender's emoji float over their avatar when it is on the page,
// the rest rise over the reactions bar, a handful per batch. With reduced motion they
// appear and fade in place.
import { api, del, patch, post } from '../api.js';
import { h, rerender } from '../dom.js';
import { openReport } from './report.js';
import { isEncryptedChat } from '../e2ee.js';

export const REACTIONS = [
  ['👏', 'clapping hands'], ['❤️', 'red heart'], ['😂', 'tears of joy'],
  ['🔥', 'fire'], ['👍', 'thumbs up'], ['🙌', 'raised hands'],
];
const MESSAGE_MAX = 500;
const KEPT = 100;
// Floating emoji per batch over the bar (the counts can be thousands).
const LANE_MAX = 6;
const FLOAT_MS = 1600;
const MODES = [['everyone', 'Everyone'], ['speakers', 'Speakers only'], ['off', 'Off']];
const SLOW = [[0, 'Off'], [5, '5 seconds'], [10, '10 seconds'], [30, '30 seconds'], [60, '1 minute'], [120, '2 minutes']];
const TIMEOUTS = [[60, '1 minute'], [600, '10 minutes'], [3600, '1 hour']];

const r = (id) => `/rooms/${encodeURIComponent(id)}`;
const onStage = (p) => Boolean(p) && (p.role === 'moderator' || p.role === 'speaker');

export class ChatPanel {
  /** `page`: the room's section (avatars are looked up in it); `nameOf(person)`;
   * `canReport`: not in a guest room (nothing of one is stored); `guest`: the reader is one;
   * `crypt`: an encrypted room's RoomKeys (e2ee.js): lines go out sealed (docs/E2EE.md §5)
   * and are opened here, "encrypted message" while no key held opens them. */
  constructor({ roomId, me, socket, page, nameOf, canReport = true, guest = false, crypt = null }) {
    this.roomId = roomId;
    this.crypt = crypt;
    this.opened = new Map(); // sealed line -> its text, or null: no key held opens it (yet)
    if (crypt) crypt.addEventListener('keys', () => this.reopen());
    this.canReport = canReport;
    this.guest = guest;
    this.me = me;
    this.socket = socket;
    this.page = page;
    this.nameOf = nameOf;
    this.lines = [];
    this.settings = { mode: 'everyone', slow_mode_s: 0 };
    this.timedOutUntil = null;
    this.mine = null;
    this.timingOut = null; // the line whose author a moderator is choosing a timeout for
    this.sending = false;

    // A div, lines divs: role="log" takes the list semantics away from an <ol>, leaving
    // its <li> outside any list (axe: listitem).
    this.log = h('div', { class: 'chat-log', role: 'log', 'aria-label': 'Chat messages', 'aria-live': 'polite' });
    this.empty = h('p', { class: 'muted empty chat-empty' }, 'No messages yet.');
    this.note = h('p', { class: 'muted chat-note', id: `chat-note-${roomId}` });
    this.error = h('p', { class: 'chat-error', role: 'alert' });
    this.input = h('input', {
      type: 'text', class: 'input chat-input', name: 'text', maxlength: String(MESSAGE_MAX), autocomplete: 'off',
      'aria-label': 'Message', 'aria-describedby': this.note.id, placeholder: 'Say something…',
    });
    this.sendButton = h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Send');
    this.form = h('form', { class: 'chat-form row', onsubmit: (e) => { e.preventDefault(); this.send(); } },
      this.input, this.sendButton);
    this.modTools = h('details', { class: 'chat-settings', hidden: true });
    this.lane = h('div', { class: 'reaction-lane', 'aria-hidden': 'true' });
    this.bar = h('div', { class: 'reactions-bar', role: 'group', 'aria-label': 'Reactions' },
      REACTIONS.map(([emoji, name]) => h('button', {
        type: 'button', class: 'btn btn-ghost reaction-button', 'aria-label': `React with ${name}`,
        title: name, dataset: { emoji }, onclick: () => this.react(emoji),
      }, emoji)));
    this.el = h('section', { class: 'chat card', 'aria-labelledby': `chat-h-${roomId}` },
      h('div', { class: 'chat-head' }, h('h2', { id: `chat-h-${roomId}` }, 'Chat'), this.modTools),
      this.empty, this.log, this.note, this.error, this.form,
      h('div', { class: 'reactions-wrap' }, this.lane, this.bar));

    this.onEvent = (e) => this.event(e.detail);
    this.onReactions = (e) => this.reactions(e.detail);
    socket.addEventListener('event', this.onEvent);
    socket.addEventListener('reactions', this.onReactions);
    // The socket's `chat.history` comes with the subscription; this covers a page that
    // subscribed before the panel listened, and a history with nothing in it (not sent).
    api('GET', `${r(roomId)}/chat`).then((data) => this.history(data)).catch(() => {});
  }

  stop() {
    this.socket.removeEventListener('event', this.onEvent);
    this.socket.removeEventListener('reactions', this.onReactions);
  }

  /** Your own record changed (role, or you were made moderator): controls follow. */
  update(mine) {
    this.mine = mine;
    this.renderControls();
    this.renderLines();
  }

  // --- socket --------------------------------------------------------------
  event(msg) {
    const data = msg.data || {};
    if (!msg.name || !msg.name.startsWith('chat.') || data.room_id !== this.roomId) return;
    if (msg.name === 'chat.history') this.history(data);
    else if (msg.name === 'chat.message') {
      if (!this.lines.some((m) => m.id === data.id)) this.lines = [...this.lines.slice(-(KEPT - 1)), data];
      this.renderLines();
    } else if (msg.name === 'chat.deleted') {
      this.lines = this.lines.filter((m) => m.id !== data.message_id);
      this.renderLines();
    } else if (msg.name === 'chat.settings') {
      this.settings = { mode: data.mode, slow_mode_s: data.slow_mode_s };
      this.renderControls();
    } else if (msg.name === 'chat.you') {
      this.timedOutUntil = data.timed_out_until;
      this.renderControls();
    }
  }

  history(data) {
    if (!data || data.room_id !== this.roomId) return;
    this.lines = data.messages || [];
    this.settings = { mode: data.mode, slow_mode_s: data.slow_mode_s };
    this.timedOutUntil = data.timed_out_until;
    this.renderLines();
    this.renderControls();
  }

  // --- encrypted rooms -----------------------------------------------------
  /** The text to show of a line: its own, or (sealed) what it opens to. */
  textOf(m) {
    if (!this.crypt || !isEncryptedChat(m.text)) return { text: m.text, sealed: false };
    if (!this.opened.has(m.text)) {
      this.opened.set(m.text, undefined);
      this.crypt.decryptChat(m.text).then((text) => {
        this.opened.set(m.text, text);
        this.renderLines();
      });
    }
    const text = this.opened.get(m.text);
    return typeof text === 'string' ? { text, sealed: false } : { text: 'encrypted message', sealed: true };
  }

  /** A new key came: try again the lines none opened. */
  reopen() {
    for (const [line, text] of this.opened) if (text === null) this.opened.delete(line);
    this.renderLines();
  }

  // --- rendering -----------------------------------------------------------
  renderLines() {
    const amMod = this.mine && this.mine.role === 'moderator';
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    rerender(this.log, this.lines.map((m) => this.line(m, amMod)));
    this.empty.hidden = this.lines.length > 0;
    this.log.hidden = this.lines.length === 0;
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  line(m, amMod) {
    const mentionsMe = (m.mentions || []).includes(this.me.id);
    const shown = this.textOf(m);
    const mine = m.user_id === this.me.id;
    const name = m.display_name || m.username || 'Someone';
    const time = new Date(m.at * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const tools = [];
    if (amMod || mine) {
      tools.push(h('button', {
        type: 'button', class: 'btn btn-ghost btn-tiny', 'aria-label': `Delete message from ${name}`,
        dataset: { key: `chat-del-${m.id}` }, onclick: () => this.remove(m),
      }, 'Delete'));
    }
    if (amMod && !mine) {
      if (this.timingOut === m.id) {
        tools.push(h('span', { class: 'chat-timeout', role: 'group', 'aria-label': `Time out ${name} for` },
          TIMEOUTS.map(([seconds, label]) => h('button', {
            type: 'button', class: 'btn btn-small btn-danger-ghost', onclick: () => this.timeOut(m, seconds),
          }, label)),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => { this.timingOut = null; this.renderLines(); } }, 'Cancel')));
      } else {
        tools.push(h('button', {
          type: 'button', class: 'btn btn-ghost btn-tiny', 'aria-label': `Time out ${name}`,
          dataset: { key: `chat-timeout-${m.id}` },
          onclick: () => { this.timingOut = m.id; this.renderLines(); },
        }, 'Time out'));
      }
    }
    if (this.canReport && !mine) {
      const key = `chat-report-${m.id}`;
      tools.push(h('button', {
        type: 'button', class: 'btn btn-ghost btn-tiny', 'aria-label': `Report message from ${name}`,
        'aria-haspopup': 'dialog', dataset: { key },
        onclick: () => openReport(this.page, {
          target: { kind: 'message', id: m.id, label: `message from ${name}` },
          roomId: this.roomId,
          guest: this.guest,
          // the lines re-render meanwhile: back to this line's button if it is still there
          returnFocus: () => this.log.querySelector(`[data-key="${key}"]`) || this.input,
        }),
      }, 'Report'));
    }
    return h('div', { class: mentionsMe ? 'chat-line mentions-me' : 'chat-line', dataset: { messageId: m.id, userId: m.user_id } },
      h('span', { class: 'chat-meta' },
        h('strong', { class: 'chat-name' }, name),
        m.guest ? h('span', { class: 'badge badge-guest' }, 'guest') : null,
        h('time', { class: 'muted chat-time', datetime: new Date(m.at * 1000).toISOString() }, time),
        mentionsMe ? h('span', { class: 'mention-mark' }, 'mentions you') : null),
      // The text as text: never parsed as HTML, whatever it holds.
      shown.sealed
        ? h('span', { class: 'chat-text chat-sealed', title: 'No key held here opens this message' }, shown.text)
        : h('span', { class: 'chat-text' }, shown.text),
      tools.length ? h('span', { class: 'chat-tools' }, tools) : null);
  }

  renderControls() {
    const mine = this.mine;
    const amMod = Boolean(mine) && mine.role === 'moderator';
    const until = this.timedOutUntil && this.timedOutUntil * 1000 > Date.now() ? this.timedOutUntil : null;
    let why = '';
    if (until) why = `A moderator timed you out of the chat until ${new Date(until * 1000).toLocaleTimeString()}.`;
    else if (this.settings.mode === 'off') why = 'The chat is off.';
    else if (this.settings.mode === 'speakers' && !onStage(mine)) why = 'Only people on stage can write in this chat.';
    const notes = [why];
    if (!why && this.settings.slow_mode_s) notes.push(`Slow mode: one message every ${this.settings.slow_mode_s} seconds.`);
    else if (!why && this.settings.mode === 'speakers') notes.push('Only people on stage can write.');
    this.note.textContent = notes.filter(Boolean).join(' ');
    this.input.disabled = Boolean(why);
    this.sendButton.disabled = Boolean(why);
    if (until) {
      clearTimeout(this.untilTimer);
      this.untilTimer = setTimeout(() => this.renderControls(), Math.max(0, until * 1000 - Date.now()) + 200);
    }
    this.modTools.hidden = !amMod;
    if (amMod) this.renderModTools();
  }

  renderModTools() {
    const open = this.modTools.open;
    const name = `chat-mode-${this.roomId}`;
    const mode = h('fieldset', { class: 'choices' }, h('legend', {}, 'Who can write'),
      MODES.map(([value, label]) => {
        const id = `${name}-${value}`;
        return h('div', { class: 'choice' },
          h('input', { type: 'radio', name, id, value, checked: this.settings.mode === value,
            onchange: () => this.configure({ mode: value }) }),
          h('label', { for: id }, label));
      }));
    const slowId = `chat-slow-${this.roomId}`;
    const slow = h('select', { class: 'select', id: slowId, onchange: (e) => this.configure({ slow_mode_s: Number(e.target.value) }) },
      SLOW.map(([value, label]) => h('option', { value: String(value), selected: this.settings.slow_mode_s === value }, label)));
    if (!SLOW.some(([v]) => v === this.settings.slow_mode_s)) {
      slow.append(h('option', { value: String(this.settings.slow_mode_s), selected: true }, `${this.settings.slow_mode_s} seconds`));
    }
    rerender(this.modTools, [
      h('summary', { class: 'btn btn-small' }, 'Chat settings'),
      h('div', { class: 'chat-settings-body' }, mode, h('div', { class: 'field' }, h('label', { for: slowId }, 'Slow mode'), slow)),
    ]);
    this.modTools.open = open;
  }

  // --- actions -------------------------------------------------------------
  showError(err) {
    let text = err.message || 'Something went wrong.';
    if (err.retryAfter) text += ` (try again in ${err.retryAfter} s)`;
    this.error.textContent = text;
  }

  async send() {
    const text = this.input.value;
    if (this.sending || !text.trim()) return;
    this.sending = true;
    this.error.textContent = '';
    try {
      const sent = this.crypt ? await this.crypt.encryptChat(text) : text;
      const line = await post(`${r(this.roomId)}/chat`, { text: sent });
      if (this.crypt) this.opened.set(sent, text);
      this.input.value = '';
      if (!this.lines.some((m) => m.id === line.id)) this.lines = [...this.lines.slice(-(KEPT - 1)), line];
      this.renderLines();
    } catch (err) {
      this.showError(err);
    } finally {
      this.sending = false;
      this.input.focus();
    }
  }

  async remove(m) {
    this.error.textContent = '';
    try {
      await del(`${r(this.roomId)}/chat/${encodeURIComponent(m.id)}`);
      this.lines = this.lines.filter((x) => x.id !== m.id);
      this.renderLines();
      this.input.focus();
    } catch (err) {
      this.showError(err);
    }
  }

  async timeOut(m, seconds) {
    this.timingOut = null;
    this.error.textContent = '';
    try {
      await post(`${r(this.roomId)}/chat/timeouts`, { user_id: m.user_id, seconds });
      this.note.textContent = `${m.display_name || m.username} is timed out of the chat.`;
    } catch (err) {
      this.showError(err);
    }
    this.renderLines();
  }

  async configure(changes) {
    this.error.textContent = '';
    try {
      const s = await patch(`${r(this.roomId)}/chat`, changes);
      this.settings = { mode: s.mode, slow_mode_s: s.slow_mode_s };
    } catch (err) {
      this.showError(err);
    }
    this.renderControls();
  }

  react(emoji) {
    this.error.textContent = '';
    // Over the socket (cheap, many a second); REST when it is not open.
    if (!this.socket.send({ type: 'react', room_id: this.roomId, emoji })) {
      post(`${r(this.roomId)}/reactions`, { emoji }).catch((err) => this.showError(err));
    }
  }

  // --- reactions floating ----------------------------------------------------
  reactions(msg) {
    if (!msg || msg.room_id !== this.roomId) return;
    const by = msg.by || {};
    const left = { ...(msg.counts || {}) };
    for (const [userId, counts] of Object.entries(by)) {
      const ring = this.page.querySelector(`li[data-user-id="${CSS.escape(userId)}"] .ring`);
      for (const [emoji, n] of Object.entries(counts)) {
        if (!ring) continue;
        left[emoji] = (left[emoji] || 0) - n;
        for (let i = 0; i < Math.min(n, 3); i += 1) this.float(ring, emoji, i);
      }
    }
    let shown = 0;
    for (const [emoji, n] of Object.entries(left)) {
      for (let i = 0; i < n && shown < LANE_MAX; i += 1, shown += 1) this.float(this.lane, emoji, shown);
    }
  }

  float(host, emoji, i) {
    const el = h('span', { class: 'reaction-float', 'aria-hidden': 'true', dataset: { emoji },
      style: { '--drift': `${((i * 37) % 60) - 30}px`, '--delay': `${i * 90}ms` } }, emoji);
    host.append(el);
    setTimeout(() => el.remove(), FLOAT_MS + i * 90);
  }
}
