// /privacy: what the server can and cannot see in each kind of room. The text is
// docs/PRIVACY.md (a copy in static/privacy.md, kept identical by a test), drawn from
// a small subset of Markdown: headings, paragraphs, "- " lists, **bold**, `code`, links.
import { h } from '../dom.js';

export async function privacyView({ outlet, signal }) {
  document.title = 'Privacy · Parlor';
  const response = await fetch('/static/privacy.md', { signal });
  if (!response.ok) throw new Error('The privacy page could not be loaded.');
  const text = await response.text();
  if (signal.aborted) return;
  outlet.replaceChildren(h('article', { class: 'card narrow privacy' }, blocks(text)));
}

function blocks(text) {
  const out = [];
  let para = null;
  let list = null;
  const flush = () => {
    if (para) out.push(h('p', {}, inline(para.join(' '))));
    para = null;
  };
  const endList = () => {
    if (list) out.push(h('ul', {}, list.map((item) => h('li', {}, inline(item.join(' '))))));
    list = null;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const heading = /^(#{1,3}) (.*)$/.exec(line);
    if (!line) {
      flush();
      continue;
    }
    if (heading) {
      flush();
      endList();
      out.push(h(`h${heading[1].length}`, {}, inline(heading[2])));
    } else if (line.startsWith('- ')) {
      flush();
      list = list || [];
      list.push([line.slice(2)]);
    } else if (list && /^\s/.test(raw) && !para) {
      list[list.length - 1].push(line.trim());
    } else {
      endList();
      para = para || [];
      para.push(line.trim());
    }
  }
  flush();
  endList();
  return out;
}

/** **bold**, `code` and [text](url) (a link to another .md file: its text only). */
function inline(text) {
  const parts = [];
  const re = /\*\*([^*]+)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)]+)\)/g;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > at) parts.push(text.slice(at, m.index));
    if (m[1] !== undefined) parts.push(h('strong', {}, m[1]));
    else if (m[2] !== undefined) parts.push(h('code', {}, m[2]));
    else if (/\.md$/.test(m[4]) || !/^(\/|https:)/.test(m[4])) parts.push(m[3]);
    else parts.push(h('a', { href: m[4] }, m[3]));
    at = re.lastIndex;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}
