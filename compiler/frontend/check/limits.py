"""Whole-program limits: every path of a function returns, no recursion, bounded inlining
depth, and a bounded program size after unrolling and inlining (the kernel verifier's budget)."""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend.check.base import CheckerBase
from cora.compiler.frontend.check.result import node_key
from cora.compiler.frontend.check.symbols import MAX_INLINE_DEPTH, MAX_UNROLLED_STMTS, FnSym


class LimitChecks(CheckerBase):
    """Checker methods for the limits that need the whole program."""

    def always_ends(self, node) -> bool:
        """Whether every path through ``node`` ends in return or a verdict."""
        if isinstance(node, A.Block):
            return any(self.always_ends(s) for s in node.stmts)
        if isinstance(node, (A.Return, A.Verdict)):
            return True
        if isinstance(node, A.If):
            return node.els is not None and self.always_ends(node.then) and \
                self.always_ends(node.els)
        if isinstance(node, A.Match):
            has_wild = any(isinstance(p, A.PatWild) for a in node.arms for p in a.patterns)
            return has_wild and all(self.always_ends(a.body) for a in node.arms)
        return False

    def stmt_cost(self, node, memo: dict) -> int:
        """Statements ``node`` becomes after unrolling loops and inlining calls."""
        if isinstance(node, A.Block):
            return sum(self.stmt_cost(s, memo) for s in node.stmts)
        if isinstance(node, A.For):
            lo, hi = self.out.loops.get(node_key(node), (0, 0))
            return 1 + max(0, hi - lo) * self.stmt_cost(node.body, memo)
        if isinstance(node, A.If):
            return 1 + self.stmt_cost(node.then, memo) + \
                (self.stmt_cost(node.els, memo) if node.els is not None else 0)
        if isinstance(node, A.Match):
            return 1 + sum(self.stmt_cost(a.body, memo) for a in node.arms)
        return 1 + self.calls_cost(node, memo)

    def calls_cost(self, node, memo: dict) -> int:
        """Inlined statements of the user functions called inside expression/statement ``node``."""
        total = 0
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, A.Call) and isinstance(n.func, A.Name) and \
                    isinstance(self.out.syms.get(node_key(n.func)), FnSym):
                name = n.func.id
                if name not in memo:
                    memo[name] = 0  # (recursion was rejected before)
                    memo[name] = self.stmt_cost(self.out.fns[name].decl.body, memo)
                total += memo[name]
            if isinstance(n, A.Node):
                for v in vars(n).values():
                    if isinstance(v, A.Node):
                        stack.append(v)
                    elif isinstance(v, tuple):
                        stack.extend(x for x in v if isinstance(x, A.Node))
        return total

    def check_unrolled_size(self, entry: A.OnDecl) -> None:
        memo: dict = {}
        total = self.stmt_cost(entry.body, memo)
        if total <= MAX_UNROLLED_STMTS:
            return
        node = entry.body  # point at the loop that makes it big
        where: A.Node = entry
        while True:
            kids = [s for s in getattr(node, "stmts", ())] if isinstance(node, A.Block) else \
                [node.body] if isinstance(node, A.For) else \
                [x for x in (getattr(node, "then", None), getattr(node, "els", None)) if x] + \
                [a.body for a in getattr(node, "arms", ())]
            if not kids:
                break
            node = max(kids, key=lambda k: self.stmt_cost(k, memo))
            if isinstance(node, A.For):
                where = node
                break
            if not isinstance(node, (A.Block, A.If, A.Match)):
                break  # no loop to blame: point at 'on packet'
        if where is entry:
            span = A.Span(entry.span.line, entry.span.col, entry.event_span.end_line,
                          entry.event_span.end_col)
        else:
            span = where.span
        self.err(span, f"after unrolling loops and inlining functions this program has "
                        f"about {total:,} statements; at most {MAX_UNROLLED_STMTS:,} are allowed "
                        f"(the kernel verifier's budget): lower loop bounds or shorten the "
                        f"program")

    def check_recursion(self) -> None:
        graph = self.calls
        reported = set()
        for start in list(graph):
            # DFS for a cycle back to start
            stack = [(start, [start])]
            seen = set()
            while stack:
                node, path = stack.pop()
                for callee, call in graph.get(node, ()):
                    if callee == start:
                        key = frozenset(path)
                        if key not in reported:
                            reported.add(key)
                            chain = " -> ".join(path + [start])
                            self.err(call.span, f"recursive call: {chain}; functions are "
                                                f"inlined, so recursion is not allowed (use a "
                                                f"bounded 'for' loop)")
                        continue
                    if callee not in seen:
                        seen.add(callee)
                        stack.append((callee, path + [callee]))
        # depth of the (acyclic part of the) call tree
        depth_memo: dict[str, int] = {}

        def depth(name: str, trail: tuple) -> int:
            if name in depth_memo:
                return depth_memo[name]
            if name in trail or len(trail) > MAX_INLINE_DEPTH + 2:
                return 0
            d = 1 + max((depth(c, trail + (name,)) for c, _ in graph.get(name, ())), default=0)
            depth_memo[name] = d
            return d

        if not reported:
            for name in list(graph):
                if name != "" and depth(name, ()) > MAX_INLINE_DEPTH:
                    f = self.out.fns[name]
                    self.err(f.decl.name_span, f"calls nested more than {MAX_INLINE_DEPTH} deep "
                                               f"starting at '{name}'; flatten them")
                    break
