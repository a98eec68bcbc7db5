// Audit reports: for the current ledger and a time range, every entry, the status changes and
// revocations, the signed checkpoints at both ends and the consistency proof between them.
// The report is verified in this browser, shown printable, and downloadable as JSON (which
// `notarium verify-report` checks offline) and as a self-contained HTML page.

import { api, L, pinnedKey } from './api.js';
import { badge, checkList, errorBox, field, fmtTime, h, heading, info, localToUtc, replace, utcToLocal, download } from './ui.js';
import { verifyReport } from './verify.js';

export const title = 'Audit reports';

function entryTable(entries, caption) {
  return h('table', { class: 'data' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ['Index', 'Time', 'Subject', 'SHA-256', 'Status', 'Signer'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, entries.map((r) => {
      const e = r.entry;
      const subject = e.type === 'key' ? `API key ${e.id} (${e.name}, ${e.role})` : e.name;
      const status = e.type === 'key' ? `key ${e.action}` : e.status;
      return h('tr', {},
        h('td', { class: 'num' }, String(r.index)), h('td', { class: 'nowrap' }, fmtTime(e.time)),
        h('td', {}, subject), h('td', {}, h('code', { class: 'hash-full' }, e.sha256 || '')),
        h('td', {}, badge(status)), h('td', {}, h('code', {}, e.signer)));
    })));
}

function reportView(rep, text, verdict, query, ledger) {
  const s = rep.summary;
  const revocations = rep.entries.filter((r) => r.entry.type === 'key' && r.entry.action === 'revoked');
  const changes = rep.entries.filter((r) => r.entry.type === 'artifact' && r.entry.status !== 'trusted');
  const stem = `notarium-report-${rep.ledger}-${rep.range.first_index}-${rep.range.end_index}`;
  const dlJson = h('button', { type: 'button', class: 'btn primary' }, 'Download JSON');
  dlJson.addEventListener('click', () => download(`${stem}.json`, 'application/json', text));
  const dlHtml = h('button', { type: 'button', class: 'btn' }, 'Download printable HTML');
  const htmlOut = h('span', { 'aria-live': 'polite' });
  dlHtml.addEventListener('click', async () => {
    try {
      const qs = new URLSearchParams(query);
      qs.set('format', 'html');
      const html = await api(`${L(ledger)}/report?${qs}`, { as: 'text' });
      download(`${stem}.html`, 'text/html', html);
    } catch (e) {
      replace(htmlOut, errorBox(e, 'Could not download the HTML report'));
    }
  });
  const print = h('button', { type: 'button', class: 'btn' }, 'Print');
  print.addEventListener('click', () => window.print());
  const range = `${rep.range.since ? fmtTime(rep.range.since) : 'the first entry'} to ${rep.range.until ? fmtTime(rep.range.until) : 'the latest checkpoint'}`;
  return h('article', { class: 'report', 'aria-labelledby': 'report-title' },
    h('h2', { id: 'report-title' }, `Audit report of ledger ${rep.ledger}: entries ${rep.range.first_index} to ${rep.range.end_index - 1 < rep.range.first_index ? '(none)' : rep.range.end_index - 1}`),
    h('p', { class: 'muted' }, `Entries sequenced from ${range}. Generated ${fmtTime(rep.generated_at)}. At most ${rep.max_entries.toLocaleString('en')} entries per report: narrow the range for more.`),
    h('p', { class: 'actions no-print' }, dlJson, ' ', dlHtml, ' ', print, ' ', htmlOut),
    h('div', { class: `alert ${verdict.ok ? 'success' : 'error'}`, role: verdict.ok ? 'status' : 'alert', 'data-testid': 'report-verdict' },
      h('strong', {}, verdict.ok ? 'Report verified in this browser against the pinned key.' : 'The report did NOT verify.'),
      checkList(verdict.checks, 'Report checks')),
    h('ul', { class: 'counts', 'aria-label': 'Summary' },
      [['entries', s.entries], ['notarizations', s.notarizations], ['status changes', s.status_changes], ['keys created', s.keys_created], ['revocations', s.revocations]]
        .map(([k, v]) => h('li', {}, h('b', {}, String(v)), k))),
    h('h3', {}, 'Signed checkpoints'),
    h('div', { class: 'two' },
      h('div', {}, h('p', {}, `At the start (tree size ${rep.range.first_index})`), h('pre', { class: 'note' }, rep.from)),
      h('div', {}, h('p', {}, `At the end (tree size ${rep.range.end_index})`), h('pre', { class: 'note' }, rep.to))),
    h('h3', {}, `Consistency proof from ${rep.range.first_index} to ${rep.range.end_index}`),
    h('pre', { class: 'note' }, rep.consistency_proof.length ? rep.consistency_proof.join('\n') : '(empty: an empty start or the same tree)'),
    h('h3', {}, 'Revocations'),
    revocations.length ? entryTable(revocations, 'API keys revoked in the range') : h('p', {}, 'No API key was revoked in this range.'),
    h('h3', {}, 'Status changes'),
    changes.length ? entryTable(changes, 'Artifacts recorded as untrusted or unsupported') : h('p', {}, 'No artifact was recorded as untrusted or unsupported in this range.'),
    h('h3', {}, `Every entry (${rep.entries.length})`),
    rep.entries.length ? entryTable(rep.entries, 'Every entry of the range, each proven in the end checkpoint') : h('p', {}, 'No entry was sequenced in this range.'));
}

export async function render(el, ctx) {
  const q = ctx.query;
  const since = h('input', { type: 'datetime-local', name: 'since', step: '1', value: q.get('since') ? utcToLocal(q.get('since')) : '' });
  const until = h('input', { type: 'datetime-local', name: 'until', step: '1', value: q.get('until') ? utcToLocal(q.get('until')) : '' });
  const f = h('form', { class: 'card no-print', 'aria-label': 'Report range' },
    h('div', { class: 'grid' },
      field('Since (your local time)', since, 'Empty: from the first entry.'),
      field('Until (your local time)', until, 'Empty: up to the latest checkpoint.')),
    h('button', { type: 'submit', class: 'btn primary' }, 'Build report'));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams({ run: '1' });
    const s = localToUtc(since.value);
    const u = localToUtc(until.value);
    if (s) p.set('since', s);
    if (u) p.set('until', u);
    ctx.go(`#/reports?${p}`);
  });
  const out = h('div', { 'aria-live': 'polite' });
  replace(el, heading('Audit reports', `Ledger ${ctx.ledger}: every entry of a time range with the proofs that nothing was left out or rewritten.`), f, out);
  if (!q.get('run')) return;
  const p = new URLSearchParams();
  if (q.get('since')) p.set('since', q.get('since'));
  if (q.get('until')) p.set('until', q.get('until'));
  replace(out, h('p', { class: 'muted' }, 'Building and verifying the report…'));
  let text;
  try {
    text = await api(`${L(ctx.ledger)}/report?${p}`, { as: 'text' });
  } catch (e) {
    replace(out, errorBox(e, 'Could not build the report'));
    return;
  }
  const rep = JSON.parse(text);
  const verdict = await verifyReport(rep, pinnedKey(ctx.ledger));
  if (ctx.stale()) return;
  replace(out, reportView(rep, text, verdict, p.toString(), ctx.ledger));
  if (!pinnedKey(ctx.ledger)) out.prepend(info('Pin the ledger\'s verifier key on the Overview to verify reports in this browser.', 'warn'));
}
