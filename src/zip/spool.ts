// The central directory as it is built: records are packed into 256 KiB blocks, and past a memory
// limit the blocks go to a temporary file, so that writing a million entries stays in bounded
// memory (DESIGN §5). Spec: spec/zip-profile.md §2.3 (the central directory follows all members).

import { mkdtemp, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError, describeErrno } from '../model/errors.js';
import { holdOwnFile } from '../io/own-files.js';

const BLOCK = 256 << 10;

export class CentralSpool {
  private blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(BLOCK);
  private used = 0;
  private memory = 0;
  private file?: { dir: string; fh: FileHandle; size: number; release: Array<() => void> };
  /** Records added and their total size. */
  count = 0;
  bytes = 0;

  constructor(
    private memoryLimit = 4 << 20,
    private tempDir = tmpdir(),
  ) {}

  async add(record: Buffer): Promise<void> {
    this.count++;
    this.bytes += record.length;
    if (record.length > BLOCK - this.used) this.seal();
    if (record.length > BLOCK) {
      this.blocks.push(record);
      this.memory += record.length;
    } else {
      record.copy(this.block, this.used);
      this.used += record.length;
    }
    if (this.memory > this.memoryLimit) await this.spill();
  }

  private seal(): void {
    if (!this.used) return;
    this.blocks.push(this.block.subarray(0, this.used));
    this.memory += this.used;
    this.block = Buffer.allocUnsafe(BLOCK);
    this.used = 0;
  }

  private async spill(): Promise<void> {
    try {
      await this.spillTo();
    } catch (err) {
      // Said as what it is: a full temporary directory is not a full disk under the archive.
      const e = err as NodeJS.ErrnoException;
      if (!e.code) throw err;
      throw new IoError(`cannot write a temporary file in ${this.tempDir} (where the manifest and a zip's central directory wait until the end; TMPDIR chooses it): ${describeErrno(e)}`, { cause: err });
    }
  }

  private async spillTo(): Promise<void> {
    if (!this.file) {
      const dir = await mkdtemp(join(this.tempDir, 'portarc-zip-cd-'));
      // Held as portarc's own: a scan of the tree it is in (a backup of /) leaves it out.
      const d = await stat(dir, { bigint: true });
      const release = [holdOwnFile(d.dev, d.ino)];
      const fh = await open(join(dir, 'central'), 'w+', 0o600);
      const f = await fh.stat({ bigint: true });
      release.push(holdOwnFile(f.dev, f.ino));
      this.file = { dir, fh, size: 0, release };
    }
    const blocks = this.blocks;
    this.blocks = [];
    this.memory = 0;
    for (const b of blocks) {
      await this.file.fh.write(b, 0, b.length, this.file.size);
      this.file.size += b.length;
    }
  }

  /**
   * Every record in order, in fresh buffers the caller may keep; with `reuse`, what was spilled comes
   * in one buffer, refilled for each block: the caller is done with a block when it asks for the next.
   */
  async *drain(reuse = false): AsyncGenerator<Buffer> {
    this.seal();
    if (this.file) {
      const one = reuse ? Buffer.allocUnsafe(BLOCK) : undefined;
      for (let at = 0; at < this.file.size; ) {
        const n = Math.min(BLOCK, this.file.size - at);
        const buf = one ? one.subarray(0, n) : Buffer.allocUnsafe(n);
        const { bytesRead } = await this.file.fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) throw new IoError('central directory spool file shrank (something else removed or truncated it)');
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        at += bytesRead;
      }
    }
    yield* this.blocks;
    this.blocks = [];
  }

  /** Remove the temporary file, if any. Safe to call more than once. */
  async dispose(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    if (!f) return;
    await f.fh.close().catch(() => undefined);
    await rm(f.dir, { recursive: true, force: true });
    for (const release of f.release) release();
  }
}
