#!/usr/bin/env python3
"""Keeps the code base readable: no Rust file outside tests/ over 450 lines (an inline
#[cfg(test)] module does not count), no function over 120 lines (as rustfmt lays it out), no
`use super::*` outside test modules, and no ledger event type named by a string literal
outside domain/. Exits 1 naming each offender."""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_FILE, MAX_FN = 450, 120
CRATES = ["domain", "infra", "projections", "app", "api"]


def code_lines(text):
    """The lines before the file's first `#[cfg(test)]` module."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]") and i + 1 < len(lines) and lines[i + 1].startswith("mod "):
            return lines[:i]
    return lines


def functions(lines):
    """(name, first line, length) of every `fn` whose body is a brace block."""
    out = []
    fn = re.compile(r"^\s*(pub(\([a-z:]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([a-zA-Z0-9_]+)")
    for i, line in enumerate(lines):
        m = fn.match(line)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            s = re.sub(r'"([^"\\]|\\.)*"', '""', lines[j])
            s = re.sub(r"//.*", "", s)
            for ch in s:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
            if not started and s.rstrip().endswith(";"):
                break
            if started and depth <= 0:
                out.append((m.group(6), i + 1, j - i + 1))
                break
    return out


def main():
    bad = []
    events = set()
    for p in (ROOT / "domain/src").glob("*.rs"):
        events |= set(re.findall(r'=> "([A-Z][A-Za-z]+)",?\s*$', p.read_text(), re.M))
    for crate in CRATES:
        for p in sorted((ROOT / crate / "src").rglob("*.rs")):
            rel = p.relative_to(ROOT)
            lines = code_lines(p.read_text())
            if len(lines) > MAX_FILE:
                bad.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE} besides its tests)")
            for name, start, n in functions(lines):
                if n > MAX_FN:
                    bad.append(f"{rel}:{start}: fn {name} has {n} lines (at most {MAX_FN})")
            for i, line in enumerate(lines):
                if re.match(r"\s*use super::\*;", line):
                    bad.append(f"{rel}:{i + 1}: `use super::*` outside a test module")
                if crate != "domain":
                    for e in events:
                        if f'"{e}"' in line:
                            bad.append(f"{rel}:{i + 1}: event type {e} as a string literal (match on LedgerEvent)")
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print(f"structure ok: {len(CRATES)} crates, files ≤ {MAX_FILE} lines, functions ≤ {MAX_FN}")


if __name__ == "__main__":
    main()
