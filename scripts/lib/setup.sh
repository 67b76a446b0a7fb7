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

# Commands to run when the calling script exits, last registered first (one EXIT trap).
exit_hooks=()
run_exit_hooks() {
    local i
    for ((i = ${#exit_hooks[@]} - 1; i >= 0; i--)); do eval "${exit_hooks[i]}" || true; done
}
at_exit() {
    exit_hooks+=("$1")
    trap run_exit_hooks EXIT
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

# What the build needs from Debian: GMP and SQLite (GRDB links the system's; pkg-config
# finds both), and the openssl CLI (the service's TLS test makes its certificate with it).
setup_build_packages() {
    local needed=()
    dpkg -s libgmp-dev >/dev/null 2>&1 || needed+=(libgmp-dev)
    dpkg -s libsqlite3-dev >/dev/null 2>&1 || needed+=(libsqlite3-dev)
    command -v pkg-config >/dev/null 2>&1 || needed+=(pkg-config)
    command -v openssl >/dev/null 2>&1 || needed+=(openssl)
    apt_install "${needed[@]+"${needed[@]}"}"
}

# What the benchmark package needs beyond the build (Benchmarks/: the Keccak benchmark's C
# target calls OpenSSL's EVP SHAKE128): OpenSSL's headers and libcrypto.
setup_benchmark_packages() {
    setup_build_packages
    local needed=()
    dpkg -s libssl-dev >/dev/null 2>&1 || needed+=(libssl-dev)
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
    "demandlib:demandlib==0.2.2"              # BDEW H25/H0 standard load profiles (load-profile tests; pulls pandas)
    "cryptography:cryptography"               # AES-GCM, AES: the customer detail's cross-checks, the browser test
    "websocket:websocket-client"              # the DevTools protocol client of scripts/browser-test.sh
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

# ---- PostgreSQL for the store and service tests ----------------------------------------
# Starts a throw-away PostgreSQL server (Debian's package: initdb and pg_ctl, as the
# `postgres` user when run as root) on a free loopback port and exports its URL as
# METERING_TEST_POSTGRES_URL; stopped when the calling script exits. A URL already set
# is used as it is (the tests then fail with a clear message if nothing answers there).
setup_postgres() {
    if [[ -n "${METERING_TEST_POSTGRES_URL:-}" ]]; then
        step "PostgreSQL for the tests: $METERING_TEST_POSTGRES_URL (given)"
        return 0
    fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || apt_install postgresql
    local bin
    bin="$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n 1)")"
    [[ -x "$bin/pg_ctl" ]] || die "PostgreSQL's initdb/pg_ctl not found under /usr/lib/postgresql"
    local port dir
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    dir="$(mktemp -d /tmp/metering-postgres.XXXXXX)"
    local run=()
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$dir"
        run=(runuser -u postgres --)
    fi
    step "starting PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port in $dir"
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U metering --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=100" start >/dev/null ||
        die "PostgreSQL did not start: $(tail -n 5 "$dir/server.log")"
    at_exit "${run[*]} '$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1; rm -rf '$dir'"
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U metering metering_test ||
        die "createdb failed (server log: $dir/server.log)"
    export METERING_TEST_POSTGRES_URL="postgres://metering@127.0.0.1:$port/metering_test"
}

# ---- the aggregator service -----------------------------------------------------------
# start_service BIN LOG ARGS...: starts `BIN serve --port 0 --port-file … ARGS...` (plain
# HTTP on loopback), waits until it accepts uploads, and sets service_pid and service_url;
# the service is stopped when the calling script exits (or by stop_service).
service_pid=""
start_service() {
    local bin="$1" log="$2"
    shift 2
    local port_file
    port_file="$(mktemp -u /tmp/metering-port.XXXXXX)"
    "$bin" serve --port 0 --port-file "$port_file" --insecure-http "$@" >"$log" 2>&1 &
    service_pid=$!
    at_exit stop_service
    for _ in $(seq 600); do [[ -s "$port_file" ]] && break; sleep 0.1; done
    [[ -s "$port_file" ]] || die "the service did not start: $(tail -n 20 "$log")"
    service_url="http://127.0.0.1:$(cat "$port_file")"
    rm -f "$port_file"
}
stop_service() {
    if [[ -n "$service_pid" ]]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
        service_pid=""
    fi
}

# ---- a browser (scripts/browser-test.sh) -------------------------------------------------
# Debian's Chromium (headless) and a font for the screenshots; the DevTools client and
# the AES-GCM oracle come with the Python oracles.
setup_browser() {
    local needed=()
    command -v chromium >/dev/null 2>&1 || needed+=(chromium)
    dpkg -s fonts-dejavu-core >/dev/null 2>&1 || needed+=(fonts-dejavu-core)
    apt_install "${needed[@]+"${needed[@]}"}"
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
