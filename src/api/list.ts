// list(): the entries of an archive, streamed, with their offsets. Content is skipped, not read.
// Spec: spec/portarc-1.md §6 (reader rules) and §6.8 (salvage: a damaged tar header is skipped to
// the next valid one; the listing goes on and ends with a DamagedError naming what was skipped).

import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { ArchiveError, DamagedError } from '../model/errors.js';
import { describeSkipped, type SkippedRange } from '../tar/reader.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { openArchive, type OpenArchive } from './open.js';
import { open, selector, urlBytes, type RandomArchive } from './random.js';
import { isUrl } from '../io/random-access.js';
import { newArchiveInfo, type ArchiveInfo } from '../tar/version.js';
import { MANIFEST_NAME, declaresManifest, isManifestMember } from '../manifest/types.js';
import { abortable, abortedOr, checkSignal } from '../model/abort.js';

export interface ListedEntry extends Entry {
  /** Offset of the entry's first header in the archive. */
  offset: number;
}

export interface Listing extends AsyncIterable<ListedEntry> {
  /** Spec version, features and archive-level warnings; complete once iteration has ended. */
  info: ArchiveInfo;
  /** Ranges skipped past damaged headers (spec §6.8); complete once iteration has ended. */
  damaged: SkippedRange[];
}

/** The listing went on past damage: every entry that could be read was listed; `damaged` says what was skipped. */
export class ListDamagedError extends DamagedError {
  constructor(readonly damaged: SkippedRange[]) {
    const d = damaged[0]!;
    const n = damaged.length;
    super(`${n === 1 ? '' : `${n} damaged places; first: `}${describeSkipped(d)} (bytes ${d.range[0]}-${d.range[1]})`, { entry: d.entry, offset: d.range[0] });
    this.name = 'ListDamagedError';
  }
}

export interface ListOptions {
  limits?: Partial<Limits>;
  /** Also list the manifest and trailer members (spec/manifest.md §2), hidden by default. */
  all?: boolean;
  /** List only these members and what lies under these directories (tar semantics); one that selects nothing fails. */
  paths?: string[];
  /** `paths` are shell patterns (tar's --wildcards): src/api/patterns.ts. */
  wildcards?: boolean;
  /** Cancel: the listing stops before the next entry and its iteration throws an AbortError. */
  signal?: AbortSignal;
  /** Read tar archives concatenated with `cat` as one (GNU tar's --ignore-zeros; spec §4.7). */
  ignoreZeros?: boolean;
}

export function list(source: ArchiveSource, options: ListOptions = {}): Listing {
  const name = sourceName(source);
  const signal = checkSignal(options.signal, false);
  let info = newArchiveInfo();
  let damaged: SkippedRange[] = [];
  return {
    get info() {
      return info;
    },
    get damaged() {
      return damaged;
    },
    async *[Symbol.asyncIterator]() {
      let archive: OpenArchive | undefined;
      let ra: RandomArchive | undefined;
      try {
        if (options.paths?.length && !options.ignoreZeros) {
          // Selected members: through the manifest when the source allows (spec/manifest.md §12.4).
          ra = await open(source, options);
          const sel = selector(options.paths, { wildcards: options.wildcards });
          for await (const m of abortable(ra.members((p) => sel.select(p)), signal)) {
            info = ra.archiveInfo;
            yield { ...m.entry, offset: m.offset };
          }
          info = ra.archiveInfo;
          sel.checkAllMatched();
          return;
        }
        // An http(s) URL: its bytes in order, by ranged reads (spec/manifest.md §12.5).
        const input = isUrl(source) ? await urlBytes(source, signal) : source;
        archive = await openArchive(input, { ...options, salvage: true, signal, archiveName: name });
        info = archive.info;
        damaged = archive.skipped ?? [];
        // Selected members read in one pass (ignoreZeros: the manifest at the end is the last archive's).
        const sel = options.paths?.length ? selector(options.paths, { wildcards: options.wildcards }) : undefined;
        // An archive that declares a manifest and ends before it is cut short or ended early
        // (zeroed blocks, spec §4.7): members may be missing. Each archive of a concatenation (-i) has its own.
        const early: SkippedRange[] = [];
        let start = 0;
        let last: number | undefined;
        let sawManifest = false;
        /** Whether the archive being read declares a manifest (read at each member: -i resets it for the next). */
        let declared = false;
        const ended = () => {
          if (sawManifest || !declared) return;
          const which = start ? ` that starts at offset ${start}` : '';
          const where = last === undefined ? 'before its first member' : `after the member at offset ${last}`;
          early.push({ what: `the archive${which} ends ${where}, before its manifest member (it declares one): members after that may be missing`, range: [last ?? start, last ?? start] });
        };
        for await (const m of abortable(archive.members, signal)) {
          if ((m.archiveStart ?? 0) !== start) {
            ended();
            start = m.archiveStart ?? 0;
            sawManifest = false;
          }
          last = m.offset;
          declared = declaresManifest(archive.info);
          if (isManifestMember(m.entry.path, archive.info.features.compat)) {
            if (m.entry.path.toString('latin1') === MANIFEST_NAME) sawManifest = true;
            if (!options.all) continue;
          }
          if (sel && !sel.select(m.entry.path)) continue;
          yield withOffset(m.entry, m.offset);
        }
        // The globals read last (an archive cut short after them, with no member) say it too.
        declared = declaresManifest(archive.info);
        ended();
        if (early.length) damaged = [...damaged, ...early].sort((a, b) => a.range[0] - b.range[0]);
        sel?.checkAllMatched();
        if (damaged.length) throw new ListDamagedError(damaged);
      } catch (err) {
        if (signal?.aborted) throw abortedOr(signal, err);
        if (err instanceof ArchiveError) throw err.withArchive(name);
        throw err;
      } finally {
        await archive?.close();
        await ra?.close();
      }
    },
  };
}

/** The member's entry as listed: the reader's own object (made for this member) with its offset, not a copy. */
function withOffset(entry: Entry, offset: number): ListedEntry {
  const listed = entry as ListedEntry;
  listed.offset = offset;
  return listed;
}
