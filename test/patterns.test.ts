// The pattern rules behind --exclude, --wildcards and --strip-components (src/api/patterns.ts);
// the common cases are compared with GNU tar itself in test/cli-select.test.ts.
import { describe, expect, it } from 'vitest';
import { excludeFilter, hasWildcards, inclusionMatcher, stripComponents } from '../src/api/index.js';

const kept = (patterns: string[], name: string) => excludeFilter(patterns)({ path: Buffer.from(name) });

describe('patterns', () => {
  it('exclusion: unanchored at "/" boundaries, "*" and "?" match "/", a directory takes what is under it', () => {
    expect(kept(['b'], 'a/b/c')).toBe(false);
    expect(kept(['b'], 'a/bb/c')).toBe(true);
    expect(kept(['a/*.c'], 'x/a/y/z.c')).toBe(false);
    expect(kept(['a?b'], 'a/b')).toBe(false);
    expect(kept(['./a'], 'a/x')).toBe(false);
    expect(kept(['x'], './x')).toBe(false);
  });

  it('classes, negation, ranges, escapes, a lone "["', () => {
    expect(kept(['[a-c]?'], 'b1')).toBe(false);
    expect(kept(['[a-c]?'], 'd1')).toBe(true);
    expect(kept(['[!a]x'], 'bx')).toBe(false);
    expect(kept(['[!a]x'], 'ax')).toBe(true);
    expect(kept(['[]]'], ']')).toBe(false);
    expect(kept(['a\\*b'], 'a*b')).toBe(false);
    expect(kept(['a\\*b'], 'aab')).toBe(true);
    expect(kept(['f['], 'f[')).toBe(false);
    expect(kept(['a.c'], 'abc')).toBe(true); // "." is literal
    expect(kept(['(x)|y'], '(x)|y')).toBe(false);
    expect(() => excludeFilter([''])).toThrow(/empty pattern/);
  });

  it('names are bytes: a UTF-8 pattern matches a UTF-8 name, "?" one byte', () => {
    expect(kept(['caf\u00e9'], 'caf\u00e9')).toBe(false);
    expect(excludeFilter(['x?'])({ path: Buffer.from([0x78, 0xff]) })).toBe(false);
  });

  it('inclusion with --wildcards is anchored, with what lies under a match', () => {
    expect(inclusionMatcher('a/*')('a/b/c')).toBe(true);
    expect(inclusionMatcher('b')('a/b')).toBe(false);
    expect(inclusionMatcher('*.c')('./x/y.c')).toBe(true);
    expect(hasWildcards('a\\*')).toBe(false);
    expect(hasWildcards('a*')).toBe(true);
  });

  it('--strip-components counts "." and ignores empty components', () => {
    expect(stripComponents(Buffer.from('./a/b'), 2)?.toString()).toBe('b');
    expect(stripComponents(Buffer.from('a//b/'), 1)?.toString()).toBe('b');
    expect(stripComponents(Buffer.from('a'), 1)).toBeUndefined();
    expect(stripComponents(Buffer.from('a/b'), 0)?.toString()).toBe('a/b');
  });
});

describe('patterns: what an audit found (2026-12-07)', () => {
  const e = (path: string, type: 'file' | 'directory' = 'file') => ({ path: Buffer.from(path), type });
  it('an exclude pattern ending in "/" takes directories and what is under them, never a file of that name (`*/` took every member)', () => {
    const keep = excludeFilter(['*/']);
    expect(keep(e('a'))).toBe(true);
    expect(keep(e('d', 'directory'))).toBe(false);
    expect(keep(e('d/x'))).toBe(false);
    const cache = excludeFilter(['cache/']);
    expect(cache(e('cache'))).toBe(true);
    expect(cache(e('src/cache'))).toBe(true);
    expect(cache(e('src/cache', 'directory'))).toBe(false);
    expect(cache(e('src/cache/x'))).toBe(false);
    // Without the slash, as before: any member of that name.
    expect(excludeFilter(['cache'])(e('src/cache'))).toBe(false);
  });

  it('a --wildcards pattern that matches "." takes the archive\'s "./" tree (`.*` took "." and nothing under it)', () => {
    const m = inclusionMatcher('.*');
    expect(m('.')).toBe(true);
    expect(m('./a/b')).toBe(true);
    expect(m('a/b')).toBe(false);
    expect(m('.hidden')).toBe(true);
    expect(inclusionMatcher('d/*')('./x')).toBe(false);
  });
});
