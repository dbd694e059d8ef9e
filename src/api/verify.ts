// verify(): read an archive once, write nothing, and report every damaged place: the entry, the
// byte range and what is wrong. Spec: spec/manifest.md §8 (verify's rules).
//
// A plain tar or zip file with a trailer is checked range by range against the manifest's digests
// (src/integrity/ranges.ts): damage anywhere is found and named, however many headers it breaks.
// Anything else (compressed tars, stdin, archives without a manifest, a damaged manifest) is read
// as a stream by the container's reader (src/integrity/stream.ts).

import { open } from 'node:fs/promises';
import { ArchiveError, ioError } from '../model/errors.js';
import type { Limits } from '../model/limits.js';
import type { ArchiveSource } from '../io/source.js';
import { isUrl } from '../io/random-access.js';
import { urlBytes } from './random.js';
import { sniff, type Filter } from '../compress/index.js';
import { isZip } from '../zip/index.js';
import { appendedArchiveAt, locateTrailer, movedBy, verifyRanges } from '../integrity/ranges.js';
import { verifyStream } from '../integrity/stream.js';
import { TRAILER_TEXT_SIZE } from '../manifest/index.js';
import type { Damage } from '../integrity/report.js';
import { abortable, abortedOr, checkSignal, guardedHandle, throwIfAborted } from '../model/abort.js';
import { embeddedState, findRegion, newerLayout, type RecoveryStatus } from './recovery-status.js';

export { describeDamage, type Damage, type DamagePart } from '../integrity/report.js';

/** The region's damage (found first) after the archive's: in file order. */
function ordered(damaged: Damage[]): Damage[] {
  return [...damaged.filter((d) => d.part !== 'recovery'), ...damaged.filter((d) => d.part === 'recovery')];
}

export interface VerifyOptions {
  limits?: Partial<Limits>;
  /**
   * Cancel: verify() rejects with an AbortError before its next read of a file checked by its
   * manifest's ranges, or before the next chunk of a stream source (a Readable, bytes).
   */
  signal?: AbortSignal;
}

export interface VerifyResult {
  /** Nothing damaged was found. */
  ok: boolean;
  damaged: Damage[];
  /** Every entry's content was checked against a digest in the manifest. */
  checkedContent: boolean;
  /** Entries checked (the manifest and trailer not counted). */
  entries: number;
  format: 'tar' | 'zip';
  compression: Filter;
  /** How the archive was checked: by the trailer's ranges, or as a stream. */
  method: 'ranges' | 'stream';
  /** What could not be checked, and why. */
  notes: string[];
  /**
   * Recovery data embedded in the archive file (spec/recovery.md §10): the archive's blocks
   * against it, and damage in the region itself (also listed in `damaged`, part "recovery").
   */
  recovery?: RecoveryStatus;
  /** The file holds embedded recovery data (usable or not: a later layout, damaged beyond use). */
  embeddedRecovery?: boolean;
}

export async function verify(source: ArchiveSource, options: VerifyOptions = {}): Promise<VerifyResult> {
  const name = typeof source === 'string' ? (source === '-' ? '(stdin)' : source) : '(stream)';
  const signal = checkSignal(options.signal);
  const damaged: Damage[] = [];
  const notes: string[] = [];
  let useManifest = true;
  let length: number | undefined;
  let recovery: RecoveryStatus | undefined;
  let embedded = false;
  /** A zip file whose end record's comment holds no trailer: one with a manifest has lost it. */
  let zipNoTrailer: [number, number] | undefined;
  try {
    // An http(s) URL is checked as a stream: its bytes in order, by ranged reads (spec/manifest.md §12.5).
    const url = isUrl(source) ? await urlBytes(source, signal) : undefined;
    if (typeof source === 'string' && source !== '-' && !url) {
      const file = await open(source, 'r').catch((e) => {
        throw ioError(e, 'cannot open the archive', source);
      });
      const fh = guardedHandle(file, signal);
      try {
        let size = (await fh.stat()).size;
        // Embedded recovery data (spec/recovery.md §10): the archive is what comes before it.
        const region = await findRegion(fh, size);
        if (region) {
          embedded = true;
          size = region.archiveLength;
          length = size;
          const e = await embeddedState(fh, region, source);
          if (!e.check) notes.push(newerLayout(region, source).reason);
          else {
            for (const d of e.check.damaged) damaged.push({ part: 'recovery', range: d.range, what: d.what });
            if (!e.status) damaged.push({ part: 'recovery', range: [region.archiveLength, region.archiveLength + region.regionLength], what: `the recovery data cannot be used: ${e.check.problem ?? 'damaged'}` });
            recovery = e.status;
          }
        }
        const head = Buffer.alloc(Math.min(10, size));
        await fh.read(head, 0, head.length, 0);
        const format = isZip(head) ? 'zip' : sniff(head) === 'none' ? 'tar' : undefined;
        if (format) {
          const loc = await locateTrailer(fh, size, format);
          const appended = format === 'tar' && loc?.trailer ? await appendedArchiveAt(fh, size, { ...loc, trailer: loc.trailer }) : undefined;
          // Off the block grid: bytes inserted or deleted before the trailer; how far its manifest moved.
          const moved = loc?.trailer && loc.offGrid ? await movedBy(fh, size, { ...loc, trailer: loc.trailer }) : 0;
          if (appended !== undefined) {
            // Archives concatenated: the first is checked as a stream, against the manifest in it,
            // and what follows its end is named there.
            notes.push(`the trailer at the end of the file is that of an archive appended at offset ${appended}`);
          } else if (loc?.trailer && moved === undefined) {
            // Off the block grid, its manifest not at the moved place: as if there were none.
            notes.push(`a trailer was found off the 512-byte block grid, at offset ${loc.at}, and no manifest at the place it would have moved to: the archive is checked by its structure`);
          } else if (loc?.trailer) {
            // Moved: the ranges say where the bytes were inserted or deleted.
            const r = await verifyRanges(fh, size, format, { ...loc, trailer: loc.trailer }, damaged, moved);
            throwIfAborted(signal); // a read refused by the signal may have been taken for damage
            if (r.manifestUsable) return { ok: damaged.length === 0, damaged: ordered(damaged), checkedContent: true, entries: r.entries, format, compression: 'none', method: 'ranges', notes, ...(recovery ? { recovery } : {}), ...(embedded ? { embeddedRecovery: true } : {}) };
            if (r.unsupported) notes.push(r.unsupported);
            useManifest = false;
          } else if (loc?.problem) {
            damaged.push({ part: 'trailer', range: [loc.at, loc.at + TRAILER_TEXT_SIZE], what: loc.problem });
          } else if (!loc && format === 'zip') {
            zipNoTrailer = [Math.max(0, size - TRAILER_TEXT_SIZE), size];
          }
        }
      } finally {
        await fh.close();
      }
    }
    throwIfAborted(signal);
    const stream = url ?? (typeof source === 'string' || source instanceof Uint8Array ? source : abortable(source as AsyncIterable<Buffer>, signal));
    const r = await verifyStream(stream, { useManifest, path: typeof source === 'string' && source !== '-' && !url ? source : undefined, name, length, limits: options.limits, signal }, damaged);
    throwIfAborted(signal);
    // The manifest was found (the archive declares it), the trailer that vouches for it not: its
    // magic line damaged, the zip's end record and comment rewritten. (A tar's is a member: the
    // stream check names it.)
    if (zipNoTrailer && r.checkedContent && !damaged.some((d) => d.part === 'trailer')) {
      damaged.push({ part: 'trailer', range: zipNoTrailer, what: "the end record's comment does not hold the trailer the archive's manifest goes with (damaged or rewritten): the manifest could not be checked against it" });
    }
    return {
      ok: damaged.length === 0,
      damaged: ordered(damaged),
      checkedContent: r.checkedContent,
      entries: r.entries,
      format: r.format,
      compression: r.compression,
      method: 'stream',
      notes: [...notes, ...r.notes],
      ...(recovery ? { recovery } : {}),
      ...(embedded ? { embeddedRecovery: true } : {}),
    };
  } catch (err) {
    if (signal?.aborted) throw abortedOr(signal, err);
    if (err instanceof ArchiveError) throw err.withArchive(name);
    throw err;
  }
}
