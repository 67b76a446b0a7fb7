#!/usr/bin/env bash
# Drives every route of docs/api/openapi.yaml against a running `metering serve` with
# schemathesis (PyPI): generated requests, each answer checked against the document
# (status codes, content types, schemas). positive_data_acceptance is left out: the uplink
# bodies are binary frames the document cannot describe (random bytes are rightly 400), and
# a group's capacity (meters × max_reading) is checked against the scheme's bound (422).
# Not part of scripts/test.sh (the install and the
# run take minutes); a test in AggregatorServiceTests checks the routes themselves.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]     (default 25 per operation)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"
setup_swift
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis
swift build --product metering >&2
bin="$(swift build --show-bin-path)/metering"
work="$(mktemp -d /tmp/metering-schemathesis.XXXXXX)"
pid=""
at_exit 'if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"'
"$bin" serve --database "$work/st.sqlite" --port 0 --port-file "$work/port" --insecure-http \
    --operator-token st-operator --supplier-token st-supplier --log-level error >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || die "the service did not start: $(cat "$work/serve.log")"
python3 -m schemathesis.cli run "http://127.0.0.1:$(cat "$work/port")/openapi.yaml" \
    -H "Authorization: Bearer st-operator" --checks all \
    --exclude-checks positive_data_acceptance --max-examples "${1:-25}" --seed 1
