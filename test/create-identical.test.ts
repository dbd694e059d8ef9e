// The fast create path (the native batched scan, src/fs/scan.ts + native/scan.c) must not change a
// byte: archives of a fixed tree made through it, through the JS scan, and by the code as it was
// before it existed (hashes stored in test/fixtures/create-expected.json) are identical, for tar,
// tar.gz, tar.zst and zip. Spec: spec/portarc-1.md §4–§5 (what is written).
//
// A tree's ctime cannot be set, and atime moves when files are read, so the stored comparison
// fixes both (and the owners) in the scanned entries; the path-vs-path comparisons take the tree as
// it is. Compressed bytes depend on the zlib/libzstd build, so the stored hashes of tar.gz and
// tar.zst are of their decompressed tar streams; the paths are compared on the compressed bytes.
// Set PORTARC_WRITE_EXPECTED=1 to rewrite the fixture after a deliberate format change.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, type CreateOptions } from '../src/api/create.js';
import { scan, type ScannedEntry } from '../src/fs/scan.js';
import { F, SCAN_CONTENT, SCAN_FIELDS, SCAN_STAT, SCAN_XATTRS, loadSys, type Sys } from '../src/fs/sys.js';
import { zstdDecompress } from '../src/compress/index.js';
import { portarc } from './helpers/cli.js';
import { sh, tempDir } from './helpers/tree.js';

const FIXTURE = new URL('./fixtures/create-expected.json', import.meta.url);
const MTIME = '@1700000000.25';

/** Seeded bytes: the same tree on every machine. */
function bytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < n; at += block.length) {
    block.copy(out, at, 0, Math.min(block.length, n - at));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

let dir: string;
let tree: string;

beforeAll(() => {
  dir = tempDir('identical');
  tree = join(dir, 'tree');
  mkdirSync(tree);
  const files: Array<[string, number]> = [
    ['empty', 0],
    ['one', 1],
    ['block-1', 511],
    ['block', 512],
    ['block+1', 513],
    ['page', 4096],
    ['64k', 65536],
    ['64k+1', 65537],
    ['mib', 1 << 20],
    ['mib+1', (1 << 20) + 1],
    ['big', 3 * (1 << 20) + 17],
  ];
  mkdirSync(join(tree, 'sizes'));
  for (const [name, n] of files) writeFileSync(join(tree, 'sizes', name), bytes(name, n));
  mkdirSync(join(tree, 'many'));
  for (let i = 0; i < 300; i++) writeFileSync(join(tree, 'many', `f${String(i).padStart(3, '0')}`), bytes(`many${i}`, (i * 97) % 9000));
  writeFileSync(join(tree, Buffer.concat([Buffer.from('odd-'), Buffer.from([0xff, 0xfe])]).toString('latin1')), 'x');
  writeFileSync(Buffer.concat([Buffer.from(tree + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]), 'not utf-8');
  const long = ['long', 'a'.repeat(90), 'b'.repeat(90), 'c'.repeat(90)].join('/');
  sh(
    `
    mkdir -p "$(dirname '${long}')" && printf 'long path' > '${long}'
    mkdir -p meta && printf 'labelled' > meta/label && printf 'attrs' > meta/attrs
    setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' meta/label
    setfattr -n user.text -v 'plain text' meta/attrs && setfattr -n user.binary -v 0x00ff0a3d0001 meta/attrs
    setfattr -n user.empty meta/attrs && setfattr -n user.dir -v 0xdeadbeef meta
    setfacl -m u:54321:rwx,g:54322:r-x,m::rwx meta && setfacl -d -m u::rwx,u:54321:r-x,g::r-x,m::r-x,o::- meta
    setfacl -m u:54321:rw- meta/label
    printf 'linked' > meta/hard1 && ln meta/hard1 meta/hard2 && ln meta/hard1 meta/hard3
    ln -s label meta/symlink && ln -s ../nowhere meta/dangling && mkfifo meta/fifo
    chmod -R u=rwX,go=rX . && chmod 4755 meta/label && chmod 0600 meta/attrs && chmod 1777 many
    find . -exec touch -h -d ${MTIME} {} +
    touch -h -d @1600000000.987654321 meta/attrs && touch -h -d @-86400.5 sizes/one
    `,
    tree,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The scanned entries with what a tree cannot fix (ctime, atime, owners) set to constants. */
async function* fixed(entries: AsyncIterable<ScannedEntry>): AsyncGenerator<ScannedEntry> {
  for await (const item of entries) {
    Object.assign(item.entry, { atimeNs: 1_700_000_001_500_000_000n, ctimeNs: 1_700_000_002_000_000_007n, uid: 0, gid: 0, uname: 'root', gname: 'root' });
    yield item;
  }
}

type Kind = 'tar' | 'tar.gz' | 'tar.zst' | 'zip' | 'zip-store';
const KINDS: Kind[] = ['tar', 'tar.gz', 'tar.zst', 'zip', 'zip-store'];

/** Like create() on paths, with the scan's Sys chosen and the entries fixed. */
async function archive(kind: Kind, sys: Sys, tag: string): Promise<Buffer> {
  const zip = kind.startsWith('zip');
  const dest = join(dir, `${tag}.${zip ? 'zip' : kind}`);
  const opts: CreateOptions = { threads: 2, ...(kind === 'zip-store' ? { zipMethod: 'store' } : {}) };
  const entries = scan(['tree'], { cwd: dir, sys, reuseBuffers: !zip, hardlinkContent: zip });
  await create(fixed(entries), dest, opts);
  return readFileSync(dest);
}

async function tarStream(kind: Kind, data: Buffer): Promise<Buffer> {
  if (kind === 'tar.gz') return gunzipSync(data);
  if (kind === 'tar.zst') {
    const parts: Buffer[] = [];
    for await (const p of zstdDecompress((async function* () { yield data; })())) parts.push(p);
    return Buffer.concat(parts);
  }
  return data;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const native = () => loadSys();
/** The native Sys without its batched scan: the scan's JS path. */
const jsScan = (): Sys => ({ ...loadSys(), scanBatch: undefined }) as Sys;

describe('create writes the same bytes whichever scan path runs', () => {
  it('the native batched scan is available where the addon is built', () => {
    expect(native().kind).toBe('native');
    expect(typeof (native() as Sys & { scanBatch?: unknown }).scanBatch).toBe('function');
  });

  it('matches the archives stored from the writer before the batched scan (tar, tar.gz, tar.zst, zip)', async () => {
    const got: Record<string, string> = {};
    for (const kind of KINDS) got[kind] = sha(await tarStream(kind, await archive(kind, native(), `stored-${kind}`)));
    if (process.env.PORTARC_WRITE_EXPECTED === '1') {
      mkdirSync(new URL('./fixtures/', import.meta.url), { recursive: true });
      writeFileSync(FIXTURE, JSON.stringify(got, null, 2) + '\n');
    }
    expect(got).toEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')));
  });

  it('native and JS scans give identical archives, compressed bytes included', async () => {
    for (const kind of KINDS) {
      const a = await archive(kind, native(), `native-${kind}`);
      const b = await archive(kind, jsScan(), `js-${kind}`);
      expect(a.length, kind).toBeGreaterThan(4 << 20);
      expect(sha(a), kind).toBe(sha(b));
    }
  });

  it('the CLI writes the same archive with and without the addon (PORTARC_NO_NATIVE=1)', () => {
    // A first read moves atimes (relatime), and the zip stores them: read everything once before.
    for (const name of ['warm.tar']) expect(portarc(['create', '-f', join(dir, name), '-C', dir, 'tree']).status).toBe(0);
    // (Not zip: the zip writer keeps xattrs in the order the system lists them, and the fallback's
    // getfattr sorts them; the library test above compares zips made with the addon's xattrs.)
    for (const name of ['cli.tar', 'cli.tar.zst']) {
      const a = portarc(['create', '-f', join(dir, `n-${name}`), '-C', dir, 'tree']);
      const b = portarc(['create', '-f', join(dir, `j-${name}`), '-C', dir, 'tree'], { env: { PORTARC_NO_NATIVE: '1' } });
      expect([a.status, a.stderr]).toEqual([0, '']);
      expect([b.status, b.stderr]).toEqual([0, '']);
      expect(sha(readFileSync(join(dir, `n-${name}`))), name).toBe(sha(readFileSync(join(dir, `j-${name}`))));
    }
    // Every file's content round-trips through GNU tar too (not only portarc's own reader).
    const out = join(dir, 'gnu');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'n-cli.tar'), '-C', out]);
    expect(execFileSync('diff', ['-r', '--no-dereference', '-x', 'fifo', tree, join(out, 'tree')], { encoding: 'utf8' })).toBe('');
  });
});

describe('the native batched scan hands back to the JS scan what it did not do', () => {
  /** The native Sys whose scanBatch results are altered by `edit` (fields of item k) before the scan reads them. */
  const edited = (edit: (f: BigInt64Array, at: number, k: number) => void): Sys => {
    const sys = loadSys();
    return {
      ...sys,
      scanBatch(paths, start, end, fields, buf, readMax, sparse) {
        const r = sys.scanBatch!(paths, start, end, fields, buf, readMax, sparse);
        for (let k = 0; k < r.length; k++) edit(fields, k * SCAN_FIELDS, k);
        return r;
      },
    } as Sys;
  };
  const tarOf = async (sys: Sys, tag: string) => {
    const dest = join(dir, `${tag}.tar`);
    const r = await create(fixed(scan(['tree'], { cwd: dir, sys, reuseBuffers: true })), dest);
    return { bytes: readFileSync(dest), warnings: r.warnings };
  };

  it('steps left undone (no lstat, no xattrs, no content) are done by the JS scan: the same archive', async () => {
    const want = await tarOf(jsScan(), 'undone-js');
    let touched = 0;
    for (const [flag, tag] of [[SCAN_STAT, 'stat'], [SCAN_XATTRS, 'xattrs'], [SCAN_CONTENT, 'content']] as const) {
      const sys = edited((f, at, k) => {
        // Every other item: as if that step had failed in C.
        if (k % 2 === 0 && Number(f[at + F.FLAGS]) & flag) {
          f[at + F.FLAGS] = BigInt(flag === SCAN_STAT ? 0 : Number(f[at + F.FLAGS]) & ~flag);
          touched++;
        }
      });
      const got = await tarOf(sys, `undone-${tag}`);
      expect(got.warnings, tag).toEqual([]);
      expect(sha(got.bytes), tag).toBe(sha(want.bytes));
    }
    expect(touched).toBeGreaterThan(300);
  });

  it('a change its fstat saw after reading a file is tar\'s "file changed as we read it" warning', async () => {
    let changed = 0;
    const sys = edited((f, at) => {
      if (Number(f[at + F.FLAGS]) & SCAN_CONTENT && Number(f[at + F.SIZE]) === 4096) {
        f[at + F.MTIME_AFTER] = f[at + F.MTIME]! + 1n;
        changed++;
      }
      if (Number(f[at + F.FLAGS]) & SCAN_CONTENT && Number(f[at + F.SIZE]) === 65536) {
        f[at + F.SIZE_AFTER] = f[at + F.SIZE]! + 10n;
        changed++;
      }
    });
    const got = await tarOf(sys, 'changed');
    expect(changed).toBe(2);
    expect(got.warnings).toEqual(['tree/sizes/64k: file changed as we read it (grew by 10 bytes; archived the first 65536)', 'tree/sizes/page: file changed as we read it (modified)']);
  });
});

describe('create -S finds the same data runs with SEEK_DATA as by reading every byte', () => {
  it('holes, data at unaligned offsets, zeros written out, a hole at the end; only the data is read', async () => {
    const dir = tempDir('sparse-seek');
    sh(
      `mkdir s && truncate -s 3G s/big && printf a | dd of=s/big bs=1 seek=1234567891 conv=notrunc status=none
       && printf end | dd of=s/big bs=1 seek=$((3*1024*1024*1024-3)) conv=notrunc status=none
       && (printf x; head -c 50000 /dev/zero; printf y) > s/mixed && truncate -s 1M s/mixed
       && truncate -s 10M s/tail && printf start | dd of=s/tail conv=notrunc status=none
       && python3 -c "
f = open('s/many', 'wb')
for i in range(300):
    f.seek(i * 65536 + (i % 7) * 100); f.write(b'Q' * ((i % 5) * 1000 + 1))
f.close()"`.replace(/\n\s+&&/g, ' &&'),
      dir,
    );
    const sys = loadSys();
    expect(sys.dataExtents).toBeTypeOf('function');
    const runsOf = async (s: Sys) => {
      const out: Record<string, unknown> = {};
      for await (const { entry, body } of scan(['s'], { cwd: dir, sparse: true, sys: s })) {
        out[entry.name] = entry.sparse;
        if (body) for await (const _ of body()) void _;
      }
      return out;
    };
    const seeking = await runsOf(sys);
    expect(seeking).toEqual(await runsOf({ ...sys, dataExtents: undefined } as Sys));
    expect(seeking['s/big']).toEqual([
      { offset: 1234567168, length: 4096 },
      { offset: 3 * 1024 ** 3 - 4096, length: 4096 },
    ]);
    // The 3 GiB file's holes are not read: its extents are a few blocks.
    const fd = (await import('node:fs')).openSync(join(dir, 's/big'), 'r');
    try {
      expect(sys.dataExtents!(fd, 3 * 1024 ** 3)!.length).toBe(4);
    } finally {
      (await import('node:fs')).closeSync(fd);
    }
  }, 60_000);
});
