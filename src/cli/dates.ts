// Dates on the command line (--mtime, --newer), to the nanosecond, as GNU tar reads them: a date or
// a time without a zone is local time; `Z` or `±HH[:MM]` names the zone; `@SECONDS[.FRACTION]`
// counts from 1970 (negative before it). JavaScript's Date.parse took a date alone as UTC but a
// date with a time as local time, and dropped what follows the milliseconds.

const ISO = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;
const AT = /^@(-)?(\d+)(?:\.(\d{1,9}))?$/;

/** Nanoseconds of a fraction's digits ("5" is 500,000,000). */
const fractionNs = (digits: string | undefined): bigint => BigInt((digits ?? '').padEnd(9, '0'));

/** The moment `value` names, in nanoseconds since 1970, or undefined when it is not a date of these forms. */
export function parseDate(value: string): bigint | undefined {
  const text = value.trim();
  const at = AT.exec(text);
  if (at) {
    const ns = BigInt(at[2]!) * 1_000_000_000n + fractionNs(at[3]);
    return at[1] ? -ns : ns;
  }
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  let ms: number;
  if (m[8] === undefined) {
    const local = new Date(y, mo - 1, d, h, mi, s);
    local.setFullYear(y); // a year below 100 is not 19xx
    ms = local.getTime();
    if (local.getDate() !== d) return undefined; // 2023-02-30
  } else {
    ms = Date.UTC(y, mo - 1, d, h, mi, s);
    const check = new Date(ms);
    if (check.getUTCDate() !== d) return undefined;
    if (m[8].toUpperCase() !== 'Z') {
      const z = /^([+-])(\d\d):?(\d\d)?$/.exec(m[8])!;
      const offset = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
      ms -= z[1] === '+' ? offset : -offset;
    }
  }
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + fractionNs(m[7]);
}
