// extract(): read an archive and restore its entries under a destination directory, reporting
// every warning and every loss. Spec: spec/portarc-1.md §6 (reader rules) and §9 (restore).

import { mkdir } from 'node:fs/promises';
import type { Entry } from '../model/entry.js';
import { ArchiveError } from '../model/errors.js';
import { Restorer, type Loss, type RestoreOptions } from '../fs/restore.js';
import type { ArchiveSource } from '../io/source.js';
import { openArchive, type OpenArchive } from './open.js';
import type { ArchiveInfo } from '../tar/version.js';
import { isManifestMember } from '../manifest/types.js';

/** The restore options (privileges, -P, fsync, limits, name folding: see RestoreOptions), plus progress. */
export interface ExtractOptions extends Omit<RestoreOptions, 'sys'> {
  onEntry?: (entry: Entry) => void;
  /** Also restore the manifest and trailer members (spec/manifest.md §2), skipped by default. */
  manifest?: boolean;
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
  const name = typeof source === 'string' ? (source === '-' ? '(stdin)' : source) : '(stream)';
  await mkdir(dir, { recursive: true });
  const restorer = new Restorer(dir, options);
  const entryWarnings: string[] = [];
  let entries = 0;
  let archive: OpenArchive | undefined;
  try {
    archive = await openArchive(source, { limits: options.limits });
    for await (const { entry, body } of archive.members) {
      if (!options.manifest && isManifestMember(entry.path, archive.info.features.compat)) continue;
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
  } finally {
    await archive?.close();
  }
  await restorer.finish();
  return {
    entries,
    info: archive.info,
    warnings: [...archive.info.warnings, ...restorer.warnings, ...entryWarnings],
    losses: restorer.losses,
  };
}
