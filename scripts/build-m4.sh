#!/usr/bin/env bash
# Builds a Cortex-M4 image for QEMU's mps2-an386 from Swift sources (one Embedded Swift
# module), the board (hal/mps2) and optionally GMP (scripts/build-gmp-m4.sh), then
#   - fails if the Swift object has a relocation, reachable from its entry points (main,
#     @_cdecl functions; scripts/m4/reloc_check.py follows them through the function
#     sections), to a heap allocator (malloc, calloc, realloc, free, posix_memalign,
#     memalign, aligned_alloc, swift_allocObject, swift_slowAlloc), to GMP's allocating
#     mpz layer (__gmpz_*) or to arc4random_buf.
#     On 32-bit targets -no-allocations reports allocations that are not there
#     (swiftlang/swift#86827), so this check replaces it here; the x86 Embedded build
#     (swift build, scripts/check-firmware.sh) keeps -no-allocations;
#   - prints arm-none-eabi-size of the Swift object and of the linked image:
#     flash = text + data, RAM = data + bss + the reserved stack.
#
# Usage: scripts/build-m4.sh [options] SWIFT-SOURCE...
#   --name NAME      image name (default: the first source's base name); the files go to
#                    .build/m4/images/NAME/: NAME.o (Swift), NAME.elf, NAME.map
#   --c FILE.c       a C source for the image (repeatable), compiled like the board
#   --gmp            link GMP for the M4 (built and cached on first use) and give the
#                    Swift module CGMP (Sources/CGMP/gmp_mpn.h) over its gmp.h
#   -D NAME          a Swift compilation condition (repeatable)
#   --stack BYTES    the stack reserved by the linker script (default 262144)
#   --keep SYMBOL    keep SYMBOL and all it reaches in the link (repeatable; e.g. meter_main,
#                    so a bench's flash figure includes the firmware image's whole entry point)
#   -Onone           no optimisation (default -Osize)
#   --json           also print one JSON line with the sizes (last line of stdout)
# Modules the Swift sources may import: MPS2Board (hal/mps2/mps2_board.h), MeterHAL
# (hal/include/meter_hal.h), CGMP (with --gmp). Entry point: a C-callable main, e.g.
# `@_cdecl("main") func main(_ argc: Int32, _ argv: ...) -> Int32` (the startup calls it).
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc).
# Exit status: 0 built and clean, 1 a forbidden symbol referenced, 2 usage or build failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"

name=""
c_sources=()
gmp=0
defines=()
keeps=()
stack=262144
opt=Osize
json=0
sources=()
while (($#)); do
    case "$1" in
    --name) name="$2"; shift ;;
    --c) c_sources+=("$2"); shift ;;
    --gmp) gmp=1 ;;
    -D) defines+=(-D "$2"); shift ;;
    --stack) stack="$2"; shift ;;
    --keep) keeps+=(-Wl,--undefined="$2"); shift ;;
    -Onone) opt=Onone ;;
    -Osize) opt=Osize ;;
    --json) json=1 ;;
    -h | --help) m4_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "build-m4: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) sources+=("$1") ;;
    esac
    shift
done
fail() {
    printf 'build-m4: %s\n' "$1" >&2
    exit "${2:-2}"
}
((${#sources[@]})) || fail "no Swift sources (try --help)"
for f in "${sources[@]}" "${c_sources[@]+"${c_sources[@]}"}"; do [[ -f "$f" ]] || fail "no such file: $f"; done
[[ -n "$name" ]] || name="$(basename "${sources[0]}" .swift)"
m4_tools_present || fail "arm-none-eabi-gcc, newlib or qemu-system-arm missing (scripts/lib/setup.sh: setup_m4_packages)"

swiftc="${SWIFTC:-}"
if [[ -z "$swiftc" ]]; then
    if command -v swiftc >/dev/null 2>&1; then swiftc="$(command -v swiftc)"
    elif [[ -x /opt/swift/usr/bin/swiftc ]]; then swiftc=/opt/swift/usr/bin/swiftc
    else fail "swiftc not found (set SWIFTC or put the Swift toolchain on PATH)"; fi
fi

out="$m4_dir/images/$name"
mkdir -p "$out/modules/MPS2Board" "$out/modules/MeterHAL" "$out/modules/CGMP"
# Module maps with absolute paths, in the build folder (CGMP's system module names the
# host's gmp.h). MeterHAL's own is hal/include/module.modulemap (found through
# -I hal/include), so clang knows meter_hal.h belongs to MeterHAL when mps2_board.h includes
# it and an image may import both (the firmware core and a bench, bench/m4/LWRBench.swift).
printf 'module MPS2Board {\n    header "%s"\n    export *\n}\n' "$m4_board_src/mps2_board.h" \
    >"$out/modules/MPS2Board/module.modulemap"
rm -f "$out/modules/MeterHAL/module.modulemap"
# newlib's headers for the C modules (CGMP's shim includes <string.h>; Swift's clang has
# only its freestanding ones for armv7em-none-none-eabi).
newlib_include=/usr/lib/arm-none-eabi/include
[[ -f "$newlib_include/string.h" ]] || fail "newlib's headers are not in $newlib_include (libnewlib-arm-none-eabi)"
includes=(-I "$out/modules/MPS2Board" -I "$out/modules/MeterHAL" -Xcc -I"$root/hal/include"
    -Xcc -isystem -Xcc "$newlib_include")
libs=()
if ((gmp)); then
    prefix="$("$root/scripts/build-gmp-m4.sh" --print-prefix)"
    printf 'module CGMP {\n    header "%s"\n    export *\n}\n' "$root/Sources/CGMP/gmp_mpn.h" \
        >"$out/modules/CGMP/module.modulemap"
    includes+=(-I "$out/modules/CGMP" -Xcc -I"$prefix/include")
    libs+=("$prefix/lib/libgmp.a")
fi

# ---- Swift -----------------------------------------------------------------------------
object="$out/$name.o"
# swiftc leaves an existing object alone when its IR hash (.swift_modhash) is unchanged,
# even if codegen flags changed: start from none.
rm -f "$object"
if ! "$swiftc" -target armv7em-none-none-eabi -enable-experimental-feature Embedded \
    -wmo -"$opt" -parse-as-library -module-name "$(tr -c 'A-Za-z0-9_\n' _ <<<"$name")" \
    -Xcc -mfloat-abi=soft -Xcc -mcpu=cortex-m4 -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
    -module-cache-path "$out/module-cache" "${includes[@]}" "${defines[@]+"${defines[@]}"}" \
    -c "${sources[@]}" -o "$object" >"$out/swiftc.log" 2>&1; then
    cat "$out/swiftc.log" >&2
    fail "the Swift sources do not compile for armv7em-none-none-eabi (-$opt)"
fi
warnings=$(grep -c ': warning: ' "$out/swiftc.log" || true)

# ---- relocations to forbidden symbols ------------------------------------------------------
# Followed from the object's C entry points (main, @_cdecl functions) through its function
# sections, as --gc-sections keeps them: the Embedded runtime's own swift_slowAlloc & co.
# sit in every object and count only when reachable (scripts/m4/reloc_check.py).
forbidden_re='^(malloc|calloc|realloc|free|posix_memalign|memalign|aligned_alloc|arc4random_buf|__gmpz_[A-Za-z0-9_]*|.*swift_allocObject.*|.*swift_slowAlloc.*)$'
reloc_status=0
reloc_report="$(python3 "$root/scripts/m4/reloc_check.py" "$object" --forbid "$forbidden_re")" || reloc_status=$?
if ((reloc_status != 0)); then
    printf '%s\n' "$reloc_report" >&2
    printf 'build-m4: FAIL: the Swift object %s reaches a heap allocator, __gmpz_* or arc4random_buf\n' \
        "${object#"$root"/}" >&2
    printf 'build-m4: find the caller with: arm-none-eabi-objdump -dr %s | less\n' "${object#"$root"/}" >&2
    exit 1
fi

# ---- link --------------------------------------------------------------------------------
objs=()
mapfile -t objs < <(m4_build_board)
((${#objs[@]} == 3)) || fail "the board did not build"
for c in "${c_sources[@]+"${c_sources[@]}"}"; do
    arm-none-eabi-gcc "${m4_cflags[@]}" ${prefix:+-I"$prefix/include"} -c "$c" -o "$out/$(basename "$c" .c).c.o"
    objs+=("$out/$(basename "$c" .c).c.o")
done
image="$out/$name.elf"
m4_link "$image" "$object" "${objs[@]}" "${libs[@]+"${libs[@]}"}" -Wl,--defsym=__stack_size="$stack" \
    "${keeps[@]+"${keeps[@]}"}" ||
    fail "the link failed"

read -r otext odata obss _ _ <<<"$(m4_sizes "$object")"
read -r text data bss flash ram_static <<<"$(m4_sizes "$image")"
ram=$((ram_static + stack))
echo "build-m4: $name: ${#sources[@]} Swift source(s), -$opt, $warnings warning(s)"
echo "  ${reloc_report#reloc_check: }"
echo "  Swift object  text $otext  data $odata  bss $obss   (${object#"$root"/})"
echo "  linked image  text $text  data $data  bss $bss   (${image#"$root"/}; board, libgcc, newlib-nano$( ((gmp)) && echo ', GMP') included)"
echo "  flash (text + data) $flash bytes; RAM (data + bss + stack $stack) $ram bytes"
heap_note="$(arm-none-eabi-nm "$image" | awk '$3 == "malloc" || $3 == "_malloc_r" {print $3}' | tr '\n' ' ')"
[[ -z "$heap_note" ]] || echo "  note: the linked image contains ${heap_note}from the C library (not called by the Swift code)"
if ((json)); then
    printf '{"image": "%s", "elf": "%s", "optimization": "%s", "swift_text": %d, "swift_data": %d, "swift_bss": %d, "text": %d, "data": %d, "bss": %d, "stack_reserved": %d, "flash_bytes": %d, "ram_bytes": %d}\n' \
        "$name" "${image#"$root"/}" "$opt" "$otext" "$odata" "$obss" "$text" "$data" "$bss" "$stack" "$flash" "$ram"
fi
