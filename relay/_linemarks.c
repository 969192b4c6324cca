/* Loops of relay.textscan in C: the line marks, the CRLF check, the longest line, the
 * non-ASCII filter, the URL hint.
 *
 * Which lines may start quoted history: relay.textscan._marked_lines in one pass.
 *
 * quote_start tries its attribution patterns only on lines holding one of the words every
 * attribution contains ("wrote", "schr", "cri", ASCII case-folded, with U+0130 and U+0131
 * read as "i" and U+017F as "s", the letters re.IGNORECASE also equates), and its separator
 * and header-block patterns only on lines holding "--" or "__", or a ":" in a line whose
 * first character after its blanks and one "*" is f, v or d in either case (a header block
 * starts with From/Von/Van/De/Da; re.IGNORECASE equates no other character with those
 * three letters). The Python form finds
 * them with bytes.find over the lines' UTF-8 (one pass per needle, ~40 us for a 6 KB
 * reply); this walks the characters once, or, in a line of Latin-1 characters, jumps with
 * memchr between the characters that matter (36,000 instead of 111,000 instructions for
 * the benchmark reply's 69 lines).
 *
 * marks(lines) -> (hinted, marked): sets of the indices of those lines in the sequence
 * `lines` (str items). tests/unit/test_compiled_loops.py compares it with the Python form.
 *
 * crlf_only(data) -> bool: whether every CR and LF in the bytes-like `data` is part of a
 * CRLF pair, the form mail has on the wire. Python's three bytes.count calls that answer
 * it take ~14 instructions a byte between them; memchr jumps from line end to line end.
 *
 * longest_line(data) -> int: the length of the longest piece of `data` between CRLF pairs,
 * for the DATA phase's line limit, without the split into a bytearray a line.
 *
 * qp_decode(data) -> bytes: what binascii.a2b_qp(data) gives (quoted-printable, not in a
 * header), copying the runs between one "=" and the next with memchr and memcpy where
 * a2b_qp tests every byte (~11 instructions a byte: 3% of an evaluation of the 18 KB reply).
 *
 * non_ascii(text) -> str: the characters of `text` past ASCII, in order. The Python form
 * (the UTF-8 bytes with the ASCII ones deleted, decoded) costs ~25 instructions a
 * character, most of them in the encoding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The ASCII characters that can end a needle: ':', '-', '_' and i, r, e in either case.
 * Every character past ASCII is looked at (U+0130 and U+0131 fold to 'i'). */
static const unsigned char INTERESTING[128] = {
    [':'] = 1, ['-'] = 1, ['_'] = 1, ['i'] = 1, ['I'] = 1, ['r'] = 1, ['R'] = 1, ['e'] = 1,
    ['E'] = 1,
};

/* The byte the Python form compares: ASCII lower-cased, the three folded letters, and 0x80
 * for every other character (its UTF-8 bytes never equal an ASCII needle's). */
static inline unsigned folded(Py_UCS4 c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c == 0x130 || c == 0x131) return 'i';
    if (c == 0x17F) return 's';
    return 0x80;
}

/* Sets *hint and *mark for one line of `n` characters of type `type` at `data`.
 *
 * Only the characters that can end a needle (':', '-', '_', and the needles' last letters
 * i, r, e) are looked at more closely, by looking back at the characters before them; the
 * others cost one comparison each. The line is left as soon as both marks are set. */
#define scan_line(type, data, n, hint, mark, colon)                                           \
    do {                                                                                      \
        type *chars = (type *)(data);                                                         \
        for (Py_ssize_t k = 0; k < (n) && !(*(hint) && *(mark)); k++) {                      \
            Py_UCS4 raw = chars[k];                                                           \
            if (raw < 0x80 && !INTERESTING[raw]) continue;                                    \
            unsigned c = folded(raw);                                                         \
            if (c == ':') *(mark) |= (colon);                                                 \
            else if (c == '-' || c == '_') {                                                  \
                if (k >= 1 && folded(chars[k - 1]) == c) *(mark) = 1;                         \
            } else if (c == 'i') { /* cri */                                                  \
                if (k >= 2 && folded(chars[k - 1]) == 'r' && folded(chars[k - 2]) == 'c')     \
                    *(hint) = 1;                                                              \
            } else if (c == 'r') { /* schr */                                                 \
                if (k >= 3 && folded(chars[k - 1]) == 'h' && folded(chars[k - 2]) == 'c' &&   \
                    folded(chars[k - 3]) == 's')                                              \
                    *(hint) = 1;                                                              \
            } else if (c == 'e') { /* wrote */                                                \
                if (k >= 4 && folded(chars[k - 1]) == 't' && folded(chars[k - 2]) == 'o' &&   \
                    folded(chars[k - 3]) == 'r' && folded(chars[k - 4]) == 'w')               \
                    *(hint) = 1;                                                              \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* scan_line for a line of Latin-1 characters (most mail): by memchr, which runs many bytes
 * a step, rather than character by character. Every needle holds an "r" ("cri", "schr",
 * "wrote"): each r or R is checked against the letters around it. */
static void scan_latin1(const Py_UCS1 *s, Py_ssize_t n, int *hint, int *mark, int colon) {
    const Py_UCS1 *end = s + n, *p;
    int m = colon && memchr(s, ':', (size_t)n) != NULL;
    for (p = s; !m && (p = memchr(p, '-', (size_t)(end - p))); p++) m = p > s && p[-1] == '-';
    for (p = s; !m && (p = memchr(p, '_', (size_t)(end - p))); p++) m = p > s && p[-1] == '_';
    int h = 0;
    for (int upper = 0; upper < 2 && !h; upper++) {
        for (p = s; !h && (p = memchr(p, upper ? 'R' : 'r', (size_t)(end - p))); p++) {
            Py_ssize_t k = p - s;
            if (k >= 1 && k + 1 < n && folded(s[k - 1]) == 'c' && folded(s[k + 1]) == 'i')
                h = 1; /* cri */
            else if (k >= 3 && folded(s[k - 3]) == 's' && folded(s[k - 2]) == 'c' &&
                     folded(s[k - 1]) == 'h')
                h = 1; /* schr */
            else if (k >= 1 && k + 3 < n && folded(s[k - 1]) == 'w' && folded(s[k + 1]) == 'o' &&
                     folded(s[k + 2]) == 't' && folded(s[k + 3]) == 'e')
                h = 1; /* wrote */
        }
    }
    *hint = h;
    *mark = m;
}

static int add(PyObject *set, Py_ssize_t index) {
    PyObject *number = PyLong_FromSsize_t(index);
    if (!number) return -1;
    int rc = PySet_Add(set, number);
    Py_DECREF(number);
    return rc;
}

/* Whether a ":" in the line can be a header block's From line: its first character after
 * the blanks (str.isspace's, which are re's \s) and one "*" is f, v or d in either case. */
static int may_start_from(int kind, const void *data, Py_ssize_t n) {
    Py_ssize_t k = 0;
    while (k < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, k))) k++;
    if (k < n && PyUnicode_READ(kind, data, k) == '*') k++;
    if (k >= n) return 0;
    Py_UCS4 c = PyUnicode_READ(kind, data, k);
    return c == 'f' || c == 'F' || c == 'v' || c == 'V' || c == 'd' || c == 'D';
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
        int kind = PyUnicode_KIND(line), colon = may_start_from(kind, data, n);
        switch (kind) { /* one loop per width: no width test per character */
        case PyUnicode_1BYTE_KIND:
            scan_latin1((const Py_UCS1 *)data, n, &hint, &mark, colon);
            break;
        case PyUnicode_2BYTE_KIND: scan_line(const Py_UCS2, data, n, &hint, &mark, colon); break;
        default: scan_line(const Py_UCS4, data, n, &hint, &mark, colon); break;
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

static PyObject *crlf_only(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *data = (const char *)view.buf, *end = data + view.len;
    int ok = 1;
    for (const char *at = data; ok && (at = memchr(at, '\n', (size_t)(end - at))); at++)
        ok = at > data && at[-1] == '\r';
    for (const char *at = data; ok && (at = memchr(at, '\r', (size_t)(end - at))); at++)
        ok = at + 1 < end && at[1] == '\n';
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

/* The length of the longest piece of the bytes-like `data` between CRLF pairs: the longest
 * item of data.split(b"\r\n"), the split taking CRLFs left to right (in "\r\r\n" the
 * second CR pairs with the LF). One memchr from LF to LF, where the split makes a bytearray
 * a line (57 us for the 18 KB reply, its 309 lines, in the DATA phase). */
static PyObject *longest_line(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *data = (const char *)view.buf, *end = data + view.len, *start = data;
    Py_ssize_t longest = 0;
    for (const char *at = data; (at = memchr(at, '\n', (size_t)(end - at))); at++) {
        if (at > start && at[-1] == '\r') {  /* a CR of an earlier CRLF is before `start` */
            if (at - 1 - start > longest) longest = at - 1 - start;
            start = at + 1;
        }
    }
    if (end - start > longest) longest = end - start;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(longest);
}

/* Offsets of the lines from `start` on that begin with "--" (a line begins at 0 or after
 * LF; a `start` inside a line skips the rest of it): one memchr a line, where bytes.find of
 * "\n--" reads ~1.5 cycles a byte (9 us on the 18 KB reply, before any MIME parse). */
static PyObject *dash_lines(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "y*n", &view, &start)) return NULL;
    const char *data = (const char *)view.buf;
    Py_ssize_t n = view.len;
    PyObject *out = NULL;
    if (start < 0 || start > n) {
        PyErr_SetString(PyExc_ValueError, "start lies outside the data");
        goto done;
    }
    out = PyList_New(0);
    if (!out) goto done;
    Py_ssize_t at = start;
    if (start > 0 && data[start - 1] != '\n') {
        const char *lf = memchr(data + start, '\n', (size_t)(n - start));
        at = lf ? lf - data + 1 : n;
    }
    while (at < n) {
        if (at + 1 < n && data[at] == '-' && data[at + 1] == '-') {
            PyObject *offset = PyLong_FromSsize_t(at);
            if (!offset || PyList_Append(out, offset) < 0) {
                Py_XDECREF(offset);
                Py_CLEAR(out);
                goto done;
            }
            Py_DECREF(offset);
        }
        const char *lf = memchr(data + at, '\n', (size_t)(n - at));
        if (!lf) break;
        at = lf - data + 1;
    }
done:
    PyBuffer_Release(&view);
    return out;
}

/* A buffer of the width and length of `text` for a result never longer than it, or NULL with
 * an exception set (`name` says which function refused a non-str). */
static void *same_width_buffer(PyObject *text, const char *name) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a str", name);
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    void *out = PyMem_Malloc((size_t)(n ? n : 1) * (size_t)PyUnicode_KIND(text));
    if (!out) PyErr_NoMemory();
    return out;
}

/* The characters of `text` past ASCII, in order, as one str (lone surrogates kept). */
static PyObject *non_ascii(PyObject *self, PyObject *text) {
    (void)self;
    if (PyUnicode_Check(text) && PyUnicode_IS_ASCII(text)) return PyUnicode_New(0, 0);
    void *out = same_width_buffer(text, "non_ascii");
    if (!out) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), count = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
#define KEEP(type)                                                                            \
    do {                                                                                      \
        const type *in = (const type *)data;                                                  \
        type *to = (type *)out;                                                               \
        for (Py_ssize_t i = 0; i < n; i++)                                                    \
            if (in[i] >= 0x80) to[count++] = in[i];                                           \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) KEEP(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) KEEP(Py_UCS2);
    else KEEP(Py_UCS4);
#undef KEEP
    PyObject *result = PyUnicode_FromKindAndData(kind, out, count);
    PyMem_Free(out);
    return result;
}

/* relay.textscan.tidy in one pass: tab, CR, FF, VT and no-break space read as spaces;
 * every line stripped (str.strip's whitespace) and its space runs squeezed to one; at most
 * one empty line in a row and none at either end. The result is never longer than the text,
 * so one buffer of the text's width holds it; one loop per width, as in non_ascii. */
static inline int is_space(Py_UCS4 c) {
    return c < 0x80 ? (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f))
                    : Py_UNICODE_ISSPACE(c);
}

static inline int is_blank(Py_UCS4 c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == 0xa0;
}

static PyObject *tidy(PyObject *self, PyObject *text) {
    (void)self;
    void *out = same_width_buffer(text, "tidy");
    if (!out) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), count = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
#define TIDY(type)                                                                            \
    do {                                                                                      \
        const type *in = (const type *)data;                                                  \
        type *to = (type *)out;                                                               \
        int lines = 0, last_empty = 0; /* lines kept; whether the last kept one is empty */   \
        Py_ssize_t start = 0;                                                                 \
        while (start <= n) {                                                                  \
            Py_ssize_t end = start;                                                           \
            while (end < n && in[end] != '\n') end++;                                         \
            Py_ssize_t first = start, last = end; /* the line without blanks at its ends */   \
            while (first < last && is_space(in[first])) first++;                              \
            while (last > first && is_space(in[last - 1])) last--;                            \
            if (first < last || (lines && !last_empty)) {                                     \
                if (lines) to[count++] = '\n';                                                \
                int blank = 0;                                                                \
                for (Py_ssize_t i = first; i < last; i++) {                                   \
                    type c = in[i];                                                           \
                    if (c > ' ' && c != 0xa0) {                                               \
                        to[count++] = c;                                                      \
                        blank = 0;                                                            \
                    } else if (is_blank(c)) {                                                 \
                        if (!blank) to[count++] = ' ';                                        \
                        blank = 1;                                                            \
                    } else {                                                                  \
                        to[count++] = c;                                                      \
                        blank = 0;                                                            \
                    }                                                                         \
                }                                                                             \
                last_empty = first == last;                                                   \
                lines++;                                                                      \
            }                                                                                 \
            start = end + 1;                                                                  \
        }                                                                                     \
        if (lines && last_empty) count--; /* the break before an empty last line */           \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) TIDY(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) TIDY(Py_UCS2);
    else TIDY(Py_UCS4);
#undef TIDY
    PyObject *result = PyUnicode_FromKindAndData(kind, out, count);
    PyMem_Free(out);
    return result;
}

/* may_hold_url(text) -> bool: whether text holds "://" or "ww." in any case of the w's,
 * one of which every URL match holds (relay.textscan._may_hold_url). Five str searches
 * took ~20 us on a 6 KB reply; this is one pass. */
static PyObject *may_hold_url(PyObject *self, PyObject *text) {
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "may_hold_url() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    /* (c | 0x20) == 'w' holds for "w" and "W" only. */
#define URL_HINT(type)                                                                        \
    do {                                                                                      \
        const type *in = (const type *)data;                                                  \
        for (Py_ssize_t i = 2; i < n; i++) {                                                  \
            if (in[i] == '/' && in[i - 1] == '/' && in[i - 2] == ':') Py_RETURN_TRUE;         \
            if (in[i] == '.' && (in[i - 1] | 0x20) == 'w' && (in[i - 2] | 0x20) == 'w')       \
                Py_RETURN_TRUE;                                                               \
        }                                                                                     \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) URL_HINT(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) URL_HINT(Py_UCS2);
    else URL_HINT(Py_UCS4);
#undef URL_HINT
    Py_RETURN_FALSE;
}

/* The piece text[a:b] stripped (str.strip's whitespace), or NULL with nothing to set when
 * it is empty; *failed is set with an exception. */
static PyObject *stripped(PyObject *text, int kind, const void *data, Py_ssize_t a, Py_ssize_t b,
                          int *failed) {
    while (a < b && is_space(PyUnicode_READ(kind, data, a))) a++;
    while (b > a && is_space(PyUnicode_READ(kind, data, b - 1))) b--;
    if (a == b) return NULL;
    PyObject *piece = PyUnicode_Substring(text, a, b);
    if (!piece) *failed = 1;
    return piece;
}

/* " ".join(sentence.split()) of a stripped sentence: its blank runs as one space each (the
 * sentence itself, with a new reference, when it has none to change). */
static PyObject *collapsed(PyObject *sentence) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(sentence);
    int kind = PyUnicode_KIND(sentence);
    const void *data = PyUnicode_DATA(sentence);
    int plain = 1;
    for (Py_ssize_t i = 0; plain && i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_space(c) && (c != ' ' || (i + 1 < n && is_space(PyUnicode_READ(kind, data, i + 1)))))
            plain = 0;
    }
    if (plain) return Py_NewRef(sentence);
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)n);
    if (!out) return PyErr_NoMemory();
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!is_space(c)) out[count++] = c;
        else if (count && out[count - 1] != ' ') out[count++] = ' ';
    }
    PyObject *key = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, count);
    PyMem_Free(out);
    return key;
}

/* relay.policy.analysis.own_sentences in C: for each (index, text), the sentences of every
 * line not seen before in any text (split after . ! or ? where blanks and more text
 * follow, stripped, empty ones left out), each kept once by its text with blank runs as
 * one space; [(index, sentence), ...] in order. */
static PyObject *sentences(PyObject *self, PyObject *parts) {
    (void)self;
    PyObject *seq = PySequence_Fast(parts, "sentences() takes a sequence of (index, text)");
    if (!seq) return NULL;
    PyObject *lines_seen = PySet_New(NULL), *keys_seen = PySet_New(NULL);
    PyObject *out = PyList_New(0);
    int failed = !lines_seen || !keys_seen || !out;
    for (Py_ssize_t p = 0; !failed && p < PySequence_Fast_GET_SIZE(seq); p++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, p);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "sentences() takes (index, str) pairs");
            failed = 1;
            break;
        }
        PyObject *index = PyTuple_GET_ITEM(item, 0), *text = PyTuple_GET_ITEM(item, 1);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        for (Py_ssize_t ls = 0; !failed && ls <= n;) {
            Py_ssize_t le = ls;
            while (le < n && PyUnicode_READ(kind, data, le) != '\n') le++;
            PyObject *line = PyUnicode_Substring(text, ls, le);
            int seen = line ? PySet_Contains(lines_seen, line) : -1;
            if (seen == 0) seen = PySet_Add(lines_seen, line) < 0 ? -1 : 0;
            Py_XDECREF(line);
            if (seen < 0) {
                failed = 1;
                break;
            }
            Py_ssize_t start = ls, i = ls;
            while (!seen && i <= le) {
                Py_ssize_t end = le, next = le + 1; /* the last piece, unless a break is found */
                for (; i < le; i++) {
                    Py_UCS4 c = PyUnicode_READ(kind, data, i);
                    if ((c == '.' || c == '!' || c == '?') && i + 1 < le &&
                        is_space(PyUnicode_READ(kind, data, i + 1))) {
                        Py_ssize_t j = i + 1;
                        while (j < le && is_space(PyUnicode_READ(kind, data, j))) j++;
                        if (j < le) { /* [.!?]\s+(?=\S) */
                            end = i + 1;
                            next = j;
                            break;
                        }
                        i = le; /* blanks to the end of the line: no break in it */
                        break;
                    }
                }
                PyObject *piece = stripped(text, kind, data, start, end, &failed);
                if (piece) {
                    PyObject *key = collapsed(piece);
                    int known = key ? PySet_Contains(keys_seen, key) : -1;
                    if (known == 0) {
                        PyObject *pair = PyTuple_Pack(2, index, piece);
                        if (PySet_Add(keys_seen, key) < 0 || !pair || PyList_Append(out, pair) < 0)
                            known = -1;
                        Py_XDECREF(pair);
                    }
                    Py_XDECREF(key);
                    Py_DECREF(piece);
                    if (known < 0) failed = 1;
                }
                if (failed || next > le) break;
                start = i = next;
            }
            ls = le + 1;
        }
    }
    Py_DECREF(seq);
    Py_XDECREF(lines_seen);
    Py_XDECREF(keys_seen);
    if (failed) Py_CLEAR(out);
    return out;
}

/* The most line breaks in a row, with only spaces, tabs and no-break spaces between them
 * (1 when no two are): what max(run.count("\n") for run in re.findall(r"\n(?:[ \t\u00a0]*\n)+",
 * text)) gives, default 1, in one pass instead of a pattern tried at every line break. */
static PyObject *break_run(PyObject *self, PyObject *text) {
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "break_run() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), most = 1;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    /* One loop a character width: PyUnicode_READ's test of the width at every character
     * was most of the ~20 us this took on the 18 KB reply's HTML text. */
#define BREAK_RUN(type)                                                                       \
    do {                                                                                      \
        const type *in = (const type *)data;                                                  \
        for (Py_ssize_t i = 0; i < n; i++) {                                                  \
            if (in[i] != '\n') continue;                                                      \
            Py_ssize_t run = 1, j = i + 1;                                                    \
            for (;;) { /* one more break after blanks, or the run ends at its last break */   \
                Py_ssize_t k = j;                                                             \
                while (k < n && (in[k] == ' ' || in[k] == '\t' || in[k] == 0xa0)) k++;        \
                if (k < n && in[k] == '\n') {                                                 \
                    run++;                                                                    \
                    i = k; /* the next run starts after this one's last break */              \
                    j = k + 1;                                                                \
                } else {                                                                      \
                    break;                                                                    \
                }                                                                             \
            }                                                                                 \
            if (run > most) most = run;                                                       \
        }                                                                                     \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) BREAK_RUN(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) BREAK_RUN(Py_UCS2);
    else BREAK_RUN(Py_UCS4);
#undef BREAK_RUN
    return PyLong_FromSsize_t(most);
}

static inline int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* binascii.a2b_qp(data, header=False), case for case: "=" with a line end after it is a
 * soft break (after "=\r" everything to the next LF goes too), "==" is one "=", "=" with
 * two hex digits is that byte, a trailing "=" is dropped and any other "=" stays as it is,
 * the byte after it read again. */
static PyObject *qp_decode(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *in = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len, i = 0, o = 0;
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (!result) {
        PyBuffer_Release(&view);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    while (i < n) {
        const unsigned char *eq = memchr(in + i, '=', (size_t)(n - i));
        Py_ssize_t run = (eq ? (Py_ssize_t)(eq - in) : n) - i;
        memcpy(out + o, in + i, (size_t)run);
        o += run;
        i += run;
        if (!eq) break;
        if (++i >= n) break; /* a trailing "=" */
        unsigned char c = in[i];
        int high, low;
        if (c == '\n' || c == '\r') {
            while (i < n && in[i] != '\n') i++;
            if (i < n) i++;
        } else if (c == '=') {
            out[o++] = '=';
            i++;
        } else if (i + 1 < n && (high = hex_value(c)) >= 0 && (low = hex_value(in[i + 1])) >= 0) {
            out[o++] = (unsigned char)(high << 4 | low);
            i += 2;
        } else {
            out[o++] = '=';
        }
    }
    PyBuffer_Release(&view);
    if (o != n && _PyBytes_Resize(&result, o) < 0) return NULL;
    return result;
}

static PyMethodDef methods[] = {
    {"marks", marks, METH_O,
     "marks(lines) -> (hinted, marked): the indices of the lines holding an attribution word, "
     "and of those holding ':', '--' or '__'"},
    {"non_ascii", non_ascii, METH_O,
     "non_ascii(text) -> str: the characters of text past ASCII, in order"},
    {"tidy", tidy, METH_O,
     "tidy(text) -> str: every line stripped and its space runs squeezed, at most one "
     "empty line in a row, none at the ends"},
    {"may_hold_url", may_hold_url, METH_O,
     "may_hold_url(text) -> bool: whether text holds '://' or 'ww.' in any case"},
    {"break_run", break_run, METH_O,
     "The most line breaks in a row with only blanks between them (1 when no two are)."},
    {"sentences", sentences, METH_O,
     "The sentences of each text's lines not seen before, each kept once."},
    {"dash_lines", dash_lines, METH_VARARGS,
     "Offsets of the lines from start on that begin with two hyphens."},
    {"crlf_only", crlf_only, METH_O,
     "crlf_only(data) -> bool: every CR and LF in the bytes is part of a CRLF pair"},
    {"qp_decode", qp_decode, METH_O,
     "qp_decode(data) -> bytes: binascii.a2b_qp(data), the runs between escapes copied whole"},
    {"longest_line", longest_line, METH_O,
     "longest_line(data) -> int: the length of the longest piece between CRLF pairs"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_linemarks", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__linemarks(void) { return PyModule_Create(&module); }
