// A small, independent tar walker for the conformance runner's writer checks (spec/portarc-1.md
// §4.1 header block, §4.3 pax records, §4.5 global header, §5.1 keywords written) and for the
// deliberately broken adapters. Plain Node, no dependency on portarc: a writer is judged by bytes,
// not by the reference implementation's own parser.

import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';

/** Undo gzip or zstd (by magic, spec §4.8); a plain tar or a zip comes back as it is. */
export function decompress(buf) {
  if (buf[0] === 0x1f && buf[1] === 0x8b) return gunzipSync(buf);
  if (buf.readUInt32LE(0) === 0xfd2fb528) {
    const r = spawnSync('zstd', ['-dc', '-q'], { input: buf, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`zstd -dc failed: ${r.stderr}`);
    return r.stdout;
  }
  return buf;
}

const field = (h, off, len) => {
  const f = h.subarray(off, off + len);
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
};

/** Octal (or GNU base-256, positive only) numeric field. */
function number(h, off, len) {
  if (h[off] & 0x80) {
    let v = 0n;
    for (let i = off + 1; i < off + len; i++) v = (v << 8n) | BigInt(h[i]);
    return Number(v);
  }
  const t = field(h, off, len).toString('latin1').trim();
  return t === '' ? 0 : parseInt(t, 8);
}

/** pax records of an `x`/`g` body: [[key, valueBuffer], ...]; throws on a malformed record. */
export function paxRecords(data) {
  const out = [];
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break; // padding some writers leave
    const sp = data.indexOf(0x20, p);
    const len = parseInt(data.subarray(p, sp).toString('latin1'), 10);
    if (sp < 0 || !(len > 0) || p + len > data.length || data[p + len - 1] !== 0x0a) throw new Error(`bad pax record at byte ${p}`);
    const rec = data.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    out.push([rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1)]);
    p += len;
  }
  return out;
}

/**
 * Every header block of a plain tar, in order: { offset, type, name (Buffer), size, checksumOk,
 * records (x/g only), data (x/g/L/K only) }. Stops at the first zero block (end of archive).
 */
export function headers(tar) {
  const out = [];
  let p = 0;
  while (p + 512 <= tar.length) {
    const h = tar.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    const size = number(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const m = { offset: p, type, name: Buffer.from(field(h, 0, 100)), size, checksumOk: sum === number(h, 148, 8) };
    const body = tar.subarray(p + 512, p + 512 + size);
    if ('xgLK'.includes(type)) m.data = Buffer.from(body);
    if (type === 'x' || type === 'g') m.records = paxRecords(m.data);
    out.push(m);
    // Sparse members (GNU 1.0) keep their map in the data: the header size still covers it.
    p += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** One pax record, with its self-counting length (spec §4.3.2). */
export function paxRecord(key, value) {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n++;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

/**
 * Rewrite a plain tar member by member: `fn(member)` returns undefined to keep it, null to drop
 * it, or (for x/g) new records [[key, value], ...]. Header size and checksum are redone.
 */
export function rewrite(tar, fn) {
  const parts = [];
  let end = 0;
  for (const m of headers(tar)) {
    const total = 512 + Math.ceil(m.size / 512) * 512;
    end = m.offset + total;
    const r = fn(m);
    if (r === null) continue;
    if (r === undefined) {
      parts.push(tar.subarray(m.offset, m.offset + total));
      continue;
    }
    const data = Buffer.concat(r.map(([k, v]) => paxRecord(k, v)));
    const h = Buffer.from(tar.subarray(m.offset, m.offset + 512));
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(tar.subarray(end));
  return Buffer.concat(parts);
}

/** Every `%XX` to its byte, the bytes read as UTF-8 (libarchive's xattr-name encoding, spec §5.2.2). */
export const percentDecode = (s) => Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
