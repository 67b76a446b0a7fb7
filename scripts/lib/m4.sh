# Shared by the Cortex-M4 scripts (build-m4.sh, m4-smoke.sh, m4/check-gmp-m4.sh): the
# compile and link lines for the mps2-an386 board (hal/mps2). Source after setting $root.

m4_dir="${M4_BUILD:-$root/.build/m4}"
m4_board_src="$root/hal/mps2"
m4_cpu_flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
# -fno-short-enums: Swift's clang lays C enums out in 32 bits on armv7em-none-none-eabi
# (mh_status crosses from the board to Swift), where GCC's arm-none-eabi default is short.
m4_cflags=("${m4_cpu_flags[@]}" -fno-short-enums -Os -g -ffunction-sections -fdata-sections -std=c11 -Wall -Wextra
    -I"$root/hal/include" -I"$m4_board_src")

# Compiles the board (startup, HAL, semihosting) into $m4_dir/board/ (or $M4_BOARD_OUT)
# and prints the objects.
m4_build_board() {
    local out="${M4_BOARD_OUT:-$m4_dir/board}" name
    mkdir -p "$out"
    for name in startup mps2_board semihost; do
        arm-none-eabi-gcc "${m4_cflags[@]}" -c "$m4_board_src/$name.c" -o "$out/$name.o" >&2 ||
            return 1
        printf '%s\n' "$out/$name.o"
    done
}

# Links an image: m4_link OUT.elf OBJECT-OR-LIBRARY... [-Wl,...]
# newlib-nano with semihosting (rdimon) for what the C library needs; the board's own
# _sbrk, _exit and putchar take precedence. Prints nothing; writes OUT.map beside it.
# --no-enum-size-warning: newlib and GMP are built with GCC's short enums, the board and
# Swift with 32-bit ones; no enum crosses between those two sides.
m4_link() {
    local out="$1"
    shift
    arm-none-eabi-gcc "${m4_cpu_flags[@]}" -nostartfiles --specs=nano.specs --specs=rdimon.specs \
        -T "$m4_board_src/mps2.ld" -Wl,--gc-sections -Wl,-z,noexecstack -Wl,--no-enum-size-warning \
        -Wl,-Map="${out%.elf}.map" -o "$out" "$@"
}

# Flash and RAM of a linked image from arm-none-eabi-size (Berkeley format):
# prints "text data bss flash ram_static" (flash = text + data, ram_static = data + bss).
m4_sizes() {
    arm-none-eabi-size "$1" | awk 'NR == 2 { print $1, $2, $3, $1 + $2, $2 + $3 }'
}

# True when the cross tools and QEMU are installed.
m4_tools_present() {
    command -v arm-none-eabi-gcc >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null 2>&1 &&
        [[ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/librdimon.a ]]
}

# Prints a script's header comment (from line 2 to `set -euo`) as its --help.
m4_usage() {
    sed -n '2,/^set -euo/p' "$1" | sed -e '$d' -e 's/^# \{0,1\}//'
}
