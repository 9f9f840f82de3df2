// Tiny DOM helpers: h() builds elements, fill() replaces a container's children,
// avatar() draws a person's picture (or initials).
//
// Children everywhere here (h, fill, rerender) skip null/undefined/false and flatten
// arrays: the native append()/replaceChildren() would write "null" as text.

/**
 * h('button', {class: 'x', onclick: fn, 'aria-label': 'Go'}, 'text', child, [more])
 * Attributes whose value is false/null/undefined are left out; true sets an empty attribute.
 * Keys starting with "on" add listeners; "dataset" takes an object; "style" takes an
 * object of properties ({'--avatar-hue': 120}), set through the CSSOM: never a style
 * attribute, which a strict Content-Security-Policy refuses.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value') {
      el.value = value;
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'style') {
      setStyle(el, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Set style properties through the CSSOM (allowed under a strict CSP). A string
 * ("a: b; c: d") is split into properties rather than written as an attribute. */
function setStyle(el, value) {
  const entries = typeof value === 'string'
    ? value.split(';').map((d) => d.split(':')).filter((d) => d.length > 1)
      .map(([k, ...v]) => [k.trim(), v.join(':').trim()])
    : Object.entries(value);
  for (const [prop, v] of entries) {
    if (v !== null && v !== undefined && v !== false) el.style.setProperty(prop, String(v));
  }
}

/** Replace `el`'s children; null/undefined/false are skipped and arrays flattened, as in h(). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Append to `el` the way h() does (never the text "null"). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** `value` as text, or `fallback` when it is null, undefined or empty. */
export function text(value, fallback = '') {
  return value === null || value === undefined || value === '' ? fallback : String(value);
}

/** How a person is called: display name, else @username, else `fallback`. */
export function nameOf(person, fallback = 'Someone') {
  if (!person) return fallback;
  return text(person.display_name, person.username ? `@${person.username}` : fallback);
}

export function initials(name) {
  // Array.from: whole code points, so an emoji name does not split a surrogate pair.
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean).map((w) => Array.from(w));
  if (!words.length) return '?';
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : words[0].slice(0, 2).join('');
  return letters.toUpperCase();
}

export function hue(seed) {
  let n = 0;
  for (const ch of String(seed)) n = (n * 31 + ch.codePointAt(0)) >>> 0;
  return n % 360;
}

const AVATAR_PX = { sm: 32, md: 52, lg: 72, xl: 96 };

function initialsAvatar(person, size, name) {
  const el = h('span', { class: `avatar avatar-${size}`, 'aria-hidden': 'true' }, initials(name));
  el.style.setProperty('--avatar-hue', String(hue(person.user_id || person.id || name)));
  return el;
}

/**
 * A person's rounded avatar: their picture when `person.avatar_url` is set, else their
 * initials on a colour of their own. Decorative (alt="", aria-hidden): the name is
 * always written next to it. `person` is any shape that names someone (a profile, a
 * list entry, a room participant with `user_id`). Sizes: sm, md, lg, xl.
 */
export function avatar(person, size = 'md') {
  const who = person || {};
  const name = who.display_name || who.username || '?';
  if (!who.avatar_url) return initialsAvatar(who, size, name);
  const px = AVATAR_PX[size] || AVATAR_PX.md;
  const img = h('img', {
    class: `avatar avatar-${size} avatar-img`,
    src: who.avatar_url,
    alt: '',
    'aria-hidden': 'true',
    width: px,
    height: px,
    loading: 'lazy',
    decoding: 'async',
  });
  // Removed or unreadable since the list was fetched: fall back to the initials.
  img.addEventListener('error', () => img.replaceWith(initialsAvatar(who, size, name)), { once: true });
  return img;
}

/** A checkbox and its label on one line; long labels wrap beside the box. Returns {field, input}. */
export function checkbox(label, attrs = {}) {
  const id = attrs.id || `c-${Math.random().toString(36).slice(2, 9)}`;
  const input = h('input', { ...attrs, id, type: 'checkbox' });
  const wrap = h('div', { class: 'check' }, input, h('label', { for: id }, label));
  return { field: wrap, input };
}

/** A form field: <label> + <input>, returns {field, input}. */
export function field(label, attrs = {}) {
  const id = attrs.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${Math.random().toString(36).slice(2, 7)}`;
  const input = h('input', { ...attrs, id });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input);
  return { field: wrap, input };
}

/** An alert element (role="alert") that stays out of the accessibility tree while empty. */
export function alertBox() {
  const el = h('p', { class: 'alert', role: 'alert', hidden: true });
  return {
    el,
    show(message) {
      el.textContent = message;
      el.hidden = !message;
    },
    clear() {
      el.textContent = '';
      el.hidden = true;
    },
  };
}

/** Re-render `container` with `nodes`, putting focus back on the control with the same data-key. */
export function rerender(container, nodes) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : null;
  fill(container, nodes);
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}

// Each icon: its shapes as [tag, attributes]. Built with createElementNS, never parsed
// from markup, so no HTML string reaches the DOM (a strict CSP and Trusted Types allow it).
const ICONS = {
  hand: [
    ['path', { d: 'M8 13V5.5a1.5 1.5 0 0 1 3 0V12' }],
    ['path', { d: 'M11 11.5V4a1.5 1.5 0 0 1 3 0v7.5' }],
    ['path', { d: 'M14 11.5V5.5a1.5 1.5 0 0 1 3 0V13' }],
    ['path', { d: 'M17 9.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.6-2.8L3.3 15.4a1.6 1.6 0 0 1 2.4-2.1L8 15.5' }],
  ],
  mic: [
    ['rect', { x: 9, y: 2, width: 6, height: 12, rx: 3 }],
    ['path', { d: 'M5 11a7 7 0 0 0 14 0' }],
    ['path', { d: 'M12 18v3' }],
  ],
  micOff: [
    ['path', { d: 'M15 9.3V5a3 3 0 0 0-5.7-1.3' }],
    ['path', { d: 'M9 9v2a3 3 0 0 0 5.1 2.1' }],
    ['path', { d: 'M19 11a7 7 0 0 1-1.2 3.9' }],
    ['path', { d: 'M5 11a7 7 0 0 0 11.3 5.5' }],
    ['path', { d: 'M12 18v3' }],
    ['path', { d: 'M3 3l18 18' }],
  ],
  signalLow: [
    ['path', { d: 'M4 20v-3' }],
    ['path', { d: 'M9 20v-7' }],
    ['path', { d: 'M14 20V9', opacity: 0.35 }],
    ['path', { d: 'M19 20V4', opacity: 0.35 }],
  ],
  search: [
    ['circle', { cx: 11, cy: 11, r: 7 }],
    ['path', { d: 'M20 20l-3.5-3.5' }],
  ],
  leave: [
    ['path', { d: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3' }],
    ['path', { d: 'M10 17l-5-5 5-5' }],
    ['path', { d: 'M5 12h11' }],
  ],
  lock: [
    ['rect', { x: 4, y: 11, width: 16, height: 10, rx: 2 }],
    ['path', { d: 'M8 11V7a4 4 0 0 1 8 0v4' }],
  ],
  bell: [
    ['path', { d: 'M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9' }],
    ['path', { d: 'M10.3 21a1.94 1.94 0 0 0 3.4 0' }],
  ],
};

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgElement(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/** A decorative stroked SVG icon (hidden from assistive technology), `size` in CSS units. */
export function icon(name, size = '1em') {
  const span = document.createElement('span');
  span.className = `icon icon-${name}`;
  span.setAttribute('aria-hidden', 'true');
  const svg = svgElement('svg', {
    viewBox: '0 0 24 24',
    width: size,
    height: size,
    fill: 'none',
    stroke: 'currentColor',
    'stroke-width': 2,
    'stroke-linecap': 'round',
    'stroke-linejoin': 'round',
  });
  for (const [tag, attrs] of ICONS[name]) svg.append(svgElement(tag, attrs));
  span.append(svg);
  return span;
}
