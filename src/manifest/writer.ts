// Streaming manifest writer: the XML head, one line per entry as the entry is archived, and the
// foot with the archive digest. Nothing is kept: each piece goes to `out` (batched into 64 KiB
// chunks), so a million entries cost no more memory than ten. Spec: spec/manifest.md §3.

import { escapePath } from './escape.js';
import { MANIFEST_NS, MANIFEST_VERSION, type ManifestEntry, type ManifestFoot, type ManifestHead } from './types.js';

const BATCH = 64 << 10;

/** XML attribute text: markup characters as references, characters XML 1.0 forbids as U+FFFD. */
export function xmlAttr(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[&<>"\t\n\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c]!);
}

export class ManifestWriter {
  private pending = '';
  count = 0;

  constructor(private out: (chunk: Buffer) => void | Promise<void>) {}

  private async push(text: string, force = false): Promise<void> {
    this.pending += text;
    if (force || this.pending.length >= BATCH) {
      const chunk = Buffer.from(this.pending, 'utf8');
      this.pending = '';
      if (chunk.length) await this.out(chunk);
    }
  }

  async head(h: Omit<ManifestHead, 'version'>): Promise<void> {
    const f = h.features;
    await this.push(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<manifest xmlns="${MANIFEST_NS}" version="${MANIFEST_VERSION.major}.${MANIFEST_VERSION.minor}" spec="${xmlAttr(h.spec)}" creator="${xmlAttr(h.creator)}" container="${h.container}"${h.compression ? ` compression="${xmlAttr(h.compression)}"` : ''}${h.gzipHeader ? ` gzip-header="${xmlAttr(h.gzipHeader)}"` : ''}>\n` +
        `<features compat="${xmlAttr(f.compat.join(' '))}" rocompat="${xmlAttr(f.rocompat.join(' '))}" incompat="${xmlAttr(f.incompat.join(' '))}"/>\n`,
    );
  }

  async entry(e: ManifestEntry): Promise<void> {
    this.count++;
    let line = `<entry path="${xmlAttr(escapePath(e.path))}" type="${e.type}" size="${e.size}"`;
    if (e.sha256) line += ` sha256="${e.sha256}"`;
    if (e.link) line += ` link="${xmlAttr(escapePath(e.link))}"`;
    line += ` offset="${e.offset}" data="${e.data}" end="${e.end}" hsha256="${e.headerSha256}"`;
    if (e.dataSha256) line += ` dsha256="${e.dataSha256}"`;
    await this.push(line + '/>\n');
  }

  async foot(f: Omit<ManifestFoot, 'entries'>): Promise<void> {
    await this.push(`<archive entries="${this.count}" bytes="${f.bytes}" sha256="${f.sha256}"/>\n</manifest>\n`, true);
  }
}
