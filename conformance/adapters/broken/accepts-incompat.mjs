#!/usr/bin/env node
// Broken reader: reads an archive with incompatible features (spec §7.2) instead of refusing it,
// by hiding the PORTARC.features.incompat record from the reference reader.
import { decompress, rewrite } from '../../lib/tar.mjs';
import { answer, input, read } from './wrap.mjs';

let archive = input();
let incompat = [];
try {
  archive = rewrite(decompress(archive), (m) => {
    if (m.type !== 'g' || !m.records.some(([k]) => k === 'PORTARC.features.incompat')) return undefined;
    incompat = m.records.filter(([k]) => k === 'PORTARC.features.incompat').flatMap(([, v]) => v.toString().split(','));
    return m.records.filter(([k]) => k !== 'PORTARC.features.incompat');
  });
} catch {
  // not a tar this wrapper understands: read it as it is
}
const doc = read(archive);
doc.features.incompat = incompat;
answer(doc);
