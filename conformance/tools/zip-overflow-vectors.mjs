#!/usr/bin/env node
// Zip vectors whose first entry needs a metadata overflow member (spec/zip-profile.md §5.4, §5.5):
// the overflow member comes first in the file, and the PX archive record (version, features) is
// in the first *entry*, after it. A reader that takes the record from the first member misses it.
// Run from conformance/ after `npx tsc`: node tools/zip-overflow-vectors.mjs
import { writeFileSync } from 'node:fs';

const { ZipWriter } = await import('../../dist/zip/index.js');
const { makeEntry } = await import('../../dist/model/entry.js');

const T0 = 1600000000_000000000n;

async function write(path, features) {
  const chunks = [];
  const w = new ZipWriter({ write: (c) => void chunks.push(Buffer.from(c)) }, { creator: 'portarc conformance', features, method: 'deflate' });
  // One xattr of 65536 bytes (the Linux maximum): more than the 65433 bytes of PX a header can hold,
  // so it moves to the overflow member (deflated there: the vector stays small); a small one stays.
  const xattrs = new Map([
    ['user.big', Buffer.alloc(65536, 'overflow ')],
    ['user.small', Buffer.from('stays in the header')],
  ]);
  const body = Buffer.from('first entry\n');
  await w.add(makeEntry({ path: 'o/big-meta.txt', type: 'file', mode: 0o644, mtimeNs: T0, size: body.length, xattrs, uname: 'root', gname: 'root' }), body);
  const second = Buffer.from('second entry\n');
  await w.add(makeEntry({ path: 'o/plain.txt', type: 'file', mode: 0o600, mtimeNs: T0, size: second.length, uname: 'root', gname: 'root' }), second);
  await w.finish();
  writeFileSync(path, Buffer.concat(chunks));
}

await write('vectors/zip/y_portarc-overflow-first.zip', { compat: ['shiny'] });
await write('vectors/zip/n_portarc-overflow-first-incompat.zip', { incompat: ['shiny'] });
