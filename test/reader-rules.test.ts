// Reader rules settled by issue #9 (spec/portarc-1.md §4.2.2, §4.3.3, §5.2.2, §5.5.2, §6.1, §6.2,
// §6.5): notices apart from warnings, keywords on the wrong type, strict base64, sparse edge cases,
// empty keywords and values, repeated global headers. Archives are crafted byte by byte.
import { describe, expect, it } from 'vitest';
import { list } from '../src/api/list.js';
import { ArchiveError, UnsupportedFeatureError } from '../src/model/errors.js';
import type { Entry } from '../src/model/entry.js';
import { formatPaxRecord } from '../src/tar/pax.js';
import { TarReader } from '../src/tar/reader.js';

const END = Buffer.alloc(1024);
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A ustar header; `patch` may overwrite bytes before the checksum is computed. */
function header(name: string, opts: { size?: number; type?: string; mode?: number; linkname?: string; patch?: (b: Buffer) => void } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 'latin1');
  b.write(`${(opts.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${(opts.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('13727642000\0', 136, 'latin1');
  b.write(opts.type ?? '0', 156, 'latin1');
  if (opts.linkname) b.write(opts.linkname, 157, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  b.write('0000000\0', 329, 'latin1');
  b.write('0000000\0', 337, 'latin1');
  opts.patch?.(b);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

const file = (name: string, data: string) => Buffer.concat([header(name, { size: data.length }), pad(Buffer.from(data))]);
const ext = (type: 'x' | 'g', records: Array<[string, string | Buffer]>) => {
  const data = Buffer.concat(records.map(([k, v]) => formatPaxRecord(k, v)));
  return Buffer.concat([header(type === 'g' ? 'pax_global_header' : 'PaxHeaders/x', { size: data.length, type }), pad(data)]);
};
/** A pax record with an arbitrary keyword (formatPaxRecord would write an empty one as well). */
const rawRecord = (line: string) => Buffer.from(`${line.length + String(line.length + 3).length + 2} ${line}\n`);

async function read(...parts: Buffer[]) {
  const bytes = Buffer.concat(parts);
  const reader = new TarReader((async function* () { yield bytes; })(), { archiveName: 't.tar' });
  const entries: Entry[] = [];
  for await (const m of reader) entries.push(m.entry);
  return { entries, info: reader.info };
}

async function refusal(...parts: Buffer[]): Promise<ArchiveError> {
  try {
    await read(...parts);
  } catch (err) {
    expect(err).toBeInstanceOf(ArchiveError);
    return err as ArchiveError;
  }
  throw new Error('the archive was not refused');
}

describe('notices and warnings (spec §6.5)', () => {
  it('unknown keywords are notices, not warnings: in x (one per record) and in g (one per archive, however many g headers)', async () => {
    const { entries, info } = await read(
      ext('g', [['PORTARC.version', '1.0'], ['ACME.colour', 'blue'], ['PORTARC.newthing', '1']]),
      ext('x', [['ACME.colour', 'red'], ['FOO.bar', '1']]),
      file('a.txt', 'a'),
      ext('g', [['ACME.colour', 'green'], ['PORTARC.newthing', '2']]),
      file('b.txt', 'b'),
      END,
    );
    expect(entries[0]!.notices).toEqual(['unknown pax keyword "ACME.colour" ignored', 'unknown pax keyword "FOO.bar" ignored']);
    expect(entries.map((e) => e.warnings)).toEqual([[], []]);
    expect(info.notices).toEqual(['t.tar: unknown global keyword "ACME.colour" ignored', 't.tar: unknown archive keyword "PORTARC.newthing" ignored']);
    expect(info.warnings).toEqual([]);
  });

  it('invalid values stay warnings', async () => {
    const { entries } = await read(ext('x', [['uid', 'abc'], ['FOO.bar', '1']]), file('a.txt', 'a'), END);
    expect(entries[0]!.warnings).toEqual(['pax keyword "uid" has an invalid value "abc"; ignored']);
    expect(entries[0]!.notices).toEqual(['unknown pax keyword "FOO.bar" ignored']);
  });

  it('list() exposes both', async () => {
    const bytes = Buffer.concat([ext('x', [['FOO.bar', '1']]), file('a.txt', 'a'), END]);
    const listing = list((async function* () { yield bytes; })());
    const got: Entry[] = [];
    for await (const e of listing) got.push(e);
    expect(got[0]!.notices).toEqual(['unknown pax keyword "FOO.bar" ignored']);
    expect(got[0]!.warnings).toEqual([]);
  });
});

describe('keywords on the wrong entry type (spec §6.2 step 3)', () => {
  it('linkpath, SCHILY.devmajor/devminor, GNU.sparse.* and K are ignored on types they do not apply to, one notice per x record, never listed', async () => {
    const longLink = Buffer.from('k/target\0');
    const { entries } = await read(
      ext('x', [['linkpath', 'elsewhere'], ['SCHILY.devmajor', '8'], ['SCHILY.devminor', '1']]),
      file('f.txt', 'data'),
      ext('x', [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '100']]),
      header('d/', { type: '5', mode: 0o755 }),
      Buffer.concat([header('././@LongLink', { size: longLink.length, type: 'K' }), pad(longLink)]),
      file('g.txt', 'more'),
      ext('x', [['linkpath', 'real-target'], ['SCHILY.devmajor', '8']]),
      header('l', { type: '2', mode: 0o777, linkname: 'ustar-target' }),
      END,
    );
    const [f, d, g, l] = entries;
    expect(f!.linkTarget).toBeUndefined();
    expect(f!.devMajor).toBeUndefined();
    expect(f!.notices).toEqual([
      'pax keyword "linkpath" does not apply to a file; ignored',
      'pax keyword "SCHILY.devmajor" does not apply to a file; ignored',
      'pax keyword "SCHILY.devminor" does not apply to a file; ignored',
    ]);
    expect(d!.type).toBe('directory');
    expect(d!.sparse).toBeUndefined();
    expect(d!.notices).toHaveLength(3);
    expect(g!.linkTarget).toBeUndefined();
    expect(g!.notices).toEqual(["GNU long link name ('K' header) does not apply to a file; ignored"]);
    expect(l!.linkTarget?.toString()).toBe('real-target');
    expect(l!.notices).toEqual(['pax keyword "SCHILY.devmajor" does not apply to a symlink; ignored']);
    expect(entries.flatMap((e) => e.warnings)).toEqual([]);
  });

  it('from a g header such a keyword is a default for the types it applies to, silent elsewhere', async () => {
    const { entries } = await read(ext('g', [['linkpath', 'global-target']]), file('f.txt', 'x'), header('l', { type: '2', linkname: 'own' }), END);
    expect(entries[0]!.linkTarget).toBeUndefined();
    expect(entries[1]!.linkTarget?.toString()).toBe('global-target');
    expect(entries.flatMap((e) => [...e.notices, ...e.warnings])).toEqual([]);
  });
});

describe('numeric fields (spec §4.1.1, §4.2.2)', () => {
  it('devmajor/devminor are not parsed on a regular file; on a device junk is an error', async () => {
    const junk = (b: Buffer) => void b.write('junk!!!\0\xff\xfe??   \0', 329, 'latin1');
    const { entries } = await read(Buffer.concat([header('f', { size: 1, patch: junk }), pad(Buffer.from('x'))]), END);
    expect(entries[0]!.devMajor).toBeUndefined();
    expect(entries[0]!.warnings).toEqual([]);
    const err = await refusal(header('dev', { type: '3', patch: junk }), END);
    expect(err.message).toContain('devmajor');
  });

  it('bytes after a terminator are ignored', async () => {
    const { entries } = await read(header('f', { patch: (b) => void (b.write('640 x7\0\0', 100, 'latin1'), b.write('1750\0abc', 108, 'latin1')) }), END);
    expect(entries[0]!.mode).toBe(0o640);
    expect(entries[0]!.uid).toBe(1000);
  });
});

describe('pax records: empty keyword, empty values (spec §4.3.3)', () => {
  it('an empty keyword is malformed, at the offset of the record', async () => {
    const data = rawRecord('=x');
    const err = await refusal(file('a', 'a'), header('PaxHeaders/x', { size: data.length, type: 'x' }), pad(data), file('b', 'b'), END);
    expect(err.message).toContain('empty keyword');
    expect(err.details.offset).toBe(1024 + 512);
  });

  it('an empty path or linkpath is an invalid value: the header names stand, with a warning', async () => {
    const { entries } = await read(ext('x', [['path', '']]), file('b.txt', 'b'), ext('x', [['linkpath', '']]), header('l', { type: '2', linkname: 'b.txt' }), END);
    expect(entries.map((e) => e.name)).toEqual(['b.txt', 'l']);
    expect(entries[1]!.linkTarget?.toString()).toBe('b.txt');
    expect(entries.map((e) => e.warnings.length)).toEqual([1, 1]);
  });
});

describe('LIBARCHIVE.xattr (spec §5.2.2)', () => {
  it('strict base64: invalid input is a warning and no xattr (not an empty one); padding optional; SCHILY names decoded once', async () => {
    const { entries } = await read(
      ext('x', [
        ['LIBARCHIVE.xattr.user.bad', '!!not base64!!'],
        ['LIBARCHIVE.xattr.user.lone', 'dHdvX'],
        ['LIBARCHIVE.xattr.user.padded', 'dHc='],
        ['LIBARCHIVE.xattr.user.bare', 'dHc'],
        ['LIBARCHIVE.xattr.user.underscore', 'dHc_'],
        ['SCHILY.xattr.user.x%2541', 'one'],
        ['LIBARCHIVE.xattr.user.x%41', 'dHdv'],
        ['SCHILY.xattr.user.sp%20ace', 'twin'],
        ['LIBARCHIVE.xattr.user.sp%20ace', 'dHdpbg'],
      ]),
      file('a', 'a'),
      END,
    );
    const e = entries[0]!;
    expect(Object.fromEntries([...e.xattrs].map(([k, v]) => [k, v.toString()]))).toEqual({
      'user.padded': 'tw',
      'user.bare': 'tw',
      'user.underscore': 'tw',
      'user.x%41': 'one',
      'user.xA': 'two',
      'user.sp ace': 'twin',
    });
    expect(e.warnings).toEqual(['pax keyword "LIBARCHIVE.xattr.user.bad" is not valid base64; ignored', 'pax keyword "LIBARCHIVE.xattr.user.lone" is not valid base64; ignored']);
  });
});

describe('sparse edge cases (spec §5.5.2)', () => {
  const map = pad(Buffer.from('1\n0\n5\n'));
  const sparse = (records: Array<[string, string]>) => [ext('x', records), header('GNUSparseFile.0/s', { size: map.length + 5 }), pad(Buffer.concat([map, Buffer.from('sssss')])), END];

  it('a 1.0 member without a real size is malformed, naming the entry', async () => {
    const err = await refusal(...sparse([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 's']]));
    expect(err.message).toContain('no real size');
    expect(err.details.entry).toBe("GNUSparseFile.0/s");
  });

  it('an unknown sparse version is refused as unsupported, never read as dense data', async () => {
    const err = await refusal(...sparse([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '1'], ['GNU.sparse.realsize', '5']]));
    expect(err).toBeInstanceOf(UnsupportedFeatureError);
    expect(err.code).toBe('PORTARC_UNSUPPORTED');
    expect(err.message).toContain('GNU sparse format 1.1');
  });

  it('1.0 with its real size reads', async () => {
    const { entries } = await read(...sparse([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 's'], ['GNU.sparse.realsize', '8']]));
    expect(entries[0]!.size).toBe(8);
    expect(entries[0]!.sparse).toEqual([{ offset: 0, length: 5 }]);
  });
});

describe('global headers (spec §4.7, §6.1, §7.3)', () => {
  it('a g header alone is the empty archive; followed by EOF, a warning, never "an extension header with no member"', async () => {
    const g = ext('g', [['PORTARC.version', '1.0']]);
    expect(await read(g, END)).toMatchObject({ entries: [], info: { version: '1.0', warnings: [] } });
    const noEnd = await read(g);
    expect(noEnd.info.warnings).toEqual(['t.tar: archive ends without its end-of-archive blocks']);
    const err = await refusal(file('a', 'a'), ext('x', [['mtime', '1']]), END);
    expect(err.message).toContain('end-of-archive block after an extension header');
  });

  it('several g headers: the last version wins, a feature is listed once', async () => {
    const { info } = await read(
      ext('g', [['PORTARC.version', '1.0'], ['PORTARC.features.compat', 'shiny']]),
      file('a', 'a'),
      ext('g', [['PORTARC.version', '1.1'], ['PORTARC.features.compat', 'shiny,sparkly,sparkly']]),
      END,
    );
    expect(info.version).toBe('1.1');
    expect(info.features.compat).toEqual(['shiny', 'sparkly']);
  });

  it('the member offset covers its x header but not a g header before it', async () => {
    const bytes = Buffer.concat([file('a', 'a'), ext('g', [['comment', 'c']]), ext('x', [['mtime', '1']]), file('b', 'b'), END]);
    const reader = new TarReader((async function* () { yield bytes; })());
    const offsets: number[] = [];
    for await (const m of reader) offsets.push(m.offset);
    expect(offsets).toEqual([0, 1024 + 1024]);
  });
});
