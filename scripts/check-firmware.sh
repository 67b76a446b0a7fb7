#!/usr/bin/env bash
# Compiles each scheme's meter firmware image (the Swift sources under
# Sources/Firmware<Scheme>: symlinks to the core's, the scheme's own folders and its entry
# point in firmware/, as ONE module, like the SwiftPM target of the same name) with swiftc
# in Embedded mode, then, per image,
#   - fails if the object calls a heap allocator (malloc, calloc, realloc, free,
#     posix_memalign, aligned_alloc, memalign, swift_allocObject, swift_slowAlloc), GMP's
#     allocating mpz layer (__gmpz_*, which allocates inside C) or arc4random_buf (a meter's
#     libc has none: it comes from hashing, whose seed is random);
#   - prints the object's text / data / bss sizes: the image's flash and static RAM footprint.
#
# Two targets:
#   x86_64 (default): compiled with -no-allocations, and the object must not reference any
#     of those symbols (nm): -no-allocations alone is not airtight (see docs/testing.md, "The
#     firmware check").
#   cortex-m4 (armv7em-none-none-eabi; -Osize, soft float, Thumb-2): compiled WITHOUT
#     -no-allocations, which reports allocations that are not there on 32-bit targets
#     (swiftlang/swift#86827: conversions into UInt64, non-masking 64-bit shifts); instead
#     the object is built with function sections and its relocations are followed from its
#     entry point (meter_main) as the linker's --gc-sections would (scripts/m4/reloc_check.py):
#     none may reach one of those symbols. The Embedded runtime's own allocating functions are
#     in every object, unreachable. GMP's headers come from scripts/build-gmp-m4.sh (GMP
#     cross-built for the M4 with 32-bit limbs, cached under .build/m4; built on first use),
#     the C library's from newlib. Sizes are arm-none-eabi-size's (Berkeley format) for the
#     Swift object alone: GMP, libgcc, newlib and the board are linked in by scripts/build-m4.sh.
#
# Usage: scripts/check-firmware.sh [--json] [--scheme NAME] [--target T] [-Osize | -Onone] [--output-dir DIR] [--verbose]
#   --json           print only JSON on stdout (messages go to stderr): one object with
#                    --scheme, else an array with one object per image
#   --scheme NAME    only that scheme's image: lwr-psa, paillier or dmcfe
#   --list-schemes   print the schemes (one image each) and exit
#   --target T       x86_64 (default) or cortex-m4; also the triples x86_64-unknown-linux-gnu
#                    and armv7em-none-none-eabi
#   -Osize           optimise for size (default; what a meter would ship)
#   -Onone           no optimisation (debug footprint)
#   --output-dir DIR keep the objects in DIR (default: .build/firmware for x86_64,
#                    .build/firmware/cortex-m4 for the M4), as Firmware<Scheme>-<opt>.o
#   --verbose        show the compiler's warnings too
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc),
#              FIRMWARE_TARGET (the default for --target), M4_BUILD (scripts/build-gmp-m4.sh's
#              cache, default .build/m4).
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
target="${FIRMWARE_TARGET:-x86_64}"
while (($#)); do
    case "$1" in
    --json) json=1 ;;
    --scheme)
        [[ $# -ge 2 ]] || { echo "check-firmware: --scheme needs a name" >&2; exit 2; }
        scheme="$2"
        shift
        ;;
    --list-schemes) list_schemes=1 ;;
    --target)
        [[ $# -ge 2 ]] || { echo "check-firmware: --target needs a name" >&2; exit 2; }
        target="$2"
        shift
        ;;
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
case "$target" in
x86_64 | x86_64-unknown-linux-gnu) target=x86_64-unknown-linux-gnu m4=0 ;;
cortex-m4 | armv7em-none-none-eabi) target=armv7em-none-none-eabi m4=1 ;;
*) fail "unknown target '$target' (x86_64 or cortex-m4)" ;;
esac

if ((m4)); then
    # shellcheck source=lib/m4.sh
    source "$root/scripts/lib/m4.sh"
    for tool in arm-none-eabi-size arm-none-eabi-readelf arm-none-eabi-nm arm-none-eabi-objdump python3; do
        command -v "$tool" >/dev/null 2>&1 ||
            fail "'$tool' not found (Debian: apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi python3)"
    done
    newlib_include=/usr/lib/arm-none-eabi/include
    [[ -f "$newlib_include/string.h" ]] || fail "newlib's headers are not in $newlib_include (libnewlib-arm-none-eabi)"
    nm=arm-none-eabi-nm size=arm-none-eabi-size objdump=arm-none-eabi-objdump
else
    for tool in nm size objdump; do
        command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found (Debian: apt-get install -y binutils)"
    done
    nm=nm size=size objdump=objdump
    # The C headers the firmware imports. CGMP's shim includes <gmp.h>: say so plainly
    # rather than through a module-map error.
    if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libgmp-dev >/dev/null 2>&1 \
        && [[ ! -e /usr/include/gmp.h && ! -e /usr/include/x86_64-linux-gnu/gmp.h ]]; then
        fail "gmp.h not found: install libgmp-dev (apt-get install -y libgmp-dev; scripts/test.sh does it)"
    fi
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
if ((m4)); then default_output="$root/.build/firmware/cortex-m4"; else default_output="$root/.build/firmware"; fi
output_dir="${output_dir:-$default_output}"
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

# The compiler's flags per target; on the M4 also CGMP over GMP's ARM gmp.h.
if ((m4)); then
    # GMP for the M4, built once per machine (its headers say GMP_LIMB_BITS 32).
    gmp_prefix="$("$root/scripts/build-gmp-m4.sh" --print-prefix)" || fail "GMP for the M4 did not build (scripts/build-gmp-m4.sh)"
    grep -q '^#define GMP_LIMB_BITS  *32$' "$gmp_prefix/include/gmp.h" ||
        fail "$gmp_prefix/include/gmp.h is not GMP with 32-bit limbs"
    mkdir -p "$tmp/CGMP"
    printf 'module CGMP {\n    header "%s"\n    export *\n}\n' "$root/Sources/CGMP/gmp_mpn.h" >"$tmp/CGMP/module.modulemap"
    target_flags=(-Xcc -mfloat-abi=soft -Xcc -mcpu=cortex-m4 -Xfrontend -disable-stack-protector
        -Xfrontend -function-sections -I "$tmp/CGMP" -Xcc "-I$gmp_prefix/include"
        -Xcc -isystem -Xcc "$newlib_include")
    allocation_flags=()
    allocation_check="relocations reachable from meter_main (scripts/m4/reloc_check.py)"
else
    target_flags=(-I "$root/Sources/CGMP")
    allocation_flags=(-no-allocations)
    allocation_check="-no-allocations and nm"
fi

forbidden_re='^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign|swift_allocObject|swift_slowAlloc|arc4random_buf|__gmpz_.*)$'
# On the M4 the same names as relocation targets, the Embedded runtime's mangled Swift
# entry points included (as scripts/build-m4.sh checks them).
m4_forbidden_re='^(malloc|calloc|realloc|free|posix_memalign|memalign|aligned_alloc|arc4random_buf|__gmpz_[A-Za-z0-9_]*|.*swift_allocObject.*|.*swift_slowAlloc.*)$'
rc_re='^(swift_(retain|release|bridgeObjectRetain|bridgeObjectRelease|unknownObjectRetain|unknownObjectRelease)(_n)?)(-0x[0-9a-f]+|\+0x[0-9a-f]+)?$'
json_items=()
status=0
size_header_said=0

for scheme in "${schemes[@]}"; do
    module="$(target_of "$scheme")"
    mapfile -t sources < <(find -L "Sources/$module" -name '*.swift' | LC_ALL=C sort)
    ((${#sources[@]})) || fail "no Swift sources under Sources/$module"
    output="$output_dir/$module-$opt.o"
    object="$tmp/$module.o"

    # Build in the temp dir so no module cache or object lands in the work tree.
    if ! "$swiftc" \
        -target "$target" \
        -enable-experimental-feature Embedded "${allocation_flags[@]+"${allocation_flags[@]}"}" \
        -wmo -"$opt" -parse-as-library \
        -module-name "$module" \
        -module-cache-path "$tmp/module-cache" \
        -I "$tmp/MeterHAL" "${target_flags[@]}" \
        -c "${sources[@]}" -o "$object" >"$tmp/compile.log" 2>&1; then
        cat "$tmp/compile.log" >&2
        fail "the $scheme image does not compile in Embedded mode ${allocation_flags[*]+"with ${allocation_flags[*]} "}(-$opt, $target)"
    fi
    warnings=$(grep -c ': warning: ' "$tmp/compile.log" || true)
    if ((verbose)); then cat "$tmp/compile.log" >&2; fi
    cp "$object" "$output.partial"
    mv -f "$output.partial" "$output"

    # ---- forbidden symbols ---------------------------------------------------------
    symbols="$("$nm" "$object")"
    undefined="$(awk 'NF == 2 && ($1 == "U" || $1 == "w" || $1 == "v") {print $2}' <<<"$symbols" | sort -u)"
    unreachable=""
    if ((m4)); then
        # Relocations followed from meter_main through the function sections: only what
        # the linker keeps counts (the runtime's allocating functions are in every object).
        reloc_status=0
        reloc_report="$(python3 "$root/scripts/m4/reloc_check.py" "$object" --root meter_main \
            --forbid "$m4_forbidden_re")" || reloc_status=$?
        ((reloc_status <= 1)) || { printf '%s\n' "$reloc_report" >&2; fail "the relocation check of the $scheme image failed to run"; }
        found="$(sed -n 's/^FAIL reachable: \([^ ]*\) .*/\1/p' <<<"$reloc_report" | sort -u)"
        unreachable="$(sed -n 's/.*present but unreachable (dropped by --gc-sections): //p' <<<"$reloc_report" | tr -d ',')"
    else
        # The C allocators show up as undefined symbols. The Embedded runtime's own entry
        # points (swift_allocObject, swift_slowAlloc, ...) are emitted into the object as weak
        # definitions only when something uses them, so those count as defined or undefined.
        found="$(awk '{print $NF}' <<<"$symbols" | grep -E "$forbidden_re" | sort -u || true)"
    fi

    # ---- reference counting (reported, not a failure) -----------------------------
    # Under -no-allocations the compiler already rejects creating class instances, so a
    # retain/release can only touch an object that exists without the heap (a static or
    # stack-promoted one): it costs cycles, not memory. The runtime's swift_retain is
    # emitted as a weak definition whether or not anything calls it, so count call sites
    # (relocations), not symbols. (On the M4, every relocation in the object, reachable or not.)
    rc_sites="$("$objdump" -r "$object" | awk '{print $3}' | grep -cE "$rc_re" || true)"

    # ---- sizes --------------------------------------------------------------------
    berkeley="$("$size" "$object")"
    read -r text data bss _ < <(awk 'NR == 2' <<<"$berkeley")
    if ((m4)); then
        # arm-none-eabi-size's own lines (header once), with the object's path in the repository.
        if ((!size_header_said)); then say "$(awk 'NR == 1' <<<"$berkeley")"; size_header_said=1; fi
        say "$(awk 'NR == 2' <<<"$berkeley" | sed "s|$tmp/$module.o|${output#"$root"/}|")"
    fi
    say "$scheme image ($module): text $text bytes, data $data bytes, bss $bss bytes"
    say "  ${#sources[@]} sources, -$opt, $target, $warnings compiler warning(s)$( ((verbose)) || ((warnings == 0)) || echo ' (--verbose shows them)'); object: ${output#"$root"/}"
    say "  external symbols: $(tr '\n' ' ' <<<"$undefined")"
    if [[ -n "$unreachable" ]]; then
        say "  present but unreachable from meter_main (the Embedded runtime's; dropped by --gc-sections): $unreachable"
    fi
    if ((rc_sites > 0)); then
        say "  note: $rc_sites retain/release call site(s) (reference counting without allocation; reported, not a failure)"
    fi
    if ((json)); then
        undefined_json="$(awk 'BEGIN {ORS=""} {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$undefined")"
        forbidden_json="$(awk 'BEGIN {ORS=""} NF {printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0}' <<<"$found")"
        json_items+=("$(printf '{"scheme": "%s", "module": "%s", "target": "%s", "optimization": "%s", "sources": %d, "text": %d, "data": %d, "bss": %d, "flash_bytes": %d, "static_ram_bytes": %d, "retain_release_call_sites": %d, "allocation_check": "%s", "forbidden_symbols": [%s], "external_symbols": [%s]}' \
            "$scheme" "$module" "$target" "$opt" "${#sources[@]}" "$text" "$data" "$bss" $((text + data)) $((data + bss)) \
            "$rc_sites" "$allocation_check" "$forbidden_json" "$undefined_json")")
    fi
    if [[ -n "$found" ]]; then
        if ((m4)); then
            grep '^FAIL reachable: ' <<<"$reloc_report" | sed "s/^/check-firmware: the $scheme image: /" >&2
        fi
        while read -r sym; do
            printf 'check-firmware: FAIL: the %s image %s %s\n' "$scheme" "$( ((m4)) && echo calls || echo references)" "$sym" >&2
        done <<<"$found"
        printf 'check-firmware: find the caller with: %s -dr %s | less  (search for the symbol)\n' \
            "$objdump" "${output#"$root"/}" >&2
        status=1
    else
        say "  no heap allocator, __gmpz_* or arc4random_buf $( ((m4)) && echo 'reachable (relocations from meter_main)' || echo referenced)"
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
