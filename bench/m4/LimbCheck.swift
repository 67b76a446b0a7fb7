// The limb-width check for the Cortex-M4 under QEMU (scripts/m4-limb-check.sh builds it with
// firmware/MeterCrypto's Core, BigNumbers, KeyAgreement, DMCFE and Paillier sources as one
// module, links GMP for the M4 and runs it): the firmware's big-number code with 32-bit
// limbs, on inputs drawn from SHAKE128("PM-M4-limb-check-v1"), written to the host file
// out= for scripts/m4/limb_check.py to recompute in Python:
//
//   FFDH (ffdhe3072)   g^x, g^y, (g^y)^x, and validate() of g^y and of p − 2 (not in the subgroup)
//   DMCFE              H(l)_1, the pad H(l)_1^s1 · H(l)_2^s2, a ciphertext of a reading
//                      above 2^32, a functional-key share with a pairwise mask and weight −3
//   Paillier           (1 + m·N) · r^N mod N² for a 3072- and a 2048-bit N and a reading
//                      m above 2^32 (r drawn again until it is a unit mod N)
//
// Also reports `Limb.buffersMatchWidth` and the instructions each step took (-icount;
// instructions are not cycles, docs/m4.md).
import MPS2Board

func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// The output file's contents: every result, fixed sizes, in the order limb_check.py reads them.
let outputBytes = 3 * 384 + 2 + 3 * 384 + 64 + (1 + 768) + (1 + 512)

struct Output: ~Copyable {
    var bytes = InlineArray<3652, UInt8>(repeating: 0)  // outputBytes
    var count = 0

    mutating func append(_ value: Limbs3072) {
        var whole = bytes.mutableSpan
        var span = whole._mutatingExtracting(count..<(count + Limbs3072.byteCount))
        value.bigEndianBytes(into: &span)
        count += Limbs3072.byteCount
    }

    mutating func append(_ byte: UInt8) {
        bytes[count] = byte
        count += 1
    }

    /// Room for n bytes, filled by the caller.
    mutating func reserve(_ n: Int) -> Range<Int> {
        defer { count += n }
        return count..<(count + n)
    }
}

/// The next n bytes of the input stream into a buffer of at least n bytes.
func draw<let capacity: Int>(_ xof: inout XOF, _ n: Int, into buffer: inout InlineArray<capacity, UInt8>) {
    var whole = buffer.mutableSpan
    var span = whole._mutatingExtracting(0..<n)
    xof.squeeze(into: &span)
}

func step(_ key: StaticString, since start: UInt64) { report(key, mps2_instructions() - start) }

@_cdecl("main")
func limbCheckMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()
    report("limb-bits", UInt64(Limb.bits))
    report("buffers-match-width", Limb.buffersMatchWidth ? 1 : 0)
    precondition(outputBytes == 3652, "Output's buffer")
    var out = Output()
    var input = XOF(.shake128)
    input.absorb("PM-M4-limb-check-v1")
    var small = InlineArray<64, UInt8>(repeating: 0)
    var big = InlineArray<384, UInt8>(repeating: 0)
    var big2 = InlineArray<384, UInt8>(repeating: 0)

    // ---- FFDH ----
    draw(&input, 35, into: &small)
    let x = FFDHPrivateKey(randomBytes: small.span.extracting(0..<35))
    draw(&input, 35, into: &small)
    let y = FFDHPrivateKey(randomBytes: small.span.extracting(0..<35))
    var t = mps2_instructions()
    let gx = FFDHGroup.publicKey(for: x)
    step("ffdh-public-key-instructions", since: t)
    let gy = FFDHGroup.publicKey(for: y)
    out.append(gx)
    out.append(gy)
    t = mps2_instructions()
    let shared = try? FFDHGroup.sharedSecret(privateKey: x, peerPublicKey: gy)
    step("ffdh-shared-secret-instructions", since: t)
    out.append(shared ?? Limbs3072.zero)
    var pMinus2 = FFDHGroup.prime
    pMinus2.limbs[0] -= 2
    var code: UInt8 = 0xFF
    do { try FFDHGroup.validate(peerPublicKey: gy) } catch { code = error.rawValue }
    out.append(code)
    code = 0xFF
    do { try FFDHGroup.validate(peerPublicKey: pMinus2) } catch { code = error.rawValue }
    out.append(code)

    // ---- DMCFE ----
    draw(&input, 32, into: &small)
    let secret = DMCFESecret(seed: small.span.extracting(0..<32))
    let group: UInt32 = 7
    let label: UInt64 = 0x1_0000_0005
    t = mps2_instructions()
    out.append(DMCFE.hashToGroup(group: group, label: label, index: 1))
    step("dmcfe-hash-to-group-instructions", since: t)
    t = mps2_instructions()
    let pad = DMCFE.pad(secret: secret, group: group, label: label)
    step("dmcfe-pad-instructions", since: t)
    out.append(pad)
    t = mps2_instructions()
    out.append(DMCFE.encrypt(reading: 0x1_2345_6789, pad: pad))
    step("dmcfe-encrypt-instructions", since: t)
    draw(&input, 64, into: &small)  // pairwise seed (32) and weight digest (32)
    var t1 = DMCFE.Exponent(repeating: 0)
    var t2 = DMCFE.Exponent(repeating: 0)
    DMCFE.addMask(
        pairwiseSeed: small.span.extracting(0..<32), digest: small.span.extracting(32..<64), own: 1, peer: 2,
        t1: &t1, t2: &t2)
    let shareRange = out.reserve(DMCFE.keyShareBytes)
    var outSpan = out.bytes.mutableSpan
    var shareSpan = outSpan._mutatingExtracting(shareRange)
    DMCFE.keyShare(secret: secret, weight: -3, t1: t1, t2: t2, into: &shareSpan)

    // ---- Paillier, 3072 and 2048 bits ----
    let sizes: InlineArray<2, Int> = [384, 256]
    for size in 0..<sizes.count {
        let bytes = sizes[size]
        draw(&input, bytes, into: &big)  // N: top and bottom bits set
        big[0] |= 0x80
        big[bytes - 1] |= 1
        guard let key = try? PaillierMeterKey(modulusBigEndian: big.span.extracting(0..<bytes)) else {
            mps2_print_line("limb-check: the Paillier key was refused")
            return 1
        }
        // r < N; drawn again while it shares a factor with N (N is random here, not a
        // product of two primes): the byte written is the number of draws.
        var randomizer = PaillierRandomizer()
        var draws: UInt8 = 0
        while !randomizer.isFresh && draws < 16 {
            draw(&input, bytes, into: &big2)
            big2[0] &= 0x7F
            draws += 1
            t = mps2_instructions()
            let fresh = randomizer.precompute(key: key, randomBytes: big2.span.extracting(0..<bytes))
            if bytes == 384 && fresh { step("paillier-3072-randomizer-instructions", since: t) }
        }
        out.append(draws)
        let cipherRange = out.reserve(key.ciphertextBytes)
        var whole = out.bytes.mutableSpan
        var cipherSpan = whole._mutatingExtracting(cipherRange)
        t = mps2_instructions()
        do {
            try Paillier.encrypt(reading: 0x1_0000_0001_2345, randomizer: &randomizer, key: key, into: &cipherSpan)
        } catch {
            mps2_print_line("limb-check: Paillier.encrypt refused")
        }
        if bytes == 384 { step("paillier-3072-encrypt-instructions", since: t) }
    }
    precondition(out.count == outputBytes, "every result written")
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))

    guard let path = mps2_option("out") else { return 0 }
    let written = out.bytes.span.withUnsafeBufferPointer {
        mps2_write_file(path, $0.baseAddress, UInt32($0.count))
    }
    return written == 0 ? 0 : 1
}
