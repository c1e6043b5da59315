#!/usr/bin/env python3
"""Lists C++ function definitions longer than a limit (issue 9: "no function over ~60 lines in
store/ and pipeline/"). Usage: function-lengths.py [--max N] [--top K] DIR...

Exits 1 when a function is over --max lines (from its signature's first line to its closing
brace, comments and blank lines included), 0 otherwise. With --top K it also prints the K longest.

How it finds functions (text only, no compiler): in Google style a namespace's contents are not
indented, so a definition at namespace scope starts at column 0 and ends at the first later line
that is exactly "}". A line at column 0 that opens one is a signature line: not a comment, a
preprocessor line, a closing brace, a namespace/class/struct/enum/using/template<...> line alone,
and its signature (up to the first "{") holds a "(". Functions defined inside a class body (the
one-line accessors of headers) are not counted.
"""
import argparse
import os
import re
import sys

SKIP = re.compile(r"^(//|#|}|namespace\b|class\b|struct\b|enum\b|using\b|union\b|extern\b|static_assert\b)")


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line or line[0].isspace() or SKIP.match(line) or line.startswith("template"):
            i += 1
            continue
        # Gather the signature up to the "{" that opens the body (or a ";": a declaration).
        j = i
        sig = ""
        while j < len(lines) and j < i + 12:
            sig += lines[j] + "\n"
            if "{" in lines[j] or lines[j].rstrip().endswith(";"):
                break
            j += 1
        head = sig.split("{", 1)[0]
        if "{" not in sig or "(" not in head or "=" in head.split("(", 1)[0]:
            i += 1
            continue
        # A body that closes on the same line as it opens ("{ return x; }").
        if sig.rstrip().endswith("}") and sig.count("{") == sig.count("}"):
            i = j + 1
            continue
        k = j + 1
        while k < len(lines) and lines[k] != "}" and not lines[k].startswith("};"):
            k += 1
        name = re.sub(r"\s+", " ", head.split("(", 1)[0]).strip().split(" ")[-1]
        out.append((k - i + 1, name, path, i + 1))
        i = k + 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=60)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    found = []
    for d in a.dirs:
        for root, _, files in os.walk(d):
            for name in sorted(files):
                if name.endswith((".cc", ".h")):
                    found += functions(os.path.join(root, name))
    found.sort(reverse=True)
    for n, name, path, line in found[: a.top]:
        print(f"{n:4d}  {path}:{line}  {name}")
    over = [f for f in found if f[0] > a.max]
    if a.top:
        print(f"-- {len(found)} functions; {len(over)} over {a.max} lines")
    for n, name, path, line in over:
        print(f"over {a.max}: {path}:{line} {name} ({n} lines)", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
