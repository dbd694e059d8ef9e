/*
 * run_lines.c: the digests and manifest lines of a run of packed tar members, on the libuv
 * threadpool (spec/manifest.md §3.3, §7; src/tar/pack.ts for the runs).
 *
 * DESIGN: a small file packed by the create scan (native/pack.c) is a whole member in memory. Its
 * three digests (header range, content, data range) and its manifest line were made on the main
 * thread before: the member copied into the hashing ring, three digest requests, the line written
 * byte by byte, the two range digests folded. For 50,000 small files that was ~0.2 s of the
 * main thread, the most of what the manifest cost create (issue #10). Here one call per run does
 * all of it off the main thread, while the scan reads the next batch into the other buffer.
 *
 * hashRunsAsync(runs: Buffer[], counts: Uint32Array, bases: Float64Array, layout: Float64Array,
 *               paths: Buffer, pathEnds: Uint32Array, lines: Buffer, fold: Buffer,
 *               state: Int32Array, done: (err: string | null) => void): void
 *   Several runs in one job (a job a run cost each run a wake-up of a threadpool thread, ~50 µs of
 *   the main thread on a 2-core machine). Run r holds counts[r] members and starts at bases[r] in
 *   the archive. layout: per member, in run order, 4 offsets into its run (headers start, content
 *   start, content end, end after the padding), as PackedRun.layout. paths: the members' path
 *   attributes back to back, as they go into the lines, already escaped (ManifestWriter's
 *   pathAttr); pathEnds: where each one ends. lines receives one `<entry .../>` line per member,
 *   exactly as ManifestWriter.line writes a file's; fold receives per member the 32 bytes of its
 *   header range digest and, when it has data, those of its data range digest (the whole-archive
 *   digest, ManifestRecorder).
 *   state: an Int32Array of 1 + 2 × runs. When the job is done, and before done is called (the
 *   caller may look without waiting for its event loop), state[1 + 2r] and state[2 + 2r] are
 *   where run r's lines and fold bytes end, then state[0] is 1 (stored with release order; read
 *   it with Atomics.load).
 *   runs, lines, fold and state MUST NOT change until done is called; the rest is copied.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run_lines.h"

static const char HEX[] = "0123456789abcdef";
static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* Bytes of a line besides its path: 94 of literals, four numbers of at most 16 digits, three
 * digests (350), rounded up. The caller sizes `lines` with the same figure (src/api/record.ts). */
#define LINE_FIXED 384

typedef struct {
  const uint8_t **run; /* per run */
  size_t *run_len;
  uint32_t *count;
  double *base;
  uint32_t nruns;
  double *layout; /* copied: 4 per member */
  char *paths;     /* copied, back to back */
  size_t *path_at; /* members + 1 offsets into paths */
  char *lines;
  size_t lines_cap;
  uint8_t *fold;
  size_t fold_cap;
  int32_t *state;
  napi_ref keep[5]; /* runs, lines, fold, state, done */
  napi_async_work work;
} job_t;

static char *put(char *p, const char *lit) {
  size_t n = strlen(lit);
  memcpy(p, lit, n);
  return p + n;
}

/* A non-negative integer below 2^53 in decimal, as JavaScript's `${n}` writes it. */
static char *decimal(char *p, uint64_t n) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  while (k) *p++ = tmp[--k];
  return p;
}

static char *hex(char *p, const unsigned char *md) {
  for (int j = 0; j < SHA256_DIGEST_LENGTH; j++) {
    *p++ = HEX[md[j] >> 4];
    *p++ = HEX[md[j] & 15];
  }
  return p;
}

static void execute(napi_env env, void *data) {
  job_t *j = data;
  char *p = j->lines;
  uint8_t *f = j->fold;
  uint32_t m = 0;
  for (uint32_t r = 0; r < j->nruns; r++) {
    const uint8_t *run = j->run[r];
    uint64_t base = (uint64_t)j->base[r];
    for (uint32_t i = 0; i < j->count[r]; i++, m++) {
      const double *l = j->layout + 4 * (size_t)m;
      size_t start = (size_t)l[0], content = (size_t)l[1], content_end = (size_t)l[2], end = (size_t)l[3];
      unsigned char header_md[SHA256_DIGEST_LENGTH], content_md[SHA256_DIGEST_LENGTH], data_md[SHA256_DIGEST_LENGTH];
      SHA256_CTX c;
      SHA256_Init(&c);
      SHA256_Update(&c, run + start, content - start);
      SHA256_Final(header_md, &c);
      SHA256_Init(&c);
      SHA256_Update(&c, run + content, content_end - content);
      if (content_end > content) {
        SHA256_CTX copy = c;
        SHA256_Final(content_md, &copy);
      }
      if (end > content) {
        SHA256_Update(&c, run + content_end, end - content_end);
        SHA256_Final(data_md, &c);
      }
      p = put(p, "<entry path=\"");
      size_t plen = j->path_at[m + 1] - j->path_at[m];
      memcpy(p, j->paths + j->path_at[m], plen);
      p += plen;
      p = put(p, "\" type=\"file\" size=\"");
      p = decimal(p, content_end - content);
      p = put(p, "\" sha256=\"");
      if (content_end > content) p = hex(p, content_md);
      else p = put(p, EMPTY_SHA256);
      p = put(p, "\" offset=\"");
      p = decimal(p, base + start);
      p = put(p, "\" data=\"");
      p = decimal(p, base + content);
      p = put(p, "\" end=\"");
      p = decimal(p, base + end);
      p = put(p, "\" hsha256=\"");
      p = hex(p, header_md);
      memcpy(f, header_md, SHA256_DIGEST_LENGTH);
      f += SHA256_DIGEST_LENGTH;
      if (end > content) {
        p = put(p, "\" dsha256=\"");
        p = hex(p, data_md);
        memcpy(f, data_md, SHA256_DIGEST_LENGTH);
        f += SHA256_DIGEST_LENGTH;
      }
      p = put(p, "\"/>\n");
    }
    j->state[1 + 2 * r] = (int32_t)(p - j->lines);
    j->state[2 + 2 * r] = (int32_t)(f - j->fold);
  }
  __atomic_store_n(&j->state[0], 1, __ATOMIC_RELEASE);
}

static void release(napi_env env, job_t *j) {
  for (int i = 0; i < 5; i++)
    if (j->keep[i]) napi_delete_reference(env, j->keep[i]);
  free(j->run);
  free(j->run_len);
  free(j->count);
  free(j->base);
  free(j->layout);
  free(j->paths);
  free(j->path_at);
  free(j);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value done = NULL, global, err;
  napi_get_reference_value(env, j->keep[4], &done);
  napi_delete_async_work(env, j->work);
  napi_get_global(env, &global);
  if (status == napi_ok) napi_get_null(env, &err);
  else napi_create_string_utf8(env, "manifest runs: cancelled", NAPI_AUTO_LENGTH, &err);
  release(env, j);
  if (done) napi_call_function(env, global, done, 1, &err, NULL);
}

/* Throws `msg` and frees the job; returns NULL for the caller to return. */
static napi_value fail(napi_env env, job_t *j, const char *msg) {
  release(env, j);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* An array's typed-array contents of the expected type and at least `min` elements; NULL if not. */
static void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t min) {
  napi_typedarray_type type;
  size_t len;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok || type != want || len < min) return NULL;
  return data;
}

napi_value run_lines_async(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "manifest runs: out of memory");
    return NULL;
  }
  const char *bad = "manifest runs: bad arguments";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 10) return fail(env, j, bad);
  if (napi_get_array_length(env, argv[0], &j->nruns) != napi_ok) return fail(env, j, bad);
  size_t nr = j->nruns ? j->nruns : 1;
  j->run = calloc(nr, sizeof *j->run);
  j->run_len = calloc(nr, sizeof *j->run_len);
  j->count = calloc(nr, sizeof *j->count);
  j->base = calloc(nr, sizeof *j->base);
  if (!j->run || !j->run_len || !j->count || !j->base) return fail(env, j, "manifest runs: out of memory");
  const uint32_t *counts = typed(env, argv[1], napi_uint32_array, j->nruns);
  const double *bases = typed(env, argv[2], napi_float64_array, j->nruns);
  if (!counts || !bases) return fail(env, j, bad);
  size_t members = 0;
  for (uint32_t r = 0; r < j->nruns; r++) {
    napi_value el;
    void *data;
    size_t len;
    if (napi_get_element(env, argv[0], r, &el) != napi_ok || napi_get_buffer_info(env, el, &data, &len) != napi_ok) return fail(env, j, bad);
    j->run[r] = data;
    j->run_len[r] = len;
    j->count[r] = counts[r];
    j->base[r] = bases[r];
    if (!(bases[r] >= 0 && bases[r] <= 4503599627370496.0)) return fail(env, j, bad);
    members += counts[r];
  }
  if (members > UINT32_MAX) return fail(env, j, bad);
  const double *layout = typed(env, argv[3], napi_float64_array, members * 4);
  const uint32_t *ends = typed(env, argv[5], napi_uint32_array, members);
  if (!layout || !ends) return fail(env, j, bad);
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[4], &data, &len) != napi_ok) return fail(env, j, bad);
  const char *paths = data;
  size_t paths_len = len;
  if (napi_get_buffer_info(env, argv[6], &data, &len) != napi_ok) return fail(env, j, bad);
  j->lines = data;
  j->lines_cap = len;
  if (napi_get_buffer_info(env, argv[7], &data, &len) != napi_ok) return fail(env, j, bad);
  j->fold = data;
  j->fold_cap = len;
  j->state = typed(env, argv[8], napi_int32_array, 1 + 2 * (size_t)j->nruns);
  if (!j->state) return fail(env, j, bad);
  napi_valuetype t;
  if (napi_typeof(env, argv[9], &t) != napi_ok || t != napi_function) return fail(env, j, bad);
  /* The layout: each run's members in order, within the run (checked here, once). */
  j->layout = malloc(sizeof(double) * 4 * (members ? members : 1));
  j->path_at = malloc(sizeof(size_t) * (members + 1));
  if (!j->layout || !j->path_at) return fail(env, j, "manifest runs: out of memory");
  size_t k = 0;
  for (uint32_t r = 0; r < j->nruns; r++) {
    double at = 0;
    for (size_t e = k + 4 * (size_t)j->count[r]; k < e; k++) {
      double v = layout[k];
      if (!(v >= at && v <= (double)j->run_len[r]) || v != (double)(uint64_t)v) return fail(env, j, "manifest runs: layout out of order or out of its run");
      j->layout[k] = at = v;
    }
  }
  /* The paths, copied: the room the lines need is known before anything runs. */
  j->path_at[0] = 0;
  for (size_t i = 0; i < members; i++) {
    if (ends[i] < j->path_at[i] || ends[i] > paths_len) return fail(env, j, "manifest runs: path ends out of order");
    j->path_at[i + 1] = ends[i];
  }
  size_t total = j->path_at[members];
  j->paths = malloc(total ? total : 1);
  if (!j->paths) return fail(env, j, "manifest runs: out of memory");
  memcpy(j->paths, paths, total);
  if (j->lines_cap < total + members * LINE_FIXED) return fail(env, j, "manifest runs: the lines buffer is too small");
  if (j->fold_cap < members * 2 * SHA256_DIGEST_LENGTH) return fail(env, j, "manifest runs: the fold buffer is too small");
  napi_value name;
  if (napi_create_string_utf8(env, "portarc:manifest-runs", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok)
    return fail(env, j, "manifest runs: cannot queue");
  int keep[5] = {0, 6, 7, 8, 9};
  for (int i = 0; i < 5; i++) napi_create_reference(env, argv[keep[i]], 1, &j->keep[i]);
  j->state[0] = 0;
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_async_work(env, j->work);
    return fail(env, j, "manifest runs: cannot queue");
  }
  return NULL;
}
