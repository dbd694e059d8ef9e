// Every command's --json output parses and matches the schema documented in docs/cli-json.md
// (issue #12 acceptance), on real trees and archives, clean and damaged.
import { describe, expect, it } from 'vitest';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portarc } from './helpers/cli.js';
import { buildTree, sh, tempDir } from './helpers/tree.js';
import { documentedSchemas, validate } from './helpers/json-schema.js';

const schemas = documentedSchemas();
const { definitions, ...commands } = schemas;

function conforms(command: string, stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  expect(validate(doc, schemas[command]!, definitions as never)).toEqual([]);
  return doc;
}

describe('--json documents (docs/cli-json.md)', () => {
  const dir = tempDir('json');
  const src = buildTree(dir);

  it('documents a schema for every command that takes --json', () => {
    expect(Object.keys(commands).sort()).toEqual(['convert', 'create', 'extract', 'info', 'list', 'verify', 'verify-tree']);
    for (const name of Object.keys(commands)) {
      const help = portarc([name === 'verify-tree' ? 'verify' : name, '--help']);
      expect(help.stdout, name).toContain('--json');
    }
  });

  it('the validator rejects what breaks a schema (the test can fail)', () => {
    const create = schemas.create!;
    const good = { command: 'create', archive: 'a', entries: 1, bytes: 2, warnings: [], notices: [], losses: [], exitCode: 0 };
    expect(validate(good, create, definitions as never)).toEqual([]);
    expect(validate({ ...good, extra: 1 }, create, definitions as never)).not.toEqual([]);
    expect(validate({ ...good, entries: '1' }, create, definitions as never)).not.toEqual([]);
    expect(validate({ ...good, exitCode: 3 }, create, definitions as never)).not.toEqual([]);
    const { bytes: _, ...missing } = good;
    expect(validate(missing, create, definitions as never)).not.toEqual([]);
  });

  it('create, list, info, verify, convert and extract', () => {
    for (const name of ['a.tar', 'a.tar.zst', 'a.zip']) {
      const archive = join(dir, name);
      const c = portarc(['create', '-f', archive, '--json', '-C', src, '.']);
      expect(c.status, c.stderr).toBeLessThanOrEqual(1);
      const created = conforms('create', c.stdout);
      expect(created.entries).toBeGreaterThan(10);
      expect(created.exitCode).toBe(c.status);

      const l = portarc(['list', '-f', archive, '--json']);
      expect(l.status, l.stderr).toBe(0);
      const listed = conforms('list', l.stdout);
      expect((listed.entries as unknown[]).length).toBe(created.entries);

      const i = portarc(['info', '-f', archive, '--json']);
      expect(i.status, i.stderr).toBe(0);
      const info = conforms('info', i.stdout);
      expect(info).toMatchObject({ container: name.endsWith('.zip') ? 'zip' : 'tar', compression: name.endsWith('.zst') ? 'zstd' : 'none', specVersion: '1.0', entries: created.entries, method: 'manifest' });

      const v = portarc(['verify', '-f', archive, '--json']);
      expect(v.status, v.stderr).toBe(0);
      expect(conforms('verify', v.stdout).ok).toBe(true);

      const out = join(dir, `x-${name}`);
      const x = portarc(['extract', '-f', archive, '-C', out, '--json']);
      expect(x.status, x.stderr).toBeLessThanOrEqual(1);
      const extracted = conforms('extract', x.stdout);
      expect(extracted.exitCode).toBe(x.status);
      expect(extracted.entries).toBe(created.entries);

      // verify -C: the restored tree, clean and then with one difference.
      const same = portarc(['verify', '-f', archive, '-C', out, '--json']);
      expect(same.status, same.stderr).toBeLessThanOrEqual(1);
      expect(conforms('verify-tree', same.stdout).ok).toBe(true);
      const f = readdirSync(out, { recursive: true, withFileTypes: true }).find((d) => d.isFile() && /^[\w.-]+$/.test(d.name))!;
      chmodSync(join(f.parentPath, f.name), 0o600);
      const differs = portarc(['verify', '-f', archive, '-C', out, '--json']);
      expect(differs.status).toBe(2);
      expect((conforms('verify-tree', differs.stdout).differences as Array<{ property: string }>).map((d) => d.property)).toContain('mode');
    }
    // Recovery data embedded in the file: verify says so (embeddedRecovery) and reports it (recovery).
    const e = join(dir, 'e.tar');
    expect(portarc(['create', '-q', '--embed-recovery', '--recovery', '10', '-f', e, '-C', src, '.']).status).toBeLessThanOrEqual(1);
    const ev = portarc(['verify', '-f', e, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(conforms('verify', ev.stdout)).toMatchObject({ ok: true, embeddedRecovery: true, recovery: { embedded: true } });
    const cv = portarc(['convert', join(dir, 'a.tar'), join(dir, 'b.zip'), '--json']);
    expect(cv.status, cv.stderr).toBeLessThanOrEqual(1);
    expect(conforms('convert', cv.stdout)).toMatchObject({ from: 'tar', to: 'zip', exitCode: cv.status });
  });

  it('info on a GNU tar archive (no portarc version) and from stdin', () => {
    const gnu = join(dir, 'gnu.tar');
    sh(`tar cf ${gnu} -C ${src} d`);
    const i = portarc(['info', '-f', gnu, '--json']);
    expect(i.status, i.stderr).toBe(0);
    const info = conforms('info', i.stdout);
    expect(info).toMatchObject({ specVersion: null, creator: null, method: 'stream', container: 'tar' });
    expect(info.entries).toBe(Number(sh(`tar tf ${gnu} | wc -l`)));
    const s = portarc(['info', '-f', '-', '--json'], { input: readFileSync(join(dir, 'a.tar')) });
    expect(s.status, s.stderr).toBe(0);
    expect(conforms('info', s.stdout)).toMatchObject({ archive: '(stdin)', size: null, specVersion: '1.0' });
  });

  it('damage: verify and extract print their document and exit 2', () => {
    const archive = join(dir, 'bad.tar');
    sh(`cp ${join(dir, 'a.tar')} ${archive}`);
    const buf = readFileSync(archive);
    const at = buf.indexOf('hello portarc');
    expect(at).toBeGreaterThan(0);
    buf[at] ^= 0xff;
    writeFileSync(archive, buf);
    const v = portarc(['verify', '-f', archive, '--json']);
    expect(v.status).toBe(2);
    expect(conforms('verify', v.stdout).ok).toBe(false);
    const x = portarc(['extract', '-f', archive, '-C', join(dir, 'bad-out'), '--json']);
    expect(x.status).toBe(2);
    const doc = conforms('extract', x.stdout);
    expect(doc.exitCode).toBe(2);
    expect((doc.damaged as { path?: string }[]).map((d) => d.path)).toContain('./d/hello.txt');
  });

  it('a .tar.gz whose gzip CRC fails at its end: list --json is still one document (exit 2); extract -O names the file whose bytes went out wrong', () => {
    // list printed half a document (no closing "]}"); -O printed only the gzip error, the file
    // the manifest had named (its wrong bytes already on stdout) was dropped from the report.
    const t = join(dir, 'gz-src');
    sh(`mkdir -p ${t}/s && head -c 200000 /dev/urandom > ${t}/s/rand.bin && echo hi > ${t}/s/z.txt`);
    const gz = join(dir, 'a.tar.gz');
    expect(portarc(['create', '-q', '-f', gz, '-C', t, 's']).status).toBe(0);
    const b = readFileSync(gz);
    b[100000]! ^= 1;
    const bad = join(dir, 'bad.tar.gz');
    writeFileSync(bad, b);
    const l = portarc(['list', '--json', '-f', bad]);
    expect(l.status).toBe(2);
    conforms('list', l.stdout);
    expect(l.stderr).toMatch(/gzip: the data of the member .* does not match its trailer/);
    const o = portarc(['extract', '-O', '-f', bad, 's/rand.bin']);
    expect(o.status).toBe(2);
    expect(o.stderr).toMatch(/entry "s\/rand\.bin", bytes \d+-\d+: content does not match the manifest/);
  });

  it('a failure before any result prints nothing on stdout', () => {
    const r = portarc(['info', '-f', join(dir, 'missing.tar'), '--json']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/missing\.tar/);
  });
});
