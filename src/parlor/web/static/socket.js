// The tab's one WebSocket: hello/welcome with queue resume, batched acks,
// heartbeat, reconnect with backoff, re-subscribing rooms after a reconnect, and
// `bye` on pagehide.
//
// Events dispatched (EventTarget; detail = the message unless noted):
//   state      detail: 'connecting' | 'open' | 'reconnecting' | 'closed'
//   welcome    detail: {...welcome, reconnect: bool, attemptedResume: bool}
//   event      a queued `event` message (already de-duplicated): room.state, room.you,
//              room.ended, hallway.changed (docs/API.md)
//   speaking, links, media.offer, error, pong
//   late       detail: bool; nothing heard for a while past a ping (a poor link), or heard again
//   unauthorized   the session is gone (the socket stops retrying)

const ACK_EVERY_MS = 1000;
const ACK_EVERY_N = 20;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
const LATE_MS = 2000;

// sessionStorage, when the page may use it: a frame on another site (an embed) may be
// denied storage, and then the queue lasts as long as the page.
const store = {
  get(key) { try { return sessionStorage.getItem(key); } catch { return null; } },
  set(key, value) { try { sessionStorage.setItem(key, value); } catch { /* no storage */ } },
  remove(key) { try { sessionStorage.removeItem(key); } catch { /* no storage */ } },
};

export class ParlorSocket extends EventTarget {
  // `prefix`: where the queue is kept in sessionStorage; `meUrl`: answers 401 once the
  // socket's identity is gone. A guest's socket (views/guest.js) has its own of both.
  constructor(url = defaultUrl(), { prefix = 'parlor', meUrl = '/api/me' } = {}) {
    super();
    this.url = url;
    this.keys = { queue: `${prefix}.queue_id`, last: `${prefix}.last_event_id` };
    this.meUrl = meUrl;
    this.ws = null;
    this.state = 'closed';
    this.rooms = new Set();
    this.queueId = store.get(this.keys.queue) || null;
    const last = Number(store.get(this.keys.last));
    this.lastEventId = this.queueId && Number.isFinite(last) && last > 0 ? last : null;
    this.ackedId = this.lastEventId;
    this.unacked = 0;
    this.ackTimer = null;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.heartbeatS = 5;
    this.lastSeen = 0;
    this.lastPing = 0;
    this.late = false;
    this.backoff = BACKOFF_MIN_MS;
    this.failures = 0;
    this.everWelcomed = false;
    this.attemptedResume = false;
    this.stopped = true;
    this._onOnline = () => { if (this.state === 'reconnecting') this._reconnectNow(); };
    // The page is going away (tab closed, reload, navigation elsewhere): say so, so the
    // server leaves our rooms in about a second instead of after the 30 s reconnect
    // grace. A reload resumes this queue (sessionStorage) within that second and keeps
    // its place. A dropped connection sends nothing and keeps the full grace.
    this._onPageHide = () => {
      this._flushAck();
      this.send({ type: 'bye' });
    };
  }

  connect() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._onOnline);
    window.addEventListener('pagehide', this._onPageHide);
    this._open();
  }

  /** Close for good (sign out). Forgets the queue. */
  close() {
    this.stopped = true;
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('pagehide', this._onPageHide);
    this._flushAck();
    clearTimeout(this.reconnectTimer);
    this._teardown();
    this.rooms.clear();
    this.queueId = null;
    this.lastEventId = null;
    store.remove(this.keys.queue);
    store.remove(this.keys.last);
    this._setState('closed');
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.state === 'open') {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  subscribe(roomId) {
    this.rooms.add(roomId);
    this.send({ type: 'subscribe', room_id: roomId });
  }

  unsubscribe(roomId) {
    this.rooms.delete(roomId);
    this.send({ type: 'unsubscribe', room_id: roomId });
  }

  // --- internals -----------------------------------------------------------

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _open() {
    this._setState(this.everWelcomed ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.error(err);
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: 'hello' };
      this.attemptedResume = Boolean(this.queueId);
      if (this.queueId) {
        hello.queue_id = this.queueId;
        hello.last_event_id = this.lastEventId ?? 0;
      }
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (e) => this._onMessage(e.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this._teardown();
      this._scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows
  }

  _teardown() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this._setLate(false);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  async _scheduleReconnect() {
    if (this.stopped) return;
    this._setState(this.everWelcomed ? 'reconnecting' : 'connecting');
    this.failures += 1;
    if (this.failures % 3 === 0 && (await this._sessionGone())) {
      this.stopped = true;
      this._setState('closed');
      this._emit('unauthorized', null);
      return;
    }
    const delay = this.backoff * (0.8 + Math.random() * 0.4);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this._open(), delay);
  }

  _reconnectNow() {
    clearTimeout(this.reconnectTimer);
    this._teardown();
    this._open();
  }

  async _sessionGone() {
    try {
      const res = await fetch(this.meUrl, { credentials: 'same-origin' });
      return res.status === 401;
    } catch {
      return false;
    }
  }

  _onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    this.lastSeen = Date.now();
    this._setLate(false);
    switch (msg.type) {
      case 'welcome':
        return this._onWelcome(msg);
      case 'event':
        return this._onEvent(msg);
      case 'pong':
        return this._emit('pong', msg);
      default:
        return this._emit(msg.type, msg);
    }
  }

  _onWelcome(msg) {
    const reconnect = this.everWelcomed;
    this.everWelcomed = true;
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    if (msg.queue_id !== this.queueId || !msg.resumed) {
      // A fresh queue: its ids start over.
      this.lastEventId = msg.last_event_id ?? 0;
      this.ackedId = this.lastEventId;
    }
    this.queueId = msg.queue_id;
    store.set(this.keys.queue, this.queueId);
    this._persistLast();
    this.heartbeatS = Number(msg.heartbeat_s) > 0 ? Number(msg.heartbeat_s) : 20;
    this._startHeartbeat();
    this._setState('open');
    for (const roomId of this.rooms) this.send({ type: 'subscribe', room_id: roomId });
    this._emit('welcome', { ...msg, reconnect, attemptedResume: this.attemptedResume });
  }

  _onEvent(msg) {
    const id = Number(msg.id);
    if (this.lastEventId !== null && id <= this.lastEventId) {
      this._scheduleAck();
      return; // a replay of something already handled
    }
    try {
      this._emit('event', msg);
    } finally {
      this.lastEventId = id;
      this._scheduleAck();
    }
  }

  _scheduleAck() {
    this.unacked += 1;
    if (this.unacked >= ACK_EVERY_N) {
      this._flushAck();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this._flushAck(), ACK_EVERY_MS);
    }
  }

  _flushAck() {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.unacked = 0;
    if (this.lastEventId === null || this.lastEventId === this.ackedId) return;
    if (this.send({ type: 'ack', event_id: this.lastEventId })) {
      this.ackedId = this.lastEventId;
      this._persistLast();
    }
  }

  _persistLast() {
    if (this.lastEventId !== null) store.set(this.keys.last, String(this.lastEventId));
  }

  _startHeartbeat() {
    clearInterval(this.heartbeatTimer);
    const every = Math.max(1000, this.heartbeatS * 1000);
    this.lastSeen = this.lastPing = Date.now();
    // Checked every second: a ping every `every`; a pong overdue by LATE_MS is a poor link;
    // nothing heard for 2.5 pings is a dead one (a dropped network often closes nothing:
    // reconnect rather than wait for TCP to give up).
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastSeen > every * 2.5) {
        this._teardown();
        this._scheduleReconnect();
        return;
      }
      if (this.lastPing > this.lastSeen && now - this.lastPing > LATE_MS) this._setLate(true);
      if (now - this.lastPing >= every) {
        this.lastPing = now;
        this.send({ type: 'ping' });
      }
    }, 1000);
  }

  _setLate(late) {
    if (this.late === late) return;
    this.late = late;
    this._emit('late', late);
  }
}

export function defaultUrl(path = '/ws') {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}
