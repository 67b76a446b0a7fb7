#!/usr/bin/env bash
# Compiles each scheme's meter firmware image (the Swift sources under
# Sources/Firmware<Scheme>: symlinks to the core's, the scheme's own folders and its entry
# point in firmware/, as ONE module, like the SwiftPM target of the same name) with swiftc
# in Embedded mode with -no-allocations, then, per image,
#   - fails if the object references a heap allocator (malloc, calloc, realloc, free,
#     posix_memalign, aligned_alloc, memalign, swift_allocObject, swift_slowAlloc): -no-allocations
#     alone is not airtight (see docs/testing.md, "The firmware check"); GMP's allocating
#     mpz layer (__gmpz_*, which allocates inside C); or arc4random_buf (a meter's libc has
#     none: it comes from hashing, whose seed is random);
#   - prints the object's text / data / bss sizes: the image's flash and static RAM footprint.
#
# Usage: scripts/check-firmware.sh [--json] [--scheme NAME] [-Osize | -Onone] [--output-dir DIR] [--verbose]
#   --json           print only JSON on stdout (messages go to stderr): one object with
#                    --scheme, else an array with one object per image
#   --scheme NAME    only that scheme's image: lwr-psa, paillier or dmcfe
#   --list-schemes   print the schemes (one image each) and exit
#   -Osize           optimise for size (default; what a meter would ship)
#   -Onone           no optimisation (debug footprint)
#   --output-dir DIR keep the objects in DIR (default: .build/firmware), as Firmware<Scheme>-<opt>.o
#   --verbose        show the compiler's warnings too
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc),
#              FIRMWARE_TARGET (default: x86_64-unknown-linux-gnu).
#
# Exit status: 0 clean, 1 forbidden symbol referenced, 2 usage or build failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

json=0
scheme=""
list_schemes=0
opt="Osize"
output_dir=""
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
    --output-dir)
        [[ $# -ge 2 ]] || { echo "check-firmware: --output-dir needs a directory" >&2; exit 2; }
        output_dir="$2"
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

# The images: scheme name and SwiftPM target (Sources/<target>).
schemes=(lwr-psa paillier dmcfe)
target_of() {
    case "$1" in
    lwr-psa) echo FirmwareLWRPSA ;;
    paillier) echo FirmwarePaillier ;;
    dmcfe) echo FirmwareDMCFE ;;
    *) return 1 ;;
    esac
}

if ((list_schemes)); then
    printf '%s\n' "${schemes[@]}"
    exit 0
fi
if [[ -n "$scheme" ]]; then
    target_of "$scheme" >/dev/null || fail "no image for scheme '$scheme' (schemes: ${schemes[*]})"
    schemes=("$scheme")
fi
output_dir="${output_dir:-$root/.build/firmware}"
mkdir -p "$output_dir"

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

forbidden_re='^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign|swift_allocObject|swift_slowAlloc|arc4random_buf|__gmpz_.*)$'
rc_re='^(swift_(retain|release|bridgeObjectRetain|bridgeObjectRelease|unknownObjectRetain|unknownObjectRelease)(_n)?)(-0x[0-9a-f]+|\+0x[0-9a-f]+)?$'
json_items=()
status=0

for scheme in "${schemes[@]}"; do
    module="$(target_of "$scheme")"
    mapfile -t sources < <(find -L "Sources/$module" -name '*.swift' | LC_ALL=C sort)
    ((${#sources[@]})) || fail "no Swift sources under Sources/$module"
    output="$output_dir/$module-$opt.o"
    object="$tmp/$module.o"

    # Build in the temp dir so no module cache or object lands in the work tree.
    if ! "$swiftc" \
        -target "$target" \
        -enable-experimental-feature Embedded -no-allocations \
        -wmo -"$opt" -parse-as-library \
        -module-name "$module" \
        -module-cache-path "$tmp/module-cache" \
        -I "$root/Sources/CGMP" -I "$tmp/MeterHAL" \
        -c "${sources[@]}" -o "$object" >"$tmp/compile.log" 2>&1; then
        cat "$tmp/compile.log" >&2
        fail "the $scheme image does not compile in Embedded mode with -no-allocations (-$opt, $target)"
    fi
    warnings=$(grep -c ': warning: ' "$tmp/compile.log" || true)
    if ((verbose)); then cat "$tmp/compile.log" >&2; fi
    cp "$object" "$output.partial"
    mv -f "$output.partial" "$output"

    # ---- forbidden symbols ---------------------------------------------------------
    # The C allocators show up as undefined symbols. The Embedded runtime's own entry
    # points (swift_allocObject, swift_slowAlloc, ...) are emitted into the object as weak
    # definitions only when something uses them, so those count as defined or undefined.
    symbols="$(nm "$object")"
    undefined="$(awk 'NF == 2 && ($1 == "U" || $1 == "w" || $1 == "v") {print $2}' <<<"$symbols" | sort -u)"
    found="$(awk '{print $NF}' <<<"$symbols" | grep -E "$forbidden_re" | sort -u || true)"

    # ---- reference counting (reported, not a failure) -----------------------------
    # Under -no-allocations the compiler already rejects creating class instances, so a
    # retain/release can only touch an object that exists without the heap (a static or
    # stack-promoted one): it costs cycles, not memory. The runtime's swift_retain is
    # emitted as a weak definition whether or not anything calls it, so count call sites
    # (relocations), not symbols.
    rc_sites="$(objdump -r "$object" | awk '{print $3}' | grep -cE "$rc_re" || true)"

    # ---- sizes --------------------------------------------------------------------
    read -r text data bss _ < <(size "$object" | awk 'NR == 2')
    say "$scheme image ($module): text $text bytes, data $data bytes, bss $bss bytes"
    say "  ${#sources[@]} sources, -$opt, $target, $warnings compiler warning(s)$( ((verbose)) || ((warnings == 0)) || echo ' (--verbose shows them)'); object: ${output#"$root"/}"
    say "  external symbols: $(tr '\n' ' ' <<<"$undefined")"
    if ((rc_sites > 0)); then
        say "  note: $rc_sites retain/release call site(s) (reference counting without allocation; reported, not a failure)"
    fi
    if ((json)); then
        undefined_json="$(awk 'BEGIN {ORS=""} {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$undefined")"
        forbidden_json="$(awk 'BEGIN {ORS=""} NF {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$found")"
        json_items+=("$(printf '{"scheme": "%s", "module": "%s", "target": "%s", "optimization": "%s", "sources": %d, "text": %d, "data": %d, "bss": %d, "flash_bytes": %d, "static_ram_bytes": %d, "retain_release_call_sites": %d, "forbidden_symbols": [%s], "external_symbols": [%s]}' \
            "$scheme" "$module" "$target" "$opt" "${#sources[@]}" "$text" "$data" "$bss" $((text + data)) $((data + bss)) \
            "$rc_sites" "$forbidden_json" "$undefined_json")")
    fi
    if [[ -n "$found" ]]; then
        while read -r sym; do
            printf 'check-firmware: FAIL: the %s image references %s\n' "$scheme" "$sym" >&2
        done <<<"$found"
        printf 'check-firmware: find the caller with: objdump -dr %s | less  (search for the symbol)\n' \
            "${output#"$root"/}" >&2
        status=1
    else
        say "  no heap allocator, __gmpz_* or arc4random_buf referenced"
    fi
done

if ((json)); then
    if ((${#json_items[@]} == 1)) && [[ -n "$scheme" && ${#schemes[@]} == 1 ]]; then
        printf '%s\n' "${json_items[0]}"
    else
        printf '[%s]\n' "$(IFS=,; echo "${json_items[*]}")"
    fi
fi
exit "$status"
