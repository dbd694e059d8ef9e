#!/usr/bin/env node
// Write the frozen vectors of one portarc release: conformance/vectors/frozen/<VERSION>/ holds what
// that release's writer made of the writer/ trees, in every container, filter and option it writes,
// with their expected JSON and a SHA256SUMS list. Run once per release, from a build of that
// release; it refuses to touch an existing set (frozen vectors are never regenerated: a later
// reader must read these exact bytes, and test/conformance-frozen.test.ts fails if one changes).
// Usage: node conformance/tools/frozen-vectors.mjs VERSION   (after `npx tsc -p tsconfig.json`)

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectedEntry } from '../lib/tree.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CONF = join(HERE, '..');
const version = process.argv[2];
const { VERSION } = await import('../../dist/api/index.js');
if (!version || version !== VERSION) {
  process.stderr.write(`usage: frozen-vectors.mjs VERSION, where VERSION is the built writer's (${VERSION})\n`);
  process.exit(2);
}
const OUT = join(CONF, 'vectors', 'frozen', version);
if (existsSync(OUT)) {
  process.stderr.write(`${OUT} exists: frozen vectors are never regenerated\n`);
  process.exit(2);
}

const tree = (name) => JSON.parse(readFileSync(join(CONF, 'writer', `${name}.json`), 'utf8'));
// One tree with every feature the writer has (the sparse tree apart: zip stores it dense).
const full = {
  description: 'every entry type; binary xattrs and the NUL rule; SELinux labels and ACLs; devices; hardlinks; long and non-UTF-8 names; ns and pre-1970 times; ids above the ustar range',
  entries: ['basic', 'xattrs', 'labels-acls', 'long-names'].flatMap((n) => tree(n).entries),
};
const sets = [];
for (const [format, ext] of [['tar', 'tar'], ['tar.gz', 'tar.gz'], ['tar.zst', 'tar.zst'], ['zip', 'zip']]) {
  for (const manifest of [true, false]) sets.push({ name: `y_${format.replace('.', '-')}-full${manifest ? '' : '-no-manifest'}`, ext, tree: { ...full, format, manifest } });
}
for (const manifest of [true, false]) sets.push({ name: `y_tar-sparse${manifest ? '' : '-no-manifest'}`, ext: 'tar', tree: { ...tree('sparse'), format: 'tar', manifest } });
sets.push({ name: 'y_tar-empty', ext: 'tar', tree: { ...tree('empty'), format: 'tar', manifest: true } });

mkdirSync(OUT, { recursive: true });
const sums = [];
for (const s of sets) {
  const w = spawnSync(process.execPath, [join(CONF, 'adapters', 'portarc-writer.mjs')], { input: JSON.stringify(s.tree), maxBuffer: 1 << 28 });
  if (w.status !== 0) throw new Error(`${s.name}: writer exits ${w.status}: ${w.stderr}`);
  const r = spawnSync(process.execPath, [join(CONF, 'adapters', 'portarc.mjs')], { input: w.stdout, maxBuffer: 1 << 28, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${s.name}: reference reader exits ${r.status}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  // The expected entries are the tree's (independent of the reader), then the manifest's own
  // members as this release wrote them (spec/manifest.md), whose digests only the bytes define.
  const fromTree = s.tree.entries.map(expectedEntry);
  const manifest = doc.entries.slice(fromTree.length).map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'atimeNs' && k !== 'ctimeNs')));
  if (manifest.some((e) => !e.path.startsWith('.portarc/'))) throw new Error(`${s.name}: the reader gives more entries than the tree has`);
  const file = `${s.name}.${s.ext}`;
  writeFileSync(join(OUT, file), w.stdout);
  const expected = {
    description: `${s.tree.description} (${s.tree.format}, ${s.tree.manifest ? 'with' : 'without'} manifest)`,
    madeBy: `portarc ${version} (conformance/tools/frozen-vectors.mjs: the writer adapter on conformance/writer trees)`,
    exit: 0,
    warnings: 0,
    notices: 0,
    result: { version: doc.version, features: doc.features, entries: [...fromTree, ...manifest] },
  };
  const json = JSON.stringify(expected, null, 1) + '\n';
  writeFileSync(join(OUT, `${s.name}.json`), json);
  for (const [n, bytes] of [[file, w.stdout], [`${s.name}.json`, Buffer.from(json)]]) sums.push(`${createHash('sha256').update(bytes).digest('hex')}  ${n}`);
}
writeFileSync(join(OUT, 'SHA256SUMS'), sums.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1)).join('\n') + '\n');
process.stdout.write(`wrote ${sets.length} frozen vectors to ${OUT}\n`);
