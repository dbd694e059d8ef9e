// Tree descriptions of the writer protocol (conformance/README.md, "Writer protocol"): what a
// correct reader must give back for each entry of a tree a writer was handed.

import { createHash } from 'node:crypto';

/** The canonical entry keys. Others an adapter prints (atimeNs, ctimeNs, ...) are not compared. */
export const CANONICAL = ['path', 'pathBase64', 'type', 'size', 'mode', 'uid', 'gid', 'uname', 'gname', 'mtimeNs', 'linkTarget', 'linkTargetBase64', 'devMajor', 'devMinor', 'xattrs', 'selinux', 'aclAccess', 'aclDefault', 'sha256'];

/** The canonical entry a correct reader must give for a tree entry (content → size and sha256). */
export function expectedEntry(t) {
  const o = {};
  for (const key of CANONICAL) if (key in t && key !== 'size' && key !== 'sha256') o[key] = t[key];
  o.uname ??= '';
  o.gname ??= '';
  o.xattrs ??= {};
  o.size = 0;
  if (t.type === 'file') {
    const hash = createHash('sha256');
    if (t.data) {
      // Sparse: data runs at offsets, holes read as zeros up to `size`.
      let pos = 0;
      for (const r of t.data) {
        hash.update(Buffer.alloc(r.offset - pos));
        const c = Buffer.from(r.content, 'base64');
        hash.update(c);
        pos = r.offset + c.length;
      }
      hash.update(Buffer.alloc(t.size - pos));
      o.size = t.size;
    } else {
      const c = Buffer.from(t.content ?? '', 'base64');
      hash.update(c);
      o.size = c.length;
    }
    o.sha256 = hash.digest('hex');
  }
  return o;
}

