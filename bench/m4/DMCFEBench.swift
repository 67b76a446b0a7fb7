// The DMCFE bench for the Cortex-M4 under QEMU (scripts/m4-scheme-bench.sh dmcfe builds it
// with the DMCFE image's sources, Sources/FirmwareDMCFE, entry point included, and runs it):
// the real firmware core `Meter<DMCFEScheme>` on the mps2-an386 board.
//
// The bench gives the provisioned meter a ready group directly (group 7, two meters, its
// key seed fixed: key setup is measured by the LWR-PSA bench, which shares it), then:
//   dmcfe-hash-to-group-instructions   H(l)_1 alone (SHAKE256, the reduction mod p, the
//                                      exponentiation by the cofactor (p − 1)/q)
//   dmcfe-exponentiations-instructions H(l)_1^s1 and H(l)_2^s2 (256-bit exponents) and their product
//   dmcfe-pad-instructions             the idle work as the meter does it: both hashes,
//                                      both exponentiations, the product
//   dmcfe-encrypt-instructions         DMCFE.encrypt alone: g^x (64-bit exponent) and pad · g^x
//   dmcfe-boundary-instructions        the boundary step: encrypt, the frame sealed, the
//                                      outbox write, the send
// and boot-instructions, stack-high-water-bytes. Instructions, not cycles (docs/m4.md).
import MPS2Board

@_cdecl("main")
func dmcfeBenchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()
    let board = Board(table: UnsafeRawPointer(mps2_board_hal()!))
    let timing = MeterTiming(ticksPerSecond: board.ticksPerSecond)
    let t0 = mps2_instructions()
    guard var meter = try? Meter<DMCFEScheme>(board: board, timing: timing) else {
        mps2_print_line("dmcfe-bench: the meter did not boot")
        return 1
    }
    reportSince("boot-instructions", t0)
    guard provisionBenchMeter(&meter, id: 3) else {
        mps2_print_line("dmcfe-bench: provisioning failed")
        return 1
    }
    meter.record.group = 7
    meter.record.groupSize = 2
    meter.record.maxReading = 5_000
    meter.record.parameterID = DMCFE.parameterID
    for k in 0..<32 { meter.record.psaSeed[k] = UInt8(truncatingIfNeeded: 0xC3 &+ 11 &* k) }
    meter.record.phase = .ready
    let label = meter.labelFloor
    let group = meter.record.group

    // The pad's phases one by one.
    var t = mps2_instructions()
    let h1 = DMCFE.hashToGroup(group: group, label: label, index: 1)
    reportSince("dmcfe-hash-to-group-instructions", t)
    let h2 = DMCFE.hashToGroup(group: group, label: label, index: 2)
    let secret = meter.dmcfeSecret
    t = mps2_instructions()
    let a = MPN.power(h1, exponent: secret.s1.span, bits: DMCFEGroup.orderBits, modulus: DMCFEGroup.prime)
    let b = MPN.power(h2, exponent: secret.s2.span, bits: DMCFEGroup.orderBits, modulus: DMCFEGroup.prime)
    let split = MPN.multiply(a, b, modulus: DMCFEGroup.prime)
    reportSince("dmcfe-exponentiations-instructions", t)

    // The idle work and the boundary as the meter runs them.
    t = mps2_instructions()
    guard meter.idle() else {
        mps2_print_line("dmcfe-bench: the meter did no idle work")
        return 1
    }
    reportSince("dmcfe-pad-instructions", t)
    report("dmcfe-pad-matches-split", meter.scheme.pad == split ? 1 : 0)
    t = mps2_instructions()
    do { try DMCFEScheme.encryptAndSend(&meter, label: label, reading: 1_234) } catch {
        mps2_print_line("dmcfe-bench: the boundary step failed")
        return 1
    }
    reportSince("dmcfe-boundary-instructions", t)
    t = mps2_instructions()
    let ct = DMCFE.encrypt(reading: 1_234, pad: split)
    reportSince("dmcfe-encrypt-instructions", t)
    consume("dmcfe-encrypt-low16", UInt64(truncatingIfNeeded: ct.limbs[0]))

    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))
    report("stack-reserved-bytes", UInt64(mps2_stack_size()))
    return 0
}
