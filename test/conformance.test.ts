// The conformance suite (conformance/README.md) run against portarc's reference adapter, the runner
// checked against an adapter that is wrong on purpose, and the future-vector classes through the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNNER = join(ROOT, 'conformance', 'run.mjs');
const FUTURE = join(ROOT, 'conformance', 'vectors', 'future');
const MALFORMED = join(ROOT, 'conformance', 'vectors', 'malformed');

function runSuite(args: string[] = []) {
  const r = spawnSync(process.execPath, [RUNNER, '--jobs', '3', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, lines, last: lines[lines.length - 1] ?? '', stderr: r.stderr };
}

/** Every file under dir, relative, sorted. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

describe('conformance suite', () => {
  it('every vector passes with the reference adapter', () => {
    const r = runSuite();
    expect(r.lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(r.last).toMatch(/^\d+ passed, 0 failed, 0 skipped$/);
    // Every version's frozen set is among them (conformance/vectors/frozen/<version>/).
    expect(r.lines.filter((l) => l.startsWith('PASS frozen/0.1.0/')).length).toBeGreaterThanOrEqual(11);
    expect(Number(r.last.split(' ')[0])).toBeGreaterThanOrEqual(81);
    expect(r.status).toBe(0);
  });

  it('the runner fails an adapter that reads everything as an empty archive, and one that hangs', () => {
    const dir = tempDir('conf-adapter');
    const lazy = join(dir, 'lazy.mjs');
    writeFileSync(lazy, `process.stdin.resume(); process.stdin.on('end', () => console.log(JSON.stringify({ version: null, features: { compat: [], rocompat: [], incompat: [] }, warnings: [], entries: [] })));\n`);
    const r = runSuite(['--adapter', `"${process.execPath}" "${lazy}"`]);
    expect(r.status).toBe(1);
    expect(r.lines).toContain('FAIL malformed/n_bad-checksum: must be refused with exit 2, got exit 0');
    expect(r.lines).toContain('FAIL 1.0/y_portarc-full: version: expected "1.0", got null');
    expect(r.lines).toContain('FAIL 1.0/y_gnutar-v7: entries: expected 6, got 0 (missing: "v7")');
    expect(r.lines).toContain('PASS malformed/i_acl-text-unreadable');
    expect(r.lines).toContain('PASS malformed/i_zip64-locator-past-end');
    expect(r.last).toMatch(/^2 passed, \d+ failed, 0 skipped$/);

    const hang = join(dir, 'hang.mjs');
    writeFileSync(hang, `setInterval(() => {}, 1000);\n`);
    const h = runSuite(['--adapter', `"${process.execPath}" "${hang}"`, '--timeout', '1', '--filter', 'future/n_major']);
    expect(h.lines).toEqual(['FAIL future/n_major-version-2: timeout: no answer within 1 s', '0 passed, 1 failed, 0 skipped']);
    expect(h.status).toBe(1);
  });
});

describe('the runner counts notices apart from warnings', () => {
  // A wrapper around the reference adapter that reports notices the old way (as warnings, exit 1),
  // and one that drops them: both must fail the unknown-key vectors.
  const wrapper = (mode: 'as-warnings' | 'dropped') => {
    const file = join(tempDir('conf-notices'), `${mode}.mjs`);
    writeFileSync(
      file,
      `import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const r = spawnSync(process.execPath, [${JSON.stringify(join(ROOT, 'conformance', 'adapters', 'portarc.mjs'))}], { input: readFileSync(0), encoding: 'utf8' });
if (r.status !== 0 && r.status !== 1) process.exit(r.status);
const doc = JSON.parse(r.stdout);
${mode === 'as-warnings' ? 'doc.warnings.push(...doc.notices);' : ''}
doc.notices = [];
process.stdout.write(JSON.stringify(doc), () => process.exit(doc.warnings.length ? 1 : 0));
`,
    );
    return runSuite(['--adapter', `"${process.execPath}" "${file}"`, '--filter', 'future/y_unknown-vendor-key']);
  };

  it('notices reported as warnings (exit 1) fail; dropped notices fail', () => {
    const w = wrapper('as-warnings');
    expect(w.lines.filter((l) => /^FAIL future\/y_unknown-vendor-key(-global)?: exit: expected 0, got 1/.test(l))).toHaveLength(2);
    expect(w.last).toBe('0 passed, 2 failed, 0 skipped');
    const d = wrapper('dropped');
    expect(d.lines.filter((l) => /^FAIL future\/y_unknown-vendor-key(-global)?: notices: expected 1, got 0/.test(l))).toHaveLength(2);
    expect(d.last).toBe('0 passed, 2 failed, 0 skipped');
  });
});

describe('future vectors through the CLI', () => {
  const extract = (vector: string) => {
    const out = join(tempDir('conf-future'), 'out');
    const r = portarc(['extract', '-f', join(FUTURE, vector), '-C', out]);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning'));
    const notes = r.stderr.split('\n').filter((l) => l.startsWith('portarc: note:'));
    return { ...r, out, warnings, notes };
  };
  const files = ['fut', join('fut', 'a.txt'), join('fut', 'b.txt')];
  const contentOk = (out: string) => {
    expect(readFileSync(join(out, 'fut', 'a.txt'), 'utf8')).toBe('first file\n');
    expect(readFileSync(join(out, 'fut', 'b.txt'), 'utf8')).toBe('second file\n');
  };

  it('unknown keys (global PORTARC.newthing, per-member ACME.colour): extracts everything, one note line per key, exit 0 (spec §6.5: notices)', () => {
    const r = extract('y_unknown-keys-both.tar');
    expect(tree(r.out)).toEqual(files);
    contentOk(r.out);
    for (const key of ['PORTARC.newthing', 'ACME.colour']) {
      expect(r.notes.filter((l) => l.includes(key)), `${key} in:\n${r.stderr}`).toHaveLength(1);
    }
    // Notices are notes: printed as warnings, they contradicted the exit code 0.
    expect(r.notes).toHaveLength(2);
    expect(r.warnings).toEqual([]);
    expect(r.status).toBe(0);
    // --strict keeps its meaning (losses fail): an unknown keyword loses nothing.
    const s = portarc(['extract', '--strict', '-f', join(FUTURE, 'y_unknown-keys-both.tar'), '-C', join(tempDir('conf-strict'), 'out')]);
    expect(s.status, s.stderr).toBe(0);
    // list exits 0 too, with the same lines; --json carries them as notices.
    const l = portarc(['list', '-f', join(FUTURE, 'y_unknown-keys-both.tar')]);
    expect(l.status).toBe(0);
    expect(l.stderr.split('\n').filter((x) => x.startsWith('portarc: note:'))).toHaveLength(2);
    const j = portarc(['list', '--json', '-f', join(FUTURE, 'y_unknown-keys-both.tar')]);
    expect(j.status).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.info.notices).toHaveLength(1);
    expect(doc.info.warnings).toEqual([]);
    expect(doc.entries[1].notices).toEqual(['unknown pax keyword "ACME.colour" ignored']);
    expect(doc.entries[1].warnings).toBeUndefined();
  });

  it('unknown vendor key in the global header: extracts everything, one note line (not one per member), exit 0', () => {
    const r = extract('y_unknown-vendor-key-global.tar');
    expect(tree(r.out)).toEqual(files);
    contentOk(r.out);
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toContain('ACME.colour');
    expect(r.warnings).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('unknown compat feature: extracts everything silently, exit 0', () => {
    const r = extract('y_compat-feature.tar');
    expect(tree(r.out)).toEqual(files);
    contentOk(r.out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('unknown read-only-compatible feature: extracts everything, one warning naming it, exit 1', () => {
    const r = extract('y_rocompat-feature.tar');
    expect(tree(r.out)).toEqual(files);
    contentOk(r.out);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('shiny');
    expect(r.status).toBe(1);
  });

  it('unknown incompatible feature: exit 2, names the feature, extracts nothing', () => {
    const r = extract('n_incompat-feature.tar');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('shiny');
    expect(tree(r.out)).toEqual([]);
  });

  it('new major version: exit 2, names the version, extracts nothing', () => {
    const r = extract('n_major-version-2.tar');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('2.0');
    expect(tree(r.out)).toEqual([]);
  });
});

describe('malformed vectors through the CLI: refused, and nothing wrong extracted', () => {
  // The hand-made n_ vectors (tools/craft.py) hold a good m/a.txt first, then the damage; the others
  // (a fuzz find, a corrupt zstd frame, junk after a gzip stream) are checked for the refusal and
  // for leftovers only.
  const vectors = readdirSync(MALFORMED).filter((n) => n.startsWith('n_') && /\.(tar(\.gz|\.zst)?|zip)$/.test(n));
  const crafted = (n: string) => !/^n_(fuzz|zstd|gzip|zip|zip64)-/.test(n);
  it('has vectors', () => expect(vectors.filter(crafted).length).toBeGreaterThanOrEqual(6));
  for (const vector of vectors) {
    it(vector, () => {
      const out = join(tempDir('conf-malformed'), 'out');
      const r = portarc(['extract', '-f', join(MALFORMED, vector), '-C', out]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/error/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      const got = tree(out);
      expect(got.filter((p) => /\.portarc-\d+-\d+\.tmp$/.test(p))).toEqual([]);
      if (crafted(vector)) {
        // Only the member before the damage, whole; no partial or temporary file.
        expect(got).toEqual(['m', join('m', 'a.txt')]);
        expect(readFileSync(join(out, 'm', 'a.txt'), 'utf8')).toBe('first file\n');
      }
    });
  }
});

describe('restore rules of issue #9 through the CLI (vectors 1.0/y_backslash-names, y_absolute-symlinks, y_acl-no-mask)', () => {
  const V10 = join(ROOT, 'conformance', 'vectors', '1.0');
  const extract = (vector: string) => {
    const out = join(tempDir('conf-rules'), 'out');
    const r = portarc(['extract', '-f', join(V10, vector), '-C', out]);
    expect(r.status, r.stderr).toBe(0);
    return out;
  };

  it('backslashes and drive letters are part of a name on POSIX: extracted under their literal names', () => {
    const out = extract('y_backslash-names.tar');
    expect(tree(out)).toEqual(['w', join('w', 'C:\\x.txt'), join('w', 'a\\b.txt'), 'w\\..\\up.txt']);
    expect(readFileSync(join(out, 'w\\..\\up.txt'), 'utf8')).toBe('not a parent\n');
  });

  it('symlinks with absolute or climbing targets are restored verbatim, and the file after them too', () => {
    const out = extract('y_absolute-symlinks.tar');
    expect(readlinkSync(join(out, 's', 'abs'))).toBe('/etc/passwd');
    expect(readlinkSync(join(out, 's', 'up'))).toBe('../../outside');
    expect(readFileSync(join(out, 's', 'f.txt'), 'utf8')).toBe('after the links\n');
  });

  it('ACLs without a mask get the mask setfacl computes, and the mode takes its group bits', () => {
    const out = extract('y_acl-no-mask.tar');
    const acl = (p: string) => spawnSync('getfacl', ['-n', '-p', '-c', p], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(acl(join(out, 'a'))).toEqual(['user::rwx', 'user:1000:r-x', 'group::r-x', 'mask::r-x', 'other::---', 'default:user::rwx', 'default:group::r-x', 'default:group:1001:rwx', 'default:mask::rwx', 'default:other::---']);
    expect(acl(join(out, 'a', 'f.txt'))).toEqual(['user::rw-', 'user:1000:rw-', 'group::r--', 'mask::rw-', 'other::---']);
    expect(statSync(join(out, 'a', 'f.txt')).mode & 0o7777).toBe(0o660);
    expect(statSync(join(out, 'a')).mode & 0o7777).toBe(0o750);
  });
});
