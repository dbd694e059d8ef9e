// Options and inputs of the public functions, checked before anything is opened or written, so a
// mistake is one UsageError (PORTARC_USAGE, exit 2) naming the option and what it accepts, never a
// TypeError or RangeError from deep inside a backend. Spec: spec/portarc-1.md §8.1.

import { EntryError, UsageError } from '../model/errors.js';
import { bufferChunks, checkEntry } from './entry-check.js';
import { MAX_FRAME_SIZE } from '../compress/index.js';
import type { ScannedEntry } from '../fs/scan.js';
import type { CreateOptions } from './create.js';

type WriteOptions = Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'frameSize' | 'zipMethod' | 'hashing'>;

function oneOf(option: string, value: unknown, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value as string)) {
    throw new UsageError(`${option} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
  }
}

function wholeNumber(option: string, value: unknown, min: number, max: number, what: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} ${String(value)} is out of range: ${what} takes ${min}-${max}`);
  }
}

/** The writer options of create() and convert(), against what the chosen format and method accept. */
export function checkWriteOptions(o: WriteOptions, zipName: boolean): void {
  oneOf('format', o.format, ['tar', 'zip', 'auto']);
  oneOf('zipMethod', o.zipMethod, ['deflate', 'store', 'zstd']);
  oneOf('compression', o.compression, ['none', 'gzip', 'zstd', 'auto']);
  oneOf('hashing', o.hashing, ['auto', 'worker', 'thread']);
  // 0 compresses on the calling thread; more than this many workers only costs memory.
  wholeNumber('threads', o.threads, 0, 256, 'zstd compression');
  wholeNumber('frameSize', o.frameSize, 1, MAX_FRAME_SIZE, 'zstd frame size (bytes)');
  const zip = o.format === 'zip' || (o.format !== 'tar' && zipName);
  if (zip) {
    if (o.compression === 'gzip' || o.compression === 'zstd') {
      throw new UsageError('a zip archive compresses each member itself: gzip or zstd around it is not supported (use zipMethod / --zip-method)');
    }
    if (o.zipMethod === 'zstd') wholeNumber('level', o.level, 1, 22, 'zstd');
    else if (o.zipMethod !== 'store') wholeNumber('level', o.level, 0, 9, 'deflate');
    else if (o.level !== undefined) throw new UsageError(`level ${o.level}: the zip method "store" does not compress (a level is for deflate or zstd)`);
    return;
  }
  // With compression left to the name ('auto'), the caller checks the level once the filter is known.
  if (o.compression === 'zstd' || o.compression === 'gzip' || o.compression === 'none') checkLevelFor(o.compression, o.level);
}

/** The level for a tar once its filter is known (a `.tar.zst` name with level 15 is fine). */
export function checkLevelFor(filter: 'none' | 'gzip' | 'zstd', level: number | undefined): void {
  if (filter === 'zstd') wholeNumber('level', level, 1, 22, 'zstd');
  if (filter === 'gzip') wholeNumber('level', level, 1, 9, 'gzip');
  // Silently ignored, a level asked for would read as honoured.
  if (filter === 'none' && level !== undefined) throw new UsageError(`level ${level}: this tar is not compressed (name it .tar.gz or .tar.zst, or choose a compression)`);
}

/**
 * What create() archives: paths (strings), or entries with their content. An array is paths when
 * it holds strings and entries when it holds `{ entry, body? }` objects; anything else is refused.
 */
export function inputKind(input: unknown): 'paths' | 'entries' {
  const shape = 'create() takes an array of paths (strings) or an array or (async) iterable of { entry, body? } objects';
  if (Array.isArray(input)) {
    if (input.every((p) => typeof p === 'string')) return 'paths';
    if (input.every((e) => e !== null && typeof e === 'object' && 'entry' in e)) return 'entries';
    throw new UsageError(`${shape}; this array mixes other things (item ${input.findIndex((p) => typeof p !== 'string')})`);
  }
  if (input !== null && typeof input === 'object' && (Symbol.asyncIterator in input || Symbol.iterator in input)) return 'entries';
  throw new UsageError(`${shape}, not ${input === null ? 'null' : typeof input}`);
}

/** Check each `{ entry, body }` as it comes, so a wrong shape is named by its index, not a TypeError. */
export async function* checkedEntries(input: AsyncIterable<ScannedEntry> | Iterable<ScannedEntry>): AsyncGenerator<ScannedEntry> {
  let i = 0;
  for await (const item of input as AsyncIterable<ScannedEntry>) {
    const e = (item as Partial<ScannedEntry> | null)?.entry;
    if (!e || typeof e !== 'object' || !Buffer.isBuffer(e.path) || typeof e.type !== 'string') {
      throw new UsageError(`create() input item ${i}: expected { entry, body? } with an entry made by makeEntry()`);
    }
    const body = item.body as unknown;
    i++;
    checkEntry(e);
    const name = e.name;
    // Every chunk a Buffer: a string was counted in UTF-16 units and cut short, a Uint8Array was a TypeError.
    const chunks = (b: unknown): AsyncIterable<Buffer> => {
      if (Buffer.isBuffer(b)) return b as unknown as AsyncIterable<Buffer>;
      if (b instanceof Uint8Array) return Buffer.from(b.buffer, b.byteOffset, b.byteLength) as unknown as AsyncIterable<Buffer>;
      if (typeof b === 'object' && b !== null && Symbol.asyncIterator in b) return bufferChunks(b as AsyncIterable<unknown>, name);
      throw new EntryError(`its body gave ${typeof b === 'string' ? 'a string' : typeof b}: a Buffer, a Uint8Array or an async iterable of them`, { entry: name });
    };
    if (body === undefined) yield item;
    else if (typeof body === 'function') yield { entry: e, body: () => chunks((body as () => unknown)()) };
    // The content itself instead of a function returning it: what a caller writes first.
    else if (body instanceof Uint8Array || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body)) yield { entry: e, body: () => chunks(body) };
    else throw new UsageError(`create() input item ${i - 1} ("${e.name}"): body must be a Buffer, an async iterable of Buffers or a function returning one, not ${typeof body}`);
  }
}
