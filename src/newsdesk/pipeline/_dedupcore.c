/* Hot path of newsdesk.pipeline.dedup: shingle hashing, MinHash and the near-duplicate index.
 *
 * Shingles are bit-identical to the numpy reference the constants were measured with
 * (tests/pipeline/test_dedup.py keeps that reference as the oracle):
 *
 * - normalise: str.lower(), U+00A0 and NUL to a space, str.strip(), UTF-8, then runs of ASCII
 *   whitespace (" \t\n\r\v\f") collapsed to one space. Characters whose lower-casing depends on
 *   context (U+03A3), lone surrogates (encode raises UnicodeEncodeError) and str subclasses take
 *   the slow path: the same Python method calls as before. Blocks of 16 printable-ASCII
 *   characters without a run of spaces are lower-cased with SSE2 at once; in other blocks, the
 *   characters before the first one that breaks that rule are too.
 * - shingles: a 32-bit hash of the WIDTH bytes starting at each word start (each character
 *   start when the text has fewer than one space per 20 bytes: CJK, Thai), zeros past the end.
 *   Word starts come from SSE2 space masks, 32 bytes at a time.
 * - Core.prepare: per-doc sorted unique shingle sets (2-pass radix sort on the top 16 bits, its
 *   histograms counted while hashing, an insertion fix-up fused with the unique pass), one block
 *   per doc: [band keys][set][rare subset].
 * - Core.add: the rare subset (DF table now; a 64 kB filter of the 2 MB "common" mirror answers
 *   most tests from L2), one-permutation MinHash of it with densification (one multiply per
 *   shingle; replaced rensa's 128-permutation R-MinHash, same LSH behaviour: see dedup.py),
 *   band keys, candidates from the LSH buckets (open addressing, 4 docs in place per bucket),
 *   exact verification by 8 x 8 merge-intersection (AVX2 where the CPU has it, chosen at
 *   import; SSE2 otherwise), DF counting, indexing.
 *
 * Instructions of Core.prepare + Core.add_batch on the bench/dedup.py docs (callgrind, after
 * this round, 134k per doc): shingle 24 % (hashing 17 %), verification 16 %, sort 15 %,
 * normalise 14 %, rarity tests + MinHash 11 %, DF counting (set difference) 8 %, the rest
 * (buckets, Python objects) 12 %. In time, add_batch waits on memory (DF table, buckets, cold
 * stored sets) more than prepare does: about 11 of 18 us per doc for 46 % of the instructions.
 * This round, 182k -> 134k instructions per doc (152k where the CPU has no AVX2), about 20 %
 * less CPU time (18.2 vs 22.8 us, alternating runs): AVX2 merge loops for verification and the
 * DF set difference (half the instructions; the SSE2 ones now sum their masks in a vector and
 * do not branch on which side advances); candidates' stored sets fetched (2 kB) when found;
 * the DF table's lines fetched while the doc is indexed, counted after; word starts written
 * from a table per byte of the space mask; a shingle hash's first mix without the step whose
 * bits are dropped; the radix passes reading their digit as a byte, unrolled; the rarity test
 * a branch on the sparse filter; MinHash bins by a shift (128 bins), densification visiting
 * only the empty bins; lower-casing of the BMP from lazily filled tables and U+0130 in C
 * (Turkish texts took the slow path); bucket heap arrays fetched with the buckets; match
 * tuples untracked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_PATH 1 /* functions built for AVX2 too, called when the CPU has it */
#include <immintrin.h>
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
#define MAX_PERM 256
/* Short hot loops: unrolled, since setup.py builds with -O3 only (no -funroll-loops). */
#if defined(__clang__)
#define UNROLL4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define UNROLL4 _Pragma("GCC unroll 4")
#else
#define UNROLL4
#endif

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
 * pages. Fresh anonymous pages are zero already: no memset (which cost a second pass over the
 * 16 MB DF table and each grown bucket table). Freed with big_free(p, n, size). */
#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define BIG_HUGE ((size_t)1 << 21)
#define BIG_MMAP(bytes) ((bytes) >= 2 * BIG_HUGE)
#endif

static void *big_calloc(size_t n, size_t size) {
    size_t bytes = n * size;
    if (size && bytes / size != n) return NULL;
#ifdef BIG_HUGE
    if (BIG_MMAP(bytes)) {
        size_t len = (bytes + BIG_HUGE - 1) & ~(BIG_HUGE - 1);
        if (len < bytes || len + BIG_HUGE < len) return NULL;
        uint8_t *raw = mmap(NULL, len + BIG_HUGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) return NULL;
        uint8_t *p = (uint8_t *)(((uintptr_t)raw + BIG_HUGE - 1) & ~(uintptr_t)(BIG_HUGE - 1));
        size_t head = (size_t)(p - raw);
        if (head) munmap(raw, head);
        if (BIG_HUGE - head) munmap(p + len, BIG_HUGE - head);
        madvise(p, len, MADV_HUGEPAGE); /* advisory: failure only costs speed */
        return p;
    }
#endif
    return calloc(n, size);
}

static void big_free(void *p, size_t n, size_t size) {
    if (!p) return;
#ifdef BIG_HUGE
    size_t bytes = n * size;
    if (BIG_MMAP(bytes)) {
        munmap(p, (bytes + BIG_HUGE - 1) & ~(BIG_HUGE - 1));
        return;
    }
#endif
    free(p);
}

/* -- normalisation ----------------------------------------------------------------------- */
static uint8_t ascii_low[128]; /* lower-case; NUL and whitespace -> space */
static uint8_t ascii_ws[128];  /* ascii_low[c] is whitespace for the collapse */
static uint8_t is_ws[256];     /* the bytes the collapse treats as whitespace */
static uint16_t latin1_low[256];

/* Py_UNICODE_TOLOWER of the BMP from tables of 256 characters, each filled on first use:
 * non-Latin-1 text (curly quotes, Cyrillic...) called it for every such character. */
static uint32_t *lower_pages[256];

static Py_UCS4 lower_wide_slow(Py_UCS4 c) {
    if (c > 0xFFFF) return Py_UNICODE_TOLOWER(c);
    uint32_t *pg = malloc(256 * sizeof *pg);
    if (!pg) return Py_UNICODE_TOLOWER(c); /* no table: still correct */
    for (Py_UCS4 x = 0; x < 256; x++) pg[x] = Py_UNICODE_TOLOWER((c & ~(Py_UCS4)255) | x);
    lower_pages[c >> 8] = pg; /* under the GIL */
    return pg[c & 255];
}

static inline Py_UCS4 lower_wide(Py_UCS4 c) {
    const uint32_t *pg = c <= 0xFFFF ? lower_pages[c >> 8] : NULL;
    return pg ? pg[c & 255] : lower_wide_slow(c);
}

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
     * kept only when the byte before was not whitespace). With SSE2, 16 characters at once
     * when they are all printable ASCII or single spaces (most of a text): lower-cased and
     * stored as they are; in any other block of 16, the characters before the first one that
     * is not (non-ASCII, control, a space after whitespace) are stored the same way, that one
     * goes through the loop alone, and the next block starts after it. */
#define NORMALISE_LOOP(T, LOAD16)                                           \
    do {                                                                    \
        const T *s = (const T *)data;                                       \
        Py_ssize_t i = lo;                                                  \
        while (i < hi) {                                                    \
            Py_ssize_t end = hi;                                            \
            if (SIMD_NORMALISE && hi - i >= 16) {                           \
                LOAD16;                                                     \
                BLOCK16(i)                                                  \
                end = i + 1;                                                \
            }                                                               \
            for (; i < end; i++) {                                          \
                Py_UCS4 c = s[i];                                           \
                NORMALISE_CHAR;                                             \
            }                                                               \
        }                                                                   \
    } while (0)

    /* One character c (continue: next character). */
#define NORMALISE_CHAR_BODY(LOWER_NONASCII)                                 \
    do {                                                                    \
        {                                                                   \
            if (c < 128) {                                                  \
                int ws = ascii_ws[c];                                       \
                w[j] = ascii_low[c];                                        \
                j += !(ws & prev_ws);                                       \
                prev_ws = ws;                                               \
                break;                                                      \
            }                                                               \
            if (c == 0xA0) {                                                \
                w[j] = ' ';                                                 \
                j += !prev_ws;                                              \
                prev_ws = 1;                                                \
                break;                                                      \
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

#if defined(__SSE2__)
#define SIMD_NORMALISE 1
    const __m128i v_space = _mm_set1_epi8(' '), v_ctl = _mm_set1_epi8(0x20);
    const __m128i v_a = _mm_set1_epi8('A' - 1), v_z = _mm_set1_epi8('Z' + 1);
    const __m128i v_case = _mm_set1_epi8(0x20), v_zero = _mm_setzero_si128();
    __m128i v = v_zero;
    /* v: 16 characters as bytes, each non-ASCII one as a byte >= 0x80 or 0 (see the loads):
     * below 0x20 as signed bytes, like the control characters (NUL, \t, \n...). All 16 are
     * stored lower-cased; j advances over those before the first one that is a control or
     * non-ASCII character or a space after whitespace (the collapse would drop it). */
#define BLOCK16(I)                                                                      \
    {                                                                                   \
        unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, v_space));          \
        unsigned bad = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, v_ctl)) |          \
                       (sp & ((sp << 1) | (unsigned)prev_ws));                          \
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, v_a), _mm_cmplt_epi8(v, v_z));     \
        _mm_storeu_si128((__m128i *)(w + j), _mm_add_epi8(v, _mm_and_si128(up, v_case))); \
        if (!bad) {                                                                     \
            j += 16;                                                                    \
            prev_ws = (int)(sp >> 15);                                                  \
            i = (I) + 16;                                                               \
            continue; /* the next block */                                              \
        }                                                                               \
        unsigned good = (unsigned)__builtin_ctz(bad);                                   \
        if (good) {                                                                     \
            j += good;                                                                  \
            prev_ws = (int)((sp >> (good - 1)) & 1);                                    \
            i = (I) + (Py_ssize_t)good;                                                 \
        }                                                                               \
    }
    /* the loads: 16 characters into v as bytes. Unsigned saturation maps any UCS2 character
     * >= 0x80 to a byte >= 0x80 (>= 0x8000: negative as int16, to 0); for UCS4, signed
     * saturation to int16 first keeps every character >= 0x80 at >= 0x80. */
#define LOAD16_UCS1 (v = _mm_loadu_si128((const __m128i *)(s + i)))
#define LOAD16_UCS2                                                                       \
    (v = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(s + i)),                      \
                          _mm_loadu_si128((const __m128i *)(s + i + 8))))
#define LOAD16_UCS4                                                                       \
    (v = _mm_packus_epi16(                                                                \
         _mm_packs_epi32(_mm_loadu_si128((const __m128i *)(s + i)),                       \
                         _mm_loadu_si128((const __m128i *)(s + i + 4))),                  \
         _mm_packs_epi32(_mm_loadu_si128((const __m128i *)(s + i + 8)),                   \
                         _mm_loadu_si128((const __m128i *)(s + i + 12)))))
#else
#define SIMD_NORMALISE 0
#define BLOCK16(I) {} /* a block statement, as with SSE2 (no ";" follows it) */
#define LOAD16_UCS1 ((void)0)
#define LOAD16_UCS2 ((void)0)
#define LOAD16_UCS4 ((void)0)
#endif

    if (kind == PyUnicode_1BYTE_KIND) {
#define NORMALISE_CHAR NORMALISE_CHAR_BODY(c = latin1_low[c])
        NORMALISE_LOOP(Py_UCS1, LOAD16_UCS1);
#undef NORMALISE_CHAR
    } else {
        /* 2- and 4-byte kinds: the same test per character */
#define NORMALISE_CHAR NORMALISE_CHAR_BODY({                                  \
            if (c == 0x3A3 || (c >= 0xD800 && c <= 0xDFFF))                   \
                return normalise_slow(text, out);                             \
            if (c == 0x130) { /* "\u0130".lower() == "i\u0307" (Turkish) */    \
                w[j++] = 'i';                                                 \
                c = 0x307;                                                    \
            } else {                                                          \
                c = lower_wide(c);                                            \
            }                                                                 \
        })
        if (kind == PyUnicode_2BYTE_KIND) {
            NORMALISE_LOOP(Py_UCS2, LOAD16_UCS2);
        } else {
            NORMALISE_LOOP(Py_UCS4, LOAD16_UCS4);
        }
#undef NORMALISE_CHAR
    }
#undef NORMALISE_LOOP
#undef NORMALISE_CHAR_BODY
#undef BLOCK16
#undef LOAD16_UCS1
#undef LOAD16_UCS2
#undef LOAD16_UCS4
#undef SIMD_NORMALISE
    out->len = j;
    memset(w + j, 0, PAD);
    return 0;
}

/* -- shingles ---------------------------------------------------------------------------- */
static uint8_t pop8[256]; /* bits set in a byte */
static uint32_t bit_pos8[256][8]; /* positions of the bits set in a byte, then zeros */

static inline uint32_t shingle_hash(const uint8_t *q, int width) {
    /* mix64 of the first 8 bytes without its last step (v ^= v >> 32): that step leaves the
     * top half, the only part kept, as it is */
    uint64_t h = load_le64(q) * M1;
    h ^= h >> 29;
    h *= M2;
    for (int k = 8; k < width; k += 8) {
        uint64_t nx = mix64(load_le64(q + k) ^ (uint64_t)k);
        h ^= (nx << 33) | (nx >> 31);
    }
    return (uint32_t)(h >> 32);
}

/* Hashes of the anchored shingles of b[0..n) (zero-padded), in text order. out holds n + 1;
 * it first receives the start offsets (gathered without branches), then their hashes. With
 * hist (2 x 256 counters, zeroed here), the histograms of hash bits 16..23 and 24..31 that
 * sort_unique_hist needs are counted on the way. */
static size_t shingle(const uint8_t *b, size_t n, int width, uint32_t *out, uint32_t *hist) {
    if (hist) memset(hist, 0, 2 * 256 * sizeof *hist);
    if (!n) return 0;
    size_t k = 1, p = 0;
    out[0] = 0;
#if defined(__SSE2__)
    /* 32 bytes at a time: the spaces' bit mask; for each byte of it, 8 starts from a table
     * written unconditionally (k only advances by the count; out has room: k <= p + 8 * t + 1
     * before byte t, so the last one written is at most p + 32 < n). */
    const __m128i space = _mm_set1_epi8(' '), eight = _mm_set1_epi32(8);
    for (; p + 33 <= n; p += 32) { /* bytes p .. p + 31, all before the last one */
        uint32_t m = (uint32_t)_mm_movemask_epi8(
                         _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(b + p)), space)) |
                     (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
                         _mm_loadu_si128((const __m128i *)(b + p + 16)), space)) << 16;
        __m128i base = _mm_set1_epi32((int)p + 1); /* a start follows each space */
        for (int t = 0; t < 4; t++) {
            unsigned byte = (m >> (8 * t)) & 255;
            const __m128i *pos = (const __m128i *)bit_pos8[byte];
            _mm_storeu_si128((__m128i *)(out + k), _mm_add_epi32(_mm_loadu_si128(pos), base));
            _mm_storeu_si128((__m128i *)(out + k + 4),
                             _mm_add_epi32(_mm_loadu_si128(pos + 1), base));
            k += pop8[byte];
            base = _mm_add_epi32(base, eight);
        }
    }
#endif
    for (; p + 1 < n; p++) {
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
#define HASH_COUNTED(W)                                                                    \
    UNROLL4                                                                                \
    for (size_t q = 0; q < k; q++) {                                                       \
        uint32_t h = shingle_hash(b + out[q], W);                                          \
        out[q] = h;                                                                        \
        hist[(h >> 16) & 255]++;                                                           \
        hist[256 + (h >> 24)]++;                                                           \
    }
    if (hist && width == 16) {
        HASH_COUNTED(16)
    } else if (hist) {
        HASH_COUNTED(width)
    } else if (width == 16) {
        for (size_t q = 0; q < k; q++) out[q] = shingle_hash(b + out[q], 16);
    } else {
        for (size_t q = 0; q < k; q++) out[q] = shingle_hash(b + out[q], width);
    }
    return k;
}

/* -- sorted unique sets ------------------------------------------------------------------ */
/* Byte k (0: the lowest) of *p, loaded as a byte where the layout allows: a radix digit
 * without the shift and mask. */
static inline unsigned byte_of(const uint32_t *p, int k) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return ((const uint8_t *)p)[k];
#else
    return (*p >> (8 * k)) & 255;
#endif
}

static void radix_sort_u32(uint32_t *a, uint32_t *tmp, size_t n);

static size_t unique_sorted(uint32_t *a, size_t n);

/* The sorted unique values of a[0..n) into a; returns their count (tmp: n more). The values
 * are hashes, spread evenly: two LSD radix passes on the top 16 bits leave only the values
 * that share those out of order (about n^2 / 2^18 pairs: a few per doc), so the last pass
 * drops repeats in place and inserts each value found out of order where it belongs (an
 * insertion that also drops it when it is already there). Crafted input (many values sharing
 * their top 16 bits) exhausts the insertion's budget of moves and is sorted again by the
 * four-pass radix sort: O(n) always. */
static size_t sort_unique_hist(uint32_t *a, uint32_t *tmp, size_t n, uint32_t cnt[2][256]) {
    if (n < 64) {
        radix_sort_u32(a, tmp, n);
        return unique_sorted(a, n);
    }
    for (int p = 0; p < 2; p++) {
        uint32_t sum = 0;
        UNROLL4
        for (int d = 0; d < 256; d++) {
            uint32_t t = cnt[p][d];
            cnt[p][d] = sum;
            sum += t;
        }
    }
    /* (unrolled: the loop's own increment and test were a quarter of each pass) */
    UNROLL4
    for (size_t i = 0; i < n; i++) tmp[cnt[0][byte_of(a + i, 2)]++] = a[i];
    UNROLL4
    for (size_t i = 0; i < n; i++) a[cnt[1][byte_of(tmp + i, 3)]++] = tmp[i];
    /* a[0..k) sorted and unique; a[i..n) still to place (k <= i) */
    size_t budget = 8 * n;
    uint32_t prev = a[0];
    size_t k = 1;
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        if (__builtin_expect(v >= prev, 1)) {
            a[k] = v;
            k += v != prev;
            prev = v;
            continue;
        }
        size_t j = k - 1; /* a[j] > v: find the first position whose value is >= v */
        while (j > 0 && a[j - 1] > v) j--;
        if (j > 0 && a[j - 1] == v) continue; /* already there */
        size_t moved = k - j;
        if (moved > budget) { /* crafted: sort what is left with what is placed */
            memmove(a + k, a + i, (n - i) * sizeof *a);
            size_t m = k + (n - i);
            radix_sort_u32(a, tmp, m);
            return unique_sorted(a, m);
        }
        budget -= moved;
        memmove(a + j + 1, a + j, moved * sizeof *a);
        a[j] = v;
        k++;
    }
    return k;
}

/* The same, counting the histograms itself. */
static size_t sort_unique_u32(uint32_t *a, uint32_t *tmp, size_t n) {
    uint32_t cnt[2][256];
    if (n >= 64) {
        memset(cnt, 0, sizeof cnt);
        for (size_t i = 0; i < n; i++) {
            uint32_t v = a[i];
            cnt[0][(v >> 16) & 255]++;
            cnt[1][v >> 24]++;
        }
    }
    return sort_unique_hist(a, tmp, n, cnt);
}

static void radix_sort_u32(uint32_t *a, uint32_t *tmp, size_t n) {
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
#define INTERSECT_AHEAD 128 /* values: 512 bytes, 8 cache lines */

/* Lanes of va equal to any lane of vb (a 4-bit mask). */
static inline __m128i eq_any4(__m128i va, __m128i vb) {
    return _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi32(va, vb),
                     _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(0, 3, 2, 1)))),
        _mm_or_si128(_mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(1, 0, 3, 2))),
                     _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(2, 1, 0, 3)))));
}

/* |a ∩ b| of sorted unique arrays, 8 x 8 blocks compared at once (SSE2: any x86_64). A pair is
 * counted when its two blocks meet, which happens exactly once. The loop is bound by the
 * latency of the next block's loads, so larger blocks advance faster; the rest goes 4 x 4.
 * A lane of a equals at most one value of b: the lanes' equality masks (-1) are summed in a
 * vector, no per-step movemask. Which side advances is data-dependent (near-duplicates: a coin
 * toss), so it is computed, not branched on. */
static inline size_t adv_if_le(uint32_t x, uint32_t y, size_t step) {
    return (size_t)(1 - (((uint64_t)y - (uint64_t)x) >> 63)) * step; /* x <= y ? step : 0 */
}

static size_t intersect_count_sse2(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    size_t i = 0, j = 0;
    __m128i acc = _mm_setzero_si128();
    while (i + 8 <= na && j + 8 <= nb) {
        /* b, a stored doc's set, is cold: fetch ahead of the merge (past the end is harmless);
         * a is the new doc's, just written */
        __builtin_prefetch(b + j + INTERSECT_AHEAD);
        __m128i a0 = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i a1 = _mm_loadu_si128((const __m128i *)(a + i + 4));
        __m128i b0 = _mm_loadu_si128((const __m128i *)(b + j));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(b + j + 4));
        __m128i m0 = _mm_or_si128(eq_any4(a0, b0), eq_any4(a0, b1));
        __m128i m1 = _mm_or_si128(eq_any4(a1, b0), eq_any4(a1, b1));
        acc = _mm_sub_epi32(acc, _mm_add_epi32(m0, m1));
        uint32_t amax = a[i + 7], bmax = b[j + 7];
        i += adv_if_le(amax, bmax, 8);
        j += adv_if_le(bmax, amax, 8);
    }
    while (i + 4 <= na && j + 4 <= nb) {
        acc = _mm_sub_epi32(acc, eq_any4(_mm_loadu_si128((const __m128i *)(a + i)),
                                         _mm_loadu_si128((const __m128i *)(b + j))));
        uint32_t amax = a[i + 3], bmax = b[j + 3];
        i += adv_if_le(amax, bmax, 4);
        j += adv_if_le(bmax, amax, 4);
    }
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(1, 0, 3, 2)));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(2, 3, 0, 1)));
    size_t c = (uint32_t)_mm_cvtsi128_si32(acc);
    return c + intersect_count_scalar(a + i, na - i, b + j, nb - j);
}

#if defined(HAVE_AVX2_PATH)
/* Lanes of va equal to any lane of vb: va against the 4 in-lane rotations of vb and of vb with
 * its halves swapped, 8 compares for the 64 pairs. */
__attribute__((target("avx2"), always_inline)) static inline __m256i eq_any8(__m256i va,
                                                                             __m256i vb) {
    __m256i sw = _mm256_permute2x128_si256(vb, vb, 1);
    return _mm256_or_si256(
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi32(va, vb),
                                        _mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(vb, 0x39))),
                        _mm256_or_si256(_mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(vb, 0x4E)),
                                        _mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(vb, 0x93)))),
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi32(va, sw),
                                        _mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(sw, 0x39))),
                        _mm256_or_si256(_mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(sw, 0x4E)),
                                        _mm256_cmpeq_epi32(va, _mm256_shuffle_epi32(sw, 0x93)))));
}

/* The same with AVX2 where the CPU has it (chosen at import; the build stays portable): a
 * block of 8 against the 8 rotations of the other in 256-bit registers, 8 compares per step
 * instead of 16 (and no register copies: half the instructions). The rest goes as above. */
__attribute__((target("avx2"))) static size_t intersect_count_avx2(const uint32_t *a, size_t na,
                                                                  const uint32_t *b, size_t nb) {
    size_t i = 0, j = 0;
    __m256i acc = _mm256_setzero_si256();
    while (i + 8 <= na && j + 8 <= nb) {
        __builtin_prefetch(b + j + INTERSECT_AHEAD);
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + j));
        __m256i m = eq_any8(va, vb);
        acc = _mm256_sub_epi32(acc, m);
        uint32_t amax = a[i + 7], bmax = b[j + 7];
        i += adv_if_le(amax, bmax, 8);
        j += adv_if_le(bmax, amax, 8);
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    size_t c = (uint32_t)_mm_cvtsi128_si32(h);
    _mm256_zeroupper(); /* before SSE code again: no false dependency on the upper halves */
    return c + intersect_count_sse2(a + i, na - i, b + j, nb - j);
}
#endif

static size_t (*intersect_count)(const uint32_t *, size_t, const uint32_t *,
                                 size_t) = intersect_count_sse2;
#else
#define intersect_count intersect_count_scalar
#endif

/* (x & mask) of each x in a (sorted unique) that b (sorted unique) lacks, into out; returns how
 * many. Without branches: the scalar merge advances through dependent loads (~7 cycles a step),
 * so with SSE2 blocks of 4 are compared 4 x 4 as in intersect_count, the lanes of an a-block
 * that met an equal value in any b-block it was compared with are dropped when it is done. */
static size_t difference_scalar(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                                uint32_t mask, uint32_t *out) {
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        out[k] = x & mask;
        k += x < y;
        i += x <= y;
        j += y <= x;
    }
    while (i < na) out[k++] = a[i++] & mask;
    return k;
}

/* The lanes of a block a[0..n) not met in b (``met``: those found so far), compared against
 * the rest of b one by one, written masked to out; returns how many. */
static inline size_t unmet_lanes(const uint32_t *a, int n, unsigned met, const uint32_t *b,
                                 size_t nb, uint32_t mask, uint32_t *out) {
    size_t k = 0;
    for (int l = 0; l < n; l++) {
        uint32_t x = a[l];
        int found = (met >> l) & 1;
        for (size_t q = 0; q < nb && !found; q++) found = b[q] == x;
        out[k] = x & mask;
        k += !found;
    }
    return k;
}

static size_t difference_idx_sse2(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                                  uint32_t mask, uint32_t *out) {
#if defined(__SSE2__)
    size_t i = 0, j = 0, k = 0;
    unsigned met = 0; /* lanes of the current a-block found in b so far */
    while (i + 4 <= na && j + 4 <= nb) {
        __m128i va = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi32(va, vb),
                         _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(0, 3, 2, 1)))),
            _mm_or_si128(_mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(1, 0, 3, 2))),
                         _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(2, 1, 0, 3)))));
        met |= (unsigned)_mm_movemask_ps(_mm_castsi128_ps(m));
        uint32_t amax = a[i + 3], bmax = b[j + 3];
        if (amax <= bmax) {
            for (int l = 0; l < 4; l++) {
                out[k] = a[i + l] & mask;
                k += !((met >> l) & 1);
            }
            i += 4;
            met = 0;
        }
        j += (size_t)(bmax <= amax) * 4;
    }
    if (met) { /* an a-block left half-compared: its other lanes against the rest of b */
        k += unmet_lanes(a + i, 4, met, b + j, nb - j, mask, out + k);
        i += 4;
    }
    return k + difference_scalar(a + i, na - i, b + j, nb - j, mask, out + k);
#else
    return difference_scalar(a, na, b, nb, mask, out);
#endif
}

#if defined(HAVE_AVX2_PATH)
static uint32_t pack8[256][8]; /* the set bits of a byte, as lane numbers first */

/* The same with AVX2 (chosen at import): blocks of 8 compared as in intersect_count_avx2; a
 * finished a-block's lanes not met are packed by one permutation and stored at once, without
 * a branch (nothing counts while the block is not finished). out has room: k <= i. */
__attribute__((target("avx2"))) static size_t difference_idx_avx2(const uint32_t *a, size_t na,
                                                                 const uint32_t *b, size_t nb,
                                                                 uint32_t mask, uint32_t *out) {
    size_t i = 0, j = 0, k = 0;
    unsigned met = 0; /* lanes of the current a-block found in b so far */
    const __m256i vmask = _mm256_set1_epi32((int)mask);
    while (i + 8 <= na && j + 8 <= nb) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + j));
        __m256i m = eq_any8(va, vb);
        met |= (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m));
        uint32_t amax = a[i + 7], bmax = b[j + 7];
        unsigned done = (unsigned)adv_if_le(amax, bmax, 1);
        unsigned keep = ~met & (0u - done) & 255;
        __m256i lanes = _mm256_loadu_si256((const __m256i *)pack8[keep]);
        _mm256_storeu_si256((__m256i *)(out + k),
                            _mm256_and_si256(_mm256_permutevar8x32_epi32(va, lanes), vmask));
        k += pop8[keep];
        met &= done - 1; /* a new a-block starts with no lane met */
        i += 8 * (size_t)done;
        j += adv_if_le(bmax, amax, 8);
    }
    _mm256_zeroupper();
    if (met) { /* an a-block left half-compared: its other lanes against the rest of b */
        k += unmet_lanes(a + i, 8, met, b + j, nb - j, mask, out + k);
        i += 8;
    }
    return k + difference_idx_sse2(a + i, na - i, b + j, nb - j, mask, out + k);
}
#endif

static size_t (*difference_idx)(const uint32_t *, size_t, const uint32_t *, size_t, uint32_t,
                                uint32_t *) = difference_idx_sse2;

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

/* -- MinHash ------------------------------------------------------------------------------ */
/* One-permutation MinHash with optimal densification (Shrivastava, ICML 2017) of v[0..m), sorted
 * ascending (duplicates allowed). Each value is already a uniform 32-bit hash: a multiplicative
 * hash of it picks one of nperm bins, and the bin keeps its smallest value (written from the
 * largest down, so the last write wins: no compare). An empty bin takes the value of the first
 * non-empty bin of its own fixed sequence of bins. For any two sets, a bin agrees with
 * probability close to their Jaccard similarity, as with nperm independent permutations, at
 * the cost of one multiplication per value instead of nperm hashes. */
#define EMPTY_BIN UINT32_MAX /* a value equal to it counts as absent: the same in every set */

static inline uint32_t bin_of(uint32_t v, uint64_t seed, int nperm) {
    uint64_t h = ((uint64_t)v ^ seed) * M1;
    return (uint32_t)(((h >> 32) * (uint64_t)nperm) >> 32);
}

static void minhash(const uint32_t *v, size_t m, int nperm, uint64_t seed, uint32_t *sig) {
    for (int j = 0; j < nperm; j++) sig[j] = EMPTY_BIN;
    if (nperm > 1 && (nperm & (nperm - 1)) == 0) { /* nperm = 2^p: bin_of is h >> (64 - p) */
        const int shift = 64 - __builtin_ctz((unsigned)nperm);
        UNROLL4
        for (size_t q = m; q-- > 0;) sig[(((uint64_t)v[q] ^ seed) * M1) >> shift] = v[q];
    } else {
        UNROLL4
        for (size_t q = m; q-- > 0;) sig[bin_of(v[q], seed, nperm)] = v[q];
    }
    uint64_t occ[MAX_PERM / 64] = {0}; /* the bins filled by the set itself */
    uint64_t full = 0;
    int j = 0;
#if defined(__SSE2__)
    const __m128i empty = _mm_set1_epi32(-1); /* EMPTY_BIN */
    for (; j + 4 <= nperm; j += 4) {
        unsigned e = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(
            _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(sig + j)), empty)));
        occ[j >> 6] |= (uint64_t)(~e & 15) << (j & 63);
    }
#endif
    for (; j < nperm; j++) occ[j >> 6] |= (uint64_t)(sig[j] != EMPTY_BIN) << (j & 63);
    for (int w = 0; w < (nperm + 63) / 64; w++) full |= occ[w];
    if (!full) return;
    /* the empty bins (few: their bits, not every bin, are visited) */
    for (int w = 0; w < (nperm + 63) / 64; w++) {
        int left = nperm - 64 * w;
        uint64_t holes = ~occ[w] & (left >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << left) - 1);
        for (; holes; holes &= holes - 1) {
            j = 64 * w + __builtin_ctzll(holes);
            uint32_t from = UINT32_MAX;
            for (uint64_t t = 1; t <= 4 * MAX_PERM; t++) {
                uint64_t h = mix64(seed ^ (((uint64_t)j << 32) | t));
                uint32_t k = (uint32_t)(((h >> 32) * (uint64_t)nperm) >> 32);
                if ((occ[k >> 6] >> (k & 63)) & 1) {
                    from = k;
                    break;
                }
            }
            if (from == UINT32_MAX) { /* nearly impossible: the next non-empty bin */
                for (int d = 1; d < nperm; d++) {
                    int k = (j + d) % nperm;
                    if ((occ[k >> 6] >> (k & 63)) & 1) {
                        from = (uint32_t)k;
                        break;
                    }
                }
            }
            sig[j] = sig[from]; /* from is a filled bin: never one of those written here */
        }
    }
}

/* -- Batch: documents hashed, with their LSH band keys --------------------------------------- */
typedef struct CoreObject CoreObject;

typedef struct {
    PyObject_HEAD
    CoreObject *core;
    Py_ssize_t n;
    uint32_t **sets;  /* sorted unique shingles; NULL once handed to the core */
    Py_ssize_t *lens;
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

/* An LSH bucket: up to INLINE_SLOTS docs held in place (the slot array was a cache miss of its
 * own on nearly every lookup), more in a heap array. */
#define INLINE_SLOTS 4

typedef struct {
    uint64_t key;
    int32_t n, cap; /* n == 0: empty; n <= INLINE_SLOTS: u.in, else u.many (cap) */
    union {
        int32_t in[INLINE_SLOTS];
        int32_t *many;
    } u;
} Bucket;

static inline int32_t *bucket_slots(Bucket *e) {
    return e->n <= INLINE_SLOTS ? e->u.in : e->u.many;
}

struct CoreObject {
    PyObject_HEAD
    double threshold;
    int bands, rows, num_perm, width;
    uint64_t seed;
    int df_bits;
    uint32_t df_mask;
    /* bit i set: df[i] >= common_df. The rarity tests read this 2 MB mirror instead of the
     * 16 MB table, so they mostly hit the cache; df_end and the halving keep it exact. */
    uint64_t *common;
    uint64_t *filter;
    uint32_t filter_mask;
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
    int32_t *cand; /* find_matches' candidate slots */
    size_t cand_cap;
    /* Core.prepare's buffers, kept between calls (page faults were a visible cost) */
    Buf text, work;
};

/* A doc's memory is one block: [bands uint64 keys][n uint32 shingles][n uint32 rare ones]. */
static inline uint64_t *doc_block(const CoreObject *c, uint32_t *sh) {
    return (uint64_t *)sh - c->bands;
}

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
    size_t old_cap = c->tab_cap, cap = old_cap ? old_cap * 2 : 16384;
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
    big_free(old, old_cap, sizeof *old);
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
            e->cap = INLINE_SLOTS;
            e->u.in[0] = slot;
            c->tab_used++;
            return 0;
        }
        if (e->key == key) {
            if (e->n < INLINE_SLOTS) {
                e->u.in[e->n++] = slot;
                return 0;
            }
            if (e->n == INLINE_SLOTS) { /* to the heap */
                int32_t *many = malloc(2 * INLINE_SLOTS * sizeof *many);
                if (!many) {
                    PyErr_NoMemory();
                    return -1;
                }
                memcpy(many, e->u.in, INLINE_SLOTS * sizeof *many);
                e->u.many = many;
                e->cap = 2 * INLINE_SLOTS;
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
    int32_t *m = bucket_slots(e);
    int32_t k = 0;
    while (k < e->n && m[k] != slot) k++;
    if (k == e->n) return;
    if (e->n == 1) {
        tab_delete_at(c, (size_t)(e - c->tab));
        return;
    }
    memmove(m + k, m + k + 1, (size_t)(e->n - k - 1) * sizeof *m);
    e->n--;
    if (e->n == INLINE_SLOTS) { /* back in place */
        memcpy(e->u.in, m, INLINE_SLOTS * sizeof *m);
        free(m);
        e->cap = INLINE_SLOTS;
    }
}

static inline void set_common(CoreObject *c, uint32_t i) {
    uint32_t f = i & c->filter_mask;
    c->common[i >> 6] |= (uint64_t)1 << (i & 63);
    c->filter[f >> 6] |= (uint64_t)1 << (f & 63);
}

#ifndef FILTER_BITS
#define FILTER_BITS 19
#endif
#define DF_AHEAD 128 /* prefetch distance of document-frequency lookups (random, 16 MB; the
                       * gather loop is short: 24 ahead covered less than a memory latency) */

/* The shingles of sh that are not common now, into out. The filter (filter_mask is within
 * df_mask) is tested first; the 2 MB mirror only on its hits. The mirror's lines mostly come
 * from the L3 cache, and the loads are independent, so the out-of-order core overlaps them
 * without prefetches (which only added instructions). */
static size_t rare_into(const CoreObject *c, const uint32_t *sh, size_t n, uint32_t *out) {
    size_t k = 0;
    const uint64_t *filter = c->filter, *common = c->common;
    const uint32_t fmask = c->filter_mask, dmask = c->df_mask;
    UNROLL4
    for (size_t i = 0; i < n; i++) {
        uint32_t s = sh[i], f = s & fmask;
        out[k] = s;
        /* the filter is sparse (templates only): its test is a well-predicted branch */
        if (__builtin_expect((filter[f >> 6] >> (f & 63)) & 1, 0)) {
            uint32_t x = s & dmask;
            k += !((common[x >> 6] >> (x & 63)) & 1);
        } else {
            k++;
        }
    }
    return k;
}

static int refresh_rare(CoreObject *c, DocRec *d, int64_t epoch) {
    if (d->rare_epoch == epoch) return 0;
    d->nrare = (Py_ssize_t)rare_into(c, d->sh, (size_t)d->n, d->rare);
    d->rare_epoch = epoch;
    return 0;
}

/* The rare shingles of sh (per the DF table now) into rare, and the band keys of their MinHash
 * (of all the shingles when fewer than min_contained are rare) into keys. Returns the number of
 * rare shingles. */
static size_t sign_doc(const CoreObject *c, const uint32_t *sh, size_t n, uint32_t *rare,
                       uint64_t *keys) {
    size_t nrare = rare_into(c, sh, n, rare);
    const uint32_t *in = rare;
    size_t m = nrare;
    if (m < (size_t)c->min_contained) {
        in = sh;
        m = n;
    }
    uint32_t sig[MAX_PERM];
    minhash(in, m, c->num_perm, c->seed, sig);
    for (int b = 0; b < c->bands; b++) {
        uint64_t acc = 0;
        for (int r = 0; r < c->rows; r++)
            acc += (uint64_t)sig[b * c->rows + r] * c->band_coef[r];
        keys[b] = acc ^ c->band_salt[b];
    }
    return nrare;
}

typedef struct {
    int32_t slot;
    double sim;
} Match;

/* Candidates of (sh, keys), verified; matches appended to *out (caller frees). */
static int find_matches(CoreObject *c, const uint32_t *sh, size_t n, const uint64_t *keys,
                        const uint32_t *rare, size_t nrare, int32_t self_slot, Match **out,
                        size_t *nout) {
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
    /* the bucket lookups are cache misses in a large table: start them all at once */
    for (int b = 0; b < c->bands; b++) __builtin_prefetch(&c->tab[tab_home(c, keys[b])]);
    /* then the buckets found, and the heap arrays of those with more than INLINE_SLOTS docs
     * (a group of copies fills them: another miss each), fetched at once too */
    Bucket *found[MAX_PERM];
    int nfound = 0;
    for (int b = 0; b < c->bands; b++) {
        Bucket *e = tab_find(c, keys[b]);
        if (!e) continue;
        if (e->n > INLINE_SLOTS) __builtin_prefetch(e->u.many);
        found[nfound++] = e;
    }
    /* first the candidates (their stored sets are cold: fetched while the buckets are read),
     * then their verification in the same order */
    size_t ncand = 0;
    for (int f = 0; f < nfound; f++) {
        Bucket *e = found[f];
        int32_t cnt = e->n;
        const int32_t *slots = bucket_slots(e);
        for (int32_t k = 0; k < cnt; k++) {
            int32_t s = slots[k];
            DocRec *d = &c->docs[s];
            if (d->stamp == stamp) continue;
            d->stamp = stamp;
            if (ncand == c->cand_cap) {
                size_t ncap = c->cand_cap ? 2 * c->cand_cap : 64;
                int32_t *p = realloc(c->cand, ncap * sizeof *p);
                if (!p) {
                    PyErr_NoMemory();
                    goto fail;
                }
                c->cand = p;
                c->cand_cap = ncap;
            }
            c->cand[ncand++] = s;
            /* the set verification will read (see below), up to 2 kB of it: a cold stream
             * that the merge, two candidates later, would otherwise wait for */
            const int use_rare = (nrare < (size_t)d->nrare ? nrare : (size_t)d->nrare) >=
                                 (size_t)c->min_contained;
            const uint32_t *set = use_rare ? d->rare : d->sh;
            Py_ssize_t len = use_rare ? d->nrare : d->n;
            for (Py_ssize_t q = 0; q < len && q < 32 * 16; q += 16) __builtin_prefetch(set + q);
        }
    }
    for (size_t q = 0; q < ncand; q++) {
        {
            int32_t s = c->cand[q];
            DocRec *d = &c->docs[s];
            c->candidates_checked++;
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
        PyObject *t = PyTuple_New(2), *sim = PyFloat_FromDouble(m[i].sim);
        if (!t || !sim) {
            Py_XDECREF(t);
            Py_XDECREF(sim);
            Py_DECREF(list);
            return NULL;
        }
        PyObject *id = c->docs[m[i].slot].id;
        Py_INCREF(id);
        PyTuple_SET_ITEM(t, 0, id);
        PyTuple_SET_ITEM(t, 1, sim);
        /* (str, float) cannot be in a cycle: untracked now, as the collector would do on
         * its next pass over it (one per match was a visible share of gen-0 collections) */
        if (PyUnicode_CheckExact(id)) PyObject_GC_UnTrack(t);
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
    size_t fwords = ((size_t)c->filter_mask >> 6) + 1;
    memset(c->filter, 0, fwords * sizeof *c->filter);
    for (size_t w = 0; w < (size + 63) / 64; w++) {
        uint64_t bits = c->common[w];
        while (bits) {
            uint32_t i = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            uint32_t f = i & c->filter_mask;
            c->filter[f >> 6] |= (uint64_t)1 << (f & 63);
            bits &= bits - 1;
        }
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
 * once); only the shingles not shared with the doc copied are read, at most a few hundred.
 * In two halves: df_begin finds the table indices and starts fetching their lines (misses in
 * 16 MB), the caller indexes the doc meanwhile (nothing there reads the table), df_end counts. */
static int df_begin(CoreObject *c, const uint32_t *sh, size_t n, const uint32_t *copied,
                    size_t ncopied, size_t *nidx) {
    if (scratch_reserve(c, 2 * n + 1) < 0) return -1;
    const uint32_t *idx = c->scratch;
    size_t k = difference_idx(sh, n, copied, copied ? ncopied : 0, c->df_mask, c->scratch);
    const size_t pre = k < DF_AHEAD ? k : DF_AHEAD;
    for (size_t q = 0; q < pre; q++) __builtin_prefetch(&c->df[idx[q]]);
    *nidx = k;
    return 0;
}

static void df_end(CoreObject *c, size_t k) {
    uint32_t *idx = c->scratch, *val = c->scratch + k; /* room for 2 k (df_begin) */
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
            set_common(c, x);
    }
    c->adds++;
    if (c->adds % c->df_half_life == 0) halve_df(c);
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

static void free_doc(CoreObject *c, int32_t s, int free_block) {
    DocRec *d = &c->docs[s];
    if (d->in_buckets)
        for (int b = 0; b < c->bands; b++) tab_remove(c, d->keys[b], s);
    if (free_block) free(d->keys); /* the doc's block: keys, shingles, rare shingles */
    Py_CLEAR(d->id);
    memset(d, 0, sizeof *d);
    c->free_slots[c->nfree++] = s;
    c->live--;
}

static int Core_init(CoreObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"threshold", "bands", "rows", "num_perm", "width", "df_bits",
                             "common_df", "min_contained", "rare_refresh", "df_half_life",
                             "seed", NULL};
    unsigned long long seed = 0;
    long long rare_refresh, half_life;
    Py_ssize_t min_contained;
    if (self->ids) {
        PyErr_SetString(PyExc_RuntimeError, "Core is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "diiiiiinLL|K", kwlist, &self->threshold,
                                     &self->bands, &self->rows, &self->num_perm, &self->width,
                                     &self->df_bits, &self->common_df, &min_contained,
                                     &rare_refresh, &half_life, &seed))
        return -1;
    self->seed = mix64((uint64_t)seed + 1);
    if (self->bands < 1 || self->rows < 1 || self->rows > 8 ||
        self->bands * self->rows > self->num_perm || self->num_perm > MAX_PERM ||
        self->width < 8 ||
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
    self->filter_mask = self->df_bits < FILTER_BITS ? self->df_mask : (1u << FILTER_BITS) - 1;
    self->filter = calloc(((size_t)self->filter_mask >> 6) + 1, sizeof *self->filter);
    self->band_salt = malloc((size_t)self->bands * sizeof *self->band_salt);
    if (!self->df || !self->common || !self->filter || !self->band_salt) {
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
        free(d->keys); /* the doc's block */
        Py_CLEAR(d->id);
    }
    for (size_t i = 0; i < self->tab_cap; i++)
        if (self->tab[i].n > INLINE_SLOTS) free(self->tab[i].u.many);
    big_free(self->tab, self->tab_cap, sizeof *self->tab);
    free(self->docs);
    free(self->free_slots);
    big_free(self->df, (size_t)self->df_mask + 1, 1);
    big_free(self->common, ((size_t)self->df_mask >> 6) + 1, sizeof *self->common);
    free(self->filter);
    free(self->band_salt);
    free(self->scratch);
    free(self->cand);
    free(self->text.p);
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
    Buf *bufs[2] = {&c->text, &c->work};
    for (int i = 0; i < 2; i++) {
        if (bufs[i]->cap > ((size_t)16 << 20)) {
            free(bufs[i]->p);
            bufs[i]->p = NULL;
            bufs[i]->cap = bufs[i]->len = 0;
        }
    }
}

/* Core.prepare(texts) -> Batch: each text's sorted unique shingles, in a block with room for its
 * band keys and rare shingles (filled by Core.add). */
static PyObject *Core_prepare(CoreObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"texts", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kwlist, &arg)) return NULL;
    if (check_init(self) < 0) return NULL;
    PyObject *seq = PySequence_Fast(arg, "texts must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    BatchObject *bt = PyObject_New(BatchObject, &BatchType);
    Buf *text = &self->text, *work = &self->work;
    if (!bt) goto fail_noref;
    Py_INCREF(self);
    bt->core = self;
    bt->n = n;
    bt->sets = calloc((size_t)n + 1, sizeof *bt->sets);
    bt->lens = calloc((size_t)n + 1, sizeof *bt->lens);
    if (!bt->sets || !bt->lens) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (normalise(items[i], text) < 0) goto fail;
        size_t nb = text->len;
        /* work: the shingles (nb + 1), then the sort's second buffer (nb + 1) */
        if (buf_reserve(work, (2 * nb + 2) * sizeof(uint32_t)) < 0) goto fail;
        uint32_t *all = (uint32_t *)work->p;
        uint32_t hist[2][256];
        size_t k = shingle(text->p, nb, self->width, all, &hist[0][0]);
        k = sort_unique_hist(all, all + nb + 1, k, hist);
        /* one block per doc: band keys, shingles, room for the rare ones (see add_doc) */
        uint64_t *block = malloc((size_t)self->bands * sizeof *block + (2 * k + 1) * sizeof *all);
        if (!block) {
            PyErr_NoMemory();
            goto fail;
        }
        uint32_t *h = (uint32_t *)(block + self->bands);
        memcpy(h, all, k * sizeof *h);
        bt->sets[i] = h;
        bt->lens[i] = (Py_ssize_t)k;
    }
    Py_DECREF(seq);
    trim_buffers(self);
    return (PyObject *)bt;
fail:
    Py_DECREF(bt);
fail_noref:
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

/* The batch's doc i (checked) added as id: None, or [(id, similarity), ...] most similar
 * first. */
static PyObject *add_doc(CoreObject *self, BatchObject *bt, Py_ssize_t i, PyObject *id) {
    int has = PyDict_Contains(self->ids, id);
    if (has < 0) return NULL;
    if (has) {
        PyErr_Format(PyExc_ValueError, "duplicate id %R", id);
        return NULL;
    }
    uint32_t *sh = bt->sets[i];
    size_t n = (size_t)bt->lens[i];
    Match *m = NULL;
    size_t nm = 0, nrare = 0;
    /* the doc's band keys and rare shingles go straight to their place in its block (the rare
     * ones stay there, for later comparisons, until the epoch ends) */
    uint64_t *k = doc_block(self, sh);
    uint32_t *rare = sh + n;
    const int64_t epoch = self->adds / self->rare_refresh;
    if (n) {
        nrare = sign_doc(self, sh, n, rare, k);
        if (find_matches(self, sh, n, k, rare, nrare, -1, &m, &nm) < 0) return NULL;
    }
    PyObject *result = Py_None;
    Py_INCREF(result);
    if (nm) {
        Py_DECREF(result);
        result = matches_list(self, m, nm); /* sorts m: m[0] is the best */
        if (!result) goto fail;
    }
    const DocRec *best = nm ? &self->docs[m[0].slot] : NULL;
    size_t nidx; /* DF counted at the end, also when indexing fails (as it always was) */
    if (df_begin(self, sh, n, best ? best->sh : NULL, best ? (size_t)best->n : 0, &nidx) < 0)
        goto fail;
    int32_t s = new_slot(self);
    if (s < 0) {
        df_end(self, nidx);
        goto fail;
    }
    PyObject *slot = PyLong_FromLong(s);
    if (!slot || PyDict_SetItem(self->ids, id, slot) < 0) {
        Py_XDECREF(slot);
        self->free_slots[self->nfree++] = s;
        df_end(self, nidx);
        goto fail;
    }
    Py_DECREF(slot);
    DocRec *d = &self->docs[s];
    Py_INCREF(id);
    d->id = id;
    d->sh = sh;
    d->n = (Py_ssize_t)n;
    d->keys = k;
    d->rare = rare;
    d->nrare = (Py_ssize_t)nrare;
    d->rare_epoch = epoch;
    bt->sets[i] = NULL;
    self->live++;
    if (n) {
        d->in_buckets = 1;
        for (int band = 0; band < self->bands; band++) {
            if (tab_add(self, k[band], s) < 0) { /* out of memory: undo this doc */
                df_end(self, nidx);
                PyObject *t, *v, *tb;
                PyErr_Fetch(&t, &v, &tb);
                bt->sets[i] = d->sh; /* the batch owns the block again */
                PyDict_DelItem(self->ids, id);
                free_doc(self, s, 0);
                PyErr_Restore(t, v, tb);
                goto fail;
            }
        }
    }
    df_end(self, nidx);
    free(m);
    return result;
fail:
    free(m);
    Py_XDECREF(result);
    return NULL;
}

/* Core.add(batch, i, id) -> None, or [(id, similarity), ...] most similar first. */
static PyObject *Core_add(CoreObject *self, PyObject *args) {
    PyObject *b, *id;
    Py_ssize_t i;
    if (!PyArg_ParseTuple(args, "OnO", &b, &i, &id)) return NULL;
    BatchObject *bt = get_batch(self, b, i, 1);
    if (!bt) return NULL;
    return add_doc(self, bt, i, id);
}

/* Core.add_batch(batch, ids) -> [None | [(id, similarity), ...]]: Core.add of every doc of the
 * batch in order, in one call. On an error the docs before the failing one stay added. */
static PyObject *Core_add_batch(CoreObject *self, PyObject *args) {
    PyObject *b, *ids;
    if (!PyArg_ParseTuple(args, "OO", &b, &ids)) return NULL;
    PyObject *seq = PySequence_Fast(ids, "ids must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = NULL;
    BatchObject *bt = get_batch(self, b, 0, 0);
    if (!bt && n == 0 && PyErr_ExceptionMatches(PyExc_IndexError)) { /* an empty batch */
        PyErr_Clear();
        Py_DECREF(seq);
        return PyList_New(0);
    }
    if (!bt) goto done;
    if (n != bt->n) {
        PyErr_SetString(PyExc_ValueError, "one id per document of the batch expected");
        goto done;
    }
    out = PyList_New(n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!bt->sets[i]) {
            PyErr_SetString(PyExc_ValueError, "document already added");
            Py_CLEAR(out);
            goto done;
        }
        PyObject *r = add_doc(self, bt, i, PySequence_Fast_GET_ITEM(seq, i));
        if (!r) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, r);
    }
done:
    Py_DECREF(seq);
    return out;
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
    size_t nm = 0, n = (size_t)bt->lens[i];
    uint64_t keys[MAX_PERM];
    if (n) {
        if (scratch_reserve(self, n + 1) < 0) return NULL;
        size_t nrare = sign_doc(self, bt->sets[i], n, self->scratch, keys);
        if (find_matches(self, bt->sets[i], n, keys, self->scratch, nrare, self_slot, &m,
                         &nm) < 0)
            return NULL;
    }
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
    free_doc(self, (int32_t)s, 1);
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
    {"prepare", (PyCFunction)(void (*)(void))Core_prepare, METH_VARARGS | METH_KEYWORDS,
     "prepare(texts) -> Batch: the texts' sorted unique shingle sets"},
    {"add", (PyCFunction)Core_add, METH_VARARGS,
     "add(batch, i, id) -> None | [(id, sim)]: match, count, index the batch's doc i"},
    {"add_batch", (PyCFunction)Core_add_batch, METH_VARARGS,
     "add_batch(batch, ids) -> [None | [(id, sim)]]: add every doc of the batch, in order"},
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
        for (Py_ssize_t i = 0; i < self->n; i++)
            if (self->sets[i]) free(doc_block(self->core, self->sets[i]));
    free(self->sets);
    free(self->lens);
    Py_XDECREF(self->core);
    PyObject_Free(self);
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


static Py_ssize_t Batch_len(BatchObject *self) { return self->n; }

static PyMethodDef Batch_methods[] = {
    {"set", (PyCFunction)Batch_set, METH_O, "set(i) -> bytes: doc i's sorted uint32 set"},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods Batch_as_sequence = {.sq_length = (lenfunc)Batch_len};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "newsdesk.pipeline._dedupcore.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Documents hashed by Core.prepare: shingle sets, signatures, band keys.",
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
        size_t k = shingle(text.p, text.len, width, (uint32_t *)PyBytes_AS_STRING(b), NULL);
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
    size_t k = sort_unique_u32(a, tmp, n);
    free(tmp);
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

/* minhash(values, num_perm, seed) -> bytes: num_perm uint32, as Core(seed=seed) computes them. */
static PyObject *mod_minhash(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *o;
    int nperm;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OiK", &o, &nperm, &seed)) return NULL;
    if (nperm < 1 || nperm > MAX_PERM) {
        PyErr_SetString(PyExc_ValueError, "num_perm must be 1..256");
        return NULL;
    }
    Py_buffer v;
    if (get_bytes_or_u32(o, &v) < 0) return NULL;
    size_t n = (size_t)v.len / 4;
    const uint32_t *in = v.buf;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)nperm * 4);
    uint32_t *a = NULL;
    size_t i = 1;
    while (i < n && in[i - 1] <= in[i]) i++;
    if (out && i < n) { /* minhash() takes its values in ascending order */
        a = malloc((2 * n + 1) * sizeof *a);
        if (a) {
            memcpy(a, in, n * 4);
            radix_sort_u32(a, a + n, n);
            in = a;
        } else {
            Py_CLEAR(out);
            PyErr_NoMemory();
        }
    }
    if (out) minhash(in, n, nperm, mix64((uint64_t)seed + 1), (uint32_t *)PyBytes_AS_STRING(out));
    free(a);
    PyBuffer_Release(&v);
    return out;
}

static PyMethodDef module_methods[] = {
    {"minhash", mod_minhash, METH_VARARGS,
     "minhash(uint32 values, num_perm, seed) -> bytes: the signature Core computes"},
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
    const char *simd = "none";
#if defined(__SSE2__)
    simd = "sse2";
#endif
#if defined(HAVE_AVX2_PATH)
    /* NEWSDESK_DEDUP_SIMD=sse2 keeps the SSE2 paths (the tests compare both) */
    const char *want = getenv("NEWSDESK_DEDUP_SIMD");
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && !(want && strcmp(want, "sse2") == 0)) {
        intersect_count = intersect_count_avx2;
        difference_idx = difference_idx_avx2;
        simd = "avx2";
    }
    for (unsigned m = 0; m < 256; m++)
        for (unsigned l = 0, t = 0; l < 8; l++)
            if ((m >> l) & 1) pack8[m][t++] = l;
#endif
    for (int c = 0; c < 256; c++) {
        pop8[c] = (uint8_t)((c & 1) + pop8[c >> 1]);
        for (int bit = 0, t = 0; bit < 8; bit++)
            if ((c >> bit) & 1) bit_pos8[c][t++] = (uint32_t)bit;
    }
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
    if (PyModule_AddStringConstant(m, "simd", simd) < 0) { /* the merge loops in use */
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
