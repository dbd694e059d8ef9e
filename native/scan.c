/*
 * scanBatch: the create scan's per-file system calls for many paths in one call from JS
 * (src/fs/scan.ts, spec/portarc-1.md §3 and §9: what a backup carries).
 *
 * DESIGN: on 50,000 small files the scan made five or six JS<->C crossings per file (lstat,
 * llistxattr, open, read, fstat, close), each creating objects (BigIntStats, Buffers) for the GC.
 * Here one call does, for each path in order: lstat; llistxattr + lgetxattr; and for a regular
 * file with one link, small enough and not sparse when sparse detection is on: open, read it
 * whole into the caller's buffer, fstat (to see a change while read), close. Results go into the
 * caller's reused BigInt64Array and Buffer; only xattrs make new JS objects.
 *
 * This is an accelerator, never the only way: whatever fails here (lstat, an xattr call, open,
 * read, fstat) is not reported but left undone, and the JS scan does that step itself, so errors
 * and warnings are exactly the JS path's. The call stops after a directory (the caller walks into
 * it before the next items, and the next call reuses the buffer) and before a file that does not
 * fit in what is left of the buffer.
 *
 * scanBatch(paths: Buffer[], start, end, fields: BigInt64Array, buf: Buffer, readMax: number,
 *           sparse: boolean, pack?: [names: Buffer[], params: BigInt64Array, uname: Buffer, gname: Buffer])
 *   : Array<null | Array<[name: Buffer, value: Buffer]>>
 * The result's length is the number of paths done; item k (paths[start + k]) has SCAN_FIELDS
 * int64s at fields[k * SCAN_FIELDS] (see the F_* indexes) and its xattrs (null: none).
 *
 * With `pack` (create into a tar, src/tar/pack.ts), a file read whole that has no xattrs but an
 * SELinux label, is owned
 * by params' [uid, gid] (whose ustar names are uname and gname), is not the inode params' [dev,
 * ino] (the archive itself), did not change while read and that pack_fits (native/pack.c) is
 * written to buf as whole tar members, under its member name names[start + k]: the `x` header,
 * the ustar header, the content and its padding, at [F_OFFSET, F_OFFSET + F_LENGTH), the content
 * at F_DATA bytes in (FLAG_PACKED instead of FLAG_CONTENT). Packed items follow each other in buf
 * unless another item's content lies between them.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "pack.h"

#ifdef __APPLE__
#define S_LIST(p, b, n) listxattr((p), (b), (n), XATTR_NOFOLLOW)
#define S_GET(p, k, b, n) getxattr((p), (k), (b), (n), 0, XATTR_NOFOLLOW)
#define F_LIST(d, b, n) flistxattr((d), (b), (n), 0)
#define F_GET(d, k, b, n) fgetxattr((d), (k), (b), (n), 0, 0)
#define S_NOATTR ENOATTR
#define ST_NS(st, f) ((int64_t)(st).f##timespec.tv_sec * 1000000000 + (st).f##timespec.tv_nsec)
#else
#define S_LIST(p, b, n) llistxattr((p), (b), (n))
#define S_GET(p, k, b, n) lgetxattr((p), (k), (b), (n))
#define F_LIST(d, b, n) flistxattr((d), (b), (n))
#define F_GET(d, k, b, n) fgetxattr((d), (k), (b), (n))
#define S_NOATTR ENODATA
#define ST_NS(st, f) ((int64_t)(st).st_##f##tim.tv_sec * 1000000000 + (st).st_##f##tim.tv_nsec)
#endif

/* Must match SCAN_FIELDS and the F_ indexes in src/fs/sys.ts. */
enum {
  F_FLAGS, F_DEV, F_INO, F_MODE, F_NLINK, F_UID, F_GID, F_RDEV, F_SIZE, F_BLOCKS,
  F_ATIME, F_MTIME, F_CTIME, F_OFFSET, F_LENGTH, F_SIZE_AFTER, F_MTIME_AFTER, F_CTIME_AFTER, F_DATA,
  SCAN_FIELDS
};
#define FLAG_STAT 1   /* lstat done: the stat fields hold it */
#define FLAG_XATTRS 2 /* xattrs read: the result's item holds them (null: none) */
#define FLAG_CONTENT 4 /* content read into buf[offset, offset + length); the *_AFTER fields hold fstat */
#define FLAG_PACKED 8  /* whole tar members in buf[offset, offset + length), the content at offset + data */

#define PATH_MAX_BYTES 4096

/* Seconds whose nanoseconds fit in an int64 field (1677-09-21 to 2262-04-11). A time outside them
 * (ext4 holds 1901-2446, XFS bigtime to 2486) leaves the item to the JS path's BigInt lstat: an
 * int64 of nanoseconds would wrap (a file of 2400 was archived as of 1815). */
#define NS_SEC_MAX 9223372035LL
#define FITS_NS(t) ((t).tv_sec >= -NS_SEC_MAX && (t).tv_sec <= NS_SEC_MAX)
#ifdef __APPLE__
#define TIMES_FIT(st) (FITS_NS((st).st_atimespec) && FITS_NS((st).st_mtimespec) && FITS_NS((st).st_ctimespec))
#else
#define TIMES_FIT(st) (FITS_NS((st).st_atim) && FITS_NS((st).st_mtim) && FITS_NS((st).st_ctim))
#endif
#define LIST_BYTES 65536

/* A directory's descriptor: the items of a batch are mostly in one directory, whose path is then
 * walked once for all of them (the system calls name each file relative to it). */
typedef struct {
  int fd;
  size_t len;
  char path[PATH_MAX_BYTES + 1];
} dir_cache_t;

#ifdef O_PATH
#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
#else
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif

/* The directory to name `path` from, and its name there (*name): the cached directory's
 * descriptor, or AT_FDCWD and the whole path (no parent, or it cannot be opened). */
static int at_dir(dir_cache_t *dc, const char *path, size_t plen, const char **name) {
  size_t slash = plen;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  *name = path;
  if (slash <= 1 || slash == plen) return AT_FDCWD; /* "name", "/name", or a path ending in '/' */
  size_t dl = slash - 1;
  if (dc->fd < 0 || dc->len != dl || memcmp(dc->path, path, dl) != 0) {
    if (dc->fd >= 0) close(dc->fd);
    memcpy(dc->path, path, dl);
    dc->path[dl] = '\0';
    dc->len = dl;
    dc->fd = open(dc->path, DIR_FLAGS);
    if (dc->fd < 0) return AT_FDCWD;
  }
  *name = path + slash;
  return dc->fd;
}

/* xattrs of path (of the open file fd when fd >= 0) as [[name, value], ...], null when none;
 * returns 0, or -1 when the JS scan must read them. */
static int read_xattrs(napi_env env, const char *path, int fd, napi_value *out) {
  char list[LIST_BYTES];
  ssize_t n = fd >= 0 ? F_LIST(fd, list, sizeof list) : S_LIST(path, list, sizeof list);
  if (n < 0) {
    if (errno == ENOTSUP || errno == EOPNOTSUPP) n = 0; /* as listXattrs: a filesystem without xattrs has none */
    else return -1; /* ERANGE (a huge list) or an error: the JS path reads or reports it */
  }
  napi_get_null(env, out);
  if (n == 0) return 0;
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) return -1;
  uint32_t count = 0;
  for (ssize_t off = 0; off < n;) {
    const char *name = list + off;
    size_t name_len = strnlen(name, (size_t)(n - off));
    off += (ssize_t)name_len + 1;
    if (name_len == 0) continue;
    ssize_t size = fd >= 0 ? F_GET(fd, name, NULL, 0) : S_GET(path, name, NULL, 0);
    if (size < 0) {
      if (errno == S_NOATTR) continue; /* removed since the list was read, as listXattrs */
      return -1;
    }
    void *value_data;
    napi_value value, name_v, pair;
    if (napi_create_buffer(env, size ? (size_t)size : 0, &value_data, &value) != napi_ok) return -1;
    if (size) {
      ssize_t got = fd >= 0 ? F_GET(fd, name, value_data, (size_t)size) : S_GET(path, name, value_data, (size_t)size);
      if (got < 0) {
        if (errno == S_NOATTR) continue;
        return -1; /* ERANGE: it grew in between; the JS path retries */
      }
      if (got != size) return -1;
    }
    if (napi_create_buffer_copy(env, name_len, name, NULL, &name_v) != napi_ok) return -1;
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name_v);
    napi_set_element(env, pair, 1, value);
    napi_set_element(env, arr, count++, pair);
  }
  if (count) *out = arr;
  return 0;
}

/* Whether read_xattrs found no xattr, or only an SELinux label (*label: its bytes without the
 * trailing NULs, as the JS scan takes it): the xattrs a packed file may have. */
static int only_label(napi_env env, napi_value xattrs, const uint8_t **label, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, xattrs, &t) != napi_ok) return 0;
  if (t == napi_null) return 1;
  uint32_t n = 0;
  napi_value pair, name, value;
  void *nd, *vd;
  size_t nl, vl;
  if (napi_get_array_length(env, xattrs, &n) != napi_ok || n != 1 || napi_get_element(env, xattrs, 0, &pair) != napi_ok ||
      napi_get_element(env, pair, 0, &name) != napi_ok || napi_get_element(env, pair, 1, &value) != napi_ok ||
      napi_get_buffer_info(env, name, &nd, &nl) != napi_ok || napi_get_buffer_info(env, value, &vd, &vl) != napi_ok) {
    return 0;
  }
  if (nl != 16 || memcmp(nd, "security.selinux", 16) != 0) return 0;
  while (vl > 0 && ((const uint8_t *)vd)[vl - 1] == 0) vl--;
  *label = vd;
  *len = vl;
  return 1;
}

/* Open the regular file the lstat saw, to read it: never through a symlink, never a fifo
 * (O_NONBLOCK: no wait for a writer), and only that inode: one swapped in meanwhile is left to the
 * JS path, which says so. -1 when not opened. */
static int open_seen(int dir, const char *name, const struct stat *seen) {
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat now;
  if (fstat(fd, &now) != 0 || !S_ISREG(now.st_mode) || now.st_dev != seen->st_dev || now.st_ino != seen->st_ino) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Read the whole small file open_seen opened into dst (at most `size` bytes), fstat it after (to
 * see a change while read) and close it; fills the content fields; 0 or -1. */
static int read_content(int fd, int64_t size, char *dst, int64_t *f) {
  int64_t got = 0;
  while (got < size) {
    ssize_t r = pread(fd, dst + got, (size_t)(size - got), (off_t)got);
    if (r < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (r == 0) break; /* shrank: the writer fails the entry, as with the JS read */
    got += r;
  }
  /* A file of size 0 with bytes to read (/proc, /sys: the size says nothing): size -1 after, which
   * the JS path names (src/fs/scan.ts changed()). One read more, for empty files only. */
  char probe;
  int more = size == 0 && pread(fd, &probe, 1, 0) > 0;
  struct stat after;
  int ok = fstat(fd, &after) == 0 && TIMES_FIT(after);
  close(fd);
  if (!ok) return -1;
  f[F_LENGTH] = got;
  f[F_SIZE_AFTER] = more ? -1 : (int64_t)after.st_size;
  f[F_MTIME_AFTER] = ST_NS(after, m);
  f[F_CTIME_AFTER] = ST_NS(after, c);
  return 0;
}

napi_value portarc_scan_batch(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "scanBatch: too few arguments");
    return NULL;
  }
  uint32_t start, end, read_max;
  bool sparse, is_array;
  napi_typedarray_type ttype;
  size_t tlen, buf_len;
  void *tdata, *buf;
  napi_value tbuf;
  size_t toff;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_value_uint32(env, argv[1], &start) != napi_ok || napi_get_value_uint32(env, argv[2], &end) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &ttype, &tlen, &tdata, &tbuf, &toff) != napi_ok || ttype != napi_bigint64_array ||
      napi_get_buffer_info(env, argv[4], &buf, &buf_len) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &read_max) != napi_ok || napi_get_value_bool(env, argv[6], &sparse) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "scanBatch(paths, start, end, BigInt64Array, Buffer, readMax, sparse)");
    return NULL;
  }
  /* pack: [names, params, uname, gname] (see above); pack_on stays 0 without it. */
  int pack_on = 0;
  napi_value names = NULL;
  int64_t pk_uid = -1, pk_gid = -1, pk_dev = 0, pk_ino = -1;
  void *uname = NULL, *gname = NULL;
  size_t uname_len = 0, gname_len = 0;
  napi_valuetype ptype = napi_undefined;
  if (argc >= 8 && napi_typeof(env, argv[7], &ptype) == napi_ok && ptype == napi_object) {
    napi_value pv[4];
    bool pk_array = false;
    napi_typedarray_type pt;
    size_t plen;
    void *pdata;
    napi_value pbuf;
    size_t poff;
    if (napi_is_array(env, argv[7], &pk_array) != napi_ok || !pk_array ||
        napi_get_element(env, argv[7], 0, &pv[0]) != napi_ok || napi_get_element(env, argv[7], 1, &pv[1]) != napi_ok ||
        napi_get_element(env, argv[7], 2, &pv[2]) != napi_ok || napi_get_element(env, argv[7], 3, &pv[3]) != napi_ok ||
        napi_is_array(env, pv[0], &is_array) != napi_ok || !is_array ||
        napi_get_typedarray_info(env, pv[1], &pt, &plen, &pdata, &pbuf, &poff) != napi_ok || pt != napi_bigint64_array || plen < 4 ||
        napi_get_buffer_info(env, pv[2], &uname, &uname_len) != napi_ok || napi_get_buffer_info(env, pv[3], &gname, &gname_len) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "scanBatch: pack must be [names: Buffer[], params: BigInt64Array(4), uname: Buffer, gname: Buffer]");
      return NULL;
    }
    const int64_t *pp = pdata;
    names = pv[0];
    pk_uid = pp[0];
    pk_gid = pp[1];
    pk_dev = pp[2];
    pk_ino = pp[3];
    pack_on = pk_uid >= 0 && pk_gid >= 0;
  }
  int64_t *fields = tdata;
  size_t room = tlen / SCAN_FIELDS;
  if (end > start + room) end = start + (uint32_t)room;
  napi_value result;
  napi_create_array(env, &result);
  char path[PATH_MAX_BYTES + 1];
  dir_cache_t dc;
  dc.fd = -1;
  size_t used = 0;
  uint32_t k = 0;
  for (uint32_t i = start; i < end; i++, k++) {
    int64_t *f = fields + (size_t)k * SCAN_FIELDS;
    memset(f, 0, SCAN_FIELDS * sizeof *f);
    napi_value item, xattrs;
    void *pdata;
    size_t plen;
    bool is_buffer = false;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || napi_is_buffer(env, item, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, item, &pdata, &plen) != napi_ok) {
      if (dc.fd >= 0) close(dc.fd);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "scanBatch: paths must be Buffers");
      return NULL;
    }
    napi_get_null(env, &xattrs);
    /* A path too long for this buffer, or with a NUL: left to the JS path (which reports it). */
    if (plen == 0 || plen > PATH_MAX_BYTES || memchr(pdata, 0, plen) != NULL) {
      napi_set_element(env, result, k, xattrs);
      continue;
    }
    memcpy(path, pdata, plen);
    path[plen] = '\0';
    struct stat st;
    const char *name;
    int dir = at_dir(&dc, path, plen, &name);
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      napi_set_element(env, result, k, xattrs);
      continue;
    }
    if (!TIMES_FIT(st)) {
      /* Left to the JS path's BigInt lstat; a directory is walked into before the next items,
       * so the call stops after it as after any directory. */
      napi_set_element(env, result, k, xattrs);
      if (S_ISDIR(st.st_mode)) {
        k++;
        break;
      }
      continue;
    }
    int is_dir = S_ISDIR(st.st_mode);
    int64_t size = (int64_t)st.st_size;
    /* Stop before a file that would not fit in what is left of the buffer (the next call has it all). */
    int readable = S_ISREG(st.st_mode) && st.st_nlink == 1 && size <= (int64_t)read_max &&
                   !(sparse && (int64_t)st.st_blocks * 512 < size);
    /* Packed: its headers and padding go around the content (at most PACK_HEADER_MAX + 511 more). */
    int packable = pack_on && readable && (int64_t)st.st_uid == pk_uid && (int64_t)st.st_gid == pk_gid &&
                   !((int64_t)st.st_dev == pk_dev && (int64_t)st.st_ino == pk_ino);
    size_t want = (size_t)size + (packable ? PACK_HEADER_MAX + 511 : 0);
    if (readable && used + want > buf_len) {
      if (k > 0) break;
      readable = packable = 0;
    }
    f[F_FLAGS] = FLAG_STAT;
    f[F_DEV] = (int64_t)st.st_dev;
    f[F_INO] = (int64_t)st.st_ino;
    f[F_MODE] = (int64_t)st.st_mode;
    f[F_NLINK] = (int64_t)st.st_nlink;
    f[F_UID] = (int64_t)st.st_uid;
    f[F_GID] = (int64_t)st.st_gid;
    f[F_RDEV] = (int64_t)st.st_rdev;
    f[F_SIZE] = size;
    f[F_BLOCKS] = (int64_t)st.st_blocks;
    f[F_ATIME] = ST_NS(st, a);
    f[F_MTIME] = ST_NS(st, m);
    f[F_CTIME] = ST_NS(st, c);
    /* A file to read is opened first: its xattrs are then read through its descriptor. */
    int fd = readable ? open_seen(dir, name, &st) : -1;
    if (read_xattrs(env, path, fd, &xattrs) == 0) f[F_FLAGS] |= FLAG_XATTRS;
    else napi_get_null(env, &xattrs);
    napi_value member = NULL;
    void *mdata = NULL;
    size_t mlen = 0;
    pack_entry_t pe;
    if (packable && fd >= 0 && (f[F_FLAGS] & FLAG_XATTRS)) {
      bool mbuf = false;
      const uint8_t *label = NULL;
      size_t label_len = 0;
      packable = only_label(env, xattrs, &label, &label_len) &&
                 napi_get_element(env, names, i, &member) == napi_ok && napi_is_buffer(env, member, &mbuf) == napi_ok && mbuf &&
                 napi_get_buffer_info(env, member, &mdata, &mlen) == napi_ok;
      if (packable) {
        pe = (pack_entry_t){mdata, mlen, (uint32_t)st.st_mode, (int64_t)st.st_uid, (int64_t)st.st_gid, size,
                            f[F_ATIME], f[F_MTIME], f[F_CTIME], uname, uname_len, gname, gname_len, label, label_len};
        packable = pack_fits(&pe);
      }
    } else packable = 0;
    if (packable) {
      /* The headers (from the lstat alone), the content after them, then the padding. */
      uint8_t *at = (uint8_t *)buf + used;
      size_t h = pack_headers(&pe, at);
      if (read_content(fd, size, (char *)at + h, f) == 0) {
        int same = f[F_LENGTH] == size && f[F_SIZE_AFTER] == size && f[F_MTIME_AFTER] == f[F_MTIME] && f[F_CTIME_AFTER] == f[F_CTIME];
        if (same) {
          size_t pad = (size_t)((512 - size % 512) % 512);
          memset(at + h + size, 0, pad);
          f[F_FLAGS] |= FLAG_PACKED;
          f[F_OFFSET] = (int64_t)used;
          f[F_DATA] = (int64_t)h;
          f[F_LENGTH] = (int64_t)(h + (size_t)size + pad);
          used += h + (size_t)size + pad;
        } else {
          /* Changed while read: the JS path says so (tar's "file changed as we read it"). */
          f[F_FLAGS] |= FLAG_CONTENT;
          f[F_OFFSET] = (int64_t)(used + h);
          used += h + (size_t)f[F_LENGTH];
        }
      }
    } else if (fd >= 0 && read_content(fd, size, (char *)buf + used, f) == 0) {
      f[F_FLAGS] |= FLAG_CONTENT;
      f[F_OFFSET] = (int64_t)used;
      used += (size_t)f[F_LENGTH];
    }
    napi_set_element(env, result, k, xattrs);
    if (is_dir) {
      k++;
      break;
    }
  }
  if (dc.fd >= 0) close(dc.fd);
  return result;
}
