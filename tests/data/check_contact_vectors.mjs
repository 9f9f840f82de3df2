// Checks web/static/contacts.js against tests/data/contact_vectors.json under node.
// Usage: node check_contact_vectors.mjs <contacts.js URL or path> <vectors.json>
// Prints a JSON list of mismatches ([] when all agree); tests/test_contacts.py runs it.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [modulePath, vectorsPath] = process.argv.slice(2);
const c = await import(pathToFileURL(modulePath).href);
const v = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const problems = [];
for (const p of v.phones) {
  const got = c.normalizePhone(p.raw, p.country);
  if (got !== p.e164) problems.push({ phone: p, got });
}
for (const e of v.emails) {
  const got = c.normalizeEmail(e.raw);
  if (got !== e.normalized) problems.push({ email: e, got });
}
for (const k of v.kinds) {
  const got = c.normalize(k.raw, k.country);
  if (!same(got, k.expected)) problems.push({ kind: k, got });
}
const key = await c.importKey(v.key);
for (const h of v.hashes) {
  const got = await c.keyedHash(key, h.kind, h.value);
  if (got !== h.hash) problems.push({ hash: h, got });
}
for (const p of v.prefixes) {
  const got = c.prefixOf(p.hash, p.bits);
  if (got !== p.prefix) problems.push({ prefix: p, got });
}
for (const p of v.parse) {
  const got = c.parseContacts(p.text, p.filename);
  if (!same(got, p.entries)) problems.push({ parse: p.filename, got });
}
console.log(JSON.stringify(problems));
