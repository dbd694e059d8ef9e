/*
 * pack.h: a small regular file encoded as whole tar members, byte for byte as src/tar/writer.ts
 * encodes it (see pack.c). Used by the create scan's fast path (native/scan.c, src/tar/pack.ts).
 */
#ifndef PORTARC_PACK_H
#define PORTARC_PACK_H

#include <stddef.h>
#include <stdint.h>

/* What the writer puts in a plain file's headers (the rest is fixed: no xattrs but a label, no link, no device). */
typedef struct {
  const uint8_t *path;
  size_t path_len;
  uint32_t mode; /* permission bits: & 07777 */
  int64_t uid, gid, size;
  int64_t atime_ns, mtime_ns, ctime_ns;
  const uint8_t *uname;
  size_t uname_len;
  const uint8_t *gname;
  size_t gname_len;
  /* The SELinux label (the xattr without its trailing NULs; selinux_len 0: none or empty). */
  const uint8_t *selinux;
  size_t selinux_len;
} pack_entry_t;

/* The most header bytes a packed entry takes (the `x` header, its records, the ustar block). */
#define PACK_HEADER_MAX 1536

/* Whether pack_headers encodes `e` as the JS writer would (else the JS writer must write it). */
int pack_fits(const pack_entry_t *e);

/* Encode the headers of `e` (pack_fits) at `out` (PACK_HEADER_MAX bytes of room); returns their length. */
size_t pack_headers(const pack_entry_t *e, uint8_t *out);

#endif
