// The SHA-256 batches of hash-ring.ts run by the native addon (native/sha256_ops.c): on the
// calling thread as one call per batch, or on libuv's threadpool without a V8 isolate (the
// worker thread's ~25 MiB). Optional like the rest of the addon: without it (not built, Windows,
// PORTARC_NO_NATIVE=1) the ring runs the same batches in JavaScript (hash-ring.ts RUNNER_SOURCE).

import { loadAddon } from '../model/native.js';

/** A digest record of native/sha256_ops.c: 64 hex digits, then the 32 bytes. */
export const RECORD_BYTES = 96;

interface HashAddon {
  hasherNew(): object;
  hasherRun(hasher: object, ring: Uint8Array, ops: Float64Array, out: Buffer): number;
  hasherRunAsync(hasher: object, ring: Uint8Array, ops: Float64Array, out: Buffer, done: (err: string | null, count: number) => void): void;
  hashRunsAsync(runs: Buffer[], counts: Uint32Array, bases: Float64Array, layout: Float64Array, paths: Buffer, pathEnds: Uint32Array, lines: Buffer, fold: Buffer, state: Int32Array, done: (err: string | null) => void): void;
}

function load(): HashAddon | null {
  return loadAddon<HashAddon>('portarc_hash');
}

/** Whether the addon's hashing is there (not built, Windows, or PORTARC_NO_NATIVE=1: no). */
export function nativeHashing(): boolean {
  return load() !== null;
}

/**
 * One slot state per ring, kept in C between batches; one batch at a time (the caller's rule).
 * Digests go into the caller's `store`, a ring of 96-byte records: digest `id` at record
 * id % (store.length / 96), its 64 hex digits then its 32 bytes (native/sha256_ops.c).
 */
export class NativeHasher {
  private readonly hasher: object;

  private constructor(
    private readonly addon: HashAddon,
    private readonly ring: Uint8Array,
    private readonly store: Buffer,
  ) {
    this.hasher = addon.hasherNew();
  }

  /** A hasher over `ring` writing into `store`, or undefined without the addon. */
  static open(ring: Uint8Array, store: Buffer): NativeHasher | undefined {
    const a = load();
    return a ? new NativeHasher(a, ring, store) : undefined;
  }

  /** Run a batch here. */
  run(ops: Float64Array): void {
    this.addon.hasherRun(this.hasher, this.ring, ops, this.store);
  }

  /** Run a batch on the threadpool; `ops` must not change until `done`. */
  runAsync(ops: Float64Array, done: (err: Error | undefined) => void): void {
    this.addon.hasherRunAsync(this.hasher, this.ring, ops, this.store, (err) => done(err === null ? undefined : new Error(err)));
  }
}

/** Whether hashRuns is there (the addon, built with native/run_lines.c). */
export function nativeRunLines(): boolean {
  return typeof load()?.hashRunsAsync === 'function';
}

/** Room `lines` needs per member of a run, besides its path (native/run_lines.c LINE_FIXED). */
export const RUN_LINE_FIXED = 384;

/**
 * hashRunsAsync (native/run_lines.c) for a few runs of packed members at once: their digests and
 * manifest lines. `state` gets, when done, per run where its lines and fold bytes end, then 1 at
 * [0]; `done` is called after. Throws when the addon is not there (see nativeRunLines).
 */
export function hashRuns(runs: Buffer[], counts: Uint32Array, bases: Float64Array, layout: Float64Array, paths: Buffer, pathEnds: Uint32Array, lines: Buffer, fold: Buffer, state: Int32Array, done: (err: string | null) => void): void {
  const a = load();
  if (typeof a?.hashRunsAsync !== 'function') throw new Error('the addon has no hashRunsAsync');
  a.hashRunsAsync(runs, counts, bases, layout, paths, pathEnds, lines, fold, state, done);
}

/**
 * One SHA-256 fed a buffer at a time on the threadpool (a big file's content on extract, hashed
 * while it is written), by the same batches as the ring's: each update is one op over the buffer
 * itself. One update at a time; the buffer must not change until it is done.
 */
export class ThreadpoolSha256 {
  private readonly store = Buffer.allocUnsafeSlow(RECORD_BYTES);
  private readonly ops = new Float64Array(4);

  private constructor(
    private readonly addon: HashAddon,
    private readonly hasher: object,
  ) {}

  /** Undefined without the addon. */
  static open(): ThreadpoolSha256 | undefined {
    const a = load();
    return a ? new ThreadpoolSha256(a, a.hasherNew()) : undefined;
  }

  update(buf: Buffer): Promise<void> {
    if (!buf.length) return Promise.resolve();
    this.ops.set([0, 0, 0, buf.length]);
    return new Promise((resolve, reject) => this.addon.hasherRunAsync(this.hasher, buf, this.ops, this.store, (err) => (err === null ? resolve() : reject(new Error(err)))));
  }

  /** update() here, now (no update under way). */
  updateSync(buf: Buffer): void {
    if (!buf.length) return;
    this.ops.set([0, 0, 0, buf.length]);
    this.addon.hasherRun(this.hasher, buf, this.ops, this.store);
  }

  /** The hex digest of everything fed (every update done). */
  digest(): string {
    this.ops.set([1, 0, 0, 0]);
    this.addon.hasherRun(this.hasher, this.store, this.ops, this.store);
    return this.store.toString('latin1', 0, 64);
  }
}
