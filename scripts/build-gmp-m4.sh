#!/usr/bin/env bash
# Builds GMP for the Cortex-M4 (arm-none-eabi, Thumb-2, soft float, 32-bit limbs) from
# Debian's GMP source package, once per machine: the result is cached under
# .build/m4/gmp-<version>/ and reused while a stamp file keyed on the GMP version and
# this script's own hash (and the C invert_limb it adds) matches.
#
#   - `apt-get source gmp` (adds a deb-src entry for Debian's archive if none exists);
#   - configure --host=arm-none-eabi --disable-assembly (GMP's ARM assembly is ARM mode
#     and does not assemble for Thumb-2 M-profile as shipped), then NO_ASM is removed
#     from config.h so longlong.h uses the umull inline asm (2.3x faster than the
#     pure C half-word multiply; still no .asm file) and scripts/m4/gmp_invert_limb.c
#     supplies the __gmpn_invert_limb that variant calls;
#   - installs include/gmp.h and lib/libgmp.a under the cache directory.
#
# Usage: scripts/build-gmp-m4.sh [--check] [--force] [--print-prefix]
#   --check         also build GMP's own test suite (tests/, tests/mpn, tests/mpz, ...) and
#                   run every test program on QEMU's mps2-an386 (semihosting), with the
#                   board's startup from hal/mps2; then cross-check mpn_sec_powm against
#                   Python (scripts/m4/check-gmp-sec-powm.sh). Results: .build/m4/gmp-check.log
#   --check-dirs "D..."  the test directories --check runs (default: all of GMP's:
#                   "tests tests/mpn tests/mpz tests/mpq tests/mpf tests/rand tests/misc")
#   --force         rebuild even if the stamp matches
#   --print-prefix  print the install prefix (after building if needed) and nothing else
# Environment: M4_BUILD (default: <repo>/.build/m4), JOBS (default: nproc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
m4="${M4_BUILD:-$root/.build/m4}"
jobs="${JOBS:-$(nproc)}"
check=0
force=0
print_prefix=0
check_dirs="tests tests/mpn tests/mpz tests/mpq tests/mpf tests/rand tests/misc"
while (($#)); do
    case "$1" in
    --check) check=1 ;;
    --check-dirs)
        [[ $# -ge 2 ]] || { echo "build-gmp-m4: --check-dirs needs a list" >&2; exit 2; }
        check_dirs="$2"
        shift
        ;;
    --force) force=1 ;;
    --print-prefix) print_prefix=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build-gmp-m4: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

say() { if ((print_prefix)); then printf '%s\n' "$*" >&2; else printf '%s\n' "$*"; fi; }
die() {
    printf 'build-gmp-m4: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
step() { say "==> $*  [$((SECONDS - started))s]"; }
setup_m4_packages

mkdir -p "$m4"
invert_c="$root/scripts/m4/gmp_invert_limb.c"
script_hash="$(cat "${BASH_SOURCE[0]}" "$invert_c" | sha256sum | cut -c1-16)"

# ---- the source package ---------------------------------------------------------------
# Debian's version of the gmp source package (e.g. 2:6.2.1+dfsg1-1.1).
ensure_deb_src() {
    if apt-get source --print-uris gmp >/dev/null 2>&1; then return 0; fi
    [[ "${SKIP_INSTALL:-0}" == 1 ]] && die "no deb-src entry for Debian's archive (SKIP_INSTALL=1 set)"
    local codename
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    step "adding a deb-src entry for Debian $codename (/etc/apt/sources.list.d/privatemetering-src.sources)"
    as_root tee /etc/apt/sources.list.d/privatemetering-src.sources >/dev/null <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root apt-get update -q </dev/null >/dev/null
    apt-get source --print-uris gmp >/dev/null 2>&1 || die "apt-get source gmp still fails after adding deb-src"
}

src_root="$m4/gmp-src"
source_dir() { find "$src_root" -maxdepth 1 -mindepth 1 -type d -name 'gmp-*' 2>/dev/null | head -n 1; }
if [[ -z "$(source_dir)" ]]; then
    ensure_deb_src
    step "apt-get source gmp (into $src_root)"
    rm -rf "$src_root" && mkdir -p "$src_root"
    (cd "$src_root" && apt-get source -q gmp </dev/null >apt-source.log 2>&1) ||
        die "apt-get source gmp failed (see $src_root/apt-source.log)"
fi
src="$(source_dir)"
[[ -n "$src" ]] || die "no gmp-* directory in $src_root"
version="$(sed -n 's/^gmp (\([^)]*\)).*/\1/p;q' "$src/debian/changelog")"
[[ -n "$version" ]] || die "cannot read the package version from $src/debian/changelog"
# The dfsg tarball leaves out doc/; configure still wants its Makefile.in, and the
# recursive make its usual targets (all of them do nothing here).
if [[ ! -s "$src/doc/Makefile.in" ]]; then
    mkdir -p "$src/doc"
    printf '%s\n' 'all check install install-data install-exec uninstall clean distclean mostlyclean:' \
        '.PHONY: all check install install-data install-exec uninstall clean distclean mostlyclean' \
        >"$src/doc/Makefile.in"
fi

upstream="${version#*:}"
upstream="${upstream%%+*}"
prefix="$m4/gmp-$upstream"
build="$m4/gmp-build"
stamp="$prefix/.stamp"
want_stamp="gmp $version script $script_hash"

cflags='-mcpu=cortex-m4 -mthumb -mfloat-abi=soft -Os -ffunction-sections -fdata-sections'
cc_configure='arm-none-eabi-gcc --specs=rdimon.specs'

# --check runs GMP's tests in the build tree: rebuild if only the install is cached.
if ((check)) && [[ ! -f "$build/Makefile" ]]; then force=1; fi
if ((force)) || [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want_stamp" || ! -f "$prefix/lib/libgmp.a" ]]; then
    t0=$SECONDS
    step "configuring GMP $version for arm-none-eabi (cortex-m4, thumb, soft float) in $build"
    rm -rf "$build" "$prefix"
    mkdir -p "$build"
    (cd "$build" && "$src/configure" --host=arm-none-eabi --build="$(gcc -dumpmachine)" \
        --disable-assembly --disable-shared --enable-static --prefix="$prefix" \
        CC="$cc_configure" CFLAGS="$cflags" CC_FOR_BUILD=gcc >configure.log 2>&1) ||
        die "configure failed (see $build/configure.log)"
    grep -q '^#define NO_ASM 1' "$build/config.h" || die "config.h has no NO_ASM to remove: check the umull variant by hand"
    # longlong.h: with NO_ASM gone, the __arm__ section's umull umul_ppmm and the
    # udiv_qrnnd through mpn_invert_limb are used (Thumb-2 assembles them).
    sed -i 's|^#define NO_ASM 1|/* NO_ASM removed by scripts/build-gmp-m4.sh: longlong.h uses umull */|' "$build/config.h"
    t1=$SECONDS
    step "make -j$jobs (configure took $((t1 - t0)) s)"
    make -C "$build" -j"$jobs" >"$build/make.log" 2>&1 || die "make failed (see $build/make.log)"
    arm-none-eabi-gcc $cflags -c "$invert_c" -o "$build/gmp_invert_limb.o"
    arm-none-eabi-ar rs "$build/.libs/libgmp.a" "$build/gmp_invert_limb.o" 2>/dev/null
    make -C "$build" install >"$build/install.log" 2>&1 || die "make install failed (see $build/install.log)"
    # make install copies the archive as it is in .libs (with the object added above).
    # (grep -c reads everything: grep -q under pipefail would fail on the writer's SIGPIPE)
    (($(arm-none-eabi-nm "$prefix/lib/libgmp.a" 2>/dev/null | grep -c ' T __gmpn_invert_limb$') == 1)) ||
        die "libgmp.a lacks __gmpn_invert_limb"
    umulls="$(arm-none-eabi-objdump -d "$prefix/lib/libgmp.a" 2>/dev/null | grep -c $'\tumull' || true)"
    ((umulls > 0)) || die "libgmp.a has no umull: the longlong.h variant was not used"
    printf '%s\n' "$want_stamp" >"$stamp"
    step "GMP $version for the M4 in $prefix (configure $((t1 - t0)) s, make $((SECONDS - t1)) s)"
else
    step "GMP $version for the M4: cached in $prefix ($stamp matches)"
fi

if ((check)); then
    "$root/scripts/m4/check-gmp-m4.sh" "$build" "$check_dirs"
    "$root/scripts/m4/check-gmp-sec-powm.sh" "$prefix"
fi

if ((print_prefix)); then printf '%s\n' "$prefix"; fi
