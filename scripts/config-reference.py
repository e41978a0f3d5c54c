#!/usr/bin/env python3
"""The tables of docs/configuration.md are generated from the option table in
src/server/config.cpp (`switchyard --help-config=markdown`): each lives between
`<!-- BEGIN generated: SECTION ... -->` and `<!-- END generated: SECTION -->`, and the prose
around them is hand-written.

    scripts/config-reference.py            rewrite the generated blocks in place
    scripts/config-reference.py --check    exit 1 (with a diff) if the page differs

The binary is build/bin/switchyard, or $SY_BIN_DIR/switchyard.
tests/integration/test_config_doc.py runs the check, so the page cannot drift from the table."""
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "configuration.md")
BLOCK = re.compile(r"<!-- BEGIN generated: (\S+) .*?-->\n.*?<!-- END generated: \1 -->\n", re.S)


def generated(binary):
    out = subprocess.run([binary, "--help-config=markdown"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return {m.group(1): m.group(0) for m in BLOCK.finditer(out)}


def rewrite(page, blocks):
    """The page with each generated block replaced; raises if the page and the table do not
    have the same sections."""
    in_page = [m.group(1) for m in BLOCK.finditer(page)]
    if sorted(in_page) != sorted(blocks):
        raise SystemExit(f"{DOC}: generated sections {in_page}, the option table has "
                         f"{sorted(blocks)}: add or remove the BEGIN/END markers")
    return BLOCK.sub(lambda m: blocks[m.group(1)], page)


def main():
    binary = os.path.join(os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin")),
                          "switchyard")
    with open(DOC) as f:
        page = f.read()
    new = rewrite(page, generated(binary))
    if "--check" in sys.argv[1:]:
        if new != page:
            sys.stdout.writelines(difflib.unified_diff(
                page.splitlines(True), new.splitlines(True), DOC, "generated"))
            print(f"\n{DOC} differs from the option table: run scripts/config-reference.py")
            return 1
        return 0
    if new != page:
        with open(DOC, "w") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
