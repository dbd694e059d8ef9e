// extract(): read an archive and restore its entries under a destination directory, reporting
// every warning and every loss. Spec: spec/portarc-1.md §6 (reader rules) and §9 (restore).

import { access, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Entry } from '../model/entry.js';
import { ArchiveError, IoError, ioError, PortarcError, UsageError } from '../model/errors.js';
import { Restorer, type Loss, type RestoreOptions } from '../fs/restore.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { openArchive, type OpenArchive } from './open.js';
import { open, selector } from './random.js';
import { isUrl } from '../io/random-access.js';
import type { ArchiveInfo } from '../tar/version.js';
import { isManifestMember } from '../manifest/types.js';

/** The restore options (privileges, -P, fsync, limits, name folding: see RestoreOptions), plus progress. */
export interface ExtractOptions extends Omit<RestoreOptions, 'sys'> {
  onEntry?: (entry: Entry) => void;
  /** Also restore the manifest and trailer members (spec/manifest.md §2), skipped by default. */
  manifest?: boolean;
  /**
   * Restore only these members and what lies under these directories (tar semantics). With a
   * manifest and a seekable source only they are read (spec/manifest.md §11.4); a PATH that
   * selects nothing fails the extraction (ArchiveError "not found in archive") after the others.
   */
  paths?: string[];
}

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
  /** What the reader skipped by rule (unknown keywords...): archive-level, then per entry. Not a warning (spec §6.5). */
  notices: string[];
}

export async function extract(source: ArchiveSource, dir: string, options: ExtractOptions = {}): Promise<ExtractResult> {
  const name = sourceName(source);
  await prepareDestination(dir);
  const restorer = new Restorer(dir, options);
  const entryWarnings: string[] = [];
  const entryNotices: string[] = [];
  let entries = 0;
  let archive: OpenArchive | undefined;
  try {
    // An http(s) URL is only readable through open()'s ranged reads: every member, in order.
    archive = options.paths?.length || isUrl(source) ? await selected(source, options.paths ?? [], options) : await openArchive(source, { limits: options.limits });
    for await (const { entry, body } of archive.members) {
      if (!options.manifest && isManifestMember(entry.path, archive.info.features.compat)) continue;
      for (const w of entry.warnings) entryWarnings.push(`${entry.name}: ${w}`);
      for (const n of entry.notices) entryNotices.push(`${entry.name}: ${n}`);
      await restorer.restore(entry, body);
      entries++;
      options.onEntry?.(entry);
    }
  } catch (err) {
    // Whatever was extracted completely keeps its name and metadata; temporary files of what was
    // not are removed; then the failure is reported.
    await restorer.finish().catch(() => undefined);
    restorer.abort();
    if (err instanceof PortarcError) throw err.withArchive(name);
    throw err;
  } finally {
    await archive?.close();
  }
  await restorer.finish();
  return {
    entries,
    info: archive.info,
    warnings: [...archive.info.warnings, ...restorer.warnings, ...entryWarnings],
    losses: restorer.losses,
    notes: restorer.notes,
    notices: [...archive.info.notices, ...entryNotices],
  };
}

/**
 * The members PATHs select, as an OpenArchive: read at the manifest's offsets when the source is
 * seekable and has one, in a streaming pass otherwise; then the PATHs that selected nothing fail.
 */
async function selected(source: ArchiveSource, paths: string[], options: ExtractOptions): Promise<OpenArchive> {
  const ra = await open(source, { limits: options.limits });
  const sel = selector(paths);
  async function* members() {
    for await (const m of ra.members((p) => !paths.length || sel.select(p), { copyLinks: true })) yield m;
    const missing = sel.unmatched();
    if (missing.length) throw new ArchiveError(`not found in archive${missing.length > 1 ? ` (nor ${missing.slice(1).map((p) => `"${p}"`).join(', ')})` : ''}`, { entry: missing[0] });
  }
  return {
    format: ra.info.format ?? 'tar',
    name: ra.name,
    get info() {
      return ra.archiveInfo;
    },
    members: members(),
    close: () => ra.close(),
  };
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
