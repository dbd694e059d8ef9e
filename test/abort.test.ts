// AbortSignal (spec §8.6): cancelling a 2 GiB create, extract or convert in the middle of its one
// big file rejects with an AbortError and leaves no `.partial`, no temporary file and nothing
// under the final name. The 2 GiB are sparse (truncate): nothing that size is ever written; the
// signal fires once the process has read 32 MiB (/proc/self/io), i.e. mid-file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, UsageError, convert, create, extract, list, open, verify } from '../src/api/index.js';
import { partialsOf, sh, tempDir } from './helpers/tree.js';

const GiB2 = 2 ** 31;

/** Bytes this process has read through syscalls so far. */
function readSoFar(): number {
  return Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** A signal that fires once `bytes` more have been read by this process. */
function abortAfterReading(bytes: number): { signal: AbortSignal; stop: () => void } {
  const ac = new AbortController();
  const start = readSoFar();
  const timer = setInterval(() => {
    if (readSoFar() - start >= bytes) ac.abort();
  }, 5);
  return { signal: ac.signal, stop: () => clearInterval(timer) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!r) throw new Error('expected a rejection, the operation completed');
  return r;
}

describe('AbortSignal on a 2 GiB archive', () => {
  const dir = tempDir('abort');
  const tmp = join(dir, 'tmp'); // TMPDIR of this process during the tests: spools must leave nothing
  const oldTmp = process.env.TMPDIR;
  beforeAll(() => {
    sh(`mkdir -p tree tmp && truncate -s ${GiB2} tree/big && printf small > tree/small`, dir);
    // A tar holding one 2 GiB member of zeros: a header, then a hole of 2 GiB + the end blocks.
    execFileSync('python3', ['-c', `import tarfile,sys\nt=tarfile.TarInfo('big'); t.size=${GiB2}\nopen(sys.argv[1],'wb').write(t.tobuf(tarfile.GNU_FORMAT))`, join(dir, 'big.tar')]);
    sh(`truncate -s $(( $(stat -c %s big.tar) + ${GiB2} + 1024 )) big.tar`, dir);
    process.env.TMPDIR = tmp;
  });
  afterAll(() => {
    if (oldTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = oldTmp;
  });

  for (const name of ['out.tar', 'out.tar.zst', 'out.zip']) {
    it(`create ${name}: aborted mid-file, nothing left`, async () => {
      const { signal, stop } = abortAfterReading(32 << 20);
      const t0 = Date.now();
      const err = await rejection(create(['big', 'small'], join(dir, name), { cwd: join(dir, 'tree'), signal })).finally(stop);
      expect(err.name).toBe('AbortError');
      expect(err).toBeInstanceOf(AbortError);
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(readdirSync(dir).sort()).toEqual(['big.tar', 'tmp', 'tree']);
      expect(readdirSync(tmp)).toEqual([]);
    });
  }

  it('extract: aborted mid-file, no temporary file in the destination', async () => {
    const dest = join(dir, 'x');
    const { signal, stop } = abortAfterReading(32 << 20);
    const err = await rejection(extract(join(dir, 'big.tar'), dest, { signal })).finally(stop);
    expect(err.name).toBe('AbortError');
    expect(readdirSync(dest)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('extract to a callback: aborted mid-file', async () => {
    let seen = 0;
    const a = abortAfterReading(32 << 20);
    const err = await rejection(
      extract(join(dir, 'big.tar'), async (_e, body) => {
        for await (const c of body) seen += (c as Buffer).length;
      }, { signal: a.signal }),
    ).finally(a.stop);
    expect(err.name).toBe('AbortError');
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(GiB2);
  });

  it('convert: aborted mid-file, nothing left', async () => {
    const b = abortAfterReading(32 << 20);
    const err2 = await rejection(convert(join(dir, 'big.tar'), join(dir, 'conv.zip'), { signal: b.signal })).finally(b.stop);
    expect(err2.name).toBe('AbortError');
    expect(existsSync(join(dir, 'conv.zip')) || partialsOf(join(dir, 'conv.zip')).length > 0).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('open().read and verify stop too', async () => {
    const ac = new AbortController();
    const ra = await open(join(dir, 'big.tar'), { signal: ac.signal });
    let got = 0;
    const err = await rejection(
      (async () => {
        for await (const c of ra.read('big')) {
          got += c.length;
          if (got > 8 << 20) ac.abort();
        }
      })(),
    );
    await ra.close();
    expect(err.name).toBe('AbortError');
    expect(got).toBeLessThan(64 << 20);
    const v = abortAfterReading(32 << 20);
    expect((await rejection(verify(join(dir, 'big.tar'), { signal: v.signal }).finally(v.stop))).name).toBe('AbortError');
  });

  it('an already aborted signal writes nothing; a signal that is not one is a usage error', async () => {
    const ac = new AbortController();
    ac.abort(new Error('user pressed stop'));
    const err = await rejection(create(['small'], join(dir, 'never.tar'), { cwd: join(dir, 'tree'), signal: ac.signal }));
    expect(err.name).toBe('AbortError');
    expect((err as Error & { cause?: Error }).cause?.message).toBe('user pressed stop');
    expect(partialsOf(join(dir, 'never.tar')).length > 0 || existsSync(join(dir, 'never.tar'))).toBe(false);
    expect((await rejection(extract(join(dir, 'big.tar'), join(dir, 'never'), { signal: ac.signal }))).name).toBe('AbortError');
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const listing = list(join(dir, 'big.tar'), { signal: ac.signal });
    expect((await rejection((async () => { for await (const _ of listing); })())).name).toBe('AbortError');
    expect(await rejection(create(['small'], join(dir, 'never.tar'), { cwd: join(dir, 'tree'), signal: 'stop' as unknown as AbortSignal }))).toBeInstanceOf(UsageError);
  });

  it('a signal that never fires changes nothing', async () => {
    const ac = new AbortController();
    writeFileSync(join(dir, 'tree', 'small'), 'small');
    await create(['small'], join(dir, 'ok.tar'), { cwd: join(dir, 'tree'), signal: ac.signal });
    const names: string[] = [];
    for await (const e of list(join(dir, 'ok.tar'), { signal: ac.signal })) names.push(e.name);
    expect(names).toEqual(['small']);
    expect(statSync(join(dir, 'ok.tar')).size).toBeGreaterThan(0);
  });
});
