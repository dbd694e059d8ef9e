/*
 * sha256_ops.c: the SHA-256 batches of src/integrity/hash-ring.ts, run in C, on the calling thread
 * or on the libuv threadpool (spec/manifest.md §7: the digests create writes).
 *
 * DESIGN: a manifest costs three SHA-256s per small file (header range, data range, content).
 * Run from JavaScript, each was a crypto call making a hash object and a string, ~20 µs of the
 * main thread per entry with the collection of it all; a worker thread to take them away costs
 * ~25 MiB (a V8 isolate) against the 100 MiB bar. Here a whole batch of ops is one call, and the
 * async form runs it on the threadpool without an isolate. The hashing itself is the SHA256_*
 * functions of the OpenSSL that Node links in and exports to addons (with SHA-NI where the CPU has
 * it), so this file has no SHA-256 of its own.
 *
 * A batch is the ops of HashRing (both sides read the same numbers):
 *   [0, slot, from, to]   hash ring bytes of stream positions [from, to) into slot
 *   [1, slot, keep, id]   the slot's digest into record id of out (below); without keep the
 *                         slot starts over
 * Stream positions are taken modulo the ring's length. A slot's state lives in the hasher between
 * batches (a big file spans many). The caller runs one batch of a hasher at a time (checked).
 * out is a ring of 96-byte records: digest `id` goes to record id % (out.length / 96), as 64
 * lowercase hex digits (what the manifest line holds) and then the 32 bytes (what the whole-archive
 * digest folds), so that JavaScript copies them where they go without making a string.
 *
 * hasherNew(): External
 * hasherRun(hasher, ring: Uint8Array, ops: Float64Array, out: Buffer): number of digests written
 * hasherRunAsync(hasher, ring, ops, out, done: (err: string | null, count: number) => void): void
 *   ring, ops and the records of out that the batch writes MUST NOT be used until done is called.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but exported by Node and
 * far lighter per call (no fetch, no allocation); a context is a plain struct, copied for `keep`. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run_lines.h"

#define MAX_SLOTS 8
#define RECORD 96

typedef struct {
  SHA256_CTX slot[MAX_SLOTS];
  int busy; /* a batch is running (async): another one at the same time is a caller's bug */
} hasher_t;

typedef struct {
  const uint8_t *ring;
  uint64_t size;
  const double *ops;
  size_t nops;
  char *out;
  size_t out_len;
} batch_t;

static const char HEX[] = "0123456789abcdef";

/* Checks a batch before it runs; NULL when it is well formed, else what is wrong. */
static const char *check(const batch_t *b) {
  if (b->nops % 4) return "ops: length is not a multiple of 4";
  if (b->size == 0) return "ring: empty";
  if (b->out_len < RECORD || b->out_len % RECORD) return "out: not a whole number of records";
  for (size_t i = 0; i < b->nops; i += 4) {
    double op = b->ops[i], s = b->ops[i + 1], x = b->ops[i + 2], y = b->ops[i + 3];
    if (!(s >= 0 && s < MAX_SLOTS) || s != (double)(int)s) return "ops: bad slot";
    if (op == 0) {
      if (!(x >= 0 && y >= x && y <= 9007199254740992.0) || y - x > (double)b->size) return "ops: bad range";
    } else if (op == 1) {
      if (!(y >= 0 && y <= 9007199254740992.0) || y != (double)(uint64_t)y) return "ops: bad digest id";
    } else return "ops: unknown op";
  }
  return NULL;
}

/* Runs a checked batch; returns the number of digests written. */
static size_t run(hasher_t *h, const batch_t *b) {
  size_t k = 0;
  for (size_t i = 0; i < b->nops; i += 4) {
    SHA256_CTX *c = &h->slot[(int)b->ops[i + 1]];
    if (b->ops[i] == 0) {
      uint64_t p = (uint64_t)b->ops[i + 2], to = (uint64_t)b->ops[i + 3];
      while (p < to) {
        uint64_t o = p % b->size;
        uint64_t n = to - p < b->size - o ? to - p : b->size - o;
        SHA256_Update(c, b->ring + o, (size_t)n);
        p += n;
      }
      continue;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (b->ops[i + 2] != 0) {
      SHA256_CTX copy = *c;
      SHA256_Final(md, &copy);
    } else {
      SHA256_Final(md, c);
      SHA256_Init(c);
    }
    char *o = b->out + ((uint64_t)b->ops[i + 3] % (b->out_len / RECORD)) * RECORD;
    for (int j = 0; j < SHA256_DIGEST_LENGTH; j++) {
      o[2 * j] = HEX[md[j] >> 4];
      o[2 * j + 1] = HEX[md[j] & 15];
    }
    memcpy(o + 64, md, SHA256_DIGEST_LENGTH);
    k++;
  }
  return k;
}

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "sha256 ops: bad arguments");                                    \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static void finalize_hasher(napi_env env, void *data, void *hint) { free(data); }

static napi_value hasher_new(napi_env env, napi_callback_info info) {
  hasher_t *h = calloc(1, sizeof *h);
  if (!h) {
    napi_throw_error(env, NULL, "sha256 ops: out of memory");
    return NULL;
  }
  for (int s = 0; s < MAX_SLOTS; s++) SHA256_Init(&h->slot[s]);
  napi_value ext;
  if (napi_create_external(env, h, finalize_hasher, NULL, &ext) != napi_ok) {
    free(h);
    napi_throw_error(env, NULL, "sha256 ops: cannot make the hasher");
    return NULL;
  }
  return ext;
}

/*
 * Reads the call's arguments into argv (`argc` of them, at most 5) and its first four (hasher,
 * ring, ops, out) into h and b; NULL (an exception pending) when they are wrong.
 */
static hasher_t *read_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, batch_t *b) {
  size_t got = argc;
  CHECK(napi_get_cb_info(env, info, &got, argv, NULL, NULL));
  if (got < argc) CHECK(napi_invalid_arg);
  hasher_t *h;
  CHECK(napi_get_value_external(env, argv[0], (void **)&h));
  napi_typedarray_type type;
  size_t len;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL));
  if (type != napi_uint8_array) CHECK(napi_invalid_arg);
  b->ring = data;
  b->size = len;
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL));
  if (type != napi_float64_array) CHECK(napi_invalid_arg);
  b->ops = data;
  b->nops = len;
  CHECK(napi_get_buffer_info(env, argv[3], &data, &len));
  b->out = data;
  b->out_len = len;
  const char *bad = check(b);
  if (bad) {
    napi_throw_error(env, NULL, bad);
    return NULL;
  }
  if (h->busy) {
    napi_throw_error(env, NULL, "sha256 ops: a batch of this hasher is already running");
    return NULL;
  }
  return h;
}

static napi_value hasher_run(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  batch_t b;
  hasher_t *h = read_args(env, info, 4, argv, &b);
  if (!h) return NULL;
  napi_value count;
  CHECK(napi_create_uint32(env, (uint32_t)run(h, &b), &count));
  return count;
}

typedef struct {
  hasher_t *h;
  batch_t b;
  size_t count;
  napi_ref keep[5]; /* hasher, ring, ops, out, done: alive while the batch runs */
  napi_async_work work;
} job_t;

static void job_execute(napi_env env, void *data) {
  job_t *j = data;
  j->count = run(j->h, &j->b);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  j->h->busy = 0;
  napi_value done = NULL, global, argv[2];
  napi_get_reference_value(env, j->keep[4], &done);
  for (int i = 0; i < 5; i++) napi_delete_reference(env, j->keep[i]);
  napi_delete_async_work(env, j->work);
  napi_get_global(env, &global);
  if (status == napi_ok) napi_get_null(env, &argv[0]);
  else napi_create_string_utf8(env, "sha256 ops: the batch was cancelled", NAPI_AUTO_LENGTH, &argv[0]);
  napi_create_uint32(env, (uint32_t)j->count, &argv[1]);
  free(j);
  if (done) napi_call_function(env, global, done, 2, argv, NULL);
}

static napi_value hasher_run_async(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  batch_t b;
  hasher_t *h = read_args(env, info, 5, argv, &b);
  if (!h) return NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[4], &t));
  if (t != napi_function) CHECK(napi_invalid_arg);
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "sha256 ops: out of memory");
    return NULL;
  }
  j->h = h;
  j->b = b;
  napi_value name;
  if (napi_create_string_utf8(env, "portarc:sha256", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok) {
    free(j);
    napi_throw_error(env, NULL, "sha256 ops: cannot queue the batch");
    return NULL;
  }
  for (int i = 0; i < 5; i++) napi_create_reference(env, argv[i], 1, &j->keep[i]);
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    for (int i = 0; i < 5; i++) napi_delete_reference(env, j->keep[i]);
    napi_delete_async_work(env, j->work);
    free(j);
    napi_throw_error(env, NULL, "sha256 ops: cannot queue the batch");
    return NULL;
  }
  j->h->busy = 1;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  /* The SHA256_* symbols come from the process (Node exports its OpenSSL); bound lazily, a runtime
   * without them would fail at the first call, ending the process. Checked here instead: the
   * module then fails to load and the JavaScript hashing is used. */
  if (!dlsym(RTLD_DEFAULT, "SHA256_Init") || !dlsym(RTLD_DEFAULT, "SHA256_Update") || !dlsym(RTLD_DEFAULT, "SHA256_Final")) {
    napi_throw_error(env, NULL, "portarc_hash: this runtime does not export OpenSSL's SHA256 functions");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"hasherNew", NULL, hasher_new, NULL, NULL, NULL, napi_default, NULL},
    {"hasherRun", NULL, hasher_run, NULL, NULL, NULL, napi_default, NULL},
    {"hasherRunAsync", NULL, hasher_run_async, NULL, NULL, NULL, napi_default, NULL},
    {"hashRunsAsync", NULL, run_lines_async, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
