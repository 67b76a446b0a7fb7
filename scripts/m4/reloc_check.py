#!/usr/bin/env python3
"""Relocation check of an ARM ELF object built with function sections (scripts/build-m4.sh).

Follows relocations from the object's C-callable entry points (global functions whose
names are not Swift-mangled and not the Embedded runtime's swift_*: `main`, @_cdecl
functions; plus --root SYMBOL) through the sections they reach, as the linker's
--gc-sections does, and fails if a reachable relocation names a forbidden symbol. The
Embedded runtime's own allocating entry points (swift_allocObject, swift_slowAlloc, ...)
are emitted into every object; they only count when something reachable calls them.

Usage: reloc_check.py OBJECT --forbid REGEX [--root SYMBOL]... [--readelf PATH]
Prints one line per reachable forbidden symbol with the chain that reaches it, and a
summary; exit status 1 when one is reachable.
"""
import argparse
import re
import subprocess
import sys
from collections import defaultdict, deque


def readelf(tool: str, flag: str, obj: str) -> str:
    return subprocess.run([tool, flag, "-W", obj], check=True, capture_output=True, text=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("object")
    ap.add_argument("--forbid", required=True)
    ap.add_argument("--root", action="append", default=[])
    ap.add_argument("--readelf", default="arm-none-eabi-readelf")
    a = ap.parse_args()
    forbid = re.compile(a.forbid)

    # Sections: index -> name.
    sections = {}
    for line in readelf(a.readelf, "-S", a.object).splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)", line)
        if m:
            sections[int(m.group(1))] = m.group(2)

    # Symbols: name -> section name (defined) ; roots.
    defined = {}
    roots = []
    for line in readelf(a.readelf, "-s", a.object).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":"):
            continue
        _, _, _, kind, bind, _, ndx, name = f[:8]
        if not ndx.isdigit():
            continue
        sec = sections.get(int(ndx))
        if kind == "SECTION":
            continue
        defined[name] = sec
        c_callable = not name.startswith(("$", "swift_", "_swift_", "OUTLINED_FUNCTION", ".L"))
        if kind == "FUNC" and bind in ("GLOBAL", "WEAK") and c_callable:
            roots.append(name)
    roots += a.root
    section_names = set(sections.values())

    # Relocations: source section -> target names (symbols or sections).
    edges = defaultdict(set)
    current = None
    for line in readelf(a.readelf, "-r", a.object).splitlines():
        m = re.match(r"Relocation section '\.rel(?:a)?(\S*)'", line)
        if m:
            current = m.group(1)
            continue
        f = line.split()
        if current is None or len(f) < 5 or not re.fullmatch(r"[0-9a-f]+", f[0]):
            continue
        if current.startswith(".ARM.exidx"):
            continue  # unwind tables point back at their function and at the personality
        edges[current].add(re.sub(r"[+-]\s*\d+$", "", f[4]))

    # Breadth-first from the roots: nodes are sections (defined) or external names.
    parent = {}
    queue = deque()
    for r in roots:
        if r not in defined:
            print(f"reloc_check: root {r} is not defined in {a.object}", file=sys.stderr)
            return 2
        node = defined[r]
        if node not in parent:
            parent[node] = None
            queue.append(node)
    # Sections the linker keeps whatever references them (retained, init arrays).
    for sec in section_names:
        if sec.startswith((".init_array", ".preinit_array", ".text._swift_exceptionPersonality")):
            parent.setdefault(sec, None)
            queue.append(sec)
    reached_forbidden = []
    while queue:
        node = queue.popleft()
        for target in sorted(edges.get(node, ())):
            nxt = defined.get(target, target if target in section_names else None)
            if nxt is None:  # external symbol
                if forbid.search(target) and target not in parent:
                    parent[target] = node
                    reached_forbidden.append(target)
                continue
            if forbid.search(target) and target not in parent:
                parent[target] = node
                reached_forbidden.append(target)
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)

    everywhere = {t for ts in edges.values() for t in ts if forbid.search(t)}
    for sym in reached_forbidden:
        chain, node = [sym], parent[sym]
        while node is not None:
            chain.append(node)
            node = parent.get(node)
        print("FAIL reachable: " + " <- ".join(chain))
    unreachable = sorted(everywhere - set(reached_forbidden))
    print(
        f"reloc_check: roots {', '.join(roots) or '(none)'}; {len(reached_forbidden)} forbidden symbol(s) reachable"
        + (f"; present but unreachable (dropped by --gc-sections): {', '.join(unreachable)}" if unreachable else "")
    )
    return 1 if reached_forbidden else 0


if __name__ == "__main__":
    sys.exit(main())
