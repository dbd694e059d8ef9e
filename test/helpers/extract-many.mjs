// Extract many archives in one Node process and write what happened as JSON: the Windows lane runs
// this under Wine (one node.exe start-up for all the conformance vectors instead of one each), and
// again on Linux, and compares the two. It uses the built library (dist/), the CLI's extract().
// Usage: node extract-many.mjs REPORT.json DEST-DIR ARCHIVE...
// Output goes to REPORT.json, not stdout: under Wine a pipe as stdout fails (EBADF).
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { extract, ExtractDamagedError } from '../../dist/api/index.js';

const [report, destRoot, ...archives] = process.argv.slice(2);
const results = {};
for (const archive of archives) {
  const name = basename(archive);
  const dest = join(destRoot, name);
  mkdirSync(dest, { recursive: true });
  try {
    const r = await extract(archive, dest, { sameOwner: false, samePermissions: false });
    results[name] = { ok: true, losses: r.losses, warnings: r.warnings.length };
  } catch (err) {
    const damaged = err instanceof ExtractDamagedError;
    results[name] = { ok: false, code: err.code ?? String(err), damaged, losses: damaged ? err.result.losses : [], message: String(err.message).split('\n')[0] };
  }
}
writeFileSync(report, JSON.stringify({ platform: process.platform, results }, null, 1));
