// The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, headless) driven by
// playwright-core, against a real notariumd prepared by tests/tests/dashboard.rs with the real
// notarium CLI. Run by that Rust test with the environment below; screenshots of every page go
// to NOTARIUM_SCREENSHOTS, the downloaded audit report to NOTARIUM_DOWNLOADS (the Rust test
// then verifies it with `notarium verify-report`). NOTARIUM_URL is the server's, or nginx's
// under a path prefix: every request must stay under it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  assert.ok(v, `${name} must be set (run through tests/tests/dashboard.rs)`);
  return v;
};
const URL_ = env('NOTARIUM_URL');
const ADMIN = env('NOTARIUM_ADMIN_TOKEN');
const KEY = env('NOTARIUM_WRITE_KEY');
const VKEY = env('NOTARIUM_VERIFIER_KEY');
const TRUSTED = env('NOTARIUM_FILE_TRUSTED');
const UNTRUSTED = env('NOTARIUM_FILE_UNTRUSTED');
const UNKNOWN = env('NOTARIUM_FILE_UNKNOWN');
const REVOKED = env('NOTARIUM_FILE_REVOKED');
// The trusted file's answer before later entries changed the index root.
const EARLIER = JSON.parse(readFileSync(env('NOTARIUM_EARLIER_ANSWER'), 'utf8'));
// The trusted file's answer with its checkpoint re-signed by the ledger's key without the
// notarium-index/v1 line.
const UNINDEXED = JSON.parse(readFileSync(env('NOTARIUM_UNINDEXED_ANSWER'), 'utf8'));
const BY_CI = env('NOTARIUM_FILE_CI');
const BY_CI_SHA256 = env('NOTARIUM_FILE_CI_SHA256');
const CI_ISSUER = env('NOTARIUM_CI_ISSUER');
const SIZE = Number(env('NOTARIUM_EXPECTED_SIZE'));
const SINCE = env('NOTARIUM_REPORT_SINCE');
const SHOTS = env('NOTARIUM_SCREENSHOTS');
const DOWNLOADS = env('NOTARIUM_DOWNLOADS');
const CHROMIUM = process.env.NOTARIUM_CHROMIUM || '/usr/bin/chromium';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  + "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

let browser;
let context;
let page;
let profile;
const foreign = [];
const problems = [];

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Names of interactive elements in the accessibility tree of `locator` that have no name. */
async function unnamed(locator) {
  const tree = await locator.ariaSnapshot();
  return tree.split('\n').filter((l) => /^\s*- (textbox|combobox|button|checkbox|link|searchbox)\s*(\[[^\]]*\])?\s*:?\s*$/.test(l));
}

async function heading(text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function verdictOf(fileName) {
  const card = page.getByRole('region', { name: `Result for ${fileName}` }).first();
  const verdict = card.getByTestId('verdict');
  await verdict.waitFor();
  return card;
}

/** Drops a file of this machine on the drop zone, as a user dragging it from a file manager. */
async function dropFile(path) {
  const data = [...readFileSync(path)];
  const dt = await page.evaluateHandle(({ name, bytes }) => {
    const t = new DataTransfer();
    t.items.add(new File([new Uint8Array(bytes)], name));
    return t;
  }, { name: basename(path), bytes: data });
  await page.dispatchEvent('#dropzone', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
}

const ANSWERS = '**/api/v1/ledgers/*/artifacts/*';
const HISTORIES = '**/api/v1/ledgers/*/artifacts/*/history*';

const shaOf = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** GET /api/v1/ledgers/default{path} with the write key, straight from Node. */
async function apiGet(path) {
  const r = await fetch(`${URL_}/api/v1/ledgers/default${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(r.status, 200, path);
  return r.json();
}

/** Every string equal to `from` in `v` replaced by `to` (a checkpoint wherever it is carried). */
function swap(v, from, to) {
  if (v === from) return to;
  if (Array.isArray(v)) return v.map((x) => swap(x, from, to));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x, from, to)]));
  return v;
}

/**
 * Drops `file` on the verify page while the server's answer about it is rewritten in flight
 * by `lie` (the genuine answer in, the lie out); returns the result card.
 */
async function dropWithLie(file, lie) {
  await page.route(ANSWERS, async (route) => {
    const resp = await route.fetch();
    await route.fulfill({ response: resp, json: await lie(await resp.json()) });
  });
  try {
    await dropFile(file);
    return await verdictOf(basename(file));
  } finally {
    await page.unroute(ANSWERS);
  }
}

/** The card shows a failed verification whose first failed check matches `check`. */
async function assertRefused(card, check) {
  assert.equal(await card.getByTestId('verdict').textContent(), 'failed VERIFICATION FAILED');
  const named = await card.getByTestId('failed-check').textContent();
  assert.match(named, check);
  assert.match(await card.locator('li.fail').first().textContent(), check, 'the first failed check in the list');
  for (const status of ['trusted', 'untrusted', 'unsupported', 'revoked', 'unknown']) {
    assert.equal(await card.locator('.badge', { hasText: new RegExp(`^${status}$`) }).count(), 0, `no ${status} badge`);
  }
}

async function whoamiStatus(token) {
  const r = await fetch(`${URL_}/api/v1/whoami`, { headers: { Authorization: `Bearer ${token}` } });
  return r.status;
}

describe('dashboard', { concurrency: false }, () => {
  before(async () => {
    profile = mkdtempSync(join(tmpdir(), 'notarium-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      acceptDownloads: true,
      timezoneId: 'UTC',
      locale: 'en-US',
      viewport: { width: 1280, height: 900 },
    });
    browser = context.browser();
    // NOTARIUM_URL may carry a path prefix (a reverse proxy's): permissions are per origin.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(URL_).origin });
    context.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith(`${URL_}/`) && !/^(data|blob|file):/.test(u)) foreign.push(u);
    });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('serves the page with a strict policy and a labelled sign-in form', async () => {
    const resp = await page.goto(`${URL_}/`);
    assert.equal(resp.status(), 200);
    const h = resp.headers();
    assert.equal(h['content-security-policy'], CSP);
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.equal(h['referrer-policy'], 'no-referrer');
    await heading('Sign in to Notarium');
    const tree = await page.getByRole('main').ariaSnapshot();
    for (const want of ['heading "Sign in to Notarium"', 'textbox "API key or admin token"',
      'textbox "Verifier key to pin (optional)"', 'button "Sign in"']) {
      assert.ok(tree.includes(want), `the accessibility tree lacks ${want}:\n${tree}`);
    }
    assert.deepEqual(await unnamed(page.locator('body')), []);
    // The key field has focus on load.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'key');
  });

  it('rejects a wrong key, then signs in with the keyboard alone', async () => {
    await page.keyboard.type('nk_not-a-key');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    await shot('01-sign-in-failed');
    await page.getByLabel('API key or admin token').fill('');
    await page.keyboard.type(KEY);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'vkey');
    await page.keyboard.type(VKEY);
    await page.keyboard.press('Enter');
    await heading('Overview');
    // The key is in this tab's session storage only: no cookie, no URL, no local storage.
    const where = await page.evaluate(() => ({
      session: sessionStorage.getItem('notarium.session') || '',
      local: JSON.stringify(localStorage),
      cookie: document.cookie,
      url: location.href,
    }));
    assert.ok(where.session.includes(KEY));
    assert.ok(!where.local.includes(KEY) && !where.url.includes(KEY) && where.cookie === '');
    assert.ok(where.local.includes(VKEY), 'the verifier key is pinned');
  });

  it('shows the overview: size, checkpoint and its age, rate, verifier key to copy', async () => {
    const card = page.getByRole('region', { name: 'default' });
    await card.waitFor();
    assert.equal(await card.getByTestId('size').textContent(), SIZE.toLocaleString('en'));
    assert.equal(await card.getByTestId('verifier-key').textContent(), VKEY);
    await card.getByText('signature verified with the pinned key').waitFor();
    await card.getByTestId('index-root').getByText('committed to by the checkpoint').waitFor();
    await card.getByText(/signed .* \(\d+ (s|min) ago\)/).waitFor();
    const rate = Number(await card.getByTestId('rate').textContent());
    assert.ok(rate > 0, `notarizations per minute: ${rate}`);
    await card.getByText(`${SIZE} in the last 5 min`).waitFor();
    await card.getByRole('button', { name: 'Copy verifier key of ledger default' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), VKEY);
    await card.getByText('pinned', { exact: true }).waitFor();
    assert.deepEqual(await unnamed(page.locator('body')), []);
    const tree = await page.locator('body').ariaSnapshot();
    assert.match(tree, /navigation "Main"/);
    for (const link of ['Overview', 'Entries', 'Verify a file', 'Audit reports']) {
      assert.ok(tree.includes(`link "${link}"`), `nav link ${link}:\n${tree}`);
    }
    await shot('02-overview');
  });

  it('reaches the main controls with Tab and activates them with Enter', async () => {
    // From the top of the page, as after a page load.
    await page.evaluate(() => document.activeElement?.blur());
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.textContent === 'Entries'
        && document.activeElement.tagName === 'A');
    }
    assert.ok(found, 'Tab reaches the Entries link');
    await page.keyboard.press('Enter');
    await heading('Entries');
    assert.equal(new URL(page.url()).hash, '#/entries');
    // The new page's title takes focus, so that a screen reader announces it.
    await page.waitForFunction(() => document.activeElement?.id === 'page-title');
    assert.equal(await page.getByRole('link', { name: 'Entries' }).getAttribute('aria-current'), 'page');
  });

  it('searches and pages through entries, each page verified in the browser', async () => {
    await page.getByText(/All \d+ entries on this page verified/).waitFor();
    // Page size 10 of the whole ledger: previous and next pages.
    await page.getByLabel('Page size').selectOption('10');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: 'Entries 0 to 9 (10 on this page)' }).waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('heading', { name: /^Entries 10 to/ }).waitFor();
    await page.getByText('Page 2').waitFor();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('heading', { name: 'Entries 0 to 9 (10 on this page)' }).waitFor();

    // By name, typed and submitted from the keyboard.
    await page.getByLabel('Name').fill(basename(TRUSTED));
    await page.getByLabel('Name').press('Enter');
    await page.getByRole('heading', { name: /\(1 on this page\)/ }).waitFor();
    await page.getByRole('link', { name: basename(TRUSTED) }).waitFor();
    await page.getByText('All 1 entries on this page verified').waitFor();

    // By status, then by attribute and time range.
    await page.goto(`${URL_}/#/entries?status=untrusted`);
    await page.getByRole('heading', { name: /\(1 on this page\)/ }).waitFor();
    await page.getByRole('table').getByText('untrusted', { exact: true }).waitFor();
    await page.goto(`${URL_}/#/entries?attr=build:42&since=${encodeURIComponent(SINCE)}`);
    await page.getByRole('heading', { name: /\(12 on this page\)/ }).waitFor();
    await page.goto(`${URL_}/#/entries?until=${encodeURIComponent(SINCE)}`);
    await page.getByRole('heading', { name: 'No results' }).waitFor();

    // By hash.
    await page.goto(`${URL_}/#/entries`);
    await heading('Entries');
    const sha = await page.evaluate(async (b) => {
      const d = await crypto.subtle.digest('SHA-256', new Uint8Array(b));
      return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
    }, [...readFileSync(UNTRUSTED)]);
    await page.getByLabel('SHA-256').fill(sha);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: /\(2 on this page\)/ }).waitFor();
    assert.deepEqual(await unnamed(page.locator('body')), []);
    await shot('03-entries');
  });

  it('opens an artifact with its full history and status timeline', async () => {
    await page.getByRole('link', { name: basename(UNTRUSTED) }).first().click();
    await heading(basename(UNTRUSTED));
    const timeline = page.getByRole('list', { name: 'Status timeline, oldest first' });
    const events = timeline.getByRole('listitem').filter({ has: page.locator('.event-head') });
    assert.equal(await events.count(), 2);
    await events.nth(0).getByText('Notarized as trusted').waitFor();
    await events.nth(1).getByText('Status changed to untrusted').waitFor();
    const status = page.getByRole('region', { name: 'Current status' });
    await status.getByText('untrusted', { exact: true }).waitFor();
    assert.equal(await status.getByTestId('current-status').textContent(), 'Current status: untrusted');
    await status.getByText('Status proven in this browser').click();
    const proven = status.getByRole('list', { name: 'Checks of the current status' });
    await proven.getByText(/^Entry \d+ is the latest entry about this file: no later entry exists$/).waitFor();
    assert.equal(await proven.locator('li.fail').count(), 0);
    await status.getByText('The status index proves that these are all 2 entries about this file').waitFor();
    await page.getByText("Every entry's proof verified in this browser against the pinned key.").waitFor();
    await shot('04-artifact');
  });

  it('shows who built an artifact: the verified identity apart from the asserted CI context', async () => {
    await page.goto(`${URL_}/#/artifact/${BY_CI_SHA256}`);
    await heading(basename(BY_CI));
    const verified = page.getByRole('region', { name: 'Verified identity' });
    await verified.getByText('Built by a CI job').waitFor();
    await verified.getByText('(github OIDC token, checked by the server)').waitFor();
    for (const value of [CI_ISSUER, 'repo:acme/app:ref:refs/heads/main', 'acme/app', '892345617',
      'refs/heads/main', 'https://github.com/acme/app/actions/runs/32291736541']) {
      await verified.getByText(value, { exact: true }).waitFor();
    }
    const asserted = page.getByRole('region', { name: 'Asserted CI context' });
    await asserted.getByText('(not verified)').waitFor();
    await asserted.getByText('acme/spoofed', { exact: true }).waitFor();
    assert.equal(await verified.getByText('acme/spoofed').count(), 0, 'the asserted repository is not shown as verified');
    // The signer is the identity's id, and the entry's proof verified like any other.
    await page.getByText(/^oidc:[a-z2-7]{32}$/).waitFor();
    await page.getByText("Every entry's proof verified in this browser against the pinned key.").waitFor();
    assert.deepEqual(await unnamed(page.locator('body')), []);
    await shot('04b-artifact-identity');
  });

  it('verifies dropped files in the browser: verified, unknown', async () => {
    await page.getByRole('link', { name: 'Verify a file' }).click();
    await heading('Verify a file');
    assert.equal(await page.getByTestId('pinned-key').textContent(), VKEY);
    await dropFile(TRUSTED);
    const ok = await verdictOf(basename(TRUSTED));
    assert.equal(await ok.getByTestId('verdict').textContent(), 'trusted Verified: trusted');
    const checks = ok.getByRole('list', { name: `Checks for ${basename(TRUSTED)}` });
    assert.equal(await checks.locator('li.fail').count(), 0);
    for (const words of ["The file's SHA-256 was computed in this browser", "The ledger entry records this file's SHA-256",
      'The inclusion proof leads from entry', 'The checkpoint is signed by the pinned key',
      'The checkpoint commits to the status index', 'The status index proves 1 entry about this SHA-256',
      /^Entry \d+ is the latest entry about this file: no later entry exists$/,
      /^Signer k_[0-9a-f]+ is not revoked: its latest key entry is its creation/,
      'The proven entries give the status trusted, as the server says']) {
      await checks.getByText(words).waitFor();
    }
    // The file chooser, keyboard-reachable through its label.
    await page.setInputFiles('#file-input', UNKNOWN);
    const unknown = await verdictOf(basename(UNKNOWN));
    assert.equal(await unknown.getByTestId('verdict').textContent(), 'unknown Unknown');
    assert.equal(await unknown.locator('li.fail').count(), 0);
    await unknown.getByText(/^The status index proves that no entry about this SHA-256 exists among the checkpoint's \d+ entries$/).waitFor();
    await dropFile(UNTRUSTED);
    const bad = await verdictOf(basename(UNTRUSTED));
    assert.equal(await bad.getByTestId('verdict').textContent(), 'untrusted Verified: untrusted');
    assert.equal(await bad.locator('li.fail').count(), 0);
    await bad.getByText('The status index proves 2 entries about this SHA-256').waitFor();
    await dropFile(REVOKED);
    const revoked = await verdictOf(basename(REVOKED));
    assert.equal(await revoked.getByTestId('verdict').textContent(), 'revoked Verified: revoked');
    assert.equal(await revoked.locator('li.fail').count(), 0);
    await revoked.getByText(/^Signer k_[0-9a-f]+ was revoked by entry \d+, proven in the same checkpoint$/).waitFor();
    assert.deepEqual(await unnamed(page.locator('body')), []);
    await shot('05-verify');
  });

  it('shows tampering with a proof in flight as a failure, naming the check', async () => {
    await page.goto(`${URL_}/#/verify`);
    await heading('Verify a file');
    await page.route('**/api/v1/ledgers/*/artifacts/*', async (route) => {
      const resp = await route.fetch();
      const json = await resp.json();
      const p = json.receipt.inclusion_proof;
      p[0] = (p[0][0] === '0' ? '1' : '0') + p[0].slice(1);
      await route.fulfill({ response: resp, json });
    });
    await dropFile(TRUSTED);
    const card = await verdictOf(basename(TRUSTED));
    assert.equal(await card.getByTestId('verdict').textContent(), 'failed VERIFICATION FAILED');
    const failed = card.locator('li.fail');
    assert.equal(await failed.count(), 1, 'only the inclusion proof fails');
    assert.match(await failed.textContent(), /Failed: The inclusion proof does not lead from entry \d+ to the checkpoint's root/);
    await card.getByText('The checkpoint is signed by the pinned key').waitFor();
    await shot('06-verify-tampered-proof');
    await page.unroute('**/api/v1/ledgers/*/artifacts/*');

    // A forged checkpoint (another size, the old signature) fails the signature check.
    await page.route('**/api/v1/ledgers/*/artifacts/*', async (route) => {
      const resp = await route.fetch();
      const json = await resp.json();
      const forged = json.checkpoint.replace(/\n(\d+)\n/, (_, n) => `\n${Number(n) + 1}\n`);
      await route.fulfill({ response: resp, json: swap(json, json.checkpoint, forged) });
    });
    await page.goto(`${URL_}/#/verify`);
    await heading('Verify a file');
    await dropFile(TRUSTED);
    const forged = await verdictOf(basename(TRUSTED));
    assert.equal(await forged.getByTestId('verdict').textContent(), 'failed VERIFICATION FAILED');
    await forged.getByText('The checkpoint signature does not verify with the pinned key', { exact: true }).waitFor();
    await page.unroute('**/api/v1/ledgers/*/artifacts/*');
  });

  it('refuses the lies only the status index catches, each a failed verification naming the check', async () => {
    await page.goto(`${URL_}/#/verify`);
    await heading('Verify a file');
    const history = await apiGet(`/artifacts/${shaOf(UNTRUSTED)}/history`);
    assert.deepEqual(history.entries.map((r) => r.entry.status), ['trusted', 'untrusted']);

    // The older trusted entry shown instead of the later untrusted one: with the latest-only
    // proof, and with the proof of the whole history (which does reveal the later entry).
    let card = await dropWithLie(UNTRUSTED, (a) => ({ ...a, status: 'trusted', receipt: history.entries[0] }));
    await assertRefused(card, /The deciding entry \d+ is not among the last entries about/);
    card = await dropWithLie(UNTRUSTED, (a) => ({
      ...a, status: 'trusted', receipt: history.entries[0], proof: { ...a.proof, index: history.index_proof },
    }));
    await assertRefused(card, new RegExp(`Entry ${history.entries[0].index} is not the latest about [0-9a-f]{12}…: ${history.entries[1].index} came after it`));

    // The signer's revocation hidden: the key's genuine created entry shown in its place.
    const entries = await apiGet('/entries?limit=100');
    card = await dropWithLie(REVOKED, (a) => {
      assert.equal(a.status, 'revoked');
      const signer = a.receipt.entry.signer;
      const created = entries.entries.find((r) => r.entry.type === 'key' && r.entry.id === signer && r.entry.action === 'created');
      const { revocation, ...rest } = a;
      assert.ok(revocation && created);
      return { ...rest, status: 'trusted', proof: { ...a.proof, signer_created: created } };
    });
    await assertRefused(card, /Entry \d+ is not signer k_[0-9a-f]+'s latest key entry \(\d+\)/);
    await shot('06b-verify-hidden-revocation');

    // Unknown for a notarized file: with its genuine proof (which proves an entry), and without.
    card = await dropWithLie(TRUSTED, (a) => ({ status: 'unknown', checkpoint: a.checkpoint, proof: a.proof }));
    await assertRefused(card, /1 entry about [0-9a-f]{12}… exist, yet the answer shows none deciding/);
    card = await dropWithLie(TRUSTED, (a) => ({ status: 'unknown', checkpoint: a.checkpoint }));
    await assertRefused(card, /The answer carries no status proof/);

    // An index proof of another root: the genuine proof of an earlier answer.
    card = await dropWithLie(TRUSTED, (a) => {
      assert.notEqual(JSON.stringify(a.proof.index), JSON.stringify(EARLIER.proof.index));
      return { ...a, proof: { ...a.proof, index: EARLIER.proof.index } };
    });
    await assertRefused(card, /The status-index proof for this SHA-256 does not lead to the checkpoint's index root/);

    // A checkpoint re-signed by the ledger's own key without the index line: the signature
    // holds, the missing commitment does not.
    card = await dropWithLie(TRUSTED, () => UNINDEXED);
    await assertRefused(card, /The checkpoint commits to no status index/);
    await card.getByText('The checkpoint is signed by the pinned key').waitFor();
  });

  it('shows the artifact page\'s status only when proven, and its history only as complete', async () => {
    const sha = shaOf(UNTRUSTED);
    const history = await apiGet(`/artifacts/${sha}/history`);
    await page.route(ANSWERS, async (route) => {
      const resp = await route.fetch();
      const a = await resp.json();
      await route.fulfill({ response: resp, json: { ...a, status: 'trusted', receipt: history.entries[0], proof: { ...a.proof, index: history.index_proof } } });
    });
    await page.goto(`${URL_}/#/artifact/${sha}`);
    await heading(basename(UNTRUSTED));
    const status = page.getByRole('region', { name: 'Current status' });
    assert.equal(await status.getByTestId('current-status').textContent(), 'Current status: failed VERIFICATION FAILED');
    assert.equal(await status.locator('.badge', { hasText: /^trusted$/ }).count(), 0);
    await status.getByRole('alert').getByText(/is not the latest about/).waitFor();
    await shot('06c-artifact-hidden-later-entry');
    await page.unroute(ANSWERS);

    // A history page that leaves out the later entry.
    await page.route(HISTORIES, async (route) => {
      const resp = await route.fetch();
      const p = await resp.json();
      await route.fulfill({ response: resp, json: { ...p, entries: p.entries.slice(0, 1) } });
    });
    await page.goto(`${URL_}/#/entries`);
    await heading('Entries');
    await page.goto(`${URL_}/#/artifact/${sha}`);
    await heading(basename(UNTRUSTED));
    const complete = page.getByRole('list', { name: 'Completeness of the history' });
    await complete.getByText('The history is not proven complete: entries about this file may be missing or extra').waitFor();
    assert.equal(await complete.locator('li.fail').count(), 1);
    await page.getByText('Some proofs did not verify').waitFor();
    await page.unroute(HISTORIES);
  });

  it('signs out, forgetting the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Notarium');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  it('admin: creates a ledger, creates a key shown once with a copy button, revokes it', async () => {
    await page.getByLabel('API key or admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview');
    await page.getByRole('link', { name: 'Admin' }).click();
    await heading('Admin');
    await page.getByLabel('Ledger name').fill('releases');
    await page.getByRole('button', { name: 'Create ledger' }).click();
    await page.getByText('Ledger releases created.').waitFor();
    assert.deepEqual(await page.getByRole('combobox', { name: 'Ledger', exact: true }).locator('option').allTextContents(), ['default', 'releases']);

    await page.getByLabel('Key name').fill('dashboard-ci');
    await page.getByLabel('Role').selectOption('write');
    await page.getByRole('button', { name: 'Create key' }).click();
    const panel = page.getByTestId('new-secret');
    await panel.waitFor();
    const secret = (await panel.getByTestId('secret-value').textContent()).trim();
    assert.match(secret, /^nk_[A-Za-z0-9_-]{43}$/);
    assert.equal((await page.content()).split(secret).length - 1, 1, 'the secret is shown exactly once');
    const copy = panel.getByRole('button', { name: 'Copy API key secret' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Copy API key secret', 'focus moves to the copy button');
    await copy.click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    assert.equal(await whoamiStatus(secret), 200, 'the new key works');
    const id = (await panel.textContent()).match(/API key (k_[0-9a-f]+)/)[1];
    await page.getByRole('row', { name: new RegExp(id) }).getByText('active', { exact: true }).waitFor();
    await shot('07-admin-new-key');
    await panel.getByRole('button', { name: /hide the secret/ }).click();
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');
    await page.reload();
    await heading('Admin');
    assert.ok(!(await page.content()).includes(secret), 'and is never shown again');

    await page.getByRole('button', { name: `Revoke key ${id} (dashboard-ci)` }).click();
    await page.getByRole('button', { name: `Confirm: revoke key ${id}` }).click();
    // The badge, not the confirmation's words: the revocation has been answered.
    await page.getByRole('row', { name: new RegExp(id) }).getByText('revoked', { exact: true }).waitFor();
    assert.equal(await whoamiStatus(secret), 401, 'revocation takes effect at once');
    assert.deepEqual(await unnamed(page.locator('body')), []);
    await shot('08-admin-revoked');
  });

  it('builds an audit report, verifies it, and downloads it as JSON and printable HTML', async () => {
    await page.getByRole('link', { name: 'Audit reports' }).click();
    await heading('Audit reports');
    const local = (iso) => iso.slice(0, 19);
    await page.getByLabel('Since (your local time)').fill(local(SINCE));
    await page.getByLabel('Until (your local time)').fill(local(new Date(Date.now() + 3_600_000).toISOString()));
    await page.getByRole('button', { name: 'Build report' }).click();
    const verdict = page.getByTestId('report-verdict');
    await verdict.getByText('Report verified in this browser against the pinned key.').waitFor({ timeout: 30_000 });
    assert.equal(await verdict.locator('li.fail').count(), 0);
    const summary = page.getByRole('list', { name: 'Summary' });
    const count = async (what) => Number(await summary.locator('li').filter({ hasText: what }).locator('b').textContent());
    assert.equal(await count('revocations'), 2);
    assert.equal(await count('status changes'), 1);
    assert.ok(await count('notarizations') >= 14);
    await page.getByRole('table', { name: 'API keys revoked in the range' }).waitFor();
    await shot('09-report');

    const [json] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download JSON' }).click(),
    ]);
    assert.match(json.suggestedFilename(), /^notarium-report-default-\d+-\d+\.json$/);
    await json.saveAs(join(DOWNLOADS, 'report.json'));
    const [html] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download printable HTML' }).click(),
    ]);
    assert.match(html.suggestedFilename(), /\.html$/);
    const htmlPath = join(DOWNLOADS, 'report.html');
    await html.saveAs(htmlPath);

    await page.emulateMedia({ media: 'print' });
    await shot('10-report-print');
    await page.emulateMedia({ media: 'screen' });

    const printable = await context.newPage();
    await printable.goto(pathToFileURL(htmlPath).href);
    await printable.getByRole('heading', { name: 'Audit report of ledger default' }).waitFor();
    await printable.emulateMedia({ media: 'print' });
    await printable.screenshot({ path: join(SHOTS, '11-report-html.png'), fullPage: true });
    await printable.close();
  });

  it('made no request to another origin and broke no policy', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(problems, []);
  });
});
