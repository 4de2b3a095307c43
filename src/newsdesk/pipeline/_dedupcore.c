/* Hot path of newsdesk.pipeline.dedup: shingle hashing and the near-duplicate index core.
 *
 * Everything here is bit-identical to the numpy reference the constants were measured with
 * (tests/pipeline/test_dedup.py keeps that reference as the oracle):
 *
 * - normalise: str.lower(), U+00A0 and NUL to a space, str.strip(), UTF-8, then runs of ASCII
 *   whitespace (" \t\n\r\v\f") collapsed to one space. Characters whose lower-casing depends on
 *   context or expands (U+0130, U+03A3), lone surrogates (encode raises UnicodeEncodeError)
 *   and str subclasses take the slow path: the same Python method calls as before.
 * - shingles: a 32-bit hash of the WIDTH bytes starting at each word start (each character
 *   start when the text has fewer than one space per 20 bytes: CJK, Thai), zeros past the end.
 * - Core: per-doc sorted unique shingle sets, LSH buckets (open addressing), the 2^k uint8
 *   document-frequency table, rare-shingle filtering, exact verification by merge-intersect.
 *
 * MinHash itself stays in rensa (one call per batch); Core.prepare hands it the flat input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define M1 0x9E3779B97F4A7C15ULL
#define M2 0xC2B2AE3D27D4EB4FULL
#define PAD 40           /* zero bytes after a text: a 32-byte shingle reads at most 31 past */
#define NO_SPACE_WORDS 20
#define MAX_WIDTH 32

static inline uint64_t mix64(uint64_t v) {
    v *= M1;
    v ^= v >> 29;
    v *= M2;
    v ^= v >> 32;
    return v;
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* -- byte buffer ------------------------------------------------------------------------- */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 8192;
    while (cap < need) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Zeroed memory for the large, randomly accessed tables (document frequencies, LSH buckets):
 * on 2 MB pages where the kernel offers them, since nearly every lookup is a TLB miss on 4 kB
 * pages. Freed with free(). */
static void *big_calloc(size_t n, size_t size) {
    size_t bytes = n * size;
    if (size && bytes / size != n) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)1 << 21;
    if (bytes >= 2 * huge) {
        void *p = NULL;
        if (posix_memalign(&p, huge, bytes) != 0) return NULL;
        madvise(p, bytes, MADV_HUGEPAGE); /* advisory: failure only costs speed */
        memset(p, 0, bytes);
        return p;
    }
#endif
    return calloc(n, size);
}

/* -- normalisation ----------------------------------------------------------------------- */
static uint8_t ascii_low[128]; /* lower-case; NUL and whitespace -> space */
static uint8_t ascii_ws[128];  /* ascii_low[c] is whitespace for the collapse */
static uint8_t is_ws[256];     /* the bytes the collapse treats as whitespace */
static uint16_t latin1_low[256];

static inline int strip_char(Py_UCS4 c) { return c == 0 || Py_UNICODE_ISSPACE(c); }

static inline size_t put_utf8(uint8_t *w, Py_UCS4 c) {
    if (c < 0x800) {
        w[0] = (uint8_t)(0xC0 | (c >> 6));
        w[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        w[0] = (uint8_t)(0xE0 | (c >> 12));
        w[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        w[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    w[0] = (uint8_t)(0xF0 | (c >> 18));
    w[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    w[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    w[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* Collapse already lower-cased, stripped UTF-8 bytes into out (from out->len). */
static int collapse_bytes(const uint8_t *s, size_t n, Buf *out) {
    if (buf_reserve(out, out->len + n + PAD) < 0) return -1;
    uint8_t *w = out->p + out->len;
    size_t j = 0;
    int prev_ws = 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = s[i];
        if (is_ws[b]) {
            if (!prev_ws) w[j++] = ' ';
            prev_ws = 1;
        } else {
            w[j++] = b;
            prev_ws = 0;
        }
    }
    out->len += j;
    memset(out->p + out->len, 0, PAD);
    return 0;
}

/* The Python expression the fast path reproduces, for the cases it does not handle. */
static int normalise_slow(PyObject *text, Buf *out) {
    PyObject *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    int rc = -1;
    a = PyObject_CallMethod(text, "lower", NULL);
    if (!a) goto done;
    b = PyObject_CallMethod(a, "replace", "ss", "\xc2\xa0", " ");
    if (!b) goto done;
    c = PyObject_CallMethod(b, "replace", "s#s", "\0", (Py_ssize_t)1, " ");
    if (!c) goto done;
    d = PyObject_CallMethod(c, "strip", NULL);
    if (!d) goto done;
    e = PyObject_CallMethod(d, "encode", "s", "utf-8");
    if (!e) goto done;
    if (!PyBytes_Check(e)) {
        PyErr_SetString(PyExc_TypeError, "text.encode() did not return bytes");
        goto done;
    }
    rc = collapse_bytes((const uint8_t *)PyBytes_AS_STRING(e), (size_t)PyBytes_GET_SIZE(e), out);
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    Py_XDECREF(d);
    Py_XDECREF(e);
    return rc;
}

/* Normalised, collapsed UTF-8 of text into out (replacing its content), followed by PAD zero
 * bytes. Returns 0, or -1 with an exception set. */
static int normalise(PyObject *text, Buf *out) {
    out->len = 0;
    if (!PyUnicode_CheckExact(text)) return normalise_slow(text, out);
    if (PyUnicode_READY(text) < 0) return -1;
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t lo = 0, hi = PyUnicode_GET_LENGTH(text);
    while (lo < hi && strip_char(PyUnicode_READ(kind, data, lo))) lo++;
    while (hi > lo && strip_char(PyUnicode_READ(kind, data, hi - 1))) hi--;
    size_t per = kind == PyUnicode_1BYTE_KIND ? 2 : 4;
    if ((size_t)(hi - lo) > ((size_t)PY_SSIZE_T_MAX - PAD) / per) {
        PyErr_NoMemory();
        return -1;
    }
    if (buf_reserve(out, (size_t)(hi - lo) * per + PAD) < 0) return -1;
    uint8_t *w = out->p;
    size_t j = 0;
    int prev_ws = 1;

    /* ASCII: one table lookup and a branch-free collapse (a whitespace byte is written, and
     * kept only when the byte before was not whitespace). */
#define NORMALISE_LOOP(T, LOWER_NONASCII)                                   \
    do {                                                                    \
        const T *s = (const T *)data;                                       \
        for (Py_ssize_t i = lo; i < hi; i++) {                              \
            Py_UCS4 c = s[i];                                               \
            if (c < 128) {                                                  \
                int ws = ascii_ws[c];                                       \
                w[j] = ascii_low[c];                                        \
                j += !(ws & prev_ws);                                       \
                prev_ws = ws;                                               \
                continue;                                                   \
            }                                                               \
            if (c == 0xA0) {                                                \
                w[j] = ' ';                                                 \
                j += !prev_ws;                                              \
                prev_ws = 1;                                                \
                continue;                                                   \
            }                                                               \
            LOWER_NONASCII;                                                 \
            if (c < 128) {                                                  \
                w[j++] = (uint8_t)c; /* e.g. KELVIN SIGN -> k, never space */ \
            } else {                                                        \
                j += put_utf8(w + j, c);                                    \
            }                                                               \
            prev_ws = 0;                                                    \
        }                                                                   \
    } while (0)

    if (kind == PyUnicode_1BYTE_KIND) {
        NORMALISE_LOOP(Py_UCS1, c = latin1_low[c]);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        NORMALISE_LOOP(Py_UCS2, {
            if (c == 0x130 || c == 0x3A3 || (c >= 0xD800 && c <= 0xDFFF))
                return normalise_slow(text, out);
            c = Py_UNICODE_TOLOWER(c);
        });
    } else {
        NORMALISE_LOOP(Py_UCS4, {
            if (c == 0x130 || c == 0x3A3 || (c >= 0xD800 && c <= 0xDFFF))
                return normalise_slow(text, out);
            c = Py_UNICODE_TOLOWER(c);
        });
    }
#undef NORMALISE_LOOP
    out->len = j;
    memset(w + j, 0, PAD);
    return 0;
}

/* -- shingles ---------------------------------------------------------------------------- */
static inline uint32_t shingle_hash(const uint8_t *q, int width) {
    uint64_t h = mix64(load_le64(q));
    for (int k = 8; k < width; k += 8) {
        uint64_t nx = mix64(load_le64(q + k) ^ (uint64_t)k);
        h ^= (nx << 33) | (nx >> 31);
    }
    return (uint32_t)(h >> 32);
}

/* Hashes of the anchored shingles of b[0..n) (zero-padded), in text order. out holds n + 1;
 * it first receives the start offsets (gathered without branches), then their hashes. */
static size_t shingle(const uint8_t *b, size_t n, int width, uint32_t *out) {
    if (!n) return 0;
    size_t k = 1;
    out[0] = 0;
    for (size_t p = 0; p + 1 < n; p++) {
        out[k] = (uint32_t)(p + 1);
        k += b[p] == ' ';
    }
    if (k * NO_SPACE_WORDS < n) { /* no word separators: anchor at every character */
        k = 0;
        for (size_t p = 0; p < n; p++) {
            out[k] = (uint32_t)p;
            k += (b[p] & 0xC0) != 0x80;
        }
    }
    if (width == 16) {
        for (size_t q = 0; q < k; q++) out[q] = shingle_hash(b + out[q], 16);
    } else {
        for (size_t q = 0; q < k; q++) out[q] = shingle_hash(b + out[q], width);
    }
    return k;
}

/* -- sorted unique sets ------------------------------------------------------------------ */
static void sort_u32(uint32_t *a, uint32_t *tmp, size_t n) {
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    uint32_t cnt[4][256];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) {
        uint32_t v = a[i];
        cnt[0][v & 255]++;
        cnt[1][(v >> 8) & 255]++;
        cnt[2][(v >> 16) & 255]++;
        cnt[3][v >> 24]++;
    }
    uint32_t *src = a, *dst = tmp;
    for (int pass = 0; pass < 4; pass++) {
        int sh = 8 * pass;
        uint32_t *c = cnt[pass];
        if (c[(src[0] >> sh) & 255] == n) continue;
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t v = src[i];
            dst[c[(v >> sh) & 255]++] = v;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static size_t unique_sorted(uint32_t *a, size_t n) {
    if (n < 2) return n;
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (a[i] != a[k - 1]) a[k++] = a[i];
    return k;
}

static size_t intersect_count_scalar(const uint32_t *a, size_t na, const uint32_t *b,
                                     size_t nb) {
    size_t i = 0, j = 0, c = 0;
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        c += x == y;
        i += x <= y;
        j += y <= x;
    }
    return c;
}

#if defined(__SSE2__)
/* |a ∩ b| of sorted unique arrays, 4 x 4 blocks compared at once (SSE2: any x86_64). A pair is
 * counted when its two blocks meet, which happens exactly once. */
static size_t intersect_count(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    static const uint8_t pop4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    size_t i = 0, j = 0, c = 0;
    if (na >= 4 && nb >= 4) {
        while (i + 4 <= na && j + 4 <= nb) {
            __m128i va = _mm_loadu_si128((const __m128i *)(a + i));
            __m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
            __m128i m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi32(va, vb),
                             _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(0, 3, 2, 1)))),
                _mm_or_si128(_mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(1, 0, 3, 2))),
                             _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(2, 1, 0, 3)))));
            c += pop4[_mm_movemask_ps(_mm_castsi128_ps(m))];
            uint32_t amax = a[i + 3], bmax = b[j + 3];
            i += (size_t)(amax <= bmax) * 4;
            j += (size_t)(bmax <= amax) * 4;
        }
    }
    return c + intersect_count_scalar(a + i, na - i, b + j, nb - j);
}
#else
#define intersect_count intersect_count_scalar
#endif

static double similarity_of(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                            size_t min_contained) {
    if (!na || !nb) return 0.0;
    size_t inter = intersect_count(a, na, b, nb);
    double jac = (double)inter / (double)(na + nb - inter);
    size_t small = na < nb ? na : nb;
    if (small >= min_contained) {
        double cont = (double)inter / (double)small;
        return cont > jac ? cont : jac;
    }
    return jac;
}

/* -- Batch: documents hashed, waiting for their MinHash signatures -------------------------- */
typedef struct CoreObject CoreObject;

typedef struct {
    PyObject_HEAD
    CoreObject *core;
    Py_ssize_t n;
    uint32_t **sets;  /* sorted unique shingles; NULL once handed to the core */
    Py_ssize_t *lens;
    uint64_t *keys;   /* n * bands, valid once has_keys */
    int has_keys;
    PyObject *flat;    /* bytes: uint64 MinHash input of all docs */
    PyObject *offsets; /* bytes: n + 1 uint64 offsets into flat */
} BatchObject;

static PyTypeObject BatchType;

/* -- Core -------------------------------------------------------------------------------- */
typedef struct {
    PyObject *id; /* NULL: free slot */
    uint32_t *sh;
    uint32_t *rare;
    Py_ssize_t n, nrare;
    int64_t rare_epoch;
    uint64_t *keys;
    uint32_t stamp;
    int in_buckets;
} DocRec;

typedef struct {
    uint64_t key;
    int32_t n, cap; /* n == 0: empty */
    union {
        int32_t one;
        int32_t *many;
    } u;
} Bucket;

struct CoreObject {
    PyObject_HEAD
    double threshold;
    int bands, rows, num_perm, width;
    int df_bits;
    uint32_t df_mask;
    /* bit i set: df[i] >= common_df. The rarity tests read this 2 MB mirror instead of the
     * 16 MB table, so they mostly hit the cache; count_df and the halving keep it exact. */
    uint64_t *common;
    int common_df;
    Py_ssize_t min_contained;
    int64_t rare_refresh, df_half_life;
    uint8_t *df;
    int64_t adds;
    long long candidates_checked;
    DocRec *docs;
    Py_ssize_t docs_cap, docs_hw, live;
    int32_t *free_slots;
    Py_ssize_t nfree;
    PyObject *ids; /* id -> slot (int) */
    Bucket *tab;
    size_t tab_cap, tab_used;
    uint32_t stamp;
    uint64_t band_coef[8];
    uint64_t *band_salt;
    /* scratch */
    uint32_t *scratch;
    size_t scratch_cap;
    /* Core.prepare's buffers, kept between calls (page faults were a visible cost) */
    Buf text, flat, work;
};

static int scratch_reserve(CoreObject *c, size_t n) {
    if (n <= c->scratch_cap) return 0;
    size_t cap = c->scratch_cap ? c->scratch_cap : 4096;
    while (cap < n) cap *= 2;
    uint32_t *p = realloc(c->scratch, cap * sizeof *p);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    c->scratch = p;
    c->scratch_cap = cap;
    return 0;
}

/* bucket table: linear probing, backward-shift deletion */
static inline size_t tab_home(const CoreObject *c, uint64_t key) {
    return (size_t)((key * M1) >> 32) & (c->tab_cap - 1);
}

static Bucket *tab_find(CoreObject *c, uint64_t key) {
    size_t m = c->tab_cap - 1, i = tab_home(c, key);
    for (;;) {
        Bucket *e = &c->tab[i];
        if (!e->n) return NULL;
        if (e->key == key) return e;
        i = (i + 1) & m;
    }
}

static int tab_grow(CoreObject *c) {
    size_t old_cap = c->tab_cap, cap = old_cap ? old_cap * 2 : 1024;
    Bucket *old = c->tab, *t = big_calloc(cap, sizeof *t);
    if (!t) {
        PyErr_NoMemory();
        return -1;
    }
    c->tab = t;
    c->tab_cap = cap;
    for (size_t k = 0; k < old_cap; k++) {
        if (!old[k].n) continue;
        size_t i = tab_home(c, old[k].key);
        while (t[i].n) i = (i + 1) & (cap - 1);
        t[i] = old[k];
    }
    free(old);
    return 0;
}

static int tab_add(CoreObject *c, uint64_t key, int32_t slot) {
    if ((c->tab_used + 1) * 10 > c->tab_cap * 7 && tab_grow(c) < 0) return -1;
    size_t m = c->tab_cap - 1, i = tab_home(c, key);
    for (;;) {
        Bucket *e = &c->tab[i];
        if (!e->n) {
            e->key = key;
            e->n = 1;
            e->cap = 1;
            e->u.one = slot;
            c->tab_used++;
            return 0;
        }
        if (e->key == key) {
            if (e->n == 1) {
                int32_t *many = malloc(4 * sizeof *many);
                if (!many) {
                    PyErr_NoMemory();
                    return -1;
                }
                many[0] = e->u.one;
                e->u.many = many;
                e->cap = 4;
            } else if (e->n == e->cap) {
                int32_t *many = realloc(e->u.many, (size_t)e->cap * 2 * sizeof *many);
                if (!many) {
                    PyErr_NoMemory();
                    return -1;
                }
                e->u.many = many;
                e->cap *= 2;
            }
            e->u.many[e->n++] = slot;
            return 0;
        }
        i = (i + 1) & m;
    }
}

static void tab_delete_at(CoreObject *c, size_t i) {
    size_t m = c->tab_cap - 1, j = i;
    c->tab[i].n = 0;
    c->tab_used--;
    for (;;) {
        j = (j + 1) & m;
        if (!c->tab[j].n) return;
        size_t k = tab_home(c, c->tab[j].key);
        /* move j back to the hole at i unless its home lies cyclically in (i, j] */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        c->tab[i] = c->tab[j];
        c->tab[j].n = 0;
        i = j;
    }
}

static void tab_remove(CoreObject *c, uint64_t key, int32_t slot) {
    Bucket *e = tab_find(c, key);
    if (!e) return;
    if (e->n == 1) {
        if (e->u.one == slot) tab_delete_at(c, (size_t)(e - c->tab));
        return;
    }
    int32_t *m = e->u.many;
    for (int32_t k = 0; k < e->n; k++) {
        if (m[k] != slot) continue;
        memmove(m + k, m + k + 1, (size_t)(e->n - k - 1) * sizeof *m);
        e->n--;
        break;
    }
    if (e->n == 1) {
        int32_t one = m[0];
        free(m);
        e->u.one = one;
        e->cap = 1;
    }
}

static inline int is_rare(const CoreObject *c, uint32_t s) {
    uint32_t i = s & c->df_mask;
    return !((c->common[i >> 6] >> (i & 63)) & 1);
}

#define DF_AHEAD 24 /* prefetch distance of document-frequency lookups (random, 16 MB) */

static size_t rare_into(const CoreObject *c, const uint32_t *sh, size_t n, uint32_t *out) {
    size_t k = 0;
    const size_t pre = n < DF_AHEAD ? n : DF_AHEAD;
    for (size_t i = 0; i < pre; i++) __builtin_prefetch(&c->common[(sh[i] & c->df_mask) >> 6]);
    for (size_t i = 0; i < n; i++) {
        if (i + DF_AHEAD < n) __builtin_prefetch(&c->common[(sh[i + DF_AHEAD] & c->df_mask) >> 6]);
        uint32_t s = sh[i];
        out[k] = s;
        k += is_rare(c, s);
    }
    return k;
}

static int refresh_rare(CoreObject *c, DocRec *d, int64_t epoch) {
    if (d->rare_epoch == epoch) return 0;
    if (!d->rare && d->n) {
        d->rare = malloc((size_t)d->n * sizeof *d->rare);
        if (!d->rare) {
            PyErr_NoMemory();
            return -1;
        }
    }
    d->nrare = (Py_ssize_t)rare_into(c, d->sh, (size_t)d->n, d->rare);
    d->rare_epoch = epoch;
    return 0;
}

typedef struct {
    int32_t slot;
    double sim;
} Match;

/* Candidates of (sh, keys), verified; matches appended to *out (caller frees). */
static int find_matches(CoreObject *c, const uint32_t *sh, size_t n, const uint64_t *keys,
                        int32_t self_slot, Match **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    size_t cap = 0;
    if (++c->stamp == 0) { /* wrapped: forget all stamps */
        for (Py_ssize_t s = 0; s < c->docs_hw; s++) c->docs[s].stamp = 0;
        c->stamp = 1;
    }
    const uint32_t stamp = c->stamp;
    if (self_slot >= 0) c->docs[self_slot].stamp = stamp;
    const int64_t epoch = c->adds / c->rare_refresh;
    uint32_t *rare = NULL;
    size_t nrare = 0;
    int have_rare = 0;
    /* the bucket lookups are cache misses in a large table: start them all at once */
    for (int b = 0; b < c->bands; b++) __builtin_prefetch(&c->tab[tab_home(c, keys[b])]);
    for (int b = 0; b < c->bands; b++) {
        Bucket *e = tab_find(c, keys[b]);
        if (!e) continue;
        int32_t cnt = e->n;
        const int32_t *slots = cnt == 1 ? &e->u.one : e->u.many;
        for (int32_t k = 0; k < cnt; k++) {
            int32_t s = slots[k];
            DocRec *d = &c->docs[s];
            if (d->stamp == stamp) continue;
            d->stamp = stamp;
            c->candidates_checked++;
            if (!have_rare) {
                if (scratch_reserve(c, n + 1) < 0) goto fail;
                rare = c->scratch;
                nrare = rare_into(c, sh, n, rare);
                have_rare = 1;
            }
            if (refresh_rare(c, d, epoch) < 0) goto fail;
            double sim;
            size_t m = (size_t)c->min_contained;
            if ((nrare < (size_t)d->nrare ? nrare : (size_t)d->nrare) >= m)
                sim = similarity_of(rare, nrare, d->rare, (size_t)d->nrare, m);
            else
                sim = similarity_of(sh, n, d->sh, (size_t)d->n, m);
            if (sim >= c->threshold) {
                if (*nout == cap) {
                    cap = cap ? cap * 2 : 8;
                    Match *p = realloc(*out, cap * sizeof *p);
                    if (!p) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    *out = p;
                }
                (*out)[(*nout)++] = (Match){s, sim};
            }
        }
    }
    return 0;
fail:
    free(*out);
    *out = NULL;
    *nout = 0;
    return -1;
}

/* Most similar first, then by id (Python's sort key (-sim, id)); returns a list. */
static PyObject *matches_list(CoreObject *c, Match *m, size_t n) {
    for (size_t i = 1; i < n; i++) {
        Match v = m[i];
        size_t j = i;
        while (j > 0) {
            Match u = m[j - 1];
            int before;
            if (v.sim != u.sim) {
                before = v.sim > u.sim;
            } else {
                before = PyObject_RichCompareBool(c->docs[v.slot].id, c->docs[u.slot].id, Py_LT);
                if (before < 0) return NULL;
            }
            if (!before) break;
            m[j] = u;
            j--;
        }
        m[j] = v;
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(Od)", c->docs[m[i].slot].id, m[i].sim);
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static void sync_common(CoreObject *c) {
    size_t size = (size_t)c->df_mask + 1;
    for (size_t w = 0; w < (size + 63) / 64; w++) {
        uint64_t bits = 0;
        for (size_t b = 0; b < 64 && w * 64 + b < size; b++)
            bits |= (uint64_t)(c->df[w * 64 + b] >= c->common_df) << b;
        c->common[w] = bits;
    }
}

/* Every DF_HALF_LIFE adds: all counts halved (old templates fade), the mirror rebuilt. */
static void halve_df(CoreObject *c) {
    size_t size = (size_t)c->df_mask + 1;
    for (size_t i = 0; i < size; i++) c->df[i] >>= 1;
    sync_common(c);
}

/* Document frequency: each shingle of sh not in copied counted once. The values are gathered
 * before any is written (numpy's gather-then-scatter: a 24-bit index twice in one doc counts
 * once); only the shingles not shared with the doc copied are read, at most a few hundred. */
static int count_df(CoreObject *c, const uint32_t *sh, size_t n, const uint32_t *copied,
                        size_t ncopied) {
    if (scratch_reserve(c, 2 * n + 1) < 0) return -1;
    uint32_t *idx = c->scratch, *val = c->scratch + n;
    size_t i = 0, j = 0, k = 0;
    const uint32_t mask = c->df_mask;
    if (copied) { /* branch-free merge: keep what copied lacks */
        while (i < n && j < ncopied) {
            uint32_t a = sh[i], b = copied[j];
            idx[k] = a & mask;
            k += a < b;
            i += a <= b;
            j += b <= a;
        }
    }
    while (i < n) idx[k++] = sh[i++] & mask;
    const size_t pre = k < DF_AHEAD ? k : DF_AHEAD;
    for (size_t q = 0; q < pre; q++) __builtin_prefetch(&c->df[idx[q]]);
    for (size_t q = 0; q < k; q++) {
        if (q + DF_AHEAD < k) __builtin_prefetch(&c->df[idx[q + DF_AHEAD]]);
        val[q] = c->df[idx[q]];
    }
    for (size_t q = 0; q < k; q++) {
        uint32_t x = idx[q], v = val[q];
        uint32_t nv = (v < 254 ? v : 254) + 1;
        c->df[x] = (uint8_t)nv;
        /* counts only grow here: the mirror changes when one reaches common_df */
        if ((int)v < c->common_df && (int)nv >= c->common_df)
            c->common[x >> 6] |= (uint64_t)1 << (x & 63);
    }
    c->adds++;
    if (c->adds % c->df_half_life == 0) halve_df(c);
    return 0;
}

static int32_t new_slot(CoreObject *c) {
    if (c->nfree) return c->free_slots[--c->nfree];
    if (c->docs_hw == c->docs_cap) {
        Py_ssize_t cap = c->docs_cap ? c->docs_cap * 2 : 1024;
        if (cap > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "too many live documents");
            return -1;
        }
        DocRec *d = realloc(c->docs, (size_t)cap * sizeof *d);
        if (!d) {
            PyErr_NoMemory();
            return -1;
        }
        int32_t *f = realloc(c->free_slots, (size_t)cap * sizeof *f);
        if (!f) {
            c->docs = d;
            PyErr_NoMemory();
            return -1;
        }
        c->docs = d;
        c->free_slots = f;
        c->docs_cap = cap;
    }
    int32_t s = (int32_t)c->docs_hw++;
    memset(&c->docs[s], 0, sizeof c->docs[s]);
    return s;
}

static void free_doc(CoreObject *c, int32_t s) {
    DocRec *d = &c->docs[s];
    if (d->in_buckets)
        for (int b = 0; b < c->bands; b++) tab_remove(c, d->keys[b], s);
    free(d->sh);
    free(d->rare);
    free(d->keys);
    Py_CLEAR(d->id);
    memset(d, 0, sizeof *d);
    c->free_slots[c->nfree++] = s;
    c->live--;
}

static int Core_init(CoreObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"threshold", "bands", "rows", "num_perm", "width", "df_bits",
                             "common_df", "min_contained", "rare_refresh", "df_half_life", NULL};
    long long rare_refresh, half_life;
    Py_ssize_t min_contained;
    if (self->ids) {
        PyErr_SetString(PyExc_RuntimeError, "Core is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "diiiiiinLL", kwlist, &self->threshold,
                                     &self->bands, &self->rows, &self->num_perm, &self->width,
                                     &self->df_bits, &self->common_df, &min_contained,
                                     &rare_refresh, &half_life))
        return -1;
    if (self->bands < 1 || self->rows < 1 || self->rows > 8 ||
        self->bands * self->rows > self->num_perm || self->width < 8 ||
        self->width > MAX_WIDTH || self->width % 8 || self->df_bits < 1 || self->df_bits > 30 ||
        rare_refresh < 1 || half_life < 1 || min_contained < 0) {
        PyErr_SetString(PyExc_ValueError, "invalid Core parameters");
        return -1;
    }
    self->min_contained = min_contained;
    self->rare_refresh = rare_refresh;
    self->df_half_life = half_life;
    self->df_mask = (uint32_t)((1u << self->df_bits) - 1);
    self->df = big_calloc((size_t)self->df_mask + 1, 1);
    self->common = big_calloc(((size_t)self->df_mask >> 6) + 1, sizeof *self->common);
    self->band_salt = malloc((size_t)self->bands * sizeof *self->band_salt);
    if (!self->df || !self->common || !self->band_salt) {
        PyErr_NoMemory();
        return -1;
    }
    if (self->common_df <= 0) sync_common(self); /* else: all zero, nothing is common yet */
    for (int r = 0; r < self->rows; r++) self->band_coef[r] = mix64((uint64_t)r + 1);
    for (int b = 0; b < self->bands; b++) self->band_salt[b] = mix64(1000 + (uint64_t)b);
    self->ids = PyDict_New();
    if (!self->ids) return -1;
    if (tab_grow(self) < 0) return -1;
    return 0;
}

static void Core_dealloc(CoreObject *self) {
    for (Py_ssize_t s = 0; s < self->docs_hw; s++) {
        DocRec *d = &self->docs[s];
        if (!d->id) continue;
        free(d->sh);
        free(d->rare);
        free(d->keys);
        Py_CLEAR(d->id);
    }
    for (size_t i = 0; i < self->tab_cap; i++)
        if (self->tab[i].n > 1) free(self->tab[i].u.many);
    free(self->tab);
    free(self->docs);
    free(self->free_slots);
    free(self->df);
    free(self->common);
    free(self->band_salt);
    free(self->scratch);
    free(self->text.p);
    free(self->flat.p);
    free(self->work.p);
    Py_XDECREF(self->ids);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_init(CoreObject *self) {
    if (self->ids) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Core.__init__ was not called");
    return -1;
}

/* Buffers grown by an enormous text are not kept. */
static void trim_buffers(CoreObject *c) {
    Buf *bufs[3] = {&c->text, &c->flat, &c->work};
    for (int i = 0; i < 3; i++) {
        if (bufs[i]->cap > ((size_t)16 << 20)) {
            free(bufs[i]->p);
            bufs[i]->p = NULL;
            bufs[i]->cap = bufs[i]->len = 0;
        }
    }
}

/* Core.prepare(texts) -> Batch: shingle sets and the MinHash input (rare shingles per the DF
 * table now, unless fewer than min_contained are rare). */
static PyObject *Core_prepare(CoreObject *self, PyObject *arg) {
    if (check_init(self) < 0) return NULL;
    PyObject *seq = PySequence_Fast(arg, "texts must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    BatchObject *bt = PyObject_New(BatchObject, &BatchType);
    Buf *text = &self->text, *flat = &self->flat, *work = &self->work;
    uint64_t *offs = NULL;
    flat->len = 0;
    if (!bt) goto fail_noref;
    Py_INCREF(self);
    bt->core = self;
    bt->n = n;
    bt->has_keys = 0;
    bt->flat = bt->offsets = NULL;
    bt->sets = calloc((size_t)n + 1, sizeof *bt->sets);
    bt->lens = calloc((size_t)n + 1, sizeof *bt->lens);
    bt->keys = calloc((size_t)n * (size_t)self->bands + 1, sizeof *bt->keys);
    offs = calloc((size_t)n + 1, sizeof *offs);
    if (!bt->sets || !bt->lens || !bt->keys || !offs) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (normalise(items[i], text) < 0) goto fail;
        size_t nb = text->len;
        /* work: the shingles (nb + 1), then the sort's second buffer (nb + 1) */
        if (buf_reserve(work, (2 * nb + 2) * sizeof(uint32_t)) < 0) goto fail;
        uint32_t *all = (uint32_t *)work->p;
        size_t k = shingle(text->p, nb, self->width, all);
        sort_u32(all, all + nb + 1, k);
        k = unique_sorted(all, k);
        uint32_t *h = malloc((k + 1) * sizeof *h);
        if (!h) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(h, all, k * sizeof *h);
        bt->sets[i] = h;
        bt->lens[i] = (Py_ssize_t)k;
        /* MinHash input: the rare shingles, or all when fewer than min_contained are rare */
        if (buf_reserve(flat, flat->len + k * 8 + 8) < 0) goto fail;
        uint64_t *w = (uint64_t *)(flat->p + flat->len);
        size_t m = 0;
        const size_t pre = k < DF_AHEAD ? k : DF_AHEAD;
        for (size_t q = 0; q < pre; q++)
            __builtin_prefetch(&self->common[(h[q] & self->df_mask) >> 6]);
        for (size_t q = 0; q < k; q++) {
            if (q + DF_AHEAD < k)
                __builtin_prefetch(&self->common[(h[q + DF_AHEAD] & self->df_mask) >> 6]);
            w[m] = h[q];
            m += is_rare(self, h[q]);
        }
        if (m < (size_t)self->min_contained) {
            for (size_t q = 0; q < k; q++) w[q] = h[q];
            m = k;
        }
        flat->len += m * 8;
        offs[i + 1] = offs[i] + m;
    }
    bt->flat = PyBytes_FromStringAndSize((const char *)flat->p, (Py_ssize_t)flat->len);
    bt->offsets = PyBytes_FromStringAndSize((const char *)offs, (Py_ssize_t)(n + 1) * 8);
    if (!bt->flat || !bt->offsets) goto fail;
    free(offs);
    Py_DECREF(seq);
    trim_buffers(self);
    return (PyObject *)bt;
fail:
    Py_DECREF(bt);
fail_noref:
    free(offs);
    Py_DECREF(seq);
    trim_buffers(self);
    return NULL;
}

static BatchObject *get_batch(CoreObject *self, PyObject *b, Py_ssize_t i, int need_set) {
    if (check_init(self) < 0) return NULL;
    if (!PyObject_TypeCheck(b, &BatchType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Batch");
        return NULL;
    }
    BatchObject *bt = (BatchObject *)b;
    if (bt->core != self) {
        PyErr_SetString(PyExc_ValueError, "Batch prepared by another Core");
        return NULL;
    }
    if (!bt->has_keys) {
        PyErr_SetString(PyExc_ValueError, "Batch has no signatures yet");
        return NULL;
    }
    if (i < 0 || i >= bt->n) {
        PyErr_SetString(PyExc_IndexError, "Batch index out of range");
        return NULL;
    }
    if (need_set && !bt->sets[i]) {
        PyErr_SetString(PyExc_ValueError, "document already added");
        return NULL;
    }
    return bt;
}

/* Core.add(batch, i, id) -> None, or [(id, similarity), ...] most similar first. */
static PyObject *Core_add(CoreObject *self, PyObject *args) {
    PyObject *b, *id;
    Py_ssize_t i;
    if (!PyArg_ParseTuple(args, "OnO", &b, &i, &id)) return NULL;
    BatchObject *bt = get_batch(self, b, i, 1);
    if (!bt) return NULL;
    int has = PyDict_Contains(self->ids, id);
    if (has < 0) return NULL;
    if (has) {
        PyErr_Format(PyExc_ValueError, "duplicate id %R", id);
        return NULL;
    }
    uint32_t *sh = bt->sets[i];
    size_t n = (size_t)bt->lens[i];
    const uint64_t *keys = bt->keys + (size_t)i * (size_t)self->bands;
    Match *m = NULL;
    size_t nm = 0;
    if (n && find_matches(self, sh, n, keys, -1, &m, &nm) < 0) return NULL;
    PyObject *result = Py_None;
    Py_INCREF(result);
    if (nm) {
        Py_DECREF(result);
        result = matches_list(self, m, nm); /* sorts m: m[0] is the best */
        if (!result) goto fail;
    }
    const DocRec *best = nm ? &self->docs[m[0].slot] : NULL;
    if (count_df(self, sh, n, best ? best->sh : NULL, best ? (size_t)best->n : 0) < 0) goto fail;
    uint64_t *k = malloc((size_t)self->bands * sizeof *k);
    if (!k) {
        PyErr_NoMemory();
        goto fail;
    }
    memcpy(k, keys, (size_t)self->bands * sizeof *k);
    int32_t s = new_slot(self);
    if (s < 0) {
        free(k);
        goto fail;
    }
    PyObject *slot = PyLong_FromLong(s);
    if (!slot || PyDict_SetItem(self->ids, id, slot) < 0) {
        Py_XDECREF(slot);
        free(k);
        self->free_slots[self->nfree++] = s;
        goto fail;
    }
    Py_DECREF(slot);
    DocRec *d = &self->docs[s];
    Py_INCREF(id);
    d->id = id;
    d->sh = sh;
    d->n = (Py_ssize_t)n;
    d->keys = k;
    d->rare_epoch = -1;
    bt->sets[i] = NULL;
    self->live++;
    if (n) {
        d->in_buckets = 1;
        for (int band = 0; band < self->bands; band++) {
            if (tab_add(self, k[band], s) < 0) { /* out of memory: undo this doc */
                PyObject *t, *v, *tb;
                PyErr_Fetch(&t, &v, &tb);
                bt->sets[i] = d->sh;
                d->sh = NULL;
                PyDict_DelItem(self->ids, id);
                free_doc(self, s);
                PyErr_Restore(t, v, tb);
                goto fail;
            }
        }
    }
    free(m);
    return result;
fail:
    free(m);
    Py_XDECREF(result);
    return NULL;
}

/* Core.query(batch, i, id) -> [(id, similarity), ...]: live near-duplicates, nothing added. */
static PyObject *Core_query(CoreObject *self, PyObject *args) {
    PyObject *b, *id;
    Py_ssize_t i;
    if (!PyArg_ParseTuple(args, "OnO", &b, &i, &id)) return NULL;
    BatchObject *bt = get_batch(self, b, i, 1);
    if (!bt) return NULL;
    int32_t self_slot = -1;
    PyObject *slot = PyDict_GetItemWithError(self->ids, id);
    if (slot) {
        self_slot = (int32_t)PyLong_AsLong(slot);
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    Match *m = NULL;
    size_t nm = 0;
    if (find_matches(self, bt->sets[i], (size_t)bt->lens[i],
                     bt->keys + (size_t)i * (size_t)self->bands, self_slot, &m, &nm) < 0)
        return NULL;
    PyObject *result = matches_list(self, m, nm);
    free(m);
    return result;
}

/* Core.remove(id): drop a live doc from the buckets and free its sets. */
static PyObject *Core_remove(CoreObject *self, PyObject *id) {
    if (check_init(self) < 0) return NULL;
    PyObject *slot = PyDict_GetItemWithError(self->ids, id);
    if (!slot) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, id);
        return NULL;
    }
    long s = PyLong_AsLong(slot);
    if (s == -1 && PyErr_Occurred()) return NULL;
    Py_INCREF(id); /* the dict may hold the only other reference */
    int rc = PyDict_DelItem(self->ids, id);
    Py_DECREF(id);
    if (rc < 0) return NULL;
    free_doc(self, (int32_t)s);
    Py_RETURN_NONE;
}

/* Core.shingles(id) -> bytes: the stored sorted unique uint32 set (tests, debugging). */
static PyObject *Core_shingles(CoreObject *self, PyObject *id) {
    if (check_init(self) < 0) return NULL;
    PyObject *slot = PyDict_GetItemWithError(self->ids, id);
    if (!slot) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, id);
        return NULL;
    }
    DocRec *d = &self->docs[PyLong_AsLong(slot)];
    return PyBytes_FromStringAndSize((const char *)d->sh, d->n * 4);
}

static PyObject *Core_stats(CoreObject *self, PyObject *Py_UNUSED(ignored)) {
    size_t many = 0;
    for (size_t i = 0; i < self->tab_cap; i++)
        if (self->tab[i].n > 1) many++;
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:L}", "live", self->live, "buckets",
                         (Py_ssize_t)self->tab_used, "shared_buckets", (Py_ssize_t)many,
                         "slots", self->docs_hw, "adds", (long long)self->adds);
}

static PyObject *Core_get_candidates(CoreObject *self, void *Py_UNUSED(c)) {
    return PyLong_FromLongLong(self->candidates_checked);
}

static PyObject *Core_get_adds(CoreObject *self, void *Py_UNUSED(c)) {
    return PyLong_FromLongLong((long long)self->adds);
}

static PyObject *Core_get_df(CoreObject *self, void *Py_UNUSED(c)) {
    if (check_init(self) < 0) return NULL;
    return PyMemoryView_FromMemory((char *)self->df, (Py_ssize_t)self->df_mask + 1, PyBUF_READ);
}

static PyMethodDef Core_methods[] = {
    {"prepare", (PyCFunction)Core_prepare, METH_O,
     "prepare(texts) -> Batch: shingle sets and the flat MinHash input of the texts"},
    {"add", (PyCFunction)Core_add, METH_VARARGS,
     "add(batch, i, id) -> None | [(id, sim)]: match, count, index the batch's doc i"},
    {"query", (PyCFunction)Core_query, METH_VARARGS,
     "query(batch, i, id) -> [(id, sim)]: live near-duplicates of the batch's doc i"},
    {"remove", (PyCFunction)Core_remove, METH_O, "remove(id): evict a live doc"},
    {"shingles", (PyCFunction)Core_shingles, METH_O, "shingles(id) -> bytes (uint32 set)"},
    {"stats", (PyCFunction)Core_stats, METH_NOARGS, "sizes of the internal tables"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Core_getset[] = {
    {"candidates_checked", (getter)Core_get_candidates, NULL, "candidates verified", NULL},
    {"adds", (getter)Core_get_adds, NULL, "docs added (document-frequency clock)", NULL},
    {"df", (getter)Core_get_df, NULL, "read-only view of the document-frequency table", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Core_members[] = {
    {"threshold", T_DOUBLE, offsetof(CoreObject, threshold), 0,
     "similarity from which a candidate is a near-duplicate"},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "newsdesk.pipeline._dedupcore.Core",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Near-duplicate index core: shingle sets, LSH buckets, document frequencies.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
    .tp_members = Core_members,
};

/* -- Batch methods ----------------------------------------------------------------------- */
static void Batch_dealloc(BatchObject *self) {
    if (self->sets)
        for (Py_ssize_t i = 0; i < self->n; i++) free(self->sets[i]);
    free(self->sets);
    free(self->lens);
    free(self->keys);
    Py_XDECREF(self->flat);
    Py_XDECREF(self->offsets);
    Py_XDECREF(self->core);
    PyObject_Free(self);
}

/* Batch.set_signatures(rows): rows[i] holds doc i's num_perm MinHash values (ints). */
static PyObject *Batch_set_signatures(BatchObject *self, PyObject *rows) {
    CoreObject *c = self->core;
    PyObject *seq = PySequence_Fast(rows, "rows must be a sequence");
    if (!seq) return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != self->n) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "one signature per document expected");
        return NULL;
    }
    const int used = c->bands * c->rows;
    for (Py_ssize_t i = 0; i < self->n; i++) {
        PyObject *row = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, i), "row must be a sequence");
        if (!row) goto fail;
        if (PySequence_Fast_GET_SIZE(row) < used) {
            Py_DECREF(row);
            PyErr_SetString(PyExc_ValueError, "signature shorter than bands * rows");
            goto fail;
        }
        PyObject **v = PySequence_Fast_ITEMS(row);
        uint64_t *key = self->keys + (size_t)i * (size_t)c->bands;
        for (int b = 0; b < c->bands; b++) {
            uint64_t acc = 0;
            for (int r = 0; r < c->rows; r++) {
                unsigned long long x = PyLong_AsUnsignedLongLong(v[b * c->rows + r]);
                if (x == (unsigned long long)-1 && PyErr_Occurred()) {
                    Py_DECREF(row);
                    goto fail;
                }
                acc += (uint64_t)x * c->band_coef[r];
            }
            key[b] = acc ^ c->band_salt[b];
        }
        Py_DECREF(row);
    }
    Py_DECREF(seq);
    self->has_keys = 1;
    Py_RETURN_NONE;
fail:
    Py_DECREF(seq);
    return NULL;
}

static PyObject *Batch_sig_input(BatchObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyTuple_Pack(2, self->flat, self->offsets);
}

static PyObject *Batch_set(BatchObject *self, PyObject *arg) {
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0 || i >= self->n) {
        PyErr_SetString(PyExc_IndexError, "Batch index out of range");
        return NULL;
    }
    if (!self->sets[i]) {
        PyErr_SetString(PyExc_ValueError, "document already added");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)self->sets[i], self->lens[i] * 4);
}

static PyObject *Batch_keys(BatchObject *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->has_keys) {
        PyErr_SetString(PyExc_ValueError, "Batch has no signatures yet");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)self->keys,
                                     self->n * self->core->bands * 8);
}

static Py_ssize_t Batch_len(BatchObject *self) { return self->n; }

static PyMethodDef Batch_methods[] = {
    {"sig_input", (PyCFunction)Batch_sig_input, METH_NOARGS,
     "(flat, offsets): uint64 bytes for rensa's digest_matrix_from_flat_token_hashes"},
    {"set_signatures", (PyCFunction)Batch_set_signatures, METH_O,
     "set_signatures(rows): MinHash rows -> LSH band keys"},
    {"set", (PyCFunction)Batch_set, METH_O, "set(i) -> bytes: doc i's sorted uint32 set"},
    {"keys", (PyCFunction)Batch_keys, METH_NOARGS, "bytes: n x bands uint64 band keys"},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods Batch_as_sequence = {.sq_length = (lenfunc)Batch_len};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "newsdesk.pipeline._dedupcore.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Documents hashed by Core.prepare, waiting for their signatures.",
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_methods = Batch_methods,
    .tp_as_sequence = &Batch_as_sequence,
};

/* -- module functions -------------------------------------------------------------------- */
static int check_width(int width) {
    if (width < 8 || width > MAX_WIDTH || width % 8) {
        PyErr_SetString(PyExc_ValueError, "width must be 8, 16, 24 or 32");
        return -1;
    }
    return 0;
}

/* shingle_batch(texts, width) -> [bytes]: unsorted uint32 shingle hashes of each text. */
static PyObject *mod_shingle_batch(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *texts;
    int width;
    if (!PyArg_ParseTuple(args, "Oi", &texts, &width)) return NULL;
    if (check_width(width) < 0) return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    Buf text = {0};
    if (!out) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (normalise(PySequence_Fast_GET_ITEM(seq, i), &text) < 0) goto fail;
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)text.len * 4);
        if (!b) goto fail;
        size_t k = shingle(text.p, text.len, width, (uint32_t *)PyBytes_AS_STRING(b));
        if (k != text.len && _PyBytes_Resize(&b, (Py_ssize_t)k * 4) < 0) goto fail;
        PyList_SET_ITEM(out, i, b);
    }
    free(text.p);
    Py_DECREF(seq);
    return out;
fail:
    free(text.p);
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

/* normalise(text) -> bytes: the normalised, collapsed UTF-8 the shingles are read from. */
static PyObject *mod_normalise(PyObject *Py_UNUSED(m), PyObject *text) {
    Buf b = {0};
    if (normalise(text, &b) < 0) {
        free(b.p);
        return NULL;
    }
    PyObject *r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
    free(b.p);
    return r;
}

static int get_u32(PyObject *o, Py_buffer *v) {
    if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (v->itemsize != 4 || (v->format && strchr("IL", v->format[0]) == NULL &&
                             strcmp(v->format, "<I") != 0 && strcmp(v->format, "=I") != 0 &&
                             strcmp(v->format, "B") != 0)) {
        PyBuffer_Release(v);
        PyErr_SetString(PyExc_TypeError, "expected a contiguous uint32 buffer");
        return -1;
    }
    return 0;
}

static int get_bytes_or_u32(PyObject *o, Py_buffer *v) {
    if (PyBytes_Check(o)) return PyObject_GetBuffer(o, v, PyBUF_SIMPLE);
    return get_u32(o, v);
}

/* exact_set(hashes) -> bytes: sorted unique uint32. */
static PyObject *mod_exact_set(PyObject *Py_UNUSED(m), PyObject *arg) {
    Py_buffer v;
    if (get_bytes_or_u32(arg, &v) < 0) return NULL;
    size_t n = (size_t)v.len / 4;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n * 4);
    uint32_t *tmp = malloc((n + 1) * sizeof *tmp);
    if (!out || !tmp) {
        PyBuffer_Release(&v);
        Py_XDECREF(out);
        if (!tmp) {
            PyErr_NoMemory();
        }
        free(tmp);
        return NULL;
    }
    uint32_t *a = (uint32_t *)PyBytes_AS_STRING(out);
    memcpy(a, v.buf, n * 4);
    PyBuffer_Release(&v);
    sort_u32(a, tmp, n);
    free(tmp);
    size_t k = unique_sorted(a, n);
    if (k != n && _PyBytes_Resize(&out, (Py_ssize_t)k * 4) < 0) return NULL;
    return out;
}

/* similarity(a, b, min_contained) -> float on sorted unique uint32 sets. */
static PyObject *mod_similarity(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *a, *b;
    Py_ssize_t mc;
    if (!PyArg_ParseTuple(args, "OOn", &a, &b, &mc)) return NULL;
    Py_buffer va, vb;
    if (get_bytes_or_u32(a, &va) < 0) return NULL;
    if (get_bytes_or_u32(b, &vb) < 0) {
        PyBuffer_Release(&va);
        return NULL;
    }
    double s = similarity_of((const uint32_t *)va.buf, (size_t)va.len / 4,
                             (const uint32_t *)vb.buf, (size_t)vb.len / 4,
                             (size_t)(mc < 0 ? 0 : mc));
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    return PyFloat_FromDouble(s);
}

static PyMethodDef module_methods[] = {
    {"shingle_batch", mod_shingle_batch, METH_VARARGS,
     "shingle_batch(texts, width) -> [bytes]: unsorted uint32 shingle hashes per text"},
    {"normalise", mod_normalise, METH_O, "normalise(text) -> bytes (lower, strip, collapse)"},
    {"exact_set", mod_exact_set, METH_O, "exact_set(uint32 buffer) -> bytes: sorted unique"},
    {"similarity", mod_similarity, METH_VARARGS,
     "similarity(a, b, min_contained) -> max(Jaccard, containment)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_dedupcore",
    "C core of newsdesk.pipeline.dedup (shingles, LSH buckets, verification).", -1,
    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__dedupcore(void) {
    for (int c = 0; c < 128; c++) ascii_low[c] = (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    memset(is_ws, 0, sizeof is_ws);
    is_ws[' '] = is_ws['\t'] = is_ws['\n'] = is_ws['\r'] = is_ws['\v'] = is_ws['\f'] = 1;
    ascii_low[0] = ' ';
    for (int c = 0; c < 128; c++) {
        if (is_ws[c]) ascii_low[c] = ' ';
        ascii_ws[c] = is_ws[ascii_low[c]];
    }
    for (int c = 0; c < 256; c++) {
        Py_UCS4 l = Py_UNICODE_TOLOWER((Py_UCS4)c);
        if (l > 0xFF) { /* never in any Unicode version so far; the fast path assumes it */
            PyErr_SetString(PyExc_ImportError, "Latin-1 lower-case leaves Latin-1");
            return NULL;
        }
        latin1_low[c] = (uint16_t)l;
    }
    if (PyType_Ready(&CoreType) < 0 || PyType_Ready(&BatchType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
