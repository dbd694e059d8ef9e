// A set of path keys in a few bytes each: 64-bit hashes in an open-addressing table (8 bytes a
// slot, at most half full), not the strings. `verify -C` remembers every entry's path to find
// what is extra on disk; a million paths take 16-32 MiB here instead of ~150 MiB as a Set<string>.
// Two different paths share a hash with odds of about n²/2⁶⁵ (1e-7 for a million): such a path
// would not be reported as extra.

export class KeySet {
  private slots = new Uint32Array(2 * 1024);
  private count = 0;

  add(key: string): void {
    if ((this.count + 1) * 2 > this.slots.length / 2) this.grow();
    const [h1, h2] = hash64(key);
    if (this.insert(h1, h2)) this.count++;
  }

  has(key: string): boolean {
    const [h1, h2] = hash64(key);
    const mask = this.slots.length / 2 - 1;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const a = this.slots[2 * i]!;
      const b = this.slots[2 * i + 1]!;
      if (a === 0 && b === 0) return false;
      if (a === h1 && b === h2) return true;
    }
  }

  get size(): number {
    return this.count;
  }

  /** Place a hash; false when it was there already. */
  private insert(h1: number, h2: number): boolean {
    const mask = this.slots.length / 2 - 1;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const a = this.slots[2 * i]!;
      const b = this.slots[2 * i + 1]!;
      if (a === 0 && b === 0) {
        this.slots[2 * i] = h1;
        this.slots[2 * i + 1] = h2;
        return true;
      }
      if (a === h1 && b === h2) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}

/** Two 32-bit halves (cyrb53's mixing, both halves kept); never both zero (the empty slot). */
function hash64(key: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  h1 >>>= 0;
  h2 >>>= 0;
  return h1 === 0 && h2 === 0 ? [0, 1] : [h1, h2];
}
