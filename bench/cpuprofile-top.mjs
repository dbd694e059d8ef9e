#!/usr/bin/env node
// Summarise a V8 .cpuprofile (node --cpu-prof): the top functions by self time and, for portarc's
// own code (dist/ → src/), by inclusive time. Where does the time go?
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/portarc.js create -f /tmp/x.tar -C DIR tree
//   node bench/cpuprofile-top.mjs /tmp/prof/*.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topIdx = args.indexOf('--top');
const TOP = topIdx >= 0 ? Number(args.splice(topIdx, 2)[1]) : 25;

process.stdout.on('error', (e) => (e.code === 'EPIPE' ? process.exit(0) : (process.exitCode = 1)));

for (const file of args) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample counts → microseconds per node (timeDeltas follow the samples).
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const name = (n) => {
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(/.*\/dist\//, 'src/').replace(/\.js$/, '.ts').replace(/.*\/node_modules\//, '');
    return `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map();
  const incl = new Map();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    self.set(name(n), (self.get(name(n)) ?? 0) + us);
    // Inclusive: every distinct frame on the stack gets the sample once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(6)} s`;
  process.stdout.write(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled\n\nself time:\n`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${pct(us)}  ${k}\n`);
  process.stdout.write(`\ninclusive time, portarc code (src/):\n`);
  for (const [k, us] of [...incl].filter(([k]) => k.includes(' src/')).sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${pct(us)}  ${k}\n`);
}
