// The progress bar of create and extract on a terminal: bytes and entries done, rate and, when the
// total is known, percent and ETA. One line on stderr rewritten in place; cleared before any other
// line is printed, so listings and warnings are never mixed with it. Spec: spec/portarc-1.md §8.

import type { Progress } from '../api/progress.js';

/** Shown only after this long: quick work does not flash a bar. */
const FIRST_DRAW_MS = 300;

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The bar's text for one event, `elapsed` seconds after the start. */
export function progressLine(p: Progress, elapsed: number, width = 80): string {
  const rate = elapsed > 0 ? p.bytes / elapsed : 0;
  const parts: string[] = [];
  let bar = '';
  if (p.totalBytes) {
    const frac = Math.min(1, p.bytes / p.totalBytes);
    const cells = 16;
    const full = Math.round(frac * cells);
    bar = `[${'#'.repeat(full)}${'.'.repeat(cells - full)}] `;
    parts.push(`${String(Math.floor(frac * 100)).padStart(3)}%`, `${humanBytes(p.bytes)} / ${humanBytes(p.totalBytes)}`);
  } else parts.push(humanBytes(p.bytes));
  parts.push(`${p.entries} entr${p.entries === 1 ? 'y' : 'ies'}`, `${humanBytes(Math.round(rate))}/s`);
  if (p.totalBytes && rate > 0 && p.bytes < p.totalBytes) parts.push(`ETA ${clock((p.totalBytes - p.bytes) / rate)}`);
  // On a narrow terminal the bar goes first; the numbers stay whole.
  const text = parts.join('  ');
  if ((bar + text).length < width) return bar + text;
  return text.length < width ? text : text.slice(0, width - 1);
}

export class ProgressBar {
  private start = performance.now();
  private shown = false;
  private lastText = '';

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly firstDrawMs = FIRST_DRAW_MS,
  ) {}

  /** The onProgress callback: redraws the line (events come throttled by the library). */
  readonly update = (p: Progress): void => {
    const elapsed = (performance.now() - this.start) / 1000;
    if (!this.shown && elapsed * 1000 < this.firstDrawMs) return;
    const text = progressLine(p, elapsed, this.stream.columns || 80);
    if (text === this.lastText) return;
    this.lastText = text;
    this.shown = true;
    this.stream.write(`\r\x1b[K${text}`);
  };

  /** Erase the line (before another line is printed, and at the end). */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
    this.lastText = '';
  }
}
