// list(): the entries of an archive, streamed, with their offsets. Content is skipped, not read.
// Spec: spec/portarc-1.md §6 (reader rules).

import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { ArchiveError } from '../model/errors.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { openArchive, type OpenArchive } from './open.js';
import { newArchiveInfo, type ArchiveInfo } from '../tar/version.js';
import { isManifestMember } from '../manifest/types.js';

export interface ListedEntry extends Entry {
  /** Offset of the entry's first header in the archive. */
  offset: number;
}

export interface Listing extends AsyncIterable<ListedEntry> {
  /** Spec version, features and archive-level warnings; complete once iteration has ended. */
  info: ArchiveInfo;
}

export interface ListOptions {
  limits?: Partial<Limits>;
  /** Also list the manifest and trailer members (spec/manifest.md §2), hidden by default. */
  all?: boolean;
}

export function list(source: ArchiveSource, options: ListOptions = {}): Listing {
  const name = sourceName(source);
  let info = newArchiveInfo();
  return {
    get info() {
      return info;
    },
    async *[Symbol.asyncIterator]() {
      let archive: OpenArchive | undefined;
      try {
        archive = await openArchive(source, options);
        info = archive.info;
        for await (const m of archive.members) {
          if (!options.all && isManifestMember(m.entry.path, archive.info.features.compat)) continue;
          yield { ...m.entry, offset: m.offset };
        }
      } catch (err) {
        if (err instanceof ArchiveError) throw err.withArchive(name);
        throw err;
      } finally {
        await archive?.close();
      }
    },
  };
}
