#!/usr/bin/env node
// Broken reader: when an x header holds both SCHILY.xattr and LIBARCHIVE.xattr for one xattr, lets
// the SCHILY value win (spec §5.2.2: the LIBARCHIVE value wins).
import { decompress, headers, percentDecode } from '../../lib/tar.mjs';
import { answer, input, read } from './wrap.mjs';

const archive = input();
const doc = read(archive);
let member = 0;
let pending = {};
for (const m of archive[0] === 0x50 ? [] : headers(decompress(archive))) {
  if (m.type === 'x') {
    const schily = Object.fromEntries(m.records.filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => [percentDecode(k.slice(13)), v]));
    const libarchive = m.records.filter(([k]) => k.startsWith('LIBARCHIVE.xattr.')).map(([k]) => percentDecode(k.slice(17)));
    pending = Object.fromEntries(libarchive.filter((n) => n in schily).map((n) => [n, schily[n].toString('base64')]));
  } else if (!'gLK'.includes(m.type)) {
    Object.assign(doc.entries[member++]?.xattrs ?? {}, pending);
    pending = {};
  }
}
answer(doc);
