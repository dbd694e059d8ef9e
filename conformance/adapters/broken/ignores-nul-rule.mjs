#!/usr/bin/env node
// Broken writer: writes every xattr raw as SCHILY.xattr, also a value with NUL bytes in a header
// that has a path record (spec §5.1.3 NUL rule: such a value must be LIBARCHIVE.xattr base64).
import { decompress, percentDecode, rewrite } from '../../lib/tar.mjs';
import { emit, input, write } from './wrap.mjs';

const schily = (name) => name.replace(/%/g, '%25').replace(/=/g, '%3D');
const archive = write(input());
emit(archive[0] === 0x50 ? archive : rewrite(decompress(archive), (m) =>
  m.type !== 'x' ? undefined : m.records.map(([k, v]) =>
    k.startsWith('LIBARCHIVE.xattr.') ? [`SCHILY.xattr.${schily(percentDecode(k.slice(17)))}`, Buffer.from(v.toString(), 'base64')] : [k, v])));
