// The index open() keeps of a manifest (spec/manifest.md §12.3): per entry its path (and its
// lookup key), type, size, offsets and the two digests random access checks (content, header), as
// rows of bytes in PagedRows (src/io/paged-rows.ts: beyond eight pages of 4,096 entries in memory,
// the rest wait in a temporary file), found by key through a NameIndex. ~25 bytes of memory an
// entry (the names' hashes and chains); it was ~280 in typed columns with a string per path
// (1,000,000 entries: 265 MiB), ~870 as an object per entry.

import { NameIndex, PagedRows } from '../io/paged-rows.js';
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

/**
 * A row: size, offset, data, end (float64) at 0, the content digest (zeros when absent) and the
 * header digest at 32, then the type, whether there is a content digest, the path's form (0: the
 * key itself, 1: "./" + key, 2: its own bytes follow the key), and the lengths of the key, the
 * path (form 2) and the link (-1: none). The names: key, path (form 2), link.
 */
const R_SUMS = 32;
const R_TYPE = 96;
const R_HAS_SHA = 97;
const R_FORM = 98;
const R_KEY_LEN = 100;
const R_RAW_LEN = 104;
const R_LINK_LEN = 108;
const ROW = 112;

export class ManifestIndex {
  private rows = new PagedRows(ROW, 'portarc-index');
  private byKey = new NameIndex((i) => this.key(i));

  get length(): number {
    return this.rows.length;
  }

  add(e: ManifestEntry): void {
    const raw = e.path.toString('latin1');
    const key = Buffer.from(pathKey(e.path), 'latin1');
    const form = raw === key.toString('latin1') ? 0 : raw === `./${key.toString('latin1')}` ? 1 : 2;
    const names: Buffer[] = [key];
    if (form === 2) names.push(e.path);
    if (e.link) names.push(e.link);
    const i = this.rows.add(names);
    const { buf, at } = this.rows.row(i, true)!;
    buf.writeDoubleLE(e.size, at);
    buf.writeDoubleLE(e.offset, at + 8);
    buf.writeDoubleLE(e.data, at + 16);
    buf.writeDoubleLE(e.end, at + 24);
    if (e.sha256) {
      buf[at + R_HAS_SHA] = 1;
      buf.write(e.sha256, at + R_SUMS, 32, 'hex');
    }
    buf.write(e.headerSha256, at + R_SUMS + 32, 32, 'hex');
    buf[at + R_TYPE] = TYPES.indexOf(e.type);
    buf[at + R_FORM] = form;
    buf.writeUInt32LE(key.length, at + R_KEY_LEN);
    buf.writeUInt32LE(form === 2 ? e.path.length : 0, at + R_RAW_LEN);
    buf.writeInt32LE(e.link ? e.link.length : -1, at + R_LINK_LEN);
    this.byKey.add(key, i);
  }

  /** The last entry of that path (a name stored again later, `tar -r`, is the one a reader restores). */
  find(path: string | Buffer): number | undefined {
    const i = this.byKey.last(Buffer.from(pathKey(path), 'latin1'));
    return i < 0 ? undefined : i;
  }

  /**
   * The last entry of that path before entry `before`: a hardlink's target is the member of its
   * name written before it (a name stored again later, `tar -r`, is another file).
   */
  findBefore(path: string | Buffer, before: number): number | undefined {
    const key = Buffer.from(pathKey(path), 'latin1');
    let found = -1;
    for (let i = this.byKey.first(key); i >= 0 && i < before; i = this.byKey.after(i)) found = i;
    return found < 0 ? undefined : found;
  }

  /** Entry i, as the manifest gave it (less the data-range digest, which random access does not use). */
  get(i: number): ManifestEntry {
    const names = this.rows.names(i);
    const { buf, at } = this.rows.row(i)!;
    const keyLen = buf.readUInt32LE(at + R_KEY_LEN);
    const rawLen = buf.readUInt32LE(at + R_RAW_LEN);
    const linkLen = buf.readInt32LE(at + R_LINK_LEN);
    const form = buf[at + R_FORM];
    const key = names.subarray(0, keyLen);
    const path = form === 0 ? Buffer.from(key) : form === 1 ? Buffer.concat([DOT_SLASH, key]) : Buffer.from(names.subarray(keyLen, keyLen + rawLen));
    const e: ManifestEntry = {
      path,
      type: TYPES[buf[at + R_TYPE]!]!,
      size: buf.readDoubleLE(at),
      offset: buf.readDoubleLE(at + 8),
      data: buf.readDoubleLE(at + 16),
      end: buf.readDoubleLE(at + 24),
      headerSha256: buf.toString('hex', at + R_SUMS + 32, at + R_SUMS + 64),
    };
    if (buf[at + R_HAS_SHA]) e.sha256 = buf.toString('hex', at + R_SUMS, at + R_SUMS + 32);
    if (linkLen >= 0) e.link = Buffer.from(names.subarray(keyLen + rawLen, keyLen + rawLen + linkLen));
    return e;
  }

  /** Remove the temporary file (the index is empty afterwards). */
  close(): void {
    this.rows.close();
  }

  /** Entry i's lookup key (a view: valid until another entry is asked for). */
  private key(i: number): Buffer {
    const { buf, at } = this.rows.row(i)!;
    return this.rows.names(i).subarray(0, buf.readUInt32LE(at + R_KEY_LEN));
  }
}

const DOT_SLASH = Buffer.from('./');
