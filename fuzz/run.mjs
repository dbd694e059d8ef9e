#!/usr/bin/env node
// `npm run fuzz [-- --time SECONDS] [--target tar|pax|sniff|extract ...] [--seed N]`
// Property-based fuzzing with fast-check: inputs are seed archives (conformance vectors and
// fuzz/corpus/) mutated the way parsers break (bit flips, digits in numeric fields, lengths,
// truncation, inserted and deleted runs), and shrunk to a minimal case when a target fails.
// Each target runs in a worker with a memory cap; a watchdog catches hangs. A failure is saved
// under fuzz/crashes/ — turn it into a regression vector in conformance/vectors/malformed/.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const CRASHES = fileURLToPath(new URL('./crashes/', import.meta.url));
const HANG_MS = 15_000;
const HEAP_MB = 768;

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const time = Number(opt('--time', '60'));
  const seed = Number(opt('--seed', String(Date.now() % 2 ** 31)));
  const chosen = args.flatMap((a, i) => (args[i - 1] === '--target' ? [a] : []));
  const names = chosen.length ? chosen : ['tar', 'pax', 'sniff', 'extract', 'zip'];
  mkdirSync(CRASHES, { recursive: true });
  let failed = 0;
  for (const name of names) failed += await runTarget(name, time, seed);
  console.log(failed ? `fuzz: ${failed} target(s) failed` : `fuzz: no crash, hang or memory blow-up in ${names.join(', ')}`);
  process.exitCode = failed ? 1 : 0;
} else {
  await fuzzInWorker(workerData);
}

function save(name, kind, input) {
  const file = `${CRASHES}${kind}-${name}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`;
  writeFileSync(file, input);
  return file;
}

/** One target in a worker; resolves to 1 on failure, 0 when the time ran out cleanly. */
function runTarget(name, time, seed) {
  return new Promise((resolve) => {
    const current = `${CRASHES}.current-${name}.bin`;
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { name, time, seed, current },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
    });
    let last = Date.now();
    let runs = 0;
    const watchdog = setInterval(() => {
      if (Date.now() - last < HANG_MS) return;
      clearInterval(watchdog);
      const file = save(name, 'hang', readFileSync(current));
      console.log(`fuzz ${name}: HANG (no progress for ${HANG_MS / 1000} s) on ${file}`);
      worker.terminate().then(() => resolve(1));
    }, 1000);
    worker.on('message', (m) => {
      last = Date.now();
      if (m.runs !== undefined) runs = m.runs;
      if (m.failure) {
        const file = save(name, 'crash', Buffer.from(m.input, 'base64'));
        console.log(`fuzz ${name}: CRASH after ${m.runs} runs (seed ${seed}), minimal input ${file}\n${m.failure}`);
      }
      if (m.done) {
        clearInterval(watchdog);
        if (!m.failed) console.log(`fuzz ${name}: ${m.runs} runs in ${time} s, no failure (seed ${seed})`);
        resolve(m.failed ? 1 : 0);
      }
    });
    worker.on('error', (err) => {
      clearInterval(watchdog);
      let file = '(input not saved)';
      try {
        file = save(name, 'memory', readFileSync(current));
      } catch {}
      console.log(`fuzz ${name}: worker died after ${runs} runs (${err.code ?? ''} ${err.message}) on ${file}`);
      resolve(1);
    });
  });
}

async function fuzzInWorker({ name, time, seed, current }) {
  const fc = (await import('fast-check')).default;
  const { runOne, seeds } = await import('./targets.mjs');
  const { mutated } = await import('./mutate.mjs');
  const corpus = seeds(name);
  let runs = 0;
  let lastPost = 0;
  const property = fc.asyncProperty(mutated(fc, corpus), async (input) => {
    writeFileSync(current, input);
    runs++;
    if (Date.now() - lastPost > 500) {
      lastPost = Date.now();
      parentPort.postMessage({ runs });
    }
    await runOne(name, input);
  });
  const result = await fc.check(property, { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: time * 1000, seed, endOnFailure: false });
  if (result.failed) {
    const input = result.counterexample[0];
    parentPort.postMessage({ failure: String(result.errorInstance?.stack ?? result.error), input: Buffer.from(input).toString('base64'), runs });
  }
  parentPort.postMessage({ done: true, failed: result.failed, runs });
}
