// Shared by the bench images for the Cortex-M4 (bench/m4/*Bench.swift, built with
// scripts/build-m4.sh): report lines "key value" on the console, which the host scripts
// read. Instructions come from QEMU's -icount through the board's timer (instructions,
// not cycles: docs/m4.md).
import MPS2Board

/// Prints one report line, `key value`.
func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// Reports the instructions since `start` under `key`; returns the count.
@discardableResult
func reportSince(_ key: StaticString, _ start: UInt64) -> UInt64 {
    let n = mps2_instructions() - start
    report(key, n)
    return n
}

/// A sink for a measured result, reported (its low 16 bits) so the compiler keeps the work.
@inline(never)
func consume(_ key: StaticString, _ value: UInt64) { report(key, value & 0xFFFF) }

/// The bench's factory keys (any bytes: no authority checks a bench meter's frames).
func provisionBenchMeter<S: MeterScheme & ~Copyable>(_ meter: inout Meter<S>, id: UInt32) -> Bool {
    var keys = InlineArray<32, UInt8>(repeating: 0)
    for k in 0..<32 { keys[k] = UInt8(truncatingIfNeeded: 0x5A &+ 7 &* k) }
    do {
        try meter.provision(meter: id, frameSecret: keys.span, enrolmentKey: keys.span, authorityKey: keys.span)
    } catch {
        return false
    }
    return true
}
