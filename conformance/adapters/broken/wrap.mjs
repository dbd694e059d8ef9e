// Shared by the deliberately broken adapters (conformance/README.md, "Proof the suite has teeth"):
// run portarc's own reader or writer adapter, let the caller corrupt one aspect, pass the result on.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ADAPTERS = join(dirname(fileURLToPath(import.meta.url)), '..');

/** stdin, whole. */
export const input = () => readFileSync(0);

/** Read `archive` with the reference reader adapter; exits as it did when it printed no document. */
export function read(archive) {
  const r = spawnSync(process.execPath, [join(ADAPTERS, 'portarc.mjs')], { input: archive, maxBuffer: 1 << 28 });
  process.stderr.write(r.stderr);
  if (r.status !== 0 && r.status !== 1) process.exit(r.status ?? 3);
  return JSON.parse(r.stdout.toString('utf8'));
}

/** Print a canonical document with the exit code its warnings imply. */
export function answer(doc) {
  process.stdout.write(JSON.stringify(doc), () => process.exit(doc.warnings.length ? 1 : 0));
}

/** Run the reference writer adapter on a tree description; returns the archive bytes. */
export function write(tree) {
  const r = spawnSync(process.execPath, [join(ADAPTERS, 'portarc-writer.mjs')], { input: tree, maxBuffer: 1 << 28 });
  process.stderr.write(r.stderr);
  if (r.status !== 0) process.exit(r.status ?? 3);
  return r.stdout;
}

/** Print an archive and exit 0. */
export const emit = (archive) => process.stdout.write(archive, () => process.exit(0));
