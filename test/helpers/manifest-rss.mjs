// Child process of verify.test.ts: write a manifest of N synthetic entries through the manifest
// layer's streaming writer, parse it back with its streaming reader, and print the peak RSS growth.
// Usage: node manifest-rss.mjs DIST/manifest/index.js FILE N
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
const { ManifestWriter, readManifest } = await import(process.argv[2]);
const file = process.argv[3];
const N = Number(process.argv[4]);
const base = process.memoryUsage().rss;
const t0 = Date.now();
const ws = createWriteStream(file);
const w = new ManifestWriter(async (chunk) => { if (!ws.write(chunk)) await once(ws, 'drain'); });
await w.head({ spec: '1.0', creator: 'rss test', container: 'tar', features: { compat: ['manifest'], rocompat: [], incompat: [] } });
const hex = (i) => i.toString(16).padStart(64, '0');
let pos = 0;
for (let i = 0; i < N; i++) {
  const path = Buffer.from(`dir${i % 1000}/file-${i}.txt`);
  await w.entry({ path, type: 'file', size: i, sha256: hex(i), offset: pos, data: pos + 512, end: pos + 1024, headerSha256: hex(i + 1), dataSha256: hex(i + 2) });
  pos += 1024;
}
await w.foot({ bytes: pos, sha256: hex(7) });
ws.end(); await once(ws, 'finish');
const t1 = Date.now();
let n = 0, last;
for await (const item of readManifest(createReadStream(file, { highWaterMark: 1 << 20 }))) {
  if (item.kind === 'entry') { if (item.entry.offset !== n * 1024) throw new Error('order'); n++; last = item.entry; }
}
// VmHWM, this process's own peak: getrusage's maxRSS survives execve, and holds a large parent's
// resident size at the fork (bench/rss.mjs).
const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
const peak = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) * 1024;
console.log(JSON.stringify({ n, lastPath: last.path.toString(), growthMiB: (peak - base) / 2 ** 20, writeMs: t1 - t0, readMs: Date.now() - t1 }));
