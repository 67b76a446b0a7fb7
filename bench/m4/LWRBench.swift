// The LWR-PSA bench for the Cortex-M4 under QEMU (scripts/m4-lwr-bench.sh builds it with
// the LWR-PSA image's sources, Sources/FirmwareLWRPSA, as one module and runs it): the real
// firmware core `Meter<LWRScheme>` on the mps2-an386 board.
//
// Reports, in instructions counted by QEMU's -icount through the board's timer
// (instructions, not cycles: docs/m4.md):
//   boot-instructions            Meter<LWRScheme>(board:timing:) on the board's flash
//   provision-instructions       provision(...) from the host's factory frame
//   radio-passes-instructions    the main-loop passes over the radio input (key setup)
//   label-poll-instructions      per label: its 900 sample passes, the boundary included
//   label-boundary-instructions  per label: the costliest pass (encrypt, outbox, send)
//   label-idle-instructions      per label: idle work (the next label's pad F_k(l+1))
//   stack-high-water-bytes       the deepest the stack went (painting)
// Board options: the board's own (flash=, radio-in=, radio-out=, adc=, rng-seed=, …:
// hal/mps2/mps2_board.h) and the bench's below. The host side is
// Tests/MeterFirmwareTests/M4LWRBenchTests.swift (scripts/m4-lwr-bench.sh runs both).
import MPS2Board

func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// The factory frame's first four bytes ("FKEY"): the host's first radio frame in a
/// `factory=1` run holds the meter's id (UInt32 LE), frame secret, enrolment key and the
/// authority's public key (32 bytes each), as the provisioning authority made them.
let factoryMagic: (UInt8, UInt8, UInt8, UInt8) = (0x46, 0x4B, 0x45, 0x59)

/// One main-loop pass (poll, then idle work); returns the instructions of each half.
func pass(_ meter: inout Meter<LWRScheme>) -> (poll: UInt64, idle: UInt64) {
    let t0 = mps2_instructions()
    _ = meter.poll()
    let t1 = mps2_instructions()
    meter.idle()
    let t2 = mps2_instructions()
    return (t1 - t0, t2 - t1)
}

/// Options: factory=1 (provision from the first radio frame), passes=N (main-loop passes
/// over the radio input, one frame each), labels=N (then N labels of 900 one-second
/// steps: the clock moved by mps2_clock_advance, a pass per step).
@_cdecl("main")
func benchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()
    let board = Board(table: UnsafeRawPointer(mps2_board_hal()!))
    let timing = MeterTiming(ticksPerSecond: board.ticksPerSecond)

    var factory = InlineArray<104, UInt8>(repeating: 0)
    if mps2_option_u64("factory", 0) != 0 {
        var span = factory.mutableSpan
        guard let n = try? board.receive(into: &span), n == 104, factory[0] == factoryMagic.0,
            factory[1] == factoryMagic.1, factory[2] == factoryMagic.2, factory[3] == factoryMagic.3
        else {
            mps2_print_line("lwr-bench: no factory frame")
            return 1
        }
    }

    let t0 = mps2_instructions()
    guard var meter = try? Meter<LWRScheme>(board: board, timing: timing) else {
        mps2_print_line("lwr-bench: the meter did not boot")
        return 1
    }
    let t1 = mps2_instructions()
    report("boot-instructions", t1 - t0)

    if mps2_option_u64("factory", 0) != 0 {
        var id: UInt32 = 0
        for k in 0..<4 { id |= UInt32(factory[4 + k]) << (8 * UInt32(k)) }
        let keys = factory.span
        do {
            try meter.provision(
                meter: id, frameSecret: keys.extracting(8..<40), enrolmentKey: keys.extracting(40..<72),
                authorityKey: keys.extracting(72..<104))
        } catch {
            mps2_print_line("lwr-bench: provisioning failed")
            return 1
        }
        report("provision-instructions", mps2_instructions() - t1)
    }

    // The radio input (enrolment request, or the signed group parameters and the roster).
    let passes = Int(mps2_option_u64("passes", 0))
    var setupInstructions: UInt64 = 0
    var setupMax: UInt64 = 0
    for _ in 0..<passes {
        let (p, i) = pass(&meter)
        setupInstructions += p + i
        setupMax = max(setupMax, p + i)
    }
    if passes > 0 {
        report("radio-passes-instructions", setupInstructions)
        report("radio-pass-max-instructions", setupMax)
    }
    report("ready", meter.isReady ? 1 : 0)

    // Labels: 900 one-second samples each; the boundary pass encrypts and sends, the
    // idle work after it computes the next label's pad.
    let labels = Int(mps2_option_u64("labels", 0))
    for _ in 0..<labels {
        var steps: UInt64 = 0
        var stepMax: UInt64 = 0
        var idle: UInt64 = 0
        for _ in 0..<900 {
            mps2_clock_advance(timing.sampleTicks)
            let (p, i) = pass(&meter)
            steps += p
            stepMax = max(stepMax, p)
            idle += i
        }
        report("label-poll-instructions", steps)
        report("label-boundary-instructions", stepMax)
        report("label-idle-instructions", idle)
    }
    report("next-label", meter.currentLabel)
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))
    report("stack-reserved-bytes", UInt64(mps2_stack_size()))
    return 0
}
