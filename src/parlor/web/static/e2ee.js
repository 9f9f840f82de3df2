// The keys of one visit to an end-to-end encrypted room (docs/E2EE.md §1, §2, §3, §5, §6).
//
// Member rooms: a fresh P-256 key pair is published (`e2ee.publish`); the key leader,
// computed by everyone from the people list (keyed_since, then user_id), makes a new
// room key with epoch = highest seen + 1 whenever the set of keyed people changes or it
// becomes leader, and wraps it to every other keyed person (`e2ee.key`). A key is taken
// only from the person computed as leader (one from someone else waits, in case our
// people list is behind, and is taken if they become leader). The last 4 epochs are kept.
//
// Guest rooms: one key, epoch 1, from the link's fragment or a passphrase; no rotation.
//
// Events: 'keys' (a key came: the worker and the chat follow), 'codes' (new safety
// codes were computed: the page shows them).
import {
  EPOCHS_KEPT, KEY_LEN, b64d, b64e, decryptChat, encryptChat, generateKeyPair, isEncryptedChat,
  keyLeader, randomBytes, safetyCode, unwrapRoomKey, wrapRoomKey,
} from './e2ee_crypto.js';

export { isEncryptedChat };

// The leader waits this long after a change of the keyed people before making a new
// key, so that a burst of arrivals (a room filling up) costs one rotation, not one each.
const ROTATE_AFTER_MS = 250;
// A key missed (it is not queued: a socket away when it came never gets it) is asked for
// again by publishing a fresh public key, which makes the leader rotate: at most this
// often, and this many times a visit.
const RENEW_EVERY_MS = 20_000;
const RENEW_MAX = 3;

/** The room key in a guest link's fragment (`#k=<base64url 16 bytes>`), or null. */
export function fragmentKey(hash = location.hash) {
  const m = /^#(?:.*&)?k=([A-Za-z0-9_-]{22})(?:&|$)/.exec(hash || '');
  if (!m) return null;
  try {
    const key = b64d(m[1]);
    return key.length === KEY_LEN ? key : null;
  } catch {
    return null;
  }
}

export function newFragment() {
  return `#k=${b64e(randomBytes(KEY_LEN))}`;
}

export class RoomKeys extends EventTarget {
  /**
   * @param {{socket: any, roomId: string, myId: string, guestKey?: Uint8Array | null, guest?: boolean}} opts
   *   guestKey: a guest room's fixed key (epoch 1); `guest` without one: a guest room
   *   whose key this page lacks (everything stays sealed). Neither: the member-room protocol.
   */
  constructor({ socket, roomId, myId, guestKey = null, guest = Boolean(guestKey) }) {
    super();
    this.socket = socket;
    this.roomId = roomId;
    this.myId = myId;
    this.guest = guest;
    this.keys = new Map(); // epoch -> room key
    this.epoch = 0; // the newest epoch held (we send with it)
    this.highestSeen = 0;
    this.pair = null;
    this.ready = null;
    this.people = [];
    this.leader = null;
    this.keyedSet = '';
    this.pending = new Map(); // from -> the last e2ee.key message not (yet) from the leader
    this.codes = new Map(); // public key (b64) -> safety code
    this.stopped = false;
    this.rotateTimer = null;
    this.renewed = { at: -Infinity, times: 0 };
    this.chain = Promise.resolve();
    if (guest) {
      if (guestKey) this._install(1, guestKey);
    } else {
      this.ready = this._newIdentity();
      this._onKey = (e) => this._enqueue(() => this._receive(e.detail));
      socket.addEventListener('e2ee.key', this._onKey);
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.rotateTimer);
    if (this._onKey) this.socket.removeEventListener('e2ee.key', this._onKey);
    this.keys.clear();
  }

  async _newIdentity() {
    const pair = await generateKeyPair();
    this.pair = pair;
    this.publicKey = b64e(pair.public);
    this.publish();
    await this._codes([this.publicKey]);
  }

  /** Frames keep coming that no key held opens (a key missed, say over a reconnect):
   *  a fresh public key makes the leader send everyone a new room key. Member rooms
   *  only (a guest room's key is what it is), rate-limited. */
  renew() {
    if (this.guest || this.stopped || !this.pair) return false;
    const now = performance.now();
    if (now - this.renewed.at < RENEW_EVERY_MS || this.renewed.times >= RENEW_MAX) return false;
    this.renewed = { at: now, times: this.renewed.times + 1 };
    this._enqueue(async () => {
      this.ready = this._newIdentity();
      await this.ready;
    });
    return true;
  }

  /** (Again, after a reconnect) tell the room our public key. */
  publish() {
    if (this.pair && !this.stopped) this.socket.send({ type: 'e2ee.publish', room_id: this.roomId, public_key: this.publicKey });
  }

  get sendKey() {
    return this.keys.get(this.epoch) || null;
  }

  /** The safety code of a public key (b64url), cached; null until computed. */
  codeNow(publicKey) {
    return publicKey ? this.codes.get(publicKey) ?? null : null;
  }

  async code(publicKey) {
    if (!this.codes.has(publicKey)) this.codes.set(publicKey, await safetyCode(this.roomId, b64d(publicKey)));
    return this.codes.get(publicKey);
  }

  /** The room's people changed (a snapshot's participants). */
  setPeople(people) {
    if (this.guest || this.stopped) return;
    this.people = people;
    this._enqueue(() => this._reconsider());
  }

  async encryptChat(text) {
    const key = this.sendKey;
    if (!key) throw Object.assign(new Error('The room key has not arrived yet: wait a moment and send again.'), { code: 'no_key' });
    return encryptChat(key, this.epoch, this.roomId, text);
  }

  /** The text of an encrypted line, or null when no key held opens it. */
  async decryptChat(line) {
    try {
      return await decryptChat(this.keys, this.roomId, line);
    } catch {
      return null;
    }
  }

  // --- internals -----------------------------------------------------------

  _enqueue(task) {
    this.chain = this.chain.then(task).catch((err) => console.error('e2ee:', err));
    return this.chain;
  }

  async _codes(publicKeys) {
    const fresh = publicKeys.filter((k) => !this.codes.has(k));
    if (!fresh.length) return;
    await Promise.all(fresh.map((k) => this.code(k).catch(() => null)));
    this.dispatchEvent(new CustomEvent('codes'));
  }

  _install(epoch, key) {
    this.keys.set(epoch, key);
    for (const old of [...this.keys.keys()].sort((a, b) => a - b).slice(0, -EPOCHS_KEPT)) this.keys.delete(old);
    this.highestSeen = Math.max(this.highestSeen, epoch);
    this.epoch = Math.max(...this.keys.keys());
    this.dispatchEvent(new CustomEvent('keys', { detail: { epoch, key } }));
  }

  async _reconsider() {
    await this.ready;
    if (this.stopped) return;
    await this._codes(this.people.map((p) => p.public_key).filter(Boolean));
    if (this.stopped) return;
    const keyed = this.people.filter((p) => p.public_key && p.keyed_since !== null && p.keyed_since !== undefined);
    const leader = keyLeader(keyed);
    const set = keyed.map((p) => `${p.user_id}:${p.public_key}`).sort().join(',');
    const becameLeader = leader === this.myId && this.leader !== this.myId;
    const changed = set !== this.keyedSet;
    this.leader = leader;
    this.keyedSet = set;
    if (leader === this.myId && (becameLeader || changed)) {
      clearTimeout(this.rotateTimer);
      this.rotateTimer = setTimeout(() => this._enqueue(() => this._rotateIfLeader()), ROTATE_AFTER_MS);
    } else if (leader && this.pending.has(leader)) {
      const { msg, publicKey } = this.pending.get(leader);
      const now = keyed.find((p) => p.user_id === leader);
      if (now && now.public_key !== publicKey) {
        // from whom we now see as leader, or sealed with a key of theirs we now know
        this.pending.delete(leader);
        await this._receive(msg);
      }
    }
  }

  /** A new key, if we are (still) the leader, our own key published as the room says. */
  async _rotateIfLeader() {
    if (this.stopped) return;
    const keyed = this.people.filter((p) => p.public_key && p.keyed_since !== null && p.keyed_since !== undefined);
    const mine = keyed.find((p) => p.user_id === this.myId);
    if (keyLeader(keyed) !== this.myId || !mine || mine.public_key !== this.publicKey) return;
    await this._rotate(keyed);
  }

  async _rotate(keyed) {
    const epoch = this.highestSeen + 1;
    const key = randomBytes(KEY_LEN);
    this._install(epoch, key);
    for (const p of keyed) {
      if (p.user_id === this.myId) continue;
      try {
        const wrapped = await wrapRoomKey(this.pair, b64d(p.public_key), {
          roomId: this.roomId, epoch, sender: this.myId, recipient: p.user_id, roomKey: key,
        });
        this.socket.send({ type: 'e2ee.key', room_id: this.roomId, to: p.user_id, epoch, wrapped: b64e(wrapped) });
      } catch (err) {
        console.warn('e2ee: cannot wrap the room key for', p.user_id, err);
      }
    }
  }

  async _receive(msg) {
    if (this.stopped || !msg || msg.room_id !== this.roomId) return;
    await this.ready;
    const epoch = Number(msg.epoch);
    if (!Number.isSafeInteger(epoch) || epoch < 1) return;
    this.highestSeen = Math.max(this.highestSeen, epoch);
    // Kept for when our people list catches up: its sender as leader, or their new key.
    const sender = this.people.find((p) => p.user_id === msg.from);
    const known = sender ? sender.public_key : null;
    if (msg.from !== this.leader || !known) {
      this.pending.set(msg.from, { msg, publicKey: msg.from !== this.leader ? null : known });
      return;
    }
    // The leader's word wins: a key for an epoch we hold replaces it (two people may
    // both have believed themselves leader for a moment, each sending an epoch E).
    try {
      const key = await unwrapRoomKey(this.pair, b64d(known), {
        roomId: this.roomId, epoch, sender: msg.from, recipient: this.myId, wrapped: b64d(msg.wrapped),
      });
      this._install(epoch, key);
    } catch (err) {
      console.warn('e2ee: a room key that does not open (yet)', err);
      this.pending.set(msg.from, { msg, publicKey: known });
    }
  }
}
