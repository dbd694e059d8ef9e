// The conformance runner's writer suite, options and known-failures list (conformance/README.md),
// and proof that the suite has teeth: each deliberately broken adapter of conformance/adapters/broken/
// (portarc's own adapter with one aspect corrupted) makes the runner fail.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tree.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONF = join(ROOT, 'conformance');
const RUNNER = join(CONF, 'run.mjs');
const NODE = `"${process.execPath}"`;
const WRITER = `${NODE} "${join(CONF, 'adapters', 'portarc-writer.mjs')}"`;
const PYTHON = `python3 "${join(CONF, 'adapters', 'python-tarfile.py')}"`;
const PY_KNOWN = join(CONF, 'adapters', 'python-tarfile.known-failures');
const broken = (name: string) => `${NODE} "${join(CONF, 'adapters', 'broken', `${name}.mjs`)}"`;

function runSuite(args: string[]) {
  const r = spawnSync(process.execPath, [RUNNER, '--jobs', '3', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, lines, last: lines[lines.length - 1] ?? '', fails: lines.filter((l) => l.startsWith('FAIL ')), stderr: r.stderr };
}

describe('writer suite (--writer)', () => {
  it("portarc's writer adapter writes every tree so that the reference reader, GNU tar and bsdtar read it back, within the writer rules", () => {
    const r = runSuite(['--writer', WRITER]);
    expect(r.fails).toEqual([]);
    for (const c of ['basic', 'basic-tar-gz', 'basic-tar-zst', 'basic-zip', 'basic-no-manifest', 'xattrs', 'labels-acls', 'long-names', 'sparse', 'empty']) {
      expect(r.lines).toContain(`PASS writer/${c}`);
    }
    expect(r.last).toBe('10 passed, 0 failed, 0 skipped');
    expect(r.status).toBe(0);
  });

  it('a writer that fails, prints nothing, or hangs fails its cases', () => {
    const dir = tempDir('conf-writer');
    const fails = join(dir, 'fails.mjs');
    writeFileSync(fails, `process.stderr.write('cannot write\\n'); process.exit(2);\n`);
    const f = runSuite(['--writer', `${NODE} "${fails}"`, '--run', 'writer/basic']);
    expect(f.lines).toContain('FAIL writer/basic: writer exits 2: cannot write');
    const silent = join(dir, 'silent.mjs');
    writeFileSync(silent, `process.stdin.resume();\n`);
    expect(runSuite(['--writer', `${NODE} "${silent}"`, '--run', 'writer/empty']).lines).toContain('FAIL writer/empty: writer printed no archive');
    const hang = join(dir, 'hang.mjs');
    writeFileSync(hang, `setInterval(() => {}, 1000);\n`);
    const h = runSuite(['--writer', `${NODE} "${hang}"`, '--run', 'writer/empty', '--timeout', '1']);
    expect(h.lines).toEqual(['FAIL writer/empty: timeout: the writer gave no archive within 1 s', '0 passed, 1 failed, 0 skipped']);
    expect(h.status).toBe(1);
  });
});

describe('broken adapters are caught', () => {
  it('a reader that drops xattrs', () => {
    const r = runSuite(['--adapter', broken('drops-xattrs'), '--run', '1.0/y_portarc-full', '--run', 'frozen/0.1.0/y_tar-full']);
    expect(r.fails).toHaveLength(3);
    for (const l of r.fails) expect(l).toMatch(/: entry \d+ .*: xattrs\["user\.[^"]+"\]: expected "[^"]+", got \(absent\)$/);
    expect(r.status).toBe(1);
  });

  it('a reader that accepts an unknown incompat feature', () => {
    const r = runSuite(['--adapter', broken('accepts-incompat'), '--run', 'future/']);
    expect(r.fails).toEqual(['FAIL future/n_incompat-feature: must be refused with exit 2, got exit 0']);
    expect(r.last).toBe('7 passed, 1 failed, 0 skipped');
  });

  it('a reader that mis-signs a pre-1970 time with a fraction', () => {
    const r = runSuite(['--adapter', broken('mis-signs-pre1970'), '--run', '1.0/y_portarc-full', '--run', 'frozen/0.1.0/y_zip-full', '--skip', '*-no-manifest']);
    expect(r.lines).toContain('FAIL 1.0/y_portarc-full: entry 17 "full/old.txt": mtimeNs: expected "-86400123500000000", got "-86400122500000000"');
    expect(r.lines).toContain('FAIL frozen/0.1.0/y_zip-full: entry 9 "b/old": mtimeNs: expected "-86400123500000000", got "-86400122500000000"');
    expect(r.fails).toHaveLength(2);
    expect(r.status).toBe(1);
  });

  it('a reader that lets SCHILY.xattr win over LIBARCHIVE.xattr', () => {
    const r = runSuite(['--adapter', broken('swaps-xattr-precedence'), '--run', '1.0/y_xattr-both-forms-differ', '--run', '1.0/y_bsdtar-default']);
    // bsdtar writes both forms with equal values: only the vector where they differ tells.
    expect(r.lines).toEqual([
      'PASS 1.0/y_bsdtar-default',
      `FAIL 1.0/y_xattr-both-forms-differ: entry 1 "p/f.txt": xattrs["user.k"]: expected "${Buffer.from('from-libarchive').toString('base64')}", got "${Buffer.from('from-schily').toString('base64')}"`,
      '1 passed, 1 failed, 0 skipped',
    ]);
  });

  it('a writer that writes no global header', () => {
    const r = runSuite(['--writer', broken('no-global-header'), '--run', 'writer/basic*', '--skip', '*-zip', '--skip', '*-zst']);
    expect(r.fails).toHaveLength(3); // tar, tar.gz, no manifest
    for (const l of r.fails) expect(l).toMatch(/^FAIL writer\/basic[a-z-]*: writer rule §4\.5: the archive must begin with a global \(g\) header, found typeflag 'x'$/);
    expect(r.last).toBe('0 passed, 3 failed, 2 skipped');
  });

  it('a writer whose global header lists features with spaces, or a record twice', () => {
    const dir = tempDir('conf-features');
    const make = (name: string, records: string) => {
      const file = join(dir, `${name}.mjs`);
      writeFileSync(
        file,
        `import { rewrite } from ${JSON.stringify(join(CONF, 'lib', 'tar.mjs'))};
import { emit, input, write } from ${JSON.stringify(join(CONF, 'adapters', 'broken', 'wrap.mjs'))};
emit(rewrite(write(input()), (m) => (m.type === 'g' ? [...m.records, ...${records}] : undefined)));
`,
      );
      return runSuite(['--writer', `${NODE} "${file}"`, '--run', 'writer/basic-no-manifest']);
    };
    expect(make('spaces', `[['PORTARC.features.compat', 'a, b']]`).fails).toEqual([
      'FAIL writer/basic-no-manifest: writer rule §4.5: PORTARC.features.compat="a, b" is not a comma-separated list of names without spaces',
    ]);
    expect(make('twice', `[['PORTARC.version', '1.0']]`).fails).toEqual(['FAIL writer/basic-no-manifest: writer rule §4.5: PORTARC.version twice in the global header']);
    expect(make('fine', `[['PORTARC.features.compat', 'a,b']]`).fails).toEqual([]);
  });

  it('a writer that ignores the NUL rule', () => {
    const r = runSuite(['--writer', broken('ignores-nul-rule'), '--run', 'writer/xattrs', '--run', 'writer/labels-acls']);
    expect(r.fails).toEqual([
      'FAIL writer/xattrs: writer rule §5.1.3 NUL rule: SCHILY.xattr.user.nul holds a NUL byte in an x header with a path, linkpath or size record (header at byte 4608): write LIBARCHIVE.xattr base64',
    ]);
  });
});

describe('runner options', () => {
  it('the Python adapter passes every case but those on its known-failures list, and the report says which', () => {
    const report = join(tempDir('conf-report'), 'python.json');
    const r = runSuite(['--adapter', PYTHON, '--known-failures', PY_KNOWN, '--report', report]);
    expect(r.fails).toEqual([]);
    const listed = readFileSync(PY_KNOWN, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    expect(r.last).toMatch(new RegExp(`^\\d+ passed, 0 failed, ${listed.length} skipped$`));
    expect(r.status).toBe(0);
    const doc = JSON.parse(readFileSync(report, 'utf8'));
    expect(doc.suite).toBe('reader');
    expect(doc.failed).toBe(0);
    expect(doc.cases.filter((c: { status: string }) => c.status === 'xfail').map((c: { name: string }) => c.name).sort()).toEqual([...listed].sort());
    // The independent reader agrees with every plain-tar frozen vector.
    expect(doc.cases.filter((c: { name: string; status: string }) => c.name.startsWith('frozen/0.1.0/y_tar-') && c.status === 'pass').length).toBeGreaterThanOrEqual(5);
  });

  it('a listed case that passes, or that does not exist, fails the run (the list stays true)', () => {
    const file = join(tempDir('conf-known'), 'known');
    writeFileSync(file, '# stale list\nfuture/y_compat-feature\nfuture/y_no-such-case\n');
    const r = runSuite(['--known-failures', file, '--run', 'future/y_compat']);
    expect(r.lines).toContain('FAIL future/y_compat-feature: listed in known but passes: take it off the list');
    expect(r.status).toBe(1);
    const all = runSuite(['--adapter', broken('accepts-incompat'), '--known-failures', file, '--run', 'future/n_']);
    expect(all.lines).toContain('FAIL future/y_no-such-case: listed in known but there is no such case');
    // The broken adapter's real failure is not listed: it still fails.
    expect(all.lines).toContain('FAIL future/n_incompat-feature: must be refused with exit 2, got exit 0');
  });

  it('--skip and --spec-version count skipped cases; --run takes globs', () => {
    const s = runSuite(['--run', 'future/*-feature', '--skip', 'future/y_*']);
    expect(s.lines).toEqual(['PASS future/n_incompat-feature', 'SKIP future/y_compat-feature: --skip', 'SKIP future/y_rocompat-feature: --skip', '1 passed, 0 failed, 2 skipped']);
    const v = runSuite(['--run', 'future/n_', '--spec-version', '0.9']);
    expect(v.lines).toEqual(['SKIP future/n_incompat-feature: spec 1.0 > --spec-version 0.9', 'SKIP future/n_major-version-2: spec 1.0 > --spec-version 0.9', '0 passed, 0 failed, 2 skipped']);
    expect(runSuite(['--run', 'future/n_', '--spec-version', '1.0']).last).toBe('2 passed, 0 failed, 0 skipped');
    expect(runSuite(['--spec-version', 'one']).status).toBe(2);
  });
});
