// list(): the entries of an archive, streamed, with their offsets. Content is skipped, not read.
// Spec: spec/portarc-1.md §6 (reader rules).

import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { ArchiveError } from '../model/errors.js';
import { openSource, type ArchiveSource } from '../io/source.js';
import { TarReader } from '../tar/reader.js';
import { decompressAuto } from '../compress/index.js';
import type { ArchiveInfo } from '../tar/version.js';

export interface ListedEntry extends Entry {
  /** Offset of the entry's first header in the archive. */
  offset: number;
}

export interface Listing extends AsyncIterable<ListedEntry> {
  /** Spec version, features and archive-level warnings; complete once iteration has ended. */
  info: ArchiveInfo;
}

export function list(source: ArchiveSource, options: { limits?: Partial<Limits> } = {}): Listing {
  const { bytes, name } = openSource(source);
  const reader = new TarReader(decompressAuto(bytes), { archiveName: name, limits: options.limits });
  return {
    info: reader.info,
    async *[Symbol.asyncIterator]() {
      try {
        for await (const m of reader) yield { ...m.entry, offset: m.offset };
      } catch (err) {
        if (err instanceof ArchiveError) throw err.withArchive(name);
        throw err;
      }
    },
  };
}
