// extract(): read an archive and restore its entries under a destination directory, reporting
// every warning and every loss. Spec: spec/portarc-1.md §6 (reader rules) and §9 (restore).

import { mkdir } from 'node:fs/promises';
import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { ArchiveError } from '../model/errors.js';
import { Restorer, type Loss } from '../fs/restore.js';
import { openSource, type ArchiveSource } from '../io/source.js';
import { TarReader } from '../tar/reader.js';
import type { ArchiveInfo } from '../tar/version.js';

export interface ExtractOptions {
  /** tar's -p: restore owners (as root), setuid/setgid bits and device nodes. Off by default. */
  preserve?: boolean;
  /** Restore owners. Default: preserve and running as root. */
  sameOwner?: boolean;
  /** Restore setuid/setgid bits and device nodes. Default: preserve. */
  samePermissions?: boolean;
  /** Use the numeric ids in the archive, not the names. */
  numericOwner?: boolean;
  /** Unsafe, like tar's -P: keep `..` components and symlinks that point outside the destination. */
  absoluteNames?: boolean;
  /** fsync files and directories so a crash cannot lose what was reported extracted (default on). */
  fsync?: boolean;
  /** Bounds on bytes, entries, path length and depth, header size and xattrs (model/limits.ts). */
  limits?: Partial<Limits>;
  /** Treat names differing only in case or Unicode normalisation as one (default: probe the destination). */
  foldNames?: boolean;
  onEntry?: (entry: Entry) => void;
}

export interface ExtractResult {
  entries: number;
  info: ArchiveInfo;
  /** Every warning: archive-level ones, then per entry ("NAME: what"). */
  warnings: string[];
  /** What could not be restored, per entry. */
  losses: Loss[];
}

export async function extract(source: ArchiveSource, dir: string, options: ExtractOptions = {}): Promise<ExtractResult> {
  const { bytes, name } = openSource(source);
  await mkdir(dir, { recursive: true });
  const reader = new TarReader(bytes, { archiveName: name, limits: options.limits });
  const restorer = new Restorer(dir, options);
  const entryWarnings: string[] = [];
  let entries = 0;
  try {
    for await (const { entry, body } of reader) {
      for (const w of entry.warnings) entryWarnings.push(`${entry.name}: ${w}`);
      await restorer.restore(entry, body);
      entries++;
      options.onEntry?.(entry);
    }
  } catch (err) {
    // Whatever was extracted keeps its metadata, then the failure is reported.
    await restorer.finish().catch(() => undefined);
    if (err instanceof ArchiveError) throw err.withArchive(name);
    throw err;
  }
  await restorer.finish();
  return {
    entries,
    info: reader.info,
    warnings: [...reader.info.warnings, ...restorer.warnings, ...entryWarnings],
    losses: restorer.losses,
  };
}
