// Dates on the command line (--mtime, --newer) as GNU tar reads them, to the nanosecond: local time
// without a zone (a date alone too: it was UTC, a date with a time local), `Z` or `±HH:MM`, and
// `@SECONDS[.FRACTION]` (a fraction was refused, digits past the millisecond dropped).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDate } from '../src/cli/dates.js';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

describe('parseDate', () => {
  it('reads every form to the nanosecond', () => {
    expect(parseDate('@0')).toBe(0n);
    expect(parseDate('@1.5')).toBe(1_500_000_000n);
    expect(parseDate('@-1.5')).toBe(-1_500_000_000n);
    expect(parseDate('@-0.5')).toBe(-500_000_000n);
    expect(parseDate('@1700000000.123456789')).toBe(1_700_000_000_123_456_789n);
    expect(parseDate('2020-01-01T00:00Z')).toBe(1_577_836_800_000_000_000n);
    expect(parseDate('2020-01-01T00:00:00.123456789Z')).toBe(1_577_836_800_123_456_789n);
    expect(parseDate('2020-01-01 05:30+05:30')).toBe(1_577_836_800_000_000_000n);
    expect(parseDate('2019-12-31T19:00:00-0500')).toBe(1_577_836_800_000_000_000n);
    expect(parseDate('1960-01-01T00:00:00.5Z')).toBe(-315_619_199_500_000_000n);
  });

  it('refuses what is not a date', () => {
    for (const bad of ['soon', '2023-02-30', '2020-13-01', '2020-01-01T24:00', '@', '@1.', '2020-1-1', '@1.1234567891']) expect(parseDate(bad), bad).toBeUndefined();
  });
});

describe('a date without a zone is local time, as GNU tar has it', () => {
  const dir = tempDir('dates');
  writeFileSync(join(dir, 'f'), 'x');
  const mtimeOf = (value: string) => {
    const a = join(dir, 'm.tar');
    const r = portarc(['create', '-f', a, '--mtime', value, '-C', dir, 'f'], { env: { TZ: 'America/New_York' } });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(portarc(['list', '--json', '-f', a]).stdout).entries[0].mtimeNs as string;
  };
  const gnu = (value: string) => {
    const r = spawnSync('bash', ['-c', `tar -cf - --mtime='${value}' -C ${dir} f | tar -tvf - --full-time`], { env: { ...process.env, TZ: 'America/New_York' }, encoding: 'utf8' });
    return r.stdout;
  };

  it('--mtime DATE and --mtime DATE THH:MM alike, in the TZ zone; Z and an offset as given', () => {
    expect(mtimeOf('2020-01-01')).toBe('1577854800000000000'); // New York midnight
    expect(mtimeOf('2020-01-01T00:00')).toBe('1577854800000000000');
    expect(mtimeOf('2020-01-01T00:00Z')).toBe('1577836800000000000');
    // GNU tar lists its archive's time in the same zone: midnight for both readings.
    expect(gnu('2020-01-01')).toContain('2020-01-01 00:00:00');
    expect(gnu('2020-01-01T00:00')).toContain('2020-01-01 00:00:00');
  });
});
