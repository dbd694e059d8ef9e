// Progress events of create() and extract() (`onProgress`): content bytes and entries done, and
// the total when it is known up front. Counted as the content streams, so a single big file
// reports progress too; throttled so that a callback per chunk never costs throughput.

import { UsageError } from '../model/errors.js';

/** One progress event. `bytes` counts file content (not headers, not compressed bytes). */
export interface Progress {
  /** Content bytes read (create) or restored (extract) so far. */
  bytes: number;
  /** Entries completely written or restored so far. */
  entries: number;
  /**
   * All the content bytes to come, when known: extract through a manifest (from the start); create
   * from paths without a filter (once a walk beside the work has summed the file sizes).
   */
  totalBytes?: number;
}

export type ProgressCallback = (p: Progress) => void;

/** How often at most a callback is made while bytes flow (the last event always comes). */
export const PROGRESS_INTERVAL_MS = 100;

export class ProgressMeter {
  private state: Progress;
  private last = 0;

  constructor(
    private readonly callback: ProgressCallback,
    totalBytes?: number,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.state = { bytes: 0, entries: 0, ...(totalBytes === undefined ? {} : { totalBytes }) };
  }

  /** The same content, counted as it is consumed. */
  async *count(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      this.state.bytes += chunk.length;
      this.tick();
      yield chunk;
    }
  }

  /** The total, once known (create learns it from a walk that runs beside the work). */
  setTotal(totalBytes: number): void {
    this.state.totalBytes = totalBytes;
  }

  /** Entries written whole, with their content bytes (the scan's packed runs). */
  add(bytes: number, entries: number): void {
    this.state.bytes += bytes;
    this.state.entries += entries;
    this.tick();
  }

  entry(): void {
    this.state.entries++;
    this.tick();
  }

  /** The final event: always sent, whatever the throttle. */
  done(): void {
    this.emit();
  }

  private tick(): void {
    const now = performance.now();
    if (now - this.last >= this.intervalMs) this.emit(now);
  }

  private emit(now = performance.now()): void {
    this.last = now;
    this.callback({ ...this.state });
  }
}

/** A meter for `onProgress`, or undefined when the caller asked for none. */
export function progressMeter(callback: ProgressCallback | undefined, totalBytes?: number): ProgressMeter | undefined {
  if (callback === undefined) return undefined;
  if (typeof callback !== 'function') throw new UsageError(`onProgress must be a function, not ${typeof callback}`);
  return new ProgressMeter(callback, totalBytes);
}
