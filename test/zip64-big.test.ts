// zip64 with real sizes (spec/zip-profile.md): an entry of 4.1 GiB stored, one past the 4 GiB
// offset, one of 4.1 GiB deflated; read back by both readers, Python's zipfile and 7-Zip. About
// 70 s of 4 GiB writes and reads: run by `npm run test:heavy` (and so by .ci/run), skipped by
// `npm test`, which must stay under 15 minutes on two cores (PORTARC_HEAVY=1 runs it).
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSink } from '../src/io/sink.js';
import { makeEntry } from '../src/model/entry.js';
import { openZip } from '../src/zip/file-reader.js';
import { ZipStreamReader } from '../src/zip/stream-reader.js';
import { ZipWriter } from '../src/zip/writer.js';
import { tempDir } from './helpers/tree.js';

function tool(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
}

describe.runIf(process.env.PORTARC_HEAVY === '1')('zip64 over 4 GiB', () => {
  it('over 4 GiB: a 4.1 GiB stored entry, an entry past 4 GiB, and a 4.1 GiB deflated one', async () => {
    const dir = tempDir('zip64-big');
    const path = join(dir, 'big.zip');
    const BIG = Math.floor(4.1 * 2 ** 30);
    const zeros = Buffer.alloc(1 << 20);
    async function* zeroStream(n: number): AsyncGenerator<Buffer> {
      for (let left = n; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
    }
    try {
      const sink = await fileSink(path);
      const w = new ZipWriter(sink, { method: 'store' });
      await w.add(makeEntry({ path: 'zeros.bin', type: 'file', size: BIG }), zeroStream(BIG));
      const tail = await w.add(makeEntry({ path: 'tail.txt', type: 'file', size: 4 }), Buffer.from('tail'));
      await w.finish();
      await sink.close();
      expect(tail.offset).toBeGreaterThan(2 ** 32);
      expect(statSync(path).size).toBeGreaterThan(2 ** 32);

      // Python sees the zip64 values: a size and an offset beyond 32 bits.
      const py = tool('python3', ['-c', 'import zipfile,sys\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, i.file_size, i.compress_size, i.header_offset, i.flag_bits)', path]);
      expect(py.status, py.stderr).toBe(0);
      expect(py.stdout.trim().split('\n')).toEqual([`zeros.bin ${BIG} ${BIG} 0 8`, `tail.txt 4 4 ${tail.offset} 0`]);

      // Random access: the entry past 4 GiB without reading the rest; then the big one, CRC checked.
      const zf = await openZip(path);
      const t = await zf.at(tail.offset);
      const parts: Buffer[] = [];
      for await (const p of t!.open()) parts.push(p);
      expect(Buffer.concat(parts).toString()).toBe('tail');
      const z = await zf.find('zeros.bin');
      let total = 0;
      for await (const p of z!.open()) total += p.length;
      expect(total).toBe(BIG);
      await zf.close();

      // The streaming reader: a stored entry with a descriptor, sized by the PX size record.
      const { createReadStream } = await import('node:fs');
      const names: string[] = [];
      for await (const m of new ZipStreamReader(createReadStream(path, { highWaterMark: 1 << 20 }))) {
        let n = 0;
        for await (const p of m.body) n += p.length;
        names.push(`${m.entry.name} ${n}`);
      }
      expect(names).toEqual([`zeros.bin ${BIG}`, 'tail.txt 4']);
      rmSync(path);

      // Deflated: small on disk, but its size needs zip64 fields (local zip64 extra, 8-byte descriptor).
      const sink2 = await fileSink(path);
      const w2 = new ZipWriter(sink2, { level: 1 });
      await w2.add(makeEntry({ path: 'zeros.bin', type: 'file', size: BIG }), zeroStream(BIG));
      await w2.finish();
      await sink2.close();
      expect(statSync(path).size).toBeLessThan(2 ** 25);
      const py2 = tool('python3', ['-c', 'import zipfile,sys\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.file_size, i.flag_bits, i.extract_version)', path]);
      expect(py2.stdout.trim()).toBe(`${BIG} 8 45`);
      const zf2 = await openZip(path);
      for await (const e of zf2.entries()) {
        let n = 0;
        for await (const p of e.open()) n += p.length;
        expect(n).toBe(BIG);
      }
      await zf2.close();
      for await (const m of new ZipStreamReader(createReadStream(path))) {
        let n = 0;
        for await (const p of m.body) n += p.length;
        expect(n).toBe(BIG);
      }
      const t7 = tool('7z', ['t', path]);
      expect(t7.status, t7.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
