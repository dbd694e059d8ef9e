// Frozen vectors (conformance/vectors/frozen/<release>/, conformance/README.md): archives written by a
// released portarc, never regenerated. Every file of every set must match the set's SHA256SUMS and
// every listed file must exist; the reader side (they all read as expected) is run.mjs's, in
// test/conformance.test.ts.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tree.js';

const FROZEN = fileURLToPath(new URL('../conformance/vectors/frozen', import.meta.url));

/** What is wrong with one frozen set: files changed, missing, or not listed. */
function checkSet(dir: string): string[] {
  const sums = join(dir, 'SHA256SUMS');
  if (!existsSync(sums)) return ['SHA256SUMS missing'];
  const listed = new Map<string, string>();
  for (const line of readFileSync(sums, 'utf8').split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (!m) return [`SHA256SUMS: bad line ${JSON.stringify(line)}`];
    listed.set(m[2], m[1]);
  }
  const problems: string[] = [];
  for (const [name, sum] of listed) {
    const p = join(dir, name);
    if (!existsSync(p)) problems.push(`${name}: listed but missing`);
    else if (createHash('sha256').update(readFileSync(p)).digest('hex') !== sum) problems.push(`${name}: changed (frozen vectors are never regenerated)`);
  }
  for (const name of readdirSync(dir)) if (name !== 'SHA256SUMS' && !listed.has(name)) problems.push(`${name}: not in SHA256SUMS`);
  return problems;
}

const sets = existsSync(FROZEN) ? readdirSync(FROZEN).sort() : [];

describe('frozen vectors', () => {
  it('there is a set for 0.1.0 with every container, filter and option it writes', () => {
    expect(sets).toContain('0.1.0');
    const names = readdirSync(join(FROZEN, '0.1.0'));
    for (const n of ['y_tar-full.tar', 'y_tar-full-no-manifest.tar', 'y_tar-gz-full.tar.gz', 'y_tar-gz-full-no-manifest.tar.gz', 'y_tar-zst-full.tar.zst', 'y_tar-zst-full-no-manifest.tar.zst', 'y_zip-full.zip', 'y_zip-full-no-manifest.zip', 'y_tar-sparse.tar', 'y_tar-sparse-no-manifest.tar', 'y_tar-empty.tar']) {
      expect(names).toContain(n);
      expect(names).toContain(n.replace(/\.(tar(\.gz|\.zst)?|zip)$/, '.json'));
    }
    // The manifest-less archives declare no feature; the others the manifest's (spec/manifest.md).
    const features = (n: string) => JSON.parse(readFileSync(join(FROZEN, '0.1.0', n), 'utf8')).result.features;
    expect(features('y_tar-full-no-manifest.json')).toEqual({ compat: [], rocompat: [], incompat: [] });
    expect(features('y_tar-full.json').compat).toContain('manifest');
  });

  for (const set of sets) {
    it(`${set}: every file matches SHA256SUMS`, () => {
      expect(checkSet(join(FROZEN, set))).toEqual([]);
    });
  }

  it('the check catches a changed byte, a missing file and an unlisted file', () => {
    const copy = join(tempDir('frozen-copy'), '0.1.0');
    cpSync(join(FROZEN, '0.1.0'), copy, { recursive: true });
    const tar = join(copy, 'y_tar-full.tar');
    const bytes = readFileSync(tar);
    bytes[600] ^= 1;
    writeFileSync(tar, bytes);
    writeFileSync(join(copy, 'y_new.tar'), 'x');
    renameSync(join(copy, 'y_tar-empty.json'), join(copy, 'moved.json'));
    expect(checkSet(copy)).toEqual([
      'y_tar-empty.json: listed but missing',
      'y_tar-full.tar: changed (frozen vectors are never regenerated)',
      'moved.json: not in SHA256SUMS',
      'y_new.tar: not in SHA256SUMS',
    ]);
  });
});
