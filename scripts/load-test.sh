#!/usr/bin/env bash
# Load test of the aggregator service (docs/service.md, "Load"): starts `metering serve`
# on a fresh database, sets up GROUPS groups of METERS meters through its routes, then
# uploads LABELS labels of pre-sealed reading frames in batches (`metering load`) and
# prints one JSON line per database: frames_per_second, p50_ms, p99_ms, database, ...
#
#   scripts/load-test.sh [sqlite|postgresql|both]      (default: both)
#
# Environment (defaults in brackets): LOAD_GROUPS [10], LOAD_METERS [1000], LOAD_LABELS [10],
# LOAD_BATCH [5000], LOAD_CONNECTIONS [4], CONFIG [release] (the build configuration), and
# METERING_TEST_POSTGRES_URL (else a throw-away PostgreSQL server is started).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift

which="${1:-both}"
config="${CONFIG:-release}"
step "swift build -c $config --product metering"
swift build -c "$config" --product metering >&2
bin="$(swift build -c "$config" --show-bin-path)/metering"

work="$(mktemp -d /tmp/metering-load.XXXXXX)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; fi
    rm -rf "$work"
}
at_exit cleanup

run_one() { # database-kind location
    local kind="$1" location="$2"
    rm -f "$work/port"
    "$bin" serve --database "$location" --port 0 --port-file "$work/port" --insecure-http \
        --operator-token load-operator --supplier-token load-supplier --log-level warning \
        --max-body-bytes $((64 << 20)) --max-batch-frames 100000 >"$work/serve-$kind.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 600); do [[ -s "$work/port" ]] && break; sleep 0.1; done
    [[ -s "$work/port" ]] || die "the service did not start: $(cat "$work/serve-$kind.log")"
    step "load against $kind (groups ${LOAD_GROUPS:-10} × meters ${LOAD_METERS:-1000} × labels ${LOAD_LABELS:-10})"
    "$bin" load --server "http://127.0.0.1:$(cat "$work/port")" --operator-token load-operator \
        --supplier-token load-supplier --groups "${LOAD_GROUPS:-10}" --meters "${LOAD_METERS:-1000}" \
        --labels "${LOAD_LABELS:-10}" --batch "${LOAD_BATCH:-5000}" --connections "${LOAD_CONNECTIONS:-4}" --database "$kind" |
        python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

if [[ "$which" == sqlite || "$which" == both ]]; then run_one sqlite "$work/load.sqlite"; fi
if [[ "$which" == postgresql || "$which" == both ]]; then
    setup_postgres
    run_one postgresql "${METERING_TEST_POSTGRES_URL}$([[ "$METERING_TEST_POSTGRES_URL" == *\?* ]] && echo '&' || echo '?')schema=load_$$"
fi
