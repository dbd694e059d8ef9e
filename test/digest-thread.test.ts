// The manifest's digests computed off the main thread (src/integrity/hash-ring.ts; spec/manifest.md
// §7): the archive is the same byte for byte whether the hashing runs off the main thread (the
// addon on libuv's threadpool, or a worker thread without it) or in the calling thread, for tar,
// tar.gz, tar.zst and zip, on a real tree with every kind of entry and files larger than the ring,
// and on 5,000 entries made by the caller; `verify` (an independent reader of every digest) passes
// on each; and the ring itself, and the addon's batches, agree with plain SHA-256 over random
// chunkings, ranges and digests.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError, create, makeEntry } from '../src/api/index.js';
import { HashRing, hashWorkerStats, type HashMode } from '../src/integrity/hash-ring.js';
import { nativeHashing } from '../src/integrity/native-hash.js';
import { portarc } from './helpers/cli.js';
import { buildTree, tempDir } from './helpers/tree.js';

const MiB = 1 << 20;
const dir = tempDir('digest-thread');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Hashers started off the main thread: worker threads and the addon's threadpool batches. */
const offThread = () => hashWorkerStats.started + hashWorkerStats.pools;

/** Run `f` with the addon's hashing turned off (PORTARC_NO_NATIVE is read when a ring is made). */
async function withoutAddon<T>(f: () => Promise<T>): Promise<T> {
  const was = process.env.PORTARC_NO_NATIVE;
  process.env.PORTARC_NO_NATIVE = '1';
  try {
    return await f();
  } finally {
    if (was === undefined) delete process.env.PORTARC_NO_NATIVE;
    else process.env.PORTARC_NO_NATIVE = was;
  }
}

/** A seeded byte generator (xorshift32): the same content in every run. */
function bytes(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Whether the manifest's digests of a tar run in a worker (the zip's content digests never take lent space). */
const workersFor = (ext: string, hashing: HashMode) => ext !== 'zip' && (hashing === 'worker' || ext === 'tar');

describe('create: worker hashing and in-thread hashing write the same bytes', () => {
  const src = buildTree(dir);
  // Larger than the 8 MiB ring (pieces, wrap-around, waits for room), odd sizes, empty files.
  mkdirSync(join(src, 'big'));
  writeFileSync(join(src, 'big/a.bin'), randomBytes(11 * MiB + 12345));
  writeFileSync(join(src, 'big/b.bin'), Buffer.alloc(MiB + 1, 0x61));
  for (let i = 0; i < 300; i++) writeFileSync(join(src, `big/s${i}.txt`), bytes(100 + i, (i * 977) % 5000));

  const formats = ['tar', 'tar.gz', 'tar.zst', 'zip'] as const;
  // A first create reads every file once: atimes settle, so the runs below see the same tree.
  it('warm-up', async () => {
    await create(['.'], join(dir, 'warm.tar'), { cwd: src, hashing: 'thread' });
  }, 60_000);

  for (const ext of formats) {
    it(`${ext}: hashing 'worker' = 'thread' = 'auto', byte for byte; verify passes`, async () => {
      const out: Record<string, Buffer> = {};
      for (const hashing of ['thread', 'worker', 'auto'] as HashMode[]) {
        const started = offThread();
        const lent = hashWorkerStats.lentBytes;
        const dest = join(dir, `${hashing}.${ext}`);
        await create(['.'], dest, { cwd: src, hashing });
        // A worker hashing a tar's big files takes them where the scan read them (no copy): 1 MiB
        // and larger chunks of the 11 MiB file, all but the file's last piece.
        if (hashing !== 'thread' && workersFor(ext, hashing)) expect(hashWorkerStats.lentBytes - lent).toBeGreaterThanOrEqual(10 * MiB);
        else expect(hashWorkerStats.lentBytes - lent).toBe(0);
        // The path asked for is the one that ran: 'auto' hashes a plain tar off this thread (at once
        // with the addon, else once the 11 MiB file comes); a compressed tar or a deflated zip hashes
        // on this thread (a core compresses).
        const workers = offThread() - started;
        const compressed = ext === 'tar.gz' || ext === 'tar.zst';
        expect(workers).toBe(hashing === 'thread' ? 0 : hashing === 'worker' ? (compressed ? 2 : 1) : compressed || ext === 'zip' ? 0 : 1);
        out[hashing] = readFileSync(dest);
      }
      expect(out.worker!.length).toBeGreaterThan(11 * MiB);
      expect(sha(out.worker!)).toBe(sha(out.thread!));
      expect(sha(out.auto!)).toBe(sha(out.thread!));
      const v = portarc(['verify', '-f', join(dir, `worker.${ext}`)]);
      expect(v.status, v.stdout + v.stderr).toBe(0);
    }, 120_000);
  }

  it("'auto' starts no worker thread for a tree of small files (4 MiB in all; with the addon, the threadpool hashes): the same bytes as 'worker'", async () => {
    const small = join(dir, 'small-src');
    mkdirSync(small);
    for (let i = 0; i < 800; i++) writeFileSync(join(small, `f${i}`), bytes(7 + i, 2000 + ((i * 7919) % 8000)));
    // A first read moves the atimes (stored): read everything once before comparing.
    await create(['.'], join(dir, 'small-warm.tar'), { cwd: small, hashing: 'thread' });
    const started = hashWorkerStats.started;
    const pools = hashWorkerStats.pools;
    await create(['.'], join(dir, 'small-auto.tar'), { cwd: small });
    expect(hashWorkerStats.started).toBe(started);
    expect(hashWorkerStats.pools).toBe(pools + (nativeHashing() ? 1 : 0));
    await create(['.'], join(dir, 'small-worker.tar'), { cwd: small, hashing: 'worker' });
    expect(offThread()).toBe(started + pools + (nativeHashing() ? 2 : 1));
    expect(sha(readFileSync(join(dir, 'small-auto.tar')))).toBe(sha(readFileSync(join(dir, 'small-worker.tar'))));
  }, 60_000);

  it('5,000 entries made by the caller (more than the manifest lines held waiting): the same bytes, verify passes', async () => {
    const entries = () =>
      Array.from({ length: 5000 }, (_, i) => {
        const body = bytes(7 + i, i % 7 === 0 ? 0 : (i * 131) % 3000);
        const kind = i % 50 === 0 ? 'directory' : i % 61 === 0 ? 'symlink' : 'file';
        const entry = makeEntry({ path: `e/${i % 50}/n${i}${kind === 'directory' ? '/' : ''}`, type: kind, size: kind === 'file' ? body.length : 0, mode: 0o644, mtimeNs: 1_700_000_000_000_000_000n + BigInt(i), linkTarget: kind === 'symlink' ? Buffer.from(`t${i}`) : undefined });
        return { entry, body: kind === 'file' ? body : undefined };
      });
    for (const ext of ['tar', 'zip']) {
      const a = join(dir, `many-thread.${ext}`);
      const b = join(dir, `many-worker.${ext}`);
      await create(entries(), a, { hashing: 'thread' });
      await create(entries(), b, { hashing: 'worker' });
      expect(sha(readFileSync(b))).toBe(sha(readFileSync(a)));
      const v = portarc(['verify', '-f', b]);
      expect(v.status, v.stdout + v.stderr).toBe(0);
      // Without the addon: the JavaScript runner, on this thread and in a worker thread.
      for (const hashing of ['thread', 'worker', 'auto'] as HashMode[]) {
        const c = join(dir, `many-js-${hashing}.${ext}`);
        const workers = hashWorkerStats.started;
        await withoutAddon(() => create(entries(), c, { hashing }));
        expect(sha(readFileSync(c)), `${ext} ${hashing} without the addon`).toBe(sha(readFileSync(a)));
        expect(hashWorkerStats.started - workers, `${ext} ${hashing}`).toBe(hashing === 'worker' ? 1 : 0);
      }
    }
  }, 120_000);

  it('a create to a stream that fails between members is still poisoned with the manifest on (every reader fails)', async () => {
    for (const hashing of ['thread', 'worker'] as HashMode[]) {
      const parts: Buffer[] = [];
      const sink = new Writable({ write: (c: Buffer, _e, cb) => (parts.push(Buffer.from(c)), cb()) });
      const good = bytes(3, 5000);
      // The entries fail after the first one: between members (a path that cannot be read, say).
      async function* entries() {
        yield { entry: makeEntry({ path: 'a.txt', type: 'file', size: good.length, mode: 0o644 }), body: good };
        throw new Error('the tree went away');
      }
      await expect(create(entries(), sink, { hashing })).rejects.toThrow(/the tree went away/);
      const out = join(dir, `poisoned-${hashing}.tar`);
      writeFileSync(out, Buffer.concat(parts));
      expect(Buffer.concat(parts).includes('PORTARC-INCOMPLETE-ARCHIVE'), hashing).toBe(true);
      for (const [cmd, args] of [['tar', ['-tf', out]], ['python3', ['-c', 'import tarfile,sys; tarfile.open(sys.argv[1]).getnames()', out]]] as const) {
        expect(spawnSync(cmd, args).status, `${hashing}: ${cmd}`).not.toBe(0);
      }
    }
  });

  it("an unknown hashing mode is a UsageError before anything is written", async () => {
    const err = await create(['.'], join(dir, 'bad.tar'), { cwd: src, hashing: 'gpu' as HashMode }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(existsSync(join(dir, 'bad.tar'))).toBe(false);
  });
});

describe("HashRing 'auto': moving to the worker between digests", () => {
  it('digests taken before, across and after useWorker() are plain SHA-256; the worker starts once (without the addon)', async () => {
    await withoutAddon(async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const started = hashWorkerStats.started;
        const ring = new HashRing('auto');
        expect(ring.where).toBe('thread');
        const data = randomBytes(9 * MiB);
        const asked: number[] = [];
        const expected: string[] = [];
        let seg = createHash('sha256');
        let moveAt = seed * 2 * MiB;
        for (let p = 0; p < data.length; ) {
          const size = Math.min(data.length - p, [1, 700, 4096, 65536, MiB + 3, 3 * MiB][Math.floor(Math.random() * 6)]!);
          const chunk = data.subarray(p, p + size);
          await ring.feed(Buffer.from(chunk), (from, to) => ring.update(1, from, to));
          seg.update(chunk);
          p += size;
          if (Math.random() < 0.4 || p >= moveAt) {
            const keep = Math.random() < 0.3 && p < moveAt;
            asked.push(ring.digest(1, keep));
            expected.push(keep ? seg.copy().digest('hex') : seg.digest('hex'));
            if (!keep) seg = createHash('sha256');
            // Only where the slot is empty (its digest taken without keep), as the caller must.
            if (!keep && p >= moveAt) {
              ring.useWorker();
              expect(ring.where).toBe('worker');
              moveAt = Infinity;
            }
          }
        }
        asked.push(ring.digest(1));
        expected.push(seg.digest('hex'));
        await ring.wait(asked.at(-1)!);
        for (let i = 0; i < asked.length; i++) expect(ring.value(asked[i]!), `seed ${seed}, digest ${i}`).toBe(expected[i]);
        expect(hashWorkerStats.started - started).toBe(1);
        await ring.close();
      }
    });
  }, 120_000);
});

describe('HashRing.lend: bytes read in place are taken without a copy', () => {
  it('worker: lent space filled and fed back, mixed with copied chunks, wraps around the ring; the digests are plain SHA-256', async () => {
    const ring = new HashRing('worker');
    const data = randomBytes(13 * MiB + 777);
    const lent = hashWorkerStats.lentBytes;
    let inPlace = 0;
    for (let p = 0, n = 0; p < data.length; n++) {
      const want = Math.min(data.length - p, [MiB, 300_000, 4096, 2 * MiB][n % 4]!);
      const space = n % 3 === 2 ? undefined : await ring.lend(want);
      let chunk: Buffer;
      if (space) {
        // At most a piece, never past the ring's end: the reader fills what it is given.
        expect(space.length).toBeLessThanOrEqual(Math.min(want, MiB));
        chunk = Buffer.from(space.buffer, space.byteOffset, space.length);
        data.copy(chunk, 0, p, p + chunk.length);
        inPlace += chunk.length;
      } else chunk = Buffer.from(data.subarray(p, p + want));
      await ring.feed(chunk, (from, to) => ring.update(0, from, to));
      p += chunk.length;
    }
    const d = ring.digest(0);
    await ring.wait(d);
    expect(ring.value(d)).toBe(sha(data));
    expect(hashWorkerStats.lentBytes - lent).toBe(inPlace);
    expect(inPlace).toBeGreaterThan(6 * MiB);
    await ring.close();
  }, 60_000);

  it('lent space given back out of order is an internal error, not a silently wrong digest; on the thread nothing is lent', async () => {
    const ring = new HashRing('worker');
    const space = (await ring.lend(4096))!;
    await ring.feed(Buffer.alloc(10, 1), () => undefined);
    expect(() => ring.feed(Buffer.from(space.buffer, space.byteOffset, space.length), () => undefined)).toThrow(/out of order/);
    await ring.close();
    const here = new HashRing('thread');
    expect(here.lend(4096)).toBeUndefined();
    await here.close();
  });
});

describe('HashRing: the same digests as plain SHA-256, in the worker and in this thread', () => {
  for (const mode of ['worker', 'thread', 'auto'] as HashMode[]) {
    it(`${mode}: random chunks (up to 2x the ring), three overlapping ranges, digests with and without keep`, async () => {
      for (let seed = 1; seed <= 4; seed++) {
        const ring = new HashRing(mode);
        const data = randomBytes(seed % 2 ? 20 * MiB : 2 * MiB);
        const expected: string[] = [];
        const asked: number[] = [];
        // Slot 0: everything; slot 1: restarted at random points (a digest each time); slot 2: every other chunk.
        const whole = createHash('sha256');
        let seg = createHash('sha256');
        const odd = createHash('sha256');
        let p = 0;
        let n = 0;
        while (p < data.length) {
          const size = Math.min(data.length - p, [1, 511, 512, 4096, 65536, MiB, 3 * MiB, 17 * MiB][Math.floor(Math.random() * 8)]!);
          const chunk = data.subarray(p, p + size);
          const useOdd = n % 2 === 1;
          await ring.feed(Buffer.from(chunk), (from, to) => {
            ring.update(0, from, to);
            ring.update(1, from, to);
            if (useOdd) ring.update(2, from, to);
          });
          whole.update(chunk);
          seg.update(chunk);
          if (useOdd) odd.update(chunk);
          if (Math.random() < 0.3) {
            asked.push(ring.digest(1, n % 3 === 0));
            expected.push(n % 3 === 0 ? seg.copy().digest('hex') : seg.digest('hex'));
            if (n % 3 !== 0) seg = createHash('sha256');
          }
          p += size;
          n++;
        }
        expect(await ring.result(2)).toBe(odd.digest('hex'));
        for (let i = 0; i < asked.length; i++) expect(ring.value(asked[i]!), `seed ${seed}, digest ${i}`).toBe(expected[i]);
        expect(await ring.result(0)).toBe(whole.digest('hex'));
        await ring.close();
      }
    }, 120_000);
  }
});

describe("the addon's SHA-256 batches (native/sha256_ops.c)", () => {
  it('is built on Linux (CI builds it: without it the hashing falls back to JavaScript)', () => {
    if (process.platform === 'linux') expect(nativeHashing()).toBe(true);
  });

  it.skipIf(!nativeHashing())('on this thread and on the threadpool: plain SHA-256 over random chunkings, two slots, kept digests, wrap-around', async () => {
    for (const mode of ['thread', 'worker'] as HashMode[]) {
      const pools = hashWorkerStats.pools;
      const workers = hashWorkerStats.started;
      const ring = new HashRing(mode);
      // Off this thread, the addon's threadpool: no worker thread.
      expect(hashWorkerStats.pools - pools).toBe(mode === 'worker' ? 1 : 0);
      expect(hashWorkerStats.started).toBe(workers);
      const data = randomBytes(7 * MiB + 123);
      const asked: number[] = [];
      const expected: string[] = [];
      const seg = [createHash('sha256'), createHash('sha256')];
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
      for (let p = 0; p < data.length; ) {
        const size = Math.min(data.length - p, [1, 511, 4096, 70000, MiB + 3][rnd(5)]!);
        const chunk = data.subarray(p, p + size);
        // Slot 0 takes every byte, slot 1 every other chunk.
        const both = rnd(2) === 0;
        await ring.feed(Buffer.from(chunk), (from, to) => (ring.update(0, from, to), both && ring.update(1, from, to)));
        seg[0]!.update(chunk);
        if (both) seg[1]!.update(chunk);
        p += size;
        for (const slot of [0, 1]) {
          if (rnd(3) !== 0) continue;
          const keep = rnd(2) === 0;
          asked.push(ring.digest(slot, keep));
          expected.push(keep ? seg[slot]!.copy().digest('hex') : seg[slot]!.digest('hex'));
          if (!keep) seg[slot] = createHash('sha256');
        }
      }
      asked.push(ring.digest(0), ring.digest(1));
      expected.push(seg[0]!.digest('hex'), seg[1]!.digest('hex'));
      await ring.wait(asked.at(-1)!);
      // The store keeps the last STORE_IDS digests: these are fewer.
      expect(asked.length).toBeLessThan(4096);
      for (let i = 0; i < asked.length; i++) expect(ring.value(asked[i]!), `${mode}: digest ${i}`).toBe(expected[i]);
      // The bytes beside the hex: what the whole-archive digest folds.
      const raw = Buffer.alloc(32);
      ring.copyBytes(asked[0]!, raw, 0);
      expect(raw.toString('hex')).toBe(expected[0]);
      await ring.close();
    }
  }, 60_000);

  it.skipIf(!nativeHashing())('a digest not yet there, or overwritten in the store, is an internal error, never a wrong value', async () => {
    const ring = new HashRing('thread');
    await ring.feed(Buffer.from('abc'), (from, to) => ring.update(0, from, to));
    const first = ring.digest(0);
    expect(() => ring.value(first)).toThrow(/is not there/);
    for (let i = 0; i < 4096; i++) ring.digest(0);
    const last = ring.digest(0);
    ring.flush();
    expect(ring.value(last)).toBe(sha(Buffer.alloc(0)));
    expect(() => ring.value(first)).toThrow(/is not there/);
    await ring.close();
  });

  it.skipIf(!nativeHashing())('malformed batches are refused before anything is hashed', async () => {
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)('../build/Release/portarc_hash.node');
    const h = addon.hasherNew();
    const ring = new Uint8Array(1024);
    const out = Buffer.alloc(96 * 4);
    const run = (ops: number[], o: Buffer = out) => () => addon.hasherRun(h, ring, new Float64Array(ops), o);
    expect(run([0, 0, 0, 10, 1, 0, 0, 3])()).toBe(1);
    expect(out.toString('latin1', 3 * 96, 3 * 96 + 64)).toBe(sha(Buffer.alloc(10)));
    expect(run([0, 0, 5, 2000])).toThrow(/bad range/);
    expect(run([0, 0, 10, 5])).toThrow(/bad range/);
    expect(run([0, 9, 0, 5])).toThrow(/bad slot/);
    expect(run([7, 0, 0, 0])).toThrow(/unknown op/);
    expect(run([1, 0, 0, -1])).toThrow(/bad digest id/);
    expect(run([0, 0, 0])).toThrow(/multiple of 4/);
    expect(run([1, 0, 0, 0], Buffer.alloc(95))).toThrow(/whole number of records/);
    // One batch of a hasher at a time: a second one while the first runs is refused.
    const done = new Promise<string | null>((resolve) => addon.hasherRunAsync(h, ring, new Float64Array([0, 0, 0, 1000, 1, 0, 0, 0]), out, resolve));
    expect(run([1, 0, 0, 1])).toThrow(/already running/);
    expect(await done).toBe(null);
    expect(out.toString('latin1', 0, 64)).toBe(sha(Buffer.alloc(1000)));
  });
});
