// The mutation arbitrary: a seed input changed the way archive parsers break. Shared by
// fuzz/run.mjs and test/fuzz.test.ts.

/** Offsets of the ustar header fields (numbers, names, typeflag, magic) inside a 512-byte block. */
const FIELDS = [0, 100, 108, 116, 124, 136, 148, 156, 157, 257, 263, 265, 297, 329, 337, 345, 482, 483];
const INTERESTING = [0x00, 0x20, 0x2e, 0x2f, 0x30, 0x37, 0x38, 0x39, 0x3d, 0x0a, 0x5c, 0x78, 0x67, 0x4c, 0x53, 0x80, 0xff];

export function mutated(fc, corpus) {
  const pos = fc.nat({ max: 1 << 20 });
  const text = fc.stringMatching(/^[0-9 =\n\x00.\/-]{1,24}$/);
  const mutation = fc.oneof(
    fc.record({ op: fc.constant('flip'), at: pos, bit: fc.nat({ max: 7 }) }),
    fc.record({ op: fc.constant('set'), at: pos, byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 255 })) }),
    fc.record({ op: fc.constant('field'), block: fc.nat({ max: 64 }), field: fc.constantFrom(...FIELDS), text }),
    fc.record({ op: fc.constant('text'), at: pos, text }),
    fc.record({ op: fc.constant('truncate'), at: pos }),
    fc.record({ op: fc.constant('insert'), at: pos, bytes: fc.uint8Array({ maxLength: 600 }) }),
    fc.record({ op: fc.constant('delete'), at: pos, len: fc.nat({ max: 1024 }) }),
    fc.record({ op: fc.constant('copy'), from: pos, at: pos, len: fc.nat({ max: 1536 }) }),
  );
  const fromSeed = fc
    .record({ seed: fc.nat({ max: Math.max(0, corpus.length - 1) }), muts: fc.array(mutation, { minLength: 1, maxLength: 8 }) })
    .map(({ seed, muts }) => muts.reduce(apply, Buffer.from(corpus[seed] ?? Buffer.alloc(1024))));
  const raw = fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a));
  return fc.oneof({ weight: 9, arbitrary: fromSeed }, { weight: 1, arbitrary: raw });
}

function apply(buf, m) {
  const at = (n) => (buf.length ? n % buf.length : 0);
  switch (m.op) {
    case 'flip': {
      if (!buf.length) return buf;
      const b = Buffer.from(buf);
      b[at(m.at)] ^= 1 << m.bit;
      return b;
    }
    case 'set': {
      if (!buf.length) return buf;
      const b = Buffer.from(buf);
      b[at(m.at)] = m.byte;
      return b;
    }
    case 'field': {
      const blocks = Math.max(1, Math.floor(buf.length / 512));
      const off = (m.block % blocks) * 512 + m.field;
      const b = Buffer.from(buf);
      if (off < b.length) b.write(m.text, off, 'latin1');
      return b;
    }
    case 'text': {
      const b = Buffer.from(buf);
      if (b.length) b.write(m.text, at(m.at), 'latin1');
      return b;
    }
    case 'truncate':
      return buf.subarray(0, at(m.at));
    case 'insert':
      return Buffer.concat([buf.subarray(0, at(m.at)), m.bytes, buf.subarray(at(m.at))]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at(m.at)), buf.subarray(at(m.at) + m.len)]);
    case 'copy': {
      const from = at(m.from);
      return Buffer.concat([buf.subarray(0, at(m.at)), buf.subarray(from, from + m.len), buf.subarray(at(m.at))]);
    }
  }
  return buf;
}
