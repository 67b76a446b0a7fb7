#!/usr/bin/env bash
# Compiles the meter firmware (every *.swift under firmware/MeterCrypto and
# firmware/MeterFirmware, as ONE module, like the SwiftPM target FirmwareEmbedded)
# with swiftc in Embedded mode with -no-allocations, then
#   - fails if the object references a heap allocator (malloc, calloc, realloc, free,
#     posix_memalign, aligned_alloc, swift_allocObject, swift_slowAlloc): -no-allocations
#     alone is not airtight (see docs/testing.md, "The firmware check");
#   - prints the object's text / data / bss sizes: the flash and static RAM footprint.
#
# Usage: scripts/check-firmware.sh [--json] [--scheme NAME] [-Osize | -Onone] [--output FILE] [--verbose]
#   --json         print only a JSON object with the sizes on stdout (messages go to stderr)
#   --scheme NAME  a firmware with only that scheme: the `shared` sources of
#                  firmware/schemes.conf plus NAME's, with -D PM_SINGLE_SCHEME and
#                  -D PM_SCHEME_<NAME> (the flash footprint per scheme of `metering cost`)
#   --list-schemes print the schemes firmware/schemes.conf defines and exit
#   -Osize         optimise for size (default; what a meter would ship)
#   -Onone         no optimisation (debug footprint)
#   --output FILE  keep the object at FILE (default: .build/firmware/FirmwareEmbedded-<opt>.o)
#   --verbose      show the compiler's warnings too
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc),
#              FIRMWARE_TARGET (default: x86_64-unknown-linux-gnu).
#
# Exit status: 0 clean, 1 forbidden allocator referenced, 2 usage or build failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

json=0
scheme=""
list_schemes=0
opt="Osize"
output=""
verbose=0
while (($#)); do
    case "$1" in
    --json) json=1 ;;
    --scheme)
        [[ $# -ge 2 ]] || { echo "check-firmware: --scheme needs a name" >&2; exit 2; }
        scheme="$2"
        shift
        ;;
    --list-schemes) list_schemes=1 ;;
    -Osize | --Osize) opt="Osize" ;;
    -Onone | --Onone) opt="Onone" ;;
    --output)
        [[ $# -ge 2 ]] || { echo "check-firmware: --output needs a file" >&2; exit 2; }
        output="$2"
        shift
        ;;
    --verbose | -v) verbose=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "check-firmware: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

# Human-readable output goes to stdout, or to stderr when stdout carries the JSON.
say() {
    if ((json)); then printf '%s\n' "$*" >&2; else printf '%s\n' "$*"; fi
}
fail() {
    printf 'check-firmware: %s\n' "$*" >&2
    exit "${2:-2}"
}

swiftc="${SWIFTC:-}"
if [[ -z "$swiftc" ]]; then
    if command -v swiftc >/dev/null 2>&1; then
        swiftc="$(command -v swiftc)"
    elif [[ -x /opt/swift/usr/bin/swiftc ]]; then
        swiftc=/opt/swift/usr/bin/swiftc
    else
        fail "swiftc not found (set SWIFTC or put the Swift toolchain on PATH)"
    fi
fi
target="${FIRMWARE_TARGET:-x86_64-unknown-linux-gnu}"
for tool in nm size objdump; do
    command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found (Debian: apt-get install -y binutils)"
done

# The C headers the firmware imports. CGMP's shim includes <gmp.h>: say so plainly
# rather than through a module-map error.
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libgmp-dev >/dev/null 2>&1 \
    && [[ ! -e /usr/include/gmp.h && ! -e /usr/include/x86_64-linux-gnu/gmp.h ]]; then
    fail "gmp.h not found: install libgmp-dev (apt-get install -y libgmp-dev; scripts/test.sh does it)"
fi

shopt -s nullglob
all_sources=(firmware/MeterCrypto/*.swift firmware/MeterFirmware/*.swift)
shopt -u nullglob
((${#all_sources[@]})) || fail "no Swift sources under firmware/MeterCrypto or firmware/MeterFirmware"

# ---- per-scheme builds (firmware/schemes.conf) -----------------------------------------
manifest="firmware/schemes.conf"
# The files listed for one name ("shared", "lwr-psa", ...), one per line.
manifest_files() {
    awk -v name="$1" '
        { sub(/#.*/, "") }
        $1 == name ":" { for (i = 2; i <= NF; i++) print $i; found = 1 }
        END { exit found ? 0 : 1 }' "$manifest"
}
manifest_schemes() { awk '{ sub(/#.*/, "") } $1 ~ /:$/ && $1 != "shared:" { sub(/:$/, "", $1); print $1 }' "$manifest"; }

if ((list_schemes)); then
    [[ -f "$manifest" ]] || fail "$manifest not found"
    manifest_schemes
    exit 0
fi

defines=()
unlisted=()
if [[ -n "$scheme" ]]; then
    [[ -f "$manifest" ]] || fail "$manifest not found (needed for --scheme)"
    [[ "$scheme" != shared ]] || fail "'shared' is not a scheme (try --list-schemes)"
    manifest_files "$scheme" >/dev/null \
        || fail "scheme '$scheme' is not in $manifest (schemes: $(manifest_schemes | tr '\n' ' '))"
    mapfile -t wanted < <(manifest_files shared || true; manifest_files "$scheme")
    for f in "${wanted[@]}"; do
        [[ -f "firmware/$f" ]] || fail "$manifest lists firmware/$f, which does not exist"
    done
    # In the order of the full build, so that the same set of files gives the same object.
    sources=()
    for f in "${all_sources[@]}"; do
        [[ " ${wanted[*]} " == *" ${f#firmware/} "* ]] && sources+=("$f")
    done
    # Sources under no line of the manifest are left out; say so.
    mapfile -t listed < <(awk '{ sub(/#.*/, "") } $1 ~ /:$/ { for (i = 2; i <= NF; i++) print "firmware/" $i }' "$manifest")
    for f in "${all_sources[@]}"; do
        [[ " ${listed[*]} " == *" $f "* ]] || unlisted+=("$f")
    done
    scheme_define="PM_SCHEME_$(tr 'a-z-' 'A-Z_' <<<"$scheme")"
    defines=(-D PM_SINGLE_SCHEME -D "$scheme_define")
else
    sources=("${all_sources[@]}")
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/check-firmware.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# MeterHAL is a SwiftPM C target (headers in hal/include, no module map of its own):
# give it one for this compilation, with absolute header paths.
mkdir -p "$tmp/MeterHAL"
{
    echo "module MeterHAL {"
    for h in "$root"/hal/include/*.h; do echo "    header \"$h\""; done
    echo "    export *"
    echo "}"
} >"$tmp/MeterHAL/module.modulemap"

if [[ -z "$output" ]]; then
    output="$root/.build/firmware/FirmwareEmbedded${scheme:+-$scheme}-$opt.o"
fi
mkdir -p "$(dirname "$output")"
object="$tmp/FirmwareEmbedded.o"

# Build in the temp dir so no module cache or object lands in the work tree.
if ! "$swiftc" \
    -target "$target" \
    -enable-experimental-feature Embedded -no-allocations \
    -wmo -"$opt" -parse-as-library \
    -module-name FirmwareEmbedded \
    -module-cache-path "$tmp/module-cache" \
    -I "$root/Sources/CGMP" -I "$tmp/MeterHAL" \
    "${defines[@]+"${defines[@]}"}" \
    -c "${sources[@]}" -o "$object" >"$tmp/compile.log" 2>&1; then
    cat "$tmp/compile.log" >&2
    fail "the firmware${scheme:+ with only $scheme} does not compile in Embedded mode with -no-allocations (-$opt, $target)"
fi
warnings=$(grep -c ': warning: ' "$tmp/compile.log" || true)
if ((verbose)); then cat "$tmp/compile.log" >&2; fi
cp "$object" "$output.partial"
mv -f "$output.partial" "$output"

# ---- heap allocators -------------------------------------------------------------
# The C allocators show up as undefined symbols. The Embedded runtime's own entry
# points (swift_allocObject, swift_slowAlloc, ...) are emitted into the object as weak
# definitions only when something uses them, so those count as defined or undefined.
forbidden_re='^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|swift_allocObject|swift_slowAlloc)$'
symbols="$(nm "$object")"
undefined="$(awk 'NF == 2 && ($1 == "U" || $1 == "w" || $1 == "v") {print $2}' <<<"$symbols" | sort -u)"
found="$(awk '{print $NF}' <<<"$symbols" | grep -E "$forbidden_re" | sort -u || true)"

# ---- reference counting (reported, not a failure) ---------------------------------
# Under -no-allocations the compiler already rejects creating class instances, so a
# retain/release can only touch an object that exists without the heap (a static or
# stack-promoted one): it costs cycles, not memory. The runtime's swift_retain is
# emitted as a weak definition whether or not anything calls it, so count call sites
# (relocations), not symbols.
rc_re='^(swift_(retain|release|bridgeObjectRetain|bridgeObjectRelease|unknownObjectRetain|unknownObjectRelease)(_n)?)(-0x[0-9a-f]+|\+0x[0-9a-f]+)?$'
rc_sites="$(objdump -r "$object" | awk '{print $3}' | grep -cE "$rc_re" || true)"

# ---- sizes --------------------------------------------------------------------------
read -r text data bss _ < <(size "$object" | awk 'NR == 2')

if ((!json)); then
    size "$object" | sed "s|$object|$(basename "$output")|"
fi
say "firmware${scheme:+ ($scheme only)}: text $text bytes, data $data bytes, bss $bss bytes"
for f in "${unlisted[@]+"${unlisted[@]}"}"; do
    printf 'check-firmware: warning: %s is not in %s: left out of the %s build\n' "$f" "$manifest" "$scheme" >&2
done
say "  ${#sources[@]} sources, -$opt, $target, $warnings compiler warning(s)$( ((verbose)) || ((warnings == 0)) || echo ' (--verbose shows them)'); object: ${output#"$root"/}"
say "  external symbols: $(tr '\n' ' ' <<<"$undefined")"
if ((rc_sites > 0)); then
    say "  note: $rc_sites retain/release call site(s) (reference counting without allocation; reported, not a failure)"
fi

if ((json)); then
    undefined_json="$(awk 'BEGIN {ORS=""} {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$undefined")"
    forbidden_json="$(awk 'BEGIN {ORS=""} NF {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$found")"
    unlisted_json="$(printf '%s\n' "${unlisted[@]+"${unlisted[@]}"}" | awk 'BEGIN {ORS=""} NF {printf "%s\"%s\"", (n++ ? ", " : ""), $0}')"
    printf '{"scheme": "%s", "target": "%s", "optimization": "%s", "sources": %d, "text": %d, "data": %d, "bss": %d, "flash_bytes": %d, "static_ram_bytes": %d, "retain_release_call_sites": %d, "forbidden_symbols": [%s], "external_symbols": [%s], "unlisted_sources": [%s]}\n' \
        "${scheme:-all}" "$target" "$opt" "${#sources[@]}" "$text" "$data" "$bss" $((text + data)) $((data + bss)) \
        "$rc_sites" "$forbidden_json" "$undefined_json" "$unlisted_json"
fi

if [[ -n "$found" ]]; then
    while read -r sym; do
        printf 'check-firmware: FAIL: the Embedded firmware object references %s (heap allocation)\n' "$sym" >&2
    done <<<"$found"
    printf 'check-firmware: find the caller with: objdump -dr %s | less  (search for the symbol)\n' \
        "${output#"$root"/}" >&2
    exit 1
fi
say "firmware: no heap allocator referenced"
