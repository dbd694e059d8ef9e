// Deterministic archives (`deterministic: true`, CLI `--deterministic`): the same tree gives the
// same bytes from any directory at any time. Spec: spec/portarc-1.md §8.7.
// What varies between two runs over one tree is metadata the reading itself changes or that
// depends on the machine: access and change times (reading a file sets its atime; chmod, xattrs
// and hardlinks set ctime), user and group names (the local passwd/group files), and the order in
// which the filesystem lists xattrs. Everything else (paths, content, modes, ids, mtimes, labels,
// ACLs) is the input. Entries are already in byte order (the scan sorts each directory).

import { UsageError } from '../model/errors.js';
import type { Entry } from '../model/entry.js';

export interface DeterministicOptions {
  /** Drop atime/ctime, user/group names, sort xattrs; times as `mtime`/`SOURCE_DATE_EPOCH` say. */
  deterministic?: boolean;
  /**
   * Every entry's mtime (tar's --mtime): a Date, seconds since the epoch, or nanoseconds as a
   * bigint. With `clampMtime`, only later mtimes are brought down to it. Default with
   * `deterministic`: the environment's SOURCE_DATE_EPOCH, clamping (reproducible-builds.org).
   */
  mtime?: Date | number | bigint;
  /** With `mtime`: clamp (min of the file's mtime and `mtime`) instead of setting every mtime. */
  clampMtime?: boolean;
  /** With `deterministic`: keep user and group names (uname/gname) too. Default false. */
  ownerNames?: boolean;
}

/** `mtime` as nanoseconds, checked (UsageError naming what is accepted). */
function toNs(v: Date | number | bigint, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.round(v * 1000)) * 1_000_000n;
  if (v instanceof Date && !Number.isNaN(v.getTime())) return BigInt(v.getTime()) * 1_000_000n;
  throw new UsageError(`${what} ${String(v)} is not a time: give a Date, seconds since 1970 or nanoseconds (bigint)`);
}

/** The SOURCE_DATE_EPOCH of the environment (an integer of seconds), or undefined when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): bigint | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`SOURCE_DATE_EPOCH "${v}" is not an integer number of seconds since 1970 (reproducible-builds.org)`);
  return BigInt(v.trim()) * 1_000_000_000n;
}

/**
 * The per-entry rewrite the options ask for, or undefined when nothing is rewritten. Checked
 * up front; SOURCE_DATE_EPOCH is read once, when the archive starts.
 */
export function entryNormalizer(o: DeterministicOptions): ((e: Entry) => void) | undefined {
  if (o.clampMtime && o.mtime === undefined && !o.deterministic) throw new UsageError('clampMtime needs mtime (or deterministic with SOURCE_DATE_EPOCH set)');
  let time = o.mtime === undefined ? undefined : toNs(o.mtime, 'mtime');
  let clamp = o.clampMtime === true;
  if (time === undefined && o.deterministic) {
    time = sourceDateEpoch();
    clamp = true;
  }
  if (!o.deterministic && time === undefined) return undefined;
  const keepNames = o.ownerNames === true;
  return (e) => {
    if (time !== undefined && (!clamp || e.mtimeNs > time)) e.mtimeNs = time;
    if (!o.deterministic) return;
    e.atimeNs = undefined;
    e.ctimeNs = undefined;
    if (!keepNames) {
      e.uname = '';
      e.gname = '';
      for (const acl of [e.aclAccess, e.aclDefault]) for (const a of acl ?? []) delete a.name;
    }
    if (e.xattrs.size > 1) e.xattrs = new Map([...e.xattrs].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  };
}
