// Write a PAR2 2.0 recovery set beside a finished file: FILE.par2 (the index: Main, File
// Description, IFSC, Creator) and one volume FILE.volA+B.par2 holding the recovery slices (with
// a copy of the index packets, so that either file alone describes the set). par2cmdline reads
// and repairs with it. Spec: spec/recovery.md §2 and §4.
//
// Memory stays bounded whatever the file size: the recovery slices are computed a column at a
// time (parity.ts) on other threads, while this thread hashes the file for the IFSC packet;
// each recovery packet's MD5 is computed last, from the volume file.

import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError, PortarcError, UsageError } from '../../model/errors.js';
import { creatorBody, fileDescBody, fileId, HEADER_SIZE, mainBody, md5, openHeader, packet, sealHeader } from './packets.js';
import { computeParity } from './parity.js';
import { chooseSliceSize, hashFile, MAX_SLICES, sliceCount, type PositionalFile } from './slices.js';
import { containerOf, readAtOf, sliceView, writeRegion } from './embedded.js';

/** Bytes of rebuilt slices repair holds at once (the rest of the process is small and fixed). */
export const MEMORY_BUDGET = 16 * 1024 * 1024;
/** Bytes of recovery slice columns held at once: half of repair's, leaving room for the input batches and the JS kernel's worker thread. */
export const PARITY_BUDGET = 4 * 1024 * 1024;

export interface RecoveryOptions {
  /** Bytes of recovery slices held at once (default PARITY_BUDGET). */
  budget?: number;
  /** Threads for the parity (0: this thread; see parity.ts). Default: all cores natively, one JS worker for large jobs. */
  threads?: number;
}

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

/** Recovery slices for `percent`% of `count` input slices: at least 1, at most the exponents PAR2 has. */
export function recoveryCountFor(count: number, percent: number): number {
  return Math.min(Math.max(1, Math.ceil((count * percent) / 100)), GF_EXPONENTS);
}

export interface BuiltSet {
  setId: Buffer;
  sliceSize: number;
  inputSlices: number;
  recoverySlices: number;
  /** Bytes of one recovery packet (header, exponent, slice): packet i is at i × packetSize in the volume. */
  packetSize: number;
  /** The index packets, each whole: Main, File Description, IFSC, Creator. */
  critical: Buffer[];
}

/**
 * Compute the PAR2 set of the first `length` bytes of `fh` (named `name` in its File Description):
 * the recovery packets of exponents 0..recovery-1 are written to `out` from offset 0, packet i
 * at i × packetSize; the index packets are returned. Used for the sidecar volume and for an
 * embedded region (embedded.ts copies the packets from such a volume).
 */
export async function buildSet(
  fh: PositionalFile,
  length: number,
  out: FileHandle,
  params: { sliceSize: number; recovery: number; name: string; creator: string },
  options: RecoveryOptions = {},
): Promise<BuiltSet> {
  const { sliceSize, recovery } = params;
  const count = sliceCount(length, sliceSize);
  // Recovery packet i: header, u32 exponent, slice.
  const packetSize = HEADER_SIZE + 4 + sliceSize;
  // The checksums (this thread) and the parity (workers) at the same time: they need each
  // other only for the packet headers, written last.
  const [sums] = await Promise.all([
    hashFile(fh, length, sliceSize),
    computeParity(fh, length, sliceSize, 0, recovery, (r, o, bytes) => writeAll(out, bytes, r * packetSize + HEADER_SIZE + 4 + o), {
      budget: options.budget ?? PARITY_BUDGET,
      threads: options.threads,
    }),
  ]);
  const name = Buffer.from(params.name, 'utf8');
  const id = fileId(sums.md5_16k, length, name);
  const main = mainBody(sliceSize, [id]);
  const setId = md5(main);
  const ifsc = Buffer.alloc(16 + 20 * count);
  id.copy(ifsc, 0);
  sums.slices.forEach((s, j) => {
    s.md5.copy(ifsc, 16 + 20 * j);
    ifsc.writeUInt32LE(s.crc, 16 + 20 * j + 16);
  });
  const critical = [
    packet(setId, 'main', main),
    packet(setId, 'fileDesc', fileDescBody({ fileId: id, md5: sums.md5, md5_16k: sums.md5_16k, length, name: name.toString('utf8') })),
    packet(setId, 'ifsc', ifsc),
    packet(setId, 'creator', creatorBody(params.creator)),
  ];
  await writeRecoveryHeaders(out, setId, recovery, sliceSize);
  return { setId, sliceSize, inputSlices: count, recoverySlices: recovery, packetSize, critical };
}

/** Slice size and count for a file of `length` bytes, or a UsageError naming `file`. */
export function sliceParams(file: string, length: number, percent: number): { sliceSize: number; count: number; recovery: number } {
  if (!(percent > 0 && percent <= 100)) throw new UsageError(`--recovery ${percent}%: give a percentage above 0 and at most 100`);
  if (length === 0) throw new UsageError(`${file}: an empty file needs no recovery data`);
  const sliceSize = chooseSliceSize(length);
  const count = sliceCount(length, sliceSize);
  if (count > MAX_SLICES) throw new UsageError(`${file}: too many slices (${count})`);
  return { sliceSize, count, recovery: recoveryCountFor(count, percent) };
}

export async function writeRecovery(file: string, percent: number, creator: string, options: RecoveryOptions = {}): Promise<RecoveryWritten> {
  if (!(percent > 0 && percent <= 100)) throw new UsageError(`--recovery ${percent}%: give a percentage above 0 and at most 100`);
  const fh = await open(file, 'r').catch((e) => {
    throw ioError(e, 'cannot read the archive to compute its recovery data', file);
  });
  const tmp: string[] = [];
  try {
    const length = (await fh.stat()).size;
    const { sliceSize, count, recovery } = sliceParams(file, length, percent);
    const index = `${file}.par2`;
    const volume = volumeName(file, 0, recovery);
    const indexTmp = `${index}.tmp-${process.pid}`;
    const volumeTmp = `${volume}.tmp-${process.pid}`;
    tmp.push(indexTmp, volumeTmp);
    const out = await open(volumeTmp, 'w+').catch((e) => {
      throw ioError(e, 'cannot write the recovery volume', volumeTmp);
    });
    let critical: Buffer;
    let packetSize: number;
    try {
      const built = await buildSet(fh, length, out, { sliceSize, recovery, name: basename(file), creator }, options);
      packetSize = built.packetSize;
      // The index packets after the last recovery packet: either file alone describes the set.
      critical = Buffer.concat(built.critical);
      await writeAll(out, critical, recovery * packetSize);
      await out.sync();
    } catch (err) {
      if (err instanceof PortarcError) throw err;
      throw ioError(err as NodeJS.ErrnoException, 'cannot write the recovery volume', volumeTmp);
    } finally {
      await out.close();
    }
    const position = recovery * packetSize;

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

export interface EmbeddedWritten {
  /** The archive's own length: the recovery data and the end records again follow it. */
  archiveLength: number;
  sliceSize: number;
  inputSlices: number;
  recoverySlices: number;
  /** Bytes added after the archive (the region and the tail). */
  bytes: number;
}

/**
 * Embed a recovery set for the archive in bytes [0, length) of `fh` (opened for reading and
 * writing) after it (spec/recovery.md §10), replacing whatever followed. The recovery packets are
 * computed into a temporary volume at `scratch` first (removed after), then copied into the region.
 * `sliceSize` and `recovery` given: the same set as an earlier one (repair writes it again).
 */
export async function embedInto(
  fh: FileHandle,
  length: number,
  scratch: string,
  params: { percent?: number; sliceSize?: number; recovery?: number; name: string; creator: string },
  options: RecoveryOptions = {},
): Promise<EmbeddedWritten> {
  const c = containerOf(await readAtOf(fh)(0, 4));
  const p = params.sliceSize && params.recovery ? { sliceSize: params.sliceSize, recovery: params.recovery } : sliceParams(params.name, length, params.percent ?? 0);
  if (c === 'zstd' && HEADER_SIZE + 4 + p.sliceSize >= 2 ** 32) throw new UsageError(`${params.name}: slices of ${p.sliceSize} bytes do not fit a zstd skippable frame: use a sidecar recovery set`);
  const vol = await open(scratch, 'w+').catch((e) => {
    throw ioError(e, 'cannot write the recovery data', scratch);
  });
  try {
    const built = await buildSet(sliceView(fh, 0, length), length, vol, { sliceSize: p.sliceSize, recovery: p.recovery, name: params.name, creator: params.creator }, options);
    const loc = await writeRegion(fh, length, c, built, vol);
    return { archiveLength: length, sliceSize: built.sliceSize, inputSlices: built.inputSlices, recoverySlices: built.recoverySlices, bytes: loc.regionLength + loc.tailLength };
  } finally {
    await vol.close();
    await rm(scratch, { force: true });
  }
}

/**
 * Write each recovery packet's exponent and header, whose MD5 covers the slice already in the file
 * (read back in pieces: memory stays small whatever the slice size).
 */
async function writeRecoveryHeaders(out: FileHandle, setId: Buffer, recovery: number, sliceSize: number): Promise<void> {
  const packetSize = HEADER_SIZE + 4 + sliceSize;
  const buf = Buffer.alloc(Math.min(sliceSize, 1 << 20));
  for (let i = 0; i < recovery; i++) {
    const exp = Buffer.alloc(4);
    exp.writeUInt32LE(i);
    const h = openHeader(setId, 'recovery', 4 + sliceSize);
    h.hash.update(exp);
    const at = i * packetSize + HEADER_SIZE + 4;
    for (let o = 0; o < sliceSize; o += buf.length) {
      const want = Math.min(buf.length, sliceSize - o);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await out.read(buf, got, want - got, at + o + got);
        if (bytesRead === 0) throw new PortarcError(`recovery volume shorter than written (packet ${i})`);
        got += bytesRead;
      }
      h.hash.update(buf.subarray(0, want));
    }
    await writeAll(out, Buffer.concat([sealHeader(h), exp]), i * packetSize);
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < b.length) done += (await fh.write(b, done, b.length - done, at + done)).bytesWritten;
}

/** Recovery exponents are 16-bit; par2cmdline uses at most 65535 of them. */
const GF_EXPONENTS = 65535;
