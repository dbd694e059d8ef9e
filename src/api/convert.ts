// convert(): copy every entry of one archive into a new one of another container or compression
// (tar ↔ zip, plain ↔ gzip ↔ zstd), streaming, and report what the target cannot carry.
// Spec: spec/zip-profile.md (what a zip holds), spec/portarc-1.md §5.

import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import type { ArchiveSource } from '../io/source.js';
import { openWriter, writeEntries, type CreateOptions, type CreateResult } from './create.js';
import { openArchive } from './open.js';

export interface ConvertResult extends CreateResult {
  from: 'tar' | 'zip';
  to: 'tar' | 'zip';
  /** What other tools will not restore from the target, by kind, with entry counts. */
  portarcOnly: string[];
}

export async function convert(source: ArchiveSource, dest: string | Writable, options: Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'zipMethod' | 'onEntry'> = {}): Promise<ConvertResult> {
  const archive = await openArchive(source, { keepsChunks: true });
  const opened = await openWriter(dest, options).catch(async (err: unknown) => {
    await archive.close(); // a bad option or destination: release the archive before saying so
    throw err;
  });
  const kinds = new Map<string, number>();
  const note = (what: string) => kinds.set(what, (kinds.get(what) ?? 0) + 1);
  async function* entries() {
    for await (const m of archive.members) {
      if (opened.format === 'zip') noteZipLimits(m.entry, note);
      yield { entry: m.entry, body: () => m.body };
    }
  }
  try {
    const result = await writeEntries(entries(), opened, typeof dest === 'string' ? dest : '(stream)', options.onEntry);
    result.warnings.unshift(...archive.info.warnings);
    return { ...result, from: archive.format, to: opened.format, portarcOnly: [...kinds].map(([k, n]) => `${n} ${k}`) };
  } finally {
    await archive.close();
  }
}

/** A zip keeps all of it in portarc's PX field, but unzip, bsdtar and 7-Zip restore none of these. */
function noteZipLimits(e: Entry, note: (what: string) => void): void {
  if (e.xattrs.size) note('with xattrs');
  if (e.selinux) note('with SELinux labels');
  if (e.aclAccess || e.aclDefault) note('with ACLs');
  if (e.type === 'hardlink' || e.type === 'fifo' || e.type === 'chardev' || e.type === 'blockdev') note(`${e.type} entries (plain files to other tools)`);
  if (e.sparse) note('sparse files (stored dense)');
  if (e.mtimeNs < 0n || e.mtimeNs >= 2n ** 31n * 1_000_000_000n) note('times outside 1970-2038 (kept only in PX)');
}
