// The tail of a streamed zip: the central directory, read after all members and held against the
// local headers the stream held (name, method, CRC, sizes, count), then the end records.
// Spec: spec/zip-profile.md §6.2 steps 5–6.

import { displayName } from '../model/entry.js';
import { crc32 } from './crc.js';
import { readExtras, unixModeOf } from './entrymap.js';
import { typeOfMode } from './portarc-extra.js';
import { Zip64Error, applyZip64 } from './extra.js';
import type { PullSource } from './pull.js';
import { LOCATOR_PACKET, MAGIC as PAR2_MAGIC, regionEnd } from '../integrity/par2/packets.js';
import { CENTRAL_SIZE, SIG, U16, centralLength, decodeCentral, readU64 } from './records.js';

/** Members whose local headers are kept for the cross-check (35 bytes each). */
export const CHECK_LIMIT = 1_000_000;

export interface LogRow {
  offset: number;
  nameCrc: number;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  hasPx: boolean;
  /** Its mtime came from the DOS fields alone (no UT, NTFS or portarc time in the local header). */
  dosTime: boolean;
}

/** What each local header said, in columns (35 bytes an entry), for the central directory check. */
export class LocalLog {
  length = 0;
  private cap = 1024;
  offset = new Float64Array(this.cap);
  csize = new Float64Array(this.cap);
  usize = new Float64Array(this.cap);
  nameCrc = new Uint32Array(this.cap);
  crc = new Uint32Array(this.cap);
  method = new Uint16Array(this.cap);
  hasPx = new Uint8Array(this.cap);
  dosTime = new Uint8Array(this.cap);

  push(r: LogRow): void {
    if (this.length === this.cap) {
      this.cap *= 2;
      const grow = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(this.cap);
        b.set(a);
        return b;
      };
      [this.offset, this.csize, this.usize] = [grow(this.offset), grow(this.csize), grow(this.usize)];
      [this.nameCrc, this.crc, this.method, this.hasPx, this.dosTime] = [grow(this.nameCrc), grow(this.crc), grow(this.method), grow(this.hasPx), grow(this.dosTime)];
    }
    const i = this.length++;
    this.offset[i] = r.offset;
    this.csize[i] = r.csize;
    this.usize[i] = r.usize;
    this.nameCrc[i] = r.nameCrc;
    this.crc[i] = r.crc;
    this.method[i] = r.method;
    this.hasPx[i] = r.hasPx ? 1 : 0;
    this.dosTime[i] = r.dosTime ? 1 : 0;
  }

  /** Index of the member at this offset (offsets grow as a stream is read), or -1. */
  find(offset: number): number {
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.offset[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}


export interface TailOptions {
  at: number;
  firstSig: number;
  checking: boolean;
  fail: (reason: string, offset: number, entry?: string) => never;
  warn: (message: string) => void;
}

/** Returns where data follows the end records (another archive appended), if it does. */
export async function readCentralTail(src: PullSource, log: LocalLog, o: TailOptions): Promise<number | undefined> {
  const fail: TailOptions['fail'] = o.fail;
  let sig = o.firstSig;
  let count = 0;
  /** Entries whose Unix mode only the central directory has, and that were made otherwise (the first 20 named). */
  const asFiles: string[] = [];
  let asFilesCount = 0;
  let otherModes = 0;
  let modeExample = '';
  /** Entries whose exact time only the central directory has (7-Zip's NTFS times): restored from the DOS time. */
  let dosTimes = 0;
  let timeExample = '';
  let pos = o.at;
  // Each member the stream held must be named by exactly one central header: two naming the same
  // local header is the overlap that random access refuses (spec §6.1 step 5), and must not pass here.
  const named = o.checking ? new Uint8Array(log.length) : undefined;
  const sigAt = async (): Promise<number> => {
    pos = src.position;
    const s = await src.read(4);
    if (s.length < 4) fail('archive is truncated: no end of central directory record', pos);
    return s.readUInt32LE(0);
  };
  while (sig === SIG.central) {
    const fixed = await src.read(CENTRAL_SIZE - 4);
    if (fixed.length < CENTRAL_SIZE - 4) fail('archive is truncated inside the central directory', pos);
    const head = Buffer.concat([Buffer.alloc(4), fixed]);
    const rest = await src.read(centralLength(head, 0) - CENTRAL_SIZE);
    if (rest.length < centralLength(head, 0) - CENTRAL_SIZE) fail('archive is truncated inside the central directory', pos);
    const h = decodeCentral(Buffer.concat([head, rest]), 0);
    const shown = displayName(h.name);
    const x = readExtras(h.extra, false, h.name, () => undefined, new Set());
    let z: { usize: number; csize: number; offset?: number };
    try {
      z = applyZip64(x.zip64, h);
    } catch (err) {
      if (err instanceof Zip64Error) fail(err.message, pos, shown);
      throw err;
    }
    count++;
    if (o.checking) {
      const i = log.find(z.offset!);
      if (i < 0) fail(`the central directory lists an entry at offset ${z.offset} that the stream did not contain`, z.offset!, shown);
      const offset = log.offset[i]!;
      if (named![i]) fail('member shares its local header with another entry of the central directory', offset, shown);
      named![i] = 1;
      const differ = (what: string, a: number, b: number) => {
        if (a !== b) fail(`local and central headers disagree on the ${what} (local ${a}, central ${b})`, offset, shown);
      };
      if (log.nameCrc[i] !== crc32(h.name)) fail('local and central headers disagree on the name', offset, shown);
      differ('compression method', log.method[i]!, h.method);
      differ('CRC-32', log.crc[i]!, h.crc);
      differ('compressed size', log.csize[i]!, z.csize);
      differ('size', log.usize[i]!, z.usize);
      if (log.dosTime[i] && !log.hasPx[i] && x.mtime !== undefined) {
        dosTimes++;
        timeExample ||= shown;
      }
      const mode = log.hasPx[i] ? undefined : unixModeOf(h);
      if (mode !== undefined) {
        // Made from the local header alone: a directory (0755) if the name ends in "/", else a file (0644).
        const dir = h.name[h.name.length - 1] === 0x2f;
        const type = typeOfMode(mode) ?? 'file';
        if (!dir && type !== 'file') {
          if (asFilesCount++ < 20) asFiles.push(`"${shown}" (a ${type})`);
        }
        else if ((mode & 0o7777) !== (dir ? 0o755 : 0o644)) {
          otherModes++;
          modeExample ||= shown;
        }
      }
    }
    sig = await sigAt();
  }
  if (o.checking && count !== log.length) fail(`the central directory lists ${count} entries, the stream held ${log.length}`, o.at);
  if (!o.checking) o.warn(`more than ${CHECK_LIMIT} entries; local headers were not checked against the central directory`);
  // What the central directory says, which a stream reaches last, and what was made without it:
  // each entry of another type is named (a symlink made as a file holding its target).
  if (asFilesCount) {
    const shownNames = asFiles.join(', ') + (asFilesCount > 20 ? `, and ${asFilesCount - 20} more` : '');
    o.warn(`${asFilesCount} ${asFilesCount === 1 ? 'entry was' : 'entries were'} made as regular files, their type being only in the central directory, which a stream reaches last: ${shownNames}. Read the archive from a file to get them.`);
  }
  if (otherModes) {
    o.warn(`the Unix modes of ${otherModes} ${otherModes === 1 ? 'entry' : 'entries'} (e.g. "${modeExample}") are only in the central directory, which a stream reaches last; they were given default modes (0644, directories 0755). Read the archive from a file to get them.`);
  }
  if (dosTimes) {
    o.warn(`the exact modification times of ${dosTimes} ${dosTimes === 1 ? 'entry' : 'entries'} (e.g. "${timeExample}") are only in the central directory, which a stream reaches last; ${dosTimes === 1 ? 'it was' : 'they were'} given the local header's DOS time (2-second steps, in the creator's local time, read as UTC). Read the archive from a file to get them.`);
  }
  let stated: number | undefined;
  if (sig === SIG.zip64Eocd) {
    const sizeField = await src.read(8);
    const size = sizeField.length === 8 ? readU64(sizeField, 0) : undefined;
    if (size === undefined || size < 44 || size > 1 << 20) fail('zip64 end of central directory record is truncated or malformed', pos);
    const rec = await src.read(size);
    if (rec.length < size) fail('zip64 end of central directory record is truncated', pos);
    stated = readU64(rec, 20);
    sig = await sigAt();
    if (sig === SIG.zip64Locator) {
      if ((await src.skip(16)) < 16) fail('zip64 end of central directory locator is truncated', pos);
      sig = await sigAt();
    }
  }
  if (sig !== SIG.eocd) fail('no end of central directory record after the central directory', pos);
  const eocd = await src.read(18);
  if (eocd.length < 18) fail('end of central directory record is truncated', pos);
  const total = eocd.readUInt16LE(6);
  stated ??= total === U16 ? undefined : total;
  if (stated !== undefined && stated !== count) fail(`the end record says ${stated} entries, the central directory holds ${count}`, pos);
  await src.skip(eocd.readUInt16LE(16));
  return afterEnd(src, o.warn);
}

/**
 * What follows the end record: read to the end of the input (a pipe is read to its end, as tar's
 * is). Zeros are padding, and embedded recovery data starts with a PAR2 packet; anything else is
 * data no zip reader reads (another archive appended with `cat`, say): said, never passed over in
 * silence (spec/zip-profile.md §6.2, as spec/portarc-1.md §4.7 for tar).
 */
async function afterEnd(src: PullSource, warn: TailOptions['warn']): Promise<number | undefined> {
  for (;;) {
    const at = src.position;
    const part = await src.some(64 << 10);
    if (!part.length) return undefined;
    const nz = part.findIndex((b) => b !== 0);
    if (nz < 0) continue;
    const bytes = nz + LOCATOR_PACKET > part.length ? Buffer.concat([part, await src.read(nz + LOCATOR_PACKET - part.length)]) : part;
    if (bytes.subarray(nz, nz + PAR2_MAGIC.length).equals(PAR2_MAGIC)) {
      // Embedded recovery data, then its tail (the central directory and end records again): its
      // locator says where they end; what follows is looked at as what follows the end records.
      const end = regionEnd(bytes.subarray(nz), at + nz);
      if (end === undefined) return undefined;
      const read = at + bytes.length;
      if (end < read) src.unread(bytes.subarray(end - at));
      else if ((await src.skip(end - read)) < end - read) return undefined;
      continue;
    }
    warn(`data follows the end of the archive, at offset ${at + nz}, and was not read (another archive appended, as by cat?)`);
    return at + nz;
  }
}
