// `portarc info -f A`: what an archive is (container, compression, spec version, creator, features),
// what it holds (entries by type, content bytes), and what readers of other spec versions and other
// tools do with it (spec/portarc-1.md §7). Through the manifest when there is one (no full read);
// otherwise one pass over the headers, content skipped.

import { openSync, readSync, closeSync, statSync } from 'node:fs';
import type { Limits } from '../model/limits.js';
import type { EntryType } from '../model/entry.js';
import { PortarcError } from '../model/errors.js';
import { KNOWN_FEATURES, SPEC_VERSION_TEXT, type ArchiveInfo, type FeatureClass } from '../model/archive-info.js';
import { sniff, SNIFF_BYTES } from '../compress/index.js';
import { open } from '../api/random.js';
import { list } from '../api/list.js';
import { isUrl } from '../io/random-access.js';
import { open as openFile } from 'node:fs/promises';
import { findEmbedded, readAtOf } from '../integrity/par2/embedded.js';
import { findParityFiles } from '../integrity/par2/reader.js';

export interface InfoResult {
  archive: string;
  /** Bytes of the archive file; null for a stream. */
  size: number | null;
  container: 'tar' | 'zip' | null;
  compression: 'none' | 'gzip' | 'zstd' | null;
  /** The archive's spec version; null for archives made by other tools (read as 1.0, no features). */
  specVersion: string | null;
  creator: string | null;
  features: Record<FeatureClass, string[]>;
  /** How the totals were found: the manifest's index, or a pass over every header. */
  method: 'manifest' | 'stream';
  entries: number;
  byType: Partial<Record<EntryType, number>>;
  /** Sum of the sizes of regular files (the content a full extraction writes). */
  contentBytes: number;
  readOnly: boolean;
  /** This reader's spec version. */
  reader: string;
  /** What a reader of an older (or other) spec version, and other tools, do with this archive. */
  compatibility: string[];
  /** PAR2 recovery data: embedded after the archive in the file (spec/recovery.md §10), or a sidecar set beside it; null for none. */
  recovery: { embedded: true; archiveLength: number; bytes: number; blocks: number; layout: number } | { embedded: false; files: string[] } | null;
  warnings: string[];
  notices: string[];
}

/** The feature table of spec §7.2: the version each known feature came with. */
const FEATURE_SINCE: Record<string, string> = { manifest: '1.0' };

export async function archiveInfo(file: string, limits: Partial<Limits> = {}): Promise<InfoResult> {
  const name = file === '-' ? '(stdin)' : file;
  let size: number | null = null;
  let compression: InfoResult['compression'] = null;
  let recovery: InfoResult['recovery'] = null;
  if (file !== '-' && !isUrl(file)) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st?.isFile()) {
      size = st.size;
      recovery = await recoveryOf(file, st.size);
      const head = Buffer.alloc(SNIFF_BYTES);
      const fd = openSync(file, 'r');
      try {
        compression = sniff(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
      } finally {
        closeSync(fd);
      }
    }
  }
  const byType: Partial<Record<EntryType, number>> = {};
  let entries = 0;
  let contentBytes = 0;
  const count = (type: EntryType, bytes: number) => {
    entries++;
    byType[type] = (byType[type] ?? 0) + 1;
    if (type === 'file') contentBytes += bytes;
  };
  let info: ArchiveInfo;
  let container: InfoResult['container'] = null;
  let method: InfoResult['method'] = 'stream';
  const ra = file === '-' ? undefined : await open(file, { limits });
  try {
    if (ra && ra.info.method === 'manifest') {
      method = 'manifest';
      container = ra.info.format ?? null;
      let n = 0;
      for await (const e of ra.entries()) count(e.type, e.size), n++;
      // The archive-level data comes from the first header: read it (cheap: one member). With no
      // member (an incremental with nothing new), read the archive itself: its global header is there.
      for await (const m of ra.members(() => true)) {
        void m;
        break;
      }
      info = ra.archiveInfo;
      if (n === 0) {
        const listing = list(file, { limits });
        for await (const e of listing) void e;
        info = listing.info;
      }
    } else {
      const listing = list(file, { limits });
      for await (const e of listing) count(e.type, e.size);
      info = listing.info;
      container = ra?.info.format ?? (compression === 'none' && size !== null ? sniffContainer(file) : 'tar');
    }
  } catch (err) {
    if (err instanceof PortarcError) throw err.withArchive(name);
    throw err;
  } finally {
    await ra?.close();
  }
  return {
    archive: name,
    size,
    container,
    compression: container === 'zip' ? 'none' : compression,
    specVersion: info.version ?? null,
    creator: info.creator ?? null,
    features: info.features,
    method,
    entries,
    byType,
    contentBytes,
    readOnly: info.readOnly,
    reader: SPEC_VERSION_TEXT,
    compatibility: [...compatibility(info, container), ...(recovery?.embedded ? [EMBEDDED_NOTE] : [])],
    recovery,
    warnings: info.warnings,
    notices: info.notices,
  };
}

const EMBEDDED_NOTE = 'embedded recovery data (spec/recovery.md §10): GNU tar, bsdtar, Python, gzip, zstd, unzip and 7-Zip read the archive as if it were not there; portarc 0.1.0 reads it too, but its verify may report the bytes after the archive as damage';

/** Embedded recovery data (its locator: a few hundred bytes read), else a sidecar set. */
async function recoveryOf(file: string, size: number): Promise<InfoResult['recovery']> {
  const fh = await openFile(file, 'r');
  try {
    const r = await findEmbedded(readAtOf(fh), size);
    if (r) return { embedded: true, archiveLength: r.archiveLength, bytes: r.regionLength + r.tailLength, blocks: r.recoveryCount, layout: r.version };
  } finally {
    await fh.close();
  }
  const files = await findParityFiles(file);
  return files.length ? { embedded: false, files } : null;
}

function sniffContainer(file: string): 'tar' | 'zip' {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50 ? 'zip' : 'tar';
}

/** Spec §7: what each kind of reader does with the version and each feature. */
export function compatibility(info: ArchiveInfo, container: string | null): string[] {
  const out: string[] = [];
  const v = info.version;
  if (v === undefined) out.push('no portarc version: made by another tool; every portarc reader reads it as spec 1.0 with no features (§7.5)');
  else {
    const major = v.split('.')[0];
    out.push(`spec ${v}: every portarc reader of spec ${major}.x reads it (a lower minor version through the feature rules of §7.2); a reader of an older major version refuses it`);
  }
  const classes: Record<FeatureClass, string> = {
    compat: 'a reader that does not know it ignores it silently',
    rocompat: 'a reader that does not know it may list and extract, warns, and must not modify or append to the archive',
    incompat: 'a reader that does not know it refuses the archive (exit 2)',
  };
  for (const cls of ['compat', 'rocompat', 'incompat'] as FeatureClass[]) {
    for (const f of info.features[cls]) {
      const since = FEATURE_SINCE[f];
      const known = KNOWN_FEATURES[cls].has(f);
      out.push(`feature "${f}" (${cls}${since ? `, since spec ${since}` : ''}): ${classes[cls]}${known ? '' : '; this reader does not know it either'}`);
      if (f === 'manifest') out.push(`feature "manifest": other tools (GNU tar, bsdtar${container === 'zip' ? ', unzip, 7-Zip' : ''}) see .portarc/manifest.xml and .portarc/trailer as ordinary members`);
    }
  }
  return out;
}
