// The digests a restore checks each file against (spec/manifest.md §11, extraction with a
// manifest). For a seekable plain tar or zip file, the trailer says where the manifest is; its XML
// is checked against the trailer's digest, then streamed alongside the archive: its entries are in
// archive order, so each member's entry is found by advancing to the member's offset. Memory stays
// flat whatever the entry count (one parsed entry at a time, never a path → digest map).

import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { sniff } from '../compress/index.js';
import { isZip } from '../zip/index.js';
import { MANIFEST_FEATURE, isManifestMember, readManifestBatches, type ManifestEntry, type ManifestItem } from '../manifest/index.js';
import { fileChunks, locateTrailer, movedBy } from './ranges.js';
import { findEmbedded, readAtOf } from './par2/embedded.js';

export interface ExpectedDigests {
  /**
   * The manifest's entry for the member whose first header is at `offset`, if it lists one there;
   * `passed` is told of each entry before it that was not asked for.
   */
  at(offset: number, passed?: (e: ManifestEntry) => void): ManifestEntry | undefined | Promise<ManifestEntry | undefined>;
  /**
   * The last entry at() passed that starts before the offset it was asked for: when at() found
   * none there, the member read may be one whose first headers were damaged and skipped, its
   * ustar header found inside this entry's header range (spec §6.8).
   */
  readonly previous: ManifestEntry | undefined;
  /**
   * The manifest's entries that start after `offset`, but for its own reserved members (the
   * manifest and trailer): the rest of it, which at() is done with.
   */
  after(offset: number): AsyncIterable<ManifestEntry>;
  /** Why the manifest stopped being usable part way (a newer major version, bad XML), if it did. */
  problem?: string;
  /**
   * A zip's central directory and end records differ from the trailer's digest of them: the
   * modes, times and link flags the zip reader takes from there may be wrong (spec/manifest.md §11).
   */
  centralDamage?: { what: string; range: [number, number] };
  close(): Promise<void>;
}

export interface ExpectedResult {
  expected?: ExpectedDigests;
  why?: string;
  /**
   * A zip file (whose trailer is no member a stream reads): what its trailer says of the manifest
   * (`manifest-sha256`), or '' when it has no intact trailer, for the stream check to hold the
   * manifest against (spec/manifest.md §11.2 item 6).
   */
  zipTrailerSha256?: string;
}

/**
 * Open the manifest of the archive file `path` for checking. `why` says why there is none to check
 * against when the archive seems to have one (a damaged trailer or manifest, a newer version);
 * nothing at all when the archive has no trailer or is not a plain tar or zip file.
 */
export async function openExpected(path: string): Promise<ExpectedResult> {
  // A pipe named as the archive (`-f <(...)`) is read once, by the archive reader: not opened here.
  if (!(await stat(path)).isFile()) return {};
  let fh: FileHandle | undefined = await open(path, 'r');
  try {
    let size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(10, size));
    await fh.read(head, 0, head.length, 0);
    const format = isZip(head) ? 'zip' : sniff(head) === 'none' ? 'tar' : undefined;
    if (!format) return {};
    // Embedded recovery data (spec/recovery.md §10): the archive is what comes before it (a zip's
    // end records are repeated after it, and the trailer found there is the copy's).
    const region = await findEmbedded(readAtOf(fh), size);
    if (region) size = region.archiveLength;
    const loc = await locateTrailer(fh, size, format);
    const zipTrailerSha256 = format === 'zip' ? (loc?.trailer?.manifestSha256 ?? '') : undefined;
    if (!loc) return { zipTrailerSha256 };
    if (!loc.trailer) return { why: `the trailer is damaged (${loc.problem ?? 'unreadable'})`, zipTrailerSha256 };
    // Off the block grid: bytes inserted or deleted before it moved it, and the manifest with it.
    // Members are still checked at their own offsets: those before the damage match, the one it
    // is in does not (set aside), and the reader finds none after it (named as not extracted).
    const moved = loc.offGrid ? await movedBy(fh, size, { ...loc, trailer: loc.trailer }) : 0;
    if (moved === undefined) return {};
    const { manifestSize, manifestSha256 } = loc.trailer;
    const manifestData = loc.trailer.manifestData + moved;
    if (manifestData + manifestSize > size) return { why: 'the trailer points past the end of the archive' };
    // A damaged manifest would condemn good files: it is used only when its XML matches the trailer.
    const hash = createHash('sha256');
    for await (const c of fileChunks(fh, manifestData, manifestData + manifestSize)) hash.update(c);
    if (hash.digest('hex') !== manifestSha256) return { why: 'the manifest does not match the digest in the trailer', zipTrailerSha256 };
    let centralDamage: ExpectedDigests['centralDamage'];
    if (format === 'zip') {
      const cd = createHash('sha256');
      for await (const c of fileChunks(fh, loc.trailer.manifestEnd, loc.at)) cd.update(c);
      if (cd.digest('hex') !== loc.trailer.endSha256) centralDamage = { what: 'the central directory or end records do not match their digest: the metadata read from them may be wrong', range: [loc.trailer.manifestEnd, loc.at] };
    }
    // In batches: a member asks for its entry, and most find it in the batch at hand, without an
    // async step (a promise and an iterator result per entry were garbage per member read).
    const items = readManifestBatches(fileChunks(fh, manifestData, manifestData + manifestSize));
    const handle = fh;
    fh = undefined;
    let batch: ManifestItem[] = [];
    let taken = 0;
    let current: ManifestEntry | undefined;
    let previous: ManifestEntry | undefined;
    /** The entry at() last found at the offset asked for: not "passed over" when at() moves past it. */
    let asked: ManifestEntry | undefined;
    let ended = false;
    /** The next entry into `current`, from the batch at hand; false when the next batch must come. */
    const nextNow = (): boolean => {
      while (taken < batch.length) {
        const item = batch[taken++]!;
        if (item.kind === 'entry') {
          current = item.entry;
          return true;
        }
      }
      return false;
    };
    const next = async (): Promise<void> => {
      while (!nextNow()) {
        let r: IteratorResult<ManifestItem[]>;
        try {
          r = await items.next();
        } catch (err) {
          // A newer major version (refused at the root) or XML that does not parse.
          expected.problem = (err as Error).message;
          ended = true;
          current = undefined;
          return;
        }
        if (r.done) {
          ended = true;
          current = undefined;
          return;
        }
        batch = r.value;
        taken = 0;
      }
    };
    /** Move past the entries before `offset`; a promise only when a batch must be read. */
    const advance = (offset: number, passed?: (e: ManifestEntry) => void): void | Promise<void> => {
      while (current && current.offset < offset) {
        previous = current;
        if (current !== asked) passed?.(current);
        if (!nextNow()) return next().then(() => advance(offset, passed));
      }
    };
    /** The entry where `advance` stopped, when it is the one at `offset` (then it was asked for). */
    const foundAt = (offset: number): ManifestEntry | undefined => {
      if (current?.offset !== offset) return undefined;
      asked = current;
      return current;
    };
    const expected: ExpectedDigests = {
      centralDamage,
      at(offset, passed) {
        const moved = !current && !ended ? next().then(() => advance(offset, passed)) : advance(offset, passed);
        return moved ? moved.then(() => foundAt(offset)) : foundAt(offset);
      },
      get previous() {
        return previous;
      },
      async *after(offset) {
        if (!current && !ended) await next();
        for (; current; await next()) if (current.offset > offset && !isManifestMember(current.path, [MANIFEST_FEATURE])) yield current;
      },
      async close() {
        await items.return(undefined).catch(() => undefined);
        await handle.close();
      },
    };
    return { expected };
  } finally {
    await fh?.close();
  }
}

