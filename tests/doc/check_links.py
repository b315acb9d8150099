#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every relative link in README.md and doc/**/*.md points to a file or
directory of the source tree, and a #fragment on a Markdown target (or on
the page itself) names one of its headings, slugged as GitHub does.
Links to http(s)/mailto are skipped; links inside code are not links.
Usage: check_links.py SOURCE_DIR"""

import pathlib
import re
import sys

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+).*?\1")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def strip_code(lines):
    """The lines outside fenced blocks, inline code spans blanked."""
    fenced = False
    for no, line in enumerate(lines, 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield no, CODE_SPAN.sub("", line)


def slug(text):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # link text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        out = set()
        for _, line in strip_code(path.read_text(encoding="utf-8").splitlines()):
            m = HEADING.match(line)
            if not m:
                continue
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
        cache[path] = out
    return cache[path]


def check(src, page):
    errors = []
    text = page.read_text(encoding="utf-8").splitlines()
    for no, line in strip_code(text):
        targets = LINK.findall(line)
        m = REFDEF.match(line)
        if m:
            targets.append(m.group(1))
        for t in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I):
                continue  # http:, https:, mailto: ...
            where = f"{page.relative_to(src)}:{no}"
            path, _, frag = t.partition("#")
            dest = (page.parent / path).resolve() if path else page
            try:
                dest.relative_to(src)
            except ValueError:
                errors.append(f"{where}: '{t}' leaves the source tree")
                continue
            if not dest.exists():
                errors.append(f"{where}: '{t}': no such file")
                continue
            if frag and dest.suffix == ".md" and frag not in anchors(dest):
                errors.append(f"{where}: '{t}': no heading '#{frag}' in {dest.relative_to(src)}")
    return errors


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    pages = [src / "README.md"] + sorted((src / "doc").rglob("*.md"))
    errors = []
    for page in pages:
        if not page.exists():
            errors.append(f"{page.relative_to(src)}: missing")
            continue
        errors += check(src, page)
    for e in errors:
        print(f"check_links: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"check_links: {len(pages)} pages, every relative link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
