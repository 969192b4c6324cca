/* The emoji rule's prefilters in C (relay.policy.style): where no emoji and no emoticon can
 * be, its patterns are not tried.
 *
 * The rule reads five texts a message (the subject, each part's new and quoted text). In
 * Python its prefilters cost ~12 us on a 6 KB text: the text's non-ASCII characters
 * collected for a class search, and a str.find loop for each of the seven characters an
 * emoticon starts with. tests/unit/test_compiled_loops.py holds both to their Python forms.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

/* emoji_hint(text) -> bool: whether text holds a character at or past U+2100, or one of the
 * five below it that start or end an emoji (U+00A9, U+00AE, U+203C, U+2049, U+20E3): a
 * superset of relay.policy.style.EMOJI_PART's class (tests/unit/test_compiled_loops.py
 * checks every code point), so a text without one cannot hold an emoji. A Latin-1 text is
 * two memchr passes; its non-ASCII characters never need collecting. */
#define HINT_BLOCK 32  /* emoji_hint's block: GCC does not vectorise smaller ones */
#define FIRST_BLOCK 16 /* emoticon_starts': a block with a candidate is read twice */

static inline int may_start_emoji(Py_UCS4 c) {
    /* | rather than ||: no branches, so that a block of these vectorises */
    return (c >= 0x2100) | (c == 0xa9) | (c == 0xae) | (c == 0x203c) | (c == 0x2049) |
           (c == 0x20e3);
}

static PyObject *emoji_hint(PyObject *self, PyObject *text) {
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "emoji_hint() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (kind == PyUnicode_1BYTE_KIND)
        return PyBool_FromLong(memchr(data, 0xa9, (size_t)n) || memchr(data, 0xae, (size_t)n));
/* Wider text: blocks of HINT_BLOCK characters tested without a branch (the compiler turns
 * a block into vector compares), with an early exit only between blocks; a loop with an
 * exit at every character cost ~2 ns a character (12 us on a 6 KB reply with a dash). */
#define HINT(type)                                                                        \
    do {                                                                                  \
        const type *in = (const type *)data;                                              \
        Py_ssize_t i = 0;                                                                 \
        for (; i + HINT_BLOCK <= n; i += HINT_BLOCK) {                                    \
            int any = 0;                                                                  \
            for (int k = 0; k < HINT_BLOCK; k++) any |= may_start_emoji(in[i + k]);       \
            if (any) Py_RETURN_TRUE;                                                      \
        }                                                                                 \
        for (; i < n; i++)                                                                \
            if (may_start_emoji(in[i])) Py_RETURN_TRUE;                                   \
    } while (0)
    if (kind == PyUnicode_2BYTE_KIND) HINT(Py_UCS2);
    else HINT(Py_UCS4);
#undef HINT
    Py_RETURN_FALSE;
}

/* emoticon_starts(text) -> list[int]: the places relay.policy.style._emoticons tries its
 * pattern, in order: eyes (: ; =) before a nose or mouth, every ^, < before 3, x or X
 * before D. Latin-1 text by memchr, wider text by one loop over a table of the seven
 * characters; the Python form is a str.find loop per character. */
static const char EMOTICON_FIRST[] = ":;=^<xX";

static inline int is_emoticon_first(Py_UCS4 c) {
    return (c == ':') | (c == ';') | (c == '=') | (c == '^') | (c == '<') | (c == 'x') |
           (c == 'X');
}

/* Whether a block holds one of the seven: a loop of its own (not inlined) so that the
 * compiler vectorises it, which it does not inside the loop that collects the places. */
#define BLOCK_HAS_FIRST(type)                                                             \
    static int __attribute__((noinline)) has_first_##type(const type *in) {               \
        int any = 0;                                                                      \
        for (int k = 0; k < FIRST_BLOCK; k++) any |= is_emoticon_first(in[k]);            \
        return any;                                                                       \
    }
BLOCK_HAS_FIRST(Py_UCS2)
BLOCK_HAS_FIRST(Py_UCS4)
#undef BLOCK_HAS_FIRST

static inline int emoticon_at(Py_UCS4 c, Py_UCS4 next) {
    switch (c) {
    case '^': return 1;
    case '<': return next == '3';
    case 'x': case 'X': return next == 'D';
    default: return next < 0x80 && next && strchr("'-^o)(][DPpOo3|*", (int)next) != NULL;
    }
}

static int compare_offsets(const void *a, const void *b) {
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

static PyObject *emoticon_starts(PyObject *self, PyObject *text) {
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "emoticon_starts() takes a str");
        return NULL;
    }
    unsigned char first[128] = {0};
    for (const char *c = EMOTICON_FIRST; *c; c++) first[(unsigned char)*c] = 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *found = PyList_New(0);
    if (!found) return NULL;
#define TRY(i)                                                                            \
    do {                                                                                  \
        Py_UCS4 next = (i) + 1 < n ? in[(i) + 1] : 0;                                     \
        if (in[i] < 0x80 && first[in[i]] && emoticon_at(in[i], next)) {                   \
            PyObject *at = PyLong_FromSsize_t(i);                                         \
            if (!at || PyList_Append(found, at) < 0) {                                    \
                Py_XDECREF(at);                                                           \
                Py_DECREF(found);                                                         \
                return NULL;                                                              \
            }                                                                             \
            Py_DECREF(at);                                                                \
        }                                                                                 \
    } while (0)
/* Wider text: a block without one of the seven characters is skipped whole, tested without
 * a branch as in emoji_hint; the characters are looked at one by one only in the others. */
#define STARTS(type)                                                                      \
    do {                                                                                  \
        const type *in = (const type *)data;                                              \
        Py_ssize_t i = 0;                                                                 \
        for (; i + FIRST_BLOCK <= n; i += FIRST_BLOCK) {                                  \
            if (!has_first_##type(in + i)) continue;                                      \
            for (Py_ssize_t j = i; j < i + FIRST_BLOCK; j++) TRY(j);                      \
        }                                                                                 \
        for (; i < n; i++) TRY(i);                                                        \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) {
        /* Latin-1: memchr jumps to each of the seven characters (few in a reply), a pass at
         * memory speed each, and the places found are put in order. */
        const Py_UCS1 *in = (const Py_UCS1 *)data;
        Py_ssize_t cap = 16, count = 0;
        Py_ssize_t *at = (Py_ssize_t *)PyMem_Malloc(sizeof(Py_ssize_t) * cap);
        if (!at) {
            Py_DECREF(found);
            return PyErr_NoMemory();
        }
        for (const char *c = EMOTICON_FIRST; *c; c++) {
            const Py_UCS1 *p = (const Py_UCS1 *)memchr(in, *c, (size_t)n);
            while (p) {
                Py_ssize_t i = p - in;
                if (emoticon_at(in[i], i + 1 < n ? in[i + 1] : 0)) {
                    if (count == cap) {
                        Py_ssize_t *more =
                            (Py_ssize_t *)PyMem_Realloc(at, sizeof(Py_ssize_t) * cap * 2);
                        if (!more) {
                            PyMem_Free(at);
                            Py_DECREF(found);
                            return PyErr_NoMemory();
                        }
                        at = more;
                        cap *= 2;
                    }
                    at[count++] = i;
                }
                p = i + 1 < n ? (const Py_UCS1 *)memchr(p + 1, *c, (size_t)(n - i - 1)) : NULL;
            }
        }
        qsort(at, (size_t)count, sizeof(Py_ssize_t), compare_offsets);
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *item = PyLong_FromSsize_t(at[k]);
            if (!item || PyList_Append(found, item) < 0) {
                Py_XDECREF(item);
                PyMem_Free(at);
                Py_DECREF(found);
                return NULL;
            }
            Py_DECREF(item);
        }
        PyMem_Free(at);
    } else if (kind == PyUnicode_2BYTE_KIND) STARTS(Py_UCS2);
    else STARTS(Py_UCS4);
#undef STARTS
#undef TRY
    return found;
}

static PyMethodDef methods[] = {
    {"emoji_hint", emoji_hint, METH_O,
     "emoji_hint(text) -> bool: whether text holds a character an emoji can start or end with"},
    {"emoticon_starts", emoticon_starts, METH_O,
     "emoticon_starts(text) -> list[int]: where an emoticon can start, in order"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_emojiscan", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__emojiscan(void) { return PyModule_Create(&module); }
