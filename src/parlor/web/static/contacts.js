// Private contact matching in the browser (docs/API.md, "Contact matching"): read a
// contact list, normalise (E.164 phones, lower-cased e-mails), hash with the instance's
// contact key (HMAC-SHA256 via WebCrypto), send only short hash prefixes, match locally.
// The same rules as src/parlor/client/contacts.py; both are checked against
// tests/data/contact_vectors.json, so change them together. No DOM here (node runs it).

export const E164_MIN_DIGITS = 7;
export const E164_MAX_DIGITS = 15;
export const EMAIL_MAX = 254;
export const MAX_PREFIXES_PER_REQUEST = 1000;

const PHONE_NOISE = /[\s.\-()/]/g;
const PHONE_LIKE = /^[+\d\s.\-()/]+$/;
const COUNTRY = /^\+?([1-9]\d{0,2})$/;
// "+44 (0)20 …": the bracketed trunk zero written after a country code is not dialled.
const TRUNK_IN_BRACKETS = /\(\s*0\s*\)/g;

export function normalizeCountry(code) {
  if (code === null || code === undefined) return null;
  const m = String(code).trim().match(COUNTRY);
  return m ? m[1] : null;
}

/** E.164 ("+" and 7–15 digits), or null when `raw` cannot be one. */
export function normalizePhone(raw, defaultCountry = null) {
  let text = String(raw).normalize('NFKC').trim();
  if (text.toLowerCase().startsWith('tel:')) text = text.slice(4);
  if (!text || !PHONE_LIKE.test(text)) return null;
  if (text.startsWith('+') || text.startsWith('00')) text = text.replace(TRUNK_IN_BRACKETS, '');
  let digits = text.replace(PHONE_NOISE, '');
  if (digits.startsWith('+')) {
    digits = digits.slice(1);
  } else if (digits.startsWith('00')) {
    digits = digits.slice(2);
  } else {
    const country = normalizeCountry(defaultCountry);
    if (country === null) return null;
    if (digits.startsWith('0')) digits = digits.slice(1);
    digits = country + digits;
  }
  if (!/^[0-9]+$/.test(digits) || digits.startsWith('0')) return null;
  if (digits.length < E164_MIN_DIGITS || digits.length > E164_MAX_DIGITS) return null;
  return '+' + digits;
}

/** Trimmed, NFC, lower-cased; null unless it looks like local@domain.tld. Gmail dots are not folded. */
export function normalizeEmail(raw) {
  let text = String(raw).normalize('NFC').trim();
  if (text.toLowerCase().startsWith('mailto:')) text = text.slice(7);
  text = text.toLowerCase();
  const at = text.indexOf('@');
  if (at < 0) return null;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!local || domain.includes('@') || text.length > EMAIL_MAX) return null;
  if (/\s/.test(text)) return null;
  if (!domain.includes('.') || domain.startsWith('.') || domain.endsWith('.')) return null;
  return text;
}

/** [kind, value] for one identifier ("email" when it has an "@", else "phone"), or null. */
export function normalize(raw, defaultCountry = null) {
  if (String(raw).includes('@')) {
    const email = normalizeEmail(raw);
    return email ? ['email', email] : null;
  }
  const phone = normalizePhone(raw, defaultCountry);
  return phone ? ['phone', phone] : null;
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A WebCrypto HMAC key from the instance's contact key (hex). */
export function importKey(keyHex) {
  return crypto.subtle.importKey('raw', hexToBytes(keyHex), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** HMAC-SHA256(key, "kind:value") as lower-case hex. `key` from importKey(). */
export async function keyedHash(key, kind, value) {
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${kind}:${value}`));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The first `bits` bits (0–32) of a hex hash, as a number. */
export function prefixOf(hashHex, bits) {
  if (bits < 0 || bits > 32) throw new RangeError('bits must be 0 to 32');
  if (bits === 0) return 0;
  return Math.floor(parseInt(hashHex.slice(0, 8), 16) / 2 ** (32 - bits));
}

// --- reading contact lists ----------------------------------------------------

/** The TEL and EMAIL values of a vCard file (any version; folded lines unfolded). */
export function parseVcard(text) {
  const unfolded = String(text).replace(/\r?\n[ \t]/g, '');
  const found = [];
  for (const line of unfolded.split(/\r?\n|\r/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    const prop = name.split(';', 1)[0].split('.').pop().trim().toUpperCase();
    if ((prop === 'TEL' || prop === 'EMAIL') && value) found.push(value);
  }
  return found;
}

function looksLikeContact(cell) {
  const text = cell.trim();
  if (text.includes('@')) return true;
  return PHONE_LIKE.test(text) && (text.match(/[0-9]/g) || []).length >= E164_MIN_DIGITS - 1;
}

/** Split CSV text into rows of cells (RFC 4180 quoting). */
export function csvRows(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  const s = String(text);
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      row.push(cell); cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      row.push(cell); rows.push(row); row = []; cell = '';
    } else {
      cell += ch;
    }
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** Every cell of a CSV file that looks like a phone number or an e-mail address. */
export function parseCsv(text) {
  return csvRows(text).flat().filter(looksLikeContact).map((c) => c.trim());
}

/** A pasted list: one identifier per line, or separated by commas or semicolons. */
export function parseList(text) {
  return String(text).split(/[\n\r,;]+/).map((p) => p.trim()).filter(Boolean);
}

/** Raw identifiers from a vCard file, a CSV file (by name) or pasted text. */
export function parseContacts(text, filename = '') {
  if (/^BEGIN:VCARD/im.test(text)) return parseVcard(text);
  if (filename.toLowerCase().endsWith('.csv')) return parseCsv(text);
  return parseList(text);
}

// --- matching -----------------------------------------------------------------

/** Normalise and hash: {contacts: [{raw, kind, value, hash}], skipped: [raw]}. */
export async function prepare(entries, keyHex, defaultCountry) {
  const key = await importKey(keyHex);
  const contacts = [];
  const skipped = [];
  const seen = new Set();
  for (const raw of entries) {
    const found = normalize(raw, defaultCountry);
    if (!found) { skipped.push(raw); continue; }
    const [kind, value] = found;
    const hash = await keyedHash(key, kind, value);
    if (seen.has(hash)) continue;
    seen.add(hash);
    contacts.push({ raw, kind, value, hash });
  }
  return { contacts, skipped };
}

/** Keep the candidates whose full keyed hash is one of ours: {members, waitlisted}. */
export function matchLocally(contacts, buckets) {
  const byHash = new Map();
  for (const c of contacts) {
    if (!byHash.has(c.hash)) byHash.set(c.hash, []);
    byHash.get(c.hash).push(c);
  }
  const members = new Map();
  const waitlisted = new Map();
  for (const bucket of buckets) {
    for (const candidate of bucket.candidates) {
      const mine = byHash.get(candidate.hash);
      if (!mine) continue;
      const person = candidate.member || candidate.waitlisted;
      const into = candidate.member ? members : waitlisted;
      if (!into.has(person.id)) into.set(person.id, { ...person, contacts: [] });
      const entry = into.get(person.id);
      for (const c of mine) if (!entry.contacts.includes(c.raw)) entry.contacts.push(c.raw);
    }
  }
  return { members: [...members.values()], waitlisted: [...waitlisted.values()] };
}

/**
 * Which of `entries` are findable here. `call(method, path, body)` is the REST call
 * (api.js's `api`). Sends only hash prefixes; starts again once if the prefix length changed.
 */
export async function findContacts(call, entries, defaultCountry) {
  for (let attempt = 0; ; attempt++) {
    const { key, prefix_bits: bits } = await call('GET', '/contacts/params');
    const { contacts, skipped } = await prepare(entries, key, defaultCountry);
    const prefixes = [...new Set(contacts.map((c) => prefixOf(c.hash, bits)))].sort((a, b) => a - b);
    const buckets = [];
    try {
      for (let i = 0; i < prefixes.length; i += MAX_PREFIXES_PER_REQUEST) {
        const chunk = prefixes.slice(i, i + MAX_PREFIXES_PER_REQUEST);
        const answer = await call('POST', '/contacts/match', { prefix_bits: bits, prefixes: chunk });
        buckets.push(...answer.buckets);
      }
    } catch (err) {
      if (attempt === 0 && err.code === 'contact_params_changed') continue;
      throw err;
    }
    return { ...matchLocally(contacts, buckets), skipped, count: contacts.length };
  }
}
