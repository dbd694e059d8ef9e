/*
 * restore.c: restore a batch of small regular files in one call, on the libuv threadpool.
 * Spec: spec/portarc-1.md §9 (restore); DESIGN §3. Wrapped by src/fs/sys.ts (restoreFiles) and
 * driven by src/fs/restore.ts, which decides everything (names, owners, modes, which xattrs,
 * the temporary names): this file only makes the system calls, in the order the JS path makes
 * them, and reports each failure with its errno so that restore.ts reports exactly what the JS
 * path would.
 *
 * DESIGN: one extraction of many small files was ~10 JS<->system crossings per file (open,
 * write, close, lchown, lsetxattr..., chmod, utimensat, lstat, rename), all on the main thread.
 * Here a batch goes to a worker thread as one napi async work: while it runs, JS parses the next
 * entries. Per file, relative to an fd of its parent directory (opened from the destination one component
 * at a time, never through a symlink: see portarc_open_beneath):
 *   openat(tmp, O_CREAT|O_EXCL|O_NOFOLLOW, 0600)  never through a symlink, never an old file
 *   write...; fchown; fsetxattr...; fchmod; futimens; [fstat for the inode]; close
 * Two of those are skipped where they would change nothing (one system call each, 50,000 files):
 * fchown to the owner the file was created with (the process's, and the directory's group for a
 * setgid directory), and fchmod when restore.ts says the file may be created with its mode
 * (P_EXACT: the umask takes none of its bits, nor a setuid/setgid/sticky, group or other write bit).
 *   renameat(tmp -> name)                      after one syncfs for the batch when fsync is on;
 *                                              a directory in the way (EISDIR) goes back to JS
 * A file that failed to be created or written, or to be renamed, has its temporary removed.
 *
 * Content digests (spec/manifest.md §11): a file may ask for the SHA-256 of its content, hashed
 * here on the threadpool just before it is written (the bytes are then in the CPU's cache) rather
 * than on the main thread, where it was ~5% of an extraction of small files. Its 64 hex digits go
 * to `digests` at 64 * i. Asked to compare (the manifest's digest already there), a file whose
 * content differs is written and dressed but not renamed (STOP_DIGEST): restore.ts sets its
 * temporary aside, as the JS path does. SHA256() is the OpenSSL Node links in, found at run time
 * so that this module loads on a runtime that does not export it (restoreHashes() is 0: the
 * JavaScript hashes).
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syncfs */
#endif
#include <node_api.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h> /* NAME_MAX */
#include <stdint.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifdef __APPLE__
#define FSET_XATTR(fd, k, v, n) fsetxattr((fd), (k), (v), (n), 0, 0)
#else
#define FSET_XATTR(fd, k, v, n) fsetxattr((fd), (k), (v), (n), 0)
#endif

/* Where a file's restore stopped (0: it did not). */
enum { STOP_NONE = 0, STOP_DIR_IN_WAY = 1, STOP_OPEN = 2, STOP_WRITE = 3, STOP_RENAME = 4, STOP_LSTAT = 5, STOP_DIGEST = 6 };

/* What a file asks of its content's digest (src/fs/sys.ts BP.DIGEST). */
enum { DIGEST_NONE = 0, DIGEST_REPORT = 1, DIGEST_COMPARE = 2 };

typedef unsigned char *(*sha256_fn)(const unsigned char *data, size_t len, unsigned char *md);
static sha256_fn sha256_once;

/* 1 when SHA256() is there to hash with (looked up once). */
int portarc_restore_hashes(void) {
  if (!sha256_once) sha256_once = (sha256_fn)dlsym(RTLD_DEFAULT, "SHA256");
  return sha256_once != NULL;
}

typedef struct {
  char *name;
  char *value;
  size_t len;
} xattr_item;

typedef struct {
  char *dir, *name, *tmp;
  size_t off, len;
  int64_t uid, gid; /* -1: leave the owner */
  uint32_t mode;
  int exact; /* created with `mode`: no fchmod */
  struct timespec times[2]; /* atime, mtime */
  int times_fit; /* 0: a time past what a time_t holds (time_err EOVERFLOW, no futimens) */
  int want_ino;
  int digest; /* DIGEST_* */
  uint32_t nx;
  xattr_item *xs;
  /* results */
  int stop, stop_err;
  int owner_err, mode_err, time_err;
  int *x_err; /* per xattr */
  int digest_bad; /* DIGEST_COMPARE: the content is not what was expected */
  double ino;
} file_item;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref data_ref;
  const char *data;
  size_t data_len;
  char *digests; /* 64 hex digits a file, in the caller's Buffer (digests_ref) */
  napi_ref digests_ref;
  int fsync;
  char *sync_path;
  char *names; /* the items' dir, name and tmp point into this copy */
  int sync_err;
  uint32_t n;
  file_item *items;
  /* The owner a file gets when created in the open directory: the process's, or the directory's
   * group when it is setgid. */
  int64_t new_uid, new_gid;
} batch;

static const char HEX[] = "0123456789abcdef";

/* The content's digest into its place in b->digests; compared first with what is there. */
static void hash_one(batch *b, file_item *it) {
  unsigned char md[32];
  char hex[64];
  sha256_once((const unsigned char *)b->data + it->off, it->len, md);
  for (int j = 0; j < 32; j++) {
    hex[2 * j] = HEX[md[j] >> 4];
    hex[2 * j + 1] = HEX[md[j] & 15];
  }
  char *at = b->digests + 64 * (size_t)(it - b->items);
  if (it->digest == DIGEST_COMPARE && memcmp(at, hex, 64) != 0) it->digest_bad = 1;
  memcpy(at, hex, 64);
}

/* Create, fill and dress one file under its temporary name. Returns with it->stop set on failure. */
static void make_one(batch *b, file_item *it, int dirfd) {
  struct stat st;
  /* No lstat of the name first (one system call a file): a directory in the way is found by the
   * rename (EISDIR). A name too long is known without asking: the JS path's lstat fails so. */
  if (strlen(it->name) > NAME_MAX) {
    it->stop = STOP_LSTAT;
    it->stop_err = ENAMETOOLONG;
    return;
  }
  if (it->digest != DIGEST_NONE) hash_one(b, it);
  /* Wrong content is written as the JS path writes it before it is judged: 0600, undressed. */
  int exact = it->exact && !it->digest_bad;
  int fd = openat(dirfd, it->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exact ? (mode_t)it->mode : 0600);
  if (fd < 0) {
    it->stop = STOP_OPEN;
    it->stop_err = errno;
    return;
  }
  const char *p = b->data + it->off;
  for (size_t left = it->len; left > 0;) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      it->stop = STOP_WRITE;
      it->stop_err = errno;
      close(fd);
      unlinkat(dirfd, it->tmp, 0);
      return;
    }
    p += w;
    left -= (size_t)w;
  }
  if (it->digest_bad) {
    close(fd);
    return;
  }
  /* The JS path's order: owner, xattrs (SELinux label and ACLs among them), mode, times. */
  /* -1 leaves that id as it is (restore.ts passes it for an id this system cannot hold). */
  int same_owner = (it->uid < 0 || it->uid == b->new_uid) && (it->gid < 0 || it->gid == b->new_gid);
  if ((it->uid >= 0 || it->gid >= 0) && !same_owner && fchown(fd, (uid_t)it->uid, (gid_t)it->gid) != 0) it->owner_err = errno;
  for (uint32_t i = 0; i < it->nx; i++) {
    if (FSET_XATTR(fd, it->xs[i].name, it->xs[i].len ? it->xs[i].value : "", it->xs[i].len) != 0) it->x_err[i] = errno;
  }
  if (!it->exact && fchmod(fd, (mode_t)it->mode) != 0) it->mode_err = errno;
  if (!it->times_fit) it->time_err = EOVERFLOW;
  else if (futimens(fd, it->times) != 0) it->time_err = errno;
  if (it->want_ino && fstat(fd, &st) == 0) it->ino = (double)st.st_ino;
  close(fd);
}

static void rename_one(file_item *it, int dirfd) {
  if (renameat(dirfd, it->tmp, dirfd, it->name) != 0) {
    /* A file is not renamed onto a directory: restore.ts clears it (when empty) and tries again. */
    it->stop = errno == EISDIR ? STOP_DIR_IN_WAY : STOP_RENAME;
    it->stop_err = errno;
    unlinkat(dirfd, it->tmp, 0);
  }
}

/*
 * Open directory `dir` with no symlink followed below `root` (the destination): each component
 * opened with O_NOFOLLOW relative to the one before. restore.ts checked these directories when it
 * made them, but another process may swap one for a symlink since (spec §9.2 rule 2): opened by
 * path, the symlink was followed out of the destination. Refused instead (ELOOP or ENOTDIR): the
 * files of that directory fail, each named. A `dir` not under `root` is a deep path named through
 * /proc/self/fd (deep-paths.ts), whose anchor is a directory held open: opened as it is given.
 * O_PATH: a directory is only looked up in (openat, renameat, fstat), never read, so a user needs
 * only its search bit, as by path (a directory of mode 0311 is written into as before).
 */
#define BENEATH (O_PATH | O_DIRECTORY | O_CLOEXEC)
int portarc_open_beneath(const char *root, const char *dir) {
  size_t rl = strlen(root);
  while (rl > 0 && root[rl - 1] == '/') rl--; /* "/" (extract -C /) is rl 0 */
  if (strncmp(dir, root, rl) != 0 || (dir[rl] != '/' && dir[rl] != 0)) return open(dir, BENEATH | O_NOFOLLOW);
  int fd = open(rl ? root : "/", BENEATH);
  char comp[NAME_MAX + 1];
  for (const char *p = dir + rl; fd >= 0 && *p;) {
    if (*p == '/') {
      p++;
      continue;
    }
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n > NAME_MAX) {
      close(fd);
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(comp, p, n);
    comp[n] = 0;
    int next = openat(fd, comp, BENEATH | O_NOFOLLOW);
    int err = errno;
    close(fd);
    errno = err;
    fd = next;
    p += n;
  }
  return fd;
}

/* Open the parent directory of item i, reusing the previous fd when it is the same directory. */
static int dir_fd(batch *b, uint32_t i, int *fd, const char **open_dir) {
  file_item *it = &b->items[i];
  if (*open_dir && strcmp(*open_dir, it->dir) == 0) return *fd;
  if (*fd >= 0) close(*fd);
  *open_dir = it->dir;
  *fd = portarc_open_beneath(b->sync_path, it->dir);
  struct stat st;
  b->new_uid = (int64_t)geteuid();
  b->new_gid = (int64_t)getegid();
  if (*fd >= 0 && fstat(*fd, &st) == 0) {
    if (st.st_mode & S_ISGID) b->new_gid = (int64_t)st.st_gid;
  } else b->new_uid = b->new_gid = -2; /* unknown: fchown is not skipped */
  return *fd;
}

/*
 * A descriptor for syncfs: the destination, or where the user may write into and search it but
 * not read it (mode 0311: open fails with EACCES), one of the batch's own files, which are on the
 * same filesystem. -1 with errno when there is none.
 */
static int sync_fd(batch *b, int *fd, const char **open_dir) {
  int sfd = open(b->sync_path, O_RDONLY | O_CLOEXEC);
  if (sfd >= 0 || errno != EACCES) return sfd;
  for (uint32_t i = 0; i < b->n; i++) {
    file_item *it = &b->items[i];
    if (it->stop != STOP_NONE) continue;
    int dirfd = dir_fd(b, i, fd, open_dir);
    if (dirfd < 0) {
      *open_dir = NULL;
      continue;
    }
    sfd = openat(dirfd, it->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) sfd = openat(dirfd, it->tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd >= 0) return sfd;
  }
  errno = EACCES;
  return -1;
}

static void execute(napi_env env, void *data) {
  batch *b = data;
  int fd = -1;
  const char *open_dir = NULL;
  for (uint32_t i = 0; i < b->n; i++) {
    file_item *it = &b->items[i];
    int dirfd = dir_fd(b, i, &fd, &open_dir);
    if (dirfd < 0) {
      it->stop = STOP_OPEN;
      it->stop_err = errno;
      open_dir = NULL;
      continue;
    }
    make_one(b, it, dirfd);
    /* Wrong content never gets the name: its temporary stays for restore.ts to set aside. */
    if (it->stop == STOP_NONE && it->digest_bad) it->stop = STOP_DIGEST;
    if (!b->fsync && it->stop == STOP_NONE) rename_one(it, dirfd);
  }
  if (b->fsync) {
    /* One syncfs makes the whole batch's data durable before any of it gets its name. */
    int sfd = sync_fd(b, &fd, &open_dir);
#ifdef __linux__
    if (sfd < 0 || syncfs(sfd) != 0) b->sync_err = errno;
#else
    if (sfd < 0) b->sync_err = errno;
    else sync();
#endif
    if (sfd >= 0) close(sfd);
    for (uint32_t i = 0; i < b->n; i++) {
      file_item *it = &b->items[i];
      if (it->stop != STOP_NONE) continue;
      int dirfd = dir_fd(b, i, &fd, &open_dir);
      if (b->sync_err || dirfd < 0) {
        /* Not durable, or nowhere to rename: the temporary goes, the failure is reported. */
        it->stop = STOP_RENAME;
        it->stop_err = b->sync_err ? b->sync_err : errno;
        if (dirfd >= 0) unlinkat(dirfd, it->tmp, 0);
        if (dirfd < 0) open_dir = NULL;
        continue;
      }
      rename_one(it, dirfd);
    }
  }
  if (fd >= 0) close(fd);
}

static void free_batch(napi_env env, batch *b) {
  for (uint32_t i = 0; i < b->n; i++) {
    file_item *it = &b->items[i];
    for (uint32_t j = 0; j < it->nx; j++) {
      free(it->xs[j].name);
      free(it->xs[j].value);
    }
    free(it->xs);
    free(it->x_err);
  }
  free(b->items);
  free(b->names);
  free(b->sync_path);
  if (b->data_ref) napi_delete_reference(env, b->data_ref);
  if (b->digests_ref) napi_delete_reference(env, b->digests_ref);
  if (b->work) napi_delete_async_work(env, b->work);
  free(b);
}

static napi_value int_v(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/*
 * Resolves with { syncErr, inos: number[], failures: [[index, stop, stopErr, ownerErr, modeErr,
 * timeErr, [xattrIndex, errno, ...]], ...] } (errnos positive; 0 = fine).
 */
static void complete(napi_env env, napi_status status, void *data) {
  batch *b = data;
  napi_value result, inos, failures;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, b->n, &inos);
  napi_create_array(env, &failures);
  uint32_t nf = 0;
  for (uint32_t i = 0; i < b->n; i++) {
    file_item *it = &b->items[i];
    napi_value ino;
    napi_create_double(env, it->ino, &ino);
    napi_set_element(env, inos, i, ino);
    int xbad = 0;
    for (uint32_t j = 0; j < it->nx; j++) xbad |= it->x_err[j] != 0;
    if (!it->stop && !it->owner_err && !it->mode_err && !it->time_err && !xbad) continue;
    napi_value f, xs;
    napi_create_array_with_length(env, 7, &f);
    napi_set_element(env, f, 0, int_v(env, (int)i));
    napi_set_element(env, f, 1, int_v(env, it->stop));
    napi_set_element(env, f, 2, int_v(env, it->stop_err));
    napi_set_element(env, f, 3, int_v(env, it->owner_err));
    napi_set_element(env, f, 4, int_v(env, it->mode_err));
    napi_set_element(env, f, 5, int_v(env, it->time_err));
    napi_create_array(env, &xs);
    uint32_t k = 0;
    for (uint32_t j = 0; j < it->nx; j++) {
      if (!it->x_err[j]) continue;
      napi_set_element(env, xs, k++, int_v(env, (int)j));
      napi_set_element(env, xs, k++, int_v(env, it->x_err[j]));
    }
    napi_set_element(env, f, 6, xs);
    napi_set_element(env, failures, nf++, f);
  }
  napi_set_named_property(env, result, "syncErr", int_v(env, b->sync_err));
  napi_set_named_property(env, result, "inos", inos);
  napi_set_named_property(env, result, "failures", failures);
  if (status == napi_ok) {
    napi_resolve_deferred(env, b->deferred, result);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, "restoreFiles: the batch did not run", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, b->deferred, err);
  }
  free_batch(env, b);
}

/* ---- arguments ---------------------------------------------------------------- */

/* A NUL-terminated copy of a Buffer (or string) property; NULL when missing or holding a NUL. */
static char *copy_bytes(napi_env env, napi_value v) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) == napi_ok && is_buffer) {
    void *data;
    size_t len;
    if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || memchr(data, 0, len)) return NULL;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    if (len) memcpy(s, data, len);
    s[len] = 0;
    return s;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    return NULL;
  }
  return s;
}

static napi_value fail_type(napi_env env, batch *b, const char *msg) {
  free_batch(env, b);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* A typed array's elements, when it is one of `type` with at least `min` of them. */
static void *typed(napi_env env, napi_value v, napi_typedarray_type type, size_t min) {
  bool is = false;
  napi_typedarray_type t;
  size_t len;
  void *data;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return NULL;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, NULL, NULL) != napi_ok || t != type || len < min) return NULL;
  return data;
}

/* Numbers per file in params, and their order (src/fs/sys.ts: BATCH_PARAMS, BP). */
enum { P_OFF, P_LEN, P_UID, P_GID, P_MODE, P_INO, P_EXACT, P_DIGEST, P_COUNT };

/*
 * restoreFiles(data: Buffer, names: Buffer, params: Float64Array, times: BigInt64Array,
 *   xattrs: Array<number | string | Buffer>, count: number, fsync: boolean, syncPath: Buffer,
 *   digests?: Buffer): Promise<result of complete()>
 * File i: its directory, name and temporary name in `names`, each NUL-terminated, file after file;
 * P_COUNT numbers at params[i * P_COUNT]; atime and mtime in ns at times[2i] and times[2i + 1];
 * its xattrs as [i, name, value, ...] triples in `xattrs` (files in order). The batch is packed
 * so that handing it over costs no JS object per file (src/fs/sys.ts FileBatch). `data` holds
 * the contents: it is kept alive, and must not be changed, until the promise settles. `digests`
 * (64 bytes a file; needed when a file asks for its digest) likewise: it is written to.
 */
napi_value portarc_restore_files(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9], promise;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 8) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "restoreFiles: too few arguments");
    return NULL;
  }
  batch *b = calloc(1, sizeof *b);
  if (!b) {
    napi_throw_error(env, "ENOMEM", "restoreFiles: out of memory");
    return NULL;
  }
  bool is_buffer = false;
  void *data;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &b->data_len) != napi_ok) {
    return fail_type(env, b, "restoreFiles: data must be a Buffer");
  }
  b->data = data;
  uint32_t n = 0;
  if (napi_get_value_uint32(env, argv[5], &n) != napi_ok) return fail_type(env, b, "restoreFiles: count must be a number");
  void *names;
  size_t names_len = 0;
  is_buffer = false;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &names, &names_len) != napi_ok) {
    return fail_type(env, b, "restoreFiles: names must be a Buffer");
  }
  const double *params = typed(env, argv[2], napi_float64_array, (size_t)n * P_COUNT);
  const int64_t *times = typed(env, argv[3], napi_bigint64_array, (size_t)n * 2);
  if (!params || !times) return fail_type(env, b, "restoreFiles: params must be a Float64Array and times a BigInt64Array, for count files");
  uint32_t nxv = 0;
  if (napi_get_array_length(env, argv[4], &nxv) != napi_ok || nxv % 3) return fail_type(env, b, "restoreFiles: xattrs must be an array of (index, name, value) triples");
  bool fsync = false;
  napi_get_value_bool(env, argv[6], &fsync);
  b->fsync = fsync;
  b->sync_path = copy_bytes(env, argv[7]);
  if (!b->sync_path) return fail_type(env, b, "restoreFiles: syncPath must be a Buffer without NUL bytes");
  size_t digests_len = 0;
  is_buffer = false;
  if (argc > 8 && napi_is_buffer(env, argv[8], &is_buffer) == napi_ok && is_buffer) {
    void *dd;
    if (napi_get_buffer_info(env, argv[8], &dd, &digests_len) != napi_ok) return fail_type(env, b, "restoreFiles: digests must be a Buffer");
    b->digests = dd;
  }
  b->items = calloc(n ? n : 1, sizeof *b->items);
  b->names = malloc(names_len + 1);
  if (!b->items || !b->names) return fail_type(env, b, "restoreFiles: out of memory");
  if (names_len) memcpy(b->names, names, names_len);
  b->names[names_len] = 0;
  char *at = b->names, *names_end = b->names + names_len;
  b->n = n; /* what free_batch frees */
  for (uint32_t i = 0; i < n; i++) {
    file_item *it = &b->items[i];
    char **fields[3] = {&it->dir, &it->name, &it->tmp};
    for (int k = 0; k < 3; k++) {
      char *nul = at < names_end ? memchr(at, 0, (size_t)(names_end - at)) : NULL;
      if (!nul) return fail_type(env, b, "restoreFiles: names must hold a directory, a name and a temporary name for each file");
      *fields[k] = at;
      at = nul + 1;
    }
    const double *p = params + (size_t)i * P_COUNT;
    if (!(p[P_OFF] >= 0 && p[P_LEN] >= 0 && p[P_OFF] + p[P_LEN] <= (double)b->data_len)) return fail_type(env, b, "restoreFiles: off/len outside data");
    it->off = (size_t)p[P_OFF];
    it->len = (size_t)p[P_LEN];
    it->uid = (int64_t)p[P_UID];
    it->gid = (int64_t)p[P_GID];
    it->mode = (uint32_t)p[P_MODE];
    it->want_ino = p[P_INO] != 0;
    it->exact = p[P_EXACT] != 0;
    it->digest = (int)p[P_DIGEST];
    if (it->digest != DIGEST_NONE && (it->digest < 0 || it->digest > DIGEST_COMPARE || !portarc_restore_hashes() || !b->digests || digests_len < 64 * ((size_t)i + 1))) {
      return fail_type(env, b, "restoreFiles: a digest was asked for without digests to hold it, or without SHA256 to make it");
    }
    int64_t ns[2] = {times[2 * i], times[2 * i + 1]};
    it->times_fit = 1;
    for (int k = 0; k < 2; k++) {
      /* floor division: a time before 1970 has a negative second and a positive nanosecond */
      int64_t sec = ns[k] / 1000000000, rem = ns[k] % 1000000000;
      if (rem < 0) sec--, rem += 1000000000;
      it->times[k].tv_sec = (time_t)sec;
      it->times[k].tv_nsec = (long)rem;
      if ((int64_t)it->times[k].tv_sec != sec) it->times_fit = 0;
    }
  }
  /* xattrs: count each file's triples, then copy them. */
  for (uint32_t t = 0; t < nxv; t += 3) {
    napi_value iv;
    uint32_t i = UINT32_MAX;
    napi_get_element(env, argv[4], t, &iv);
    if (napi_get_value_uint32(env, iv, &i) != napi_ok || i >= n) return fail_type(env, b, "restoreFiles: an xattr names no file of the batch");
    b->items[i].nx++;
  }
  for (uint32_t i = 0; i < n; i++) {
    file_item *it = &b->items[i];
    if (!it->nx) continue;
    it->xs = calloc(it->nx, sizeof *it->xs);
    it->x_err = calloc(it->nx, sizeof *it->x_err);
    if (!it->xs || !it->x_err) {
      it->nx = 0;
      return fail_type(env, b, "restoreFiles: out of memory");
    }
    it->nx = 0; /* counted again as they are copied */
  }
  for (uint32_t t = 0; t < nxv; t += 3) {
    napi_value iv, name_v, value_v;
    uint32_t i = 0;
    napi_get_element(env, argv[4], t, &iv);
    napi_get_value_uint32(env, iv, &i);
    napi_get_element(env, argv[4], t + 1, &name_v);
    napi_get_element(env, argv[4], t + 2, &value_v);
    file_item *it = &b->items[i];
    xattr_item *x = &it->xs[it->nx++];
    x->name = copy_bytes(env, name_v);
    void *vd;
    size_t vl;
    bool vb = false;
    if (!x->name || napi_is_buffer(env, value_v, &vb) != napi_ok || !vb || napi_get_buffer_info(env, value_v, &vd, &vl) != napi_ok) {
      return fail_type(env, b, "restoreFiles: xattrs must be (index, name, Buffer value) triples");
    }
    x->value = malloc(vl ? vl : 1);
    if (!x->value) return fail_type(env, b, "restoreFiles: out of memory");
    if (vl) memcpy(x->value, vd, vl);
    x->len = vl;
  }
  b->n = n;
  if (napi_create_reference(env, argv[0], 1, &b->data_ref) != napi_ok) return fail_type(env, b, "restoreFiles: cannot hold data");
  if (b->digests && napi_create_reference(env, argv[8], 1, &b->digests_ref) != napi_ok) return fail_type(env, b, "restoreFiles: cannot hold digests");
  napi_value name;
  napi_create_string_utf8(env, "portarc.restoreFiles", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &b->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "restoreFiles: cannot queue the work");
    return NULL;
  }
  return promise;
}

/* strerror(errno: number): string, the text the addon's errors carry (for restoreFiles' failures). */
napi_value portarc_strerror(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t err = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &err) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "strerror: errno must be a number");
    return NULL;
  }
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &out);
  return out;
}
