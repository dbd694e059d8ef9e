// extract -O/--to-stdout: the content of the selected files, one after the other, on standard
// output (tar's -O); nothing is written to disk. A seekable archive with a manifest is read only
// where the selected members lie (random access); anything else in one pass. Either way each file
// is checked against the manifest: read as a stream, only when the manifest arrives, after its
// bytes went out, so a mismatch is an ExtractDamagedError at the end (exit 2, the entry named).

import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { extractFiles, type ExtractResult } from '../api/extract.js';
import { logical } from '../api/random.js';

export interface ToStdoutOptions {
  paths: string[];
  wildcards?: boolean;
  filter?: (e: Entry) => boolean;
  limits?: Partial<Limits>;
  signal?: AbortSignal;
  /** Write one chunk, resolved once it may be followed by the next (backpressure). */
  write: (chunk: Buffer) => Promise<void>;
  onEntry?: (e: Entry) => void;
  ignoreZeros?: boolean;
}

export function toStdout(file: string, o: ToStdoutOptions): Promise<ExtractResult> {
  return extractFiles(
    file,
    async (entry, body) => {
      // A sparse file's holes are zeros on the output.
      for await (const chunk of logical(entry, body)) await o.write(chunk);
      o.onEntry?.(entry);
    },
    { paths: o.paths, wildcards: o.wildcards, filter: o.filter, limits: o.limits, signal: o.signal, ignoreZeros: o.ignoreZeros },
  );
}
