/*
 * A C prefilter for XPath expressions over an lxml tree (see pipeline/xpath_subset.py).
 *
 * scan(root, tags, pairs) walks the element descendants of `root` (not `root` itself) in
 * document order, as XPath's `.//*` does, and returns the lxml elements that
 *   - are named one of `tags` with no namespace (tags=None: any element), and
 *   - have, for one of `pairs` (name, literal), an attribute `name` with no namespace whose
 *     value contains `literal` (b"" for any value); pairs=None: no attribute test.
 * An attribute whose value is not a single text node (never seen from lxml's HTML parser)
 * counts as a match: the caller's exact test decides.
 *
 * It reads libxml2's public node structs and makes element proxies with lxml's public C API:
 * the headers are lxml's own (lxml.get_include(), a build requirement in pyproject.toml).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "lxml-version.h"
#include "etree_defs.h"
#include "lxml.etree_api.h"

#define MAX_TAGS 32

static PyTypeObject *element_type;  /* lxml.etree._Element */
#define MAX_PAIRS 256

typedef struct {
    const char *name;
    const char *literal;
    int any;  /* empty literal: the attribute's presence is enough */
} Pair;

static int in_tags(const xmlNode *node, const char **tags, Py_ssize_t ntags) {
    if (ntags < 0)
        return 1;
    if (node->ns != NULL)
        return 0;
    for (Py_ssize_t i = 0; i < ntags; i++)
        if (strcmp((const char *)node->name, tags[i]) == 0)
            return 1;
    return 0;
}

static int attrs_match(const xmlNode *node, const Pair *pairs, Py_ssize_t npairs) {
    if (npairs < 0)
        return 1;
    for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next) {
        if (attr->ns != NULL)
            continue;
        const char *name = (const char *)attr->name;
        const char *value = NULL;
        int plain = 1;
        if (attr->children == NULL)
            value = "";
        else if (attr->children->next == NULL && attr->children->type == XML_TEXT_NODE)
            value = attr->children->content ? (const char *)attr->children->content : "";
        else
            plain = 0;
        for (Py_ssize_t i = 0; i < npairs; i++) {
            if (strcmp(name, pairs[i].name) != 0)
                continue;
            if (!plain || pairs[i].any || strstr(value, pairs[i].literal) != NULL)
                return 1;
        }
    }
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *root, *tags_obj, *pairs_obj;
    if (!PyArg_ParseTuple(args, "OOO", &root, &tags_obj, &pairs_obj))
        return NULL;
    if (!PyObject_TypeCheck(root, element_type)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs an lxml element");
        return NULL;
    }
    const char *tags[MAX_TAGS];
    Pair pairs[MAX_PAIRS];
    Py_ssize_t ntags = -1, npairs = -1;
    if (tags_obj != Py_None) {
        if (!PyTuple_Check(tags_obj) || PyTuple_GET_SIZE(tags_obj) > MAX_TAGS) {
            PyErr_SetString(PyExc_TypeError, "tags: a tuple of at most 32 bytes, or None");
            return NULL;
        }
        ntags = PyTuple_GET_SIZE(tags_obj);
        for (Py_ssize_t i = 0; i < ntags; i++) {
            PyObject *tag = PyTuple_GET_ITEM(tags_obj, i);
            if (!PyBytes_Check(tag)) {
                PyErr_SetString(PyExc_TypeError, "tags must be bytes");
                return NULL;
            }
            tags[i] = PyBytes_AS_STRING(tag);
        }
    }
    if (pairs_obj != Py_None) {
        if (!PyTuple_Check(pairs_obj) || PyTuple_GET_SIZE(pairs_obj) > MAX_PAIRS) {
            PyErr_SetString(PyExc_TypeError, "pairs: a tuple of at most 256 pairs, or None");
            return NULL;
        }
        npairs = PyTuple_GET_SIZE(pairs_obj);
        for (Py_ssize_t i = 0; i < npairs; i++) {
            PyObject *pair = PyTuple_GET_ITEM(pairs_obj, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
                !PyBytes_Check(PyTuple_GET_ITEM(pair, 0)) ||
                !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
                PyErr_SetString(PyExc_TypeError, "a pair is (bytes name, bytes literal)");
                return NULL;
            }
            pairs[i].name = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 0));
            pairs[i].literal = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1));
            pairs[i].any = PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 1)) == 0;
        }
    }
    struct LxmlElement *element = (struct LxmlElement *)root;
    xmlNode *top = element->_c_node;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    if (top == NULL)
        return out;
    /* pre-order walk of the element descendants of `top` */
    xmlNode *node = top->children;
    while (node != NULL && node != top) {
        if (node->type == XML_ELEMENT_NODE) {
            if (in_tags(node, tags, ntags) && attrs_match(node, pairs, npairs)) {
                PyObject *proxy = (PyObject *)elementFactory(element->_doc, node);
                if (proxy == NULL || PyList_Append(out, proxy) < 0) {
                    Py_XDECREF(proxy);
                    Py_DECREF(out);
                    return NULL;
                }
                Py_DECREF(proxy);
            }
            if (node->children != NULL) {
                node = node->children;
                continue;
            }
        }
        while (node != top && node->next == NULL)
            node = node->parent;
        if (node == top)
            break;
        node = node->next;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(root, tags, pairs) -> the element descendants of root, in document order, named one"
     " of tags (None: any) with an attribute of one of pairs (name, literal) containing its"
     " literal (None: no attribute test)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_treescan", "A C prefilter for XPath over lxml trees.", -1, methods,
};

PyMODINIT_FUNC PyInit__treescan(void) {
    if (import_lxml__etree() < 0)
        return NULL;
    PyObject *etree = PyImport_ImportModule("lxml.etree");
    if (etree == NULL)
        return NULL;
    element_type = (PyTypeObject *)PyObject_GetAttrString(etree, "_Element");
    Py_DECREF(etree);
    if (element_type == NULL)
        return NULL;
    if (!PyType_Check(element_type)) {
        PyErr_SetString(PyExc_ImportError, "lxml.etree._Element is not a type");
        return NULL;
    }
    return PyModule_Create(&module);
}
