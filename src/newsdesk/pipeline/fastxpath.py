"""trafilatura's section XPaths, evaluated by a C prefilter and an exact test in Python.

trafilatura finds and prunes a page's sections with XPath expressions that test ids and classes
(``.//*[self::div or self::section][re:test(@class, 'footer|nav|...') or ...]``). libxml2 has no
regular expressions, so lxml calls back into Python for every ``re:test`` of every candidate
element, and libxml2's evaluator itself allocates a string for each attribute test: on the first
600 of bench/ingest.py's pages these expressions took ~7 of ~24 ms a page of extraction. Each page
extracted both ways in turn: the same results on all 1,662, 36.5 -> 28.1 ms a page (-23%).

A :class:`FastXPath` answers the same expression in two steps:

1. ``_treescan.scan`` (C) walks the tree once and keeps the elements with a wanted tag and an
   attribute holding one of the literals that any match needs: every string ``re:test`` can
   match contains one of its regex's literals (derived from Python's own regex parse, see
   :func:`necessary_literals`); ``contains``, ``starts-with`` and ``=`` name theirs.
2. The whole predicate, compiled to Python from the expression, decides for those candidates
   with XPath 1.0's semantics (an attribute union's string is its first attribute in document
   order, as lxml's ``re:test`` reads it).

Only a small subset of XPath is understood: ``.//*`` or ``.//name`` with predicates made of
``or``, ``and``, ``not()``, ``self::name``, ``.//name``, attributes and unions of them, string
literals, ``=``, ``contains``, ``starts-with``, ``translate`` and ``re:test``, optionally with a
trailing ``[1]`` or as ``(...)[1]``. Anything else keeps the original XPath.
tests/pipeline/test_fastxpath.py checks that each expression selects the same nodes, in the
same order, as libxml2 does, on recorded pages and on invented edge cases.

``fast_xpaths`` swaps trafilatura's module-level expressions for these while newsdesk extracts
(see swap.py): bare trafilatura in the same process keeps its own.

Why hand-written: no library evaluates XPath with regex callbacks faster; lxml's own
``iter``/``get`` in Python costs as much as the XPath it would replace.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from lxml.etree import XPath, _Element
from trafilatura import core, external, main_extractor, metadata

from newsdesk.pipeline import _treescan
from newsdesk.pipeline.swap import Swap

__all__ = ["FastXPath", "compile_xpath", "fast_xpaths", "necessary_literals"]

# ----------------------------------------------------------------------------- regex literals

Literals = frozenset[str] | None  # None: no literal is necessary (anything may match)


def necessary_literals(pattern: str, flags: int = 0) -> Literals:
    """A set of strings one of which every match of ``pattern`` contains, or None."""
    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _of_sequence(list(parsed))
    return _minimal(found) if found else None


def _of_sequence(items: list[tuple[Any, Any]]) -> Literals:
    """Every mandatory item of a sequence is necessary: pick the most selective one (a run of
    literals, or a group or branch whose every alternative has its literals)."""
    options: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(frozenset(["".join(run)]))
            run.clear()

    for op, av in items:
        if op is sre_c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is sre_c.BRANCH:
            found = _of_branches(av[1])
        elif op is sre_c.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            found = None if add_flags & re.IGNORECASE else _of_sequence(list(sub))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            low, _high, sub = av
            found = _of_sequence(list(sub)) if low >= 1 else None
        else:  # a class, an anchor, a lookaround, a backreference: nothing to require
            found = None
        if found:
            options.append(found)
    flush()
    if not options:
        return None
    # the fewest alternatives, then the longest shortest literal: fewer, rarer tests
    return min(options, key=lambda lits: (len(lits), -min(map(len, lits))))


def _of_branches(branches: list[Any]) -> Literals:
    found: set[str] = set()
    for branch in branches:
        lits = _of_sequence(list(branch))
        if not lits:
            return None  # an alternative that requires nothing
        found |= lits
    return frozenset(found)


def _minimal(lits: frozenset[str]) -> frozenset[str]:
    """Drop a literal that contains another: the shorter one is found wherever it is."""
    return frozenset(a for a in lits if not any(b != a and b in a for b in lits))


# ----------------------------------------------------------------------------- parsing


class Unsupported(ValueError):
    """The expression uses XPath this module does not evaluate: keep libxml2's."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>\d+)|(?P<op>!=|[()\[\],|=])"
    r"|(?P<path>\.//(?:\*|[\w-]+)|self::[\w-]+|@[\w-]+)|(?P<name>[\w-]+(?::[\w-]+)?))"
)

# AST: ("or", [..]) ("and", [..]) ("not", x) ("attrs", names) ("self", tag) ("desc", tag)
# ("str", s) ("call", name, [args]) ("eq", attrs, s)
Node = tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m[kind]))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return (value is None or v == value) and (kind is None or k == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        if not self.peek(value, kind):
            raise Unsupported(f"expected {value or kind} at token {self.i}")
        self.i += 1
        return self.toks[self.i - 1][1]

    def done(self) -> bool:
        return self.i >= len(self.toks)

    # expression := and ("or" and)* ; and := eq ("and" eq)*
    def expr(self) -> Node:
        return self._joined("or", self.and_)

    def and_(self) -> Node:
        return self._joined("and", self.eq)

    def _joined(self, word: str, item: Callable[[], Node]) -> Node:
        items = [item()]
        while self.peek(word, "name"):
            self.take()
            items.append(item())
        return items[0] if len(items) == 1 else (word, items)

    def eq(self) -> Node:
        left = self.primary()
        if self.peek("=", "op"):
            self.take()
            right = self.primary()
            if left[0] != "attrs" or right[0] != "str":
                raise Unsupported("= other than attributes = 'string'")
            return ("eq", left[1], right[1])
        if self.peek("!=", "op"):
            raise Unsupported("!=")
        return left

    def primary(self) -> Node:
        if self.peek("(", "op"):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if self.peek(kind="str"):
            return ("str", self.take()[1:-1])
        if self.peek(kind="path"):
            path = self.take()
            if path.startswith("@"):
                names = [path[1:]]
                while self.peek("|", "op"):
                    self.take()
                    other = self.take(kind="path")
                    if not other.startswith("@"):
                        raise Unsupported("a union of other than attributes")
                    names.append(other[1:])
                return ("attrs", tuple(names))
            if path.startswith("self::"):
                return ("self", path[6:])
            if path == ".//*":
                raise Unsupported(".//* inside a predicate")
            return ("desc", path[3:])
        name = self.take(kind="name")
        if not self.peek("(", "op"):
            raise Unsupported(f"child path {name!r}")
        self.take("(")
        args = []
        if not self.peek(")", "op"):
            args.append(self.expr())
            while self.peek(",", "op"):
                self.take()
                args.append(self.expr())
        self.take(")")
        if name == "not":
            if len(args) != 1:
                raise Unsupported("not() takes one argument")
            return ("not", args[0])
        if name not in ("contains", "starts-with", "translate", "re:test"):
            raise Unsupported(f"function {name}()")
        return ("call", name, args)


# ----------------------------------------------------------------------------- evaluation

Eval = Callable[[Any], Any]


def _attr_string(names: tuple[str, ...]) -> Eval:
    """string(@a|@b): the first of the attributes in document order, "" without any."""
    if len(names) == 1:
        name = names[0]
        return lambda el: el.get(name) or ""
    wanted = frozenset(names)

    def first(el: Any) -> str:
        for key, value in el.items():  # document order; a namespaced key is "{ns}name"
            if key in wanted:
                return value
        return ""

    return first


def _string(node: Node) -> Eval:
    kind = node[0]
    if kind == "str":
        value = node[1]
        return lambda _el: value
    if kind == "attrs":
        return _attr_string(node[1])
    if kind == "call" and node[1] == "translate":
        source, frm, to = node[2]
        if frm[0] != "str" or to[0] != "str":
            raise Unsupported("translate() with other than literal tables")
        table: dict[int, int | None] = {}
        for i, ch in enumerate(frm[1]):  # XPath: the first occurrence of a character counts
            table.setdefault(ord(ch), ord(to[1][i]) if i < len(to[1]) else None)
        get = _string(source)
        return lambda el: get(el).translate(table)
    raise Unsupported(f"string of {kind}")


def _boolean(node: Node) -> Eval:
    kind = node[0]
    if kind == "or":
        parts = [_boolean(n) for n in node[1]]
        return lambda el: any(p(el) for p in parts)
    if kind == "and":
        parts = [_boolean(n) for n in node[1]]
        return lambda el: all(p(el) for p in parts)
    if kind == "not":
        inner = _boolean(node[1])
        return lambda el: not inner(el)
    if kind == "attrs":
        names = node[1]
        return lambda el: any(el.get(n) is not None for n in names)
    if kind == "eq":
        names, value = node[1], node[2]
        return lambda el: any(el.get(n) == value for n in names)
    if kind == "self":
        tag = node[1]
        return lambda el: el.tag == tag
    if kind == "desc":
        tag = node[1]
        return lambda el: next(el.iterdescendants(tag), None) is not None
    if kind == "call":
        name, args = node[1], node[2]
        if name == "re:test":
            if len(args) not in (2, 3) or any(a[0] != "str" for a in args[1:]):
                raise Unsupported("re:test() with other than literal patterns")
            flags = re.UNICODE | (re.IGNORECASE if len(args) == 3 and "i" in args[2][1] else 0)
            search = re.compile(args[1][1], flags).search  # as lxml's EXSLT re:test compiles it
            get = _string(args[0])
            return lambda el: search(get(el)) is not None
        if len(args) != 2:
            raise Unsupported(f"{name}() with {len(args)} arguments")
        left, right = _string(args[0]), _string(args[1])
        if name == "contains":
            return lambda el: right(el) in left(el)
        if name == "starts-with":
            return lambda el: left(el).startswith(right(el))
    raise Unsupported(f"boolean of {kind}")


# ----------------------------------------------------------------------------- prefilter

Pairs = frozenset[tuple[str, str]] | None  # (attribute, literal): one is needed; None: none


def _needs(node: Node) -> Pairs:
    """Attribute literals one of which any element satisfying ``node`` holds."""
    kind = node[0]
    if kind == "or":
        found: set[tuple[str, str]] = set()
        for n in node[1]:
            pairs = _needs(n)
            if pairs is None:
                return None
            found |= pairs
        return frozenset(found)
    if kind == "and":
        options = [p for p in map(_needs, node[1]) if p is not None]
        return min(options, key=len) if options else None
    if kind == "attrs":
        return frozenset((name, "") for name in node[1])
    if kind == "eq":
        return frozenset((name, node[2]) for name in node[1])
    if kind == "call":
        name, args = node[1], node[2]
        source = args[0] if args else None
        if source is None:
            return None
        if name == "re:test":
            flags = args[2][1] if len(args) == 3 else ""
            pattern = args[1][1]
            if re.compile(pattern, re.IGNORECASE if "i" in flags else 0).search(""):
                return None  # matches an element without the attribute too
            lits = None if "i" in flags else necessary_literals(pattern)
            return _on_source(source, lits or frozenset([""]))
        if name in ("contains", "starts-with") and args[1][0] == "str" and args[1][1]:
            return _on_source(source, frozenset([args[1][1]]))
    return None  # not(), self::, .//name, translate() alone: nothing to require


def _on_source(source: Node, lits: frozenset[str]) -> Pairs:
    """The literals a string built from ``source`` must hold, as (attribute, literal) pairs."""
    if source[0] == "attrs":
        return frozenset((name, lit) for name in source[1] for lit in lits)
    if source[0] == "call" and source[1] == "translate":
        inner, frm, to = source[2]
        changed = set(frm[1]) | set(to[1])
        # a character that translate() neither maps nor produces is the original's own: the
        # longest run of those in each literal is in the untranslated string
        kept = frozenset(max(re.split("|".join(map(re.escape, changed)), lit), key=len)
                         if changed else lit for lit in lits)
        return _on_source(inner, kept)  # an empty literal: the attribute must be there
    return None


# ----------------------------------------------------------------------------- the evaluator


@dataclass(frozen=True)
class _Plan:
    tags: tuple[bytes, ...] | None
    pairs: tuple[tuple[bytes, bytes], ...] | None
    tests: tuple[Eval, ...]
    mode: str  # "all", "first" ((...)[1]) or "first-child" (...[1])


def _plan(expression: str) -> _Plan:
    text = " ".join(expression.split())
    mode = "all"
    if text.startswith("(") and text.endswith(")[1]"):
        text, mode = text[1:-4], "first"
    elif text.endswith("[1]"):
        text, mode = text[:-3], "first-child"
    p = _Parser(text)
    step = p.take(kind="path")
    if not step.startswith(".//"):
        raise Unsupported("not a .// step")
    preds: list[Node] = []
    while p.peek("[", "op"):
        p.take()
        preds.append(p.expr())
        p.take("]")
    if not p.done():
        raise Unsupported("more after the predicates")
    tags: tuple[str, ...] | None = None if step == ".//*" else (step[3:],)
    if preds and tags is None:
        first = preds[0]
        alts = first[1] if first[0] == "or" else [first]
        if all(a[0] == "self" for a in alts):
            tags = tuple(a[1] for a in alts)
            preds = preds[1:]  # the scan tests the tag exactly
    tests = tuple(_boolean(n) for n in preds)  # first: it refuses what it cannot evaluate
    needs = [n for n in map(_needs, preds) if n is not None]
    pairs = min(needs, key=len) if needs else None
    if tags is None and pairs is None:
        raise Unsupported("no prefilter: every element would be tested in Python")
    return _Plan(
        tags=tuple(t.encode() for t in tags) if tags is not None else None,
        pairs=tuple(sorted((a.encode(), lit.encode()) for a, lit in pairs))
        if pairs is not None else None,
        tests=tests,
        mode=mode,
    )


class FastXPath:
    """An ``lxml.etree.XPath`` of the supported subset; called like one."""

    def __init__(self, original: XPath) -> None:
        self.original = original
        self.path = original.path
        self._plan = _plan(original.path)

    def __call__(self, node: Any, **variables: Any) -> list[Any]:
        if variables or not isinstance(node, _Element):
            return self.original(node, **variables)
        plan = self._plan
        found = []
        parents: set[Any] = set()
        for el in _treescan.scan(node, plan.tags, plan.pairs):
            if not all(test(el) for test in plan.tests):
                continue
            if plan.mode == "first":
                return [el]
            if plan.mode == "first-child":
                # ``.//*[P][1]``: the first child satisfying P of each element
                parent = el.getparent()
                if parent in parents:
                    continue
                parents.add(parent)
            found.append(el)
        return found

    def __repr__(self) -> str:
        return f"FastXPath({self.path!r})"


def compile_xpath(xpath: XPath) -> XPath | FastXPath:
    """The fast evaluator of ``xpath``, or ``xpath`` itself outside the supported subset."""
    try:
        return FastXPath(xpath)
    except Unsupported:
        return xpath


# ----------------------------------------------------------------------------- the swap


def _replacements() -> list[tuple[Any, str, list[XPath | FastXPath]]]:
    """(module, name, fast list) for trafilatura's module-level XPath lists we can evaluate."""
    out = []
    for module in (core, main_extractor, external, metadata):
        for name, value in vars(module).items():
            if isinstance(value, list) and value and all(isinstance(x, XPath) for x in value):
                fast = [compile_xpath(x) for x in value]
                if any(a is not b for a, b in zip(value, fast, strict=True)):
                    out.append((module, name, fast))
    return out


# ``with fast_xpaths():`` trafilatura evaluates its section expressions with FastXPath
fast_xpaths = Swap(_replacements())
