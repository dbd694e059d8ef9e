// extract(): read an archive and restore its entries under a destination directory, reporting
// every warning and every loss. Spec: spec/portarc-1.md §6 (reader rules), §6.8 (salvage) and §9
// (restore); spec/manifest.md §11 (each file checked against the manifest before it gets its name).

import { access, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Entry } from '../model/entry.js';
import { ArchiveError, DamagedError, IoError, ioError, PortarcError, UsageError } from '../model/errors.js';
import { Restorer, type Loss, type RestoreOptions } from '../fs/restore.js';
import { ContentCheck, type ContentDamage } from './content-check.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { costsOneMember, openArchive, type OpenArchive } from './open.js';
import { canBeLinked, copyNotice, open, pathKey, selector, urlBytes } from './random.js';
import { isUrl } from '../io/random-access.js';
import type { ArchiveInfo } from '../tar/version.js';
import { MANIFEST_NAME, declaresManifest, isManifestMember } from '../manifest/types.js';
import { displayName } from '../model/entry.js';
import { stripComponents } from './patterns.js';
import { hashOf } from '../io/paged-rows.js';
import { progressMeter, type ProgressCallback } from './progress.js';
import { Readable } from 'node:stream';
import { GapError } from '../io/bytesource.js';
import { describeSkipped, type SkippedRange } from '../tar/reader.js';
import { abortPoint, abortable, abortedOr, checkSignal, throwIfAborted } from '../model/abort.js';
import { applyHooks, checkHooks, type EntryFilter, type EntryMap } from '../model/hooks.js';

/** Tar header ranges are digested, to be held against the manifest, when the archive has one. */

const EMPTY = Buffer.alloc(0);
/** Bodies larger than this are checked for cancellation between chunks. */
const CHUNKED_ABORT = 1 << 20;

/** The restore options (privileges, -P, fsync, limits, name folding: see RestoreOptions), plus progress. */
export interface ExtractOptions extends Omit<RestoreOptions, 'sys'> {
  onEntry?: (entry: Entry) => void;
  /** Also restore the manifest and trailer members (spec/manifest.md §2), skipped by default. */
  manifest?: boolean;
  /**
   * Restore only these members and what lies under these directories (tar semantics). With a
   * manifest and a seekable source only they are read (spec/manifest.md §12.4); a PATH that
   * selects nothing fails the extraction (ArchiveError "not found in archive") after the others.
   */
  paths?: string[];
  /** `paths` are shell patterns (tar's --wildcards; `*` also matches "/"): src/api/patterns.ts. */
  wildcards?: boolean;
  /**
   * Extract only the entries it keeps: it sees each entry as stored (its archive name, before
   * `map` and `stripComponents`). A directory left out does not leave out what lies under it:
   * filter those too (excludeFilter() does, as tar's --exclude).
   */
  filter?: EntryFilter;
  /**
   * Restore an entry under another name (a new `path`: rename, strip leading components) or skip
   * it (null). Hardlink targets follow the renames; the result still goes through every
   * restore rule (no `..`, no absolute path: spec §9.2).
   */
  map?: EntryMap;
  /**
   * Remove this many leading components from each member name and hardlink target (tar's
   * --strip-components; "." counts as one), after `map`. A member with no more components is skipped.
   */
  stripComponents?: number;
  /**
   * Read tar archives concatenated with `cat` as one (GNU tar's --ignore-zeros; spec §4.7): past
   * each one's end-of-archive blocks to the next header. Each archive's members are checked
   * against its own manifest, read as a stream (no random access).
   */
  ignoreZeros?: boolean;
  /** Progress as content is restored: bytes, entries, and the total when a manifest gives it. */
  onProgress?: ProgressCallback;
  /**
   * Cancel: the extraction stops between entries or between chunks of one; what was completely
   * extracted stays, the file being written is removed (no temporary file is left), and
   * extract() rejects with an AbortError.
   */
  signal?: AbortSignal;
}

/**
 * extract()'s other destination: called once per entry with its content (a Readable; empty for
 * anything but a file), in archive order, nothing written to disk. The next entry comes once the
 * returned promise settles; content not read by then is skipped. A rejection ends the extraction.
 */
export type EntryCallback = (entry: Entry, body: Readable) => void | Promise<void>;

export interface ExtractResult {
  entries: number;
  info: ArchiveInfo;
  /** Every warning: archive-level ones, then per entry ("NAME: what"). */
  warnings: string[];
  /**
   * What could not be restored, per entry. A loss of kind `entry` is a member that is not on disk
   * at all (refused or failed): the CLI exits 2 for it; other kinds exit 1.
   */
  losses: Loss[];
  /** What the profile left out by design (setuid bits for a user, `untrusted`'s drops): no loss. */
  notes: string[];
  /** Members not restored because their name existed (`existing`: keep-old, skip-old, keep-newer). */
  skipped: string[];
  /** What the reader skipped by rule (unknown keywords...): archive-level, then per entry. Not a warning (spec §6.5). */
  notices: string[];
  /**
   * What damage cost (spec §6.8, spec/manifest.md §11): headers skipped to the next valid one, zip
   * members that could not be read, files whose content does not match the manifest (not under
   * their name; `keptAs` with `keepDamaged`). When it is not empty, extract() rejects with an
   * ExtractDamagedError that carries this whole result, once everything else was restored.
   */
  damaged: ExtractDamage[];
}

export interface ExtractDamage {
  /** The entry, when known (for a skipped header, the name it still shows: a guess). */
  path?: string;
  what: string;
  /** Container bytes concerned, [start, end), when known. */
  range?: [number, number];
  /** Where a damaged file was kept (`NAME.damaged`, relative to the destination). */
  keptAs?: string;
}

/**
 * An error extract() rejects with may carry what was restored before it: `result.losses` names
 * each entry not restored (or restored without some metadata) up to the failure and after it (a
 * full disk: files that were still held in a batch). ExtractDamagedError always has a result.
 */
export interface ExtractFailure {
  result?: ExtractResult;
}

/** Damage was found: everything else was restored; `result` is the full report (spec §6.8). */
export class ExtractDamagedError extends DamagedError {
  constructor(readonly result: ExtractResult) {
    const first = result.damaged[0]!;
    const n = result.damaged.length;
    const where = first.range && first.range[0] !== first.range[1] ? ` (bytes ${first.range[0]}-${first.range[1]})` : '';
    super(`${n === 1 ? '' : `${n} damaged places; first: `}${first.what}${where}; the rest of the archive was extracted`, { entry: first.path, offset: first.range?.[0] });
    this.name = 'ExtractDamagedError';
  }
}

/** The failure that ended a reading after damage, as one more damaged place (its own words: the archive is named once). */
function failureDamage(err: PortarcError): ExtractDamage {
  const at = err.details.offset;
  return { path: err.details.entry, what: err.reason, range: at === undefined ? undefined : [at, at] };
}

/** Damage in archive order; what has no range last. */
const byRangeStart = (a: ExtractDamage, b: ExtractDamage): number => (a.range?.[0] ?? Number.MAX_SAFE_INTEGER) - (b.range?.[0] ?? Number.MAX_SAFE_INTEGER);

/** A range the tar reader skipped, as a damage of the report: a lost member's data is the member's. */
function skippedDamage(s: SkippedRange): ExtractDamage {
  return { path: s.entry, what: s.entry === undefined ? describeSkipped(s) : `${describeSkipped(s)}; not extracted`, range: s.range };
}

/**
 * One line, in the form of every portarc error (spec §8.3): `ARCHIVE, entry "NAME", bytes A-B: what`
 * (`offset A` where only a start is known; no entry for a skipped header, whose name is a guess).
 */
export function describeExtractDamage(d: ExtractDamage, archive?: string): string {
  const where: string[] = archive === undefined ? [] : [archive];
  if (d.path !== undefined) where.push(`entry "${d.path}"`);
  if (d.range) where.push(d.range[0] === d.range[1] ? `offset ${d.range[0]}` : `bytes ${d.range[0]}-${d.range[1]}`);
  return `${where.length ? `${where.join(', ')}: ` : ''}${d.what}${d.keptAs ? `; kept as ${d.keptAs}` : ''}`;
}

/**
 * Extract into the directory `dir`, or hand each entry to `dir` when it is a function
 * (EntryCallback: to memory, object storage, another archive...).
 */
export async function extract(source: ArchiveSource, dir: string | EntryCallback, options: ExtractOptions = {}): Promise<ExtractResult> {
  const signal = checkSignal(options.signal);
  checkHooks(options);
  const strip = options.stripComponents ?? 0;
  if (!Number.isInteger(strip) || strip < 0) throw new UsageError(`stripComponents ${String(strip)} is not a whole number`);
  if (typeof dir === 'function') return extractTo(source, dir, options, signal);
  const hooks = options.filter || options.map ? { filter: options.filter, map: options.map } : undefined;
  const name = sourceName(source);
  await prepareDestination(dir);
  const restorer = new Restorer(dir, options);
  const leftOut = new Set<string>();
  const progress = progressMeter(options.onProgress, options.onProgress && (await totalContent(source, options)));
  const entryWarnings: string[] = [];
  const strippedNames = new StrippedNames(strip);
  const entryNotices: string[] = [];
  let entries = 0;
  let archive: OpenArchive | undefined;
  const damaged: ExtractDamage[] = [];
  let check: ContentCheck | undefined;
  /** Where `--manifest` restored the manifest member (a stripped or mapped name); null: left out; undefined: not met. */
  let manifestAs: string | null | undefined;
  /** Where the last member the reader reached starts: the manifest's entries after it are missing. */
  let lastOffset: number | undefined;
  const report = (): ExtractResult => ({
    // Files the stream check set aside after the fact were counted when restored.
    entries: entries - (check?.damaged.length ?? 0),
    info: archive!.info,
    warnings: [...archive!.info.warnings, ...restorer.warnings, ...entryWarnings, ...(check?.warnings ?? [])],
    losses: restorer.losses,
    notes: restorer.notes,
    skipped: restorer.skipped,
    notices: [...archive!.info.notices, ...entryNotices],
    damaged: [
      ...damaged,
      ...(archive!.skipped ?? []).map(skippedDamage),
      ...restorer.damaged.map((f) => ({ path: f.path, what: f.what, range: check?.rangeOf(f.path), keptAs: f.keptAs })),
      ...(check?.damaged ?? []),
      ...(check?.lost ?? []),
    ].sort(byRangeStart),
  });
  /**
   * Selected hardlinks whose target the pass went by: a second pass over the file gives each target's
   * content to its first link, as a file (checked like any other); the other links link to that.
   */
  const copyLinks = async (links: Map<string, PassedLink[]>): Promise<void> => {
    if (!links.size) return;
    const again = await openArchive(source, { limits: options.limits, signal, headerDigests: declaresManifest });
    try {
      for await (const m of abortable(again.members, signal)) {
        const wanting = canBeLinked(m.entry) ? links.get(pathKey(m.entry.path)) : undefined;
        if (!wanting) continue;
        links.delete(pathKey(m.entry.path));
        // The copy goes to the first link whose own name survives --strip-components.
        const kept = strip ? wanting.filter((l) => stripComponents(l.entry.path, strip)) : wanting;
        if (!kept.length) continue;
        const [{ entry: first }, ...rest] = kept as [PassedLink, ...PassedLink[]];
        // A copy of what the target is: a file's content, a symlink, a fifo or a device.
        const copy: Entry = { ...m.entry, path: first.path, name: first.name };
        // Checked as the target it is (offset, name, digest), reported under the name it gets.
        const plan = await check!.plan(m.entry, m.body, m.offset, again.info, m.headerSha256, first.name, true);
        const target = strip ? (stripped(copy, strip) as Entry) : copy;
        if (plan.refused) {
          damaged.push(plan.refused);
          restorer.notExtracted(target);
          continue;
        }
        await restorer.restore(target, plan.body, plan.check);
        entryNotices.push(`${first.name}: ${copyNotice(m.entry.name, m.entry)}`);
        entries++;
        for (const l of rest) {
          // Logged as the archive has it (a link to the target), so that it goes with a damaged copy.
          const lp = await check!.plan(l.entry, (async function* () {})(), l.offset, again.info, l.headerSha256);
          const onDisk = { ...l.entry, linkTarget: first.path };
          const link = strip ? (stripped(onDisk, strip) as Entry) : onDisk;
          if (!lp.refused) await restorer.restore(link, lp.body, lp.check);
          if (lp.refused) damaged.push(lp.refused);
          entries++;
        }
        if (!links.size) break;
      }
    } finally {
      await again.close();
    }
    for (const [target, [link]] of links) restorer.losses.push({ path: link!.entry.name, what: 'entry', reason: `not extracted: hardlink target "${target}" is not in the archive` });
  };
  const isTheManifest = (e: Entry) => isManifestMember(e.path, archive!.info.features.compat) && e.path.toString('latin1') === MANIFEST_NAME;
  try {
    const pick = await selection(source, options);
    const input = pick.input ?? source;
    archive = pick.random ?? (await openArchive(input, { limits: options.limits, salvage: true, signal, headerDigests: declaresManifest, ignoreZeros: options.ignoreZeros }));
    check = pick.random ? ContentCheck.byReader() : await ContentCheck.open(input, options.ignoreZeros === true, archive.format);
    if (archive.skipped) check.skipped = archive.skipped;
    const stop = abortPoint(signal);
    for await (const { entry: stored1, body: stored, offset, headerSha256, archiveStart } of archive.members) {
      const turning = stop();
      if (turning) await turning;
      lastOffset = offset;
      // --ignore-zeros: the next of the archives concatenated, checked against its own manifest.
      if (archiveStart) check.newArchive(archiveStart);
      check.met(stored1.path, offset);
      if (isManifestMember(stored1.path, archive.info.features.compat)) {
        // Before the manifest checks what was restored: the copies are checked with the rest.
        await copyLinks(pick.takeLinks());
        await check.manifestMember(stored1, stored, restorer, options.manifest === true, archive.skipped);
        if (!options.manifest) continue;
      }
      // --manifest restores the manifest whatever the PATHs pick: the check reads that copy.
      const unpicked = isManifestMember(stored1.path, archive.info.features.compat) ? undefined : pick.skip({ entry: stored1, offset, headerSha256 });
      if (unpicked === true) continue;
      if (unpicked) {
        restorer.losses.push({ path: stored1.name, what: 'entry', reason: unpicked });
        continue;
      }
      // The hooks pick and rename; the manifest check goes by the name in the archive.
      const entry = hooks ? await applyHooks(stored1, hooks) : stored1;
      if (!entry) {
        // Remembered (what a hardlink can name) so that a link to it fails clearly.
        if (canBeLinked(stored1)) leftOut.add(pathKey(stored1.path));
        if (isTheManifest(stored1)) manifestAs = null;
        continue;
      }
      if (stored1.type === 'hardlink' && stored1.linkTarget && leftOut.has(pathKey(stored1.linkTarget))) {
        restorer.losses.push({ path: entry.name, what: 'entry', reason: `not extracted: hardlink to "${displayName(stored1.linkTarget)}", which the filter left out` });
        continue;
      }
      // Checked against the manifest under its archive name; restored under the stripped one.
      const target = strip ? stripped(entry, strip) : entry;
      if (isTheManifest(stored1)) manifestAs = typeof target === 'object' ? target.path.toString('latin1') : null;
      if (typeof target === 'string') {
        restorer.losses.push({ path: entry.name, what: 'entry', reason: target });
        continue;
      }
      if (!target) continue;
      if (strip) {
        const clash = strippedNames.place(entry, target);
        if (clash?.loss) {
          restorer.losses.push({ path: target.name, what: 'entry', reason: clash.loss });
          restorer.notExtracted(target);
          continue;
        }
        if (clash?.warning) entryWarnings.push(`${target.name}: ${clash.warning}`);
      }
      for (const w of entry.warnings) entryWarnings.push(`${entry.name}: ${w}`);
      for (const n of entry.notices) entryNotices.push(`${entry.name}: ${n}`);
      const planning = check.plan(stored1, stored, offset, archive.info, headerSha256, undefined, true);
      const plan = planning instanceof Promise ? await planning : planning;
      if (plan.refused) {
        damaged.push(plan.refused);
        restorer.notExtracted(target);
        continue;
      }
      const setAside = restorer.damaged.length;
      const left = restorer.skipped.length;
      const lostBefore = restorer.entryLosses;
      try {
        const counted = progress ? progress.count(plan.body) : plan.body;
        // Checked between chunks only where a file is big: the loop over members checks between
        // entries (and lets the event loop turn), and a generator per small file was garbage.
        await restorer.restore(target, stored1.size > CHUNKED_ABORT ? abortable(counted, signal) : counted, plan.check);
        // The restorer counts a body that stopped as that entry's loss: a cancel ends it all.
        throwIfAborted(signal);
        if (restorer.damaged.length > setAside || restorer.skipped.length > left) continue;
      } catch (err) {
        // Its data was lost to a damaged zstd frame: not restored (its temporary is gone); the
        // reader reports it and goes on at the next header (spec §6.8).
        if (err instanceof GapError && !signal?.aborted) {
          restorer.notExtracted(target);
          continue;
        }
        // A zip file's members are read one by one through the central directory: a damaged one
        // (CRC, local header) costs that member only (spec §6.8).
        if (signal?.aborted || !costsOneMember(archive, err)) throw err;
        restorer.notExtracted(target);
        const at = err.details.offset;
        damaged.push({ path: entry.name, what: `${err.reason}; not extracted`, range: at === undefined ? undefined : [at, at] });
        continue;
      }
      // Not counted when it (or an earlier entry, found only now: a late rename) was not put in place.
      entries += 1 - (restorer.entryLosses - lostBefore);
      progress?.entry();
      options.onEntry?.(entry);
    }
    await copyLinks(pick.takeLinks());
    // A portarc archive (it states its spec version) records every xattr: a directory that was
    // there before loses those its entry does not carry (spec §9.1).
    restorer.exactXattrs = archive.info.version !== undefined;
    const lostBeforeFinish = restorer.entryLosses;
    await restorer.finish();
    entries -= restorer.entryLosses - lostBeforeFinish;
    progress?.done();
    await check.finish(dir, restorer, options.manifest ? (manifestAs === undefined ? true : manifestAs) : false, archive.skipped, lastOffset, declaresManifest(archive.info));
    restorer.close();
    pick.done();
  } catch (err) {
    // Whatever was extracted completely keeps its name and metadata; temporary files of what was
    // not are removed; then the failure is reported, with any damage found before it.
    await restorer.finishAfterFailure();
    restorer.abort();
    if (signal?.aborted) throw abortedOr(signal, err);
    const result = archive && report();
    if (result?.damaged.length && err instanceof PortarcError) {
      result.damaged.push(failureDamage(err));
      throw new ExtractDamagedError(result).withArchive(name);
    }
    // What was lost before the failure, or could not be finished after it (a full disk: the files
    // still in a batch), rides on the error as `result` (ExtractFailure), to be named with it.
    if (result?.losses.length && err instanceof PortarcError) throw Object.assign(err.withArchive(name), { result });
    if (err instanceof PortarcError) throw err.withArchive(name);
    throw err;
  } finally {
    await archive?.close();
    await check?.close();
  }
  const result = report();
  if (result.damaged.length) throw new ExtractDamagedError(result).withArchive(name);
  return result;
}

/**
 * The content of the regular files extract() would restore, handed to `onFile` (the CLI's -O, as
 * tar's): hardlinks hand nothing (their target hands the content); a selected hardlink whose
 * target was not selected hands its target's content by random access, and is named as not
 * extracted in a single pass (GNU tar prints nothing for it). Checked against the manifest as extract() checks: a
 * mismatch is an ExtractDamagedError at the end, after the bytes were handed out.
 */
export async function extractFiles(source: ArchiveSource, onFile: EntryCallback, options: ExtractOptions = {}): Promise<ExtractResult> {
  const signal = checkSignal(options.signal);
  checkHooks(options);
  return extractTo(source, (entry, body) => (entry.type === 'file' ? onFile(entry, body) : undefined), options, signal, true);
}

/**
 * extract() to a callback: the same reading, selection, hooks and manifest check as into a
 * directory, with the caller in the restorer's place. A file whose content does not match the
 * manifest (a seekable archive's, checked as the content streams; a stream's, when its manifest
 * arrives at the end) is reported in `damaged` (ExtractDamagedError at the end): the callback has
 * had its bytes by then, and must drop what it kept of that entry.
 */
async function extractTo(source: ArchiveSource, onEntry: EntryCallback, options: ExtractOptions, signal: AbortSignal | undefined, filesOnly = false): Promise<ExtractResult> {
  const name = sourceName(source);
  const hooks = options.filter || options.map ? { filter: options.filter, map: options.map } : undefined;
  const warnings: string[] = [];
  const notices: string[] = [];
  const damaged: ExtractDamage[] = [];
  let entries = 0;
  let archive: OpenArchive | undefined;
  let check: ContentCheck | undefined;
  let lastOffset: number | undefined;
  try {
    // No second pass for a hardlink whose target was passed over: at random, its target's content
    // comes as a copy; in a pass, the callback is told it is not there (damage naming it, exit 2).
    const pick = await selection(source, options, 'report');
    const input = pick.input ?? source;
    // The callback may keep chunks as long as it likes: never hand it a reused buffer.
    archive = pick.random ?? (await openArchive(input, { limits: options.limits, salvage: true, keepsChunks: true, signal, headerDigests: declaresManifest, ignoreZeros: options.ignoreZeros }));
    check = pick.random ? ContentCheck.byReader() : await ContentCheck.open(input, options.ignoreZeros === true, archive.format);
    if (archive.skipped) check.skipped = archive.skipped;
    // Read as a stream, a member is checked when the manifest arrives, after the callback has had
    // it: a mismatch is then reported (ExtractDamagedError), nothing is on disk to set aside.
    check.nothingOnDisk = true;
    const stop = abortPoint(signal);
    for await (const { entry: stored1, body: stored, offset, headerSha256, archiveStart } of archive.members) {
      const turning = stop();
      if (turning) await turning;
      lastOffset = offset;
      // --ignore-zeros: the next of the archives concatenated, checked against its own manifest.
      if (archiveStart) check.newArchive(archiveStart);
      check.met(stored1.path, offset);
      if (isManifestMember(stored1.path, archive.info.features.compat)) {
        await check.manifestMember(stored1, stored, undefined, options.manifest === true, archive.skipped);
        if (!options.manifest) continue;
      }
      const unpicked = isManifestMember(stored1.path, archive.info.features.compat) ? undefined : pick.skip({ entry: stored1, offset, headerSha256 });
      if (unpicked === true) continue;
      if (unpicked) {
        damaged.push({ path: stored1.name, what: unpicked });
        continue;
      }
      const hooked = hooks ? await applyHooks(stored1, hooks) : stored1;
      // The callback sees the name a directory extraction would restore (stripComponents too).
      const entry = hooked && options.stripComponents ? stripped(hooked, options.stripComponents) : hooked;
      if (typeof entry === 'string') {
        damaged.push({ path: hooked!.name, what: entry });
        continue;
      }
      if (!entry) continue;
      for (const w of entry.warnings) warnings.push(`${entry.name}: ${w}`);
      for (const n of entry.notices) notices.push(`${entry.name}: ${n}`);
      const planning = check.plan(stored1, stored, offset, archive.info, headerSha256);
      const plan = planning instanceof Promise ? await planning : planning;
      if (plan.refused) {
        damaged.push(plan.refused);
        continue;
      }
      const content = new HandedOut(plan.body, signal);
      const body = Readable.from(content, { objectMode: false });
      try {
        await onEntry(entry, body);
        body.destroy();
        // What the callback left unread is read here: the reader then stands at the next member,
        // and the digest (when the manifest is checked) has every byte.
        await content.drain();
      } catch (err) {
        body.destroy();
        // Lost to a damaged zstd frame: the reader reports it (the callback must drop what it has).
        if (err instanceof GapError && !signal?.aborted) continue;
        if (!signal?.aborted && costsOneMember(archive, err)) {
          const at = err.details.offset;
          damaged.push({ path: entry.name, what: `${err.reason}; not extracted`, range: at === undefined ? undefined : [at, at] });
          continue;
        }
        throw err;
      }
      throwIfAborted(signal);
      const wrong = entry.type === 'file' ? plan.check.verdict?.() : undefined;
      if (wrong !== undefined) damaged.push({ path: entry.name, what: wrong, range: check.rangeOf(stored1.name) });
      plan.check.written?.(EMPTY, 0);
      // Files only (-O): what went out is the count, not the directories passed on the way.
      if (!filesOnly || entry.type === 'file') entries++;
    }
    pick.done();
    await check.finish('', undefined, false, archive.skipped, lastOffset, declaresManifest(archive.info));
    // One at a time: a spread of 100,000 arguments overflows the call stack.
    for (const w of check.warnings) warnings.push(w);
    for (const d of [check.damaged, check.lost].flat()) damaged.push(d);
  } catch (err) {
    if (signal?.aborted) throw abortedOr(signal, err);
    // A failure after damage was found (a .tar.gz whose CRC fails at its end, after its manifest
    // named the file whose bytes went out wrong): reported with it, never instead of it.
    const found = [...damaged, ...(check?.damaged ?? []), ...(check?.lost ?? [])];
    if (archive && found.length && err instanceof PortarcError) {
      const result = report(archive, found);
      result.damaged.push(failureDamage(err));
      throw new ExtractDamagedError(result).withArchive(name);
    }
    if (err instanceof PortarcError) throw err.withArchive(name);
    throw err;
  } finally {
    await archive?.close();
    await check?.close();
  }
  const result = report(archive, damaged);
  if (result.damaged.length) throw new ExtractDamagedError(result).withArchive(name);
  return result;

  function report(a: OpenArchive, found: ContentDamage[]): ExtractResult {
    const info = a.info;
    return {
      entries,
      info,
      warnings: [...info.warnings, ...warnings],
      losses: [],
      skipped: [],
      notes: [],
      notices: [...info.notices, ...notices],
      damaged: [...found, ...(a.skipped ?? []).map(skippedDamage)].sort(byRangeStart),
    };
  }
}

/**
 * An entry's content as handed to a callback. The Readable made from it stops pulling whenever
 * the callback is done (or breaks out of its loop) and calls return(); the reader's own body is
 * never abandoned halfway, with a chunk in flight: drain() waits for that chunk and reads the rest.
 */
class HandedOut implements AsyncIterable<Buffer> {
  private it: AsyncIterator<Buffer>;
  private done = false;
  private inFlight: Promise<IteratorResult<Buffer>> | undefined;

  constructor(body: AsyncIterable<Buffer>, private signal: AbortSignal | undefined) {
    this.it = body[Symbol.asyncIterator]();
  }

  private async pull(): Promise<IteratorResult<Buffer>> {
    throwIfAborted(this.signal);
    this.inFlight = this.it.next();
    const r = await this.inFlight.finally(() => (this.inFlight = undefined));
    if (r.done) this.done = true;
    return r;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => (this.done ? Promise.resolve({ done: true, value: undefined }) : this.pull()),
      return: async () => ({ done: true, value: undefined }),
    };
  }

  async drain(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    while (!this.done) await this.pull();
  }
}

/** A member as the pass met it (a hardlink waiting for its target's content). */
interface PassedLink {
  entry: Entry;
  offset: number;
  headerSha256?: string;
}

interface Selection {
  /** The members read at random (each checked against the manifest as it is read), when so. */
  random?: OpenArchive;
  /** What the whole pass reads instead of the source (a URL's bytes in order). */
  input?: ArchiveSource;
  /** In a whole pass: true to pass a member over, a reason when it cannot be extracted as asked. */
  skip(member: PassedLink): boolean | string | undefined;
  /**
   * Selected hardlinks whose target was passed over, to be made as copies of its content by a
   * second pass (a file can be read again), keyed by the target; taken once.
   */
  takeLinks(): Map<string, PassedLink[]>;
  /** After the pass: the PATHs that selected nothing fail, as with tar. */
  done(): void;
}

/**
 * How extract reads: PATHs from a seekable archive with a manifest, or an http(s) URL (readable
 * only through ranged reads), at random through open(). Anything else in one pass over the whole
 * archive, PATHs picking members, so that a stream's manifest, which comes last, checks what was
 * restored and a damaged file is set aside (open()'s streaming pass can only report it after the
 * fact; before it checked nothing, and a damaged file selected from a .tar.gz kept its name, exit 0).
 */
async function selection(source: ArchiveSource, options: ExtractOptions, unpickedLinks: 'copy' | 'report' = 'copy'): Promise<Selection> {
  const paths = options.paths ?? [];
  const all: Selection = { skip: () => undefined, takeLinks: () => new Map(), done: () => undefined };
  if (isUrl(source)) {
    // A URL's .tar.gz (say) cannot be read at random: its bytes in order go through the whole pass.
    // The caller's signal also stops a request under way (a server that stalls).
    const ra = await open(source, { limits: options.limits, signal: options.signal });
    if (ra.info.method === 'manifest' && !options.ignoreZeros) return { ...all, random: await selected(ra, paths, options) };
    await ra.close();
    const bytes = await urlBytes(source, options.signal);
    return { ...(await selection(bytes, options, unpickedLinks)), input: bytes };
  }
  if (!paths.length) return all;
  // Concatenated archives (ignoreZeros): the trailer at the end is the last one's; read them all.
  const probe = typeof source === 'string' && source !== '-' && !options.ignoreZeros ? await open(source, { limits: options.limits, signal: options.signal }).catch(() => undefined) : undefined;
  if (probe?.info.method === 'manifest') return { ...all, random: await selected(probe, paths, options) };
  await probe?.close();
  const sel = selector(paths, { wildcards: options.wildcards });
  const readAgain = unpickedLinks === 'copy' && probe !== undefined;
  let links = new Map<string, PassedLink[]>();
  return {
    skip(member) {
      const { entry } = member;
      if (!sel.select(entry.path)) {
        return true;
      }
      // Its target was passed over (the selection does not pick it; a tar link's target comes
      // before it): read again for a copy (copyLinks), which a stream cannot be. Asked of the
      // selection, not remembered: a set of every name passed over held 1,000,000 keys (161 MiB).
      if (entry.type === 'hardlink' && entry.linkTarget && !sel.selects(entry.linkTarget)) {
        const target = pathKey(entry.linkTarget);
        if (readAgain) return links.set(target, [...(links.get(target) ?? []), member]), true;
        const why = probe ? 'content handed out (-O) is read in one pass' : 'the input cannot be read twice';
        return `not extracted: hardlink to "${displayName(entry.linkTarget)}", which was not selected, and ${why}: select "${displayName(entry.linkTarget)}" too`;
      }
      return undefined;
    },
    takeLinks() {
      const taken = links;
      links = new Map();
      return taken;
    },
    done: () => sel.checkAllMatched(),
  };
}

/**
 * The members PATHs select, as an OpenArchive: read at the manifest's offsets when the source is
 * seekable and has one, in a streaming pass otherwise (a URL); then the PATHs that selected nothing fail.
 */
async function selected(ra: Awaited<ReturnType<typeof open>>, paths: string[], options: ExtractOptions): Promise<OpenArchive> {
  const sel = selector(paths, { wildcards: options.wildcards });
  // Read at the manifest's offsets, each member on its own: damage costs that member only (its
  // headers: named here; its data: when its body is read), as in a zip file.
  const independent = ra.info.method !== 'stream';
  const skipped: SkippedRange[] = [];
  const onUnreadable = independent ? (err: ArchiveError, m: { name: string; range: [number, number] }) => skipped.push({ entry: m.name, what: err.reason, range: m.range }) : undefined;
  async function* members() {
    // At random, a hardlink whose target is not selected is handed over as a copy.
    for await (const m of ra.members((p) => !paths.length || sel.select(p), { copyLinks: true, onUnreadable })) yield m;
    sel.checkAllMatched();
  }
  return {
    format: ra.info.format ?? 'tar',
    name: ra.name,
    get info() {
      return ra.archiveInfo;
    },
    members: members(),
    close: () => ra.close(),
    independentMembers: independent,
    skipped,
  };
}

/**
 * --strip-components can give two members one name (`a/x` and `b/x` both become `x`): the later
 * replaces the earlier on disk, as in GNU tar, but not silently (a warning); and a hardlink to
 * the earlier one would join the later one's content: not made (a loss). What each stripped name
 * was before is kept as a 32-bit hash of the archive name (memory: a name and a number a member,
 * with --strip-components only).
 */
class StrippedNames {
  private from = new Map<string, number>();
  constructor(private n: number) {}

  place(stored: Entry, target: Entry): { warning?: string; loss?: string } | undefined {
    if (stored.type === 'hardlink' && stored.linkTarget && target.linkTarget) {
      const holds = this.from.get(pathKey(target.linkTarget));
      if (holds !== undefined && holds !== nameHash(stored.linkTarget)) {
        return { loss: `not extracted: hardlink to "${displayName(stored.linkTarget)}", whose name after --strip-components ${this.n} ("${displayName(target.linkTarget)}") a later member took` };
      }
    }
    const key = pathKey(target.path);
    const mine = nameHash(stored.path);
    const before = this.from.get(key);
    this.from.set(key, mine);
    if (before !== undefined && before !== mine && stored.type !== 'directory') {
      return { warning: `--strip-components ${this.n} gives "${stored.name}" the name of an earlier member, which it replaces on disk` };
    }
    return undefined;
  }
}

/** The hash of an archive name without its leading "./" and trailing "/" (pathKey). */
const nameHash = (path: Buffer): number => hashOf(Buffer.from(pathKey(path), 'latin1'));

/**
 * The entry under its name with `n` leading components removed (hardlink targets too); undefined
 * to skip it (its own name has too few components, as with tar); a reason when it cannot be made.
 */
function stripped(entry: Entry, n: number): Entry | string | undefined {
  const path = stripComponents(entry.path, n);
  if (!path) return undefined;
  let linkTarget = entry.linkTarget;
  if (entry.type === 'hardlink' && linkTarget) {
    linkTarget = stripComponents(linkTarget, n);
    // Its target is not extracted (too few components): nothing to link to. A loss, named (GNU
    // tar: "Cannot hard link to ''", exit 2); it was once passed over without a word, exit 0.
    if (!linkTarget) return `not extracted: hardlink to "${displayName(entry.linkTarget!)}", which --strip-components ${n} leaves out (extract it without, or select it too and strip fewer)`;
  }
  return { ...entry, path, linkTarget, name: displayName(path) };
}

/**
 * The content bytes an extraction will restore, when a manifest says so up front (a seekable file
 * with a manifest); undefined otherwise (a stream is not read twice for a total).
 */
async function totalContent(source: ArchiveSource, options: ExtractOptions): Promise<number | undefined> {
  // A filter may look at any field, which the index does not have: then the total is unknown.
  if (typeof source !== 'string' || source === '-' || isUrl(source) || options.filter) return undefined;
  const ra = await open(source, { limits: options.limits, signal: options.signal }).catch(() => undefined);
  if (!ra) return undefined;
  try {
    if (ra.info.method !== 'manifest') return undefined;
    const sel = options.paths?.length ? selector(options.paths, { wildcards: options.wildcards }) : undefined;
    let total = 0;
    const strip = options.stripComponents ?? 0;
    for await (const e of ra.entries()) {
      if (e.type === 'file' && (!sel || sel.select(e.path)) && (!strip || stripComponents(e.path, strip))) total += e.size;
    }
    return total;
  } catch {
    return undefined;
  } finally {
    await ra.close();
  }
}

/**
 * The destination must be a directory we can write to: made when missing, refused up front with
 * one clear error when it is a file or read-only, instead of a raw EEXIST or a loss per entry.
 */
async function prepareDestination(dir: string): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new UsageError('the destination must be a directory path');
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new IoError('destination is not a directory: name a directory to extract into (-C DIR)', { path: dir, errno: 'ENOTDIR' });
  try {
    if (!st) await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw ioError(await mkdirCause(dir, err), 'cannot extract into this destination', dir);
  }
}

/**
 * A recursive mkdir reports ENOENT where the real cause is a read-only or forbidden parent: make the
 * first missing directory alone to learn the true errno.
 */
async function mkdirCause(dir: string, err: unknown): Promise<unknown> {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err;
  let first = resolve(dir);
  while (dirname(first) !== first && !(await stat(dirname(first)).catch(() => undefined))) first = dirname(first);
  return mkdir(first).then(
    () => err,
    (e: unknown) => e,
  );
}
