// Whole tar members made by the create scan (native/scan.c with native/pack.c): a small file
// without xattrs, owned by the owner the last entry had, is read and encoded in C as its `x`
// header, ustar header, content and padding, exactly as TarWriter.add encodes it
// (spec/portarc-1.md §4–§5). The writer then writes the run of them as one chunk
// (TarWriter.addPacked), the digesting sink cuts it into member ranges (DigestingSink.writeMembers)
// and the manifest gets a line per member (ManifestRecorder.addedRun): no entry object, no header
// encoding, no per-file promise on the main thread. Everything else takes the path of any entry.

import type { Entry } from '../model/entry.js';
import { ustarName } from './writer.js';

/** Consecutive files the scan encoded as whole tar members, in archive order. */
export interface PackedRun {
  readonly packed: true;
  /** The members back to back. The scan refills this buffer: write it before asking for more. */
  bytes: Buffer;
  count: number;
  /**
   * Per member, 4 numbers relative to `bytes`: where its headers start, where its content starts,
   * where its content ends, where it ends (after the padding). Reused by the scan like `bytes`.
   */
  layout: Float64Array;
  /** The members' paths (as entries have them). */
  paths: Buffer[];
  /** The newest mtime among them (the manifest's and trailer's time). */
  newestNs: bigint;
  /** Content bytes (for progress). */
  contentBytes: number;
  /**
   * Member `i` as the entry the JS scan would have made of it (for onEntry and -v; made only when
   * asked for). Valid, like `layout`, until the consumer asks for the next item.
   */
  entry(i: number): Entry;
  /**
   * Keep `bytes` as they are until `reader` is ready or settled (the scan's: it reads its next
   * batches into another buffer meanwhile). Absent: `bytes` may change once the consumer asks for more.
   */
  hold?(reader: RunReader): void;
}

/** Something still reading a run's bytes (native/run_lines.c's job). */
export interface RunReader {
  /** Done reading (looked at without waiting). */
  readonly ready: boolean;
  /** Settles once done (or failed). */
  readonly settled: Promise<unknown>;
}

/**
 * Runs and members written packed in this process, and how often the scan's buffer came round to
 * its start (tests check that the fast path ran, and past what).
 */
export const packStats = { runs: 0, members: 0, wraps: 0 };

export function isPackedRun(item: object): item is PackedRun {
  return (item as PackedRun).packed === true;
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The owner a packed file must have, with its ustar names: the last entry's (a tree has few
 * owners). Files of another owner, or an owner whose name the ustar field cannot hold, are not
 * packed: the writer decides their records.
 */
export class PackOwner {
  /** [uid, gid, dev, ino]: scanBatch's params (uid -1: pack nothing); dev/ino: the archive itself. */
  readonly params = new BigInt64Array([-1n, -1n, 0n, -1n]);
  uname: Buffer = EMPTY;
  gname: Buffer = EMPTY;
  private uid = -1;
  private gid = -1;

  constructor(exclude?: { dev: bigint; ino: bigint }) {
    if (exclude) {
      this.params[2] = exclude.dev;
      this.params[3] = exclude.ino;
    }
  }

  /**
   * Pack files owned as `e` is from here on (when its names fit the ustar fields): the first
   * entry's owner, then each directory's (a file of another owner among them does not stop the
   * packing of its siblings).
   */
  take(e: Entry): void {
    if (e.uid === this.uid && e.gid === this.gid) return;
    if (this.uid >= 0 && e.type !== 'directory') return;
    this.uid = e.uid;
    this.gid = e.gid;
    const u = ustarName(e.uname);
    const g = ustarName(e.gname);
    const ok = u !== undefined && g !== undefined;
    this.uname = u ?? EMPTY;
    this.gname = g ?? EMPTY;
    this.params[0] = ok ? BigInt(e.uid) : -1n;
    this.params[1] = ok ? BigInt(e.gid) : -1n;
  }
}
