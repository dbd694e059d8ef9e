// pax extended header records: `LEN KEYWORD=VALUE\n`, where LEN counts the whole record.
// Spec: spec/portarc-1.md §4.3 (pax records). Values are raw bytes: NUL, newline and non-UTF-8
// bytes belong to the value, so records are parsed by length, never by delimiter.

export interface PaxRecord {
  key: string;
  value: Buffer;
}

export class PaxError extends Error {
  constructor(
    message: string,
    /** Byte offset of the bad record inside the header data. */
    readonly at: number,
  ) {
    super(message);
  }
}

/** Parse the data of an `x` or `g` header into records, in order (duplicates kept). */
export function parsePaxRecords(data: Buffer): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    // Trailing NUL padding after the last record is tolerated (some writers pad the data), but
    // only padding: records after a NUL are a damaged header, whose later records (times,
    // xattrs, a path) would otherwise be dropped without a word (GNU tar and Python do).
    if (data[pos] === 0) {
      for (let i = pos + 1; i < data.length; i++) {
        if (data[i] !== 0) throw new PaxError(`pax records go on after NUL padding (byte ${i - pos} of the padding is not NUL): the header is damaged`, i);
      }
      break;
    }
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw new PaxError('pax record without a length', pos);
    const lenText = data.toString('latin1', pos, space);
    if (!/^\d+$/.test(lenText)) throw new PaxError(`pax record length "${lenText}" is not a number`, pos);
    const len = Number(lenText);
    const end = pos + len;
    if (len <= space - pos + 1 || end > data.length) {
      throw new PaxError(`pax record length ${len} runs past the header data`, pos);
    }
    if (data[end - 1] !== 0x0a) throw new PaxError('pax record does not end with a newline', pos);
    const eq = data.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end - 1) throw new PaxError('pax record has no "="', pos);
    if (eq === space + 1) throw new PaxError('pax record has an empty keyword', pos);
    // Keywords are UTF-8 text (xattr names inside them may not be: latin1 would lose nothing, but
    // every writer we know of uses UTF-8, and an invalid byte shows up as U+FFFD in warnings only).
    const key = data.toString('utf8', space + 1, eq);
    records.push({ key, value: data.subarray(eq + 1, end - 1) });
    pos = end;
  }
  return records;
}

const ASCII = /^[\x00-\x7f]*$/;

/** Encode one record; the length prefix counts its own digits. */
export function formatPaxRecord(key: string, value: Buffer | string): Buffer {
  // ASCII text (times, numbers, most names): one string, one buffer.
  if (typeof value === 'string' && ASCII.test(key) && ASCII.test(value)) {
    return Buffer.from(`${recordLength(key.length + value.length)} ${key}=${value}\n`, 'latin1');
  }
  const k = Buffer.from(key, 'utf8');
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from(`${recordLength(k.length + v.length)} `, 'latin1'), k, Buffer.from('='), v, Buffer.from('\n')]);
}

/** A record's length for a key and value of `bytes` bytes: ' ', '=', '\n' and its own digits. */
function recordLength(bytes: number): number {
  const body = bytes + 3;
  const len = body + String(body).length;
  return String(len).length === String(body).length ? len : body + String(len).length;
}
