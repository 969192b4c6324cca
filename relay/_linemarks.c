/* Which lines may start quoted history: relay.textscan._marked_lines in one pass, in C.
 *
 * quote_start tries its attribution patterns only on lines holding one of the words every
 * attribution contains ("wrote", "schr", "cri", ASCII case-folded, with U+0130 and U+0131
 * read as "i" and U+017F as "s", the letters re.IGNORECASE also equates), and its separator
 * and header-block patterns only on lines holding ":", "--" or "__". The Python form finds
 * them with bytes.find over the lines' UTF-8 (one pass per needle, ~40 us for a 6 KB
 * reply); this walks the characters once.
 *
 * marks(lines) -> (hinted, marked): sets of the indices of those lines in the sequence
 * `lines` (str items). tests/unit/test_compiled_loops.py compares it with the Python form.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define PACK3(a, b, c) (((uint64_t)(a) << 16) | ((uint64_t)(b) << 8) | (uint64_t)(c))
#define PACK4(a, b, c, d) (((uint64_t)(a) << 24) | PACK3(b, c, d))
#define PACK5(a, b, c, d, e) (((uint64_t)(a) << 32) | PACK4(b, c, d, e))

static const uint64_t CRI = PACK3('c', 'r', 'i');
static const uint64_t SCHR = PACK4('s', 'c', 'h', 'r');
static const uint64_t WROTE = PACK5('w', 'r', 'o', 't', 'e');

/* The byte the Python form compares: ASCII lower-cased, the three folded letters, and 0x80
 * for every other character (its UTF-8 bytes never equal an ASCII needle's). */
static inline unsigned folded(Py_UCS4 c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c == 0x130 || c == 0x131) return 'i';
    if (c == 0x17F) return 's';
    return 0x80;
}

/* Sets *hint and *mark for one line of `n` characters of type `type` at `data`. */
#define scan_line(type, data, n, hint, mark)                                                  \
    do {                                                                                      \
        type *chars = (type *)(data);                                                         \
        uint64_t window = 0; /* the last five folded characters */                           \
        for (Py_ssize_t k = 0; k < (n); k++) {                                                \
            unsigned c = folded(chars[k]);                                                    \
            unsigned before = (unsigned)(window & 0xFF);                                      \
            window = ((window << 8) | c) & 0xFFFFFFFFFFULL;                                   \
            if (c == ':' || ((c == '-' || c == '_') && before == c)) *(mark) = 1;             \
            else if (c == 'i' || c == 'r' || c == 'e') { /* the needles' last letters */     \
                if ((window & 0xFFFFFF) == CRI || (window & 0xFFFFFFFF) == SCHR ||           \
                    window == WROTE)                                                          \
                    *(hint) = 1;                                                              \
            }                                                                                 \
        }                                                                                     \
    } while (0)

static int add(PyObject *set, Py_ssize_t index) {
    PyObject *number = PyLong_FromSsize_t(index);
    if (!number) return -1;
    int rc = PySet_Add(set, number);
    Py_DECREF(number);
    return rc;
}

static PyObject *marks(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "marks() takes a sequence of str");
    if (!seq) return NULL;
    PyObject *hinted = PySet_New(NULL), *marked = PySet_New(NULL);
    if (!hinted || !marked) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *line = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "marks() takes a sequence of str");
            goto fail;
        }
        int hint = 0, mark = 0;
        const void *data = PyUnicode_DATA(line);
        Py_ssize_t n = PyUnicode_GET_LENGTH(line);
        switch (PyUnicode_KIND(line)) { /* one loop per width: no width test per character */
        case PyUnicode_1BYTE_KIND: scan_line(const Py_UCS1, data, n, &hint, &mark); break;
        case PyUnicode_2BYTE_KIND: scan_line(const Py_UCS2, data, n, &hint, &mark); break;
        default: scan_line(const Py_UCS4, data, n, &hint, &mark); break;
        }
        if ((hint && add(hinted, i) < 0) || (mark && add(marked, i) < 0)) goto fail;
    }
    Py_DECREF(seq);
    return Py_BuildValue("(NN)", hinted, marked);
fail:
    Py_DECREF(seq);
    Py_XDECREF(hinted);
    Py_XDECREF(marked);
    return NULL;
}

static PyMethodDef methods[] = {
    {"marks", marks, METH_O,
     "marks(lines) -> (hinted, marked): the indices of the lines holding an attribution word, "
     "and of those holding ':', '--' or '__'"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_linemarks", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__linemarks(void) { return PyModule_Create(&module); }
