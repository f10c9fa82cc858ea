"""Import cycles among retrograd's modules, counting imports inside functions too (they hide a cycle from
Python, not from a reader).  `python tools/import_graph.py` prints the cycles and the function-level
imports; tests/test_layering.py asserts there are no cycles."""
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"


def modules():
    out = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = p
    return out


def _target(cur, node, is_pkg):
    if not node.level:
        return node.module
    parts = (cur if is_pkg else cur.rsplit(".", 1)[0]).split(".")
    base = ".".join(parts[:len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def edges(mods, lazy_too=True):
    """{module: {(imported module, lazy?)}}; a package's own submodules imported through it count as
    imports of those submodules."""
    out = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        top = {id(n) for n in tree.body}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                t = _target(m, n, p.name == "__init__.py")
                names = [t] + [f"{t}.{a.name}" for a in n.names]
            elif isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            else:
                continue
            lazy = id(n) not in top
            if lazy and not lazy_too:
                continue
            for t in names:
                if t in mods and t != m and not m.startswith(t + "."):   # a module's own package is not a cycle
                    out[m].add((t, lazy))
    return out


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    succ = {m: {t for t, _ in es} for m, es in graph.items()}
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    g = edges(modules())
    for comp in cycles(g):
        print("cycle:", " <-> ".join(comp))
        for m in comp:
            for t, lazy in sorted(g[m]):
                if t in comp:
                    print(f"    {m} -> {t}{' (inside a function)' if lazy else ''}")
    print("function-level imports of our own modules:", sum(lazy for es in g.values() for _, lazy in es))
