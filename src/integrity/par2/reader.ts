// Find and load the PAR2 recovery set of a file: every FILE*.par2 beside it (portarc's sidecar
// set, or one made by `par2 create`), packet by packet. A packet whose MD5 does not match is
// skipped and the scan resynchronises on the next "PAR2\0PKT": damage in the parity files costs
// only the packets it touches. Spec: spec/recovery.md §5.

import { open, readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { DamagedError, UnsupportedFeatureError, ioError } from '../../model/errors.js';
import { HEADER_SIZE, MAGIC, kindOf, parseFileDesc, parseIfsc, parseMain, type FileDesc } from './packets.js';
import type { PositionalFile, SliceSum } from './slices.js';

export interface RecoverySlice {
  exponent: number;
  /** The parity file that holds it (a name for messages when `handle` is given). */
  file: string;
  /** Where the slice data starts in `file` (in `handle`, when given). */
  at: number;
  /** Read through this instead of opening `file`: an embedded region's packets (embedded.ts). */
  handle?: PositionalFile;
}

export interface RecoverySet {
  files: string[];
  sliceSize: number;
  desc: FileDesc;
  slices: SliceSum[];
  recovery: RecoverySlice[];
  /** The Creator packet's text, when an intact copy was found. */
  creator?: string;
  /** The recovery set ID (hex). */
  setId: string;
}

/** The parity files of `file`: FILE.par2 and FILE.*.par2 in its directory (par2cmdline's naming). */
export async function findParityFiles(file: string): Promise<string[]> {
  const base = basename(file);
  const dir = dirname(file);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  // Only FILE.par2 and FILE.volA+B.par2 (par2cmdline's names; A-B with -u): not FILE.zst.par2,
  // the set of another archive whose name begins with this one's.
  const vol = /^\.vol\d+[+-]\d+\.par2$/i;
  return names
    .filter((n) => n === `${base}.par2` || (n.startsWith(base) && vol.test(n.slice(base.length))))
    .sort()
    .map((n) => join(dir, n));
}

export interface Scanned {
  setId: string;
  kind: ReturnType<typeof kindOf>;
  body?: Buffer;
  exponent?: number;
  file: string;
  handle?: PositionalFile;
  bodyAt: number;
  bodyLength: number;
}

const MAX_SMALL_BODY = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(1 << 20);

/** Read n bytes at `at` (fewer at the end of the file), into `into` when given (reused: no garbage per chunk). */
async function readAt(fh: PositionalFile, at: number, n: number, into?: Buffer): Promise<Buffer> {
  const b = into && into.length >= n ? into.subarray(0, n) : Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(b, got, n - got, at + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return b.subarray(0, got);
}

/** The next offset >= from (a multiple of 4 past `from`'s alignment) where the magic starts, or -1. */
async function nextMagic(fh: PositionalFile, from: number, size: number): Promise<number> {
  const window = CHUNK.length;
  for (let at = from; at < size; at += window - MAGIC.length) {
    const b = await readAt(fh, at, Math.min(window, size - at), CHUNK);
    const i = b.indexOf(MAGIC);
    if (i >= 0) return at + i;
    if (b.length < window) break;
  }
  return -1;
}

/** Every packet of one parity file whose MD5 is right; recovery slice bodies are hashed, not kept. */
async function scanFile(file: string, out: Scanned[]): Promise<void> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    await scanPackets(fh, file, out);
  } catch (err) {
    throw ioError(err, 'cannot read the recovery data', file);
  } finally {
    await fh.close();
  }
}

/**
 * Every packet in `fh` whose MD5 is right, recorded under the name `file` (with `handle` = fh when
 * `keep`: an embedded region read through a view). Recovery slice bodies are hashed, not kept.
 */
export async function scanPackets(fh: PositionalFile, file: string, out: Scanned[], keep = false): Promise<void> {
  const size = (await fh.stat()).size;
  let at = 0;
  while (at + HEADER_SIZE <= size) {
    const head = await readAt(fh, at, HEADER_SIZE);
    const length = head.length === HEADER_SIZE && head.subarray(0, 8).equals(MAGIC) ? Number(head.readBigUInt64LE(8)) : 0;
    if (length < HEADER_SIZE || length % 4 !== 0 || at + length > size) {
      const next = await nextMagic(fh, at + 1, size);
      if (next < 0) break;
      at = next;
      continue;
    }
    const kind = kindOf(head.subarray(48, 64));
    const h = createHash('md5').update(head.subarray(32));
    let body: Buffer | undefined;
    let exponent: number | undefined;
    const bodyLength = length - HEADER_SIZE;
    if (kind === 'recovery' || bodyLength > MAX_SMALL_BODY) {
      for (let p = 0; p < bodyLength; p += CHUNK.length) {
        const chunk = await readAt(fh, at + HEADER_SIZE + p, Math.min(CHUNK.length, bodyLength - p), CHUNK);
        if (p === 0 && chunk.length >= 4) exponent = chunk.readUInt32LE(0);
        h.update(chunk);
      }
    } else {
      body = await readAt(fh, at + HEADER_SIZE, bodyLength);
      h.update(body);
    }
    if (!h.digest().equals(head.subarray(16, 32))) {
      const next = await nextMagic(fh, at + 4, size);
      if (next < 0) break;
      at = next;
      continue;
    }
    out.push({ setId: head.subarray(32, 48).toString('hex'), kind, body, exponent, file, handle: keep ? fh : undefined, bodyAt: at + HEADER_SIZE, bodyLength });
    at += length;
  }
}

/**
 * The recovery set that protects `file`, or undefined when there are no parity files. Throws
 * DamagedError when parity files exist but the set cannot be used (its description packets are
 * all damaged), UnsupportedFeatureError for a set over several files.
 */
export async function loadRecoverySet(file: string): Promise<RecoverySet | undefined> {
  const files = await findParityFiles(file);
  if (files.length === 0) return undefined;
  const packets: Scanned[] = [];
  for (const f of files) await scanFile(f, packets);
  const name = basename(file);
  // By name only: a set made for another file must never "repair" this one into that file.
  return assembleSet(packets, files, name, (d) => basename(d.name) === name, `no intact description of "${name}" in it`, file);
}

/**
 * The set among `packets` whose File Description `mine` accepts (the first one), with its slice
 * checksums and every intact recovery slice. Throws DamagedError when a packet the set needs has
 * no intact copy, UnsupportedFeatureError for a set over several files.
 */
export function assembleSet(packets: Scanned[], files: string[], name: string, mine: (d: FileDesc, setId: string) => boolean, missing: string, path = name): RecoverySet {
  // The set whose File Description names this file (by its base name, as par2cmdline stores it).
  const descs = packets.filter((p) => p.kind === 'fileDesc' && p.body).map((p) => ({ p, d: parseFileDesc(p.body!)! })).filter((x) => x.d);
  const own = descs.find((x) => mine(x.d, x.p.setId));
  if (!own) throw new DamagedError(`recovery data ${files.map((f) => basename(f)).join(', ')}: ${missing}: it cannot be used`, { path });
  const setId = own.p.setId;
  const inSet = packets.filter((p) => p.setId === setId);
  const mainPacket = inSet.find((p) => p.kind === 'main' && p.body && parseMain(p.body));
  if (!mainPacket) throw new DamagedError(`recovery data for "${name}": every copy of its Main packet is damaged: it cannot be used`, { path });
  const main = parseMain(mainPacket.body!)!;
  if (main.fileIds.length !== 1) throw new UnsupportedFeatureError(`recovery data for "${name}" protects ${main.fileIds.length} files together: portarc repairs sets made for one file (par2 create ARCHIVE)`, { path });
  const ifscPacket = inSet.map((p) => (p.kind === 'ifsc' && p.body ? parseIfsc(p.body) : undefined)).find((x) => x && x.fileId.equals(own.d.fileId));
  const count = Math.ceil(own.d.length / main.sliceSize);
  if (!ifscPacket || ifscPacket.slices.length !== count) throw new DamagedError(`recovery data for "${name}": its slice checksums (IFSC packet) are missing or damaged: it cannot be used`, { path });
  const seen = new Set<number>();
  const recovery: RecoverySlice[] = [];
  for (const p of inSet) {
    if (p.kind !== 'recovery' || p.exponent === undefined || p.bodyLength !== 4 + main.sliceSize || seen.has(p.exponent)) continue;
    seen.add(p.exponent);
    recovery.push({ exponent: p.exponent, file: p.file, at: p.bodyAt + 4, handle: p.handle });
  }
  recovery.sort((a, b) => a.exponent - b.exponent);
  const creator = inSet.find((p) => p.kind === 'creator' && p.body)?.body;
  return { files, sliceSize: main.sliceSize, desc: own.d, slices: ifscPacket.slices, recovery, creator: creator ? creator.toString('latin1').replace(/\0+$/, '') : undefined, setId };
}
