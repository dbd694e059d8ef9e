#!/usr/bin/env node
// Broken reader: takes the fraction of a negative time as positive (pax mtime=-1.5 read as
// -1 + 0.5 s), as bsdtar 3.6.2 does (spec §4.3.4).
import { answer, input, read } from './wrap.mjs';

const doc = read(input());
for (const e of doc.entries) {
  const ns = BigInt(e.mtimeNs);
  const frac = ns % 1000000000n; // negative or zero for a negative time
  if (ns < 0n && frac !== 0n) e.mtimeNs = String(ns - frac - frac);
}
answer(doc);
