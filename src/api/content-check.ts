// extract()'s check of each restored file against the archive's manifest (spec/manifest.md §11).
// - A seekable plain tar or zip file: the manifest (found by the trailer, checked against its
//   digest) is read alongside the archive, and a file whose content differs never gets its name:
//   its temporary is removed, or renamed NAME.damaged with `keepDamaged` (§11.1).
// - Anything read as a stream (stdin, .tar.gz, .tar.zst): the manifest comes last, so files are
//   logged as they are restored and checked when it arrives; a file whose content differs is then
//   renamed NAME.damaged (never deleted: the manifest itself cannot be checked before it is used).
//   Hardlinks to it go the same way (§11.2).

import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../model/entry.js';
import { displayName, makeEntry } from '../model/entry.js';
import type { ArchiveInfo } from '../tar/version.js';
import type { ArchiveSource } from '../io/source.js';
import type { RestoreCheck, Restorer } from '../fs/restore.js';
import { digestBody } from '../integrity/content.js';
import { openExpected, type ExpectedDigests, type ExpectedResult } from '../integrity/expected.js';
import { OWN_HEADER_LOST, RestoredLog, headerMismatch, metName, type Mismatch, type RestoredRecord } from '../integrity/restored.js';
import { MANIFEST_NAME, TRAILER_MAGIC, TRAILER_NAME, TRAILER_TEXT_SIZE, TrailerError, decodeTrailer, declaresManifest, isManifestMember, isTrailerMagic, type ManifestEntry } from '../manifest/index.js';
import type { SkippedRange } from '../tar/reader.js';

export interface ContentDamage {
  path?: string;
  what: string;
  range?: [number, number];
  keptAs?: string;
}

export interface Planned {
  /** The member must not be restored (its header disagrees with the manifest). */
  refused?: ContentDamage;
  body: AsyncIterable<Buffer>;
  check: RestoreCheck;
}

const EMPTY = Buffer.alloc(0);
/** A member the manifest lists whose header was in bytes the reader skipped past damage. */
const SKIPPED_LOST = 'its header was in the bytes skipped (the manifest lists it there); not extracted';
const SWALLOWED = 'the manifest lists it here, but no header was read here: the member before it, as read, ran over it (its size damaged?); not extracted';

export class ContentCheck {
  readonly damaged: ContentDamage[] = [];
  /** Members the manifest places in ranges the reader skipped, or cut out; a manifest its trailer disowns (never restored, so never counted). */
  readonly lost: ContentDamage[] = [];
  readonly warnings: string[] = [];
  /** Data ranges of files the seekable check set aside, by entry name (for the report). */
  private ranges = new Map<string, [number, number]>();
  private log: RestoredLog | undefined;
  /** The stream check ran (the manifest arrived), or cannot run any more. */
  private done = false;
  /** The stream's manifest member was read: files after it are in no manifest. */
  private afterManifest = false;
  /** Checking a copy (convert), not a restore: mismatches are only reported. */
  nothingOnDisk = false;
  /** Where the archive being checked starts in the input (archives concatenated: newArchive()). */
  private base = 0;
  /**
   * The stream check's manifest against the trailer's `manifest-sha256` (spec/manifest.md §6):
   * the XML's digest once the check has read it, the trailer's once its member has passed; the
   * second to come compares them. A manifest edited without its trailer checked files against
   * itself as if sound, exit 0.
   */
  private xmlSha256: string | undefined;
  private trailerSha256: string | undefined;
  /** What met() keeps of every member read, in order, for the stream check. */
  private metNames: number[] = [];
  /** The ranges the reader skipped past damage so far (its own list, filled as it reads). */
  skipped: readonly SkippedRange[] = [];
  private why: string | undefined;
  /** Why the stream check could not use the manifest, until the trailer says whether it is intact. */
  private unchecked: string | undefined;
  /** A zip file's trailer (ContentCheck.open): its manifest-sha256, '' when it has no intact one. */
  private zipTrailer: string | undefined;
  /** The container read: in a tar, the trailer is a member after the manifest (trailerMissing). */
  private container: 'tar' | 'zip' | undefined;

  private constructor(private expected: ExpectedDigests | undefined) {}

  /** What expected.at() passed over in skipped bytes, for plan(); one callback for every call. */
  private passedOver: Array<{ e: ManifestEntry; what: string }> = [];
  private onPassed = (e: ManifestEntry): void => {
    if (this.inSkipped(e.offset)) this.passedOver.push({ e, what: SKIPPED_LOST });
    // No member was read at its offset, nor was it skipped: the member before it, as read, ran
    // over its headers (a size made larger by damage). Unless the caller does not say what it met.
    else if (this.metOffsets && !this.metOffsets.has(e.offset)) this.passedOver.push({ e, what: SWALLOWED });
  };
  /** Offsets of the members met() that plan() has not gone past (undefined: met() is not told offsets). */
  private metOffsets: Set<number> | undefined;
  private plannedTo = -1;

  /** `stream`: check as a stream does, at each manifest member (archives concatenated, §4.7). */
  static async open(source: ArchiveSource, stream = false, container?: 'tar' | 'zip'): Promise<ContentCheck> {
    if (typeof source !== 'string' || source === '-' || stream) {
      const c = new ContentCheck(undefined);
      c.container = container;
      return c;
    }
    // An archive that cannot be opened here is reported by the reader, which opens it too.
    const got: ExpectedResult = await openExpected(source).catch(() => ({}));
    const c = new ContentCheck(got.expected);
    c.container = container;
    c.why = got.why;
    // A zip's trailer is its end record's comment, which no member brings: known now ('' when it
    // has none: a manifest checked without one is reported at the end).
    if (!got.expected && got.zipTrailerSha256 !== undefined) c.zipTrailer = got.zipTrailerSha256;
    const central = got.expected?.centralDamage;
    if (central) c.lost.push({ what: central.what, range: central.range }); // not an entry set aside (see compareManifest)
    return c;
  }

  /**
   * No check of its own: the members come from random access (`open()`), which checks each one
   * against the manifest as it reads it (spec/manifest.md §12 Random access).
   */
  static byReader(): ContentCheck {
    const c = new ContentCheck(undefined);
    c.done = true;
    return c;
  }

  /**
   * The members from here on belong to the next of archives concatenated (read with
   * ignoreZeros, spec §4.7), which starts at `base` and has its own manifest (its offsets count
   * from its start). The archive before is done: its stream check ran at its manifest member, or
   * the archive ended before it (damage, as at the end of the input).
   */
  newArchive(base: number): void {
    if (base === this.base) return;
    this.endOfArchive();
    this.trailerMissing();
    this.base = base;
    this.metNames = [];
    this.xmlSha256 = this.trailerSha256 = undefined;
    this.log?.close();
    this.log = undefined;
    this.done = false;
    this.afterManifest = false;
  }

  /** The archive read (a stream) ended: unless its manifest came, that is damage. */
  private endOfArchive(lastOffset?: number, declared = false): void {
    if ((!this.log && !declared) || this.done) return;
    // The archive says it has a manifest (its global header): ending before it, it is cut short
    // or its end came early (zeroed blocks), and members may be missing: damage (spec §4.7).
    const where = lastOffset === undefined ? (this.log ? '' : ' before its first member') : ` after the member at offset ${lastOffset}`;
    const which = this.base ? ` that starts at offset ${this.base}` : '';
    this.lost.push({ what: `the archive${which} ends${where}, before its manifest member (it declares one): members after that may be missing, and contents were not checked against the manifest` });
    this.done = true;
  }

  /**
   * Every member read, whether restored or passed over (not selected, filtered): the stream check
   * then tells an entry the manifest lists but the archive does not hold (a member cut out) from
   * one left out on purpose. Before plan() and in archive order.
   */
  met(path: Buffer, offset?: number): void {
    if (!this.expected && !this.done) this.metNames.push(metName(path));
    // A tar's members are found one after another, so one can run over the next; a zip's are found by the central directory.
    if (this.expected && offset !== undefined && this.container === 'tar') (this.metOffsets ??= new Set()).add(offset);
  }

  /**
   * The body to restore and what to check, for one member. `headerSha256`: the digest of its
   * header range as read (tar; spec/manifest.md §11), held against the manifest's hsha256, so that
   * a damaged pax record (a time, a mode, an xattr) is not restored as if it were right.
   * `toRestorer`: the check goes to Restorer.restore(), which takes the content's digest itself
   * (RestoreCheck.deferred: a batch of small files hashes off the main thread); otherwise the body
   * is hashed as it passes, for `verdict`.
   */
  plan(entry: Entry, body: AsyncIterable<Buffer>, offset: number, info: ArchiveInfo, headerSha256?: string, restoredAs = entry.name, toRestorer = false): Planned | Promise<Planned> {
    if (this.expected) {
      // The manifest's entry is mostly in the batch at hand: no promise then (one per member).
      const found = entry.type === 'file' || headerSha256 !== undefined ? this.expected.at(offset, this.onPassed) : undefined;
      if (found instanceof Promise) return found.then((listed) => this.planListed(entry, body, offset, info, headerSha256, listed, toRestorer));
      return this.planListed(entry, body, offset, info, headerSha256, found, toRestorer);
    }
    return this.planLogged(entry, body, offset, info, headerSha256, restoredAs, toRestorer);
  }

  /** plan() with a manifest of the archive file: `listed` is its entry at `offset`, if any. */
  private planListed(entry: Entry, body: AsyncIterable<Buffer>, offset: number, info: ArchiveInfo, headerSha256: string | undefined, found: ManifestEntry | undefined, toRestorer: boolean): Planned {
    const expected = this.expected!;
    let listed = found;
    // Entries passed over whose headers lay in bytes the reader skipped past damage: lost.
    const passed = this.passedOver;
    if (passed.length) this.passedOver = [];
    // The offsets met up to here are done with: expected.at() never goes back. A second pass
    // (extract's copies for hardlinks) plans earlier members again, and forgets nothing.
    if (this.metOffsets && offset >= this.plannedTo) {
      this.plannedTo = offset;
      for (const o of this.metOffsets) if (o <= offset) this.metOffsets.delete(o);
    }
    // A member whose first headers were damaged, found by its ustar header inside its own
    // header range (salvage, spec §6.8): what those headers said of it is lost.
    // (Only right after a skip: a whole archive moved by a member put in front is not that.)
    const skip = this.skipped.at(-1);
    const inside = !listed && skip?.range[1] === offset && (entry.type === 'file' || headerSha256 !== undefined) ? expected.previous : undefined;
    const ownHeaderLost = inside !== undefined && skip!.range[0] <= inside.offset && inside.offset < offset && offset < inside.data && inside.path.equals(entry.path);
    if (ownHeaderLost) listed = inside;
    for (const { e, what } of passed) if (e !== listed) this.lost.push({ path: displayName(e.path), what, range: [e.offset, e.end] });
    if (listed && !listed.path.equals(entry.path)) {
      return { body, check: {}, refused: { path: entry.name, what: `name does not match the manifest ("${displayName(listed.path)}" at this offset); not extracted`, range: [listed.offset, listed.data] } };
    }
    if (!listed && entry.type === 'file' && !isManifestMember(entry.path, info.features.compat)) {
      // A file the manifest does not know (appended after it, say): restored as the archive
      // holds it, but not silently as if checked.
      this.warnings.push(`${entry.name}: not in the manifest (no entry at offset ${offset}); its content was not checked`);
    }
    const header = ownHeaderLost
      ? OWN_HEADER_LOST
      : listed && headerSha256 !== undefined && headerSha256 !== listed.headerSha256
        ? headerMismatch(headerSha256, listed.headerSha256)
        : undefined;
    if (header && entry.type !== 'file') return { body, check: {}, refused: { path: entry.name, what: `${header}; not extracted`, range: [listed!.offset, listed!.data] } };
    if (!listed?.sha256) return { body, check: {} };
    const want = listed.sha256;
    const judge = (got: string) => {
      if (header) {
        // Its content may be right, but not what the header says of it: never under its name.
        this.ranges.set(entry.name, [listed.offset, listed.data]);
        return got === want ? header : `${header}, and content does not match the manifest (sha256 ${got}, manifest ${want})`;
      }
      if (got === want) return undefined;
      this.ranges.set(entry.name, [listed.data, listed.end]);
      return `content does not match the manifest (sha256 ${got}, manifest ${want})`;
    };
    const inline = (b: AsyncIterable<Buffer> | undefined, handOff?: boolean) => {
      const d = digestBody(entry, b, { handOff });
      return { body: d.body as AsyncIterable<Buffer>, check: { verdict: () => judge(d.digest()) } };
    };
    // A header that differs sets the file aside whatever its content: judged here, never in a batch.
    if (toRestorer && !header) return { body, check: { deferred: { want, judge, inline } } };
    return inline(body);
  }

  /** plan() without the archive file's manifest: a stream's members are logged, checked at its manifest member. */
  private planLogged(entry: Entry, body: AsyncIterable<Buffer>, offset: number, info: ArchiveInfo, headerSha256: string | undefined, restoredAs: string, toRestorer: boolean): Planned {
    if (!declaresManifest(info) || isManifestMember(entry.path, info.features.compat)) return { body, check: {} };
    if (this.done) {
      // Past the manifest member (appended after it, say): nothing lists it.
      if (this.afterManifest && entry.type === 'file') this.warnings.push(`${entry.name}: not in the manifest (it comes after the manifest member, at offset ${offset}); its content was not checked`);
      return { body, check: {} };
    }
    const log = (this.log ??= new RestoredLog());
    const base = { offset: offset - this.base, path: entry.path, name: restoredAs, header: headerSha256 };
    if (entry.type === 'hardlink' && entry.linkTarget) {
      const link = entry.linkTarget;
      return { body, check: { written: (abs, ino) => log.add({ ...base, abs, ino, link }) } };
    }
    if (entry.type !== 'file') {
      // Only its header can be checked, after the fact: logged now (nothing to set aside later).
      if (headerSha256 !== undefined) log.add({ ...base, abs: EMPTY, ino: 0 });
      return { body, check: {} };
    }
    const logged = (digest: () => string): RestoreCheck => ({
      written: (abs, ino) => log.add({ ...base, abs, ino, sha256: digest() }),
      // Not on disk (the name was kept): damage is reported, and nothing is set aside.
      kept: () => log.add({ ...base, abs: EMPTY, ino: 0, sha256: digest(), kept: true }),
    });
    const inline = (b: AsyncIterable<Buffer> | undefined, handOff?: boolean) => {
      const d = digestBody(entry, b, { handOff });
      return { body: d.body as AsyncIterable<Buffer>, check: logged(d.digest) };
    };
    if (!toRestorer) return inline(body);
    let sha256 = '';
    const judge = (got: string) => void (sha256 = got);
    return { body, check: { ...logged(() => sha256), deferred: { judge, inline } } };
  }

  /**
   * The manifest member of a stream: check what was logged against it. When the member is also
   * being restored (`--manifest`), its body is left alone and `finish` reads the restored copy.
   */
  async manifestMember(entry: Entry, body: AsyncIterable<Buffer>, restorer: Restorer | undefined, restoring: boolean, skipped: readonly SkippedRange[] = []): Promise<void> {
    if (entry.path.toString('latin1') === TRAILER_NAME && this.log && this.trailerSha256 === undefined) {
      // Read here unless it is being restored (--manifest: the body goes to disk, not here).
      if (restoring) return;
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(Buffer.from(c));
      const text = Buffer.concat(parts);
      try {
        this.trailerSha256 = decodeTrailer(text.subarray(0, TRAILER_TEXT_SIZE)).manifestSha256;
      } catch (err) {
        if (!(err instanceof TrailerError)) throw err;
        this.trailerSha256 = '';
        // A trailer of a later version (its own magic line) is not this reader's to judge: the
        // manifest's own version rules apply to the check (spec/manifest.md §6).
        const later = !isTrailerMagic(text.toString('latin1', 0, TRAILER_MAGIC.length)) && /^PORTARC-TRAILER \d+\.\d+\n/.test(text.toString('latin1', 0, 32));
        if (!later) this.lost.push({ path: TRAILER_NAME, what: `the trailer is damaged (${err.message}): the manifest the contents were checked against could not be checked itself` });
      }
      this.compareManifest();
      return;
    }
    if (this.done || restoring || entry.path.toString('latin1') !== MANIFEST_NAME) return;
    this.afterManifest = true;
    if (this.log) await this.runLog(body, restorer, skipped);
    else this.done = true; // nothing was logged: there is nothing to check
  }

  private async runLog(xml: AsyncIterable<Buffer>, restorer: Restorer | undefined, skipped: readonly SkippedRange[]): Promise<void> {
    const log = this.log!;
    this.done = true;
    await restorer?.flush(); // the names the log holds must be in place
    // Ranges with exact offsets only: after a gap of unknown size they are counts of bytes read.
    const inexact = skipped.findIndex((s) => s.lost !== undefined && s.lost.size === undefined);
    // The log and the manifest count offsets from the archive's start; the reports, from the input's.
    const base = this.base;
    const at = (r: [number, number]): [number, number] => [r[0] + base, r[1] + base];
    const exact = (inexact < 0 ? skipped : skipped.slice(0, inexact)).filter((s) => s.range[0] >= base).map((s) => ({ ...s, range: [s.range[0] - base, s.range[1] - base] as [number, number] }));
    const lost = (e: ManifestEntry) => this.lost.push({ path: displayName(e.path), what: SKIPPED_LOST, range: at([e.offset, e.end]) });
    const unlisted = (rec: RestoredRecord, listed?: ManifestEntry) =>
      this.warnings.push(
        listed
          ? `${rec.name}: the manifest lists "${displayName(listed.path)}" at its offset (${rec.offset + base}), not this name; its content was not checked`
          : `${rec.name}: not in the manifest (no entry at offset ${rec.offset + base}); its content was not checked`,
      );
    // The XML's digest as the check reads it: held against the trailer's (compareManifest). The
    // check stopping early (XML it cannot read) does not end the reading: the rest is digested too.
    const xmlHash = createHash('sha256');
    let whole = false;
    const source = xml[Symbol.asyncIterator]();
    const step = async (): Promise<IteratorResult<Buffer>> => {
      const r = await source.next();
      if (r.done) whole = true;
      else xmlHash.update(r.value);
      return r;
    };
    const tapped: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: step, return: async () => ({ done: true, value: undefined }) }) };
    try {
      const missing = (e: ManifestEntry) => this.lost.push({ path: displayName(e.path), what: `the manifest lists it (at offset ${e.offset + base}), but the archive holds no such member (cut out, or lost to damage); not extracted`, range: at([e.offset, e.end]) });
      // (A reader loop that does not tell met() what it read gets no missing-member check.)
      const met = this.metNames.length ? { names: this.metNames, missing } : undefined;
      await log.check(tapped, (m) => this.setAside({ ...m, range: at(m.range) }), exact, lost, unlisted, inexact < 0 ? Infinity : skipped[inexact]!.range[0] - base, met);
      this.metNames = [];
      if (whole) {
        this.xmlSha256 = xmlHash.digest('hex');
        this.zipTrailerCheck();
        this.compareManifest();
      }
    } catch (err) {
      // Said once the trailer has vouched for the manifest: XML that does not match it is damage
      // (one flipped bit in the root reads as a newer version), never a reason to pass unchecked.
      this.unchecked = `contents not checked against the manifest: ${(err as Error).message}`;
      while (!whole) await step();
      this.xmlSha256 = xmlHash.digest('hex');
      this.zipTrailerCheck();
      this.compareManifest();
    }
  }

  /**
   * The stream check read the manifest, and no trailer came after it (cut off, or zeroed): the
   * manifest the contents were checked against was vouched for by nothing (verify: "no trailer
   * after the manifest"). Damage, reported on the trailer.
   */
  private trailerMissing(): void {
    if (this.container !== 'tar' || this.xmlSha256 === undefined || this.trailerSha256 !== undefined) return;
    this.trailerSha256 = '';
    this.lost.push({ path: TRAILER_NAME, what: 'no trailer after the manifest (cut off, or lost to damage): the manifest the contents were checked against could not be checked itself' });
  }

  /** A zip file: its trailer's digest of the manifest is known from the start; none is damage. */
  private zipTrailerCheck(): void {
    if (this.zipTrailer === undefined || this.trailerSha256 !== undefined) return;
    if (this.zipTrailer) this.trailerSha256 = this.zipTrailer;
    else {
      this.trailerSha256 = '';
      this.lost.push({ path: TRAILER_NAME, what: "the end record's comment does not hold the trailer the archive's manifest goes with (damaged or rewritten): the manifest the contents were checked against could not be checked itself" });
    }
  }

  /** Once both digests are known: a manifest that is not the one its trailer describes is damage. */
  private compareManifest(): void {
    if (this.xmlSha256 === undefined || !this.trailerSha256) return;
    const unchecked = this.unchecked;
    this.unchecked = undefined;
    if (unchecked && this.xmlSha256 === this.trailerSha256) this.warnings.push(unchecked);
    if (this.xmlSha256 !== this.trailerSha256) {
      // In `lost`, with what the reader skipped: `damaged` counts entries set aside.
      const outcome = unchecked ? `no content was checked (${unchecked.replace(/^contents not checked against the manifest: /, '')})` : 'the contents checked against it cannot be trusted';
      this.lost.push({ path: MANIFEST_NAME, what: `the manifest does not match its digest in the trailer (sha256 ${this.xmlSha256}, trailer ${this.trailerSha256}): ${outcome}` });
    }
    this.trailerSha256 = '';
  }

  /** Rename a file restored with wrong content (and each hardlink to it) to NAME.damaged. */
  private setAside(m: Mismatch): void {
    const { record } = m;
    if (!record.abs.length) {
      // Not on disk (a directory, symlink or special file; or convert, which writes no files).
      if (this.nothingOnDisk) return void this.damaged.push({ path: record.name, what: m.what, range: m.range });
      // (In `lost`: `damaged` counts entries set aside, which were counted as extracted.)
      if (record.kept) return void this.lost.push({ path: record.name, what: `${m.what}; not extracted (the name was kept as it is on disk)`, range: m.range });
      // A directory, symlink or special file whose header differs: restored as read, reported.
      this.damaged.push({ path: record.name, what: `${m.what}; restored as the archive holds it`, range: m.range });
      return;
    }
    const st = lstatSync(record.abs, { throwIfNoEntry: false });
    if (!st || st.ino !== record.ino) {
      this.damaged.push({ path: record.name, what: `${m.what}; the name now holds a later member or nothing`, range: m.range });
      return;
    }
    try {
      renameSync(record.abs, Buffer.concat([record.abs, Buffer.from('.damaged')]));
      this.damaged.push({ path: record.name, what: m.what, range: m.range, keptAs: `${record.name}.damaged` });
    } catch (err) {
      this.damaged.push({ path: record.name, what: `${m.what}; could not be renamed to ${record.name}.damaged (${(err as Error).message}): it is still under its name`, range: m.range });
    }
  }

  /**
   * After restorer.finish(): the stream check from a restored manifest, and what could not be
   * checked. `restoredManifest`: where under `dir` the manifest member was restored (`--manifest`;
   * a stripped or mapped name), true for its own name, null when `--manifest` left it out, false
   * when it is not restored. `declared`: the archive read declares a manifest (its global
   * header), whether or not any member came.
   */
  async finish(dir: string, restorer: Restorer | undefined, restoredManifest: boolean | string | null, skipped: readonly SkippedRange[] = [], lastOffset?: number, declared = false): Promise<void> {
    const wasRestored = restoredManifest === true || typeof restoredManifest === 'string';
    if (this.log && !this.done && wasRestored) {
      const copy = join(dir, typeof restoredManifest === 'string' ? restoredManifest : MANIFEST_NAME);
      // The trailer restored beside it (stripped or not, the same way) vouches for it, as in a stream.
      const trailer = copy.endsWith('manifest.xml') ? `${copy.slice(0, -'manifest.xml'.length)}trailer` : undefined;
      if (trailer && this.trailerSha256 === undefined && lstatSync(trailer, { throwIfNoEntry: false })?.isFile()) {
        await this.manifestMember(makeEntry({ path: TRAILER_NAME, type: 'file' }), createReadStream(trailer), undefined, false);
      }
      if (lstatSync(copy, { throwIfNoEntry: false })?.isFile()) await this.runLog(createReadStream(copy), restorer, skipped);
    }
    if (this.expected && !this.expected.problem && lastOffset !== undefined) {
      // The manifest lists members after the last one the reading reached: its end came early.
      for await (const e of this.expected.after(lastOffset)) {
        this.lost.push({ path: displayName(e.path), what: `the manifest lists it at offset ${e.offset}, after the end of the archive as read (at the member at offset ${lastOffset}); not extracted`, range: [e.offset, e.end] });
      }
    }
    this.trailerMissing();
    if (this.unchecked) this.warnings.push(this.unchecked); // no intact trailer came to judge the manifest
    this.unchecked = undefined;
    if (this.expected?.problem) this.warnings.push(`contents not checked against the manifest: ${this.expected.problem}`);
    else if (this.log && !this.done && restoredManifest === null) this.warnings.push('contents not checked against the manifest: its member was not restored (--strip-components or a filter left it out)');
    else if (this.log && !this.done) this.endOfArchive(lastOffset);
    // Cut short after its global header: no member came to be logged, and no manifest either.
    else if (declared && !this.expected && !this.log && !this.done) this.endOfArchive(lastOffset, true);
    else if (this.why && !this.log) this.warnings.push(`contents not checked against the manifest: ${this.why}`);
  }

  /** Whether `offset` lies in a range the reader skipped past damage. */
  private inSkipped(offset: number): boolean {
    return this.skipped.some((s) => s.range[0] <= offset && offset < s.range[1]);
  }

  /** The data range of a file the seekable check set aside. */
  rangeOf(name: string): [number, number] | undefined {
    return this.ranges.get(name);
  }

  async close(): Promise<void> {
    this.log?.close();
    await this.expected?.close();
  }
}
