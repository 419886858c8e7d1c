#!/usr/bin/env python3
"""Regenerates the inputs/outputs tables of terraform/modules/*/README.md, terraform/sample/README.md
and terraform/VARIABLES.md from variables.tf and outputs.tf.

Usage: python3 terraform/gen_docs.py [--check]
The tables sit between `<!-- BEGIN TF DOCS -->` and `<!-- END TF DOCS -->`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- BEGIN TF DOCS -->", "<!-- END TF DOCS -->"


def blocks(text: str, kind: str):
    """(name, body) of each top-level `kind "name" {` block (the files are `terraform fmt`ed)."""
    for m in re.finditer(rf'^{kind} "([^"]+)" \{{\n(.*?)^\}}', text, re.M | re.S):
        yield m.group(1), m.group(2)


def attr(body: str, name: str) -> str | None:
    m = re.search(rf'^  {name}\s*=\s*(.*)$', body, re.M)
    if not m:
        return None
    value = m.group(1).strip()
    if value.endswith(("{", "[", "(")):  # multi-line value: take lines up to the matching close
        lines = body[m.end():].split("\n")
        depth, out = 1, [value]
        for line in lines:
            out.append(line.strip())
            depth += line.count("{") + line.count("[") + line.count("(")
            depth -= line.count("}") + line.count("]") + line.count(")")
            if depth <= 0:
                break
        value = " ".join(out)
    return value


def cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def table(d: Path) -> str:
    rows = ["| Input | Description | Type | Default |", "| --- | --- | --- | --- |"]
    for name, body in blocks((d / "variables.tf").read_text(), "variable"):
        desc = attr(body, "description") or '""'
        desc = desc[1:-1].replace('\\"', '"')
        typ = attr(body, "type") or "any"
        default = attr(body, "default")
        rows.append(f"| `{name}` | {cell(desc)} | `{cell(typ)}` | {'`' + cell(default) + '`' if default is not None else 'required'} |")
    rows += ["", "| Output | Description |", "| --- | --- |"]
    outputs = d / "outputs.tf"
    if outputs.exists():
        for name, body in blocks(outputs.read_text(), "output"):
            desc = (attr(body, "description") or '""')[1:-1].replace('\\"', '"')
            rows.append(f"| `{name}` | {cell(desc)} |")
    return "\n".join(rows)


def update(readme: Path, content: str, check: bool) -> bool:
    text = readme.read_text()
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), f"{BEGIN}\n{content}\n{END}", text, flags=re.S)
    if BEGIN not in text:
        raise SystemExit(f"{readme}: no {BEGIN} marker")
    if new != text:
        if check:
            print(f"{readme} is out of date: run python3 terraform/gen_docs.py")
            return False
        readme.write_text(new)
    return True


def main() -> int:
    check = "--check" in sys.argv
    dirs = sorted(p for p in (HERE / "modules").iterdir() if (p / "variables.tf").exists()) + [HERE / "sample"]
    ok = True
    summary = []
    for d in dirs:
        t = table(d)
        ok &= update(d / "README.md", t, check)
        rel = d.relative_to(HERE)
        summary.append(f"## `{rel}`\n\nSee [{rel}/README.md]({rel}/README.md).\n\n{t}\n")
    ok &= update(HERE / "VARIABLES.md", "\n".join(summary), check)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
