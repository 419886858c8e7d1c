#!/usr/bin/env python3
"""Checks that bootstrap/src imports only downward and has no import circle.

The folders of bootstrap/src are layers (bootstrap/src/lib.rs lists them): a module may use
another of its own folder or of a layer below; never one above, and never `boot` (the pipeline)
but from `cmd`. Inside a folder, no two files may import each other, directly or around a
circle. Test modules (`#[cfg(test)]`) are left out: tests may reach anywhere.

Usage: scripts/check-layers.py [bootstrap/src]   (exit 1 with one line per violation)
"""
import os
import re
import sys

LAYERS = [
    {"notify"},
    {"failure", "retry", "fsutil"},
    {"cloud"},
    {"store"},
    {"config"},
    {"zk"},
    {"mesos"},
    {"node"},
    {"membership"},
    {"boot", "serve"},
    {"cmd"},
    {"main", "lib"},
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}


def blank(text):
    """The code with comments, string and char literals emptied (a small Rust lexer)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif re.match(r'b?r#*"', text[i : i + 40]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            out.append('""')
            i = n if end < 0 else end + 1 + len(m.group(1))
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^'\\])'", text[i : i + 12]):
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i : i + 12])
            out.append("''")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip(text):
    """The code without comments, literals or #[cfg(test)] modules."""
    text = blank(text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod \w+ \{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def module_of(src, path):
    """`serve::api::metrics` for src/serve/api/metrics.rs; `serve` for src/serve/mod.rs."""
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def uses(code, me):
    """Every `crate::a::b` path the code names (as lists), `super::` resolved against `me`."""
    found = []
    for m in re.finditer(r"\bcrate::((?:\w+::)*)\{([^}]*)\}", code):
        base = [p for p in m.group(1).split("::") if p]
        for item in m.group(2).split(","):
            head = re.match(r"\s*(\w+)", item)
            if head:
                found.append(base + [head.group(1)])
    for m in re.finditer(r"\bcrate::(\w+(?:::\w+)*)", code):
        found.append(m.group(1).split("::"))
    for m in re.finditer(r"\b((?:super::)+)(\w+(?:::\w+)*)", code):
        up = m.group(1).count("super::")
        found.append(me[: len(me) - up] + m.group(2).split("::"))
    return found


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "bootstrap/src"
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                p = os.path.join(dirpath, name)
                files[tuple(module_of(src, p))] = p
    errors = []
    edges = {}
    for mod, path in sorted(files.items()):
        top = mod[0]
        if top not in RANK:
            errors.append(f"{path}: folder `{top}` is in no layer (add it to LAYERS and lib.rs)")
            continue
        code = strip(open(path, encoding="utf-8").read())
        for used in uses(code, list(mod)):
            other = used[0]
            if other not in RANK or other == top:
                if other == top:
                    # The file (or folder) it names inside the same folder.
                    target = next(
                        (tuple(used[:k]) for k in range(len(used), 0, -1) if tuple(used[:k]) in files),
                        None,
                    )
                    if target and target != mod and target != tuple(mod[: len(target)]):
                        edges.setdefault(mod, set()).add(target)
                continue
            if other == "boot" and top != "cmd":
                errors.append(f"{path}: uses crate::{'::'.join(used)}: only `cmd` may use `boot`")
            elif RANK[other] >= RANK[top]:
                errors.append(
                    f"{path}: uses crate::{'::'.join(used)}: layer {RANK[other]} `{other}` is not "
                    f"below layer {RANK[top]} `{top}`"
                )
    # Circles between the files of one folder.
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                circle = stack[stack.index(nxt):] + [nxt]
                errors.append("import circle: " + " -> ".join("::".join(c) for c in circle))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    for e in sorted(set(errors)):
        print(e)
    n = len(files)
    if errors:
        print(f"check-layers: {len(set(errors))} problem(s) in {n} files of {src}")
        return 1
    print(f"check-layers: {n} files of {src}: every import goes downward, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
