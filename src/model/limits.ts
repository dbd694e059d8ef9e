// Bounds on what reading and extracting one archive may cost. Each default is far beyond what a
// real backup reaches, and each can be raised. Spec: spec/portarc-1.md §6.6 and §9.6 (limits).

import { UsageError } from './errors.js';

export interface Limits {
  /** Total bytes of file content written by one extraction. */
  bytes: number;
  /** Entries in one archive. */
  entries: number;
  /** Bytes in one member path (Linux PATH_MAX is 4096). */
  pathBytes: number;
  /** Components in one member path. */
  depth: number;
  /** Bytes of one pax, GNU long-name or sparse-map header. */
  headerBytes: number;
  /** Extended attributes on one entry. */
  xattrs: number;
  /** Bytes of all extended attribute values of one entry. */
  xattrBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  bytes: 2 ** 53 - 1,
  entries: 100_000_000,
  pathBytes: 16 * 1024,
  depth: 1024,
  headerBytes: 16 * 1024 * 1024,
  xattrs: 10_000,
  xattrBytes: 16 * 1024 * 1024,
};

/** Parse `NAME=VALUE` (VALUE may end in K, M, G, T for powers of 1024) into a partial Limits. */
export function parseLimit(text: string): Partial<Limits> {
  const m = /^([a-zA-Z]+)=(\d+)([KMGT]?)$/.exec(text);
  if (!m || !(m[1]! in DEFAULT_LIMITS)) {
    throw new UsageError(`bad limit "${text}": use NAME=VALUE with NAME one of ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
  }
  const scale = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[3] as '' | 'K' | 'M' | 'G' | 'T'];
  return { [m[1]!]: Number(m[2]) * scale };
}
