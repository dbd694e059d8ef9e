#!/usr/bin/env node
// Draft a vector's expected JSON from what the reference adapter prints. A draft is NOT an expected
// result until someone has checked every field against the bytes (GNU tar -tvv, bsdtar -tvv,
// python tarfile, conformance/adapters/python-tarfile.py); see conformance/README.md.
// Usage: node conformance/tools/draft-expected.mjs VECTOR.tar --made-by TEXT --description TEXT [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let tar;
let madeBy = '';
let description = '';
let force = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--made-by') madeBy = args[++i];
  else if (args[i] === '--description') description = args[++i];
  else if (args[i] === '--force') force = true;
  else tar = args[i];
}
if (!tar) {
  process.stderr.write('usage: draft-expected.mjs VECTOR.tar --made-by TEXT --description TEXT [--force]\n');
  process.exit(2);
}
const out = tar.replace(/\.(tar(\.gz|\.zst)?|zip)$/, '.json');
if (existsSync(out) && !force) process.exit(0);

const verdict = basename(tar)[0];
const r = spawnSync(process.execPath, [join(HERE, '..', 'adapters', 'portarc.mjs')], { input: readFileSync(tar), encoding: 'utf8' });
const doc = { description, madeBy, exit: r.status };
if (verdict === 'n') {
  if (r.status !== 2) process.stderr.write(`draft-expected: ${basename(tar)}: the reference adapter did NOT refuse it (exit ${r.status})\n`);
  doc.exit = 2;
} else if (verdict === 'i') {
  delete doc.exit; // implementation-defined: nothing is compared but a well-formed answer
  doc.note = `portarc: exit ${r.status}`;
} else if (r.status === 0 || r.status === 1) {
  const got = JSON.parse(r.stdout);
  doc.warnings = got.warnings.length;
  if (got.notices?.length) doc.notices = got.notices.length;
  doc.result = {
    version: got.version,
    features: got.features,
    // atime and ctime are not compared, so the expected entries leave them out.
    entries: got.entries.map(({ atimeNs, ctimeNs, ...rest }) => rest),
  };
} else {
  process.stderr.write(`draft-expected: ${basename(tar)}: the reference adapter refused it (exit ${r.status}): ${r.stderr}`);
  doc.warnings = 0;
  doc.result = { version: null, features: { compat: [], rocompat: [], incompat: [] }, entries: [] };
}
writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
process.stderr.write(`draft-expected: wrote ${out}: REVIEW IT against the bytes before trusting it\n`);
