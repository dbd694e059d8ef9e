// Compress a tar vector into portarc's seekable zstd form with small frames (so that the vector
// has several frames and a seek table): node tools/compress-vector.mjs IN.tar OUT.tar.zst
import { readFileSync, writeFileSync } from 'node:fs';
import { compressor } from '../../dist/compress/index.js';

const [input, output] = process.argv.slice(2);
const tar = readFileSync(input);
const parts = [];
for await (const c of compressor('zstd', { frameSize: 8192, threads: 1 })((async function* () { yield tar; })())) parts.push(c);
writeFileSync(output, Buffer.concat(parts));
