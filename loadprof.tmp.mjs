import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
const order = []; const seen = new Set();
function visit(f) {
  if (seen.has(f)) return; seen.add(f);
  const src = readFileSync(f, 'utf8');
  for (const m of src.matchAll(/^(?:import|export)[^'"]*from ['"]([^'"]+)['"]/gm)) {
    const s = m[1];
    if (s.startsWith('.')) visit(resolve(dirname(f), s)); else if (!seen.has(s)) { seen.add(s); order.push(s); }
  }
  order.push(f);
}
visit(resolve(process.argv[2]));
let last = process.memoryUsage().rss;
const rows = [];
for (const f of order) {
  await import(f);
  const now = process.memoryUsage().rss;
  rows.push([now - last, f.replace('/work/main/', '')]); last = now;
}
rows.sort((a, b) => b[0] - a[0]);
for (const [d, f] of rows.slice(0, 25)) console.log((d / 1024 | 0) + ' KiB', f);
console.log('total', process.memoryUsage().rss / 1024 | 0, process.resourceUsage().maxRSS);
