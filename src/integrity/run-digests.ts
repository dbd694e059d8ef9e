// The digests and manifest lines of packed runs (src/tar/pack.ts), made off the main thread a few
// runs at a time by the addon (native/run_lines.c; spec/manifest.md §3.3, §7). What a run costs
// the main thread is then its paths' escape and a copy of its layout: no copy of its bytes into
// the hashing ring, no digest requests, no line written byte by byte, no folding per member.
//
// Runs are gathered and sent as one job once SEND_BYTES of them wait: a job a run (a directory's
// files) woke a threadpool thread a thousand times for 50,000 files, ~50 µs of the main thread
// each on two cores. A run's bytes are the scan's (PackedRun.hold): the scan waits for the job
// before it fills them again, and asking whether a run is settled sends it.

import type { PackedRun, RunReader } from '../tar/pack.js';
import { pathAttrBytes, type LaterLines } from '../manifest/index.js';
import { hashRuns, RUN_LINE_FIXED } from './native-hash.js';

/** Run bytes gathered before they are sent as one job. */
const SEND_BYTES = 1 << 20;

/** Jobs sent and runs digested by the addon in this process (tests check that this path ran). */
export const runDigestStats = { jobs: 0, runs: 0 };

/** One run's part of a job: its lines (LaterLines), its range digests, and its hold on the scan's bytes. */
export interface RunPiece extends LaterLines, RunReader {
  /** The 32-byte range digests of its members in order (header, then data when there is some), once ready. */
  fold(): Buffer;
}

/** A job sent to the addon, or being gathered. */
class Job {
  runs: Buffer[] = [];
  counts: number[] = [];
  bases: number[] = [];
  layout = new Float64Array(4 * 512);
  members = 0;
  paths: Buffer[] = [];
  pathBytes = 0;
  bytes = 0;
  state: Int32Array | undefined;
  lines: Buffer | undefined;
  foldBytes: Buffer | undefined;
  settled: Promise<void> | undefined;

  get ready(): boolean {
    return this.state !== undefined && Atomics.load(this.state, 0) === 1;
  }

  add(run: PackedRun, offset: number): number {
    const n = run.count;
    if (this.layout.length < 4 * (this.members + n)) {
      const grown = new Float64Array(Math.max(2 * this.layout.length, 4 * (this.members + n)));
      grown.set(this.layout.subarray(0, 4 * this.members));
      this.layout = grown;
    }
    // The scan refills its layout and paths: copied now.
    this.layout.set(run.layout.subarray(0, 4 * n), 4 * this.members);
    for (let i = 0; i < n; i++) {
      const attr = pathAttrBytes(run.paths[i]!);
      this.paths.push(attr);
      this.pathBytes += attr.length;
    }
    this.members += n;
    this.runs.push(run.bytes);
    this.counts.push(n);
    this.bases.push(offset);
    this.bytes += run.bytes.length;
    return this.runs.length - 1;
  }

  send(): Promise<void> {
    runDigestStats.jobs++;
    runDigestStats.runs += this.runs.length;
    const paths = Buffer.allocUnsafe(this.pathBytes);
    const ends = new Uint32Array(this.members);
    let at = 0;
    for (let i = 0; i < this.paths.length; i++) {
      paths.set(this.paths[i]!, at);
      ends[i] = at += this.paths[i]!.length;
    }
    this.paths = [];
    this.lines = Buffer.allocUnsafeSlow(this.pathBytes + RUN_LINE_FIXED * this.members);
    this.foldBytes = Buffer.allocUnsafeSlow(64 * this.members);
    const state = new Int32Array(1 + 2 * this.runs.length);
    this.state = state;
    const lines = this.lines;
    const fold = this.foldBytes;
    this.settled = new Promise<void>((resolve, reject) => {
      hashRuns(this.runs, Uint32Array.from(this.counts), Float64Array.from(this.bases), this.layout, paths, ends, lines, fold, state, (err) => (err === null ? resolve() : reject(new Error(err))));
    });
    // A failure is thrown where a piece's lines or digests are taken; never left unhandled.
    this.settled.catch(() => {});
    return this.settled;
  }

  /** Run r's lines or fold bytes, once ready. */
  part(r: number, which: 'lines' | 'fold'): Buffer {
    const s = this.state!;
    const k = which === 'lines' ? 1 : 2;
    const from = r === 0 ? 0 : s[k + 2 * (r - 1)]!;
    return (which === 'lines' ? this.lines! : this.foldBytes!).subarray(from, s[k + 2 * r]!);
  }
}

export class RunDigests {
  private job = new Job();

  /** The run written at `offset`: its piece, sent with the next runs (or when asked for). */
  add(run: PackedRun, offset: number): RunPiece {
    const job = this.job;
    const r = job.add(run, offset);
    if (job.bytes >= SEND_BYTES) this.send();
    const send = (): Promise<void> => (job === this.job ? this.send() : job.settled!);
    return {
      get ready() {
        return job.ready;
      },
      get settled() {
        return send();
      },
      bytes: () => job.part(r, 'lines'),
      fold: () => job.part(r, 'fold'),
    };
  }

  /** Send the runs gathered. */
  send(): Promise<void> {
    const job = this.job;
    this.job = new Job();
    return job.runs.length ? job.send() : Promise.resolve();
  }
}
