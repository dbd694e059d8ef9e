// Streaming manifest writer: the XML head, one line per entry as the entry is archived, and the
// foot with the archive digest. Nothing is kept: each piece goes to `out` (batched into 64 KiB
// chunks), so a million entries cost no more memory than ten. Spec: spec/manifest.md §3.

import { escapePath } from './escape.js';
import { MANIFEST_NS, MANIFEST_VERSION, type ManifestEntry, type ManifestFoot, type ManifestHead } from './types.js';

const BATCH = 64 << 10;
/**
 * What may wait for its digests before the writer waits: digest ids (a full batch holds ~100 lines,
 * ~300 ids; PendingDigests keep ~4,000), and pieces (a packed run's lines, made elsewhere, seal the
 * batch before them, which may hold a directory's line alone). Each wait costs a round trip to the
 * hashing: between runs, few bytes come to make it send its batch by itself.
 */
const MAX_IDS = 1200;
const MAX_PIECES = 64;

/** Lines gathered for one hand-out, and the digests (by id) still to be copied into them. */
interface Batch {
  buf: Buffer;
  used: number;
  /** [position, id] pairs, and the largest id among them. */
  fills: Float64Array;
  nfills: number;
  maxId: number;
}

/** Lines made elsewhere (a packed run's, native/run_lines.c), to go out in their place. */
export interface LaterLines {
  /** Whether the lines are there (looked at without waiting). */
  readonly ready: boolean;
  /** Settles when they are there, or rejects: they never will be. */
  readonly settled: Promise<unknown>;
  /** The lines, once ready. */
  bytes(): Buffer;
}

interface Later {
  later: LaterLines;
}

const newBatch = (size = BATCH): Batch => ({ buf: Buffer.allocUnsafeSlow(size), used: 0, fills: new Float64Array(1024), nfills: 0, maxId: -1 });

/** XML attribute text: markup characters as references, characters XML 1.0 forbids as U+FFFD. */
export function xmlAttr(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[&<>"\t\n\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c]!);
}

/** Digests given by number: ids of the creator's hashing, copied in as they arrive (record.ts). */
export interface PendingDigests {
  ready(id: number): boolean;
  wait(id: number): Promise<void>;
  /** Write the digest's 64 hex digits into `target` at `pos`. */
  copyHex(id: number, target: Buffer, pos: number): void;
}

/** An entry line whose digests may still be coming: a number is an id of the writer's PendingDigests. */
export type LineEntry = Omit<ManifestEntry, 'sha256' | 'headerSha256' | 'dataSha256'> & {
  sha256?: string | number;
  headerSha256: string | number;
  dataSha256?: string | number;
};

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const L_PATH = latin1('<entry path="');
const L_TYPE = latin1('" type="');
const L_SIZE = latin1('" size="');
const L_SHA = latin1('" sha256="');
const L_LINK = latin1('" link="');
const L_OFFSET = latin1('" offset="');
const L_DATA = latin1('" data="');
const L_END = latin1('" end="');
const L_HSHA = latin1('" hsha256="');
const L_DSHA = latin1('" dsha256="');
const L_CLOSE = latin1('"/>\n');
/** A line's bytes besides its path and link: the literals, a type, five numbers, three digests. */
const LINE_FIXED = 512;

/** Bytes that stand for themselves in a path attribute: printable ASCII but % & < > " (escape.ts, xmlAttr). */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) PLAIN[b] = 1;
for (const c of '%&<>"') PLAIN[c.charCodeAt(0)] = 0;

export class ManifestWriter {
  /**
   * The text not yet handed out, encoded as it comes into one buffer outside the JS heap: each line
   * is written there byte by byte, no string made (a string per line, and lines kept until their
   * digests came, outlived the young generation: their collection was most of what the manifest
   * cost per entry).
   */
  private cur = newBatch();
  /** Full batches waiting for their digests, oldest first; batches handed out, for reuse. */
  private sealed: Array<Batch | Later> = [];
  private spare: Batch[] = [];
  count = 0;

  constructor(
    private out: (chunk: Buffer) => void | Promise<void>,
    private pending?: PendingDigests,
  ) {}

  /** Add text; hand a full batch (a fresh buffer, the caller's to keep) to `out`. */
  private push(text: string, force = false): void | Promise<void> {
    // At most 3 bytes per UTF-16 unit: a batch never splits a line.
    const c = this.cur;
    if (c.used + text.length * 3 > BATCH) return this.pushSlow(text, force);
    c.used += c.buf.write(text, c.used, 'utf8');
    if (force || c.used >= BATCH / 2) return this.hand(force);
  }

  private async pushSlow(text: string, force: boolean): Promise<void> {
    await this.hand(true);
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > BATCH) {
      await this.out(bytes);
      return;
    }
    this.cur.used = bytes.copy(this.cur.buf, 0);
    if (force) await this.hand(true);
  }

  /**
   * Close the current batch and hand out, in order, the batches whose digests are all there. The
   * hashing may be behind (on the threadpool): up to MAX_SEALED batches wait for it before the
   * writer does. `all`: hand out everything, waiting as needed.
   */
  private hand(all = false): void | Promise<void> {
    if (this.cur.used) {
      this.sealed.push(this.cur);
      this.cur = this.spare.pop() ?? newBatch();
    }
    return this.drain(all);
  }

  private drain(all: boolean): void | Promise<void> {
    const pending = this.pending;
    while (this.sealed.length) {
      const b = this.sealed[0]!;
      if ('later' in b) {
        if (!b.later.ready) {
          if (!all && !this.full()) return;
          return b.later.settled.then(() => this.drain(all));
        }
        this.sealed.shift();
        const wrote = this.out(b.later.bytes());
        if (wrote) return wrote.then(() => this.drain(all));
        continue;
      }
      if (b.nfills && !pending!.ready(b.maxId)) {
        if (!all && !this.full()) return;
        return pending!.wait(b.maxId).then(() => this.drain(all));
      }
      this.sealed.shift();
      for (let i = 0; i < b.nfills; i += 2) pending!.copyHex(b.fills[i + 1]!, b.buf, b.fills[i]!);
      const chunk = Buffer.from(b.buf.subarray(0, b.used));
      // A batch made bigger for one long line is not kept.
      if (b.buf.length === BATCH) {
        b.used = b.nfills = 0;
        b.maxId = -1;
        this.spare.push(b);
      }
      const wrote = this.out(chunk);
      if (wrote) return wrote.then(() => this.drain(all));
    }
  }

  /** Whether the writer must wait for what it has sealed. */
  private full(): boolean {
    if (this.sealed.length >= MAX_PIECES) return true;
    let ids = 0;
    for (const b of this.sealed) if (!('later' in b) && (ids += b.nfills / 2) >= MAX_IDS) return true;
    return false;
  }

  async head(h: Omit<ManifestHead, 'version'>): Promise<void> {
    const f = h.features;
    await this.push(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<manifest xmlns="${MANIFEST_NS}" version="${MANIFEST_VERSION.major}.${MANIFEST_VERSION.minor}" spec="${xmlAttr(h.spec)}" creator="${xmlAttr(h.creator)}" container="${h.container}"${h.compression ? ` compression="${xmlAttr(h.compression)}"` : ''}${h.gzipHeader ? ` gzip-header="${xmlAttr(h.gzipHeader)}"` : ''}>\n` +
        `<features compat="${xmlAttr(f.compat.join(' '))}" rocompat="${xmlAttr(f.rocompat.join(' '))}" incompat="${xmlAttr(f.incompat.join(' '))}"/>\n`,
    );
  }

  entry(e: LineEntry): void | Promise<void> {
    this.count++;
    // Escaped, a path byte takes at most 9 (a U+FFFE: %EF%BF%BE; '&': &amp;).
    const need = LINE_FIXED + 9 * (e.path.length + (e.link?.length ?? 0));
    if (this.cur.used + need > this.cur.buf.length) return this.entrySlow(e, need);
    this.line(e);
    if (this.cur.used >= BATCH / 2) return this.hand();
  }

  /**
   * The lines of `count` entries, made elsewhere and still to come (a packed run's): they go out
   * in their place, after the lines before them. A rejected `lines` fails the hand-out that reaches it.
   */
  later(lines: LaterLines, count: number): void | Promise<void> {
    this.count += count;
    const item: Later = { later: lines };
    if (this.cur.used) {
      this.sealed.push(this.cur);
      this.cur = this.spare.pop() ?? newBatch();
    }
    this.sealed.push(item);
    return this.drain(false);
  }

  private async entrySlow(e: LineEntry, need: number): Promise<void> {
    await this.hand();
    // hand() left an empty batch; one line longer than a batch gets a batch of its own size.
    if (need > this.cur.buf.length) this.cur = newBatch(need);
    this.line(e);
    if (this.cur.used >= BATCH / 2) await this.hand();
  }

  /** Write an entry's line at the end of the current batch (room is there). */
  private line(e: LineEntry): void {
    const b = this.cur.buf;
    let p = put(b, this.cur.used, L_PATH);
    p = pathAttr(b, p, e.path);
    p = put(b, p, L_TYPE);
    p += b.write(e.type, p, 'latin1');
    p = decimal(b, put(b, p, L_SIZE), e.size);
    if (e.sha256 !== undefined && e.sha256 !== '') p = this.digest(put(b, p, L_SHA), e.sha256);
    if (e.link) p = pathAttr(b, put(b, p, L_LINK), e.link);
    p = decimal(b, put(b, p, L_OFFSET), e.offset);
    p = decimal(b, put(b, p, L_DATA), e.data);
    p = decimal(b, put(b, p, L_END), e.end);
    p = this.digest(put(b, p, L_HSHA), e.headerSha256);
    if (e.dataSha256 !== undefined && e.dataSha256 !== '') p = this.digest(put(b, p, L_DSHA), e.dataSha256);
    this.cur.used = put(b, p, L_CLOSE);
  }

  /** A digest's 64 hex digits at `p`: now, or (an id) when the batch is handed out. */
  private digest(p: number, d: string | number): number {
    const c = this.cur;
    if (typeof d === 'string') return p + c.buf.write(d, p, 'latin1');
    if (!this.pending) throw new Error('manifest: a digest given by id, and no PendingDigests to take it from');
    if (c.nfills + 2 > c.fills.length) {
      const grown = new Float64Array(c.fills.length * 2);
      grown.set(c.fills);
      c.fills = grown;
    }
    c.fills[c.nfills++] = p;
    c.fills[c.nfills++] = d;
    if (d > c.maxId) c.maxId = d;
    return p + 64;
  }

  async foot(f: Omit<ManifestFoot, 'entries'>): Promise<void> {
    await this.push(`<archive entries="${this.count}" bytes="${f.bytes}" sha256="${f.sha256}"/>\n</manifest>\n`, true);
  }
}

function put(b: Buffer, p: number, lit: Buffer): number {
  b.set(lit, p);
  return p + lit.length;
}

/** A path attribute's bytes: the path itself when it needs no escape (the common case). */
export function pathAttrBytes(path: Buffer): Buffer {
  for (let i = 0; i < path.length; i++) if (!PLAIN[path[i]!]) return Buffer.from(xmlAttr(escapePath(path)), 'utf8');
  return path;
}

/** A path attribute: the bytes themselves when they need no escape (the common case), else escaped. */
function pathAttr(b: Buffer, p: number, path: Buffer): number {
  for (let i = 0; i < path.length; i++) if (!PLAIN[path[i]!]) return p + b.write(xmlAttr(escapePath(path)), p, 'utf8');
  b.set(path, p);
  return p + path.length;
}

/** A non-negative integer in decimal, as `${n}` writes it. */
function decimal(b: Buffer, p: number, n: number): number {
  let len = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
  for (let i = p + len - 1; i >= p; i--) {
    b[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return p + len;
}
