#!/usr/bin/env bash
# The firmware's SHAKE128 against OpenSSL's, fast and without the benchmark package: builds
# firmware/MeterCrypto/Core/Keccak.swift and KeccakF1600.swift as a release module with the
# flags Package.swift gives MeterCrypto on x86-64, links it with Benchmarks/Benchmarks/COpenSSLSHAKE
# (OpenSSL's EVP SHAKE128) and scripts/keccak-ratio.swift, and prints the thread CPU time of
# a 16 KiB SHAKE128 squeeze for each, with the ratio to OpenSSL (min and median of ROUNDS).
# The benchmark of record is `cd Benchmarks && swift package benchmark --target Keccak`.
#
# Usage: scripts/keccak-ratio.sh [--mtune CPU] [--callgrind] [ROUNDS]
#   --mtune CPU   the -mtune of the Keccak module (default: Package.swift's, sapphirerapids;
#                 "generic" shows the untuned build)
# Environment: KECCAK_RATIO_FLAGS  more swiftc flags for the Keccak module, after the others
#              (e.g. "-Xcc -fomit-frame-pointer" to see what SwiftPM's frame pointers cost)
#   --callgrind   instead of timing: instructions (callgrind Ir) of one 16 KiB squeeze each
#   ROUNDS        timing rounds (default 3000, about 0.5 s)
# Installs libssl-dev (and valgrind for --callgrind) when missing (scripts/lib/setup.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$SECONDS
step() { printf '==> %s  [%ds]\n' "$*" $((SECONDS - started)) >&2; }
die() {
    printf 'keccak-ratio: %s\n' "$*" >&2
    exit 2
}

mtune=sapphirerapids
extra=(${KECCAK_RATIO_FLAGS:-})
callgrind=0
rounds=3000
while (($#)); do
    case "$1" in
    --mtune)
        [[ $# -ge 2 ]] || die "--mtune needs a CPU name"
        mtune="$2"
        shift
        ;;
    --callgrind) callgrind=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) rounds="$1" ;;
    esac
    shift
done

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift
setup_benchmark_packages >&2
if ((callgrind)) && ! command -v callgrind_annotate >/dev/null 2>&1; then apt_install valgrind >&2; fi

out="$root/.build/keccak-ratio"
mkdir -p "$out/module"
c_dir="$root/Benchmarks/Benchmarks/COpenSSLSHAKE"
printf 'module COpenSSLSHAKE {\n    header "%s"\n    link "crypto"\n    export *\n}\n' \
    "$c_dir/include/copenssl_shake.h" >"$out/module/module.modulemap"

step "building (swiftc -O -wmo, -mtune=$mtune)"
tune=()
[[ "$mtune" == generic ]] || tune=(-Xcc "-mtune=$mtune")
# swiftc keeps an object whose IR is unchanged even when codegen flags changed: start clean.
rm -f "$out/MeterCrypto.o"
# The flags SwiftPM's release build gives MeterCrypto (swift build -c release -v): -O, whole
# module, -g, Package.swift's hostTuning (-mtune), then SwiftPM's -fno-omit-frame-pointer.
# KECCAK_RATIO_FLAGS adds more at the end (e.g. "-Xcc -fomit-frame-pointer").
swiftc -O -wmo -g -parse-as-library -module-name MeterCrypto "${tune[@]+"${tune[@]}"}" \
    -Xcc -fno-omit-frame-pointer "${extra[@]+"${extra[@]}"}" \
    -emit-module -emit-module-path "$out/module/MeterCrypto.swiftmodule" -emit-object -o "$out/MeterCrypto.o" \
    "$root/firmware/MeterCrypto/Core/Keccak.swift" "$root/firmware/MeterCrypto/Core/KeccakF1600.swift"
clang -O2 -I"$c_dir/include" -c "$c_dir/shake.c" -o "$out/shake.o"
swiftc -O -g -Xcc -fno-omit-frame-pointer -I "$out/module" "$root/scripts/keccak-ratio.swift" "$out/MeterCrypto.o" "$out/shake.o" -lcrypto \
    -o "$out/keccak-ratio"

if ((callgrind == 0)); then
    step "timing $rounds rounds"
    "$out/keccak-ratio" "$rounds"
    exit 0
fi

# valgrind 3.19 cannot read Swift 6.3's DWARF: count on a copy without debug sections.
objcopy --strip-debug "$out/keccak-ratio" "$out/keccak-ratio.stripped"
printf '%-30s %14s\n' "variant (-mtune=$mtune)" "instructions"
for fn in firmwareSqueeze firmwareWords interleavedSqueeze opensslSqueeze; do
    # The Swift functions of scripts/keccak-ratio.swift, by their mangled names.
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$fn" --toggle-collect="*${#fn}${fn}yyF" \
        "$out/keccak-ratio.stripped" --count >/dev/null 2>"$out/valgrind.log" || {
        cat "$out/valgrind.log" >&2
        die "valgrind failed"
    }
    total=$(callgrind_annotate "$out/callgrind.$fn" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1 }')
    [[ "$total" =~ ^[0-9]+$ ]] || die "callgrind collected nothing inside $fn"
    printf '%-30s %14d\n' "$fn" $((total / 10))
done
echo "callgrind Ir of one 16 KiB squeeze (mean of 10), x86-64; OpenSSL's includes its EVP calls"
