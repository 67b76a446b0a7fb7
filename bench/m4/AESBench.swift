// The AES-128-GCM bench for the Cortex-M4 under QEMU (scripts/m4-aes-bench.sh builds it with
// firmware/MeterCrypto/Core/AESGCM.swift as one module and runs it). The customer-detail
// frame's cipher (docs/spec/customer-detail.md), split into its parts.
//
// Reports, in instructions counted by QEMU's -icount through the board's timer:
//   aes-gcm-keying-instructions      AESGCM(key:): the key schedule and H = E_K(0)
//   aes-gcm-seal-instructions        one seal of 42 bytes with 24 bytes of AAD (the frame's)
//   aes-encrypt4-instructions        AES128.encrypt4: four blocks (two sets of 32-bit planes)
//   ghash-6-blocks-instructions      six GHASH multiplies (the seal's: 2 AAD, 3 ciphertext,
//                                    1 length block)
//   aes-key-schedule-instructions    AES128(key:) alone
// and the low 16 bits of each result (so the compiler keeps the work). Instructions are not
// cycles (docs/m4.md).
import MPS2Board

func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// Six GHASH blocks as the seal absorbs them.
@inline(never)
func ghashSixBlocks(_ h: (hi: UInt64, lo: UInt64), _ seed: UInt64) -> UInt64 {
    var g = GHash<AESPlaneWord>(h: h)
    for k in 0..<6 { g.absorb(hi: seed &+ UInt64(k), lo: seed ^ 0x55) }
    return g.y.hi ^ g.y.lo
}

@_cdecl("main")
func benchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var key = InlineArray<16, UInt8>(repeating: 0)
    for i in 0..<16 { key[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 5) }
    var t = mps2_instructions()
    let gcm = AESGCM(key: key.span)
    report("aes-gcm-keying-instructions", mps2_instructions() - t)

    let plaintext = InlineArray<42, UInt8>(repeating: 7)
    let aad = InlineArray<24, UInt8>(repeating: 3)
    var nonce = InlineArray<12, UInt8>(repeating: 0)
    nonce[11] = 2
    var ciphertext = InlineArray<42, UInt8>(repeating: 0)
    var tag = InlineArray<16, UInt8>(repeating: 0)
    var cs = ciphertext.mutableSpan
    var ts = tag.mutableSpan
    t = mps2_instructions()
    gcm.seal(nonce: nonce.span, aad: aad.span, plaintext: plaintext.span, ciphertext: &cs, tag: &ts)
    report("aes-gcm-seal-instructions", mps2_instructions() - t)
    report("aes-gcm-seal-tag-low16", UInt64(tag[0]) | UInt64(tag[1]) << 8)

    t = mps2_instructions()
    let aes = AES128(key: key.span)
    report("aes-key-schedule-instructions", mps2_instructions() - t)
    var blocks = InlineArray<64, UInt8>(repeating: 9)
    var bs = blocks.mutableSpan
    t = mps2_instructions()
    aes.encrypt4(&bs)
    report("aes-encrypt4-instructions", mps2_instructions() - t)
    report("aes-encrypt4-low16", UInt64(blocks[0]) | UInt64(blocks[1]) << 8)

    t = mps2_instructions()
    let g = ghashSixBlocks((0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4321), UInt64(blocks[2]))
    report("ghash-6-blocks-instructions", mps2_instructions() - t)
    report("ghash-6-blocks-low16", g & 0xFFFF)
    return 0
}
