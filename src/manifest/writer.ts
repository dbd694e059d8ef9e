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
  /**
   * The text not yet handed out, encoded as it comes into one buffer outside the JS heap: each line
   * is garbage at once (a string kept until 64 KiB had gathered outlived the young generation, and
   * its collection was most of what the manifest cost per entry).
   */
  private buf = Buffer.allocUnsafeSlow(BATCH);
  private used = 0;
  count = 0;

  constructor(private out: (chunk: Buffer) => void | Promise<void>) {}

  /** Add text; hand a full batch (a fresh buffer, the caller's to keep) to `out`. */
  private push(text: string, force = false): void | Promise<void> {
    // At most 3 bytes per UTF-16 unit: a batch never splits a line.
    if (this.used + text.length * 3 > BATCH) return this.pushSlow(text, force);
    this.used += this.buf.write(text, this.used, 'utf8');
    if (force || this.used >= BATCH / 2) return this.hand();
  }

  private async pushSlow(text: string, force: boolean): Promise<void> {
    await this.hand();
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > BATCH) {
      await this.out(bytes);
      return;
    }
    this.used = bytes.copy(this.buf, 0);
    if (force) await this.hand();
  }

  private hand(): void | Promise<void> {
    if (!this.used) return;
    const chunk = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    return this.out(chunk);
  }

  async head(h: Omit<ManifestHead, 'version'>): Promise<void> {
    const f = h.features;
    await this.push(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<manifest xmlns="${MANIFEST_NS}" version="${MANIFEST_VERSION.major}.${MANIFEST_VERSION.minor}" spec="${xmlAttr(h.spec)}" creator="${xmlAttr(h.creator)}" container="${h.container}"${h.compression ? ` compression="${xmlAttr(h.compression)}"` : ''}${h.gzipHeader ? ` gzip-header="${xmlAttr(h.gzipHeader)}"` : ''}>\n` +
        `<features compat="${xmlAttr(f.compat.join(' '))}" rocompat="${xmlAttr(f.rocompat.join(' '))}" incompat="${xmlAttr(f.incompat.join(' '))}"/>\n`,
    );
  }

  entry(e: ManifestEntry): void | Promise<void> {
    this.count++;
    let line = `<entry path="${xmlAttr(escapePath(e.path))}" type="${e.type}" size="${e.size}"`;
    if (e.sha256) line += ` sha256="${e.sha256}"`;
    if (e.link) line += ` link="${xmlAttr(escapePath(e.link))}"`;
    line += ` offset="${e.offset}" data="${e.data}" end="${e.end}" hsha256="${e.headerSha256}"`;
    if (e.dataSha256) line += ` dsha256="${e.dataSha256}"`;
    return this.push(line + '/>\n');
  }

  async foot(f: Omit<ManifestFoot, 'entries'>): Promise<void> {
    await this.push(`<archive entries="${this.count}" bytes="${f.bytes}" sha256="${f.sha256}"/>\n</manifest>\n`, true);
  }
}
