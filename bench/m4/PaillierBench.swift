// The Paillier bench for the Cortex-M4 under QEMU (scripts/m4-scheme-bench.sh paillier builds
// it with the Paillier image's sources, Sources/FirmwarePaillier, entry point included, and
// runs it): the real firmware core `Meter<PaillierScheme>` on the mps2-an386 board, per
// supplier key size.
//
// The supplier's N (3072 and 2048 bits, big-endian) arrive as radio frames, one per size;
// the bench puts each into the meter's Paillier state directly (no signed key statement:
// its SLH-DSA check is key setup, not a reading) with one group, then per size:
//   paillier-BITS-exponentiation-instructions  the idle work: r drawn from the board RNG, the
//                                              unit check, R = r^N mod N² (mpn_sec_powm)
//   paillier-BITS-boundary-instructions        the boundary step: (1 + m·N)·R mod N², the
//                                              frame sealed (KMAC128), the outbox write, the send
//   paillier-BITS-online-instructions          Paillier.encrypt alone (the online multiplication)
// and once: boot-instructions, stack-high-water-bytes. The readings' frames go out on the
// radio; the host script decrypts them with p and q (scripts/m4/scheme_bench.py).
import MPS2Board

@_cdecl("main")
func paillierBenchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()
    let board = Board(table: UnsafeRawPointer(mps2_board_hal()!))
    let timing = MeterTiming(ticksPerSecond: board.ticksPerSecond)
    let t0 = mps2_instructions()
    guard var meter = try? Meter<PaillierScheme>(board: board, timing: timing) else {
        mps2_print_line("paillier-bench: the meter did not boot")
        return 1
    }
    reportSince("boot-instructions", t0)
    guard provisionBenchMeter(&meter, id: 3) else {
        mps2_print_line("paillier-bench: provisioning failed")
        return 1
    }
    var modulus = InlineArray<384, UInt8>(repeating: 0)
    var label: UInt64 = 0
    for _ in 0..<2 {
        var span = modulus.mutableSpan
        guard let n = try? board.receive(into: &span), n == 384 || n == 256,
            let key = try? PaillierMeterKey(modulusBigEndian: modulus.span.extracting(0..<n))
        else {
            mps2_print_line("paillier-bench: no usable N on the radio")
            return 1
        }
        meter.scheme = PaillierScheme()
        meter.scheme.key = key
        meter.scheme.groups[0] = 1
        meter.scheme.groupCount = 1
        // Readings 1000 + label Wh, one label per key size.
        var t = mps2_instructions()
        guard meter.idle() else {
            mps2_print_line("paillier-bench: no randomizer")
            return 1
        }
        let exponentiation = mps2_instructions() - t
        t = mps2_instructions()
        do { try meter.encryptAndSendPaillier(label: label, reading: 1000 + label) } catch {
            mps2_print_line("paillier-bench: the boundary step failed")
            return 1
        }
        let boundary = mps2_instructions() - t
        label += 1
        // The online multiplication alone, with a second randomizer.
        _ = meter.idle()
        var cipher = InlineArray<768, UInt8>(repeating: 0)
        var cipherSpan = cipher.mutableSpan
        t = mps2_instructions()
        do {
            try Paillier.encrypt(reading: 1, randomizer: &meter.scheme.randomizers[0], key: key, into: &cipherSpan)
        } catch {
            mps2_print_line("paillier-bench: Paillier.encrypt refused")
            return 1
        }
        let online = mps2_instructions() - t
        consume("paillier-online-low16", UInt64(cipher[key.ciphertextBytes - 1]))
        if n == 384 {
            report("paillier-3072-exponentiation-instructions", exponentiation)
            report("paillier-3072-boundary-instructions", boundary)
            report("paillier-3072-online-instructions", online)
        } else {
            report("paillier-2048-exponentiation-instructions", exponentiation)
            report("paillier-2048-boundary-instructions", boundary)
            report("paillier-2048-online-instructions", online)
        }
    }
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))
    report("stack-reserved-bytes", UInt64(mps2_stack_size()))
    return 0
}
