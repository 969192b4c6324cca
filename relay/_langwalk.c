/* The byte walk of py3langid's feature automaton, in C.
 *
 * py3langid turns a text into byte n-gram features by walking a DFA over the text's UTF-8
 * bytes: state = nextmove[(row[state] << 8) + byte], and output[state] is the feature seen
 * there (or -1). Its Python loop costs ~100 ns a byte, about 0.1-0.2 ms for the first
 * 1,000 characters of a reply; this walk does the same in a few microseconds.
 *
 * counts(nextmove, nextmove_itemsize, row, row_itemsize, output, data)
 *   nextmove: unsigned integers (itemsize 2, 4 or 8), row: unsigned integers (2, 4 or 8),
 *   output: int32, data: bytes.
 * Returns (features, counts): the features seen, in the order they were first seen, as
 * int64 bytes, and how often each was seen, as int32 bytes; the order and the counts are
 * those of collections.Counter over py3langid's list of features (relay/language.py turns
 * them into its scores; tests/unit/test_language.py compares both walks).
 * A state or transition outside the tables raises ValueError (a damaged model file).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t item(const void *buf, Py_ssize_t size, Py_ssize_t i) {
    switch (size) {
    case 2: return ((const uint16_t *)buf)[i];
    case 4: return ((const uint32_t *)buf)[i];
    default: return ((const uint64_t *)buf)[i];
    }
}

static PyObject *counts(PyObject *self, PyObject *args) {
    Py_buffer nextmove, row, output, data;
    Py_ssize_t nm_size, row_size;
    if (!PyArg_ParseTuple(args, "y*ny*ny*y*", &nextmove, &nm_size, &row, &row_size, &output,
                          &data))
        return NULL;
    PyObject *result = NULL;
    int64_t *features = NULL;
    int32_t *seen = NULL;
    int32_t *slots = NULL;
    if ((nm_size != 2 && nm_size != 4 && nm_size != 8) ||
        (row_size != 2 && row_size != 4 && row_size != 8)) {
        PyErr_SetString(PyExc_ValueError, "item sizes must be 2, 4 or 8");
        goto done;
    }
    Py_ssize_t nm_len = nextmove.len / nm_size, row_len = row.len / row_size;
    Py_ssize_t out_len = output.len / (Py_ssize_t)sizeof(int32_t);
    const int32_t *out = (const int32_t *)output.buf;
    const unsigned char *bytes = (const unsigned char *)data.buf;
    Py_ssize_t n = data.len;
    /* Open addressing: at most n distinct features, a table of at least 2n slots. */
    Py_ssize_t capacity = 16;
    while (capacity < 2 * n) capacity <<= 1;
    features = (int64_t *)malloc(sizeof(int64_t) * (n ? n : 1));
    seen = (int32_t *)malloc(sizeof(int32_t) * (n ? n : 1));
    slots = (int32_t *)malloc(sizeof(int32_t) * capacity);
    if (!features || !seen || !slots) {
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0xff, sizeof(int32_t) * capacity); /* -1: empty */
    Py_ssize_t distinct = 0;
    uint64_t state = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((Py_ssize_t)state >= row_len) goto damaged;
        uint64_t at = (item(row.buf, row_size, (Py_ssize_t)state) << 8) + bytes[i];
        if (at >= (uint64_t)nm_len) goto damaged;
        state = item(nextmove.buf, nm_size, (Py_ssize_t)at);
        if ((Py_ssize_t)state >= out_len) goto damaged;
        int32_t f = out[state];
        if (f < 0) continue;
        Py_ssize_t h = ((uint32_t)f * 2654435761u) & (capacity - 1);
        while (slots[h] >= 0 && features[slots[h]] != f) h = (h + 1) & (capacity - 1);
        if (slots[h] < 0) {
            slots[h] = (int32_t)distinct;
            features[distinct] = f;
            seen[distinct] = 1;
            distinct++;
        } else {
            seen[slots[h]]++;
        }
    }
    result = Py_BuildValue("(y#y#)", (const char *)features, distinct * (Py_ssize_t)sizeof(int64_t),
                           (const char *)seen, distinct * (Py_ssize_t)sizeof(int32_t));
    goto done;
damaged:
    PyErr_SetString(PyExc_ValueError, "language model tables do not fit together");
done:
    free(features);
    free(seen);
    free(slots);
    PyBuffer_Release(&nextmove);
    PyBuffer_Release(&row);
    PyBuffer_Release(&output);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"counts", counts, METH_VARARGS, "Feature counts of py3langid's byte automaton over data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_langwalk", NULL, -1, methods};

PyMODINIT_FUNC PyInit__langwalk(void) { return PyModule_Create(&module); }
