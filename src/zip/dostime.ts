// MS-DOS date and time fields of the local and central headers, always in UTC so that the bytes of
// an archive never depend on the TZ variable of the machine that wrote it (yazl's do).
// Spec: spec/zip-profile.md §2.4. Readers that know the extended timestamp (0x5455) use that instead.

const MIN = Date.UTC(1980, 0, 1);
const MAX = Date.UTC(2107, 11, 31, 23, 59, 58);

/** DOS time and date of a moment given in ns since the epoch, clamped to 1980..2107. */
export function toDos(ns: bigint): { time: number; date: number } {
  let ms = Number(ns / 1_000_000n);
  if (ns < 0n && ns % 1_000_000n !== 0n) ms -= 1;
  const d = new Date(Math.min(MAX, Math.max(MIN, ms)));
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** The moment a DOS time and date name, read as UTC (the zone of the writer is not recorded). */
export function fromDos(time: number, date: number): bigint {
  const ms = Date.UTC(
    (date >> 9) + 1980,
    Math.max(0, ((date >> 5) & 15) - 1),
    Math.max(1, date & 31),
    time >> 11,
    (time >> 5) & 63,
    (time & 31) * 2,
  );
  return BigInt(ms) * 1_000_000n;
}
