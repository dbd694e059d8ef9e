// create's packed path (src/tar/pack.ts, native/pack.c): small files the scan encodes as whole tar
// members in C must give the archive the JS writer gives, byte for byte, whatever their names,
// sizes, times, owners and modes, and leave to the JS writer everything it encodes otherwise
// (long paths, owners without a ustar name, xattrs, negative times, the reserved names, the
// archive itself). Spec: spec/portarc-1.md §4–§5; spec/manifest.md §7 (the digests per member).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { create } from '../src/api/create.js';
import { packStats } from '../src/tar/pack.js';
import { runDigestStats } from '../src/integrity/run-digests.js';
import { F, SCAN_CONTENT, SCAN_FIELDS, SCAN_PACKED, loadSys } from '../src/fs/sys.js';
import { portarc } from './helpers/cli.js';
import { withoutPacking } from './helpers/no-pack.js';
import { isRoot, sh, tempDir } from './helpers/tree.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let tree: string;

beforeAll(() => {
  dir = tempDir('pack');
  tree = join(dir, 'tree');
  mkdirSync(tree);
  const put = (rel: string, n: number, seed = rel) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = (i * 31 + seed.length * 7 + seed.charCodeAt(0)) & 0xff;
    writeFileSync(join(tree, rel), out);
  };
  mkdirSync(join(tree, 'sizes'));
  for (const n of [0, 1, 100, 511, 512, 513, 1024, 4095, 65536, (256 << 10) - 1, 256 << 10, (256 << 10) + 1, 1 << 20]) put(`sizes/s${n}`, n);
  // Several buffers' worth: the native batch stops where its 2 MiB buffer is full.
  mkdirSync(join(tree, 'full'));
  for (let i = 0; i < 24; i++) put(`full/f${String(i).padStart(2, '0')}`, 200_000 + i);
  // More items than one native batch (512).
  mkdirSync(join(tree, 'many'));
  for (let i = 0; i < 700; i++) put(`many/${String(i).padStart(4, '0')}`, (i * 37) % 3000);
  // Names: ustar name lengths 99-101, a prefix split, one only a pax path can hold, bytes the
  // manifest escapes, UTF-8, not UTF-8, a backslash.
  mkdirSync(join(tree, 'names'));
  for (const n of [99, 100, 101]) put(`names/${'n'.repeat(n - 'tree/names/'.length)}`, 10); // member paths of n bytes
  const deep = join('names', 'p'.repeat(120));
  mkdirSync(join(tree, deep));
  put(join(deep, 'q'.repeat(90)), 20); // 6 + 120 + 1 + 90: split into prefix and name
  put(join(deep, 'r'.repeat(99)), 20); // name part 99: still fits
  const deeper = join(deep, 's'.repeat(140));
  mkdirSync(join(tree, deeper));
  put(join(deeper, 'over'), 20); // 277 bytes: a pax path record
  for (const n of ['a&b<c>"d"', '100%', 'tab\there', 'é-ü-✓', 'back\\slash', ' lead space', 'trail.']) put(`names/${n}`, 7);
  writeFileSync(Buffer.concat([Buffer.from(join(tree, 'names/bad-')), Buffer.from([0xff, 0xfe])]), 'latin');
  // Times: with and without nanoseconds, past the ustar mtime field (a pax mtime), before 1970.
  mkdirSync(join(tree, 'times'));
  for (const t of ['whole', 'frac', 'future', 'past', 'tiny']) put(`times/${t}`, 33);
  // Owners and modes (owners only as root), xattrs, links, a fifo.
  mkdirSync(join(tree, 'owners'));
  for (const o of ['root', 'daemon', 'nameless', 'huge', 'group-only']) put(`owners/${o}`, 44);
  // SELinux labels (every file has one on an SELinux system): packed with their record.
  mkdirSync(join(tree, 'labels'));
  for (const l of ['plain', 'nul', 'empty', 'long', 'utf8', 'both']) put(`labels/${l}`, 66);
  for (let i = 0; i < 100; i++) put(`labels/many${String(i).padStart(3, '0')}`, 10 + i);
  mkdirSync(join(tree, 'meta'));
  for (const m of ['setuid', 'none', 'xattr', 'hard1', 'after']) put(`meta/${m}`, 55);
  sh(
    `
    chmod 4755 meta/setuid && chmod 0000 meta/none && chmod 1777 many
    setfattr -n user.k -v value meta/xattr
    setfattr -n security.selinux -v system_u:object_r:etc_t:s0 labels/plain
    setfattr -n security.selinux -v 0x73797374656d5f753a6f626a6563745f723a6574635f743a733000 labels/nul
    setfattr -n security.selinux -v 0x00 labels/empty
    setfattr -n security.selinux -v "$(printf 'x%.0s' {1..300})" labels/long
    setfattr -n security.selinux -v 'user_u:object_r:cafÃ©_t:s0' labels/utf8
    setfattr -n security.selinux -v system_u:object_r:etc_t:s0 labels/both && setfattr -n user.other -v 1 labels/both
    for f in labels/many*; do setfattr -n security.selinux -v 0x756e636f6e66696e65645f753a6f626a6563745f723a757365725f686f6d655f743a733000 "$f"; done
    ln meta/hard1 meta/hard2 && ln -s after meta/sym && mkfifo meta/fifo
    find . -exec touch -h -d @1700000000 {} +
    touch -h -d @1700000000.123456789 times/frac
    touch -h -d @1700000000.5 sizes/s512 many/0005
    touch -h -d '2300-01-01 00:00:00.25' times/future && touch -h -a -d '2301-01-01' times/future
    touch -h -d @-86400 times/past
    touch -h -d @0.000000001 times/tiny
    touch -a -d @1600000000.987654321 sizes/s1
    `,
    tree,
  );
  if (isRoot) {
    sh(
      `chown 0:0 owners/root && chown 1:1 owners/daemon && chown 54321:54322 owners/nameless
       chown 3000000:5 owners/huge && chown 0:4000000 owners/group-only && chown 54321:0 many/0100`,
      tree,
    );
  }
  // Read everything once: relatime moves each atime on the first read, and atimes are archived
  // (an atime before the mtime moves on every read: the future file's is after it).
  sh(`find tree -type f -exec sha256sum {} + > /dev/null && find tree -type l -exec readlink {} + > /dev/null`, dir);
});

/** The archive the CLI makes of the tree, with `env` (PORTARC_NO_PACK, PORTARC_NO_NATIVE). */
function made(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Buffer {
  const out = join(dir, name);
  const r = portarc(['create', '-f', out, ...args, '-C', dir, 'tree'], { env });
  expect([r.status, r.stderr], name).toEqual([0, '']);
  return readFileSync(out);
}

describe('packed members are the bytes the JS writer makes', () => {
  for (const [suffix, args] of [['tar', []], ['tar', ['--no-manifest']], ['tar', ['--exclude', 'many/00*']], ['tar.gz', []], ['tar.zst', []]] as const) {
    it(`${suffix}${args.length ? ` ${args.join(' ')}` : ''}: packed = not packed = without the addon`, () => {
      const tag = `${suffix}${args.length}`;
      const packed = made(`packed-${tag}.${suffix}`, [...args]);
      const plain = made(`plain-${tag}.${suffix}`, [...args], { PORTARC_NO_PACK: '1' });
      const noNative = made(`js-${tag}.${suffix}`, [...args], { PORTARC_NO_NATIVE: '1' });
      expect(sha(packed)).toBe(sha(plain));
      expect(sha(packed)).toBe(sha(noNative));
      const v = portarc(['verify', '-f', join(dir, `packed-${tag}.${suffix}`)]);
      expect(v.status).toBe(0);
      expect(v.stdout).toContain(args[0] === '--no-manifest' ? 'structure only' : 'contents checked against the manifest');
    });
  }

  it('the library packs most files (the fast path ran), and the archive is the same', async () => {
    const before = { ...packStats };
    const digested = { ...runDigestStats };
    const dest = join(dir, 'lib.tar');
    const r = await create(['tree'], dest, { cwd: dir });
    const members = packStats.members - before.members;
    // Every file but the few the JS writer must encode (long path, owners, xattr, links, times < 1970...).
    expect(members).toBeGreaterThan(700);
    expect(members).toBeLessThan(r.entries);
    const runs = packStats.runs - before.runs;
    expect(runs).toBeGreaterThan(3);
    // Their digests and manifest lines were made by the addon (native/run_lines.c), a few runs a
    // job; a run right after bytes that are not a member's (none here) takes the ring's way.
    expect(runDigestStats.runs - digested.runs).toBe(runs);
    expect(runDigestStats.jobs - digested.jobs).toBeLessThan(runs);
    expect(sha(readFileSync(dest))).toBe(sha(made('lib-plain.tar', [], { PORTARC_NO_PACK: '1' })));
  });

  it('files whose only xattr is an SELinux label are packed, with the label record the JS writer writes', async () => {
    const before = packStats.members;
    const dest = join(dir, 'labels.tar');
    await create(['tree/labels'], dest, { cwd: dir });
    // many000..many099, plain, nul, empty, utf8; not long (over the packed limit) nor both (a user xattr).
    expect(packStats.members - before).toBe(104);
    await withoutPacking(() => create(['tree/labels'], join(dir, 'labels-plain.tar'), { cwd: dir }));
    expect(sha(readFileSync(dest))).toBe(sha(readFileSync(join(dir, 'labels-plain.tar'))));
    const out = join(dir, 'labels-out');
    mkdirSync(out);
    expect(portarc(['extract', '-f', dest, '-C', out]).status).toBe(0);
    const label = (f: string) => execFileSync('getfattr', ['--only-values', '-n', 'security.selinux', join(out, 'tree', 'labels', f)]).toString('latin1');
    expect(label('plain').replace(/\0$/, '')).toBe('system_u:object_r:etc_t:s0');
    expect(label('many042').replace(/\0$/, '')).toBe('unconfined_u:object_r:user_home_t:s0');
  });

  it('GNU tar extracts every packed file with its content, mode and mtime', () => {
    made('gnu.tar', []);
    const out = join(dir, 'gnu-out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'gnu.tar'), '-C', out, '--exclude', '.portarc']);
    expect(execFileSync('diff', ['-r', '--no-dereference', '-x', 'fifo', tree, join(out, 'tree')], { encoding: 'utf8' })).toBe('');
    const stat = (p: string) => execFileSync('stat', ['-c', '%a %Y %s', p], { encoding: 'utf8' });
    for (const f of ['sizes/s512', 'meta/setuid', 'times/frac', 'many/0005']) expect(stat(join(out, 'tree', f)), f).toBe(stat(join(tree, f)));
  });

  it('a reserved name is refused as without packing, and the archive inside the tree is left out', () => {
    const inside = join(dir, 'reserved');
    mkdirSync(join(inside, '.portarc'), { recursive: true });
    writeFileSync(join(inside, '.portarc', 'manifest.xml'), 'mine');
    writeFileSync(join(inside, 'a'), 'a');
    for (const env of [{}, { PORTARC_NO_PACK: '1' }]) {
      const r = portarc(['create', '-f', join(dir, 'reserved.tar'), '-C', inside, '.'], { env });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('is reserved for the archive');
    }
    const self = join(dir, 'self');
    mkdirSync(self);
    for (let i = 0; i < 5; i++) writeFileSync(join(self, `f${i}`), `file ${i}`);
    const r = portarc(['create', '-f', join(self, 'f9.tar'), '-C', self, '.']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const names = execFileSync('tar', ['-tf', join(self, 'f9.tar')], { encoding: 'utf8' }).split('\n');
    expect(names.filter((n) => n.includes('f9'))).toEqual([]);
    expect(names).toContain('./f4');
  });

  it("the manifest's spool in TMPDIR, inside the tree archived (a backup of /), is left out too", () => {
    // Found this session: past 1 MiB of manifest lines the spool went to TMPDIR, and a tree
    // holding TMPDIR archived it (tmp/portarc-zip-cd-XXXX/central), exit 0.
    const tree = join(dir, 'whole');
    mkdirSync(join(tree, 'tmp'), { recursive: true });
    mkdirSync(join(tree, 'data'));
    for (let i = 0; i < 6000; i++) writeFileSync(join(tree, 'data', `f${i}`), `${i}\n`);
    for (const env of [{}, { PORTARC_NO_PACK: '1' }, { PORTARC_NO_NATIVE: '1' }]) {
      const out = join(dir, 'whole.tar');
      const r = portarc(['create', '--no-fsync', '-f', out, '-C', tree, '.'], { env: { ...env, TMPDIR: join(tree, 'tmp') } });
      expect([r.status, r.stderr]).toEqual([0, '']);
      const names = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(names.filter((n) => !n.startsWith('./data/f'))).toEqual(['./', './data/', './tmp/', '.portarc/manifest.xml', '.portarc/trailer']);
      expect(names.length).toBe(6005);
    }
  });
});

describe('a filter sees every packed file', () => {
  /** create() in this process, packed or not (PORTARC_NO_PACK is read when the scan starts). */
  async function both(filter: (e: import('../src/model/entry.js').Entry) => boolean | Promise<boolean>): Promise<[Buffer, Buffer, number]> {
    const before = packStats.members;
    await create(['tree'], join(dir, 'f-packed.tar'), { cwd: dir, filter });
    const packed = packStats.members - before;
    await withoutPacking(() => create(['tree'], join(dir, 'f-plain.tar'), { cwd: dir, filter }));
    return [readFileSync(join(dir, 'f-packed.tar')), readFileSync(join(dir, 'f-plain.tar')), packed];
  }

  it('files it leaves out are not archived, and the archive is the one without packing', async () => {
    const seen: string[] = [];
    const [a, b, packed] = await both((e) => (seen.push(e.name), !/many\/00[0-4]\d$/.test(e.name)));
    expect(packed).toBeGreaterThan(500);
    expect(seen).toContain('tree/many/0049');
    expect(sha(a)).toBe(sha(b));
    const names = execFileSync('tar', ['-tf', join(dir, 'f-packed.tar')], { encoding: 'utf8' });
    expect(names).not.toContain('tree/many/0049\n');
    expect(names).toContain('tree/many/0050\n');
  });

  it('an async filter, and one that changes the entry it is given: the changed entry is written as changed', async () => {
    const [a, b] = await both(async (e) => {
      await new Promise((r) => setImmediate(r));
      if (e.name === 'tree/many/0007') e.mode = 0o600;
      if (e.name === 'tree/many/0008') e.mtimeNs = 1_600_000_000_000_000_000n;
      return true;
    });
    expect(sha(a)).toBe(sha(b));
    const listing = execFileSync('tar', ['-tvf', join(dir, 'f-packed.tar'), 'tree/many/0007', 'tree/many/0008'], { encoding: 'utf8' });
    expect(listing).toMatch(/^-rw------- .* tree\/many\/0007$/m);
    expect(listing).toMatch(/ 2020-09-13 \d\d:\d\d tree\/many\/0008$/m);
  });
});

describe('a batch the native scan took past a directory it left to the JS scan', () => {
  it('is scanned again after the directory: the walk into it refilled the buffer (same archive as without packing)', async () => {
    const root = join(dir, 'past');
    mkdirSync(join(root, 'mix', 'b'), { recursive: true });
    for (const n of ['a1', 'a2', 'a3', 'c1', 'c2', 'c3']) writeFileSync(join(root, 'mix', n), `${n} `.repeat(300));
    for (let i = 0; i < 20; i++) writeFileSync(join(root, 'mix', 'b', `f${i}`), `inner ${i} `.repeat(200));
    sh(`find . -exec touch -h -d @1700000000 {} + && find . -type f -exec sha256sum {} + > /dev/null`, root);
    const sys = loadSys();
    const real = sys.scanBatch!;
    let faked = 0;
    // As if the lstat of `mix/b` had failed in C (it is then done by the JS scan): the call goes on
    // past it, and packs c1..c3 into the same buffer.
    sys.scanBatch = (paths, start, end, fields, buf, readMax, sparse, pack) => {
      const j = paths.findIndex((p, i) => i >= start && i < end - 1 && p.toString().endsWith('/mix/b'));
      if (j < 0) return real(paths, start, end, fields, buf, readMax, sparse, pack);
      const before = real(paths, start, j, fields, buf, readMax, sparse, pack);
      if (before.length !== j - start) return before;
      let used = 0;
      for (let k = 0; k < before.length; k++) {
        const at = k * SCAN_FIELDS;
        if (Number(fields[at + F.FLAGS]) & (SCAN_PACKED | SCAN_CONTENT)) used = Math.max(used, Number(fields[at + F.OFFSET] + fields[at + F.LENGTH]));
      }
      const tmpFields = new BigInt64Array(fields.length);
      const tmpBuf = Buffer.alloc(buf.length - used);
      const after = real(paths, j + 1, end, tmpFields, tmpBuf, readMax, sparse, pack);
      fields.fill(0n, (j - start) * SCAN_FIELDS, (j - start + 1) * SCAN_FIELDS);
      for (let k = 0; k < after.length; k++) {
        const from = k * SCAN_FIELDS;
        const to = (j - start + 1 + k) * SCAN_FIELDS;
        fields.set(tmpFields.subarray(from, from + SCAN_FIELDS), to);
        if (Number(fields[to + F.FLAGS]) & (SCAN_PACKED | SCAN_CONTENT)) fields[to + F.OFFSET] += BigInt(used);
      }
      tmpBuf.copy(buf, used);
      faked++;
      return [...before, null, ...after];
    };
    try {
      await create(['mix'], join(dir, 'past.tar'), { cwd: root });
    } finally {
      sys.scanBatch = real;
    }
    expect(faked).toBe(1);
    await withoutPacking(() => create(['mix'], join(dir, 'past-plain.tar'), { cwd: root }));
    expect(sha(readFileSync(join(dir, 'past.tar')))).toBe(sha(readFileSync(join(dir, 'past-plain.tar'))));
    const out = join(dir, 'past-out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'past.tar'), '-C', out]);
    expect(readFileSync(join(out, 'mix', 'c2'), 'utf8')).toBe('c2 '.repeat(300));
  });
});

describe('onEntry and -v see every packed file', () => {
  it('the library: the same entries, in the same order, as without packing', async () => {
    const shown = (e: import('../src/model/entry.js').Entry) => JSON.stringify({ ...e, xattrs: [...e.xattrs] }, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    const run = async (name: string) => {
      const got: string[] = [];
      await create(['tree'], join(dir, name), { cwd: dir, onEntry: (e) => got.push(shown(e)) });
      return got;
    };
    const before = packStats.members;
    const packed = await run('on-packed.tar');
    expect(packStats.members - before).toBeGreaterThan(500);
    const plain = await withoutPacking(() => run('on-plain.tar'));
    expect(packed.length).toBeGreaterThan(700);
    expect(packed).toEqual(plain);
    expect(sha(readFileSync(join(dir, 'on-packed.tar')))).toBe(sha(readFileSync(join(dir, 'on-plain.tar'))));
  });

  it('the CLI: -v lists the same names', () => {
    const a = portarc(['create', '-v', '-f', join(dir, 'v1.tar'), '-C', dir, 'tree']);
    const b = portarc(['create', '-v', '-f', join(dir, 'v2.tar'), '-C', dir, 'tree'], { env: { PORTARC_NO_PACK: '1' } });
    expect(a.status).toBe(0);
    expect(a.stderr.split('\n').length).toBeGreaterThan(700);
    expect(a.stderr).toBe(b.stderr);
  });
});
