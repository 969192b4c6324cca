/* The element loop of relay.htmlwalk.Walk.run, in C, over the tree lxml parsed.
 *
 * The Python walk spends ~2.5 us an element (lxml's iterwalk, the memo look-up, the text
 * rendering): 0.2 ms for an 18 KB helpdesk reply, a tenth of its inspection. This loop
 * reads libxml2's nodes directly and does the rendering and bookkeeping itself; Python
 * still decides what an element's tag and attributes mean (htmlelements.element_facts,
 * memoised) and handles the few elements that are links, images, <style> blocks or active
 * content (Walk._enter), so all the rules about HTML stay in one place.
 *
 * walk(root, memo, raw_memo, remember, enter, styles)
 *   root: an lxml.etree element; memo: dict (tag, ((name, value), ...)) -> facts;
 *   raw_memo: dict, this loop's own memo (bytes keys, bounded); remember(key, tag, items)
 *   -> facts, for keys not in memo; enter(index, facts, quoted,
 *   hidden, link, new_offset, own_offset) -> (opened, link) for elements whose facts.flags
 *   has SPECIAL (index: the element's position in root.iter()); styles: a list that every
 *   element's facts.styles is appended to.
 *   Returns (new_text, quoted_text, elements, depth, link_ends), link_ends a list of
 *   (link index, end offset); or None when the tree holds something this loop does not
 *   read (entity references, namespaced names, attribute values made of several nodes,
 *   bytes that are not UTF-8): the Python walk then runs instead.
 *
 * The node layouts below mirror libxml2's struct _xmlNode and struct _xmlAttr (tree.h),
 * whose leading fields have kept their layout since libxml2 2.0; lxml's _Element holds the
 * node after the object header and its document. tests/unit/test_html_golden.py compares
 * this loop with the Python one on generated documents.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

typedef struct xnode {
    void *private_;
    int type;
    const unsigned char *name;
    struct xnode *children, *last, *parent, *next, *prev;
    void *doc;
    void *ns;
    unsigned char *content;
    struct xattr *properties;
} xnode;

typedef struct xattr {
    void *private_;
    int type;
    const unsigned char *name;
    xnode *children, *last, *parent;
    struct xattr *next, *prev;
    void *doc;
    void *ns;
} xattr;

typedef struct {
    PyObject_HEAD
    PyObject *doc;
    xnode *node;
    PyObject *tag;
} lxml_element;

enum { ELEMENT = 1, ATTRIBUTE = 2, TEXT = 3, CDATA = 4, ENTITY_REF = 5, PI = 7, COMMENT = 8,
       XINCLUDE_START = 19, XINCLUDE_END = 20 };
/* facts.flags, as relay.htmlelements.ElementFacts computes them */
enum { RAW_MEMO_LIMIT = 4096 }; /* distinct raw keys kept, as htmlwalk's memo */
enum { QUOTE = 1, HIDDEN = 2, SKIP = 4, BLOCK = 8, BR = 16, SPECIAL = 32, STYLES = 64 };

static PyObject *s_flags, *s_styles;
static PyTypeObject *element_type, *document_type;

typedef struct {
    Py_UCS4 *data;
    Py_ssize_t len, cap;
    int line_start;
} buffer;

typedef struct {
    int quoted, hidden, skip;
    Py_ssize_t link;
} context;

typedef struct {
    xnode *node, *cursor; /* the element; the child last visited (NULL: none yet) */
    context outer;        /* the enclosing context */
    int quoted, is_block;
    Py_ssize_t opened;
} frame;

typedef struct {
    buffer out[2]; /* new text, quoted text */
    Py_UCS4 *piece;
    Py_ssize_t piece_cap;
    Py_ssize_t elements, depth, index;
    PyObject *memo, *raw_memo, *remember, *enter, *styles, *ends;
    int unreadable; /* the tree holds what this loop does not read */
} walker;

static int grow(Py_UCS4 **data, Py_ssize_t *cap, Py_ssize_t need) {
    if (need <= *cap) return 0;
    Py_ssize_t size = *cap ? *cap : 256;
    while (size < need) size *= 2;
    Py_UCS4 *bigger = (Py_UCS4 *)realloc(*data, sizeof(Py_UCS4) * size);
    if (!bigger) { PyErr_NoMemory(); return -1; }
    *data = bigger;
    *cap = size;
    return 0;
}

/* Decode UTF-8 `s` onto the end of w->piece (at *len); 0, or 1 when it is not UTF-8. */
static int decode(walker *w, const unsigned char *s, Py_ssize_t *len) {
    Py_ssize_t n = (Py_ssize_t)strlen((const char *)s);
    if (grow(&w->piece, &w->piece_cap, *len + n) < 0) return -1;
    Py_UCS4 *out = w->piece + *len;
    for (Py_ssize_t i = 0; i < n;) {
        unsigned char c = s[i];
        Py_UCS4 ch;
        int extra;
        if (c < 0x80) { *out++ = c; i++; continue; }
        if ((c & 0xE0) == 0xC0) { ch = c & 0x1F; extra = 1; }
        else if ((c & 0xF0) == 0xE0) { ch = c & 0x0F; extra = 2; }
        else if ((c & 0xF8) == 0xF0) { ch = c & 0x07; extra = 3; }
        else return 1;
        for (int k = 1; k <= extra; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80) return 1;
            ch = (ch << 6) | (s[i + k] & 0x3F);
        }
        static const Py_UCS4 least[4] = {0, 0x80, 0x800, 0x10000};
        if (ch < least[extra] || ch > 0x10FFFF || (ch >= 0xD800 && ch <= 0xDFFF)) return 1;
        *out++ = ch;
        i += extra + 1;
    }
    *len = out - w->piece;
    return 0;
}

/* The text of the text nodes from `node` on (lxml's .text and .tail) into w->piece;
 * returns its length, or -1 (error), -2 (not UTF-8). */
static Py_ssize_t collect(walker *w, xnode *node) {
    Py_ssize_t len = 0;
    for (; node; node = node->next) {
        if (node->type == TEXT || node->type == CDATA) {
            if (node->content) {
                int rc = decode(w, node->content, &len);
                if (rc) return rc < 0 ? -1 : -2;
            }
        } else if (node->type != XINCLUDE_START && node->type != XINCLUDE_END) {
            break;
        }
    }
    return len;
}

static inline int html_blank(Py_UCS4 c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Walk.text: runs of HTML whitespace, line breaks included, are one space. */
static int emit(walker *w, Py_ssize_t len, int quoted) {
    buffer *b = &w->out[quoted];
    if (grow(&b->data, &b->cap, b->len + len) < 0) return -1;
    Py_ssize_t start = b->len;
    int blank = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = w->piece[i];
        if (html_blank(c)) {
            if (!blank) b->data[b->len++] = ' ';
            blank = 1;
        } else {
            b->data[b->len++] = c;
            blank = 0;
        }
    }
    if (!(b->len - start == 1 && b->data[start] == ' ')) b->line_start = 0;
    return 0;
}

static int newline(walker *w, int quoted) {
    buffer *b = &w->out[quoted];
    if (grow(&b->data, &b->cap, b->len + 1) < 0) return -1;
    b->data[b->len++] = '\n';
    b->line_start = 1;
    return 0;
}

static int block_edge(walker *w, int quoted) {
    return w->out[quoted].line_start ? 0 : newline(w, quoted);
}

/* Text from `node` on, shown unless skipped; 0, -1 (error) or 1 (unreadable). */
static int text_from(walker *w, xnode *node, int quoted) {
    Py_ssize_t len = collect(w, node);
    if (len == -2) return 1;
    if (len < 0) return -1;
    return len ? emit(w, len, quoted) : 0;
}

static PyObject *utf8(const unsigned char *s) {
    return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)strlen((const char *)s), NULL);
}

/* (tag, ((name, value), ...)) for an element; NULL with no error set when unreadable. */
static PyObject *element_key(xnode *node, PyObject **tag_out, PyObject **items_out) {
    if (node->ns || !node->name) return NULL;
    Py_ssize_t count = 0;
    for (xattr *a = node->properties; a; a = a->next)
        if (a->type == ATTRIBUTE) count++;
    PyObject *tag = utf8(node->name);
    PyObject *items = tag ? PyTuple_New(count) : NULL;
    if (!items) goto fail;
    Py_ssize_t i = 0;
    for (xattr *a = node->properties; a; a = a->next) {
        if (a->type != ATTRIBUTE) continue;
        xnode *v = a->children;
        if (a->ns || !a->name || (v && (v->next || (v->type != TEXT && v->type != CDATA))))
            goto unreadable;
        PyObject *name = utf8(a->name);
        PyObject *value = name ? (v && v->content ? utf8(v->content)
                                                  : PyUnicode_FromStringAndSize("", 0))
                               : NULL;
        PyObject *pair = value ? PyTuple_Pack(2, name, value) : NULL;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (!pair) goto fail;
        PyTuple_SET_ITEM(items, i++, pair);
    }
    PyObject *key = PyTuple_Pack(2, tag, items);
    if (!key) goto fail;
    *tag_out = tag;
    *items_out = items;
    return key;
unreadable:
    Py_XDECREF(tag);
    Py_XDECREF(items);
    return NULL;
fail:
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
    Py_XDECREF(tag);
    Py_XDECREF(items);
    return NULL;
}

/* The element's tag and attributes as one bytes object, NUL-separated (libxml2's strings
 * hold no NUL): a key that costs one copy and one hash, where the (tag, items) key costs a
 * str per name and value. NULL with no error set for what element_key would not read. */
static PyObject *raw_key(xnode *node) {
    if (node->ns || !node->name) return NULL;
    size_t size = strlen((const char *)node->name) + 1;
    for (xattr *a = node->properties; a; a = a->next) {
        if (a->type != ATTRIBUTE) continue;
        xnode *v = a->children;
        if (a->ns || !a->name || (v && (v->next || (v->type != TEXT && v->type != CDATA))))
            return NULL;
        size += strlen((const char *)a->name) + 1;
        if (v && v->content) size += strlen((const char *)v->content);
        size += 1;
    }
    PyObject *key = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!key) return NULL;
    char *out = PyBytes_AS_STRING(key);
    size_t n = strlen((const char *)node->name);
    memcpy(out, node->name, n);
    out += n;
    *out++ = 0;
    for (xattr *a = node->properties; a; a = a->next) {
        if (a->type != ATTRIBUTE) continue;
        n = strlen((const char *)a->name);
        memcpy(out, a->name, n);
        out += n;
        *out++ = 0;
        if (a->children && a->children->content) {
            n = strlen((const char *)a->children->content);
            memcpy(out, a->children->content, n);
            out += n;
        }
        *out++ = 0;
    }
    return key;
}

/* The facts of an element: from the raw-key memo, else from (tag, items) as Python keys
 * them (remembered under both). A new reference; NULL with no error set: unreadable. */
static PyObject *facts_of(walker *w, xnode *node) {
    PyObject *raw = raw_key(node);
    if (!raw) return NULL;
    PyObject *facts = PyDict_GetItemWithError(w->raw_memo, raw);
    if (facts) {
        Py_DECREF(raw);
        return Py_NewRef(facts);
    }
    PyObject *tag = NULL, *items = NULL;
    PyObject *key = PyErr_Occurred() ? NULL : element_key(node, &tag, &items);
    if (key) {
        facts = PyDict_GetItemWithError(w->memo, key);
        if (facts) Py_INCREF(facts);
        else if (!PyErr_Occurred())
            facts = PyObject_CallFunctionObjArgs(w->remember, key, tag, items, NULL);
        if (facts && PyDict_GET_SIZE(w->raw_memo) >= RAW_MEMO_LIMIT) PyDict_Clear(w->raw_memo);
        if (facts && PyDict_SetItem(w->raw_memo, raw, facts) < 0) Py_CLEAR(facts);
    }
    Py_DECREF(raw);
    Py_XDECREF(key);
    Py_XDECREF(tag);
    Py_XDECREF(items);
    return facts;
}

/* The start of an element: Walk.run's "start" branch. 0, -1 (error), 1 (unreadable). */
static int start(walker *w, xnode *node, context *ctx, frame *f) {
    PyObject *facts = NULL, *flag = NULL;
    int rc = -1;
    if (!(facts = facts_of(w, node))) return PyErr_Occurred() ? -1 : 1;
    if (!(flag = PyObject_GetAttr(facts, s_flags))) goto done;
    long flags = PyLong_AsLong(flag);
    if (flags == -1 && PyErr_Occurred()) goto done;
    int quoted = ctx->quoted || (flags & QUOTE), hidden = ctx->hidden || (flags & HIDDEN);
    if (flags & STYLES) {
        PyObject *styles = PyObject_GetAttr(facts, s_styles);
        if (!styles) goto done;
        int r = PyList_SetSlice(w->styles, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, styles);
        Py_DECREF(styles);
        if (r < 0) goto done;
    }
    Py_ssize_t opened = -1, link = ctx->link;
    if (flags & SPECIAL) {
        PyObject *r = PyObject_CallFunction(w->enter, "nOOOnnn", w->index, facts,
                                            quoted ? Py_True : Py_False,
                                            hidden ? Py_True : Py_False, link, w->out[0].len,
                                            w->out[quoted].len);
        if (!r) goto done;
        int ok = PyArg_ParseTuple(r, "nn", &opened, &link);
        Py_DECREF(r);
        if (!ok) goto done;
    }
    int skip = ctx->skip;
    if (flags & SKIP) skip = 1;
    else if (!skip) {
        if (flags & BLOCK) { if (block_edge(w, quoted) < 0) goto done; }
        else if (flags & BR) { if (newline(w, quoted) < 0) goto done; }
    }
    f->node = node;
    f->cursor = NULL;
    f->outer = *ctx;
    f->quoted = quoted;
    f->is_block = (flags & BLOCK) != 0;
    f->opened = opened;
    ctx->quoted = quoted;
    ctx->hidden = hidden;
    ctx->skip = skip;
    ctx->link = link;
    rc = skip ? 0 : text_from(w, node->children, quoted);
done:
    Py_XDECREF(facts);
    Py_XDECREF(flag);
    return rc;
}

/* The end of an element: Walk.run's "end" branch. */
static int end(walker *w, frame *f, context *ctx) {
    if (f->opened >= 0) {
        PyObject *pair = Py_BuildValue("(nn)", f->opened, w->out[f->quoted].len);
        if (!pair) return -1;
        int rc = PyList_Append(w->ends, pair);
        Py_DECREF(pair);
        if (rc < 0) return -1;
    }
    *ctx = f->outer;
    if (f->outer.skip) return 0;
    if (f->is_block && block_edge(w, f->quoted) < 0) return -1;
    return text_from(w, f->node->next, f->quoted);
}

static int run(walker *w, xnode *root) {
    Py_ssize_t cap = 64, top = 0;
    frame *stack = (frame *)malloc(sizeof(frame) * cap);
    if (!stack) { PyErr_NoMemory(); return -1; }
    context ctx = {0, 0, 0, -1};
    int rc;
    w->elements = 1;
    w->depth = 1;
    if ((rc = start(w, root, &ctx, &stack[0])) != 0) goto done;
    w->index = 1;
    top = 1;
    while (top > 0) {
        frame *f = &stack[top - 1];
        xnode *child = f->cursor ? f->cursor->next : f->node->children;
        while (child && (child->type == TEXT || child->type == CDATA ||
                         child->type == XINCLUDE_START || child->type == XINCLUDE_END))
            child = child->next;
        if (!child) {
            if ((rc = end(w, f, &ctx)) != 0) goto done;
            top--;
            continue;
        }
        f->cursor = child;
        if (child->type == COMMENT || child->type == PI) {
            w->index++;
            if (!ctx.skip && (rc = text_from(w, child->next, ctx.quoted)) != 0) goto done;
            continue;
        }
        if (child->type != ELEMENT) { rc = 1; goto done; }
        if (top == cap) {
            frame *bigger = (frame *)realloc(stack, sizeof(frame) * cap * 2);
            if (!bigger) { PyErr_NoMemory(); rc = -1; goto done; }
            stack = bigger;
            cap *= 2;
        }
        w->elements++;
        if (top >= w->depth) w->depth = top + 1;
        if ((rc = start(w, child, &ctx, &stack[top])) != 0) goto done;
        w->index++;
        top++;
    }
    rc = 0;
done:
    free(stack);
    return rc;
}

static PyObject *walk(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *root;
    walker w;
    memset(&w, 0, sizeof(w));
    if (!PyArg_ParseTuple(args, "O!O!O!OOO!", element_type, &root, &PyDict_Type, &w.memo,
                          &PyDict_Type, &w.raw_memo, &w.remember, &w.enter, &PyList_Type,
                          &w.styles))
        return NULL;
    /* A guard on the mirrored layout: an lxml whose _Element changed shape would not hold
     * its _Document right after the object header. */
    lxml_element *element = (lxml_element *)root;
    if (!element->doc || Py_TYPE(element->doc) != document_type) Py_RETURN_NONE;
    xnode *node = element->node;
    if (!node || node->type != ELEMENT) Py_RETURN_NONE;
    w.out[0].line_start = w.out[1].line_start = 1;
    PyObject *result = NULL;
    if (!(w.ends = PyList_New(0))) return NULL;
    int rc = run(&w, node);
    if (rc == 0) {
        PyObject *fresh = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, w.out[0].data,
                                                    w.out[0].len);
        PyObject *quoted = fresh ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND,
                                                             w.out[1].data, w.out[1].len)
                                 : NULL;
        if (quoted)
            result = Py_BuildValue("(OOnnO)", fresh, quoted, w.elements, w.depth, w.ends);
        Py_XDECREF(fresh);
        Py_XDECREF(quoted);
    } else if (rc == 1) {
        result = Py_NewRef(Py_None);
    }
    Py_DECREF(w.ends);
    free(w.out[0].data);
    free(w.out[1].data);
    free(w.piece);
    return result;
}

/* What root.iter() yields without a tag: the root and every element, comment, processing
 * instruction and entity reference below it, depth first; lxml descends into elements
 * only. -1 when the layout guard fails (the caller counts in Python then). */
static PyObject *count(PyObject *self, PyObject *root) {
    (void)self;
    if (!PyObject_TypeCheck(root, element_type)) {
        PyErr_SetString(PyExc_TypeError, "count() needs an lxml.etree element");
        return NULL;
    }
    lxml_element *element = (lxml_element *)root;
    if (!element->doc || Py_TYPE(element->doc) != document_type) return PyLong_FromLong(-1);
    xnode *top = element->node;
    if (!top || top->type != ELEMENT) return PyLong_FromLong(-1);
    Py_ssize_t n = 1;
    xnode *node = top->children;
    while (node && node != top) {
        if (node->type == ELEMENT || node->type == ENTITY_REF || node->type == PI ||
            node->type == COMMENT)
            n++;
        if (node->type == ELEMENT && node->children) {
            node = node->children;
            continue;
        }
        while (node != top && !node->next) node = node->parent;
        if (node != top) node = node->next;
    }
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"count", count, METH_O,
     "count(root) -> int: len(list(root.iter())) read from libxml2's nodes, or -1"},
    {"walk", walk, METH_VARARGS,
     "walk(root, memo, raw_memo, remember, enter, styles) -> (new_text, quoted_text, "
     "elements, depth, link_ends) or None: relay.htmlwalk.Walk.run over libxml2's nodes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_htmlwalk", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__htmlwalk(void) {
    if (!(s_flags = PyUnicode_InternFromString("flags"))) return NULL;
    if (!(s_styles = PyUnicode_InternFromString("styles"))) return NULL;
    PyObject *etree = PyImport_ImportModule("lxml.etree");
    if (!etree) return NULL;
    element_type = (PyTypeObject *)PyObject_GetAttrString(etree, "_Element");
    document_type = (PyTypeObject *)PyObject_GetAttrString(etree, "_Document");
    Py_DECREF(etree);
    if (!element_type || !document_type) return NULL;
    if (!PyType_Check(element_type) || !PyType_Check(document_type)) {
        PyErr_SetString(PyExc_ImportError, "lxml.etree._Element or _Document is not a type");
        return NULL;
    }
    return PyModule_Create(&module);
}
