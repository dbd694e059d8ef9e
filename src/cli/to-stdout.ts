// extract -O/--to-stdout: the content of the selected files, one after the other, on standard
// output (tar's -O); nothing is written to disk. Read through random access (open()), so a seekable
// archive with a manifest is read only where the selected members lie, and checked against it.

import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { PortarcError } from '../model/errors.js';
import { logical, open, selector } from '../api/random.js';

export interface ToStdoutOptions {
  paths: string[];
  wildcards?: boolean;
  filter?: (e: Entry) => boolean;
  limits?: Partial<Limits>;
  /** Write one chunk, resolved once it may be followed by the next (backpressure). */
  write: (chunk: Buffer) => Promise<void>;
  onEntry?: (e: Entry) => void;
}

export async function toStdout(file: string, o: ToStdoutOptions): Promise<{ entries: number; bytes: number }> {
  const ra = await open(file, { limits: o.limits });
  const sel = selector(o.paths, { wildcards: o.wildcards });
  let entries = 0;
  let bytes = 0;
  try {
    // Regular files only: a hardlink prints nothing (its target prints the content), as with tar -O.
    for await (const m of ra.members((p) => !o.paths.length || sel.select(p))) {
      if (o.filter && !o.filter(m.entry)) continue;
      if (m.entry.type !== 'file') continue;
      for await (const chunk of logical(m.entry, m.body)) {
        bytes += chunk.length;
        await o.write(chunk);
      }
      entries++;
      o.onEntry?.(m.entry);
    }
    sel.checkAllMatched();
  } catch (err) {
    if (err instanceof PortarcError) throw err.withArchive(ra.name);
    throw err;
  } finally {
    await ra.close();
  }
  return { entries, bytes };
}
