#!/usr/bin/env bash
# Fuzzing of the surfaces an aggregator controls (docs/fuzzing.md):
#   FuzzMeterDownlink  the meter's downlink in every phase of every scheme
#   FuzzBoot           the meter booting from arbitrary (and re-sealed) flash
#   FuzzFrameIntake    the aggregator's frame intake (LWR-PSA, Paillier, DMCFE, key setup)
#
# Usage: scripts/fuzz.sh [--inputs N] [--harness NAME]
#   --inputs N      inputs per harness (libFuzzer -runs; default 1000000)
#   --harness NAME  only this harness (repeatable)
#   --max-time S    stop each harness after S seconds even before N inputs (libFuzzer
#                   -max_total_time; the summary shows the inputs it ran)
# FUZZ_SEED=N fixes libFuzzer's random seed (0, the default: a new one each run); the
# short pass in scripts/test.sh uses 1, so CI mutates the same way on every run.
#
# 1. builds the harness package fuzz/ (release, libFuzzer + AddressSanitizer on the
#    project's modules only; the root package's build is not touched);
# 2. runs every regression input under fuzz/regressions/<harness>/ (findings found before);
#    a regression that still crashes is counted as a crash, and the fuzzing runs then steer
#    around that finding (FUZZ_TOLERATE) so they explore the rest;
# 3. runs each harness for N inputs from its seed corpus fuzz/corpus/<harness>/ (the growing
#    corpus lives in fuzz/.build/corpus/; crash inputs go to fuzz/.build/artifacts/<harness>/);
# 4. prints per harness: inputs, coverage (libFuzzer's cov and ft), crashes, exec/s.
# Exits 1 when anything crashed (regressions included), or on a usage or build error.
#
# Environment: SKIP_INSTALL=1 only checks for the packages the build needs.
# Other engineers share the machine: run long passes as `nice -n 19 scripts/fuzz.sh`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/setup.sh
source "$root/scripts/lib/setup.sh"  # step, die, setup_*

all_harnesses=(FuzzMeterDownlink FuzzBoot FuzzFrameIntake)
inputs=1000000
max_time=0
harnesses=()
while (($#)); do
    case "$1" in
        --inputs)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--inputs needs a number"
            inputs=$2
            shift 2
            ;;
        --max-time)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--max-time needs seconds"
            max_time=$2
            shift 2
            ;;
        --harness)
            [[ $# -ge 2 ]] || die "--harness needs a name"
            [[ " ${all_harnesses[*]} " == *" $2 "* ]] || die "unknown harness $2 (${all_harnesses[*]})"
            harnesses+=("$2")
            shift 2
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
((${#harnesses[@]})) || harnesses=("${all_harnesses[@]}")

setup_swift
setup_build_packages

fuzz="$root/fuzz"
work="$fuzz/.build"
step "swift build -c release (fuzz/)"
(cd "$fuzz" && swift build -c release 2>&1 | grep -v '^\[' | grep -v "Cannot export local symbol '__asan_extra_spill_area'") ||
    die "the harness build failed"
bin="$(cd "$fuzz" && swift build -c release --show-bin-path)"

export SWIFT_BACKTRACE=enable=no  # the Swift backtracer hangs for minutes on a crash
export LSAN_OPTIONS="suppressions=$fuzz/lsan.supp:print_suppressions=0"
crashes_total=0

# The first line of a crash report that says what went wrong.
crash_reason() {
    local line
    for pattern in 'Fatal error' 'Swift runtime failure: [^/]*' 'ERROR: (AddressSanitizer|LeakSanitizer): .*' 'ERROR: libFuzzer: .*'; do
        line="$(grep -m1 -oE "$pattern.*" "$1" | cut -c1-120 || true)"
        if [[ -n "$line" ]]; then
            printf '%s' "$line"
            return
        fi
    done
    printf 'see %s' "$1"
}

# ---- regressions ---------------------------------------------------------------------
step "regression inputs (fuzz/regressions/)"
tolerate=()
for h in "${harnesses[@]}"; do
    for input in "$fuzz/regressions/$h"/*; do
        [[ -f "$input" ]] || continue
        name="$(basename "$input")"
        log="$work/regressions-$h-$name.log"
        if "$bin/$h" -runs=1 "$input" >"$log" 2>&1; then
            printf '  %-18s %-36s passes\n' "$h" "$name"
        else
            reason="$(crash_reason "$log")"
            printf '  %-18s %-36s CRASHES: %s\n' "$h" "$name" "${reason:-see $log}"
            crashes_total=$((crashes_total + 1))
            if [[ "$name" =~ ^finding-([0-9]+)- ]]; then tolerate+=("${BASH_REMATCH[1]}"); fi
        fi
    done
done
if ((${#tolerate[@]})); then
    FUZZ_TOLERATE="$(printf '%s\n' "${tolerate[@]}" | sort -un | paste -sd, -)"
    export FUZZ_TOLERATE
    printf '  known findings still present: %s (the runs below steer around them)\n' "$FUZZ_TOLERATE"
fi

# ---- fuzzing -------------------------------------------------------------------------
summary=()
for h in "${harnesses[@]}"; do
    step "$h: $inputs inputs"
    corpus="$work/corpus/$h"
    artifacts="$work/artifacts/$h/"
    mkdir -p "$corpus" "$artifacts"
    log="$work/fuzz-$h.log"
    set +e
    "$bin/$h" -runs="$inputs" -max_total_time="$max_time" -seed="${FUZZ_SEED:-0}" -max_len=4096 -len_control=0 -timeout=120 -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$corpus" "$fuzz/corpus/$h" >"$log" 2>&1
    status=$?
    set -e
    executed="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    coverage="$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')"
    crashed=0
    if ((status != 0)); then
        crashed=1
        crashes_total=$((crashes_total + 1))
        printf '  %s\n' "$(crash_reason "$log")"
        grep -m1 'Test unit written to' "$log" | sed 's/^/  /' || true
        printf '  log: %s\n' "$log"
    fi
    summary+=("$(printf '%-18s %10s %7s %7s %8s %8s' "$h" "${executed:-?}" "${coverage% *}" "${coverage#* }" \
        "$crashed" "${speed:-?}")")
done

step "summary"
printf '%-18s %10s %7s %7s %8s %8s\n' harness inputs cov ft crashes exec/s
printf '%s\n' "${summary[@]}"
printf 'regressions: %d crashing; FUZZ_TOLERATE=%s\n' "${#tolerate[@]}" "${FUZZ_TOLERATE:-}"
((crashes_total == 0)) || {
    printf 'fuzz.sh: %d crash(es)\n' "$crashes_total" >&2
    exit 1
}
