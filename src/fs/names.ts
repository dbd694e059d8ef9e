// A directory's names, packed: one Buffer of name bytes and two arrays of numbers, in byte order.
// A directory of 1,000,000 names held as a Buffer and two paths per name took ~850 bytes of heap
// each (865 MB); packed, they take their own bytes and 8 more. Read with opendir one name at a
// time, so that no array of a million Buffers exists even while it is listed.

import { opendirSync } from 'node:fs';

export class NameList {
  private bytes: Buffer;
  private used = 0;
  /** Name i is bytes[starts[i], starts[i + 1]). */
  private starts: Uint32Array;
  /** The names in byte order, as indexes. */
  private order: Uint32Array | undefined;
  count = 0;

  constructor(bytesHint = 4096, namesHint = 64) {
    this.bytes = Buffer.allocUnsafe(bytesHint);
    this.starts = new Uint32Array(namesHint + 1);
  }

  /** Every name in the directory at `path` (its alias through a held descriptor, say), sorted. */
  static ofDirectory(path: Buffer): NameList {
    const list = new NameList();
    // Names as Latin-1 strings (one byte a character, every byte kept): as Buffers, each name was
    // a separately allocated backing store, freed only when V8 got round to it (Node 24: ~20 MiB
    // of native heap for 200,000 names, over the bar); strings go with the young generation.
    const dir = opendirSync(path as unknown as string, { encoding: 'latin1' });
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) list.add(d.name);
    } finally {
      dir.closeSync();
    }
    return list.sorted();
  }

  /** Add a name given as Latin-1 (its bytes). */
  add(name: string): void {
    if (this.used + name.length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.used + name.length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    if (this.count + 2 > this.starts.length) {
      const bigger = new Uint32Array(2 * this.starts.length);
      bigger.set(this.starts);
      this.starts = bigger;
    }
    this.bytes.write(name, this.used, 'latin1');
    this.used += name.length;
    this.starts[++this.count] = this.used;
    this.order = undefined;
  }

  /** Sort by bytes (as Buffer.compare does), comparing in place: no view per comparison. */
  sorted(): this {
    const { bytes, starts } = this;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => bytes.compare(bytes, starts[b]!, starts[b + 1]!, starts[a]!, starts[a + 1]!));
    this.order = order;
    return this;
  }

  /** The k-th name in order (a view: copy it to keep it past the list). */
  name(k: number): Buffer {
    const i = this.order ? this.order[k]! : k;
    return this.bytes.subarray(this.starts[i]!, this.starts[i + 1]!);
  }
}
