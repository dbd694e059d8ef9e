// Streaming ZIP reader for input that cannot seek (a pipe, stdin, a network stream): local headers
// in order, each member's data (its end found through the sizes, the decoder, or the data
// descriptor), then the central directory, which is checked against what the stream held.
// Yields { entry, offset, body } like TarReader. Spec: spec/zip-profile.md §6.2.
//
// A stream reaches the central directory last, so what only the central directory holds (the Unix
// mode in the external attributes of archives from other tools) is not known when an entry is
// yielded: such entries get default modes and a warning. portarc archives repeat the mode in the
// local PX field, so nothing is lost for them.

import { ArchiveError, DamagedError, LimitError, UnsupportedFeatureError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { displayName, type Entry } from '../model/entry.js';
import { runsOf } from './body.js';
import { crc32 } from './crc.js';
import { decoder, type Feed } from './decode.js';
import { buildEntry, checkXattrLimits, readExtras } from './entrymap.js';
import { Zip64Error, applyZip64 } from './extra.js';
import { applyArchiveRecord, newZipArchiveInfo, type ZipArchiveInfo } from './info.js';
import { ONE_SHOT, STORE, zipMethod } from './methods.js';
import { PX, decodePx, type PxRecord } from './portarc-extra.js';
import { PullSource } from './pull.js';
import { CHECK_LIMIT, LocalLog, readCentralTail, type LogRow } from './stream-central.js';
import { FLAG, LOCAL_SIZE, SIG, decodeLocalFixed, descriptorCrc, matchDescriptor } from './records.js';

export interface ZipMember {
  entry: Entry;
  /** Offset of the entry's local header. */
  offset: number;
  /** The content (for sparse entries, only the data runs, back to back; entry.sparse says where). */
  body: AsyncIterable<Buffer>;
  /**
   * A file whose size no header gives (a data descriptor, no portarc size record): entry.size is
   * 0 until its body has been read. A writer needs the size first: the body is spooled (convert).
   */
  sizeUnknown?: true;
}

export interface ZipStreamReaderOptions {
  /** Name used in error messages (a file name, or "-" for stdin). */
  archiveName?: string;
  /** Bounds (model/limits.ts): entries, xattrs, and headerBytes for symlink targets and overflow members. */
  limits?: Partial<Limits>;
}

const SIG_DESCRIPTOR = Buffer.from([0x50, 0x4b, 0x07, 0x08]);

interface Overflow {
  offset: number;
  records: PxRecord[];
}

interface Member {
  entry: Entry;
  /** ZipMember.sizeUnknown. */
  sizeUnknown: boolean;
  overflowMember: boolean;
  archive?: string;
  body: AsyncIterable<Buffer>;
  /** Read what the consumer left (skipping undecoded data when its size is known). */
  drain: () => Promise<void>;
  /** The whole content, bounded. */
  readAll: (limit: number) => Promise<Buffer>;
  /** Values for the central directory cross-check, final once drained. */
  check: () => LogRow;
}

export class ZipStreamReader implements AsyncIterable<ZipMember> {
  readonly info: ZipArchiveInfo = newZipArchiveInfo();
  private src: PullSource;
  private name: string;
  private maxMeta: number;
  private limits: Limits;
  private count = 0;
  private log = new LocalLog();
  /** Errors of a member's content after which the reader can go on to the next member (goesOnAfter). */
  private goesOn = new WeakSet<object>();

  /**
   * Whether `err`, thrown while a member's content was read, costs that member only: its size
   * was in its header, so the rest of it is skipped and the next member read (a CRC mismatch,
   * corrupt data, an unsupported method or encryption). With a data descriptor, no.
   */
  goesOnAfter(err: unknown): boolean {
    return typeof err === 'object' && err !== null && this.goesOn.has(err);
  }
  /** Local members read (overflow members included). */
  private members = 0;
  /** Where data follows the end records, read by nothing (another archive appended with cat). */
  trailingAt: number | undefined;

  constructor(source: AsyncIterable<Buffer | Uint8Array>, opts: ZipStreamReaderOptions = {}) {
    this.src = new PullSource(source);
    this.name = opts.archiveName ?? 'archive';
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxMeta = this.limits.headerBytes;
  }

  private fail(reason: string, offset: number, entry?: string, code?: 'PORTARC_LIMIT'): never {
    if (code) throw new LimitError(reason, { archive: this.name, entry, offset });
    throw new ArchiveError(reason, { archive: this.name, entry, offset });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ZipMember> {
    let overflow: Overflow | undefined;
    let archiveSeen = false;
    for (;;) {
      const at = this.src.position;
      const sig = await this.src.read(4);
      if (sig.length < 4) {
        if (at === 0 && sig.length === 0) this.fail('empty input: not a zip archive', 0);
        this.fail('archive is truncated: it ends before the central directory', at);
      }
      const s = sig.readUInt32LE(0);
      if (s === SIG.local) {
        const m = await this.member(at, overflow);
        overflow = undefined;
        if (!archiveSeen && m.archive !== undefined) {
          applyArchiveRecord(this.info, m.archive, this.name, at);
          archiveSeen = true;
        }
        if (m.overflowMember) {
          const data = await m.readAll(this.maxMeta);
          const d = decodePx(data);
          if ('problem' in d) this.info.warnings.push(`${this.name}: metadata overflow member at offset ${at}: ${d.problem}`);
          else overflow = { offset: at, records: d.records };
        } else {
          if (++this.count > this.limits.entries) this.fail(`more than ${this.limits.entries} entries (limit "entries")`, at, undefined, 'PORTARC_LIMIT');
          checkXattrLimits(m.entry, this.limits, (reason) => this.fail(reason, at, m.entry.name));
          yield m.sizeUnknown ? { entry: m.entry, offset: at, body: m.body, sizeUnknown: true } : { entry: m.entry, offset: at, body: m.body };
          await m.drain();
        }
        if (++this.members <= CHECK_LIMIT) this.log.push(m.check());
      } else if (s === SIG.central || s === SIG.zip64Eocd || s === SIG.eocd) {
        await this.centralDirectory(at, s);
        return;
      } else {
        if (at === 0) this.fail('not a zip archive (no local header at the start)', 0);
        this.fail(`unexpected signature 0x${s.toString(16).padStart(8, '0')} where a local header or the central directory should start`, at);
      }
    }
  }

  private async member(at: number, overflow: Overflow | undefined): Promise<Member> {
    const src = this.src;
    const rest = await src.read(LOCAL_SIZE - 4);
    if (rest.length < LOCAL_SIZE - 4) this.fail('archive is truncated inside a local header', at);
    const f = decodeLocalFixed(Buffer.concat([Buffer.alloc(4), rest]));
    const name = await src.read(f.nameLength);
    if (name.length < f.nameLength) this.fail('archive is truncated inside a local header', at);
    const shown = displayName(name);
    const extra = await src.read(f.extraLength);
    if (extra.length < f.extraLength) this.fail('archive is truncated inside a local header', at, shown);
    if (name.includes(0)) this.fail('the name contains a NUL byte', at, shown);
    const descriptor = (f.flags & FLAG.descriptor) !== 0;
    // Encrypted: its data is skipped by its size and its body refuses (the reader goes on to the
    // next member); with a descriptor its end cannot be found, and the reading stops here.
    const encrypted = (f.flags & (FLAG.encrypted | FLAG.strongEncryption)) !== 0;
    if (encrypted && descriptor) {
      throw new UnsupportedFeatureError('encrypted entries are not supported, and in a stream the end of this one cannot be found (a data descriptor): nothing after it is read; read the archive from a file to extract the other members', { archive: this.name, entry: shown, offset: at });
    }
    const warnings: string[] = [];
    const notices: string[] = [];
    const x = readExtras(extra, true, name, (w) => warnings.push(w), new Set(), (n) => notices.push(n));
    let sizes = { usize: f.usize, csize: f.csize };
    if (!descriptor) {
      try {
        sizes = applyZip64(x.zip64, f);
      } catch (err) {
        if (err instanceof Zip64Error) this.fail(err.message, at, shown);
        throw err;
      }
    }
    const ref = x.px.find((r) => r.type === PX.overflowRef);
    if (ref && ref.value.length === 8) {
      const target = Number(ref.value.readBigUInt64LE(0));
      if (overflow?.offset === target) for (const r of overflow.records) x.px.push(r);
      else warnings.push(`its metadata overflow member (offset ${target}) did not come right before it; the metadata kept there is lost`);
    }
    const { entry, facts } = buildEntry({ name, flags: f.flags, dosTime: f.dosTime, dosDate: f.dosDate, usize: descriptor ? 0 : sizes.usize }, x);
    entry.warnings.push(...warnings);
    entry.notices.unshift(...notices);
    if (descriptor && facts.size !== undefined && entry.type === 'file') entry.size = facts.size;
    if (facts.critical !== undefined) {
      throw new UnsupportedFeatureError(`portarc extra record type 0x${facts.critical.toString(16)} is critical and not known to this reader: upgrade portarc`, { archive: this.name, entry: shown, offset: at });
    }
    const method = zipMethod(f.method);
    const fail = (reason: string): never => this.fail(reason, at, shown);
    // Content that does not match its CRC is damage (PORTARC_DAMAGED), not a malformed archive.
    const damaged = (reason: string): never => {
      throw new DamagedError(reason, { archive: this.name, entry: shown, offset: at });
    };

    // ---- the data ----
    let left = descriptor ? 0 : sizes.csize; // raw bytes of a known-size member still unread
    let crc = 0;
    let usize = 0;
    let csize = 0;
    let finished = false;
    // The size the data must have, when known before it is read: never decode more than that (a
    // small size in front of a large output is the zip bomb shape).
    const bound = descriptor ? facts.size : sizes.usize;
    const take = (b: Buffer) => {
      crc = crc32(b, crc);
      usize += b.length;
      if (bound !== undefined && usize > bound) fail(`size mismatch: the data holds more than the ${bound} bytes the ${descriptor ? 'portarc size record' : 'local header'} says`);
    };
    const limited: Feed = {
      next: async (max) => {
        if (left <= 0) return Buffer.alloc(0);
        const b = await src.some(Math.min(max, left));
        if (!b.length) fail(`archive is truncated: ${left} bytes of data missing`);
        left -= b.length;
        return b;
      },
      unread: (b) => {
        src.unread(b);
        left += b.length;
      },
    };
    const open: Feed = { next: (max) => src.some(max), unread: (b) => src.unread(b) };
    const corrupt = (err: unknown): never => {
      if (err instanceof ArchiveError) throw err;
      return fail(`compressed data is corrupt: ${(err as Error).message}`);
    };
    const unsupported = (): never => {
      throw new UnsupportedFeatureError(`compression method ${f.method} is not supported`, { archive: this.name, entry: shown, offset: at });
    };

    const self = this;
    async function* produce(): AsyncGenerator<Buffer> {
      if (encrypted) throw new UnsupportedFeatureError('encrypted entries are not supported', { archive: self.name, entry: shown, offset: at });
      if (!descriptor) {
        if (!method) unsupported();
        if (method!.id === STORE) {
          while (left > 0) {
            const b = await limited.next(1 << 20);
            take(b);
            yield b;
          }
        } else if (method!.decompressSync && sizes.csize <= ONE_SHOT.compressed && sizes.usize <= ONE_SHOT.uncompressed) {
          // Small member: one read, one call (a stream per small file costs more than the data).
          const packed = await src.read(left);
          if (packed.length < left) fail(`archive is truncated: ${left - packed.length} bytes of data missing`);
          left = 0;
          let out: Buffer;
          try {
            out = method!.decompressSync(packed, sizes.usize + 1);
          } catch (err) {
            return corrupt(err);
          }
          take(out);
          if (out.length) yield out;
        } else {
          try {
            for await (const b of decoder(method!, limited, false)) {
              take(b);
              yield b;
            }
          } catch (err) {
            corrupt(err);
          }
          if (left > 0) await src.skip(left);
          left = 0;
        }
        csize = sizes.csize;
        if (crc !== f.crc) damaged(`CRC-32 mismatch: header says 0x${hex(f.crc)}, data has 0x${hex(crc)}`);
        if (usize !== sizes.usize) fail(`size mismatch: header says ${sizes.usize} bytes, data has ${usize}`);
        return;
      }
      if (method?.id === STORE && facts.size !== undefined) {
        left = facts.size;
        while (left > 0) {
          const b = await limited.next(1 << 20);
          take(b);
          yield b;
        }
        csize = facts.size;
      } else if (method?.id === STORE) {
        yield* self.scanStored(at, shown, (b) => {
          take(b);
          csize += b.length;
        }, () => crc, () => csize);
      } else if (method) {
        const gen = decoder(method, open, true);
        try {
          for (;;) {
            const r = await gen.next();
            if (r.done) {
              csize = r.value;
              break;
            }
            take(r.value);
            yield r.value;
          }
        } catch (err) {
          corrupt(err);
        }
      } else unsupported();
      const d = await src.read(24);
      const len = matchDescriptor(d, crc, csize, usize);
      if (!len) {
        const said = descriptorCrc(d, csize, usize);
        if (said !== undefined) damaged(`CRC-32 mismatch: data descriptor says 0x${hex(said)}, data has 0x${hex(crc)}`);
        fail(`no data descriptor matching the data (${csize} bytes stored, ${usize} bytes, CRC 0x${hex(crc)}) follows it`);
      }
      src.unread(d.subarray(len));
      if (facts.size !== undefined && usize !== facts.size) fail(`size mismatch: portarc extra says ${facts.size} bytes, data has ${usize}`);
      entry.size = entry.type === 'file' ? usize : 0;
    }

    const gen = produce();
    const next = async (): Promise<Buffer | undefined> => {
      if (finished) return undefined;
      let r: IteratorResult<Buffer>;
      try {
        r = await gen.next();
      } catch (err) {
        // Its size known, the rest of the member is skipped by drain(): the next one can be read.
        if (!descriptor && err instanceof ArchiveError) self.goesOn.add(err);
        throw err;
      }
      if (r.done) finished = true;
      return r.done ? undefined : r.value;
    };
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const b = await next();
          if (b === undefined) return;
          yield b;
        }
      },
    };
    const drain = async () => {
      if (finished) return;
      if (!descriptor) {
        // Known size: skip without decoding (no CRC check for content nobody read, as in tar).
        await gen.return(undefined);
        finished = true;
        const got = await src.skip(left);
        if (got < left) fail(`archive is truncated: ${left - got} bytes of data missing`);
        left = 0;
        [crc, csize, usize] = [f.crc, sizes.csize, sizes.usize];
        return;
      }
      while ((await next()) !== undefined);
    };
    const readAll = async (limit: number) => {
      const parts: Buffer[] = [];
      let n = 0;
      for (let b = await next(); b !== undefined; b = await next()) {
        n += b.length;
        if (n > limit) fail(`content of ${n}+ bytes exceeds the limit of ${limit} for metadata`);
        parts.push(b);
      }
      return Buffer.concat(parts, n);
    };

    // Data of symlinks is their target; other non-files should have none.
    let memberBody: AsyncIterable<Buffer> = entry.sparse ? runsOf(body, entry.sparse) : body;
    if (entry.type === 'symlink') {
      entry.linkTarget = await readAll(this.maxMeta);
      memberBody = emptyBody();
    } else if (entry.type !== 'file' && !facts.overflowMember) {
      memberBody = emptyBody();
      const before = entry.warnings.length;
      await drain();
      if (entry.type !== 'hardlink' && (usize > 0 || (!descriptor && sizes.usize > 0))) entry.warnings.splice(before, 0, `${entry.type} carries ${usize || sizes.usize} bytes of data; skipped`);
    }
    return {
      entry,
      sizeUnknown: descriptor && entry.type === 'file' && facts.size === undefined,
      overflowMember: facts.overflowMember === true,
      archive: facts.archive,
      body: memberBody,
      drain,
      readAll,
      check: () => ({ offset: at, nameCrc: crc32(name), method: f.method, crc, csize, usize, hasPx: x.hasPx, dosTime: x.mtime === undefined }),
    };
  }

  /**
   * Stored data followed by a descriptor, length unknown: find the first signed descriptor whose
   * CRC and sizes match the data before it (libarchive does the same). Unsigned ones cannot be found.
   */
  private async *scanStored(at: number, shown: string, take: (b: Buffer) => void, crcSoFar: () => number, sizeSoFar: () => number): AsyncGenerator<Buffer> {
    let held = Buffer.alloc(0);
    for (;;) {
      const chunk = await this.src.some(1 << 16);
      if (!chunk.length) {
        this.fail('stored entry with a data descriptor and no size: no matching descriptor before the end of the input; read this archive from a file (random access) instead', at, shown);
      }
      const buf = held.length ? Buffer.concat([held, chunk]) : chunk;
      let from = 0;
      let keepFrom = Math.max(0, buf.length - 23);
      for (;;) {
        const i = buf.indexOf(SIG_DESCRIPTOR, from);
        if (i < 0) break;
        if (buf.length - i < 24) {
          keepFrom = Math.min(keepFrom, i);
          break;
        }
        const n = sizeSoFar() + i;
        const c = crc32(buf.subarray(0, i), crcSoFar());
        if (matchDescriptor(buf.subarray(i), c, n, n) >= 16) {
          const data = buf.subarray(0, i);
          if (data.length) {
            take(data);
            yield data;
          }
          this.src.unread(buf.subarray(i));
          return;
        }
        from = i + 1;
      }
      const emit = buf.subarray(0, keepFrom);
      if (emit.length) {
        take(emit);
        yield emit;
      }
      held = Buffer.from(buf.subarray(keepFrom));
    }
  }

  /** The central directory and the end records, held against what the stream held (spec §6.2). */
  private async centralDirectory(at: number, firstSig: number): Promise<void> {
    this.trailingAt = await readCentralTail(this.src, this.log, {
      at,
      firstSig,
      checking: this.members <= CHECK_LIMIT,
      fail: (reason, offset, entry) => this.fail(reason, offset, entry),
      warn: (w) => this.info.warnings.push(`${this.name}: ${w}`),
    });
  }
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

function emptyBody(): AsyncIterable<Buffer> {
  return { async *[Symbol.asyncIterator]() {} };
}
