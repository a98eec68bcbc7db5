// Entries: search by name, hash, signer, status, attribute and time range, paginated by the
// index cursor; every entry of a page is verified against the pinned key in this browser.

import { api, L, pinnedKey } from './api.js';
import { badge, checkList, errorBox, field, fmtTime, h, heading, info, localToUtc, replace, shortHash, utcToLocal } from './ui.js';
import { verifyReceipt } from './verify.js';

export const title = 'Entries';

const FILTERS = ['name', 'sha256', 'signer', 'status', 'attr', 'since', 'until'];
/** Cursors of the pages before this one, per query, for "Previous page". */
const back = new Map();

/** One table row; the name links to the artifact's page. */
function row(r) {
  const e = r.entry || {};
  const subject = e.type === 'artifact'
    ? h('a', { href: `#/artifact/${e.sha256}` }, e.name)
    : h('span', {}, `API key ${e.id} (${e.name}, ${e.role})`);
  const status = e.type === 'artifact' ? e.status : `key ${e.action}`;
  return h('tr', {},
    h('td', { class: 'num' }, String(r.index)),
    h('td', { class: 'nowrap' }, fmtTime(e.time)),
    h('td', {}, subject),
    h('td', {}, e.sha256 ? shortHash(e.sha256) : ''),
    h('td', {}, badge(status)),
    h('td', {}, h('code', {}, e.signer || '')));
}

function form(query, ctx) {
  const input = (name, attrs = {}) => h('input', { name, value: query.get(name) || '', autocomplete: 'off', ...attrs });
  const status = h('select', { name: 'status' },
    ['', 'trusted', 'untrusted', 'unsupported'].map((s) => h('option', { value: s, selected: (query.get('status') || '') === s }, s || 'any status')));
  const limit = h('select', { name: 'limit' },
    ['10', '25', '50', '100'].map((n) => h('option', { value: n, selected: (query.get('limit') || '25') === n }, n)));
  const since = h('input', { type: 'datetime-local', name: 'since', step: '1', value: query.get('since') ? utcToLocal(query.get('since')) : '' });
  const until = h('input', { type: 'datetime-local', name: 'until', step: '1', value: query.get('until') ? utcToLocal(query.get('until')) : '' });
  const f = h('form', { class: 'card search', role: 'search', 'aria-label': 'Search entries' },
    h('div', { class: 'grid' },
      field('Name', input('name', { placeholder: 'app.tar.gz' })),
      field('SHA-256', input('sha256', { placeholder: '64 hex characters', pattern: '[0-9a-fA-F]{64}', spellcheck: 'false' })),
      field('Signer (key id)', input('signer', { placeholder: 'k_…' })),
      field('Status', status),
      field('Attribute', input('attr', { placeholder: 'key:value' })),
      field('Since (your local time)', since),
      field('Until (your local time)', until),
      field('Page size', limit)),
    h('p', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, 'Search'),
      h('a', { href: '#/entries', class: 'btn ghost' }, 'Clear')));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    const data = new FormData(f);
    for (const k of [...FILTERS, 'limit']) {
      let v = String(data.get(k) || '').trim();
      if (k === 'since' || k === 'until') v = localToUtc(v) || '';
      if (k === 'sha256') v = v.toLowerCase();
      if (v) q.set(k, v);
    }
    ctx.go(`#/entries?${q}`);
  });
  return f;
}

export async function render(el, ctx) {
  const q = ctx.query;
  const params = new URLSearchParams();
  for (const k of [...FILTERS, 'after']) if (q.get(k)) params.set(k, q.get(k));
  params.set('limit', q.get('limit') || '25');
  const results = h('section', { 'aria-labelledby': 'results-title' });
  replace(el, heading('Entries', `Search ledger ${ctx.ledger}. Oldest first; every page is verified in this browser against the pinned key.`), form(q, ctx), results);

  let page;
  try {
    page = await api(`${L(ctx.ledger)}/entries?${params}`);
  } catch (e) {
    replace(results, errorBox(e, 'Search failed'));
    return;
  }
  if (ctx.stale()) return;
  const filterKey = FILTERS.map((k) => q.get(k) || '').join('|');
  const after = q.get('after');
  const stack = back.get(filterKey) || [];
  const pageNo = after ? stack.length + 1 : 1;
  const verdict = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Verifying the proofs of this page…'));
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages of results' });
  if (after) {
    const prev = h('button', { type: 'button', class: 'btn' }, 'Previous page');
    prev.addEventListener('click', () => {
      const s = back.get(filterKey) || [];
      const cursor = s.pop();
      back.set(filterKey, s);
      const p = new URLSearchParams(q);
      if (cursor) p.set('after', cursor);
      else p.delete('after');
      ctx.go(`#/entries?${p}`);
    });
    nav.append(prev);
  }
  nav.append(h('span', { class: 'muted' }, `Page ${pageNo}`));
  if (page.next !== undefined && page.next !== null) {
    const next = h('button', { type: 'button', class: 'btn' }, 'Next page');
    next.addEventListener('click', () => {
      const s = back.get(filterKey) || [];
      s.push(after || '');
      back.set(filterKey, s);
      const p = new URLSearchParams(q);
      p.set('after', String(page.next));
      ctx.go(`#/entries?${p}`);
    });
    nav.append(next);
  }
  if (!after) back.set(filterKey, []);
  const table = page.entries.length
    ? h('table', { class: 'data' },
      h('caption', { class: 'visually-hidden' }, 'Matching entries'),
      h('thead', {}, h('tr', {}, ['Index', 'Time', 'Subject', 'SHA-256', 'Status', 'Signer'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, page.entries.map(row)))
    : info('No entry matches.');
  const first = page.entries[0]?.index;
  const last = page.entries[page.entries.length - 1]?.index;
  replace(results,
    h('h2', { id: 'results-title' }, page.entries.length
      ? `Entries ${first} to ${last} (${page.entries.length} on this page)`
      : 'No results'),
    verdict, table, nav);

  // Verify every receipt of the page against the pinned key, while the page is usable.
  verifyPage(page, verdict, ctx);
}

async function verifyPage(page, verdict, ctx) {
  const pinned = pinnedKey(ctx.ledger);
  const outcomes = await Promise.all(page.entries.map((r) => verifyReceipt(r, pinned)));
  if (ctx.stale()) return;
  const failed = outcomes.filter((o) => !o.ok);
  if (!page.entries.length) {
    replace(verdict);
  } else if (!failed.length) {
    replace(verdict, info(`All ${page.entries.length} entries on this page verified: inclusion proofs lead to the checkpoint of size ${outcomes[0].checkpoint.size}, signed by the pinned key.`, 'success'));
  } else {
    const i = outcomes.indexOf(failed[0]);
    replace(verdict, h('div', { class: 'alert error', role: 'alert' },
      h('strong', {}, `${failed.length} of ${page.entries.length} entries on this page did not verify. `),
      `First: entry ${page.entries[i].index}.`,
      checkList(failed[0].checks.filter((c) => !c.ok))));
  }
}
