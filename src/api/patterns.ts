// Member-name patterns as GNU tar matches them (its manual, "Controlling Pattern-Matching"):
// - exclusion (--exclude, --exclude-from): shell wildcards, `*` and `?` also match `/`, not anchored
//   (the pattern may match from any `/` on), and a match on a directory covers everything below it;
// - inclusion with --wildcards (extract/list PATH...): the same wildcards, anchored at the start.
// Names and patterns are compared as pathKey gives them (no leading "./" or "/", no trailing "/"),
// byte for byte (latin1 strings): a pattern in UTF-8 matches a name in UTF-8.

import type { Entry } from '../model/entry.js';
import { UsageError } from '../model/errors.js';
import { pathKey } from './manifest-index.js';

/** Does `pattern` contain a wildcard (`*`, `?`, `[`) that is not escaped? */
export function hasWildcards(pattern: string): boolean {
  return /(^|[^\\])(\\\\)*[*?[]/.test(pattern);
}

/** The regular-expression body of a shell pattern: `*` any run, `?` one byte, `[...]` a class, `\x` x itself. */
function globBody(pattern: string): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^]*';
    else if (c === '?') re += '[^]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeChar(pattern[++i]!);
    else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      let cls = '';
      for (let k = 0; k < body.length; k++) {
        const b = body[k]!;
        if (b === '\\' && k + 1 < body.length) cls += escapeClassChar(body[++k]!);
        else if (b === '-' && k > 0 && k < body.length - 1) cls += '-';
        else cls += escapeClassChar(b);
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = end;
    } else re += escapeChar(c);
  }
  return re;
}

/** Index of the `]` closing the class opened at `start`, or -1 (then `[` is literal, as in fnmatch). */
function classEnd(p: string, start: number): number {
  let k = start + 1;
  if (p[k] === '!' || p[k] === '^') k++;
  if (p[k] === ']') k++; // a leading `]` is a member of the class
  for (; k < p.length; k++) {
    if (p[k] === '\\') k++;
    else if (p[k] === ']') return k;
  }
  return -1;
}

const escapeChar = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const escapeClassChar = (c: string) => c.replace(/[\]\\^-]/g, '\\$&');

/** Pattern text as pathKey's latin1 form, so it is compared with names byte for byte. */
function keyOf(pattern: string): string {
  if (pattern === '') throw new UsageError('an empty pattern matches nothing: remove it');
  return pathKey(pattern);
}

/**
 * A name matcher for inclusion with --wildcards: the pattern must match the whole name, or the
 * name of a directory the member lies under (tar's anchored match with leading directories).
 */
export function inclusionMatcher(pattern: string): (name: Buffer | string) => boolean {
  const re = new RegExp(`^(?:${globBody(keyOf(pattern))})(?:/[^]*)?$`);
  // A pattern that takes "." takes the archive's "./" tree, as GNU tar's does (its names keep the
  // "./"; here they are compared without it, so `.*` took the "." entry and nothing under it).
  const dot = re.test('.');
  return (name) => re.test(pathKey(name)) || (dot && underDot(name));
}

/** "." itself or a name under "./" (as stored: before pathKey takes the "./" off). */
export function underDot(name: Buffer | string): boolean {
  const s = typeof name === 'string' ? name : name.toString('latin1');
  return s === '.' || s.startsWith('./');
}

/**
 * A predicate that is true for members NOT excluded by any pattern (GNU tar's --exclude defaults:
 * wildcards, `*` matching `/`, unanchored, a matching directory excludes what lies under it).
 */
export function excludeFilter(patterns: readonly string[]): (entry: Pick<Entry, 'path'> & { type?: Entry['type'] }) => boolean {
  if (!patterns.length) return () => true;
  const res = patterns.map((p) => new RegExp(`^(?:${globBody(keyOf(p))})(?:/[^]*)?$`));
  // A pattern ending in "/" names directories (bsdtar's reading; pathKey drops the "/"): it takes
  // a directory and what is under it, never a file of that name. (`*/` took every member.)
  const dirs = patterns.map((p) => (p.length > 1 && p.endsWith('/') ? new RegExp(`^(?:${globBody(keyOf(p))})/[^]*$`) : undefined));
  // A pattern that starts with "./" can only match from the name's start (GNU tar: `./a` leaves
  // `./x/a` in; it once took every `a` anywhere, without a word). pathKey drops the "./".
  const anchored = patterns.map((p) => p.startsWith('./'));
  return (entry) => {
    const key = pathKey(entry.path);
    const isDir = entry.type === 'directory';
    const hit = (re: RegExp, i: number, tail: string) => (dirs[i] && !isDir ? dirs[i].test(tail) : re.test(tail));
    // Unanchored: the name from its start, then from after each "/".
    for (let at = 0; ; ) {
      const tail = key.slice(at);
      if (res.some((re, i) => (at === 0 || !anchored[i]) && hit(re, i, tail))) return false;
      const slash = key.indexOf('/', at);
      if (slash < 0) return true;
      at = slash + 1;
    }
  };
}

/**
 * Remove the first `n` components of a member path (tar's --strip-components). Undefined when the
 * path has no more than `n` components: such a member is skipped, as tar does.
 */
export function stripComponents(path: Buffer, n: number): Buffer | undefined {
  if (n <= 0) return path;
  // Components as GNU tar counts them: "." is one ("./a/b" strip 2 is "b"), empty ones are not.
  const parts = path.toString('latin1').split('/').filter((p) => p !== '');
  if (parts.length <= n) return undefined;
  return Buffer.from(parts.slice(n).join('/'), 'latin1');
}
