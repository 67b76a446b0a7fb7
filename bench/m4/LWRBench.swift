// The LWR-PSA bench for the Cortex-M4 under QEMU (scripts/m4-lwr-bench.sh builds it with
// the LWR-PSA image's sources, Sources/FirmwareLWRPSA, as one module and runs it): the real
// firmware core `Meter<LWRScheme>` on the mps2-an386 board.
//
// Reports, in instructions counted by QEMU's -icount through the board's timer
// (instructions, not cycles: docs/m4.md):
//   boot-instructions        Meter<LWRScheme>(board:timing:) on the board's flash
//   provision-instructions   provision(meter:frameSecret:enrolmentKey:authorityKey:)
//   poll-instructions        the main loop's passes (poll + idle) over the radio input
//   stack-high-water-bytes   the deepest the stack went (painting)
// Board options (after the image name): meter=ID, and the board's own (flash=, radio-in=,
// radio-out=, adc=, …: hal/mps2/mps2_board.h).
import MPS2Board

func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// 32 bytes derived from a tag and the meter id (the factory's keys for the bench; the
/// host helper derives the same ones).
func factoryKey(_ tag: UInt8, meter: UInt32) -> InlineArray<32, UInt8> {
    var key = InlineArray<32, UInt8>(repeating: 0)
    for i in 0..<32 { key[i] = tag &+ UInt8(truncatingIfNeeded: i &* 7) &+ UInt8(truncatingIfNeeded: meter) }
    return key
}

@_cdecl("main")
func benchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()
    let hal = UnsafeRawPointer(mps2_board_hal()!)
    let board = Board(table: hal)
    let meterID = UInt32(truncatingIfNeeded: mps2_option_u64("meter", 1))

    let t0 = mps2_instructions()
    guard var meter = try? Meter<LWRScheme>(board: board, timing: MeterTiming(ticksPerSecond: board.ticksPerSecond))
    else {
        mps2_print_line("lwr-bench: the meter did not boot")
        return 1
    }
    let t1 = mps2_instructions()
    report("boot-instructions", t1 - t0)

    let frameSecret = factoryKey(0x11, meter: meterID)
    let enrolmentKey = factoryKey(0x22, meter: meterID)
    let authorityKey = factoryKey(0x33, meter: 0)
    do {
        try meter.provision(
            meter: meterID, frameSecret: frameSecret.span, enrolmentKey: enrolmentKey.span,
            authorityKey: authorityKey.span)
    } catch {
        mps2_print_line("lwr-bench: provisioning failed")
        return 1
    }
    let t2 = mps2_instructions()
    report("provision-instructions", t2 - t1)

    let passes = Int(mps2_option_u64("passes", 16))
    for _ in 0..<passes {
        _ = meter.poll()
        meter.idle()
    }
    let t3 = mps2_instructions()
    report("poll-instructions", t3 - t2)
    report("ready", meter.isReady ? 1 : 0)
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))
    return 0
}
