// The manifest reader (src/manifest/reader.ts, spec/manifest.md §3-§6) reads entry lines in the
// writer's own form by a pattern, and everything else with saxes. Checked here: over random
// entries (paths with markup, '%', bytes that are not UTF-8, controls, U+FFFE; links; numbers up
// to 2^53 - 1; digests present or not), a manifest read with the pattern gives exactly what saxes
// gives for the same document (forced by a comment after the declaration), and the pattern takes
// every line the writer writes; a document that leaves the writer's form part way (a comment,
// CRLF, an attribute of a later version) is read by saxes from there, and errors read the same.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManifestWriter, readManifest, type LineEntry, type ManifestItem } from '../src/manifest/index.js';
import { canonicalLinesOf } from '../src/manifest/reader.js';

const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex');

function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
}

function randomPath(r: (n: number) => number): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + r(12);
  for (let i = 0; i < n; i++) {
    switch (r(8)) {
      case 0:
        parts.push(Buffer.from([r(256)]));
        break;
      case 1:
        parts.push(Buffer.from(['&', '<', '>', '"', '%', "'", '\t', '\n', ']]>'][r(9)]!));
        break;
      case 2:
        parts.push(Buffer.from(['é', '漢', '😀', '\ufffe', '\u0085', '\u2028'][r(6)]!, 'utf8'));
        break;
      default:
        parts.push(Buffer.from(`dir${r(1000)}/`));
    }
  }
  return Buffer.concat(parts);
}

async function manifest(count: number, seed: number): Promise<string> {
  const r = rng(seed);
  const chunks: Buffer[] = [];
  const w = new ManifestWriter((c) => void chunks.push(c));
  await w.head({ spec: '1.0', creator: 'portarc test', container: 'tar', compression: 'none', features: { compat: ['manifest'], rocompat: [], incompat: [] } });
  for (let i = 0; i < count; i++) {
    const type = (['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev'] as const)[r(7)]!;
    const big = r(5) === 0;
    const offset = big ? 2 ** 52 + r(1e6) : r(1e9);
    const e: LineEntry = {
      path: randomPath(r),
      type,
      size: type === 'file' ? (big ? Number.MAX_SAFE_INTEGER - r(1000) : r(100000)) : 0,
      offset,
      data: offset + r(2048),
      end: offset + 4096 + r(1e6),
      headerSha256: hex(r(1e6)),
    };
    if (type === 'file') e.sha256 = hex(i);
    if (type === 'symlink' || type === 'hardlink') e.link = r(10) === 0 ? Buffer.alloc(0) : randomPath(r);
    if (r(3) > 0) e.dataSha256 = hex(-i);
    await w.entry(e);
  }
  await w.foot({ bytes: 12345, sha256: hex(-1) });
  return Buffer.concat(chunks).toString('utf8');
}

/** Everything readManifest yields, or the message it fails with; the text given in pieces of `piece` bytes. */
async function read(text: string, piece = 7001): Promise<{ items: ManifestItem[]; error?: string }> {
  const bytes = Buffer.from(text, 'utf8');
  const items: ManifestItem[] = [];
  try {
    for await (const it of readManifest((async function* () {
      for (let at = 0; at < bytes.length; at += piece) yield bytes.subarray(at, at + piece);
    })())) items.push(it);
  } catch (err) {
    return { items, error: (err as Error).message };
  }
  return { items };
}

/** The same document, read by saxes alone: a comment after the declaration leaves the writer's form. */
const bySaxes = (text: string) => text.replace('?>\n', '?>\n<!-- read by saxes -->\n');
const entries = (items: ManifestItem[]) => items.filter((i) => i.kind === 'entry');

describe('manifest reader: entry lines read without the XML parser', () => {
  it('random manifests: the same items as saxes gives, and every entry line taken by the pattern', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const text = await manifest(2000, seed);
      const fast = await read(text);
      const slow = await read(bySaxes(text));
      expect(fast.error, `seed ${seed}`).toBeUndefined();
      expect(slow.error).toBeUndefined();
      expect(entries(fast.items).length).toBe(2000);
      expect(fast.items).toEqual(slow.items);
      expect(canonicalLinesOf(text)).toBe(2000);
      expect(canonicalLinesOf(bySaxes(text))).toBe(0);
    }
  });

  it('leaving the writer\'s form part way: saxes reads from there, and an entry inside a comment is no entry', async () => {
    const text = await manifest(300, 9);
    const lines = text.split('\n');
    const at = 3 + 150; // declaration, root, features, then 150 entries
    const commented = [...lines.slice(0, at), '<!--', lines[at]!, '-->', ...lines.slice(at + 1)].join('\n');
    const got = await read(commented);
    expect(got.error).toBeUndefined();
    expect(entries(got.items).length).toBe(299);
    expect(got.items).toEqual((await read(bySaxes(commented))).items);
    expect(canonicalLinesOf(commented)).toBe(150);
    // A later version's attribute, CRLF line ends: the same entries as the plain document.
    const later = [...lines.slice(0, at), lines[at]!.replace('/>', ' future="x"/>'), ...lines.slice(at + 1)].join('\n');
    expect((await read(later)).items).toEqual((await read(text)).items);
    expect((await read(text.replace(/\n/g, '\r\n'))).items).toEqual((await read(text)).items);
  });

  it('a damaged line fails as saxes fails it: controls, markup, numbers, offsets', async () => {
    const text = await manifest(50, 11);
    const lines = text.split('\n');
    const line = lines[3 + 20]!;
    const cases: Array<[string, RegExp]> = [
      [line.replace('path="', 'path="\u0001'), /not well-formed XML/],
      [line.replace('path="', 'path="<'), /not well-formed XML/],
      [line.replace('path="', 'path="&bogus;'), /not well-formed XML/],
      [line.replace(/ offset="\d+"/, ' offset="9999999999999999"'), /entry 21: attribute offset="9999999999999999" is not a byte count/],
      [line.replace(/ offset="\d+"/, ' offset="99999999999999999"'), /entry 21: attribute offset="99999999999999999" is not a byte count/],
      [line.replace(/ data="\d+"/, ' data="0"'), /entry 21: offsets \d+ <= 0 <= \d+ do not hold/],
      [line.replace('path="', 'path="%G0'), /entry 21: bad escape "%G0" in manifest path/],
    ];
    for (const [bad, message] of cases) {
      const doc = [...lines.slice(0, 3 + 20), bad, ...lines.slice(3 + 21)].join('\n');
      const fast = await read(doc);
      const slow = await read(bySaxes(doc));
      expect(fast.error, bad).toMatch(message);
      expect(slow.error, bad).toMatch(message);
      expect(entries(fast.items).length).toBeLessThanOrEqual(20);
    }
  });

  it('pieces of any size, a line cut anywhere: the same items', async () => {
    const text = await manifest(200, 13);
    const whole = await read(text, 1 << 30);
    for (const piece of [1, 2, 3, 17, 333, 4096]) expect((await read(text, piece)).items).toEqual(whole.items);
  });
});
