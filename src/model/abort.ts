// Cancellation: every operation takes `signal: AbortSignal` and, once it fires, stops between
// entries or between chunks of one entry, cleans up (no `.partial`, no temporary file, nothing
// half-made under a final name) and rejects with an AbortError. Spec: spec/portarc-1.md §8.6.

import type { FileHandle } from 'node:fs/promises';
import { UsageError } from './errors.js';

/**
 * The operation was cancelled through its AbortSignal. Same shape as Node's own (fs, streams,
 * timers): `name` 'AbortError', `code` 'ABORT_ERR', the signal's reason as `cause`.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** Throw an AbortError when the signal has fired (a no-op without a signal). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * After a failure: when the signal fired, the failure is the cancellation, whatever layer wrapped
 * the error on its way up (a body that stopped reading becomes an EntryError in the writer).
 */
export function abortedOr(signal: AbortSignal | undefined, err: unknown): unknown {
  return signal?.aborted && !(err instanceof AbortError) ? new AbortError(undefined, { cause: signal.reason }) : err;
}

/** The same items, checking the signal before each one: a stop between chunks or between entries. */
export function abortable<T>(items: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncIterable<T> {
  if (!signal) return items;
  return (async function* () {
    throwIfAborted(signal);
    let turned = performance.now();
    for await (const item of items) {
      throwIfAborted(signal);
      // A pipeline of synchronous decoders and writes can run on microtasks alone for a whole big
      // file, and an abort that comes from the event loop (a signal such as Ctrl-C, a timer) would
      // wait for its end: let the loop turn every 50 ms.
      if (performance.now() - turned > 50) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turned = performance.now();
        throwIfAborted(signal);
      }
      yield item;
    }
  })();
}

/**
 * abortable() for a loop that takes its items itself (one async generator less per item: a
 * promise and an iterator result per member were garbage on many small files). Call the result
 * before each item's work: it throws once the signal has fired, and every 50 ms it returns a
 * promise that lets the event loop turn (see abortable); otherwise nothing to wait for.
 */
export function abortPoint(signal: AbortSignal | undefined): () => void | Promise<void> {
  if (!signal) return () => undefined;
  throwIfAborted(signal);
  let turned = performance.now();
  return () => {
    throwIfAborted(signal);
    if (performance.now() - turned <= 50) return;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      turned = performance.now();
      throwIfAborted(signal);
    });
  };
}

/**
 * Refuse a signal option that is not an AbortSignal up front, then (unless `now` is false: a
 * lazy listing checks when iterated) fail at once if it already fired.
 */
export function checkSignal(signal: unknown, now = true): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new UsageError(`signal must be an AbortSignal, not ${signal === null ? 'null' : typeof signal}`);
  if (now) throwIfAborted(signal);
  return signal;
}

/** A file handle whose reads check the signal first (verify's range check and repair read through one). */
export function guardedHandle(fh: FileHandle, signal: AbortSignal | undefined): FileHandle {
  if (!signal) return fh;
  return new Proxy(fh, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (typeof v !== 'function') return v;
      if (key === 'read') return (...args: unknown[]) => (throwIfAborted(signal), (v as (...a: unknown[]) => unknown).apply(target, args));
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
