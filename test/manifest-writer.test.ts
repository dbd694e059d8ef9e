// The manifest writer's lines (src/manifest/writer.ts, spec/manifest.md §3-§4) are written byte by
// byte into its batch buffer, with digests given by id copied in when they arrive. Checked here
// against the plain string form of a line (the spec's escape, xmlAttr) over random paths (bytes
// that are not UTF-8, markup, '%', controls, U+FFFE), numbers up to 2^53 - 1, lines longer than a
// batch, and digests that arrive late, in any order of readiness: the bytes are the same and in order.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManifestWriter, escapePath, xmlAttr, type LineEntry, type PendingDigests } from '../src/manifest/index.js';

const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex');

/** The line as a string (how the writer made it before it wrote bytes). */
function reference(e: LineEntry, digest: (d: string | number) => string): string {
  let line = `<entry path="${xmlAttr(escapePath(e.path))}" type="${e.type}" size="${e.size}"`;
  if (e.sha256 !== undefined) line += ` sha256="${digest(e.sha256)}"`;
  if (e.link) line += ` link="${xmlAttr(escapePath(e.link))}"`;
  line += ` offset="${e.offset}" data="${e.data}" end="${e.end}" hsha256="${digest(e.headerSha256)}"`;
  if (e.dataSha256 !== undefined) line += ` dsha256="${digest(e.dataSha256)}"`;
  return line + '/>\n';
}

function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
}

function randomPath(r: (n: number) => number): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + r(40);
  for (let i = 0; i < n; i++) {
    switch (r(8)) {
      case 0:
        parts.push(Buffer.from([r(256)])); // any byte: controls, invalid UTF-8
        break;
      case 1:
        parts.push(Buffer.from(['&', '<', '>', '"', '%', "'", '\t', '\n'][r(8)]!));
        break;
      case 2:
        parts.push(Buffer.from(['é', '漢', '😀', '\ufffe', '\u0085'][r(5)]!, 'utf8'));
        break;
      default:
        parts.push(Buffer.from(`dir${r(1000)}/`));
    }
  }
  return Buffer.concat(parts);
}

/** Digests that arrive when `release` says so (as the threadpool's would). */
class LateDigests implements PendingDigests {
  delivered = 0;
  private waiters: Array<() => void> = [];
  waits = 0;
  ready(id: number): boolean {
    return id < this.delivered;
  }
  wait(id: number): Promise<void> {
    this.waits++;
    return new Promise((resolve) => {
      const check = () => (this.ready(id) ? resolve() : this.waiters.push(check));
      check();
      // Nobody else moves it on: deliver everything asked for, a tick later.
      setImmediate(() => this.release(id + 1));
    });
  }
  release(upTo: number): void {
    this.delivered = Math.max(this.delivered, upTo);
    const ws = this.waiters.splice(0);
    for (const w of ws) w();
  }
  copyHex(id: number, target: Buffer, pos: number): void {
    if (!this.ready(id)) throw new Error(`digest ${id} copied before it arrived`);
    target.write(hex(id), pos, 'latin1');
  }
}

async function written(lines: LineEntry[], pending?: LateDigests, onLine?: (i: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new ManifestWriter((c) => void chunks.push(c), pending);
  for (let i = 0; i < lines.length; i++) {
    await w.entry(lines[i]!);
    onLine?.(i);
  }
  await w.foot({ bytes: 0, sha256: hex(-1) });
  return Buffer.concat(chunks);
}

describe('ManifestWriter lines', () => {
  const r = rng(42);
  let id = 0;
  const lines: LineEntry[] = [];
  for (let i = 0; i < 3000; i++) {
    const type = (['file', 'directory', 'symlink', 'hardlink'] as const)[r(4)]!;
    const big = r(5) === 0;
    lines.push({
      path: randomPath(r),
      type,
      size: type === 'file' ? (big ? Number.MAX_SAFE_INTEGER - r(1000) : r(100000)) : 0,
      sha256: type === 'file' ? id++ : undefined,
      link: type === 'symlink' || type === 'hardlink' ? randomPath(r) : undefined,
      offset: big ? 2 ** 40 + r(1e6) : r(1e9),
      data: r(10) === 0 ? 0 : r(1e9),
      end: big ? 2 ** 52 + r(10) : r(1e9),
      headerSha256: id++,
      dataSha256: r(3) === 0 ? undefined : id++,
    });
  }
  // One line longer than a batch (64 KiB): a path of 40,000 '&' is 200,000 bytes escaped.
  lines.splice(1500, 0, { path: Buffer.alloc(40000, '&'), type: 'file', size: 1, sha256: id++, offset: 1, data: 2, end: 3, headerSha256: id++, dataSha256: id++ });
  const asText = (d: string | number) => (typeof d === 'number' ? hex(d) : d);
  const expected = Buffer.from(lines.map((l) => reference(l, asText)).join('') + `<archive entries="${lines.length}" bytes="0" sha256="${hex(-1)}"/>\n</manifest>\n`);

  it('digests given as strings: the same bytes as the string form', async () => {
    const asStrings = lines.map((l) => ({ ...l, sha256: l.sha256 === undefined ? undefined : asText(l.sha256), headerSha256: asText(l.headerSha256), dataSha256: l.dataSha256 === undefined ? undefined : asText(l.dataSha256) }));
    expect((await written(asStrings)).equals(expected)).toBe(true);
  });

  it('digests given by id, all there at once: the same bytes', async () => {
    const p = new LateDigests();
    p.release(id);
    expect((await written(lines, p)).equals(expected)).toBe(true);
    expect(p.waits).toBe(0);
  });

  it('digests arriving late (a few lines behind, or only when the writer waits): the same bytes, in order', async () => {
    for (const lag of [0, 5, 400, Infinity]) {
      const p = new LateDigests();
      // The hashing delivers up to the ids of the line `lag` lines back.
      const out = await written(lines, p, (i) => {
        const back = lines[i - lag];
        if (back) p.release(Math.max(back.headerSha256 as number, (back.dataSha256 as number | undefined) ?? 0) + 1);
      });
      expect(out.equals(expected), `lag ${lag}`).toBe(true);
      // Far behind, the writer waits (at most 4 batches wait for their digests).
      if (lag === Infinity) expect(p.waits).toBeGreaterThan(0);
    }
  });

  it('a digest by id without a source of digests is an error, not a line with a hole', () => {
    const w = new ManifestWriter(() => undefined);
    expect(() => w.entry({ path: Buffer.from('a'), type: 'file', size: 0, sha256: 1, offset: 0, data: 0, end: 0, headerSha256: 2 })).toThrow(/no PendingDigests/);
  });
});
