// tar's member-selection options on the command line: --exclude/--exclude-from, -T/--files-from
// with --null, --wildcards, --newer DATE; mapped to the library's `filter` and `paths` options.
// Pattern semantics: src/api/patterns.ts (GNU tar's defaults).

import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { Entry } from '../model/entry.js';
import { ioError, UsageError } from '../model/errors.js';
import { excludeFilter } from '../api/patterns.js';
import { parseDate } from './dates.js';

export interface SelectionFlags {
  exclude?: string[];
  excludeFrom?: string[];
  filesFrom?: string[];
  null?: boolean;
  wildcards?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function withExcludeFlags(cmd: Command): Command {
  return cmd
    .option('--exclude <pattern>', 'leave out members matching PATTERN (shell wildcards, "*" also matches "/", matched from any "/"; a directory takes what is under it; a PATTERN ending in "/" matches directories only); repeatable', collect)
    .option('-X, --exclude-from <file>', 'read --exclude patterns from FILE, one per line ("-" for stdin); repeatable', collect);
}

export function withFilesFromFlags(cmd: Command, what: string): Command {
  return cmd
    .option('-T, --files-from <file>', `read ${what} from FILE, one per line ("-" for stdin); repeatable`, collect)
    .option('--null', '-T and --exclude-from files are separated by NUL bytes (find -print0), not newlines');
}

export function withWildcardsFlag(cmd: Command): Command {
  return cmd.option('--wildcards', 'PATHs are shell patterns ("*", "?", "[...]"; "*" also matches "/"), anchored at the start of the member name');
}

/**
 * The names in a -T or --exclude-from file: lines (or NUL-separated with --null), empty ones
 * dropped, every other byte kept (a name may end in "\r", as GNU tar reads it). A name that is not
 * UTF-8 is refused: decoded, it would be another name (`bad\xff` became `bad\ufffd`, and a file of
 * that name was archived instead, exit 0).
 */
export function readNameList(file: string, nul: boolean): string[] {
  let bytes: Buffer;
  const shown = file === '-' ? '(stdin)' : file;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw ioError(err, 'cannot read the list of names', shown);
  }
  const names: string[] = [];
  const sep = nul ? 0 : 0x0a;
  for (let at = 0, n = 1; at <= bytes.length; n++) {
    let end = bytes.indexOf(sep, at);
    if (end < 0) end = bytes.length;
    const raw = bytes.subarray(at, end);
    at = end + 1;
    if (!raw.length) continue;
    if (!isUtf8(raw)) throw new UsageError(`${shown}: name ${n} (${JSON.stringify(raw.toString('latin1'))} as Latin-1) is not UTF-8, and portarc takes the names of a list as text: archive its directory instead`);
    names.push(raw.toString('utf8'));
  }
  return names;
}

/** PATH arguments plus the names of every -T file. `archive` is -f's value ("-": the archive is on stdin). */
export function namesOf(paths: string[], o: SelectionFlags, archive?: string): string[] {
  const stdin = [...(o.filesFrom ?? []), ...(o.excludeFrom ?? []), ...(archive === '-' ? ['-'] : [])].filter((f) => f === '-').length;
  if (stdin > 1) throw new UsageError('standard input can be read once: only one of -f (reading), -T and --exclude-from may be "-"');
  return [...paths, ...(o.filesFrom ?? []).flatMap((f) => readNameList(f, o.null === true))];
}

/** The --exclude and --exclude-from patterns as a filter, or undefined when there are none. */
export function excludeOf(o: SelectionFlags): ((e: Pick<Entry, 'path'>) => boolean) | undefined {
  const patterns = [...(o.exclude ?? []), ...(o.excludeFrom ?? []).flatMap((f) => readNameList(f, o.null === true))];
  return patterns.length ? excludeFilter(patterns) : undefined;
}

/**
 * --newer DATE: an ISO 8601 date or time ("2024-05-01", "2024-05-01T12:00:00Z"; local time without
 * a zone, as GNU tar), @SECONDS, or, as GNU tar does for a value starting with "/" or ".", the
 * modification time of that file. Nanoseconds.
 */
export function newerArg(value: string): bigint {
  if (value.startsWith('/') || value.startsWith('.')) {
    try {
      return statSync(value, { bigint: true }).mtimeNs;
    } catch (err) {
      throw new InvalidArgumentError(`cannot stat "${value}": ${(err as Error).message}`);
    }
  }
  const ns = parseDate(value);
  if (ns === undefined) throw new InvalidArgumentError(`"${value}" is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] (local time without a zone), @SECONDS, or a file name starting with "/" or "."`);
  return ns;
}

/**
 * --newer on create: directories always (for the tree), anything else unless both its data and
 * its status changed before `since` (tar -N). A time equal to it is in: filesystem clocks tick in
 * milliseconds, so a file written just after the stamp of an incremental backup usually has the
 * stamp's very time (it was left out of every backup, exit 0). GNU tar skips only strictly older.
 */
export function newerFilter(since: bigint): (e: Entry) => boolean {
  return (e) => e.type === 'directory' || e.mtimeNs >= since || (e.ctimeNs !== undefined && e.ctimeNs >= since);
}

/** Both filters, or either, or none. */
export function allOf<T>(...filters: (((e: T) => boolean) | undefined)[]): ((e: T) => boolean) | undefined {
  const fs = filters.filter((f): f is (e: T) => boolean => f !== undefined);
  if (!fs.length) return undefined;
  return (e) => fs.every((f) => f(e));
}

/** -k, --skip-old-files, --keep-newer-files: the library's `existing` mode (one of them at most). */
export function existingMode(o: { keepOldFiles?: boolean; skipOldFiles?: boolean; keepNewerFiles?: boolean }): 'replace' | 'keep-old' | 'skip-old' | 'keep-newer' {
  const set = [o.keepOldFiles && '-k', o.skipOldFiles && '--skip-old-files', o.keepNewerFiles && '--keep-newer-files'].filter(Boolean);
  if (set.length > 1) throw new UsageError(`choose one of ${set.join(', ')}`);
  return o.keepOldFiles ? 'keep-old' : o.skipOldFiles ? 'skip-old' : o.keepNewerFiles ? 'keep-newer' : 'replace';
}
