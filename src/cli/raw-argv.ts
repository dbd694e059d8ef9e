// The command line as the kernel holds it. Node decodes its arguments as UTF-8 and turns bytes
// that are not UTF-8 into U+FFFD: a path `bad\xff` arrives as `bad\ufffd`, another name, which may
// exist (create would archive that file, extract -C would write into that directory, exit 0).
// On Linux, /proc/self/cmdline still has the bytes: an argument that is not UTF-8 is found there
// and refused (spec §8.3: a usage error), never used in its changed form.

import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';

/**
 * The index in `args` (the process's arguments after the script) of the first one whose bytes on
 * the command line are not UTF-8; undefined when all are, or when the bytes cannot be read (no
 * /proc: macOS and Windows pass Unicode arguments) or do not line up with `args`.
 */
export function nonUtf8Argument(args: readonly string[], cmdline = '/proc/self/cmdline'): number | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync(cmdline);
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  for (let at = 0; at < raw.length; ) {
    const nul = raw.indexOf(0, at);
    const end = nul < 0 ? raw.length : nul;
    parts.push(raw.subarray(at, end));
    at = end + 1;
  }
  if (parts.length < args.length) return undefined;
  // Node's own options come before the script: the arguments are the last ones.
  const tail = parts.slice(parts.length - args.length);
  if (tail.some((b, i) => b.toString('utf8') !== args[i])) return undefined;
  const bad = tail.findIndex((b) => !isUtf8(b));
  return bad < 0 ? undefined : bad;
}
