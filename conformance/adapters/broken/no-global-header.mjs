#!/usr/bin/env node
// Broken writer: leaves out the portarc global header (spec §4.5); prints the tar uncompressed.
import { decompress, rewrite } from '../../lib/tar.mjs';
import { emit, input, write } from './wrap.mjs';

const archive = write(input());
emit(archive[0] === 0x50 ? archive : rewrite(decompress(archive), (m) => (m.type === 'g' ? null : undefined)));
