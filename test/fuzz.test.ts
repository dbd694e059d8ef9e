// The fuzz targets in npm test: every seed input, then a short fixed-seed fuzz of each target
// (the long runs are `npm run fuzz`). A target fails on anything but its own error type.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM modules of the fuzz harness, run against dist/ (built by npm test)
import { runOne, seeds } from '../fuzz/targets.mjs';
// @ts-expect-error see above
import { mutated } from '../fuzz/mutate.mjs';

const RUNS: Record<string, number> = { tar: 6000, pax: 10000, sniff: 2000, extract: 400, zip: 600 };

describe.each(Object.keys(RUNS))('fuzz target %s', (name) => {
  const corpus: Buffer[] = seeds(name);

  it('has seeds, and every seed ends in success or its own error', async () => {
    expect(corpus.length).toBeGreaterThan(2);
    for (const input of corpus) expect(['ok', 'rejected']).toContain(await runOne(name, input));
  });

  it(`survives ${RUNS[name]} mutated inputs (fixed seed)`, async () => {
    const result = await fc.check(
      fc.asyncProperty(mutated(fc, corpus), async (input: Buffer) => void (await runOne(name, input))),
      { numRuns: RUNS[name], seed: 20261125 },
    );
    expect(result.failed ? String(result.errorInstance) : 'no failure').toBe('no failure');
  });
});
