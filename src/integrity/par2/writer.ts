// Write a PAR2 2.0 recovery set beside a finished file: FILE.par2 (the index: Main, File
// Description, IFSC, Creator) and one volume FILE.volA+B.par2 holding the recovery slices (with
// a copy of the index packets, so that either file alone describes the set). par2cmdline reads
// and repairs with it. Spec: spec/recovery.md §2 and §4.
//
// Memory stays bounded whatever the file size: the recovery slices are computed in groups that
// fit MEMORY_BUDGET, one read of the file per group (it is in the page cache after the first).

import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError, UsageError } from '../../model/errors.js';
import { coefficient, inputLogs, mulAdd } from './gf16.js';
import { creatorBody, fileDescBody, fileId, header, mainBody, md5, packet } from './packets.js';
import { chooseSliceSize, hashFile, isZero, MAX_SLICES, readSlices, sliceCount, wordBuffer } from './slices.js';

/** Bytes of recovery slices held at once (the rest of the process is small and fixed). */
export const MEMORY_BUDGET = 16 * 1024 * 1024;

export interface RecoveryWritten {
  index: string;
  volume: string;
  sliceSize: number;
  inputSlices: number;
  recoverySlices: number;
  /** Bytes of the two files together. */
  bytes: number;
}

/** Names par2cmdline gives a set for FILE: FILE.par2 and FILE.vol<first>+<count>.par2. */
export function volumeName(file: string, first: number, count: number): string {
  const w = Math.max(2, String(first + count).length);
  return `${file}.vol${String(first).padStart(w, '0')}+${String(count).padStart(w, '0')}.par2`;
}

const VOLUME_RE = /\.vol\d+\+\d+\.par2$/i;

export async function writeRecovery(file: string, percent: number, creator: string, budget = MEMORY_BUDGET): Promise<RecoveryWritten> {
  if (!(percent > 0 && percent <= 100)) throw new UsageError(`--recovery ${percent}%: give a percentage above 0 and at most 100`);
  const fh = await open(file, 'r').catch((e) => {
    throw ioError(e, 'cannot read the archive to compute its recovery data', file);
  });
  const tmp: string[] = [];
  try {
    const length = (await fh.stat()).size;
    if (length === 0) throw new UsageError(`${file}: an empty file needs no recovery data`);
    const sliceSize = chooseSliceSize(length);
    const count = sliceCount(length, sliceSize);
    if (count > MAX_SLICES) throw new UsageError(`${file}: too many slices (${count})`);
    const recovery = Math.min(Math.max(1, Math.ceil((count * percent) / 100)), GF_EXPONENTS);

    const sums = await hashFile(fh, length, sliceSize);
    const name = Buffer.from(basename(file), 'utf8');
    const id = fileId(sums.md5_16k, length, name);
    const main = mainBody(sliceSize, [id]);
    const setId = md5(main);
    const ifsc = Buffer.alloc(16 + 20 * count);
    id.copy(ifsc, 0);
    sums.slices.forEach((s, j) => {
      s.md5.copy(ifsc, 16 + 20 * j);
      ifsc.writeUInt32LE(s.crc, 16 + 20 * j + 16);
    });
    const critical = Buffer.concat([
      packet(setId, 'main', main),
      packet(setId, 'fileDesc', fileDescBody({ fileId: id, md5: sums.md5, md5_16k: sums.md5_16k, length, name: name.toString('utf8') })),
      packet(setId, 'ifsc', ifsc),
      packet(setId, 'creator', creatorBody(creator)),
    ]);

    const index = `${file}.par2`;
    const volume = volumeName(file, 0, recovery);
    const indexTmp = `${index}.tmp-${process.pid}`;
    const volumeTmp = `${volume}.tmp-${process.pid}`;
    tmp.push(indexTmp, volumeTmp);
    const out = await open(volumeTmp, 'w').catch((e) => {
      throw ioError(e, 'cannot write the recovery volume', volumeTmp);
    });
    let position = 0;
    try {
      const logs = inputLogs(count);
      const group = Math.max(1, Math.floor(budget / sliceSize));
      // Allocated once and zeroed between passes: fresh buffers per pass would wait for the GC.
      const acc = Array.from({ length: Math.min(group, recovery) }, () => wordBuffer(sliceSize));
      for (let first = 0; first < recovery; first += group) {
        const n = Math.min(group, recovery - first);
        for (const a of acc) a.words.fill(0);
        await readSlices(fh, length, sliceSize, (j, slice, words) => {
          if (isZero(slice)) return;
          for (let i = 0; i < n; i++) mulAdd(acc[i].words, words, coefficient(logs[j], first + i));
        });
        for (let i = 0; i < n; i++) {
          const exp = Buffer.alloc(4);
          exp.writeUInt32LE(first + i);
          const head = header(setId, 'recovery', [exp, acc[i].bytes]);
          for (const part of [head, exp, acc[i].bytes]) {
            await out.write(part, 0, part.length, position);
            position += part.length;
          }
        }
      }
      await out.write(critical, 0, critical.length, position);
      position += critical.length;
      await out.sync();
    } catch (err) {
      throw ioError(err as NodeJS.ErrnoException, 'cannot write the recovery volume', volumeTmp);
    } finally {
      await out.close();
    }
    const ix = await open(indexTmp, 'w');
    try {
      await ix.write(critical, 0, critical.length, 0);
      await ix.sync();
    } finally {
      await ix.close();
    }
    // Volumes of an earlier set for the same name would mix two sets: remove them first.
    const base = basename(file);
    for (const f of await readdir(dirname(file))) {
      if (f.startsWith(`${base}.vol`) && VOLUME_RE.test(f) && f.length - base.length < 30) await rm(join(dirname(file), f), { force: true });
    }
    await rename(volumeTmp, volume);
    await rename(indexTmp, index);
    tmp.length = 0;
    return { index, volume, sliceSize, inputSlices: count, recoverySlices: recovery, bytes: position + critical.length };
  } finally {
    await fh.close();
    for (const t of tmp) await rm(t, { force: true });
  }
}

/** Recovery exponents are 16-bit; par2cmdline uses at most 65535 of them. */
const GF_EXPONENTS = 65535;
