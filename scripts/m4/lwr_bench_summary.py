#!/usr/bin/env python3
"""Summarises the LWR-PSA bench's report lines (bench/m4/LWRBench.swift) as one JSON line.

Usage: lwr_bench_summary.py --mode seed|expanded|seed-billed --sizes SIZES.json REPORT.txt

REPORT.txt holds both QEMU runs' "key value" lines (scripts/m4-lwr-bench.sh). Per reading:
the label's pad (the idle work after the previous boundary, F_k(l)) plus its boundary pass
(encrypt, outbox write, send), as the mean over the full labels (1 and later; label 0 began
before the meter was ready), less the bench's own timer reads around each of the 901 measured
passes (timer-pair-instructions-x1000). The sampling passes of a label (899 of them, the ADC and the
clock) are listed apart. RAM = data + bss + the painted stack high-water mark. The lines
after "power-cut-labels" (the power-cut case's runs) are not read.
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("report")
    args = ap.parse_args()
    values: dict[str, list[int]] = {}
    for line in open(args.report, encoding="utf-8"):
        if line.startswith("power-cut-labels"):
            break  # the power-cut runs follow (M4LWRBenchTests): not part of the bench
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values.setdefault(parts[0], []).append(int(parts[1]))
    sizes = json.load(open(args.sizes, encoding="utf-8"))
    idle = values.get("label-idle-instructions", [])[1:]
    boundary = values.get("label-boundary-instructions", [])[1:]
    poll = values.get("label-poll-instructions", [])[1:]
    if not idle or len(idle) != len(boundary):
        print("lwr_bench_summary: no full label in the report", file=sys.stderr)
        return 1
    mean = lambda xs: round(sum(xs) / len(xs))
    one = lambda key: values.get(key, [None])[-1]
    stack = max(values.get("stack-high-water-bytes", [0]))
    # Each measured pass carries the two timer reads around it (the bench calibrates them as
    # timer-pair-instructions-x1000): 900 idle figures per label, one boundary. Taken off, so a
    # reading's figure is the meter's work; the raw sum is kept beside it.
    pair = one("timer-pair-instructions-x1000")
    overhead = pair / 1000 if pair is not None else 0.0
    raw_pad, raw_bound = mean(idle), mean(boundary)
    pad, bound = round(raw_pad - 900 * overhead), round(raw_bound - overhead)
    phases = {
        "pad": one("phase-pad-instructions"),
        "label_expansion": one("phase-label-expansion-instructions"),
        "key_stream": one("phase-key-stream-instructions") if args.mode.startswith("seed") else None,
        "inner_product": one("phase-inner-product-instructions"),
        "boundary_step": bound,
        "idle_check_x1000": one("phase-idle-check-x1000-instructions"),
        "customer_detail_seal": one("phase-customer-detail-seal-instructions"),
        "customer_key_schedule_once": one("phase-customer-key-schedule-instructions"),
        "frame_tag": one("phase-frame-tag-instructions"),
    }
    phases = {k: v for k, v in phases.items() if v is not None}
    if "pad" in phases and "label_expansion" in phases and "inner_product" in phases:
        rest = phases["pad"] - phases["label_expansion"] - phases["inner_product"] - phases.get("key_stream", 0)
        # In seed mode the pad squeezes both streams and multiplies in one loop: the phases
        # measured alone (each with its own loop) can sum to more than it; no "rest" then.
        if rest >= 0:
            phases["rest_of_pad" if args.mode.startswith("seed") else "key_read_from_flash_and_check"] = rest
    summary = {
        "scheme": "lwr-psa",
        "parameters": "standard",
        "variant": args.mode,
        "target": "cortex-m4",
        "instructions_per_reading": pad + bound,
        "pad_instructions": pad,
        "boundary_instructions": bound,
        "timer_overhead_per_pass": overhead,
        "instructions_per_reading_with_timer_reads": raw_pad + raw_bound,
        "sampling_instructions_per_label": round(mean(poll) - raw_bound - 899 * overhead) if poll else None,
        "phases": phases,
        "setup_instructions": one("radio-passes-instructions"),
        "enrolment_instructions": values.get("radio-passes-instructions", [None])[0],
        "flash_bytes": sizes["flash_bytes"],
        "ram_bytes": sizes["data"] + sizes["bss"] + stack,
        "stack_bytes": stack,
        "labels": len(idle),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
