#!/usr/bin/env node
// Time portarc's recovery set alone (hashing + parity, writeRecovery from dist/) for an existing
// file: prints "KERNEL SECONDS". Used by bench/recovery.mjs. Usage: parity-only.mjs FILE PERCENT
import { writeRecovery } from '../../dist/integrity/par2/writer.js';
import { gf16Kernel } from '../../dist/integrity/par2/kernel.js';

const [file, percent] = process.argv.slice(2);
const t0 = performance.now();
await writeRecovery(file, Number(percent), 'Created by portarc bench');
process.stdout.write(`${gf16Kernel().name} ${((performance.now() - t0) / 1000).toFixed(3)}\n`);
