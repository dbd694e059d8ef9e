// Shapes shared by the files of this layer.

/** The container filters portarc reads and writes (DESIGN §1: none | gzip | zstd). */
export type Filter = 'none' | 'gzip' | 'zstd';

/**
 * A compressor driven by its producer. It hands its output, in order, to the `out` function it was
 * made with, and waits for `out` (backpressure) when that returns a promise. `write` returns a
 * promise only when it had to wait; `end` flushes everything; `destroy` releases threads and memory.
 * Output buffers are never reused by the encoder. The caller must not modify a chunk after `write`
 * (the gzip encoder may hold it until its batch fills; the zstd one copies it at once).
 */
export interface Encoder {
  write(chunk: Buffer): void | Promise<void>;
  end(): Promise<void>;
  destroy(): void;
}
