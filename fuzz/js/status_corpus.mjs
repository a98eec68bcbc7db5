// The dashboard's status verification (server/assets/verify.js) against notarium-core on the
// status_answer fuzz corpus: fuzz/tests/verify_js.rs writes each input's answer (its
// checkpoints re-signed, as the fuzz target does) with core's outcome, and runs this script
// on that file. verify.js must accept exactly what core accepts, with the same status and
// entry count, and refuse the rest (the corpus's answers with the same kind of failure; the
// one-step mutants of the accepted answers in whatever order the two meet the lie).
//
// Usage: node fuzz/js/status_corpus.mjs CASES.json

import { readFileSync } from 'node:fs';

import { verifyStatus } from '../../server/assets/verify.js';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const failures = [];
let accepted = 0;
let refused = 0;
for (const c of cases) {
  let r;
  try {
    r = await verifyStatus(c.answer, c.sha256, c.verifier_key, { signers: c.signers });
  } catch (e) {
    failures.push(`${c.name}: verify.js threw ${e.stack}`);
    continue;
  }
  const want = c.outcome;
  const failed = r.checks.find((x) => !x.ok);
  if (want.valid) {
    if (!r.ok || r.status !== want.status || r.entries !== want.entries) {
      failures.push(`${c.name}: core accepts it as ${want.status} (${want.entries} entries); verify.js: ${r.ok ? `${r.status} (${r.entries})` : `refused at ${failed?.label}: ${failed?.detail}`}`);
    }
    accepted++;
  } else {
    if (r.ok) {
      failures.push(`${c.name}: core refuses it (${want.error}); verify.js accepts it as ${r.status}`);
    } else if (c.strict_kind && want.kind !== 'other' && failed?.kind !== want.kind) {
      failures.push(`${c.name}: core refuses it as ${want.kind} (${want.error}); verify.js at "${failed?.label}" (${failed?.kind}: ${failed?.detail})`);
    }
    refused++;
  }
}
for (const f of failures) console.log(`MISMATCH ${f}`);
console.log(`${cases.length} answers: ${accepted} accepted and ${refused} refused by core; ${failures.length} disagreements`);
process.exit(failures.length === 0 ? 0 : 1);
