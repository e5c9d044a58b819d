"""Parse NF source text into the AST (:mod:`cora.compiler.frontend.ast`).

Uses the Lark LALR grammar ``grammar.lark`` with positions. Syntax errors become
:class:`~cora.compiler.frontend.diagnostics.Diagnostic` objects with an "expected ..." message; the
parser then resynchronises after the next ``;`` or ``}`` to report further syntax errors in
the same run. Nesting deeper than :data:`MAX_NESTING` is reported as an error instead of
overflowing Python's stack.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from cora.compiler.frontend import ast as A
from cora.compiler.frontend.diagnostics import Diagnostic

MAX_NESTING = 96  # tree levels (expressions and blocks) a program may nest
MAX_SYNTAX_ERRORS = 20

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# How terminals are named in "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name", "INT": "an integer", "IP4": "an IPv4 address",
    "PREFIX": "an IPv4 prefix", "MAC": "a MAC address", "CMP_OP": "a comparison",
    "SHIFT_OP": "'<<' or '>>'", "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/' or '%'",
    "UNARY_OP": "'!', '~' or '-'", "ASSIGN_OP": "a compound assignment", "$END": "end of file",
}


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The (cached) Lark LALR parser for NF source."""
    return Lark(_GRAMMAR.read_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True)


@functools.lru_cache(maxsize=1)
def _terminal_words() -> dict[str, str]:
    words = dict(_TERMINAL_WORDS)
    for t in parser().terminals:
        if t.name not in words and t.pattern.type == "str":
            words[t.name] = f"'{t.pattern.value}'"
    return words


def _describe_expected(expected) -> str:
    words = _terminal_words()
    names = sorted({words.get(e, e) for e in expected
                    if e not in ("COMMENT", "BLOCK_COMMENT", "WS")})
    if not names:
        return ""
    if len(names) > 4:
        # too many to list: say what kind of thing fits
        if "';'" in names:
            return "expected ';'"
        if "'}'" in names:
            return "expected '}'"
        if "a name" in names and "an integer" in names:
            return "expected an expression"
        return "expected one of " + ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    if len(names) == 1:
        return "expected " + names[0]
    return "expected " + ", ".join(names[:-1]) + " or " + names[-1]


def _token_text(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok)
    if len(text) > 20:
        text = text[:17] + "..."
    return f"'{text}'"


def _end_position(text: str) -> tuple[int, int]:
    """(line, col) just after the last non-blank character (where 'end of file' is shown)."""
    stripped = text.rstrip()
    if not stripped:
        return 1, 1
    line = stripped.count("\n") + 1
    col = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, col


def _syntax_diag(exc: LarkError, path: str, text: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos is not None and 0 <= pos < len(text) else "?"
        shown = repr(ch)[1:-1] if not ch.isprintable() else ch
        return Diagnostic(path, exc.line, exc.column,
                          f"unexpected character '{shown}'")
    if isinstance(exc, UnexpectedEOF):
        line, col = _end_position(text)
        exp = _describe_expected(exc.expected)
        return Diagnostic(path, line, col, "unexpected end of file" + (f", {exp}" if exp else ""))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        exp = _describe_expected(exc.expected)
        if tok.type == "$END":
            line, col = _end_position(text)
            return Diagnostic(path, line, col,
                              "unexpected end of file" + (f", {exp}" if exp else ""))
        msg = f"unexpected {_token_text(tok)}" + (f", {exp}" if exp else "")
        if tok.type == "EQ_ASSIGN" and "EQ_ASSIGN" not in exc.expected:
            msg += " (did you mean '=='?)"
        return Diagnostic(path, tok.line or 1, tok.column or 1, msg,
                          length=max(1, len(str(tok))) if "\n" not in str(tok) else 1)
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    return Diagnostic(path, line, col, "syntax error")


def parse_source(text: str, path: str = "<input>") -> tuple[A.Module | None, list[Diagnostic]]:
    """Parse ``text``; returns ``(module or None, diagnostics)``.

    Never raises for any input string: syntax errors, bad characters and too-deep nesting come
    back as diagnostics (the module is None when there is any).
    """
    diags: list[Diagnostic] = []
    try:
        tree = parser().parse(text)
    except LarkError as exc:
        opened = _unterminated_comment(text)
        at = _error_offset(exc, text)
        if opened is not None and (at is None or at >= opened):
            # the lexer saw '/' and '*' as operators; say what is really wrong
            line = text.count("\n", 0, opened) + 1
            col = opened - (text.rfind("\n", 0, opened) + 1) + 1
            return None, [Diagnostic(path, line, col, "unterminated comment: this '/*' has no "
                                                      "closing '*/'", length=2)]
        diags.append(_syntax_diag(exc, path, text))
        diags.extend(_more_syntax_errors(text, path, exc))
        return None, diags
    deep = _too_deep(tree)
    if deep is not None:
        return None, [Diagnostic(path, deep[0], deep[1],
                                 f"nesting too deep: at most {MAX_NESTING} levels of nested "
                                 "expressions and blocks are allowed; split it up with 'let'")]
    try:
        module = _Builder().module(tree)
    except _Bad as bad:
        return None, [Diagnostic.at(path, bad.span, bad.message)]
    return module, diags


def _more_syntax_errors(text: str, path: str, first: LarkError) -> list[Diagnostic]:
    """Further syntax errors: blank out the text up to the end of the bad statement, reparse.

    After an error at offset p, the text from the line start of p up to and including the next
    ``;`` or ``}`` is replaced by spaces (keeping newlines, so positions stay right) and the
    file is parsed again; errors found that way are kept when they are after the first one.
    """
    out: list[Diagnostic] = []
    current = text
    last_pos = _error_offset(first, text)
    for _ in range(MAX_SYNTAX_ERRORS - 1):
        if last_pos is None or last_pos >= len(current):
            break
        start = max(current.rfind(c, 0, last_pos) for c in ";{}") + 1
        semi, brace = current.find(";", last_pos), current.find("}", last_pos)
        if current[last_pos] == "}":
            end = last_pos
        elif semi != -1 and (brace == -1 or semi < brace):
            end = semi + 1
        elif brace != -1:
            end = brace
        else:
            break
        if end <= start:
            if current[last_pos] != "}":
                break
            start, end = last_pos, last_pos + 1  # a stray '}': drop it
        end = _balance_braces(current, start, end)
        current = current[:start] + "".join(c if c == "\n" else " " for c in current[start:end]) \
            + current[end:]
        try:
            parser().parse(current)
            break
        except LarkError as exc:
            pos = _error_offset(exc, current)
            if pos is None or pos < end or pos <= last_pos:
                break
            out.append(_syntax_diag(exc, path, current))
            last_pos = pos
    return out


def _balance_braces(text: str, start: int, end: int) -> int:
    """Extend ``[start, end)`` so that every '{' it opens is closed inside it (when the file
    has the matching '}'), so blanking a broken statement does not unbalance blocks."""
    depth = 0
    i = start
    while i < len(text) and (i < end or depth > 0):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            if depth == 0 and i >= end:
                break
            depth = max(0, depth - 1)
        i += 1
    return max(end, i) if depth == 0 else end


def _unterminated_comment(text: str) -> int | None:
    """Offset of a ``/*`` that no ``*/`` closes (``//`` comments skipped), or None."""
    i = 0
    while True:
        line_c, block_c = text.find("//", i), text.find("/*", i)
        if block_c == -1:
            return None
        if line_c != -1 and line_c < block_c:
            nl = text.find("\n", line_c)
            if nl == -1:
                return None
            i = nl + 1
            continue
        close = text.find("*/", block_c + 2)
        if close == -1:
            return block_c
        i = close + 2


def _error_offset(exc: LarkError, text: str) -> int | None:
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return None
        return tok.start_pos
    return None


def _too_deep(tree: Tree) -> tuple[int, int] | None:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            return (getattr(meta, "line", 1), getattr(meta, "column", 1))
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))
    return None


class _Bad(Exception):
    def __init__(self, span: A.Span, message: str):
        super().__init__(message)
        self.span = span
        self.message = message


def parse_int(text: str) -> int:
    """Value of an integer literal (decimal, ``0x``, ``0b``, with ``_`` separators)."""
    t = text.replace("_", "").lower()
    if t.startswith("0x"):
        return int(t[2:] or "x", 16)
    if t.startswith("0b"):
        return int(t[2:] or "x", 2)
    return int(t)


_NO_SPAN = A.Span(1, 1, 1, 2)


class _Builder:
    """Turns the Lark tree into AST nodes (recursion bounded by :data:`MAX_NESTING`)."""

    # -- spans
    def span(self, node, default: A.Span | None = None) -> A.Span:
        if isinstance(node, Token):
            return A.Span(node.line or 1, node.column or 1, node.end_line or node.line or 1,
                          node.end_column or (node.column or 1) + len(node))
        meta = node.meta
        if getattr(meta, "empty", True) or not hasattr(meta, "line"):
            return default or _NO_SPAN
        return A.Span(meta.line, meta.column, meta.end_line, meta.end_column)

    def join(self, a: A.Span, b: A.Span) -> A.Span:
        return A.Span(a.line, a.col, b.end_line, b.end_col)

    # -- top level
    def module(self, tree: Tree) -> A.Module:
        items = tuple(self.item(c) for c in tree.children)
        return A.Module(items, self.span(tree))

    def item(self, t: Tree):
        return getattr(self, "d_" + t.data)(t)

    def d_const_decl(self, t):
        name, ty, value = t.children
        return A.ConstDecl(str(name), self.type(ty) if ty is not None else None, self.expr(value),
                           self.span(t), self.span(name))

    def d_struct_decl(self, t):
        name, *fields = t.children
        fs = tuple(A.FieldDecl(str(f.children[0]), self.type(f.children[1]), self.span(f))
                   for f in fields if f is not None)
        return A.StructDecl(str(name), fs, self.span(t), self.span(name))

    def d_header_decl(self, t):
        name, parent, fld, value, *fields = t.children
        fs = []
        for f in fields:
            if f is None:
                continue
            fname, fty, bits = f.children
            fs.append(A.HeaderFieldDecl(str(fname), self.type(fty),
                                        None if bits is None else parse_int(str(bits)),
                                        self.span(f)))
        return A.HeaderDecl(str(name), str(parent), str(fld), self.expr(value), tuple(fs),
                            self.span(t), self.span(name), self.span(parent), self.span(fld))

    def d_state_decl(self, t):
        name, kind, *rest = t.children
        args = []
        i = -1                           # no <...> (group[N])
        if isinstance(rest[0], Token) and rest[0].type == "LT":
            i = 1
            while not (isinstance(rest[i], Token) and rest[i].type == "GT"):
                args.append(self.targ(rest[i]))
                i += 1
        cap, full, init = rest[i + 1:i + 4]
        capacity = self.expr(cap.children[0]) if cap is not None else None
        policy = policy_span = None
        if full is not None:
            tok = full.children[0].children[0]
            policy, policy_span = str(tok), self.span(tok)
        entries = None
        if init is not None:
            entries = tuple(A.InitEntry(self.expr(e.children[0]), self.expr(e.children[1]),
                                        self.span(e)) for e in init.children if e is not None)
        return A.StateDecl(str(name), str(kind), tuple(args), capacity, policy, entries,
                           self.span(t), self.span(name), self.span(kind), policy_span)

    def targ(self, t):
        if isinstance(t, Tree) and t.data == "int_targ":
            tok = t.children[0]
            return A.IntArg(parse_int(str(tok)), self.span(tok))
        return self.type(t)

    def d_fn_decl(self, t):
        name, *params, ret, body = t.children
        ps = tuple(A.Param(str(p.children[0]), self.type(p.children[1]), self.span(p))
                   for p in params if p is not None)
        return A.FnDecl(str(name), ps, self.type(ret) if ret is not None else None,
                        self.block(body), self.span(t), self.span(name))

    def d_on_decl(self, t):
        event, body = t.children
        return A.OnDecl(str(event), self.block(body), self.span(t), self.span(event))

    # -- types
    def type(self, t) -> A.Node:
        if t.data == "named_type":
            tok = t.children[0]
            return A.TypeName(str(tok), self.span(tok))
        if t.data == "array_type":
            elem, size = t.children
            return A.ArrayType(self.type(elem), self.expr(size), self.span(t))
        return A.TupleType(tuple(self.type(c) for c in t.children), self.span(t))

    # -- statements
    def block(self, t: Tree) -> A.Block:
        return A.Block(tuple(self.stmt(c) for c in t.children), self.span(t))

    def stmt(self, t: Tree):
        return getattr(self, "s_" + t.data)(t)

    def s_block(self, t):
        return self.block(t)

    def s_let_stmt(self, t):
        name, ty, value = t.children
        return A.Let(str(name), self.type(ty) if ty is not None else None, self.expr(value),
                     self.span(t))

    def s_assign_stmt(self, t):
        target, op, value = t.children
        return A.Assign(self.expr(target), str(op), self.expr(value), self.span(t), self.span(op))

    def s_expr_stmt(self, t):
        return A.ExprStmt(self.expr(t.children[0]), self.span(t))

    def s_if_stmt(self, t):
        cond, then, els = t.children
        els_node = None
        if els is not None:
            els_node = self.block(els) if els.data == "block" else self.s_if_stmt(els)
        return A.If(self.expr(cond), self.block(then), els_node, self.span(t))

    def s_match_stmt(self, t):
        subject, *arms = t.children
        out = []
        for arm in arms:
            *pats, body = arm.children
            out.append(A.Arm(tuple(self.pattern(p) for p in pats), self.block(body),
                             self.span(arm)))
        return A.Match(self.expr(subject), tuple(out), self.span(t))

    def pattern(self, p):
        if p.data == "range_pattern":
            lo, hi = p.children
            return A.PatRange(self.expr(lo), self.expr(hi), self.span(p))
        atom = p.children[0]
        if atom.data == "name" and str(atom.children[0]) == "_":
            return A.PatWild(self.span(p))
        return A.PatValue(self.expr(atom), self.span(p))

    def s_for_stmt(self, t):
        var, lo, hi, body = t.children
        return A.For(str(var), self.expr(lo), self.expr(hi), self.block(body), self.span(t),
                     self.span(var))

    def s_verdict_stmt(self, t):
        kind = t.children[0]
        if kind.type == "MULTICAST":     # multicast(group[, option]);
            group, option = t.children[1], t.children[2]
            return A.Verdict("multicast", None, self.span(t), str(group), self.span(group),
                             None if option is None else str(option),
                             None if option is None else self.span(option))
        port = self.expr(t.children[1]) if len(t.children) > 1 else None
        return A.Verdict(str(kind), port, self.span(t))

    def s_return_stmt(self, t):
        value = t.children[0]
        return A.Return(self.expr(value) if value is not None else None, self.span(t))

    def s_delete_stmt(self, t):
        return A.Delete(self.expr(t.children[0]), self.span(t))

    def s_atomic_stmt(self, t):
        target, body = t.children
        return A.Atomic(self.expr(target), self.block(body), self.span(t))

    # -- expressions
    def expr(self, t) -> A.Node:
        return getattr(self, "e_" + t.data)(t)

    def e_int_lit(self, t):
        tok = t.children[0]
        try:
            value = parse_int(str(tok))
        except ValueError:
            raise _Bad(self.span(tok), f"malformed integer literal '{tok}'") from None
        return A.IntLit(value, self.span(tok))

    def e_neg_int_lit(self, t):
        """``-N`` in a match pattern (a signed subject): the unary minus of literal N."""
        op, tok = t.children
        if str(op) != "-":
            raise _Bad(self.span(op), f"a pattern is a constant; '{op}' does not apply here "
                                      f"(only '-N' for a negative number)")
        try:
            value = parse_int(str(tok))
        except ValueError:
            raise _Bad(self.span(tok), f"malformed integer literal '{tok}'") from None
        return A.Unary("-", A.IntLit(value, self.span(tok)), self.span(t))

    def e_ip4_lit(self, t):
        tok = t.children[0]
        return A.Ip4Lit(self.ip4(str(tok), self.span(tok)), str(tok), self.span(tok))

    def ip4(self, text: str, span: A.Span) -> int:
        parts = text.split(".")
        value = 0
        for p in parts:
            n = int(p)
            if n > 255:
                raise _Bad(span, f"malformed IPv4 address '{text}': each part must be 0..255")
            value = value * 256 + n
        return value

    def e_prefix_lit(self, t):
        tok = t.children[0]
        span = self.span(tok)
        addr_text, plen_text = str(tok).split("/")
        addr, plen = self.ip4(addr_text, span), int(plen_text)
        if plen > 32:
            raise _Bad(span, f"malformed IPv4 prefix '{tok}': the length must be 0..32")
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        if addr & ~mask & 0xFFFFFFFF:
            net = addr & mask
            fixed = ".".join(str((net >> s) & 255) for s in (24, 16, 8, 0))
            raise _Bad(span, f"IPv4 prefix '{tok}' has bits set after the first {plen} "
                             f"(did you mean '{fixed}/{plen}'?)")
        return A.PrefixLit(addr, plen, str(tok), span)

    def e_mac_lit(self, t):
        tok = t.children[0]
        return A.MacLit(int(str(tok).replace(":", ""), 16), self.span(tok))

    def e_true_lit(self, t):
        return A.BoolLit(True, self.span(t))

    def e_false_lit(self, t):
        return A.BoolLit(False, self.span(t))

    def e_name(self, t):
        tok = t.children[0]
        return A.Name(str(tok), self.span(tok))

    def e_struct_lit(self, t):
        name, *inits = t.children
        fields = tuple(A.FieldInit(str(f.children[0]), self.expr(f.children[1]), self.span(f))
                       for f in inits if f is not None)
        return A.StructLit(str(name), fields, self.span(t))

    def e_tuple_lit(self, t):
        return A.TupleLit(tuple(self.expr(c) for c in t.children), self.span(t))

    def e_binary(self, t):
        left, op, right = t.children
        return A.Binary(str(op), self.expr(left), self.expr(right), self.span(t), self.span(op))

    def e_unary(self, t):
        op, operand = t.children
        return A.Unary(str(op), self.expr(operand), self.span(t))

    def e_cast(self, t):
        e, ty = t.children
        return A.Cast(self.expr(e), self.type(ty), self.span(t))

    def e_field(self, t):
        obj, name = t.children
        return A.Field(self.expr(obj), str(name), self.span(t), self.span(name))

    def e_tuple_field(self, t):
        obj, idx = t.children
        return A.Field(self.expr(obj), str(parse_int(str(idx))), self.span(t), self.span(idx))

    def e_index(self, t):
        obj, idx = t.children
        return A.Index(self.expr(obj), self.expr(idx), self.span(t))

    def e_call(self, t):
        func, *args = t.children
        return A.Call(self.expr(func), tuple(self.expr(a) for a in args if a is not None),
                      self.span(t))
