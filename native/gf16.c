/*
 * gf16: the PAR2 multiply-accumulate kernel, dst ^= c * src over slices of little-endian 16-bit
 * words in GF(2^16) (polynomial 0x1100B), for src/integrity/par2/kernel.ts. Spec:
 * spec/recovery.md §3 (the arithmetic) and §8 (speed).
 *
 * DESIGN: multiplying by a constant c is linear over GF(2), so c * x is the XOR of the products of
 * x's parts. The SIMD kernels first split each vector of words into a vector of low bytes and one
 * of high bytes (packus), then:
 *   - GFNI: the 16x16 bit matrix of "times c" is four 8x8 blocks; gf2p8affineqb applies one block
 *     to 32/64 bytes at once: out_lo = M00*lo ^ M01*hi, out_hi = M10*lo ^ M11*hi.
 *   - AVX2 (split nibble): 4 nibbles of the word x 2 output bytes = 8 PSHUFB lookups in 16-entry
 *     tables built per constant.
 * and interleave the two output byte vectors back (unpacklo/hi undo packus lane for lane).
 * One call takes several sources and destinations and walks them in chunks (run_rows), so that
 * the destinations' chunks stay in L2 and each source chunk in L1 while it is multiplied into
 * them. Asked for threads, it runs on libuv's pool and splits the destinations over that many
 * pthreads: no worker isolates (~10 MiB each), and the JS thread stays free to hash the file.
 * Runtime dispatch (__builtin_cpu_supports), target attributes per function: the addon is built
 * for the baseline CPU (never -march=native), and the portable C kernel serves everywhere else.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define GF16_X86 1
#include <immintrin.h>
#endif

/* ---- scalar arithmetic (tables, and the portable kernel) ---------------------------------- */

static uint16_t EXP[2 * 65535 + 2];
static uint16_t LOG[65536];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT; /* worker threads load the addon too */

static void fill_tables(void) {
  uint32_t x = 1;
  for (int i = 0; i < 65535; i++) {
    EXP[i] = (uint16_t)x;
    LOG[x] = (uint16_t)i;
    x <<= 1;
    if (x & 0x10000) x ^= 0x1100B;
  }
  for (int i = 65535; i < 2 * 65535 + 2; i++) EXP[i] = EXP[i - 65535];
}

static void init_tables(void) { pthread_once(&tables_once, fill_tables); }

static uint16_t gf_mul(uint16_t a, uint16_t b) {
  return (a == 0 || b == 0) ? 0 : EXP[LOG[a] + LOG[b]];
}

/* Per-constant tables, built once per call for every constant. */
typedef struct {
  uint16_t c;
  uint8_t nib[4][2][16]; /* nibble q of the word, output byte (lo, hi), nibble value */
  uint64_t aff[2][2];    /* GFNI matrices [output byte][input byte] */
} gf16_table;

static void build_table(gf16_table *t, uint16_t c) {
  /* c times each bit of a word: everything else is XORs of these (multiplying is linear). */
  uint16_t basis[16];
  for (int k = 0; k < 16; k++) basis[k] = gf_mul(c, (uint16_t)(1u << k));
  t->c = c;
  for (int q = 0; q < 4; q++) {
    for (int v = 0; v < 16; v++) {
      uint16_t p = 0;
      for (int b = 0; b < 4; b++)
        if (v & (1 << b)) p ^= basis[4 * q + b];
      t->nib[q][0][v] = (uint8_t)(p & 0xff);
      t->nib[q][1][v] = (uint8_t)(p >> 8);
    }
  }
  /* gf2p8affineqb: output bit i of a byte = parity(matrix byte (7 - i) & input byte). */
  for (int ob = 0; ob < 2; ob++) {
    for (int ib = 0; ib < 2; ib++) {
      uint64_t m = 0;
      for (int i = 0; i < 8; i++) {
        uint8_t row = 0;
        for (int k = 0; k < 8; k++)
          if ((basis[8 * ib + k] >> (8 * ob + i)) & 1) row |= (uint8_t)(1u << k);
        m |= (uint64_t)row << (8 * (7 - i));
      }
      t->aff[ob][ib] = m;
    }
  }
}

static inline uint16_t nib_mul(const gf16_table *t, uint16_t x) {
  uint16_t r = 0;
  for (int q = 0; q < 4; q++) {
    int v = (x >> (4 * q)) & 15;
    r ^= (uint16_t)(t->nib[q][0][v] | (t->nib[q][1][v] << 8));
  }
  return r;
}

/* Words [from, len/2) one at a time (unaligned, little-endian by bytes). */
static void muladd_tail(uint8_t *dst, const uint8_t *src, size_t from, size_t len, const gf16_table *t) {
  for (size_t i = from; i + 1 < len; i += 2) {
    uint16_t x = (uint16_t)(src[i] | (src[i + 1] << 8));
    if (x == 0) continue;
    uint16_t p = nib_mul(t, x);
    dst[i] ^= (uint8_t)(p & 0xff);
    dst[i + 1] ^= (uint8_t)(p >> 8);
  }
}

/* Portable: two 256-entry tables of 16-bit products, one lookup per byte. */
static void muladd_scalar(uint8_t *dst, const uint8_t *src, size_t len, const gf16_table *t) {
  uint16_t lo[256], hi[256];
  for (int v = 0; v < 256; v++) {
    lo[v] = gf_mul(t->c, (uint16_t)v);
    hi[v] = gf_mul(t->c, (uint16_t)(v << 8));
  }
  for (size_t i = 0; i + 1 < len; i += 2) {
    uint16_t p = lo[src[i]] ^ hi[src[i + 1]];
    dst[i] ^= (uint8_t)(p & 0xff);
    dst[i + 1] ^= (uint8_t)(p >> 8);
  }
}

/* ---- x86 SIMD kernels ------------------------------------------------------------------- */

#ifdef GF16_X86
__attribute__((target("avx2"))) static void muladd_avx2(uint8_t *dst, const uint8_t *src, size_t len, const gf16_table *t) {
  __m256i tl[4], th[4];
  for (int q = 0; q < 4; q++) {
    tl[q] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t->nib[q][0]));
    th[q] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t->nib[q][1]));
  }
  const __m256i m0f = _mm256_set1_epi8(0x0f), mff = _mm256_set1_epi16(0x00ff);
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
    __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
    __m256i lo = _mm256_packus_epi16(_mm256_and_si256(a, mff), _mm256_and_si256(b, mff));
    __m256i hi = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    __m256i n0 = _mm256_and_si256(lo, m0f), n1 = _mm256_and_si256(_mm256_srli_epi16(lo, 4), m0f);
    __m256i n2 = _mm256_and_si256(hi, m0f), n3 = _mm256_and_si256(_mm256_srli_epi16(hi, 4), m0f);
    __m256i ol = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi8(tl[0], n0), _mm256_shuffle_epi8(tl[1], n1)),
                                  _mm256_xor_si256(_mm256_shuffle_epi8(tl[2], n2), _mm256_shuffle_epi8(tl[3], n3)));
    __m256i oh = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi8(th[0], n0), _mm256_shuffle_epi8(th[1], n1)),
                                  _mm256_xor_si256(_mm256_shuffle_epi8(th[2], n2), _mm256_shuffle_epi8(th[3], n3)));
    __m256i r0 = _mm256_unpacklo_epi8(ol, oh), r1 = _mm256_unpackhi_epi8(ol, oh);
    _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(dst + i)), r0));
    _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(dst + i + 32)), r1));
  }
  muladd_tail(dst, src, i, len, t);
}

__attribute__((target("avx2,gfni"))) static void muladd_avx2_gfni(uint8_t *dst, const uint8_t *src, size_t len, const gf16_table *t) {
  const __m256i m00 = _mm256_set1_epi64x((long long)t->aff[0][0]), m01 = _mm256_set1_epi64x((long long)t->aff[0][1]);
  const __m256i m10 = _mm256_set1_epi64x((long long)t->aff[1][0]), m11 = _mm256_set1_epi64x((long long)t->aff[1][1]);
  const __m256i mff = _mm256_set1_epi16(0x00ff);
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
    __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
    __m256i lo = _mm256_packus_epi16(_mm256_and_si256(a, mff), _mm256_and_si256(b, mff));
    __m256i hi = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    __m256i ol = _mm256_xor_si256(_mm256_gf2p8affine_epi64_epi8(lo, m00, 0), _mm256_gf2p8affine_epi64_epi8(hi, m01, 0));
    __m256i oh = _mm256_xor_si256(_mm256_gf2p8affine_epi64_epi8(lo, m10, 0), _mm256_gf2p8affine_epi64_epi8(hi, m11, 0));
    __m256i r0 = _mm256_unpacklo_epi8(ol, oh), r1 = _mm256_unpackhi_epi8(ol, oh);
    _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(dst + i)), r0));
    _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(dst + i + 32)), r1));
  }
  muladd_tail(dst, src, i, len, t);
}

__attribute__((target("avx512f,avx512bw,gfni"))) static void muladd_avx512_gfni(uint8_t *dst, const uint8_t *src, size_t len, const gf16_table *t) {
  const __m512i m00 = _mm512_set1_epi64((long long)t->aff[0][0]), m01 = _mm512_set1_epi64((long long)t->aff[0][1]);
  const __m512i m10 = _mm512_set1_epi64((long long)t->aff[1][0]), m11 = _mm512_set1_epi64((long long)t->aff[1][1]);
  const __m512i mff = _mm512_set1_epi16(0x00ff);
  size_t i = 0;
  for (; i + 128 <= len; i += 128) {
    __m512i a = _mm512_loadu_si512((const void *)(src + i));
    __m512i b = _mm512_loadu_si512((const void *)(src + i + 64));
    __m512i lo = _mm512_packus_epi16(_mm512_and_si512(a, mff), _mm512_and_si512(b, mff));
    __m512i hi = _mm512_packus_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
    __m512i ol = _mm512_xor_si512(_mm512_gf2p8affine_epi64_epi8(lo, m00, 0), _mm512_gf2p8affine_epi64_epi8(hi, m01, 0));
    __m512i oh = _mm512_xor_si512(_mm512_gf2p8affine_epi64_epi8(lo, m10, 0), _mm512_gf2p8affine_epi64_epi8(hi, m11, 0));
    __m512i r0 = _mm512_unpacklo_epi8(ol, oh), r1 = _mm512_unpackhi_epi8(ol, oh);
    _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(_mm512_loadu_si512((const void *)(dst + i)), r0));
    _mm512_storeu_si512((void *)(dst + i + 64), _mm512_xor_si512(_mm512_loadu_si512((const void *)(dst + i + 64)), r1));
  }
  muladd_tail(dst, src, i, len, t);
}
#endif

/* ---- dispatch --------------------------------------------------------------------------- */

typedef void (*kernel_fn)(uint8_t *, const uint8_t *, size_t, const gf16_table *);
typedef struct {
  const char *name;
  kernel_fn fn;
  int (*supported)(void);
} kernel_info;

static int yes(void) { return 1; }
#ifdef GF16_X86
static int has_avx2(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx2"); }
static int has_avx2_gfni(void) { return has_avx2() && __builtin_cpu_supports("gfni"); }
static int has_avx512_gfni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("gfni");
}
#endif

/* Fastest first. */
static const kernel_info KERNELS[] = {
#ifdef GF16_X86
  {"avx512-gfni", muladd_avx512_gfni, has_avx512_gfni},
  {"avx2-gfni", muladd_avx2_gfni, has_avx2_gfni},
  {"avx2", muladd_avx2, has_avx2},
#endif
  {"scalar", muladd_scalar, yes},
};
#define N_KERNELS (sizeof KERNELS / sizeof KERNELS[0])

static const kernel_info *best_kernel(void) {
  for (size_t k = 0; k < N_KERNELS; k++)
    if (KERNELS[k].supported()) return &KERNELS[k];
  return &KERNELS[N_KERNELS - 1];
}

/*
 * The hot set is the destinations' chunks: together they should stay in L2 (1-2 MiB on current
 * CPUs) while every source's chunk (in L1) is multiplied into them.
 */
#define HOT_BYTES (512 * 1024)
#define MAX_CHUNK 16384
#define MIN_CHUNK 1024

/* One multiply-accumulate job: dst[r] ^= sum over s of t[s * nd + r].c * src[s], over len bytes. */
typedef struct {
  uint8_t **dst;
  size_t nd;
  const uint8_t **src;
  size_t ns;
  size_t len;
  gf16_table *t;
  kernel_fn fn;
  int threads;
  /* async only */
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep[2];
} gf16_job;

/* Rows r0..r1-1 of a job: each thread owns whole rows, so no two threads write the same bytes. */
static void run_rows(const gf16_job *j, size_t r0, size_t r1) {
  if (r0 >= r1) return;
  size_t chunk = HOT_BYTES / (r1 - r0);
  chunk = chunk > MAX_CHUNK ? MAX_CHUNK : chunk < MIN_CHUNK ? MIN_CHUNK : chunk & ~(size_t)127;
  for (size_t off = 0; off < j->len; off += chunk) {
    size_t m = j->len - off < chunk ? j->len - off : chunk;
    for (size_t s = 0; s < j->ns; s++) {
      for (size_t r = r0; r < r1; r++) {
        const gf16_table *tt = &j->t[s * j->nd + r];
        if (tt->c != 0) j->fn(j->dst[r] + off, j->src[s] + off, m, tt);
      }
    }
  }
}

typedef struct {
  const gf16_job *job;
  size_t r0, r1;
} gf16_share;

static void *run_share(void *p) {
  const gf16_share *sh = p;
  run_rows(sh->job, sh->r0, sh->r1);
  return NULL;
}

/* The rows split over job->threads threads (this one and threads - 1 more). */
static void run_job(const gf16_job *j) {
  if (j->nd == 0) return;
  size_t n = (size_t)(j->threads < 1 ? 1 : j->threads);
  if (n > j->nd) n = j->nd;
  if (n > 64) n = 64;
  pthread_t tid[64];
  gf16_share sh[64];
  size_t per = (j->nd + n - 1) / n, started = 0;
  for (size_t i = 1; i < n; i++) {
    sh[i].job = j;
    sh[i].r0 = i * per;
    sh[i].r1 = (i + 1) * per < j->nd ? (i + 1) * per : j->nd;
    if (pthread_create(&tid[i], NULL, run_share, &sh[i]) != 0) break; /* no thread: this one does it below */
    started = i;
  }
  run_rows(j, 0, per < j->nd ? per : j->nd);
  run_rows(j, (started + 1) * per, j->nd); /* the shares no thread took */
  for (size_t i = 1; i <= started; i++) pthread_join(tid[i], NULL);
}

static void free_job(gf16_job *j) {
  free(j->dst);
  free(j->src);
  free(j->t);
  free(j);
}

/* ---- N-API ------------------------------------------------------------------------------ */

static napi_value gf_throw(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  size_t length, offset;
  void *p;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = p;
  *len = length;
  return 1;
}

/* The byte pointers of an array of Uint8Arrays, each at least `len` bytes (len 0: take the first's). */
static uint8_t **views_of(napi_env env, napi_value arr, uint32_t *n, size_t *len) {
  bool is;
  if (napi_is_array(env, arr, &is) != napi_ok || !is || napi_get_array_length(env, arr, n) != napi_ok) return NULL;
  uint8_t **out = malloc((*n ? *n : 1) * sizeof *out);
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < *n; i++) {
    napi_value v;
    size_t l;
    if (napi_get_element(env, arr, i, &v) != napi_ok || !bytes_of(env, v, &out[i], &l)) {
      free(out);
      return NULL;
    }
    if (*len == 0 && i == 0) *len = l;
    if (l < *len) {
      free(out);
      return NULL;
    }
  }
  return out;
}

static void async_execute(napi_env env, void *data) { run_job(data); }

static void async_complete(napi_env env, napi_status status, void *data) {
  gf16_job *j = data;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (status == napi_ok) {
    napi_resolve_deferred(env, j->deferred, undefined);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, "gf16MulAdd: the job was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_reference(env, j->keep[0]);
  napi_delete_reference(env, j->keep[1]);
  napi_delete_async_work(env, j->work);
  free_job(j);
}

/*
 * gf16MulAdd(dsts: Uint8Array[], srcs: Uint8Array[], coef: Uint16Array, kernel?: string,
 *            threads?: number): void | Promise<void>
 * dsts[r] ^= sum over s of coef[s * dsts.length + r] * srcs[s], word by word, over the length of
 * srcs[0] (even; every src and dst at least as long). `kernel` (null: the best) forces one kernel
 * by name (the tests compare them); a name this CPU cannot run throws. With `threads` (>= 1) the
 * work runs off the JS thread, its rows split over that many threads, and a Promise is returned:
 * the caller must leave the buffers alone until it settles.
 */
static napi_value gf16_muladd_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) return gf_throw(env, "gf16MulAdd(dsts, srcs, coef[, kernel[, threads]]): too few arguments");
  init_tables();
  const kernel_info *k = best_kernel();
  napi_valuetype vt = napi_undefined;
  if (argc >= 4) napi_typeof(env, argv[3], &vt);
  if (vt == napi_string) {
    char name[32];
    size_t nlen;
    if (napi_get_value_string_utf8(env, argv[3], name, sizeof name, &nlen) != napi_ok) return gf_throw(env, "gf16MulAdd: kernel must be a string");
    k = NULL;
    for (size_t i = 0; i < N_KERNELS; i++)
      if (strcmp(KERNELS[i].name, name) == 0 && KERNELS[i].supported()) k = &KERNELS[i];
    if (k == NULL) return gf_throw(env, "gf16MulAdd: no such kernel on this CPU");
  } else if (vt != napi_undefined && vt != napi_null) {
    return gf_throw(env, "gf16MulAdd: kernel must be a string or null");
  }
  int32_t threads = 0;
  if (argc >= 5 && (napi_get_value_int32(env, argv[4], &threads) != napi_ok || threads < 1))
    return gf_throw(env, "gf16MulAdd: threads must be a number >= 1");
  bool is;
  napi_typedarray_type type;
  size_t nc, off;
  void *cp;
  napi_value ab;
  if (napi_is_typedarray(env, argv[2], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[2], &type, &nc, &cp, &ab, &off) != napi_ok || type != napi_uint16_array)
    return gf_throw(env, "gf16MulAdd: coef must be a Uint16Array");
  gf16_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ENOMEM", "gf16MulAdd: out of memory");
    return NULL;
  }
  uint32_t ns, nd;
  j->src = (const uint8_t **)views_of(env, argv[1], &ns, &j->len);
  if (j->src == NULL) {
    free_job(j);
    return gf_throw(env, "gf16MulAdd: srcs must be an array of Uint8Arrays of one length");
  }
  if (j->len % 2) {
    free_job(j);
    return gf_throw(env, "gf16MulAdd: sources must hold whole 16-bit words");
  }
  j->dst = views_of(env, argv[0], &nd, &j->len);
  if (j->dst == NULL) {
    free_job(j);
    return gf_throw(env, "gf16MulAdd: dsts must be an array of Uint8Arrays as long as the sources");
  }
  if ((size_t)ns * nd != nc) {
    free_job(j);
    return gf_throw(env, "gf16MulAdd: coef must hold srcs.length * dsts.length constants");
  }
  j->ns = ns;
  j->nd = nd;
  j->fn = k->fn;
  j->threads = threads;
  j->t = malloc((nc ? nc : 1) * sizeof *j->t);
  if (j->t == NULL) {
    free_job(j);
    napi_throw_error(env, "ENOMEM", "gf16MulAdd: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < nc; i++) build_table(&j->t[i], ((const uint16_t *)cp)[i]);
  if (nc == 0 || j->len == 0) j->nd = 0; /* nothing to do */
  if (threads == 0) {
    if (j->nd) run_job(j);
    free_job(j);
    return NULL;
  }
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &j->keep[0]) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &j->keep[1]) != napi_ok ||
      napi_create_string_utf8(env, "gf16MulAdd", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, async_execute, async_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_throw_error(env, NULL, "gf16MulAdd: cannot start the job");
    return NULL; /* leaks the job: N-API itself is failing */
  }
  return promise;
}

/* gf16Kernels(): the kernels this CPU runs, fastest (the default) first. */
static napi_value gf16_kernels_js(napi_env env, napi_callback_info info) {
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t j = 0;
  for (size_t i = 0; i < N_KERNELS; i++) {
    if (!KERNELS[i].supported()) continue;
    napi_value s;
    napi_create_string_utf8(env, KERNELS[i].name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, j++, s);
  }
  return arr;
}

/* Called from portarc_sys.c's module init. */
void gf16_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"gf16MulAdd", NULL, gf16_muladd_js, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gf16Kernels", NULL, gf16_kernels_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
