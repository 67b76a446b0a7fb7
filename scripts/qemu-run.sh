#!/usr/bin/env bash
# Runs an image for the mps2-an386 board (hal/mps2) on QEMU with exact instruction
# counting, and exits with the image's exit status.
#
# Usage: scripts/qemu-run.sh [options] IMAGE.elf [BOARD-OPTION...]
#   BOARD-OPTION   key=value words the image reads as its command line (hal/mps2/mps2_board.h:
#                  flash=, adc=, radio-in=, radio-out=, rng-seed=, rtc=, cut-after=, ...);
#                  no spaces inside one
#   --shift N      -icount shift=N (default 0: one instruction = 1 ns of virtual time, so
#                  timer0 at 25 MHz ticks once per 40 instructions; with 6, 64 ns per
#                  instruction, finer than one). The image is told icount-shift=N.
#   --no-icount    run without -icount (faster; instruction figures are then meaningless)
#   --timeout S    kill QEMU after S seconds of host time (default 600; exit status 124)
#   --reboot-after-cut  when the image exits with the power-cut status (3), start QEMU
#                  again on the same options less the cut-* ones (the power comes back)
#   --qemu ARG     one more argument for qemu-system-arm (repeatable)
#
# Exit status: the image's (0 = success), 3 = power cut (cut-action=exit), 124 = timeout,
# 2 = usage. Instruction counts are not M4 cycles (docs/m4.md).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/m4.sh
source "$root/scripts/lib/m4.sh"
shift_n=0
icount=1
timeout_s=600
reboot=0
qemu_extra=()
while (($#)); do
    case "$1" in
    --shift) shift_n="$2"; shift ;;
    --no-icount) icount=0 ;;
    --timeout) timeout_s="$2"; shift ;;
    --reboot-after-cut) reboot=1 ;;
    --qemu) qemu_extra+=("$2"); shift ;;
    -h | --help) m4_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "qemu-run: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
(($#)) || { echo "qemu-run: no image (try --help)" >&2; exit 2; }
image="$1"
shift
[[ -f "$image" ]] || { echo "qemu-run: no such image: $image" >&2; exit 2; }
command -v qemu-system-arm >/dev/null 2>&1 || { echo "qemu-run: qemu-system-arm not installed" >&2; exit 2; }

run_once() {
    # The semihosting command line: the image's name, then the board options (QEMU's
    # option syntax doubles commas inside a value).
    local config="enable=on,target=native,chardev=console,arg=$(basename "$image")" word
    for word in "$@"; do
        [[ "$word" != *" "* ]] || { echo "qemu-run: a board option has a space: '$word'" >&2; exit 2; }
        config+=",arg=${word//,/,,}"
    done
    local icount_args=()
    if ((icount)); then
        icount_args=(-icount "shift=$shift_n")
        config+=",arg=icount-shift=$shift_n"
    fi
    local status=0
    timeout "$timeout_s" qemu-system-arm -M mps2-an386 -display none -monitor none -serial null -chardev stdio,id=console \
        "${icount_args[@]}" -semihosting-config "$config" -kernel "$image" \
        "${qemu_extra[@]+"${qemu_extra[@]}"}" </dev/null || status=$?
    return "$status"
}

status=0
run_once "$@" || status=$?
if ((reboot && status == 3)); then
    kept=()
    for word in "$@"; do [[ "$word" == cut-* ]] || kept+=("$word"); done
    echo "qemu-run: power cut; starting again without the cut"
    status=0
    run_once "${kept[@]+"${kept[@]}"}" || status=$?
fi
exit "$status"
