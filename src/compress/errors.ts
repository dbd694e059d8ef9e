// The error every decoder in this layer throws: an ArchiveError (so the api layer adds the archive
// name and the CLI maps it to exit code 2) that also says where in the *compressed* bytes it went
// wrong, and for zstd which frame. DESIGN §2 (verify names the byte offset), brief: "errors from a
// decoder say the byte offset in the compressed input".

import { ArchiveError } from '../model/errors.js';

export class CompressError extends ArchiveError {
  /** Offset in the compressed input: the frame's first byte for zstd, the chunk's for gzip. */
  readonly compressedOffset: number;
  /** For zstd: the frame's index among the data frames (skippable frames not counted). */
  readonly frame: number | undefined;
  readonly filter: 'gzip' | 'zstd';

  constructor(reason: string, where: { offset: number; frame?: number; filter: 'gzip' | 'zstd'; cause?: unknown }) {
    super(reason);
    this.name = 'CompressError';
    this.compressedOffset = where.offset;
    this.frame = where.frame;
    this.filter = where.filter;
    if (where.cause !== undefined) (this as { cause?: unknown }).cause = where.cause;
  }
}
