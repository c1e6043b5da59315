#!/usr/bin/env python3
"""Writes weir.json(5) from its template and the key reference in agent/config/README.md.

The reference between the BEGIN KEYS / END KEYS markers is generated from the schema table
(agent/config/schema.cc) and checked against it by config_schema_test, so the manual page made
from it cannot drift from the schema either. Python's standard library only: it runs at package
build time, on the build machine (also when cross-compiling), without network.

usage: config_man.py README.md weir.json.5.in OUT
"""
import re
import sys

BEGIN = "<!-- BEGIN KEYS"
END = "<!-- END KEYS -->"


def roff_text(md):
    """Markdown inline text to roff: `code` in bold, roff specials escaped."""
    out = []
    for i, part in enumerate(md.split("`")):
        part = part.replace("\\", "\\e").replace("-", "\\-")
        out.append("\\fB" + part + "\\fR" if i % 2 == 1 else part)
    text = "".join(out)
    # A line starting with '.' or "'" would be read as a request.
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def key_rows(readme):
    begin = readme.index(BEGIN)
    end = readme.index(END, begin)
    lines = readme[begin:end].splitlines()[1:]
    rows = []
    for line in lines:
        if not line.startswith("| `"):
            continue  # marker, header and separator rows
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 7:
            raise SystemExit("unexpected row in the key reference: " + line)
        rows.append(cells)
    if not rows:
        raise SystemExit("no keys found between the markers")
    return rows


def keys_roff(rows):
    out = []
    for key, type_, default, allowed, remote, applies, description in rows:
        out.append(".TP")
        out.append(roff_text(key))
        out.append(roff_text(f"{type_}; default {default}; {allowed}; "
                             f"remote: {remote}; applies: {applies}."))
        out.append(".br")
        out.append(roff_text(description))
    return "\n".join(out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = key_rows(f.read())
    with open(sys.argv[2], encoding="utf-8") as f:
        template = f.read()
    if "@KEYS@" not in template:
        raise SystemExit("template lacks @KEYS@")
    page = template.replace("@KEYS@", keys_roff(rows))
    # Leftover Markdown would show verbatim in the page.
    if re.search(r"^\|", page, re.M):
        raise SystemExit("a Markdown table row was left in the page")
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
