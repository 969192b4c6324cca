/* The word loop of relay.policy.termindex.TermIndex.scan, in C.
 *
 * The lexicon scan visits every word of the sender's text, looks it up in the index's memo
 * and, for the few words that start a term, tries those terms. In Python the loop costs
 * about 1 us a word (10% of a message's inspection); here the words, the look-ups and the
 * bookkeeping cost a few nanoseconds each, and Python runs only the regular expressions of
 * the terms that can match and, once per new word, the index's `_candidates`.
 *
 * words(text, memo, compute, langs) -> [(topic, lang, start, end, matched), ...]
 *   text: str; memo: dict word -> entry; compute(word) -> entry for a word not in memo;
 *   langs: dict topic -> frozenset of languages. An entry is falsy (no term starts with
 *   the word) or a tuple (candidates, whole, follows, any_other, needles, rows, whole_rows)
 *   as termindex.Entry, where rows and whole_rows are the candidates' Candidate.row tuples.
 *   The result is what the Python loop appends to `found`, in the same order
 *   (tests/unit/test_termindex.py runs both against one reference).
 *
 * A term is tried only where the text holds its needle (letters every match of it holds),
 * and an entry's any_other only where the text holds one of its terms' needles: most of the
 * regular expressions tried here failed, at ~6,000 instructions each. Whether the text
 * holds a needle is looked up once per scan.
 *
 * Words are maximal runs of characters that are alphanumeric or "_" (re's \w on str); the
 * text between two words "is space" as str.isspace says.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

static PyObject *s_match, *s_end, *s_group, *s_strip, *s_any;

/* ASCII by range tests (most characters of a reply), the rest by the Unicode database. */
static inline int is_word(Py_UCS4 ch) {
    if (ch < 128)
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_';
    return Py_UNICODE_ISALNUM(ch);
}

/* Whether text[start:end] is all whitespace (and not empty). */
static int all_space(int kind, const void *data, Py_ssize_t start, Py_ssize_t end) {
    if (start >= end) return 0;
    for (Py_ssize_t i = start; i < end; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) return 0;
    return 1;
}

/* Whether the word text[start:end] starts with one of `follows` (a tuple of str). */
static int starts_with_any(PyObject *text, Py_ssize_t start, Py_ssize_t end, PyObject *follows) {
    Py_ssize_t n = PyTuple_GET_SIZE(follows);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t hit = PyUnicode_Tailmatch(text, PyTuple_GET_ITEM(follows, i), start, end, -1);
        if (hit != 0) return (int)hit; /* 1, or -1 with an exception set */
    }
    return 0;
}

/* Whether `text` holds `needle`, remembered in `held` (needle -> bool) for this scan:
 * 1, 0, or -1 with an exception set. */
static int holds(PyObject *text, PyObject *needle, PyObject *held) {
    PyObject *known = PyDict_GetItemWithError(held, needle); /* borrowed */
    if (known) return known == Py_True;
    if (PyErr_Occurred()) return -1;
    Py_ssize_t at = PyUnicode_Find(text, needle, 0, PyUnicode_GET_LENGTH(text), 1);
    if (at == -2) return -1;
    if (PyDict_SetItem(held, needle, at >= 0 ? Py_True : Py_False) < 0) return -1;
    return at >= 0;
}

/* Whether `text` holds one of `needles` (a tuple of str): 1, 0, or -1 with an exception. */
static int holds_any(PyObject *text, PyObject *needles, PyObject *held) {
    Py_ssize_t n = PyTuple_GET_SIZE(needles);
    for (Py_ssize_t i = 0; i < n; i++) {
        int found = holds(text, PyTuple_GET_ITEM(needles, i), held);
        if (found != 0) return found;
    }
    return 0;
}

/* pattern.match(text, start): a new reference (Py_None when it does not match) or NULL. */
static PyObject *match_at(PyObject *pattern, PyObject *text, Py_ssize_t start) {
    PyObject *pos = PyLong_FromSsize_t(start);
    if (!pos) return NULL;
    PyObject *m = PyObject_CallMethodObjArgs(pattern, s_match, text, pos, NULL);
    Py_DECREF(pos);
    return m;
}

/* Try the candidates of one word starting at `start`; adds what wins to `found`, `busy`.
 * cands: their rows (Candidate.row: topic, lang, pattern, whole_word, needle, key with the
 * language, key without), read by position: no attribute look-ups, no keys built. */
static int try_word(PyObject *text, PyObject *word, Py_ssize_t start, PyObject *cands,
                    PyObject *langs, PyObject *busy, PyObject *found, PyObject *held) {
    PyObject *best = PyDict_New(); /* key -> (row, end, matched) */
    if (!best) return -1;
    int rc = -1;
    Py_ssize_t n = PyTuple_GET_SIZE(cands);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyTuple_GET_ITEM(cands, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 7) {
            PyErr_SetString(PyExc_TypeError, "a candidate row is a 7-tuple");
            goto done;
        }
        PyObject *topic = PyTuple_GET_ITEM(row, 0), *lang = PyTuple_GET_ITEM(row, 1);
        PyObject *wanted = PyDict_GetItemWithError(langs, topic); /* borrowed */
        if (!wanted && PyErr_Occurred()) goto done;
        if (wanted) {
            int in = PySequence_Contains(wanted, lang);
            if (in < 0) goto done;
            if (!in) {
                int any = PyUnicode_Compare(lang, s_any);
                if (any == -1 && PyErr_Occurred()) goto done;
                if (any != 0) continue;
            }
        }
        PyObject *key = PyTuple_GET_ITEM(row, wanted ? 5 : 6); /* borrowed */
        int seen = PyDict_Contains(best, key);
        if (seen < 0) goto done;
        if (seen) continue;
        PyObject *last = PyDict_GetItemWithError(busy, key); /* borrowed */
        if (!last && PyErr_Occurred()) goto done;
        if (last) {
            Py_ssize_t until = PyLong_AsSsize_t(last);
            if (until == -1 && PyErr_Occurred()) goto done;
            if (until > start) continue;
        }
        PyObject *hit = NULL;
        if (PyTuple_GET_ITEM(row, 3) == Py_True) { /* whole_word */
            hit = Py_BuildValue("(OnO)", row, start + PyUnicode_GET_LENGTH(word), word);
            if (!hit) goto done;
        } else {
            PyObject *needle = PyTuple_GET_ITEM(row, 4);
            int present = 1; /* a term without a needle is always tried */
            if (PyUnicode_Check(needle) && PyUnicode_GET_LENGTH(needle) > 0)
                present = holds(text, needle, held);
            if (present < 0) goto done;
            if (!present) continue; /* its needle is not in the text */
            PyObject *m = match_at(PyTuple_GET_ITEM(row, 2), text, start);
            if (!m) goto done;
            if (m != Py_None) {
                PyObject *end = PyObject_CallMethodNoArgs(m, s_end);
                PyObject *zero = PyLong_FromLong(0);
                PyObject *group = zero ? PyObject_CallMethodOneArg(m, s_group, zero) : NULL;
                PyObject *matched = group ? PyObject_CallMethodNoArgs(group, s_strip) : NULL;
                if (end && matched) hit = PyTuple_Pack(3, row, end, matched);
                Py_XDECREF(end);
                Py_XDECREF(zero);
                Py_XDECREF(group);
                Py_XDECREF(matched);
                if (!hit) {
                    Py_DECREF(m);
                    goto done;
                }
            }
            Py_DECREF(m);
            if (!hit) continue;
        }
        int set = PyDict_SetItem(best, key, hit);
        Py_DECREF(hit);
        if (set < 0) goto done;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(best, &pos, &key, &value)) { /* insertion order, as in Python */
        PyObject *row = PyTuple_GET_ITEM(value, 0), *end = PyTuple_GET_ITEM(value, 1);
        Py_ssize_t stop = PyLong_AsSsize_t(end);
        if (stop == -1 && PyErr_Occurred()) goto done;
        PyObject *out = Py_BuildValue("(OOnOO)", PyTuple_GET_ITEM(row, 0),
                                      PyTuple_GET_ITEM(row, 1), start, end,
                                      PyTuple_GET_ITEM(value, 2));
        if (!out) goto done;
        int added = PyList_Append(found, out);
        Py_DECREF(out);
        if (added < 0) goto done;
        PyObject *until = PyLong_FromSsize_t(stop > start ? stop : start + 1);
        if (!until) goto done;
        int set = PyDict_SetItem(busy, key, until);
        Py_DECREF(until);
        if (set < 0) goto done;
    }
    rc = 0;
done:
    Py_DECREF(best);
    return rc;
}

static PyObject *words(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text, *memo, *compute, *langs;
    if (!PyArg_ParseTuple(args, "UO!OO!", &text, &PyDict_Type, &memo, &compute, &PyDict_Type,
                          &langs))
        return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* Word spans first: a word's test looks at the next word. */
    Py_ssize_t *spans = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (n + 2));
    if (!spans) return PyErr_NoMemory();
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if (!is_word(PyUnicode_READ(kind, data, i))) { i++; continue; }
        Py_ssize_t j = i + 1;
        while (j < n && is_word(PyUnicode_READ(kind, data, j))) j++;
        spans[2 * count] = i;
        spans[2 * count + 1] = j;
        count++;
        i = j;
    }
    PyObject *found = PyList_New(0), *busy = PyDict_New(), *held = PyDict_New();
    PyObject *word = NULL, *entry = NULL;
    if (!found || !busy || !held) goto fail;
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t start = spans[2 * k], stop = spans[2 * k + 1];
        if (!(word = PyUnicode_Substring(text, start, stop))) goto fail;
        entry = PyDict_GetItemWithError(memo, word);
        if (entry) {
            Py_INCREF(entry);
        } else {
            if (PyErr_Occurred() || !(entry = PyObject_CallOneArg(compute, word))) goto fail;
        }
        int truth = PyObject_IsTrue(entry);
        if (truth < 0) goto fail;
        if (truth) {
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 7) {
                PyErr_SetString(PyExc_TypeError, "an index entry is a 7-tuple");
                goto fail;
            }
            PyObject *cands = PyTuple_GET_ITEM(entry, 5), *whole = PyTuple_GET_ITEM(entry, 6);
            PyObject *follows = PyTuple_GET_ITEM(entry, 2), *any = PyTuple_GET_ITEM(entry, 3);
            if (!PyTuple_Check(cands) || !PyTuple_Check(whole) || !PyTuple_Check(follows)) {
                PyErr_SetString(PyExc_TypeError, "an index entry holds tuples");
                goto fail;
            }
            int longer = 0;
            if (PyTuple_GET_SIZE(follows) && k + 1 < count &&
                all_space(kind, data, stop, spans[2 * k + 2])) {
                longer = starts_with_any(text, spans[2 * k + 2], spans[2 * k + 3], follows);
                if (longer < 0) goto fail;
            }
            if (!longer && any != Py_None) {
                /* Entry.needles: where the text holds none, the alternation cannot match. */
                PyObject *needles = PyTuple_GET_ITEM(entry, 4);
                int maybe = 1;
                if (needles != Py_None) {
                    if (!PyTuple_Check(needles)) {
                        PyErr_SetString(PyExc_TypeError, "an entry's needles are a tuple");
                        goto fail;
                    }
                    if ((maybe = holds_any(text, needles, held)) < 0) goto fail;
                }
                if (maybe) {
                    PyObject *m = match_at(any, text, start);
                    if (!m) goto fail;
                    longer = m != Py_None;
                    Py_DECREF(m);
                }
            }
            if (try_word(text, word, start, longer ? cands : whole, langs, busy, found, held) <
                0)
                goto fail;
        }
        Py_CLEAR(entry);
        Py_CLEAR(word);
    }
    free(spans);
    Py_DECREF(busy);
    Py_DECREF(held);
    return found;
fail:
    free(spans);
    Py_XDECREF(entry);
    Py_XDECREF(word);
    Py_XDECREF(found);
    Py_XDECREF(busy);
    Py_XDECREF(held);
    return NULL;
}

static PyMethodDef methods[] = {
    {"words", words, METH_VARARGS,
     "words(text, memo, compute, langs) -> [(topic, lang, start, end, matched)]: the matches "
     "of the terms that start at the words of text"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_termscan", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__termscan(void) {
    struct { PyObject **slot; const char *name; } names[] = {
        {&s_match, "match"}, {&s_end, "end"}, {&s_group, "group"}, {&s_strip, "strip"},
        {&s_any, "any"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!(*names[i].slot = PyUnicode_InternFromString(names[i].name))) return NULL;
    return PyModule_Create(&module);
}
