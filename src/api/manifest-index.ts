// The in-memory index open() keeps of a manifest (spec/manifest.md §12.3): per entry its path (as
// a lookup key), type, size, offsets and the two digests random access checks (content, header),
// in columns (typed arrays and one string per path), not one object per entry. Measured on Node 20
// with 200,000 entries of 35-byte paths: ~280 bytes of heap per entry (a plain object per entry,
// with its Buffer and hex strings, cost ~870).

import type { EntryType } from '../model/entry.js';
import type { ManifestEntry } from '../manifest/types.js';

const TYPES: EntryType[] = ['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev'];

/** The lookup key of a path: no leading "./" or "/", no trailing "/" (a tar directory's). Latin-1 of the bytes. */
export function pathKey(p: string | Buffer): string {
  let s = typeof p === 'string' ? Buffer.from(p, 'utf8').toString('latin1') : p.toString('latin1');
  for (;;) {
    const t = s.replace(/^\/+/, '').replace(/^\.\/+/, '');
    if (t === s) break;
    s = t;
  }
  return s.replace(/\/+$/, '');
}

export class ManifestIndex {
  private keys: string[] = [];
  private byKey = new Map<string, number>();
  /** Paths that are not "./" + key (flag 0: the key itself, 1: "./" + key, 2: in `odd`). */
  private form = new Uint8Array(1024);
  private odd = new Map<number, string>();
  private types = new Uint8Array(1024);
  /** size, offset, data, end per entry. */
  private nums = new Float64Array(4 * 1024);
  /** sha256 (zeros when absent) then hsha256, 64 bytes per entry. */
  private sums = new Uint8Array(64 * 1024);
  private hasSha = new Uint8Array(1024);
  private links = new Map<number, string>();

  get length(): number {
    return this.keys.length;
  }

  private grow(): void {
    const n = this.form.length * 2;
    const g = <T extends Uint8Array | Float64Array>(a: T, k: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n * k);
      b.set(a);
      return b;
    };
    this.form = g(this.form, 1);
    this.types = g(this.types, 1);
    this.hasSha = g(this.hasSha, 1);
    this.nums = g(this.nums, 4);
    this.sums = g(this.sums, 64);
  }

  add(e: ManifestEntry): void {
    const i = this.keys.length;
    if (i === this.form.length) this.grow();
    const raw = e.path.toString('latin1');
    const key = pathKey(e.path);
    this.keys.push(key);
    this.byKey.set(key, i);
    this.form[i] = raw === key ? 0 : raw === `./${key}` ? 1 : 2;
    if (this.form[i] === 2) this.odd.set(i, raw);
    this.types[i] = TYPES.indexOf(e.type);
    this.nums.set([e.size, e.offset, e.data, e.end], 4 * i);
    if (e.sha256) {
      this.hasSha[i] = 1;
      this.sums.set(Buffer.from(e.sha256, 'hex'), 64 * i);
    }
    this.sums.set(Buffer.from(e.headerSha256, 'hex'), 64 * i + 32);
    if (e.link) this.links.set(i, e.link.toString('latin1'));
  }

  find(path: string | Buffer): number | undefined {
    return this.byKey.get(pathKey(path));
  }

  /**
   * The last entry of that path before entry `before`: a hardlink's target is the member of its
   * name written before it (a name stored again later, `tar -r`, is another file).
   */
  findBefore(path: string | Buffer, before: number): number | undefined {
    const key = pathKey(path);
    const last = this.byKey.get(key);
    if (last === undefined || last < before) return last;
    for (let i = before - 1; i >= 0; i--) if (this.keys[i] === key) return i;
    return undefined;
  }

  /** Entry i, as the manifest gave it (less the data-range digest, which random access does not use). */
  get(i: number): ManifestEntry {
    const key = this.keys[i]!;
    const raw = this.form[i] === 0 ? key : this.form[i] === 1 ? `./${key}` : this.odd.get(i)!;
    const n = this.nums.subarray(4 * i, 4 * i + 4);
    const e: ManifestEntry = {
      path: Buffer.from(raw, 'latin1'),
      type: TYPES[this.types[i]!]!,
      size: n[0]!,
      offset: n[1]!,
      data: n[2]!,
      end: n[3]!,
      headerSha256: Buffer.from(this.sums.subarray(64 * i + 32, 64 * i + 64)).toString('hex'),
    };
    if (this.hasSha[i]) e.sha256 = Buffer.from(this.sums.subarray(64 * i, 64 * i + 32)).toString('hex');
    const link = this.links.get(i);
    if (link !== undefined) e.link = Buffer.from(link, 'latin1');
    return e;
  }
}
