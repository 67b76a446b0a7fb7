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
//   label-ack-instructions       acks=N: the pass that took the aggregator's ack of a reading
//   timer-pair-instructions-x1000  1000 × what a measured pass adds by being measured (the
//                                two timer reads around it, nothing between): taken off above
//                                by scripts/m4/lwr_bench_summary.py
//   billing-metered-labels       readings counted into the meter's open billing periods
//   key-mode                     0 seed, 1 expanded (the signed group's choice)
//   phase-pad-instructions       one pad F_k(l), computePad as the meter runs it
//   phase-label-expansion-instructions  a_l alone: its XOF set up and 2048 words squeezed
//                                       in blocks of 21 (as the pad does; XORed together)
//   phase-key-stream-instructions       k alone from its seed: XOF set up, 2048 words (the same)
//   phase-inner-product-instructions    2048 multiply-adds mod 2^64 over words in RAM
//   phase-customer-detail-seal-instructions  the boundary's customer detail frame (AES-GCM, keyed) alone
//   phase-customer-key-schedule-instructions  keying AES-GCM (round keys, H): once per customer key
//   phase-idle-check-x1000-instructions  1000 idle passes with nothing due (899 per label)
//   phase-outbox-record-seal-instructions, phase-detail-record-seal-instructions  the flash
//                                records' checksum and syndrome (FlashFormat.seal), alone
//   phase-frame-tag-instructions  one frame tag (KMAC128 under the cached frame key), as the
//                                reading's frame and the detail frame each get at the boundary
// (phases=0 leaves the split out; it runs after the labels and the stack reading)
//   stack-high-water-bytes       the deepest the stack went (painting)
//   boot-count, after-cut        the board's boot counter and whether a power cut preceded
//   first-write-flash-ops-before/-after  flash operations around the first boundary pass
//                                (the one that adds a reading to the outbox): where a cut goes
// Board options: the board's own (flash=, radio-in=, radio-out=, adc=, rng-seed=, …:
// hal/mps2/mps2_board.h) and the bench's below. The host side is
// Tests/MeterFirmwareTests/M4LWRBenchTests.swift (scripts/m4-lwr-bench.sh runs both);
// report() and consume() are in BenchSupport.swift.
import MPS2Board

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

    report("boot-count", UInt64(mps2_boot_count()))
    report("after-cut", UInt64(mps2_after_cut()))
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

    // The bench's own cost in every pass figure: from one timer read to the next with nothing
    // between (the call's tail, its return and the next call up to the read), summed over
    // 1000 pairs. lwr_bench_summary.py takes it off each measured pass (900 idle figures per
    // label, one boundary), so a per-reading figure is the meter's work alone.
    var pairs: UInt64 = 0
    for _ in 0..<1000 {
        let a = mps2_instructions()
        pairs &+= mps2_instructions() &- a
    }
    report("timer-pair-instructions-x1000", pairs)

    // Labels: 900 one-second samples each; the boundary pass encrypts and sends, the
    // idle work after it computes the next label's pad.
    // The first pass that adds a reading to the outbox (the boundary) reports the flash
    // operation counts around it: the host picks cut-after= from them (the power-cut case).
    let labels = Int(mps2_option_u64("labels", 0))
    var acksLeft = Int(mps2_option_u64("acks", 0))
    var writeSeen = false
    for _ in 0..<labels {
        var steps: UInt64 = 0
        var stepMax: UInt64 = 0
        var idle: UInt64 = 0
        for _ in 0..<900 {
            mps2_clock_advance(timing.sampleTicks)
            let ops = mps2_flash_op_count()
            let pending = meter.pendingReadings
            let (p, i) = pass(&meter)
            let stored = meter.pendingReadings > pending
            if !writeSeen && stored {
                writeSeen = true
                report("first-write-flash-ops-before", ops)
                report("first-write-flash-ops-after", mps2_flash_op_count())
            }
            steps += p
            stepMax = max(stepMax, p)
            idle += i
            if stored && acksLeft > 0 {
                acksLeft -= 1
                awaitAck(&meter, below: meter.pendingReadings)
            }
        }
        report("label-poll-instructions", steps)
        report("label-boundary-instructions", stepMax)
        report("label-idle-instructions", idle)
    }
    report("next-label", meter.currentLabel)
    // Readings counted into open billing periods (the seed-billed case: the run's readings).
    var metered: UInt64 = 0
    let billing = meter.billingRecord
    for k in 0..<2 where billing.periods[k].state != .empty { metered += UInt64(billing.periods[k].meteredLabels) }
    report("billing-metered-labels", metered)
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))
    report("stack-reserved-bytes", UInt64(mps2_stack_size()))
    if labels > 0 && meter.isReady && mps2_option_u64("phases", 1) != 0 { phases(&meter) }
    return 0
}

/// acks=N: after each of the first N boundaries that stored a reading, the aggregator's ack
/// (the host answers over the radio, M4LWRBenchTests' `AckPeer`) is awaited with the clock
/// stopped, so it arrives in the same place of every run. Reports the pass that took it
/// (`label-ack-instructions`: the downlink's tag checked, the outbox and detail ring marked);
/// the passes that found no frame yet are not counted anywhere.
func awaitAck(_ meter: inout Meter<LWRScheme>, below pending: Int) {
    for _ in 0..<20_000_000 {
        let (p, i) = pass(&meter)
        if meter.pendingReadings < pending {
            report("label-ack-instructions", p + i)
            return
        }
    }
    mps2_print_line("lwr-bench: no ack came")
}

/// The pad's phases measured one by one on the meter's own key and group (a label two
/// ahead, so the meter's precomputed pad stays as it is). The split is of the same code
/// paths: `LWRPSA.labelExpansion` and `LWRPSA.keyStream` squeezed word by word as
/// `LWRPSA.prf` does, and the multiply-add of `LWRLabelStream.absorb` over words in RAM.
/// Whatever the pad costs beyond their sum is the loop around them (and, in expanded
/// mode, the key read from flash and its Fletcher check).
func phases(_ meter: inout Meter<LWRScheme>) {
    guard let parameters = LWRParameters.withID(meter.record.parameterID) else { return }
    let label = meter.labelFloor &+ 2
    report("key-mode", UInt64(meter.record.keyMode.rawValue))

    var t = mps2_instructions()
    let pad = (try? meter.computePad(label: label)) ?? 0
    report("phase-pad-instructions", mps2_instructions() - t)
    consume("phase-pad-low16", pad)

    // Both streams squeezed as the pad squeezes them: a block of 21 words at a time (a_l, public,
    // through the byte table; k with the constant-time delta swaps), XORed together.
    var block = InlineArray<21, UInt64>(repeating: 0)
    t = mps2_instructions()
    var a = LWRPSA.labelExpansion(parameters: parameters, group: meter.record.group, label: label)
    var x: UInt64 = 0
    var left = parameters.lambda
    while left > 0 {
        let n = min(21, left)
        var s = block.mutableSpan
        s.withUnsafeMutableBufferPointer { a.squeezeWords(into: $0.baseAddress!, count: n, public: true) }
        for j in 0..<n { x ^= block[j] }
        left -= n
    }
    report("phase-label-expansion-instructions", mps2_instructions() - t)
    consume("phase-label-expansion-low16", x)

    t = mps2_instructions()
    var k = LWRPSA.keyStream(parameters: parameters, seed: meter.record.psaSeed.span)
    x = 0
    left = parameters.lambda
    while left > 0 {
        let n = min(21, left)
        var s = block.mutableSpan
        s.withUnsafeMutableBufferPointer { k.squeezeWords(into: $0.baseAddress!, count: n) }
        for j in 0..<n { x ^= block[j] }
        left -= n
    }
    report("phase-key-stream-instructions", mps2_instructions() - t)
    consume("phase-key-stream-low16", x)

    // 2048 multiply-adds: 8 passes over 256 words of each vector (4 KiB of stack).
    var av = InlineArray<256, UInt64>(repeating: 0)
    var kv = InlineArray<256, UInt64>(repeating: 0)
    for j in 0..<256 {
        av[j] = a.squeezeWord()
        kv[j] = k.squeezeWord()
    }
    t = mps2_instructions()
    var acc: UInt64 = 0
    for _ in 0..<(parameters.lambda / 256) {
        let aw = av.span
        let kw = kv.span
        for j in 0..<256 { acc &+= aw[j] &* kw[j] }
    }
    report("phase-inner-product-instructions", mps2_instructions() - t)
    consume("phase-inner-product-low16", acc)

    // The boundary's customer detail frame (AES-GCM under the customer key, sealed after
    // every reading: CustomerAccess.swift), alone, into a copy of the frame buffer.
    var frame = meter.frame
    var frameSpan = frame.mutableSpan
    let plaintext = InlineArray<42, UInt8>(repeating: 7)
    let header = FrameHeader(
        type: .customerDetail, scheme: LWRScheme.schemeID, group: meter.record.group, meter: meter.record.meter,
        label: label, payloadLength: CustomerDetail.payloadBytes)
    let key = meter.record.customerKey
    t = mps2_instructions()
    let gcm = AESGCM(key: key.span)  // once per customer key (Meter.keyedCustomerCipher)
    report("phase-customer-key-schedule-instructions", mps2_instructions() - t)
    t = mps2_instructions()
    CustomerDetail.seal(
        header, cipher: gcm, verifier: meter.customerVerifier.span, plaintext: plaintext.span, frame: &frameSpan)
    report("phase-customer-detail-seal-instructions", mps2_instructions() - t)
    consume("phase-customer-detail-low16", UInt64(frame[Frame.headerBytes]))

    // An idle pass with nothing due (the pad of the next label done, no statistics plan): the
    // main loop makes 899 of them per label, so they are part of the label's idle figure.
    meter.idle()
    t = mps2_instructions()
    for _ in 0..<1000 { meter.idle() }
    report("phase-idle-check-x1000-instructions", mps2_instructions() - t)

    // The flash records of the boundary: an outbox entry and a detail-ring entry sealed
    // (FlashFormat.seal: SHAKE128 checksum and Hamming syndrome) into a scratch buffer.
    var record = InlineArray<1024, UInt8>(repeating: 0x5A)
    var recordSpan = record.mutableSpan
    t = mps2_instructions()
    FlashFormat.seal(&recordSpan, length: meter.outbox.protectedBytes, domain: "PM-OB-v1")
    report("phase-outbox-record-seal-instructions", mps2_instructions() - t)
    if let ring = meter.detailRing {
        t = mps2_instructions()
        FlashFormat.seal(&recordSpan, length: ring.protectedBytes, domain: "PM-OB-v1")
        report("phase-detail-record-seal-instructions", mps2_instructions() - t)
    }
    consume("phase-record-low16", UInt64(record[0]))

    // One frame tag (KMAC128 under the frame key of the meter's group, as `sealFrame` puts it
    // on the reading's frame; the detail frame gets one too), into the meter's frame buffer.
    t = mps2_instructions()
    let tagged = meter.sealFrame(.reading, label: label, payloadLength: parameters.ciphertextBytes)
    report("phase-frame-tag-instructions", mps2_instructions() - t)
    consume("phase-frame-tag-low16", UInt64(tagged) ^ UInt64(meter.frame[tagged - 1]))
}
