// The member path a tar header range names: what a reader takes for the member's name from the
// headers before its data (spec/manifest.md §7: the header range; spec/portarc-1.md §4.3). verify
// holds it against the manifest's path for the member (extract refuses a member whose name differs;
// a verify that passes such an archive would vouch for one extract refuses).

import { BLOCK, TYPE } from './header.js';
import { readBytes, readSmallOctal } from './numbers.js';
import { parsePaxRecords } from './pax.js';

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * The path the headers in `range` give their member (a pax `path` or `GNU.sparse.name` record, a
 * GNU long name, or the ustar name and prefix), without trailing slashes as readers compare it;
 * undefined when the range is not headers this can read (the caller then does not compare).
 */
export function headerRangePath(range: Buffer): Buffer | undefined {
  let paxPath: Buffer | undefined;
  let sparseName: Buffer | undefined;
  let longName: Buffer | undefined;
  for (let at = 0; at + BLOCK <= range.length; ) {
    const block = range.subarray(at, at + BLOCK);
    const typeflag = block[156]!;
    const size = readSmallOctal(block, 124, 12);
    if (size === undefined) return undefined;
    const data = at + BLOCK;
    if (typeflag === TYPE.paxLocal || typeflag === TYPE.paxGlobal || typeflag === 0x4c /* L */ || typeflag === 0x4b /* K */) {
      if (data + size > range.length) return undefined;
      const body = range.subarray(data, data + size);
      if (typeflag === TYPE.paxLocal) {
        let records;
        try {
          records = parsePaxRecords(body);
        } catch {
          return undefined;
        }
        for (const r of records) {
          if (r.key === 'path') paxPath = r.value;
          else if (r.key === 'GNU.sparse.name') sparseName = r.value;
        }
      } else if (typeflag === 0x4c) {
        const nul = body.indexOf(0);
        longName = nul < 0 ? body : body.subarray(0, nul);
      }
      at = data + padded(size);
      continue;
    }
    const name = readBytes(block, 0, 100);
    const magic = block.toString('latin1', 257, 265);
    const ustar = magic !== 'ustar  \0' && magic.startsWith('ustar'); // GNU's old format has times there
    const prefix = ustar ? readBytes(block, 345, 155) : Buffer.alloc(0);
    let path = sparseName ?? paxPath ?? longName ?? (prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name);
    let end = path.length;
    while (end > 1 && path[end - 1] === 0x2f) end--;
    path = path.subarray(0, end);
    return path;
  }
  return undefined;
}
