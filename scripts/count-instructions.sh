#!/usr/bin/env bash
# Instructions per meter reading, per scheme configuration, counted by valgrind's
# callgrind (these machines expose no hardware counters).
#
# For each configuration it runs `metering cost --instruction-probe ID`: a meter on a
# simulated board after a real key setup, a few warm-up readings, then ONE reading whose
# prepare step runs inside the C function pm_cost_region_prepare and whose boundary step
# inside pm_cost_region_boundary. callgrind collects only inside those two functions
# (--toggle-collect), and callgrind_annotate gives each one's inclusive count.
# The figures are x86_64 instructions of the host build (release), not cycles of a meter's
# MCU; they repeat to about 1e-5 from run to run.
#
# Usage: scripts/count-instructions.sh [--json] [--binary PATH] [ID ...]
#   ID            scheme/parameters/variant, e.g. lwr-psa/standard/seed
#                 (default: every configuration, from `metering cost --list-variants`)
#   --binary PATH the metering executable (default: swift build -c release --product metering)
#   --json        only a JSON object on stdout (messages go to stderr):
#                 {"tool": "callgrind", "readings": [{"variant", "prepare", "boundary", "per_reading"}]}
# Installs Debian's valgrind when it is missing (scripts/lib/setup.sh; SKIP_INSTALL=1 only checks).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$SECONDS
step() { printf '==> %s  [%ds]\n' "$*" $((SECONDS - started)) >&2; }
die() {
    printf 'count-instructions: %s\n' "$*" >&2
    exit 2
}

json=0
binary=""
ids=()
while (($#)); do
    case "$1" in
    --json) json=1 ;;
    --binary)
        [[ $# -ge 2 ]] || die "--binary needs a path"
        binary="$2"
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) ids+=("$1") ;;
    esac
    shift
done

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
    apt_install valgrind >&2
fi

if [[ -z "$binary" ]]; then
    setup_swift
    setup_build_packages >&2
    step "swift build -c release --product metering"
    swift build -c release --product metering >&2
    binary="$(swift build -c release --show-bin-path)/metering"
fi
[[ -x "$binary" ]] || die "not an executable: $binary"

if ((${#ids[@]} == 0)); then
    mapfile -t ids < <("$binary" cost --list-variants)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/count-instructions.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# valgrind 3.19 (Debian 12) gives up on the DWARF of Swift 6.3 executables ("Possibly
# corrupted debuginfo file"); a copy without debug sections keeps the symbol table, which
# is all callgrind needs for function names.
command -v objcopy >/dev/null 2>&1 || apt_install binutils >&2
objcopy --strip-debug "$binary" "$tmp/metering" || die "objcopy --strip-debug failed on $binary"

# Inclusive instructions of one function from callgrind_annotate's listing, e.g.
#   1,234,567 (98.12%)  /path/cost_probes.c:pm_cost_region_prepare [/path/metering]
inclusive() {
    awk -v fn="$2" '
        index($0, ":" fn " ") || $NF == fn || index($0, ":" fn "\n") {
            n = $1; gsub(/,/, "", n)
            if (n ~ /^[0-9]+$/) { print n; found = 1; exit }
        }
        END { if (!found) exit 1 }' "$1"
}

rows=()
for id in "${ids[@]}"; do
    step "callgrind: one reading of $id"
    out="$tmp/callgrind.out"
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect=pm_cost_region_prepare --toggle-collect=pm_cost_region_boundary \
        "$tmp/metering" cost --instruction-probe "$id" >"$tmp/probe.log" 2>&1; then
        cat "$tmp/probe.log" >&2
        die "the probe for $id failed under valgrind"
    fi
    callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$tmp/annotate.txt" 2>/dev/null \
        || die "callgrind_annotate failed on the output for $id"
    prepare="$(inclusive "$tmp/annotate.txt" pm_cost_region_prepare)" \
        || die "no count for pm_cost_region_prepare in the callgrind output of $id"
    boundary="$(inclusive "$tmp/annotate.txt" pm_cost_region_boundary)" \
        || die "no count for pm_cost_region_boundary in the callgrind output of $id"
    rows+=("$id $prepare $boundary")
done

if ((json)); then
    printf '{"tool": "callgrind", "valgrind": "%s", "binary": "%s", "readings": [' \
        "$(valgrind --version)" "$binary"
    sep=""
    for row in "${rows[@]}"; do
        read -r id prepare boundary <<<"$row"
        printf '%s{"variant": "%s", "prepare": %d, "boundary": %d, "per_reading": %d}' \
            "$sep" "$id" "$prepare" "$boundary" $((prepare + boundary))
        sep=", "
    done
    printf ']}\n'
else
    printf '%-34s %14s %14s %14s\n' "configuration" "prepare" "boundary" "per reading"
    for row in "${rows[@]}"; do
        read -r id prepare boundary <<<"$row"
        printf '%-34s %14d %14d %14d\n' "$id" "$prepare" "$boundary" $((prepare + boundary))
    done
    printf '\ninstructions (callgrind Ir) of one reading: x86_64 host build, %s\n' "$binary"
fi
