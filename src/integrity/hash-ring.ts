// SHA-256 of a byte stream, computed off the main thread (spec/manifest.md §7: the digests create
// writes; DESIGN §5: "hashing overlaps I/O"). The stream's bytes are copied once into a shared ring
// buffer; the caller then names, by stream position, which bytes go into which hash ("slot") and
// when a slot's digest is taken. Those requests are batched and run in order off the main thread,
// which reports back how far it got (that part of the ring is free again); the digests land in a
// store (hex and bytes, STORE_IDS of them) that the manifest copies from without making strings.
// Nothing on the main thread waits for them unless it must (a full manifest batch, the trailer).
//
// Off the main thread is the native addon's batch on libuv's threadpool (native/sha256_ops.c, no
// V8 isolate) or, without the addon, a worker thread running RUNNER_SOURCE. The same batches can
// run on the main thread instead ('thread', the addon's one call per batch or RUNNER_SOURCE), which
// create asks for when compressing keeps both cores busy. Mode 'auto' takes the threadpool when the
// addon is there; else it hashes here until the caller says that big data is coming (useWorker(),
// at a point where no slot holds a partial hash): a worker costs ~10-25 MiB of RSS and pays only
// when a core would otherwise be idle while big files are copied. Every way computes the same
// digests from the same bytes.
//
// Memory is flat: the ring is RING bytes (THREAD_RING while the hashing runs here, where it only
// holds a batch); a writer that gets ahead of the hashing waits for room.

import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { PortarcError } from '../model/errors.js';
import { workerExecArgv } from '../model/worker-argv.js';
import { NativeHasher, nativeHashing, RECORD_BYTES } from './native-hash.js';

/** Where the hashing runs: 'auto' (a worker for anything but a small stream), 'worker', 'thread'. */
export type HashMode = 'auto' | 'worker' | 'thread';

const RING = 4 << 20;
const THREAD_RING = 256 << 10;

/** A batch goes to the worker when this many bytes or op numbers are waiting. */
const FLUSH_BYTES = 1 << 20;
const FLUSH_OPS = 16384;
/**
 * Digests arrive in `store`, a ring of records (the hex digits, then the bytes): a digest can be
 * read until STORE_IDS more have arrived. The manifest takes each within a few hundred entries.
 */
export const STORE_IDS = 4096;
const RECORD = RECORD_BYTES;

const OP_UPDATE = 0;
const OP_DIGEST = 1;

/** A digest to come: the id of a result (see HashRing.value), or the hex value itself when known. */
export type Digest = number | string;

/**
 * The interpreter of a batch: ops are [0, slot, from, to] (hash stream bytes [from, to) into slot)
 * and [1, slot, keep, id] (the slot's digest as result `id`; without `keep` the slot starts over).
 * Plain JavaScript source, so that it runs in the worker (eval) and here (new Function) alike.
 *
 * Most ranges are small (a header, a small file) and whole within one batch: a slot holds its bytes
 * as a pending range of the ring, and its digest is then one call of crypto.hash() (no Hash object
 * to make and collect: per entry, that was most of the cost). A pending range longer than
 * ONE_SHOT_MAX, one that wraps around the ring, or one still open when the batch ends (its bytes
 * are then freed) goes into a Hash object. `oneShot` is crypto.hash, absent before Node 20.12.
 */
const RUNNER_SOURCE = String.raw`
function makeHashRunner(createHash, oneShot, ring) {
  const ONE_SHOT_MAX = 16384;
  const hashes = [];
  const from = [];
  const to = [];
  const size = ring.length;
  function feed(h, a, b) {
    for (let p = a; p < b; ) {
      const o = p % size;
      const n = Math.min(b - p, size - o);
      h.update(ring.subarray(o, o + n));
      p += n;
    }
  }
  function settle(s) {
    if (!(from[s] >= 0)) return;
    feed(hashes[s] || (hashes[s] = createHash('sha256')), from[s], to[s]);
    from[s] = -1;
  }
  return function run(ops) {
    const results = [];
    for (let i = 0; i < ops.length; i += 4) {
      const s = ops[i + 1];
      if (ops[i] === 0) {
        const a = ops[i + 2];
        const b = ops[i + 3];
        if (oneShot && !hashes[s] && from[s] >= 0 && to[s] === a && b - from[s] <= ONE_SHOT_MAX) to[s] = b;
        else if (oneShot && !hashes[s] && !(from[s] >= 0) && b - a <= ONE_SHOT_MAX) {
          from[s] = a;
          to[s] = b;
        } else {
          settle(s);
          feed(hashes[s] || (hashes[s] = createHash('sha256')), a, b);
        }
        continue;
      }
      const keep = ops[i + 2];
      let digest;
      const o = from[s] >= 0 ? from[s] % size : 0;
      const n = from[s] >= 0 ? to[s] - from[s] : 0;
      if (!hashes[s] && oneShot && o + n <= size) {
        digest = oneShot('sha256', ring.subarray(o, o + n), 'hex');
        if (!keep) from[s] = -1;
      } else {
        settle(s);
        const h = hashes[s] || createHash('sha256');
        if (keep) {
          hashes[s] = h;
          digest = h.copy().digest('hex');
        } else {
          digest = h.digest('hex');
          hashes[s] = undefined;
        }
      }
      results.push(ops[i + 3], digest);
    }
    // The ring space of this batch is freed once it returns: what is pending must be taken now.
    for (let s = 0; s < from.length; s++) settle(s);
    return results;
  };
}
`;

const WORKER_SOURCE = `${RUNNER_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const run = makeHashRunner(crypto.createHash, crypto.hash, new Uint8Array(workerData.ring));
parentPort.on('message', ({ ops, upTo, ids }) => {
  let results;
  try {
    results = run(ops);
  } catch (e) {
    return parentPort.postMessage({ upTo, ids, error: String((e && e.message) || e) });
  }
  parentPort.postMessage({ upTo, ids, results });
});
`;

/** A batch run here: the JavaScript runner's [id, hex, ...], or nothing when the addon wrote the store. */
type Runner = (ops: Float64Array) => (number | string)[] | void;

/**
 * Hashers started off the main thread in this process (a worker thread, or the addon on libuv's
 * threadpool), bytes taken in place (tests check which path ran).
 */
export const hashWorkerStats = { started: 0, pools: 0, lentBytes: 0 };

function threadRunner(ring: Uint8Array, store: Buffer): Runner {
  const native = NativeHasher.open(ring, store);
  if (native) return (ops) => native.run(ops);
  const make = new Function('createHash', 'oneShot', 'ring', `${RUNNER_SOURCE}\nreturn makeHashRunner(createHash, oneShot, ring);`);
  return make(createHash, (crypto as { hash?: unknown }).hash, ring) as Runner;
}

export class HashRing {
  private buf: SharedArrayBuffer;
  private ring: Uint8Array;
  /** The largest piece copied at once (a bigger chunk is fed in pieces): a quarter of the ring. */
  private piece: number;
  private state: 'thread' | 'worker';
  private runner: Runner | undefined;
  private worker: Worker | undefined;
  /** Off the main thread without a worker: the addon's batches on libuv's threadpool, one at a time. */
  private pool: NativeHasher | undefined;
  private poolBusy = false;
  private poolQueue: Array<{ ops: Float64Array; upTo: number; ids: number }> = [];
  /** close() waiting for the batch under way (the threadpool reads the ring until it is done). */
  private poolIdle: (() => void) | undefined;
  /** Stream bytes copied in so far; the ring holds [freed, fed). */
  private fed = 0;
  private freed = 0;
  /** Where the last batch ended. */
  private flushedTo = 0;
  /** The batch being made: ops.subarray(0, nops). */
  private ops = new Float64Array(FLUSH_OPS * 2);
  private nops = 0;
  /** Per slot, the index in `ops` of its last update, while it can still be extended. */
  private open = new Float64Array(8).fill(-1);
  /** Digests delivered (see STORE_IDS); ids are delivered in order: every id below `delivered` is done. */
  private readonly store: Buffer;
  private nextId = 0;
  /** Mode 'auto': useWorker() may move the hashing to a worker. */
  private readonly auto: boolean;
  /** Digest ids below this have been sent (or run). */
  private sentIds = 0;
  delivered = 0;
  private inFlight = 0;
  /**
   * Called when results or room arrive, or on failure. Every waiter is woken and checks again:
   * a writer waiting for room and a reader of a digest can wait at once (a single slot lost the
   * first one: its promise never settled, and an emptied event loop ended the CLI with exit 13).
   */
  private waiters: Array<() => void> = [];
  private failed: Error | undefined;

  /** `ids`: how many digests the store keeps (STORE_IDS: the manifest's need; a single stream digest needs few). */
  constructor(
    mode: HashMode = 'auto',
    private readonly ids = STORE_IDS,
  ) {
    this.store = Buffer.allocUnsafeSlow(ids * RECORD);
    // 'auto' with the addon: its threadpool costs no isolate, so the hashing leaves this thread at
    // once (for many small files that is most of what a manifest costs the writer).
    this.state = mode === 'worker' || (mode === 'auto' && nativeHashing()) ? 'worker' : 'thread';
    this.buf = new SharedArrayBuffer(this.state === 'worker' ? RING : THREAD_RING);
    this.ring = new Uint8Array(this.buf);
    this.piece = this.ring.length / 4;
    this.auto = mode === 'auto';
    if (this.state === 'thread') this.runner = threadRunner(this.ring, this.store);
    else this.spawn();
  }

  /** Where the hashing runs now. */
  get where(): 'thread' | 'worker' {
    return this.state;
  }

  /**
   * Mode 'auto': hash on a worker thread from here on. The caller MUST call it only where every
   * slot's digest has been taken without `keep` (or the slot never used): a partial hash on this
   * thread cannot move.
   */
  useWorker(): void {
    if (!this.auto || this.state === 'worker' || this.failed) return;
    this.flush(); // runs here: every byte fed is hashed, the ring is empty
    this.runner = undefined;
    this.state = 'worker';
    // The worker gets the larger ring (stream positions go on: they are taken modulo its size).
    this.buf = new SharedArrayBuffer(RING);
    this.ring = new Uint8Array(this.buf);
    this.piece = RING / 4;
    this.spawn();
  }

  /**
   * The ring's space for the next stream bytes, up to `max` (at most a piece, and not past the
   * ring's end), for a reader to fill in place: fed back through feed() as the very next bytes, it
   * is not copied (a 2 GiB file saves ~0.3 s of the main thread's time). Only while a worker hashes:
   * on this thread the ring holds one small batch. Waits for room; undefined when not lending.
   */
  lend(max: number): Buffer | undefined | Promise<Buffer | undefined> {
    if (this.state !== 'worker' || this.failed || max <= 0) return undefined;
    const o = this.fed % this.ring.length;
    const n = Math.min(max, this.piece, this.ring.length - o);
    if (this.fed + n - this.freed <= this.ring.length) return Buffer.from(this.buf, o, n);
    return this.lendSlow(n);
  }

  private async lendSlow(n: number): Promise<Buffer | undefined> {
    while (this.fed + n - this.freed > this.ring.length) await this.room();
    return this.lend(n);
  }

  /**
   * Take `chunk` as the next stream bytes, in pieces; after each piece, `onPiece(from, to)` (its
   * stream positions) says which slots take it. A chunk that lend() gave out is already in place;
   * any other is copied in. Returns a promise only when it had to wait for room.
   */
  feed(chunk: Uint8Array, onPiece: (from: number, to: number) => void): void | Promise<void> {
    if (chunk.buffer === this.buf) return this.inPlace(chunk, onPiece);
    for (let p = 0; p < chunk.length; ) {
      const n = Math.min(this.piece, chunk.length - p);
      if (this.fed + n - this.freed > this.ring.length) return this.feedSlow(chunk, p, onPiece);
      this.copyIn(chunk, p, n, onPiece);
      p += n;
    }
  }

  private async feedSlow(chunk: Uint8Array, p: number, onPiece: (from: number, to: number) => void): Promise<void> {
    while (p < chunk.length) {
      const n = Math.min(this.piece, chunk.length - p);
      while (this.fed + n - this.freed > this.ring.length) await this.room();
      this.copyIn(chunk, p, n, onPiece);
      p += n;
    }
  }

  /** A lent chunk: it must be exactly the next bytes (anything fed since would have overwritten it). */
  private inPlace(chunk: Uint8Array, onPiece: (from: number, to: number) => void): void {
    if (this.failed) throw this.failed;
    const from = this.fed;
    if (chunk.byteOffset !== from % this.ring.length || from + chunk.length - this.freed > this.ring.length) {
      throw new PortarcError(`SHA-256 ring: a lent buffer came back out of order (at ${chunk.byteOffset}, expected ${from % this.ring.length})`, {}, 'PORTARC_INTERNAL');
    }
    this.fed += chunk.length;
    hashWorkerStats.lentBytes += chunk.length;
    onPiece(from, this.fed);
    this.maybeFlush();
  }

  private copyIn(chunk: Uint8Array, p: number, n: number, onPiece: (from: number, to: number) => void): void {
    if (this.failed) throw this.failed;
    const from = this.fed;
    const size = this.ring.length;
    const o = from % size;
    const first = Math.min(n, size - o);
    // A whole chunk in one piece (a header, a small file): no view to make.
    if (first === chunk.length) this.ring.set(chunk, o);
    else this.ring.set(chunk.subarray(p, p + first), o);
    if (first < n) this.ring.set(chunk.subarray(p + first, p + n), 0);
    this.fed += n;
    onPiece(from, this.fed);
    this.maybeFlush();
  }

  /** Hash stream bytes [from, to) (already fed) into `slot`. */
  update(slot: number, from: number, to: number): void {
    if (to <= from) return;
    const at = this.open[slot]!;
    // Extend the slot's last update when this continues it: one op for a whole batch of a stream.
    if (at >= 0 && this.ops[at + 3] === from) this.ops[at + 3] = to;
    else {
      this.open[slot] = this.nops;
      this.push(OP_UPDATE, slot, from, to);
    }
  }

  private push(a: number, b: number, c: number, d: number): void {
    if (this.nops + 4 > this.ops.length) {
      const grown = new Float64Array(this.ops.length * 2);
      grown.set(this.ops.subarray(0, this.nops));
      this.ops = grown;
    }
    const o = this.ops;
    o[this.nops] = a;
    o[this.nops + 1] = b;
    o[this.nops + 2] = c;
    o[this.nops + 3] = d;
    this.nops += 4;
  }

  /** Ask for the digest of what `slot` has taken (without `keep` the slot then starts over): its id. */
  digest(slot: number, keep = false): number {
    const id = this.nextId++;
    this.open[slot] = -1;
    this.push(OP_DIGEST, slot, keep ? 1 : 0, id);
    return id;
  }

  /** Whether a digest has arrived. */
  ready(d: Digest): boolean {
    return typeof d === 'string' || d < this.delivered;
  }

  /** A digest that has arrived (ready()), as hex. */
  value(d: Digest): string {
    if (typeof d === 'string') return d;
    const o = this.record(d);
    return this.store.toString('latin1', o, o + 64);
  }

  /** Copy an arrived digest's 64 hex digits into `target` at `pos` (no string made). */
  copyHex(d: number, target: Buffer, pos: number): void {
    const o = this.record(d);
    this.store.copy(target, pos, o, o + 64);
  }

  /** Copy an arrived digest's 32 bytes into `target` at `pos`. */
  copyBytes(d: number, target: Buffer, pos: number): void {
    const o = this.record(d);
    this.store.copy(target, pos, o + 64, o + 96);
  }

  /** Where digest `d` is in the store; it must have arrived and not yet been overwritten. */
  private record(d: number): number {
    if (!(d < this.delivered && d >= this.delivered - this.ids)) {
      throw this.failed ?? new PortarcError(`SHA-256 result ${d} is not there (${this.delivered} delivered)`, {}, 'PORTARC_INTERNAL');
    }
    return (d % this.ids) * RECORD;
  }

  /** Wait until `d` has arrived (sending what is waiting first, if it is there). */
  async wait(d: Digest): Promise<void> {
    // Already sent: the batch under way brings it. Sending the few ops made since would only cut
    // the worker's batches small (one message per entry when the writer keeps waiting).
    if (this.ready(d)) return;
    if (typeof d !== 'number' || d >= this.sentIds || this.state !== 'worker') this.flush();
    while (!this.ready(d)) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The digest, now: everything waiting is run (here, when no worker was needed so far). */
  async result(slot: number, keep = false): Promise<string> {
    const id = this.digest(slot, keep);
    await this.wait(id);
    return this.value(id);
  }

  /** Send what is waiting (or, on this thread, run it). */
  flush(): void {
    if (this.failed) return;
    if (!this.nops && this.flushedTo === this.fed) return;
    // Run here, the batch is a view of the ops buffer (a copy per entry made as many ArrayBuffers
    // to collect); sent away, a copy of its own.
    const ops = this.runner ? this.ops.subarray(0, this.nops) : this.ops.slice(0, this.nops);
    const upTo = this.fed;
    // Every digest asked for so far is in this batch: when it is done, ids up to here are there.
    const ids = this.nextId;
    this.sentIds = ids;
    this.nops = 0;
    this.open.fill(-1);
    this.flushedTo = upTo;
    if (this.runner) {
      let results: (number | string)[] | void;
      try {
        results = this.runner(ops);
      } catch (e) {
        return this.fail(new PortarcError(`SHA-256 failed: ${(e as Error).message}`, {}, 'PORTARC_INTERNAL'));
      }
      this.done(upTo, ids, results);
    } else if (this.pool) {
      this.inFlight++;
      this.poolQueue.push({ ops, upTo, ids });
      this.poolNext();
    } else {
      this.inFlight++;
      this.worker!.ref();
      this.worker!.postMessage({ ops, upTo, ids }, [ops.buffer]);
    }
  }

  /** Start the next batch on the threadpool when none runs (a slot's hash goes on batch after batch: in order). */
  private poolNext(): void {
    if (this.poolBusy || !this.poolQueue.length || !this.pool) return;
    const { ops, upTo, ids } = this.poolQueue.shift()!;
    this.poolBusy = true;
    this.pool.runAsync(ops, (err) => {
      this.poolBusy = false;
      this.inFlight--;
      this.poolIdle?.();
      if (err) return this.fail(new PortarcError(`SHA-256 failed: ${err.message}`, {}, 'PORTARC_INTERNAL'));
      if (this.failed) return;
      this.done(upTo, ids);
      this.poolNext();
    });
  }

  private maybeFlush(): void {
    if (this.fed - this.flushedTo >= Math.min(FLUSH_BYTES, this.ring.length / 2) || this.nops >= FLUSH_OPS) this.flush();
  }

  private room(): Promise<void> {
    // A batch under way frees room when it is done: wait for it rather than send a small one.
    if (!this.inFlight) this.flush();
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** A batch is done: its ring space is free, digests below `ids` are in the store. */
  private done(upTo: number, ids: number, results?: (number | string)[] | void): void {
    this.freed = upTo;
    // The JavaScript runner's results are strings: into the store like the addon's.
    if (results) {
      for (let i = 0; i < results.length; i += 2) {
        const o = ((results[i] as number) % this.ids) * RECORD;
        this.store.write(results[i + 1] as string, o, 'latin1');
        this.store.write(results[i + 1] as string, o + 64, 'hex');
      }
    }
    this.delivered = ids;
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private spawn(): void {
    this.pool = NativeHasher.open(this.ring, this.store);
    if (this.pool) {
      hashWorkerStats.pools++;
      return;
    }
    hashWorkerStats.started++;
    // A small heap: the worker holds one batch of ops and its digests at a time.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: workerExecArgv(), workerData: { ring: this.buf }, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 } });
    worker.unref();
    worker.on('message', (m: { upTo: number; ids: number; results?: (number | string)[]; error?: string }) => {
      // Not once close() has begun: a late message must not unreference a worker being stopped.
      if (--this.inFlight === 0 && this.worker === worker) worker.unref();
      if (m.error !== undefined) return this.fail(new PortarcError(`SHA-256 worker failed: ${m.error}`, {}, 'PORTARC_INTERNAL'));
      this.done(m.upTo, m.ids, m.results!);
    });
    worker.on('error', (e) => this.fail(new PortarcError(`SHA-256 worker failed: ${e.message}`, {}, 'PORTARC_INTERNAL')));
    worker.on('exit', (code) => {
      if (this.worker === worker && (code !== 0 || this.inFlight > 0)) this.fail(new PortarcError(`SHA-256 worker thread exited (code ${code})`, {}, 'PORTARC_INTERNAL'));
    });
    this.worker = worker;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    this.poolQueue = [];
    this.wake();
  }

  /** Stop the worker; waiting for results not yet delivered fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!this.failed) this.fail(new PortarcError('SHA-256 ring closed', {}, 'PORTARC_INTERNAL'));
    if (this.poolBusy) await new Promise<void>((resolve) => (this.poolIdle = resolve));
    // Referenced while it stops (the message handler no longer unreferences it): an unreferenced
    // worker lets the event loop end before its exit, and then terminate()'s promise never settles
    // (the CLI ended with exit 13 and nothing said, when a disk filled just after the worker started).
    if (!worker) return;
    worker.ref();
    await worker.terminate();
  }
}
