#!/usr/bin/env bash
# The mps2-an386 board's smoke test on QEMU (hal/mps2/smoke/smoke.c): builds the C image
# and runs its phases on one flash file:
#   main       timer vs a loop of known length, HAL clock, ADC feed, NOR semantics, stack
#              painting, the seeded RNG against an independent Python xoshiro256**, a radio
#              round trip with a host peer (scripts/m4/radio-peer.py), then a record written,
#              a system reset (AIRCR) and the record read back on the warm boot
#   persist    a new QEMU on the same flash file finds both records; host entropy
#   cut        a power cut armed at the next flash program (cut-action=exit: QEMU ends with
#              status 3), then after-cut in a new QEMU: the program is exactly half done
#   cut-reset  the same cut with cut-action=reset: the warm boot in the same QEMU sees it
# Prints the image's "ok"/"FAIL" lines and ends with "N passed, N failed".
#
# Usage: scripts/m4-smoke.sh [--keep DIR]   (DIR: where the image and files stay; default
#        .build/m4/smoke). Needs arm-none-eabi-gcc, newlib and qemu-system-arm
#        (scripts/lib/setup.sh's setup_m4_packages installs them).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
work="$m4_dir/smoke"
if [[ "${1:-}" == --keep ]]; then work="$2"; fi
m4_tools_present || { echo "m4-smoke: arm-none-eabi-gcc, newlib or qemu-system-arm missing" >&2; exit 2; }

mkdir -p "$work"
work="$(cd "$work" && pwd)"
objs=()
mapfile -t objs < <(m4_build_board)
((${#objs[@]} == 3)) || { echo "m4-smoke: the board did not build" >&2; exit 2; }
arm-none-eabi-gcc "${m4_cflags[@]}" -Werror -c "$root/hal/mps2/smoke/smoke.c" -o "$work/smoke.o"
m4_link "$work/smoke.elf" "$work/smoke.o" "${objs[@]}"
read -r text data bss flash ram <<<"$(m4_sizes "$work/smoke.elf")"
echo "smoke.elf: text $text data $data bss $bss (flash $flash, static RAM $ram)"

cd "$work"
rm -f flash.bin radio-in.bin radio-out.bin smoke-*.log
python3 -c 'import struct; open("adc.bin", "wb").write(struct.pack("<4I", 1000, 2000, 3000, 4000))'
# The simulated board's RNG stream for seed 42 (splitmix64 seeding, xoshiro256**), written
# out again here in Python, independently of hal/sim/sim_prng.h.
rng_expect="$(python3 - <<'EOF'
M = (1 << 64) - 1
def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
s, seed = [], 42
for _ in range(4):
    seed = (seed + 0x9E3779B97F4A7C15) & M
    z = seed
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    s.append(z ^ (z >> 31))
out = b""
while len(out) < 20:
    r = (rotl((s[1] * 5) & M, 7) * 9) & M
    t = (s[1] << 17) & M
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
    out += r.to_bytes(8, "little")
print(out[:20].hex())
EOF
)"

passed=0
failed=0
# run NAME EXPECTED-STATUS qemu-run.sh-arguments...
run() {
    local name="$1" want="$2" status=0
    shift 2
    "$root/scripts/qemu-run.sh" --timeout 300 smoke.elf "$@" >"smoke-$name.log" 2>&1 || status=$?
    sed 's/^/  /' "smoke-$name.log"
    local oks fails
    oks=$(grep -c '^ok ' "smoke-$name.log" || true)
    fails=$(grep -c '^FAIL ' "smoke-$name.log" || true)
    passed=$((passed + oks))
    failed=$((failed + fails))
    if [[ "$status" != "$want" ]]; then
        echo "FAIL phase $name: exit status $status, expected $want"
        failed=$((failed + 1))
    else
        echo "ok phase $name (exit status $status)"
        passed=$((passed + 1))
    fi
}

board=(flash=flash.bin adc=adc.bin adc-step=1000000 radio-in=radio-in.bin radio-out=radio-out.bin)
python3 "$root/scripts/m4/radio-peer.py" radio-out.bin radio-in.bin --frames 1 --timeout 300 &
peer=$!
run main 0 "${board[@]}" phase=main rng-seed=42 "rng-expect=$rng_expect"
peer_status=0
wait "$peer" || peer_status=$?
if ((peer_status == 0)); then echo "ok radio-peer-answered"; passed=$((passed + 1)); else
    echo "FAIL radio-peer-answered: the host peer saw no frame"; failed=$((failed + 1)); fi
run persist 0 flash=flash.bin phase=persist
# The first flash operation of phase cut is record 3's program: cut at it (after 0 ops).
run cut 3 flash=flash.bin phase=cut cut-after=0 cut-mode=half cut-action=exit
run after-cut 0 flash=flash.bin phase=after-cut
# The same cut with a reset instead of power-off, on a fresh copy of the pre-cut flash.
python3 - <<'EOF'
data = bytearray(open("flash.bin", "rb").read())
data[3 * 64:4 * 64] = b"\xff" * 64  # record 3 erased again (as before phase cut)
open("flash-reset.bin", "wb").write(data)
EOF
run cut-reset 0 flash=flash-reset.bin phase=cut cut-after=0 cut-mode=half cut-action=reset

echo "m4-smoke: $passed passed, $failed failed"
((failed == 0))
