// The end-to-end encryption primitives of docs/E2EE.md, with WebCrypto. The Python
// reference is parlor/e2ee.py; tests/e2ee_vectors.json holds the bytes both must give
// (tests/test_browser_e2ee_crypto.py). Works in the page and in a worker (no DOM).
// Frames follow RFC 9605 (SFrame), cipher suite AES_128_GCM_SHA256_128.

export const CIPHER_SUITE = 0x0004;
export const KEY_LEN = 16;
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const EPOCHS_KEPT = 4;
export const REPLAY_WINDOW = 128;
export const PUBLIC_KEY_LEN = 65;
export const WRAPPED_LEN = NONCE_LEN + KEY_LEN + TAG_LEN;
export const PBKDF2_ITERATIONS = 210_000;
export const CHAT_PREFIX = 'e2ee:1:';
const CHAT_LINE = /^e2ee:1:([0-9]{1,10}):([A-Za-z0-9_-]+)$/;
const TWO_32 = 2 ** 32;

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

/** A frame, key or message that cannot be used; `code` is stable
 *  (bad_encoding, bad_key, bad_frame, no_key, replayed). */
export class E2EEError extends Error {
  constructor(code, detail = '') {
    super(detail || code);
    this.code = code;
  }
}

// -- encoding -----------------------------------------------------------------------

export function b64e(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64d(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new E2EEError('bad_encoding', 'not base64url');
  }
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** `value` as `n` big-endian bytes (a safe integer). */
function uintBytes(value, n) {
  const out = new Uint8Array(n);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

function minBytes(value) {
  let n = 1;
  while (value >= 256 ** n) n += 1;
  return uintBytes(value, n);
}

// -- HKDF (RFC 5869) --------------------------------------------------------------------

/** HKDF-SHA256(salt, ikm, info) → `length` bytes. */
export async function hkdf(salt, ikm, info, length) {
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, length * 8);
  return new Uint8Array(bits);
}

// -- identity keys and wrapping (§1, §3) --------------------------------------------------

/** A fresh ECDH P-256 key pair: {privateKey, publicKey, public (65 bytes)}. */
export async function generateKeyPair() {
  const pair = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const raw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, public: raw };
}

/** A key pair from a private scalar (32 bytes) and its public point (tests). */
export async function importKeyPair(d, publicRaw) {
  const jwk = {
    kty: 'EC', crv: 'P-256', ext: true, key_ops: ['deriveBits'],
    d: b64e(d), x: b64e(publicRaw.slice(1, 33)), y: b64e(publicRaw.slice(33, 65)),
  };
  const privateKey = await subtle.importKey('jwk', jwk, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  return { privateKey, publicKey: await importPublicKey(publicRaw), public: publicRaw };
}

export async function importPublicKey(publicRaw) {
  if (!(publicRaw instanceof Uint8Array) || publicRaw.length !== PUBLIC_KEY_LEN || publicRaw[0] !== 0x04) {
    throw new E2EEError('bad_key', 'a public key is a 65-byte uncompressed P-256 point');
  }
  try {
    return await subtle.importKey('raw', publicRaw, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
  } catch {
    throw new E2EEError('bad_key', 'not a point on P-256');
  }
}

async function wrapKeyAndAad(mine, theirPublic, { roomId, epoch, sender, recipient }) {
  const pub = await importPublicKey(theirPublic);
  const shared = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pub }, mine.privateKey, 256));
  const raw = await hkdf(utf8.encode(roomId), shared, utf8.encode('parlor e2ee wrap v1'), KEY_LEN);
  const key = await subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { key, aad: utf8.encode(`${roomId}|${epoch}|${sender}|${recipient}`) };
}

/** `roomKey` sealed for one recipient: nonce (12) || AES-128-GCM (44 bytes in all). */
export async function wrapRoomKey(mine, recipientPublic, { roomId, epoch, sender, recipient, roomKey, nonce }) {
  const { key, aad } = await wrapKeyAndAad(mine, recipientPublic, { roomId, epoch, sender, recipient });
  const iv = nonce || randomBytes(NONCE_LEN);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, roomKey);
  return concat(iv, new Uint8Array(sealed));
}

export async function unwrapRoomKey(mine, senderPublic, { roomId, epoch, sender, recipient, wrapped }) {
  if (!(wrapped instanceof Uint8Array) || wrapped.length !== WRAPPED_LEN) {
    throw new E2EEError('bad_key', 'a wrapped key is 44 bytes');
  }
  const { key, aad } = await wrapKeyAndAad(mine, senderPublic, { roomId, epoch, sender, recipient });
  try {
    const iv = wrapped.slice(0, NONCE_LEN);
    const plain = await subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, wrapped.slice(NONCE_LEN));
    return new Uint8Array(plain);
  } catch {
    throw new E2EEError('bad_key', 'the wrapped key does not open');
  }
}

/** A guest room's key from its passphrase (§1); guest room names are case-insensitive. */
export async function passphraseKey(passphrase, roomName) {
  const base = await subtle.importKey('raw', utf8.encode(passphrase), 'PBKDF2', false, ['deriveBits']);
  const salt = utf8.encode('parlor room ' + roomName.toLowerCase());
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS }, base, KEY_LEN * 8);
  return new Uint8Array(bits);
}

/** Three groups of four digits from the first 60 bits of the key's digest (§6). */
export async function safetyCode(roomId, publicRaw) {
  const digest = new Uint8Array(await subtle.digest('SHA-256',
    concat(utf8.encode('parlor safety v1'), utf8.encode(roomId), publicRaw)));
  let bits = 0n;
  for (const b of digest.slice(0, 8)) bits = (bits << 8n) | BigInt(b);
  bits >>= 4n;
  return [40n, 20n, 0n]
    .map((shift) => String(Number((bits >> shift) & 0xFFFFFn) % 10_000).padStart(4, '0'))
    .join(' ');
}

/** The keyed participant earliest by (`keyed_since`, `user_id`) (§2), or null. */
export function keyLeader(people) {
  let best = null;
  for (const p of people) {
    if (!p.public_key || p.keyed_since === null || p.keyed_since === undefined) continue;
    const since = Number(p.keyed_since);
    const id = String(p.user_id);
    if (!best || since < best.since || (since === best.since && id < best.id)) best = { since, id };
  }
  return best ? best.id : null;
}

// -- SFrame (§4, RFC 9605) ------------------------------------------------------------------

export function sframeHeader(kid, ctr) {
  let config = 0;
  const tail = [];
  for (const [value, shift] of [[kid, 4], [ctr, 0]]) {
    if (value < 8) {
      config |= value << shift;
    } else {
      const raw = minBytes(value);
      if (raw.length > 8) throw new E2EEError('bad_frame', 'a key id or counter is at most 8 bytes');
      config |= (0x8 | (raw.length - 1)) << shift;
      tail.push(raw);
    }
  }
  return concat(Uint8Array.of(config), ...tail);
}

/** {kid, ctr, length} of a frame's header; throws on a frame too short to hold them
 *  (or a value past 2^53, which no epoch here reaches). */
export function parseSframeHeader(frame) {
  if (!frame.length) throw new E2EEError('bad_frame', 'empty frame');
  const config = frame[0];
  let pos = 1;
  const values = [];
  for (const nibble of [config >> 4, config & 0xF]) {
    if (nibble & 0x8) {
      const n = (nibble & 0x7) + 1;
      if (frame.length < pos + n) throw new E2EEError('bad_frame', 'header runs past the frame');
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + frame[pos + i];
      if (!Number.isSafeInteger(v)) throw new E2EEError('bad_frame', 'key id or counter too large');
      values.push(v);
      pos += n;
    } else {
      values.push(nibble);
    }
  }
  return { kid: values[0], ctr: values[1], length: pos };
}

export function kidFor(epoch, senderTag) {
  return epoch * TWO_32 + senderTag;
}

export function epochOf(kid) {
  return Math.floor(kid / TWO_32);
}

export function senderBaseKey(roomKey, senderTag) {
  return hkdf(new Uint8Array(0), roomKey, concat(utf8.encode('parlor sframe sender'), uintBytes(senderTag, 4)), KEY_LEN);
}

/** {key, salt} (raw bytes) of one KID, per RFC 9605 §4.4.2. */
export async function sframeKeyAndSalt(baseKey, kid) {
  const tail = concat(uintBytes(kid, 8), uintBytes(CIPHER_SUITE, 2));
  const none = new Uint8Array(0);
  const key = await hkdf(none, baseKey, concat(utf8.encode('SFrame 1.0 Secret key '), tail), KEY_LEN);
  const salt = await hkdf(none, baseKey, concat(utf8.encode('SFrame 1.0 Secret salt '), tail), NONCE_LEN);
  return { key, salt };
}

function frameNonce(salt, ctr) {
  const out = uintBytes(ctr, NONCE_LEN);
  for (let i = 0; i < NONCE_LEN; i++) out[i] ^= salt[i];
  return out;
}

/** A 1–2 byte Opus DTX frame the server inserts itself; it is never encrypted. */
export function isDtx(frame) {
  return frame.length > 0 && frame.length <= 2;
}

async function senderState(roomKey, kid) {
  const { key, salt } = await sframeKeyAndSalt(await senderBaseKey(roomKey, kid % TWO_32), kid);
  return { aead: await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']), salt };
}

/** Encrypts one sender's frames under the room key of one epoch. */
export class SFrameSender {
  static async create(roomKey, epoch, senderTag) {
    const tag = senderTag ?? new DataView(randomBytes(4).buffer).getUint32(0);
    const kid = kidFor(epoch, tag);
    return new SFrameSender(epoch, tag, kid, await senderState(roomKey, kid));
  }

  constructor(epoch, senderTag, kid, state) {
    this.epoch = epoch;
    this.senderTag = senderTag;
    this.kid = kid;
    this.state = state;
    this.ctr = 0;
  }

  async encrypt(payload) {
    const ctr = this.ctr++; // taken before any await: a nonce is never used twice
    const header = sframeHeader(this.kid, ctr);
    const sealed = await subtle.encrypt(
      { name: 'AES-GCM', iv: frameNonce(this.state.salt, ctr), additionalData: header }, this.state.aead, payload);
    return concat(header, new Uint8Array(sealed));
  }
}

/** The last REPLAY_WINDOW counters of one KID. */
class Replay {
  constructor() {
    this.highest = -1;
    this.seen = new Set();
  }

  fresh(ctr) {
    return ctr > this.highest - REPLAY_WINDOW && !this.seen.has(ctr);
  }

  mark(ctr) {
    this.seen.add(ctr);
    if (ctr > this.highest) {
      this.highest = ctr;
      const floor = ctr - REPLAY_WINDOW;
      for (const c of this.seen) if (c <= floor) this.seen.delete(c);
    }
  }
}

/** Decrypts every sender's frames with the room keys of the last EPOCHS_KEPT epochs. */
export class SFrameReceiver {
  constructor() {
    this.roomKeys = new Map(); // epoch -> room key
    this.senders = new Map(); // kid -> Promise<{aead, salt, replay}>
  }

  get epochs() {
    return [...this.roomKeys.keys()].sort((a, b) => a - b);
  }

  addKey(epoch, roomKey) {
    if (!(roomKey instanceof Uint8Array) || roomKey.length !== KEY_LEN) {
      throw new E2EEError('bad_key', 'a room key is 16 bytes');
    }
    const replaced = this.roomKeys.has(epoch);
    this.roomKeys.set(epoch, roomKey);
    for (const old of this.epochs.slice(0, -EPOCHS_KEPT)) this.roomKeys.delete(old);
    for (const kid of [...this.senders.keys()]) {
      // gone, or derived from the key this epoch had until now
      if (!this.roomKeys.has(epochOf(kid)) || (replaced && epochOf(kid) === epoch)) this.senders.delete(kid);
    }
  }

  /** The Opus frame, or E2EEError (`no_key`, `bad_frame`, `replayed`). */
  async decrypt(frame) {
    if (isDtx(frame)) return frame;
    const { kid, ctr, length } = parseSframeHeader(frame);
    if (frame.length < length + TAG_LEN) throw new E2EEError('bad_frame', 'too short for its tag');
    let pending = this.senders.get(kid);
    if (!pending) {
      const roomKey = this.roomKeys.get(epochOf(kid));
      if (!roomKey) throw new E2EEError('no_key', `no key for epoch ${epochOf(kid)}`);
      pending = senderState(roomKey, kid).then((s) => ({ ...s, replay: new Replay() }));
      this.senders.set(kid, pending);
    }
    const state = await pending;
    if (!state.replay.fresh(ctr)) throw new E2EEError('replayed', 'counter already seen');
    let plain;
    try {
      plain = await subtle.decrypt(
        { name: 'AES-GCM', iv: frameNonce(state.salt, ctr), additionalData: frame.subarray(0, length) },
        state.aead, frame.subarray(length));
    } catch {
      throw new E2EEError('bad_frame', 'authentication failed');
    }
    if (!state.replay.fresh(ctr)) throw new E2EEError('replayed', 'counter already seen');
    state.replay.mark(ctr);
    return new Uint8Array(plain);
  }
}

// -- chat (§5) ----------------------------------------------------------------------------

export function chatKey(roomKey) {
  return hkdf(new Uint8Array(0), roomKey, utf8.encode('parlor chat v1'), KEY_LEN);
}

export function isEncryptedChat(line) {
  return typeof line === 'string' && line.startsWith(CHAT_PREFIX);
}

export async function encryptChat(roomKey, epoch, roomId, text, nonce) {
  const iv = nonce || randomBytes(NONCE_LEN);
  const key = await subtle.importKey('raw', await chatKey(roomKey), 'AES-GCM', false, ['encrypt']);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8.encode(roomId) }, key, utf8.encode(text));
  return `${CHAT_PREFIX}${epoch}:${b64e(concat(iv, new Uint8Array(sealed)))}`;
}

/** The text of an encrypted chat line; `roomKeys` maps epoch → room key (a Map). */
export async function decryptChat(roomKeys, roomId, line) {
  const m = CHAT_LINE.exec(line);
  if (!m) throw new E2EEError('bad_frame', 'not an encrypted chat line');
  const roomKey = roomKeys.get(Number(m[1]));
  if (!roomKey) throw new E2EEError('no_key', 'no key for that epoch');
  const raw = b64d(m[2]);
  if (raw.length < NONCE_LEN + TAG_LEN) throw new E2EEError('bad_frame', 'too short');
  const key = await subtle.importKey('raw', await chatKey(roomKey), 'AES-GCM', false, ['decrypt']);
  try {
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv: raw.slice(0, NONCE_LEN), additionalData: utf8.encode(roomId) }, key, raw.slice(NONCE_LEN));
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new E2EEError('bad_frame', 'authentication failed');
  }
}
