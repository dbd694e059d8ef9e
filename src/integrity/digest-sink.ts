// Digests of the container bytes as the writer emits them, before any compression
// (spec/manifest.md §7): the whole-archive digest of every byte before the manifest member, and
// per member the digests of its header range and its data range. The container writers say where
// a member's data starts (markData); the caller says where a member ends (endMember).

import { createHash, type Hash } from 'node:crypto';

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
  headerSha256: string;
  dataSha256?: string;
}

export class DigestingSink implements DownstreamSink {
  /** Bytes written so far. */
  position = 0;
  private archive: Hash | undefined = createHash('sha256');
  private segment = createHash('sha256');
  private start = 0;
  private dataAt = -1;
  private headerSha = '';
  /** A digest over a range the caller opens and closes (the manifest member, the end region). */
  private range: Hash | undefined;
  /** Content bytes still to come at the start of the data range, when they are the content itself. */
  private contentLeft = -1;
  private contentSha: string | undefined;

  constructor(private down: DownstreamSink) {}

  write(chunk: Buffer): void | Promise<void> {
    this.position += chunk.length;
    this.archive?.update(chunk);
    if (this.contentLeft > 0 && this.dataAt >= 0) {
      // The content digest is the data range's digest where the content ends: one pass for both.
      const take = Math.min(this.contentLeft, chunk.length);
      this.segment.update(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.contentLeft -= take;
      if (this.contentLeft === 0) this.contentSha = this.segment.copy().digest('hex');
      if (take < chunk.length) this.segment.update(chunk.subarray(take));
    } else this.segment.update(chunk);
    this.range?.update(chunk);
    return this.down.write(chunk);
  }

  close(): Promise<void> {
    return this.down.close();
  }

  abort(): Promise<void> {
    return this.down.abort();
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
  contentDigest(): string | undefined {
    return this.contentSha;
  }

  /** Called by a container writer just before a member's stored data. */
  markData(): void {
    this.headerSha = this.segment.digest('hex');
    this.segment = createHash('sha256');
    this.dataAt = this.position;
    if (this.contentLeft === 0) this.contentSha = createHash('sha256').digest('hex');
  }

  /** Close the current member's range and start the next one here. */
  endMember(): MemberRange {
    const end = this.position;
    const digest = this.segment.digest('hex');
    const r: MemberRange =
      this.dataAt < 0 ? { start: this.start, data: end, end, headerSha256: digest } : { start: this.start, data: this.dataAt, end, headerSha256: this.headerSha };
    if (this.dataAt >= 0 && this.dataAt < end) r.dataSha256 = digest;
    this.segment = createHash('sha256');
    this.start = end;
    this.dataAt = -1;
    this.contentLeft = -1;
    return r;
  }

  /** The whole-archive digest: every byte so far. Later bytes are no longer added to it. */
  sealArchive(): { bytes: number; sha256: string } {
    const sha256 = this.archive!.digest('hex');
    this.archive = undefined;
    return { bytes: this.position, sha256 };
  }

  /** Start a range digest here; `closeRange` returns it. */
  openRange(): void {
    this.range = createHash('sha256');
  }

  closeRange(): string {
    const d = this.range!.digest('hex');
    this.range = undefined;
    return d;
  }
}
