// Verifying past damaged zstd frames (spec/manifest.md §8.3; spec/portarc-1.md §6.8): the salvaging
// decoder (compress/salvage.ts) drops a damaged frame's output and lists the gap. Three offsets
// meet here: the decoded bytes that passed (what the range digests are cut in, LagDigest), the
// tar reader's offsets (which step over a gap of known size, and count only the bytes read after
// one of unknown size), and the manifest's archive offsets (equal to the reader's while every gap
// before has a known size). This maps between them and reports each gap once.

import { describeGap, type FrameGap } from '../compress/index.js';
import type { Damage } from './report.js';

export class FrameGaps {
  /** Gaps reported so far (the first `reported` of `gaps`), and their lines. */
  private reported = 0;
  private lines = new Set<Damage>();

  /** `gaps`: the salvaging decoder's list, filled as it decodes. */
  constructor(readonly gaps: readonly FrameGap[]) {}

  get found(): boolean {
    return this.gaps.length > 0;
  }

  /** Tar offset (as the reader counts) where gap `i` begins. */
  start(i: number): number {
    let shift = 0;
    for (let j = 0; j < i; j++) shift += this.gaps[j]!.size ?? 0;
    return this.gaps[i]!.at + shift;
  }

  /**
   * The decoded-stream offset of tar offset `t` (the reader's count): `t` less the bytes lost
   * before it. Undefined inside a gap of known size, whose bytes never passed.
   */
  decoded(t: number): number | undefined {
    let shift = 0;
    for (const g of this.gaps) {
      const begin = g.at + shift;
      if (t <= begin) break;
      // A gap of unknown size: the reader counted none of it.
      const size = g.size ?? 0;
      if (t < begin + size) return undefined;
      shift += size;
    }
    return t - shift;
  }

  /** Where the first gap of unknown size begins (tar offsets from there on are not the archive's), if one was passed before `t`. */
  inexactFrom(t = Infinity): number | undefined {
    let shift = 0;
    for (const g of this.gaps) {
      const at = g.at + shift;
      if (at > t) return undefined;
      if (g.size === undefined) return at;
      shift += g.size;
    }
    return undefined;
  }

  /** One `compression` damage for each gap not yet reported that begins at or before tar offset `upTo`. */
  report(upTo: number, damaged: Damage[]): void {
    for (; this.reported < this.gaps.length; this.reported++) {
      const g = this.gaps[this.reported]!;
      const at = this.start(this.reported);
      if (at > upTo) return;
      const line: Damage = { part: 'compression', range: [at, g.size === undefined ? at : at + g.size], compressedOffset: g.compressed[0], what: describeGap(g, at) };
      this.lines.add(line);
      damaged.push(line);
    }
  }

  /** Whether `d` is the line of a gap (see report). */
  reports(d: Damage): boolean {
    return this.lines.has(d);
  }
}
