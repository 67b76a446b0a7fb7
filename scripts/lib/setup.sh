# Shared by scripts/test.sh and scripts/demo.sh: install what the project needs when it
# is missing (Debian packages as root or through sudo; Python packages with pip).
# Source it after defining `step` and `die`, or use the ones below. SKIP_INSTALL=1 only checks.

# The progress line and the fatal error, for scripts that do not define their own first.
started=${started:-$SECONDS}
declare -F step >/dev/null || step() { printf '\n==> %s  [%ds]\n' "$*" $((SECONDS - started)); }
declare -F die >/dev/null || die() {
    printf '%s: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

# Puts the Swift toolchain on PATH.
setup_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [[ -x /opt/swift/usr/bin/swift ]]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            die "swift not found: put the Swift toolchain on PATH"
        fi
    fi
}

# ---- system packages -----------------------------------------------------------------
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_install() {
    ((${#@})) || return 0
    [[ "${SKIP_INSTALL:-0}" == 1 ]] && die "missing Debian packages: $* (SKIP_INSTALL=1 set)"
    step "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    # Update the package lists once, and only when an install from the current lists fails.
    if ! as_root apt-get install -y -q "$@" </dev/null; then
        as_root apt-get update -q </dev/null
        as_root apt-get install -y -q "$@" </dev/null
    fi
}

# What the build needs from Debian: GMP (and pkg-config, which finds it).
setup_build_packages() {
    local needed=()
    dpkg -s libgmp-dev >/dev/null 2>&1 || needed+=(libgmp-dev)
    command -v pkg-config >/dev/null 2>&1 || needed+=(pkg-config)
    apt_install "${needed[@]+"${needed[@]}"}"
}

# ---- Python oracles ------------------------------------------------------------------
# Independent implementations the tests cross-check against, as "module to import:PyPI
# package". The tests run `python3` from PATH (through /usr/bin/env), so install for that one.
oracles=(
    "Crypto.Hash.TurboSHAKE128:pycryptodome"  # TurboSHAKE128, KMAC128 (XOF, KMAC, frame tests)
    "mpmath:mpmath"                           # RFC 7919 prime from its formula (FFDH tests)
    "sympy:sympy"                             # primality of the ffdhe3072 prime (FFDH tests)
    "phe:phe"                                 # python-paillier: Paillier interop (Paillier tests)
    "gmpy2:gmpy2"                             # makes phe fast enough for 3072-bit keys
    "slhdsa:slh-dsa"                          # SLH-DSA (FIPS 205): signature interop (SLH-DSA tests)
)
missing_oracles() {
    local entry
    for entry in "${oracles[@]}"; do
        python3 -c "import ${entry%%:*}" >/dev/null 2>&1 || printf '%s\n' "${entry##*:}"
    done
}

# Python 3 and the oracles the tests cross-check against.
setup_python_oracles() {
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip python3-venv
    local missing
    mapfile -t missing < <(missing_oracles)
    if ((${#missing[@]})); then
        [[ "${SKIP_INSTALL:-0}" == 1 ]] && die "python3 lacks: ${missing[*]} (SKIP_INSTALL=1 set)"
        step "installing ${missing[*]} for $(command -v python3)"
        if ! python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}" </dev/null; then
            # An externally managed Python (PEP 668, Debian's own python3): use a venv
            # and put it first on PATH for the tests.
            venv="${SWIFT_SCRATCH:-$root/.build}/python-oracles"
            python3 -m venv "$venv" || die "cannot create a venv for the Python oracles (install python3-venv)"
            "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${missing[@]}" </dev/null
            export PATH="$venv/bin:$PATH"
        fi
        mapfile -t missing < <(missing_oracles)
        ((${#missing[@]} == 0)) || die "installed, but python3 still cannot import: ${missing[*]}"
    fi
}

# ---- the Cortex-M4 tool chain (docs/m4.md) ---------------------------------------------
# arm-none-eabi-gcc and newlib (the board, GMP), QEMU's mps2-an386 (running the images),
# m4 (GMP's configure) and dpkg-dev (apt-get source gmp).
m4_tools_missing() {
    local needed=()
    command -v arm-none-eabi-gcc >/dev/null 2>&1 || needed+=(gcc-arm-none-eabi)
    [[ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/librdimon.a ]] || needed+=(libnewlib-arm-none-eabi)
    command -v qemu-system-arm >/dev/null 2>&1 || needed+=(qemu-system-arm)
    command -v m4 >/dev/null 2>&1 || needed+=(m4)
    command -v dpkg-source >/dev/null 2>&1 || needed+=(dpkg-dev)
    ((${#needed[@]} == 0)) || printf '%s\n' "${needed[@]}"
}
setup_m4_packages() {
    local needed
    mapfile -t needed < <(m4_tools_missing)
    apt_install "${needed[@]+"${needed[@]}"}"
}
