/*
 * portarc_sys: the few system calls portarc needs that Node's fs does not offer.
 *
 * DESIGN: Node's fs.utimes/lutimes loses sub-microsecond digits, fs cannot make
 * fifos or device nodes, and no npm addon offers no-follow xattr calls taking
 * Buffer paths (paths are bytes, not necessarily UTF-8). So this is a small,
 * plain C N-API addon (no node-addon-api) wrapped by src/fs/sys.ts, which also
 * has a slower fallback through getfattr/setfattr/mknod for when it is not built.
 *
 * Every function takes the path as a Buffer and never follows a symlink.
 * Errors are thrown as JS Errors with `code` ('ENOENT', ...), `errno` and
 * `syscall`, and a message like "lsetxattr user.x: Operation not supported".
 *
 * Linux is what is tested; macOS compiles (XATTR_NOFOLLOW, ENOATTR is reported
 * as 'ENODATA' so callers see one code for "no such attribute").
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syncfs */
#endif
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <time.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#ifdef __APPLE__
#define LIST_XATTR(p, b, n) listxattr((p), (b), (n), XATTR_NOFOLLOW)
#define GET_XATTR(p, k, b, n) getxattr((p), (k), (b), (n), 0, XATTR_NOFOLLOW)
#define SET_XATTR(p, k, v, n) setxattr((p), (k), (v), (n), 0, XATTR_NOFOLLOW)
#define REMOVE_XATTR(p, k) removexattr((p), (k), XATTR_NOFOLLOW)
#define SYS_LIST "listxattr"
#define SYS_GET "getxattr"
#define SYS_SET "setxattr"
#define SYS_REMOVE "removexattr"
#define ENO_ATTR ENOATTR /* "no such attribute" */
#else
#define LIST_XATTR(p, b, n) llistxattr((p), (b), (n))
#define GET_XATTR(p, k, b, n) lgetxattr((p), (k), (b), (n))
#define SET_XATTR(p, k, v, n) lsetxattr((p), (k), (v), (n), 0)
#define REMOVE_XATTR(p, k) lremovexattr((p), (k))
#define SYS_LIST "llistxattr"
#define SYS_GET "lgetxattr"
#define SYS_SET "lsetxattr"
#define SYS_REMOVE "lremovexattr"
#define ENO_ATTR ENODATA
#endif

/* How often a size-then-read pair is retried when the list or value grew in between. */
#define MAX_RETRIES 16

/* ---- errors ------------------------------------------------------------ */

static const struct { int num; const char *name; } ERRNO_NAMES[] = {
  {EPERM, "EPERM"},   {ENOENT, "ENOENT"},   {EIO, "EIO"},         {E2BIG, "E2BIG"},
  {EBADF, "EBADF"},   {ENOMEM, "ENOMEM"},   {EACCES, "EACCES"},   {EFAULT, "EFAULT"},
  {EBUSY, "EBUSY"},   {EEXIST, "EEXIST"},   {EXDEV, "EXDEV"},     {ENODEV, "ENODEV"},
  {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"}, {EINVAL, "EINVAL"},   {EFBIG, "EFBIG"},
  {ENOSPC, "ENOSPC"}, {EROFS, "EROFS"},     {ERANGE, "ERANGE"},   {ENAMETOOLONG, "ENAMETOOLONG"},
  {ENOSYS, "ENOSYS"}, {ELOOP, "ELOOP"},     {ENO_ATTR, "ENODATA"}, {ENOTSUP, "ENOTSUP"},
  {EOPNOTSUPP, "EOPNOTSUPP"}, /* same number as ENOTSUP on Linux: the first match wins */
  {EDQUOT, "EDQUOT"},
};

static void errno_name(int err, char *out, size_t size) {
  for (size_t i = 0; i < sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0]; i++) {
    if (ERRNO_NAMES[i].num == err) {
      snprintf(out, size, "%s", ERRNO_NAMES[i].name);
      return;
    }
  }
  snprintf(out, size, "E%d", err);
}

/* Throw Error("<syscall> <what>: <strerror>") with code, errno and syscall. Returns NULL. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char code[32], msg[1024];
  errno_name(err, code, sizeof code);
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, what, strerror(err));
  napi_value code_v, msg_v, error, errno_v, syscall_v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v);
  napi_create_error(env, code_v, msg_v, &error);
  napi_create_int32(env, err, &errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* ---- arguments ----------------------------------------------------------- */

/* Fetch exactly `want` arguments; throws and returns 0 when fewer were passed. */
static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    throw_type(env, "too few arguments");
    return 0;
  }
  return 1;
}

/* A NUL-terminated malloc'ed copy of a Buffer argument, or NULL after throwing. */
static char *buffer_arg(napi_env env, napi_value v, const char *what) {
  bool is_buffer = false;
  void *data;
  size_t len;
  char msg[128];
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, v, &data, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a Buffer", what);
    throw_type(env, msg);
    return NULL;
  }
  if (memchr(data, 0, len) != NULL) {
    snprintf(msg, sizeof msg, "%s must not contain NUL bytes", what);
    throw_type(env, msg);
    return NULL;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    throw_errno(env, ENOMEM, "malloc", what);
    return NULL;
  }
  if (len) memcpy(copy, data, len);
  copy[len] = '\0';
  return copy;
}

/* A malloc'ed UTF-8 copy of a string argument, or NULL after throwing. */
static char *string_arg(napi_env env, napi_value v, const char *what) {
  size_t len;
  char msg[128];
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    throw_errno(env, ENOMEM, "malloc", what);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "%s must not contain NUL characters", what);
    throw_type(env, msg);
    return NULL;
  }
  return s;
}

/* A whole number 0..2^32-1 (napi_get_value_uint32 would wrap 2^33 to 0: another device, silently). */
static int uint32_arg(napi_env env, napi_value v, uint32_t *out, const char *what) {
  char msg[128];
  double d = -1;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    snprintf(msg, sizeof msg, "%s must be a whole number from 0 to 4294967295", what);
    throw_type(env, msg);
    return 0;
  }
  *out = (uint32_t)d;
  return 1;
}

/* ---- xattrs ---------------------------------------------------------------- */

/*
 * Read one value into *out (malloc'ed, *len bytes). Returns 0 on success, else an errno.
 * ENO_ATTR means the attribute vanished between list and get.
 */
static int read_value(const char *path, const char *name, char **out, size_t *len) {
  for (int tries = 0; tries < MAX_RETRIES; tries++) {
    ssize_t size = GET_XATTR(path, name, NULL, 0);
    if (size < 0) return errno;
    char *buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL) return ENOMEM;
    ssize_t got = GET_XATTR(path, name, buf, (size_t)size);
    if (got >= 0) {
      *out = buf;
      *len = (size_t)got;
      return 0;
    }
    int err = errno;
    free(buf);
    if (err != ERANGE) return err; /* ERANGE: it grew in between, ask again */
  }
  return ERANGE;
}

/* listXattrs(path: Buffer): Array<[name: Buffer, value: Buffer]> */
static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;

  char *names = NULL;
  ssize_t names_len = -1;
  int err = 0;
  for (int tries = 0; tries < MAX_RETRIES && names_len < 0; tries++) {
    ssize_t size = LIST_XATTR(path, NULL, 0);
    if (size < 0) { err = errno; break; }
    names = malloc(size ? (size_t)size : 1);
    if (names == NULL) { err = ENOMEM; break; }
    names_len = LIST_XATTR(path, names, (size_t)size);
    if (names_len < 0) {
      err = errno;
      free(names);
      names = NULL;
      if (err != ERANGE) break; /* ERANGE: the list grew in between, ask again */
    }
  }
  if (names_len < 0) {
    if (err == ENOTSUP || err == EOPNOTSUPP) {
      napi_create_array(env, &result); /* a filesystem without xattrs has none */
    } else {
      throw_errno(env, err, SYS_LIST, path);
    }
    free(path);
    return result;
  }

  napi_create_array(env, &result);
  uint32_t count = 0;
  for (ssize_t off = 0; off < names_len;) {
    const char *name = names + off;
    size_t name_len = strnlen(name, (size_t)(names_len - off));
    off += (ssize_t)name_len + 1;
    if (name_len == 0) continue;
    char *value = NULL;
    size_t value_len = 0;
    err = read_value(path, name, &value, &value_len);
    if (err == ENO_ATTR) continue; /* removed since the list was read */
    if (err != 0) {
      throw_errno(env, err, SYS_GET, name);
      result = NULL;
      break;
    }
    napi_value pair, name_v, value_v;
    napi_create_buffer_copy(env, name_len, name, NULL, &name_v);
    napi_create_buffer_copy(env, value_len, value, NULL, &value_v);
    free(value);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name_v);
    napi_set_element(env, pair, 1, value_v);
    napi_set_element(env, result, count++, pair);
  }
  free(names);
  free(path);
  return result;
}

/* setXattr(path: Buffer, name: string, value: Buffer): void */
static napi_value set_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  bool is_buffer = false;
  void *value;
  size_t value_len;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &value, &value_len) != napi_ok) {
    return throw_type(env, "value must be a Buffer");
  }
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = string_arg(env, argv[1], "name");
  if (name != NULL && SET_XATTR(path, name, value_len ? value : "", value_len) != 0) {
    throw_errno(env, errno, SYS_SET, name);
  }
  free(name);
  free(path);
  return NULL;
}

/* removeXattr(path: Buffer, name: string): void */
static napi_value remove_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = string_arg(env, argv[1], "name");
  if (name != NULL && REMOVE_XATTR(path, name) != 0) {
    throw_errno(env, errno, SYS_REMOVE, name);
  }
  free(name);
  free(path);
  return NULL;
}

/* ---- times and nodes ------------------------------------------------------- */

/*
 * A bigint of nanoseconds since the epoch to a timespec, by floor division (tv_nsec in [0, 1e9)).
 * Up to 128 bits are read: an int64 of nanoseconds ends in 2262, and ext4 holds times to 2446
 * (a GNU tar archive with a file of 2400 was refused). 1: done; 0: a bigint whose seconds do not
 * fit in a time_t; -1: not a bigint.
 */
static int bigint_timespec(napi_env env, napi_value v, struct timespec *out) {
  int sign = 0;
  size_t count = 2;
  uint64_t words[2] = {0, 0};
  if (napi_get_value_bigint_words(env, v, &sign, &count, words) != napi_ok) return -1;
  if (count > 2) return 0;
#ifdef __SIZEOF_INT128__
  unsigned __int128 m = ((unsigned __int128)words[1] << 64) | words[0];
  unsigned __int128 q = m / 1000000000u;
  uint64_t r = (uint64_t)(m % 1000000000u);
#else
  if (words[1] != 0) return 0;
  uint64_t q = words[0] / 1000000000u, r = words[0] % 1000000000u;
#endif
  if (sign && r != 0) {
    q += 1; /* floor: -1.5 s is -2 s + 0.5 s */
    r = 1000000000u - r;
  }
  if (q > (sign ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) return 0;
  if (sizeof(time_t) < 8 && q > (uint64_t)INT32_MAX) return 0;
  out->tv_sec = sign ? (time_t)(-(int64_t)(q - 1) - 1) : (time_t)q;
  out->tv_nsec = (long)r;
  return 1;
}

/* setTimes(path: Buffer, atimeNs: bigint, mtimeNs: bigint): void */
static napi_value set_times(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct timespec ts[2];
  if (!get_args(env, info, 3, argv)) return NULL;
  for (int i = 0; i < 2; i++) {
    int got = bigint_timespec(env, argv[1 + i], &ts[i]);
    if (got < 0) return throw_type(env, i ? "mtimeNs must be a bigint" : "atimeNs must be a bigint");
    if (got == 0) {
      char *p = buffer_arg(env, argv[0], "path");
      if (p == NULL) return NULL;
      throw_errno(env, EOVERFLOW, "utimensat", p);
      free(p);
      return NULL;
    }
  }
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno(env, errno, "utimensat", path);
  }
  free(path);
  return NULL;
}

/* mknod(path: Buffer, mode: number (st_mode incl. the type bits), major: number, minor: number): void */
static napi_value make_node(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint32_t mode, major_n, minor_n;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (!uint32_arg(env, argv[1], &mode, "mode") || !uint32_arg(env, argv[2], &major_n, "major") ||
      !uint32_arg(env, argv[3], &minor_n, "minor")) {
    return NULL;
  }
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;
  if (mknod(path, (mode_t)mode, makedev(major_n, minor_n)) != 0) {
    throw_errno(env, errno, "mknod", path);
  }
  free(path);
  return NULL;
}

/*
 * syncFs(path: Buffer): void — flush the whole filesystem holding `path` (Linux syncfs; sync()
 * elsewhere). One call makes a batch of extracted files durable before they are renamed into
 * place: one journal commit instead of one fsync per file.
 */
static napi_value sync_fs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = buffer_arg(env, argv[0], "path");
  if (path == NULL) return NULL;
#ifdef __linux__
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "open", path);
  } else {
    if (syncfs(fd) != 0) throw_errno(env, errno, "syncfs", path);
    close(fd);
  }
#else
  sync();
#endif
  free(path);
  return NULL;
}

/*
 * openBeneath(root: Buffer, dir: Buffer): number — an fd (O_PATH|O_DIRECTORY) of `dir`, opened from
 * `root` one component at a time without following a symlink (native/restore.c): restore.ts applies
 * a directory's metadata through it, so that a directory swapped for a symlink meanwhile is not
 * followed out of the destination. Throws with the errno (ELOOP, ENOTDIR: something was swapped).
 */
int portarc_open_beneath(const char *root, const char *dir);
static napi_value open_beneath(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *root = buffer_arg(env, argv[0], "root");
  if (root == NULL) return NULL;
  char *dir = buffer_arg(env, argv[1], "dir");
  if (dir == NULL) {
    free(root);
    return NULL;
  }
  int fd = portarc_open_beneath(root, dir);
  int err = errno;
  napi_value out = NULL;
  if (fd < 0) throw_errno(env, err, "open", dir);
  else napi_create_int32(env, fd, &out);
  free(root);
  free(dir);
  return out;
}

/*
 * dataExtents(fd: number, size: number): Float64Array | null — where the file's data is, as
 * [start, end) pairs from lseek SEEK_DATA/SEEK_HOLE (what is outside them reads as zeros); null
 * where the system cannot say (no SEEK_DATA, or the filesystem refuses it). The create scan of a
 * sparse file (-S) then reads only the data, not every byte of a 20 GiB file of holes.
 */
static napi_value data_extents(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  uint32_t fd;
  double size_d;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!uint32_arg(env, argv[0], &fd, "fd")) return NULL;
  if (napi_get_value_double(env, argv[1], &size_d) != napi_ok || !(size_d >= 0)) return throw_type(env, "size must be a number");
  napi_get_null(env, &result);
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
  off_t size = (off_t)size_d;
  size_t cap = 64, n = 0;
  double *pairs = malloc(cap * sizeof *pairs);
  if (!pairs) return result;
  for (off_t at = 0; at < size;) {
    off_t data = lseek((int)fd, at, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* no data after `at`: the rest is a hole */
      free(pairs);
      return result; /* not supported here: the caller reads it all */
    }
    if (data >= size) break;
    off_t hole = lseek((int)fd, data, SEEK_HOLE);
    if (hole < 0) {
      free(pairs);
      return result;
    }
    if (hole > size) hole = size;
    if (n + 2 > cap) {
      cap *= 2;
      double *bigger = realloc(pairs, cap * sizeof *pairs);
      if (!bigger) {
        free(pairs);
        return result;
      }
      pairs = bigger;
    }
    pairs[n++] = (double)data;
    pairs[n++] = (double)hole;
    at = hole;
  }
  napi_value ab;
  void *out;
  if (napi_create_arraybuffer(env, n * sizeof(double), &out, &ab) == napi_ok) {
    if (n) memcpy(out, pairs, n * sizeof(double));
    napi_create_typedarray(env, napi_float64_array, n, ab, 0, &result);
  }
  free(pairs);
#else
  (void)fd;
#endif
  return result;
}

/* ---- module ----------------------------------------------------------------- */

/* native/restore.c */
napi_value portarc_restore_files(napi_env env, napi_callback_info info);
napi_value portarc_strerror(napi_env env, napi_callback_info info);
int portarc_restore_hashes(void);
napi_value portarc_scan_batch(napi_env env, napi_callback_info info); /* native/scan.c */
void gf16_register(napi_env env, napi_value exports); /* native/gf16.c: the PAR2 kernel */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"listXattrs", NULL, list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"removeXattr", NULL, remove_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setTimes", NULL, set_times, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mknod", NULL, make_node, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syncFs", NULL, sync_fs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dataExtents", NULL, data_extents, NULL, NULL, NULL, napi_enumerable, NULL},
    {"restoreFiles", NULL, portarc_restore_files, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openBeneath", NULL, open_beneath, NULL, NULL, NULL, napi_enumerable, NULL},
    {"strerror", NULL, portarc_strerror, NULL, NULL, NULL, napi_enumerable, NULL},
    {"scanBatch", NULL, portarc_scan_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  /* restoreFiles can hash contents (its digests argument) where the runtime exports SHA256(). */
  napi_value hashes;
  napi_get_boolean(env, portarc_restore_hashes(), &hashes);
  napi_set_named_property(env, exports, "restoreHashes", hashes);
  gf16_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
