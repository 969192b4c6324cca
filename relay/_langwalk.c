/* The byte walk of py3langid's feature automaton, in C, one table read per byte.
 *
 * py3langid turns a text into byte n-gram features by walking a DFA over the text's UTF-8
 * bytes: state = nextmove[(row[state] << 8) + byte], and output[state] is the feature seen
 * there (or -1). Its Python loop costs ~100 ns a byte, about 0.1-0.2 ms for the first
 * 1,000 characters of a reply.
 *
 * Here the walk runs on two tables derived from those (relay/language.py builds them once
 * into its model cache): next_rows[(r << 8) + byte] = row[next state] and next_features[(r <<
 * 8) + byte] = output[next state], for every distinct row r. A state's transitions are its
 * row's, so the row is all the walk needs to carry, and the next row is one read: py3langid's
 * tables need two dependent reads a byte (row[state], then nextmove), and inside a message's
 * inspection, where the 39 MB table's lines are no longer cached, each read waits on memory
 * (78 -> 42 us on the 18 KB reply's 1,000 characters, bench/README.md). The feature read
 * does not hold up the next step.
 *
 * row_counts(next_rows, next_rows_itemsize, next_features, start_row, data)
 *   next_rows: unsigned integers (itemsize 2 or 4), next_features: int32, the same number
 *   of items, a multiple of 256; start_row: the root state's row; data: bytes.
 * Returns (features, counts): the features seen, in the order they were first seen, as
 * int64 bytes, and how often each was seen, as int32 bytes; the order and the counts are
 * those of collections.Counter over py3langid's list of features (relay/language.py turns
 * them into its scores; tests/unit/test_language.py compares both walks).
 * A row outside the tables raises ValueError (a damaged cache file).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Count one feature in the open-addressing table: at most n distinct features, a table of
 * at least 2n slots. */
static inline void tally(int32_t f, int64_t *features, int32_t *seen, int32_t *slots,
                         Py_ssize_t capacity, Py_ssize_t *distinct) {
    Py_ssize_t h = ((uint32_t)f * 2654435761u) & (capacity - 1);
    while (slots[h] >= 0 && features[slots[h]] != f) h = (h + 1) & (capacity - 1);
    if (slots[h] < 0) {
        slots[h] = (int32_t)*distinct;
        features[*distinct] = f;
        seen[*distinct] = 1;
        (*distinct)++;
    } else {
        seen[slots[h]]++;
    }
}

static Py_ssize_t damaged(void) {
    PyErr_SetString(PyExc_ValueError, "language model tables do not fit together");
    return -1;
}

/* Checks that the tables fit together and `start` is one of their rows; returns the tally's
 * empty table of slots for a text of n bytes (its size in *capacity) and the number of rows
 * in *n_rows, or NULL with an exception set. */
static int32_t *open_walk(const Py_buffer *rows_buf, Py_ssize_t size, const Py_buffer *feats_buf,
                          Py_ssize_t start, Py_ssize_t n, Py_ssize_t *n_rows,
                          Py_ssize_t *capacity) {
    Py_ssize_t cells = size ? rows_buf->len / size : 0;
    *n_rows = cells / 256;
    if (cells % 256 || feats_buf->len != cells * (Py_ssize_t)sizeof(int32_t) || start < 0 ||
        start >= *n_rows) {
        damaged();
        return NULL;
    }
    *capacity = 16;
    while (*capacity < 2 * n) *capacity <<= 1;
    int32_t *slots = (int32_t *)malloc(sizeof(int32_t) * *capacity);
    if (!slots) {
        PyErr_NoMemory();
        return NULL;
    }
    memset(slots, 0xff, sizeof(int32_t) * *capacity); /* -1: empty */
    return slots;
}

/* The walk itself: fills features/seen (room for n each) and returns how many distinct
 * features it saw, or -1 with ValueError set when the tables do not fit together. */
static Py_ssize_t walk(const Py_buffer *rows_buf, Py_ssize_t size, const Py_buffer *feats_buf,
                       Py_ssize_t at, const Py_buffer *data, int64_t *features, int32_t *seen) {
    Py_ssize_t n = data->len, n_rows, capacity;
    int32_t *slots = open_walk(rows_buf, size, feats_buf, at, n, &n_rows, &capacity);
    if (!slots) return -1;
    const int32_t *next_features = (const int32_t *)feats_buf->buf;
    const unsigned char *bytes = (const unsigned char *)data->buf;
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t cell = (at << 8) + bytes[i];
        at = size == 2 ? ((const uint16_t *)rows_buf->buf)[cell]
                       : (Py_ssize_t)((const uint32_t *)rows_buf->buf)[cell];
        if (at >= n_rows) {
            free(slots);
            return damaged();
        }
        int32_t f = next_features[cell];
        if (f >= 0) tally(f, features, seen, slots, capacity, &distinct);
    }
    free(slots);
    return distinct;
}

/* Streams walked side by side, and the fewest bytes a stream needs to reach its start row. */
#define STREAMS 8
#define MIN_STREAM 64

/* The same counts as walk() (in another order of first sight), with the text cut into
 * STREAMS pieces walked side by side: one walk is a chain of reads each waiting on the one
 * before, mostly on memory inside an inspection; independent chains wait together.
 * `sync` is how many bytes take the walk from any row to the row the walk from the start
 * would have (relay/language.py derives it from the tables: the automaton's states are
 * byte n-grams, so the row depends on the last few bytes only). A piece is walked from
 * `sync` bytes before its start with the start row, counting from its start. sync <= 0,
 * or a text too short for the pieces, walks in one chain. */
static Py_ssize_t walk_streams(const Py_buffer *rows_buf, Py_ssize_t size,
                               const Py_buffer *feats_buf, Py_ssize_t start,
                               const Py_buffer *data, Py_ssize_t sync, int64_t *features,
                               int32_t *seen) {
    Py_ssize_t n = data->len, n_rows, capacity;
    if (sync <= 0 || n < STREAMS * (sync + MIN_STREAM))
        return walk(rows_buf, size, feats_buf, start, data, features, seen);
    int32_t *slots = open_walk(rows_buf, size, feats_buf, start, n, &n_rows, &capacity);
    if (!slots) return -1;
    const int32_t *next_features = (const int32_t *)feats_buf->buf;
    const uint16_t *rows16 = (const uint16_t *)rows_buf->buf;
    const uint32_t *rows32 = (const uint32_t *)rows_buf->buf;
    const unsigned char *bytes = (const unsigned char *)data->buf;
    Py_ssize_t pos[STREAMS], from[STREAMS], end[STREAMS], at[STREAMS];
    Py_ssize_t steps = 0;
    for (int k = 0; k < STREAMS; k++) {
        from[k] = n * k / STREAMS;
        end[k] = n * (k + 1) / STREAMS;
        pos[k] = k ? from[k] - sync : 0;
        at[k] = start;
        if (end[k] - pos[k] > steps) steps = end[k] - pos[k];
    }
    Py_ssize_t distinct = 0;
    for (Py_ssize_t step = 0; step < steps; step++) {
        for (int k = 0; k < STREAMS; k++) {
            Py_ssize_t i = pos[k];
            if (i >= end[k]) continue;
            Py_ssize_t cell = (at[k] << 8) + bytes[i];
            Py_ssize_t next = size == 2 ? rows16[cell] : (Py_ssize_t)rows32[cell];
            if (next >= n_rows) {
                free(slots);
                return damaged();
            }
            at[k] = next;
            pos[k] = i + 1;
            if (i >= from[k]) {
                int32_t f = next_features[cell];
                if (f >= 0) tally(f, features, seen, slots, capacity, &distinct);
            }
        }
    }
    free(slots);
    return distinct;
}

static int check_size(Py_ssize_t size) {
    if (size == 2 || size == 4) return 0;
    PyErr_SetString(PyExc_ValueError, "next_rows' item size must be 2 or 4");
    return -1;
}

static PyObject *row_counts(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rows_buf, feats_buf, data;
    Py_ssize_t size, at;
    if (!PyArg_ParseTuple(args, "y*ny*ny*", &rows_buf, &size, &feats_buf, &at, &data))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = data.len ? data.len : 1;
    int64_t *features = (int64_t *)malloc(sizeof(int64_t) * n);
    int32_t *seen = (int32_t *)malloc(sizeof(int32_t) * n);
    if (!features || !seen) {
        PyErr_NoMemory();
    } else if (check_size(size) == 0) {
        Py_ssize_t distinct = walk(&rows_buf, size, &feats_buf, at, &data, features, seen);
        if (distinct >= 0)
            result = Py_BuildValue("(y#y#)", (const char *)features,
                                   distinct * (Py_ssize_t)sizeof(int64_t), (const char *)seen,
                                   distinct * (Py_ssize_t)sizeof(int32_t));
    }
    free(features);
    free(seen);
    PyBuffer_Release(&rows_buf);
    PyBuffer_Release(&feats_buf);
    PyBuffer_Release(&data);
    return result;
}

/* log1p of the counts most features have (a log1p call costs more than the sums). */
#define LOG1P_TABLE 256
static double log1p_table[LOG1P_TABLE];

/* An IEEE half as a float (exact); NaN for infinities and NaNs, which no model holds. */
static inline float half(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 31) return NAN;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in a float */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    uint32_t bits = sign | ((exp + 112) << 23) | (mant << 13);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* best_class(next_rows, itemsize, next_features, start_row, ptc, classes, pc, data[, sync])
 *   -> (best, gap, bound)
 * py3langid's naive Bayes score of every class, pc[j] + sum over features f of
 * log1p(count f) * ptc[f, j] (ptc: float16, features x classes, C order; pc: float32),
 * summed here in double. numpy sums the same terms in float32, in an order of its own: the
 * two differ by at most (k + 4) * 2^-24 times the sum of the terms' magnitudes, k features
 * (recursive summation in any order, products and log1p rounded once each). gap is how far
 * the best score is ahead of the second, bound twice what two classes' rounding can add up
 * to, with the largest magnitude of all: where gap > bound, numpy's argmax is `best` too. Otherwise (and
 * for a text without features, or a model with a non-finite weight: bound = inf) the caller
 * asks numpy. With sync > 0 the text is walked in pieces side by side (walk_streams): the
 * same counts, summed in another order, which moves a double sum by far less than bound. */
static PyObject *best_class(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rows_buf, feats_buf, ptc_buf, pc_buf, data;
    Py_ssize_t size, at, classes, sync = 0;
    if (!PyArg_ParseTuple(args, "y*ny*ny*ny*y*|n", &rows_buf, &size, &feats_buf, &at, &ptc_buf,
                          &classes, &pc_buf, &data, &sync))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = data.len ? data.len : 1;
    int64_t *features = (int64_t *)malloc(sizeof(int64_t) * n);
    int32_t *seen = (int32_t *)malloc(sizeof(int32_t) * n);
    double *score = (double *)calloc(classes > 0 ? (size_t)classes * 2 : 1, sizeof(double));
    if (!features || !seen || !score) {
        PyErr_NoMemory();
        goto done;
    }
    if (check_size(size) < 0) goto done;
    if (classes < 2 || pc_buf.len != classes * (Py_ssize_t)sizeof(float) ||
        ptc_buf.len % (classes * (Py_ssize_t)sizeof(uint16_t))) {
        PyErr_SetString(PyExc_ValueError, "language model weights do not fit together");
        goto done;
    }
    Py_ssize_t distinct =
        walk_streams(&rows_buf, size, &feats_buf, at, &data, sync, features, seen);
    if (distinct < 0) goto done;
    Py_ssize_t n_features = ptc_buf.len / (classes * (Py_ssize_t)sizeof(uint16_t));
    const uint16_t *ptc = (const uint16_t *)ptc_buf.buf;
    const float *pc = (const float *)pc_buf.buf;
    double *magnitude = score + classes;
    for (Py_ssize_t j = 0; j < classes; j++) {
        score[j] = pc[j];
        magnitude[j] = fabs((double)pc[j]);
    }
    for (Py_ssize_t i = 0; i < distinct; i++) {
        if (features[i] >= n_features) {
            PyErr_SetString(PyExc_ValueError, "a feature the model has no weights for");
            goto done;
        }
#if defined(__GNUC__)
        /* The weight rows are spread over the 1.2 MB table: ask for the ones a few
         * features ahead while this one is summed. */
        if (i + 8 < distinct && features[i + 8] < n_features)
            __builtin_prefetch(ptc + features[i + 8] * classes);
#endif
        int32_t count = seen[i];
        double weight = count < LOG1P_TABLE ? log1p_table[count] : log1p((double)count);
        const uint16_t *w = ptc + features[i] * classes;
        for (Py_ssize_t j = 0; j < classes; j++) {
            double term = weight * (double)half(w[j]);
            score[j] += term;
            magnitude[j] += fabs(term);
        }
    }
    Py_ssize_t best = 0, second = -1;
    for (Py_ssize_t j = 1; j < classes; j++) {
        if (score[j] > score[best]) {
            second = best;
            best = j;
        } else if (second < 0 || score[j] > score[second]) {
            second = j;
        }
    }
    double largest = 0.0;
    for (Py_ssize_t j = 0; j < classes; j++)
        if (magnitude[j] > largest) largest = magnitude[j];
    double gap = score[best] - score[second];
    double bound = 4.0 * (double)(distinct + 4) * 5.9604644775390625e-8 * largest;
    if (distinct == 0 || !isfinite(gap) || !isfinite(bound)) bound = INFINITY;
    result = Py_BuildValue("(ndd)", best, isfinite(gap) ? gap : 0.0, bound);
done:
    free(features);
    free(seen);
    free(score);
    PyBuffer_Release(&rows_buf);
    PyBuffer_Release(&feats_buf);
    PyBuffer_Release(&ptc_buf);
    PyBuffer_Release(&pc_buf);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"row_counts", row_counts, METH_VARARGS,
     "Feature counts of py3langid's byte automaton over data, walked row to row."},
    {"best_class", best_class, METH_VARARGS,
     "The best-scoring class over data, how far ahead it is, and the rounding bound."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_langwalk", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__langwalk(void) {
    for (int i = 0; i < LOG1P_TABLE; i++) log1p_table[i] = log1p((double)i);
    return PyModule_Create(&module);
}
