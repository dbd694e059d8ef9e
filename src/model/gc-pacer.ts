// Young-generation collections at a steady pace, where fresh buffers are made per chunk (DESIGN §5:
// memory flat, under 100 MiB). node:zlib hands out every output chunk in a new 256 KiB buffer;
// V8 frees such buffers only when their small JS objects are collected, and with few JS
// allocations around them that happens late: a 1.3 GB .tar.gz verified or extracted peaked at
// 106–110 MiB, of which ~20 MiB were chunks already done with. A minor collection every 8 MiB
// of such chunks costs well under a millisecond and brought both to 83–90 MiB.
//
// Only the CLI turns it on (enableGcPacing): a library leaves the process's V8 flags alone. In a
// process started with --expose-gc, the library uses the `gc` it finds.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

/** Bytes of fresh chunks between two collections. */
const EVERY = 8 << 20;

let collect: GcFunction | undefined;

function found(): GcFunction | undefined {
  const g = (globalThis as { gc?: unknown }).gc;
  return typeof g === 'function' ? (g as GcFunction) : undefined;
}

/** Make minor collections available to the pacers (the CLI's process only). */
export function enableGcPacing(): void {
  if (collect ?? (collect = found())) return;
  // `gc` is put on contexts made after the flag is set: a new one hands it over.
  setFlagsFromString('--expose-gc');
  const g = runInNewContext('gc') as unknown;
  if (typeof g === 'function') collect = g as GcFunction;
}

/** Counts the bytes of fresh chunks; asks for a minor collection every EVERY bytes, when it can. */
export class GcPacer {
  private since = 0;
  private readonly gc = collect ?? found();

  add(bytes: number): void {
    if (!this.gc) return;
    this.since += bytes;
    if (this.since < EVERY) return;
    this.since = 0;
    this.gc({ type: 'minor' });
  }
}
