/*
 * pack.c: the headers of a small regular file, encoded exactly as src/tar/writer.ts (TarWriter.add)
 * encodes them, so that the create scan can hand the writer whole members (src/tar/pack.ts).
 * Spec: spec/portarc-1.md §4 (container) and §5.1 (the records written and when).
 *
 * DESIGN: on 50,000 small files, create spent ~20 µs of JavaScript per file (an entry object,
 * its records, the header, the manifest's bookkeeping) on top of the system calls. The scan reads
 * such a file whole anyway (native/scan.c); here its `x` header, ustar header and padding are
 * written around it in the same buffer. Only the common case is packed: whatever the JS writer
 * would encode otherwise (a path record, ids or an owner name the ustar fields cannot hold,
 * xattrs but an SELinux label, a time before 1970) is refused by pack_fits and left to the JS path, so the archive is
 * the same byte for byte either way (test/pack.test.ts compares them).
 *
 * A packed file's headers, as the JS writer makes them for a file without xattrs:
 *   `x` header: name "././@PaxHeader", mode 0644, ids 0, size = the records' length, the entry's
 *               ustar mtime, typeflag 'x', "ustar\0" "00", devices 0;
 *   records:    "mtime" (only when it has nanoseconds or passes the ustar field), "atime", "ctime",
 *               "RHT.security.selinux" (a label: SELinux systems label every file), then NULs to
 *               a block;
 *   ustar:      name/prefix split, mode & 07777, uid, gid, size, mtime (seconds, at most
 *               8^11 - 1), typeflag '0', the owner names, devices 0.
 */
#include "pack.h"

#include <string.h>

#define BLOCK 512
#define ID_MAX 2097151LL           /* 8^7 - 1: the ustar uid/gid fields */
#define SIZE_MAX_USTAR 8589934591LL /* 8^11 - 1: size and mtime */
#define NS 1000000000LL

/* The ustar split of a path (splitUstarPath in src/tar/header.ts): 0 and the prefix's length
 * (0: none), or -1 when no split fits (the JS writer then adds a `path` record). */
static int split_path(const uint8_t *p, size_t len, size_t *prefix) {
  *prefix = 0;
  if (len <= 100) return 0;
  if (len > 256) return -1;
  for (size_t i = len - 2 < 155 ? len - 2 : 155; i > 0; i--) {
    if (p[i] == '/' && len - i - 1 <= 100) {
      *prefix = i;
      return 0;
    }
  }
  return -1;
}

/* A name the manifest reserves (isManifestMember after bareName, src/api/record.ts): the JS path
 * refuses it with its message. Any bare name starting ".portarc" is left to it. */
static int reserved(const uint8_t *p, size_t len) {
  size_t at = 0;
  for (;;) {
    if (at < len && p[at] == '/') at++;
    else if (at + 1 < len && p[at] == '.' && p[at + 1] == '/') at += 2;
    else break;
  }
  return len - at >= 8 && memcmp(p + at, ".portarc", 8) == 0;
}

/* Strict UTF-8 (what Node's isUtf8 accepts: no overlong forms, surrogates or code points past
 * U+10FFFF), without NUL: a label the JS path takes as it is. */
static int plain_utf8(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    if (c == 0) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((p[i + k] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[i + 1] < 0xa0) return 0; /* overlong */
    if (c == 0xed && p[i + 1] >= 0xa0) return 0; /* surrogates */
    if (c == 0xf0 && p[i + 1] < 0x90) return 0; /* overlong */
    if (c == 0xf4 && p[i + 1] >= 0x90) return 0; /* past U+10FFFF */
    i += len;
  }
  return 1;
}

/* A label longer than this goes to the JS writer (the records must fit PACK_HEADER_MAX). */
#define LABEL_MAX 256

int pack_fits(const pack_entry_t *e) {
  size_t prefix;
  if (e->path_len == 0 || memchr(e->path, 0, e->path_len) != NULL || split_path(e->path, e->path_len, &prefix) != 0) return 0;
  if (reserved(e->path, e->path_len)) return 0;
  if (e->uid < 0 || e->uid > ID_MAX || e->gid < 0 || e->gid > ID_MAX) return 0;
  if (e->size < 0 || e->size > SIZE_MAX_USTAR) return 0;
  /* formatPaxTime of a negative time has a sign: left to the JS writer. */
  if (e->atime_ns < 0 || e->mtime_ns < 0 || e->ctime_ns < 0) return 0;
  if (e->uname_len > 31 || e->gname_len > 31) return 0;
  if (e->selinux_len && (e->selinux_len > LABEL_MAX || !plain_utf8(e->selinux, e->selinux_len))) return 0;
  return 1;
}

static size_t digits(uint64_t v) {
  size_t n = 1;
  while (v >= 10) v /= 10, n++;
  return n;
}

static size_t put_decimal(uint8_t *out, uint64_t v) {
  size_t n = digits(v);
  for (size_t i = n; i > 0; i--, v /= 10) out[i - 1] = (uint8_t)('0' + v % 10);
  return n;
}

/* formatPaxTime (src/tar/numbers.ts) of a time >= 0: seconds, then the fraction without its trailing zeros. */
static size_t pax_time(uint8_t *out, int64_t ns) {
  size_t n = put_decimal(out, (uint64_t)(ns / NS));
  int64_t frac = ns % NS;
  if (frac == 0) return n;
  out[n++] = '.';
  int width = 9;
  while (frac % 10 == 0) frac /= 10, width--;
  for (int i = width; i > 0; i--, frac /= 10) out[n + (size_t)i - 1] = (uint8_t)('0' + frac % 10);
  return n + (size_t)width;
}

/* One record `LEN key=value\n` (formatPaxRecord: LEN counts its own digits). */
static size_t record(uint8_t *out, const char *key, const uint8_t *value, size_t vlen) {
  size_t klen = strlen(key);
  size_t body = klen + vlen + 3;
  size_t len = body + digits(body);
  if (digits(len) != digits(body)) len = body + digits(len);
  size_t n = put_decimal(out, len);
  out[n++] = ' ';
  memcpy(out + n, key, klen);
  n += klen;
  out[n++] = '=';
  memcpy(out + n, value, vlen);
  n += vlen;
  out[n++] = '\n';
  return n;
}

static size_t time_record(uint8_t *out, const char *key, int64_t ns) {
  uint8_t text[32];
  return record(out, key, text, pax_time(text, ns));
}

/* writeOctal: zero-padded octal digits filling the field but its last byte, a NUL. */
static void octal(uint8_t *b, size_t off, size_t width, uint64_t v) {
  for (size_t i = off + width - 1; i > off; i--, v >>= 3) b[i - 1] = (uint8_t)('0' + (v & 7));
  b[off + width - 1] = 0;
}

/* encodeUstarInto (src/tar/header.ts) of a block whose string fields are already in place. */
static void ustar(uint8_t *b, uint32_t mode, int64_t uid, int64_t gid, int64_t size, int64_t mtime, uint8_t typeflag) {
  octal(b, 100, 8, mode);
  octal(b, 108, 8, (uint64_t)uid);
  octal(b, 116, 8, (uint64_t)gid);
  octal(b, 124, 12, (uint64_t)size);
  octal(b, 136, 12, (uint64_t)mtime);
  b[156] = typeflag;
  memcpy(b + 257, "ustar\0" "00", 8);
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  uint32_t sum = 8 * ' ';
  for (size_t i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? 0 : b[i];
  octal(b, 148, 7, sum);
  b[155] = ' ';
}

size_t pack_headers(const pack_entry_t *e, uint8_t *out) {
  int64_t sec = e->mtime_ns / NS;
  int64_t mtime = sec > SIZE_MAX_USTAR ? SIZE_MAX_USTAR : sec;
  /* The records, after the `x` header's block. */
  uint8_t *rec = out + BLOCK;
  size_t n = 0;
  if (e->mtime_ns % NS != 0 || sec > SIZE_MAX_USTAR) n += time_record(rec + n, "mtime", e->mtime_ns);
  n += time_record(rec + n, "atime", e->atime_ns);
  n += time_record(rec + n, "ctime", e->ctime_ns);
  /* The label after the times (metadataRecords: no other xattr, then the label, no ACL). */
  if (e->selinux_len) n += record(rec + n, "RHT.security.selinux", e->selinux, e->selinux_len);
  size_t padded = (n + BLOCK - 1) / BLOCK * BLOCK;
  memset(rec + n, 0, padded - n);

  memset(out, 0, BLOCK);
  memcpy(out, "././@PaxHeader", 14);
  ustar(out, 0644, 0, 0, (int64_t)n, mtime, 'x');

  uint8_t *b = out + BLOCK + padded;
  memset(b, 0, BLOCK);
  size_t prefix;
  split_path(e->path, e->path_len, &prefix);
  if (prefix) {
    memcpy(b, e->path + prefix + 1, e->path_len - prefix - 1);
    memcpy(b + 345, e->path, prefix);
  } else {
    memcpy(b, e->path, e->path_len);
  }
  memcpy(b + 265, e->uname, e->uname_len);
  memcpy(b + 297, e->gname, e->gname_len);
  ustar(b, e->mode & 07777, e->uid, e->gid, e->size, mtime, '0');
  return BLOCK + padded + BLOCK;
}
