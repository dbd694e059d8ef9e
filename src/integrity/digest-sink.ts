// Digests of the container bytes as the writer emits them, before any compression
// (spec/manifest.md §7): per member the digests of its header range and its data range, and
// caller-opened ranges (the manifest member, the end region). Each byte is hashed once: the
// whole-archive digest is made from the range digests (ManifestRecorder), not from the bytes. The container writers say where
// a member's data starts (markData); the caller says where a member ends (endMember).
// The hashing itself runs in a HashRing (hash-ring.ts): off the main thread for anything but a
// small archive, so a digest is first an id (Digest), whose value arrives in order as the worker
// catches up (ready(), value(), wait()).

import { HashRing, type Digest, type HashMode } from './hash-ring.js';
import { PortarcError } from '../model/errors.js';

export type { Digest };

/** The shape of the sinks in src/io/sink.ts and src/compress (write, close, abort). */
export interface DownstreamSink {
  write(chunk: Buffer): void | Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface MemberRange {
  /** Where the member's range starts: the end of the previous member's range, or 0. */
  start: number;
  data: number;
  end: number;
  /** Ids of the ring's digests (DigestingSink.value, copyHex, copyBytes). */
  headerSha256: number;
  dataSha256?: number;
}

/** The ring's hashes: the current member range (header, then data), a caller's range. */
const SEGMENT = 0;
const RANGE = 1;

/** A member at least this big moves the hashing of mode 'auto' to a worker thread. */
const WORKER_AT = 4 << 20;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export class DigestingSink implements DownstreamSink {
  /** Bytes written so far. */
  position = 0;
  private readonly ring: HashRing;
  private released = false;
  private wantWorker = false;
  private rangeOn = false;
  private start = 0;
  private dataAt = -1;
  private headerSha: number | undefined;
  /** Content bytes still to come at the start of the data range, when they are the content itself. */
  private contentLeft = -1;
  private contentSha: Digest | undefined;
  /**
   * Stream bytes not fed to the ring (runs written with passNext: digested by their caller): the
   * ring's positions are this much behind the stream's.
   */
  private skew = 0;

  constructor(
    private down: DownstreamSink,
    mode: HashMode = 'auto',
  ) {
    this.ring = new HashRing(mode);
  }

  /** Where the hashing runs (tests, benchmarks). */
  get hashing(): 'thread' | 'worker' {
    return this.ring.where;
  }

  /**
   * Say that the next member holds `size` bytes of data. In mode 'auto' the hashing moves to a
   * worker thread once a member of WORKER_AT bytes comes (a core is then idle while the writer
   * copies); the move waits for a member boundary, where no hash is half done.
   */
  member(size: number): void {
    if (size >= WORKER_AT) this.wantWorker = true;
    if (this.wantWorker && this.position === this.start) this.ring.useWorker();
  }

  /**
   * Where the reader of a dense tar file's content may read its next bytes (at most `max`): space
   * in the hashing ring, taken back by write() without a copy. Only inside such a file's data, whose
   * chunks the tar writer writes here as they come, in order and before it asks for the next one;
   * undefined otherwise (the reader uses its own buffer).
   */
  readonly lend = (max: number): Buffer | undefined | Promise<Buffer | undefined> => {
    if (this.released || this.dataAt < 0 || this.contentLeft <= 0) return undefined;
    return this.ring.lend(Math.min(max, this.contentLeft));
  };

  write(chunk: Buffer): void | Promise<void> {
    // After release (a failed write being made unreadable: TarWriter.poison), bytes just pass.
    if (this.released) return this.down.write(chunk);
    const fed = this.ring.feed(chunk, this.piece);
    return fed ? fed.then(() => this.down.write(chunk)) : this.down.write(chunk);
  }

  /**
   * Set before writeMembers(): its caller will digest the run itself, so the ring need not, when
   * the run's first header range starts with it (nothing written since the last member).
   * `passed` then says whether it did.
   */
  passNext = false;
  passed = false;

  /**
   * Ids of the digests of the members writeMembers() wrote last, 3 per member: header range,
   * content (-1: empty, EMPTY_SHA256), data range (-1: none). Read before the next writeMembers().
   */
  runIds = new Float64Array(3 * 512);
  /** The run being fed: its first byte's stream position, layout, and the next cut. */
  private run: { base: number; layout: Float64Array; count: number; member: number; cut: number } = { base: 0, layout: new Float64Array(0), count: 0, member: 0, cut: 0 };

  /**
   * Whole members back to back (TarWriter.addPacked, src/tar/pack.ts): `layout` gives per member,
   * relative to `chunk`, [start, data, content end, end]. Each member gets the digests a member
   * written through markData/expectContent/endMember gets; their ids land in `runIds`.
   */
  writeMembers(chunk: Buffer, layout: Float64Array, count: number): void | Promise<void> {
    const pass = this.passNext;
    this.passNext = false;
    this.passed = false;
    if (this.released) return this.down.write(chunk);
    // (Bytes since the last member, the global header, belong to the first member's header range.)
    if (this.dataAt >= 0 || this.rangeOn) {
      throw new PortarcError('digests: whole members written inside a member or a range', {}, 'PORTARC_INTERNAL');
    }
    if (pass && this.position === this.start) {
      this.passed = true;
      // Digested by the caller (ManifestRecorder: native/run_lines.c); the ring never sees them.
      this.position += chunk.length;
      this.skew += chunk.length;
      this.start = this.position;
      return this.down.write(chunk);
    }
    if (this.runIds.length < 3 * count) this.runIds = new Float64Array(3 * count);
    const r = this.run;
    r.base = this.position - this.skew;
    r.layout = layout;
    r.count = count;
    r.member = 0;
    r.cut = 0;
    const done = (): void | Promise<void> => {
      if (r.member !== count) throw new PortarcError(`digests: a run of ${count} members ended after ${r.member}`, {}, 'PORTARC_INTERNAL');
      this.start = this.position;
      return this.down.write(chunk);
    };
    const fed = this.ring.feed(chunk, this.runPiece);
    return fed ? fed.then(done) : done();
  }

  /** Stream bytes [from, to) of a run are in the ring: each member's cuts end and start hashes. */
  private runPiece = (from: number, to: number): void => {
    const ring = this.ring;
    const r = this.run;
    const ids = this.runIds;
    this.position = to + this.skew;
    let at = from;
    while (r.member < r.count) {
      const o = r.member * 4;
      // Cut 0: the header range ends where the content starts; 1: the content ends; 2: the member does.
      const cut = r.base + r.layout[o + 1 + r.cut]!;
      if (cut > to) break;
      ring.update(SEGMENT, at, cut);
      at = cut;
      const data = r.layout[o + 1]!;
      if (r.cut === 0) ids[r.member * 3] = ring.digest(SEGMENT);
      else if (r.cut === 1) ids[r.member * 3 + 1] = r.layout[o + 2]! > data ? ring.digest(SEGMENT, true) : -1;
      else ids[r.member * 3 + 2] = r.layout[o + 3]! > data ? ring.digest(SEGMENT) : -1;
      if (++r.cut === 3) {
        r.cut = 0;
        r.member++;
      }
    }
    ring.update(SEGMENT, at, to);
  };

  /** Stream bytes [from, to) are in the ring: say which hashes take them. */
  private piece = (from: number, to: number): void => {
    const ring = this.ring;
    this.position = to + this.skew;
    if (this.contentLeft > 0 && this.dataAt >= 0) {
      // The content digest is the data range's digest where the content ends: one pass for both.
      const take = Math.min(this.contentLeft, to - from);
      ring.update(SEGMENT, from, from + take);
      this.contentLeft -= take;
      if (this.contentLeft === 0) this.contentSha = ring.digest(SEGMENT, true);
      ring.update(SEGMENT, from + take, to);
    } else ring.update(SEGMENT, from, to);
    if (this.rangeOn) ring.update(RANGE, from, to);
  };

  async close(): Promise<void> {
    await this.release();
    return this.down.close();
  }

  async abort(): Promise<void> {
    await this.release();
    return this.down.abort();
  }

  /** Stop the hashing (its worker): after the last digest was taken, or on failure. */
  release(): Promise<void> {
    this.released = true;
    return this.ring.close();
  }

  /** Whether a digest has arrived. */
  ready(d: Digest): boolean {
    return this.ring.ready(d);
  }

  /** A digest that has arrived: its hex value (taken once). */
  value(d: Digest): string {
    return this.ring.value(d);
  }

  /** Copy an arrived digest's 64 hex digits into `target` at `pos`. */
  copyHex(d: number, target: Buffer, pos: number): void {
    this.ring.copyHex(d, target, pos);
  }

  /** Copy an arrived digest's 32 bytes into `target` at `pos`. */
  copyBytes(d: number, target: Buffer, pos: number): void {
    this.ring.copyBytes(d, target, pos);
  }

  /** Run (on this thread) or send (to the worker) the hashing asked for so far. */
  flush(): void {
    this.ring.flush();
  }

  /** Wait until `d` has arrived. */
  wait(d: Digest): Promise<void> {
    return this.ring.wait(d);
  }

  /**
   * Say that the next member's stored data starts with its content, `size` bytes as they are (a
   * dense tar file): its content digest then comes from the data range's digest (contentDigest()).
   */
  expectContent(size: number): void {
    this.contentLeft = size;
    this.contentSha = undefined;
  }

  /** The content digest of the member just written, when expectContent() applied. */
  contentDigest(): Digest | undefined {
    return this.contentSha;
  }

  /** Called by a container writer just before a member's stored data. */
  markData(): void {
    this.headerSha = this.ring.digest(SEGMENT);
    this.dataAt = this.position;
    if (this.contentLeft === 0) this.contentSha = EMPTY_SHA256;
  }

  /** Close the current member's range and start the next one here. */
  endMember(): MemberRange {
    const end = this.position;
    const digest = this.ring.digest(SEGMENT);
    const r: MemberRange =
      this.dataAt < 0 ? { start: this.start, data: end, end, headerSha256: digest } : { start: this.start, data: this.dataAt, end, headerSha256: this.headerSha! };
    // An empty data range's digest is asked for and never read (it is overwritten in the store).
    if (this.dataAt >= 0 && this.dataAt < end) r.dataSha256 = digest;
    this.start = end;
    this.dataAt = -1;
    this.contentLeft = -1;
    if (this.wantWorker && !this.rangeOn) this.ring.useWorker();
    return r;
  }

  /** Start a range digest here; `closeRange` returns it. */
  openRange(): void {
    this.rangeOn = true;
  }

  closeRange(): Promise<string> {
    this.rangeOn = false;
    return this.ring.result(RANGE);
  }
}
