// AES-128 (FIPS 197) and AES-128-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags): the
// AEAD that seals a customer's detailed readings (docs/spec/customer-detail.md). It is
// DLMS/COSEM security suite 0's cipher, and WebCrypto's AES-GCM opens it in a browser.
//
// Firmware code: no heap, fixed-size buffers, and constant time. No table is indexed by
// secret data, no branch or loop bound depends on it, and no multiply instruction sees it:
// - AES is bitsliced on planes of the target's word (`AESPlaneWord`: 64 bits on x86_64, 32
//   on the Cortex-M4): one set of 8 planes holds `bitWidth / 16` blocks (4 or 2), bit
//   16k + j of plane b being bit b of byte j of block k. SubBytes is Boyar and Peralta's
//   128-gate S-box circuit (34 AND, 94 XOR/XNOR; "A depth-16 circuit for the AES S-box",
//   2012), written from the paper's gate list and checked on all 256 inputs
//   (`AESGCMTests.sboxExhaustive`). ShiftRows and MixColumns are shifts and masks within each
//   16-bit lane; bytes go in and out of the planes by an 8 × 8 bit transposition
//   (SWAPMOVE). Only the forward cipher exists: GCM never decrypts a block.
// - GHASH multiplies in GF(2^128) by Horner's rule four bits of x at a time (Z = Z·x^4 ⊕ the
//   four multiples Y, Y·x, Y·x^2, Y·x^3 of the other factor, each taken under a mask made
//   from x's bit by an arithmetic shift), in 64-bit words on 64-bit targets and 32-bit words
//   on 32-bit ones: no table indexed by secret data, no branch, and no multiply instruction,
//   whose timing depends on its operands on some small cores (Cortex-M3's long multiplies).
//
// The 32-bit path is the same generic code (`BitslicedAES128<UInt32>`, `AESGCMCore<UInt32>`)
// and runs on the host in the tests against the same vectors as the 64-bit one.

/// The word of the AES bit planes and of GHASH on this target (docs/limb-width.md).
#if _pointerBitWidth(_64)
    public typealias AESPlaneWord = UInt64
#else
    public typealias AESPlaneWord = UInt32
#endif

/// One set of AES blocks in bitsliced form: plane b holds bit b of every byte.
typealias AESPlanes<W: FixedWidthInteger & UnsignedInteger> = InlineArray<8, W>

/// A 16-bit lane pattern repeated in every lane of a plane (a constant).
@inline(__always)
private func lanes<W: FixedWidthInteger & UnsignedInteger>(_ pattern: UInt64) -> W {
    W(truncatingIfNeeded: pattern &* 0x0001_0001_0001_0001)
}

/// A round key's 16 plane bits copied into every lane (shifts and ORs: no multiply on key bits).
@inline(__always)
private func broadcast<W: FixedWidthInteger & UnsignedInteger>(_ bits: UInt16) -> W {
    var v = W(truncatingIfNeeded: bits)
    var shift = 16
    while shift < W.bitWidth {
        v |= v &<< shift
        shift &<<= 1
    }
    return v
}

/// SWAPMOVE: exchanges the bits of `a` under `mask << n` with the bits of `b` under `mask`.
@inline(__always)
private func swapMove<W: FixedWidthInteger & UnsignedInteger>(_ a: W, _ b: W, _ mask: W, _ n: Int) -> (W, W) {
    let t = ((a &>> n) ^ b) & mask
    return (a ^ (t &<< n), b ^ t)
}

/// Transposes the 8 × 8 bit matrices of every byte position: bit j of byte k of word i
/// becomes bit i of byte k of word j. Its own inverse.
@inline(__always)
private func transpose8<W: FixedWidthInteger & UnsignedInteger>(_ x: inout AESPlanes<W>) {
    let m1: W = lanes(0x5555)
    let m2: W = lanes(0x3333)
    let m4: W = lanes(0x0F0F)
    (x[0], x[1]) = swapMove(x[0], x[1], m1, 1)
    (x[2], x[3]) = swapMove(x[2], x[3], m1, 1)
    (x[4], x[5]) = swapMove(x[4], x[5], m1, 1)
    (x[6], x[7]) = swapMove(x[6], x[7], m1, 1)
    (x[0], x[2]) = swapMove(x[0], x[2], m2, 2)
    (x[1], x[3]) = swapMove(x[1], x[3], m2, 2)
    (x[4], x[6]) = swapMove(x[4], x[6], m2, 2)
    (x[5], x[7]) = swapMove(x[5], x[7], m2, 2)
    (x[0], x[4]) = swapMove(x[0], x[4], m4, 4)
    (x[1], x[5]) = swapMove(x[1], x[5], m4, 4)
    (x[2], x[6]) = swapMove(x[2], x[6], m4, 4)
    (x[3], x[7]) = swapMove(x[3], x[7], m4, 4)
}

/// Loads `W.bitWidth` bytes from `offset` as planes: word i gets bytes i, i + 8, i + 16, …
/// (byte i + 8k in its byte k), then the transposition leaves bit b of byte p in bit p of
/// plane b.
@inline(__always)
private func loadPlanes<W: FixedWidthInteger & UnsignedInteger>(_ bytes: Span<UInt8>, at offset: Int) -> AESPlanes<W> {
    var x = AESPlanes<W>(repeating: 0)
    for i in 0..<8 {
        var word: W = 0
        var k = W.bitWidth / 8 - 1
        while k >= 0 {
            word = word &<< 8 | W(bytes[offset + i + 8 * k])
            k -= 1
        }
        x[i] = word
    }
    transpose8(&x)
    return x
}

/// The inverse of `loadPlanes`: writes the planes back as `W.bitWidth` bytes at `offset`.
@inline(__always)
private func storePlanes<W: FixedWidthInteger & UnsignedInteger>(
    _ planes: AESPlanes<W>, into bytes: inout MutableSpan<UInt8>, at offset: Int
) {
    var x = planes
    transpose8(&x)
    for i in 0..<8 {
        var word = x[i]
        for k in 0..<(W.bitWidth / 8) {
            bytes[offset + i + 8 * k] = UInt8(truncatingIfNeeded: word)
            word &>>= 8
        }
        x[i] = 0
    }
}

/// The S-box on every byte of the planes: Boyar and Peralta's depth-16 circuit (2012) of
/// 128 gates, 34 of them AND. Inputs U0 … U7 are the byte's bits 7 … 0, outputs S0 … S7
/// its S-box value's bits 7 … 0; + is XOR, × is AND, ⊙ is XNOR.
func aesSubBytes<W: FixedWidthInteger & UnsignedInteger>(_ x: inout AESPlanes<W>) {
    let u0 = x[7]
    let u1 = x[6]
    let u2 = x[5]
    let u3 = x[4]
    let u4 = x[3]
    let u5 = x[2]
    let u6 = x[1]
    let u7 = x[0]
    // Top linear layer.
    let t1 = u0 ^ u3
    let t2 = u0 ^ u5
    let t3 = u0 ^ u6
    let t4 = u3 ^ u5
    let t5 = u4 ^ u6
    let t6 = t1 ^ t5
    let t7 = u1 ^ u2
    let t8 = u7 ^ t6
    let t9 = u7 ^ t7
    let t10 = t6 ^ t7
    let t11 = u1 ^ u5
    let t12 = u2 ^ u5
    let t13 = t3 ^ t4
    let t14 = t6 ^ t11
    let t15 = t5 ^ t11
    let t16 = t5 ^ t12
    let t17 = t9 ^ t16
    let t18 = u3 ^ u7
    let t19 = t7 ^ t18
    let t20 = t1 ^ t19
    let t21 = u6 ^ u7
    let t22 = t7 ^ t21
    let t23 = t2 ^ t22
    let t24 = t2 ^ t10
    let t25 = t20 ^ t17
    let t26 = t3 ^ t16
    let t27 = t1 ^ t12
    // Middle, non-linear layer (D = U7).
    let m1 = t13 & t6
    let m2 = t23 & t8
    let m3 = t14 ^ m1
    let m4 = t19 & u7
    let m5 = m4 ^ m1
    let m6 = t3 & t16
    let m7 = t22 & t9
    let m8 = t26 ^ m6
    let m9 = t20 & t17
    let m10 = m9 ^ m6
    let m11 = t1 & t15
    let m12 = t4 & t27
    let m13 = m12 ^ m11
    let m14 = t2 & t10
    let m15 = m14 ^ m11
    let m16 = m3 ^ m2
    let m17 = m5 ^ t24
    let m18 = m8 ^ m7
    let m19 = m10 ^ m15
    let m20 = m16 ^ m13
    let m21 = m17 ^ m15
    let m22 = m18 ^ m13
    let m23 = m19 ^ t25
    let m24 = m22 ^ m23
    let m25 = m22 & m20
    let m26 = m21 ^ m25
    let m27 = m20 ^ m21
    let m28 = m23 ^ m25
    let m29 = m28 & m27
    let m30 = m26 & m24
    let m31 = m20 & m23
    let m32 = m27 & m31
    let m33 = m27 ^ m25
    let m34 = m21 & m22
    let m35 = m24 & m34
    let m36 = m24 ^ m25
    let m37 = m21 ^ m29
    let m38 = m32 ^ m33
    let m39 = m23 ^ m30
    let m40 = m35 ^ m36
    let m41 = m38 ^ m40
    let m42 = m37 ^ m39
    let m43 = m37 ^ m38
    let m44 = m39 ^ m40
    let m45 = m42 ^ m41
    let m46 = m44 & t6
    let m47 = m40 & t8
    let m48 = m39 & u7
    let m49 = m43 & t16
    let m50 = m38 & t9
    let m51 = m37 & t17
    let m52 = m42 & t15
    let m53 = m45 & t27
    let m54 = m41 & t10
    let m55 = m44 & t13
    let m56 = m40 & t23
    let m57 = m39 & t19
    let m58 = m43 & t3
    let m59 = m38 & t22
    let m60 = m37 & t20
    let m61 = m42 & t1
    let m62 = m45 & t4
    let m63 = m41 & t2
    // Bottom linear layer.
    let l0 = m61 ^ m62
    let l1 = m50 ^ m56
    let l2 = m46 ^ m48
    let l3 = m47 ^ m55
    let l4 = m54 ^ m58
    let l5 = m49 ^ m61
    let l6 = m62 ^ l5
    let l7 = m46 ^ l3
    let l8 = m51 ^ m59
    let l9 = m52 ^ m53
    let l10 = m53 ^ l4
    let l11 = m60 ^ l2
    let l12 = m48 ^ m51
    let l13 = m50 ^ l0
    let l14 = m52 ^ m61
    let l15 = m55 ^ l1
    let l16 = m56 ^ l0
    let l17 = m57 ^ l1
    let l18 = m58 ^ l8
    let l19 = m63 ^ l4
    let l20 = l0 ^ l1
    let l21 = l1 ^ l7
    let l22 = l3 ^ l12
    let l23 = l18 ^ l2
    let l24 = l15 ^ l9
    let l25 = l6 ^ l10
    let l26 = l7 ^ l9
    let l27 = l8 ^ l10
    let l28 = l11 ^ l14
    let l29 = l11 ^ l17
    x[7] = l6 ^ l24  // S0
    x[6] = ~(l16 ^ l26)  // S1
    x[5] = ~(l19 ^ l28)  // S2
    x[4] = l6 ^ l21  // S3
    x[3] = l20 ^ l22  // S4
    x[2] = l25 ^ l29  // S5
    x[1] = ~(l13 ^ l27)  // S6
    x[0] = ~(l6 ^ l23)  // S7
}

/// ShiftRows on one plane: row r of each block (bits r, r + 4, r + 8, r + 12 of its lane:
/// byte 4·column + row) rotates left by r columns, i.e. its bits move down by 4r in the lane.
@inline(__always)
private func shiftRows<W: FixedWidthInteger & UnsignedInteger>(_ v: W) -> W {
    let row0 = v & lanes(0x1111)
    let row1 = ((v &>> 4) & lanes(0x0222)) | ((v &<< 12) & lanes(0x2000))
    let row2 = ((v &>> 8) & lanes(0x0044)) | ((v &<< 8) & lanes(0x4400))
    let row3 = ((v &>> 12) & lanes(0x0008)) | ((v &<< 4) & lanes(0x8880))
    return row0 | row1 | row2 | row3
}

/// The rows of each column moved up by one (row r takes row r + 1 mod 4).
@inline(__always)
private func rotateRows1<W: FixedWidthInteger & UnsignedInteger>(_ v: W) -> W {
    ((v &>> 1) & lanes(0x7777)) | ((v &<< 3) & lanes(0x8888))
}

/// The rows of each column moved up by two.
@inline(__always)
private func rotateRows2<W: FixedWidthInteger & UnsignedInteger>(_ v: W) -> W {
    ((v &>> 2) & lanes(0x3333)) | ((v &<< 2) & lanes(0xCCCC))
}

/// ShiftRows, then MixColumns: b_r = 2·a_r ⊕ 3·a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3)
///                                  = 2·t_r ⊕ a_(r+1) ⊕ t_(r+2)   with t_r = a_r ⊕ a_(r+1);
/// 2·t moves bit i − 1 to bit i and bit 7 back into bits 0, 1, 3, 4.
private func aesShiftMix<W: FixedWidthInteger & UnsignedInteger>(_ x: inout AESPlanes<W>) {
    let a0 = shiftRows(x[0])
    let a1 = shiftRows(x[1])
    let a2 = shiftRows(x[2])
    let a3 = shiftRows(x[3])
    let a4 = shiftRows(x[4])
    let a5 = shiftRows(x[5])
    let a6 = shiftRows(x[6])
    let a7 = shiftRows(x[7])
    let r0 = rotateRows1(a0)
    let r1 = rotateRows1(a1)
    let r2 = rotateRows1(a2)
    let r3 = rotateRows1(a3)
    let r4 = rotateRows1(a4)
    let r5 = rotateRows1(a5)
    let r6 = rotateRows1(a6)
    let r7 = rotateRows1(a7)
    let t0 = a0 ^ r0
    let t1 = a1 ^ r1
    let t2 = a2 ^ r2
    let t3 = a3 ^ r3
    let t4 = a4 ^ r4
    let t5 = a5 ^ r5
    let t6 = a6 ^ r6
    let t7 = a7 ^ r7
    x[0] = t7 ^ r0 ^ rotateRows2(t0)
    x[1] = t0 ^ t7 ^ r1 ^ rotateRows2(t1)
    x[2] = t1 ^ r2 ^ rotateRows2(t2)
    x[3] = t2 ^ t7 ^ r3 ^ rotateRows2(t3)
    x[4] = t3 ^ t7 ^ r4 ^ rotateRows2(t4)
    x[5] = t4 ^ r5 ^ rotateRows2(t5)
    x[6] = t5 ^ r6 ^ rotateRows2(t6)
    x[7] = t6 ^ r7 ^ rotateRows2(t7)
}

/// AES-128's forward cipher, bitsliced on planes of `Plane` (FIPS 197). Holds the 11 round
/// keys as plane bits (176 bytes); wipe it by letting it go out of scope on a stack the
/// caller clears, or call `wipe()`. The meter's is `AES128` (planes of `AESPlaneWord`).
public struct BitslicedAES128<Plane: FixedWidthInteger & UnsignedInteger>: Sendable {
    public static var keyBytes: Int { 16 }
    public static var blockBytes: Int { 16 }
    /// Blocks one `encrypt4` call ciphers.
    public static var parallelBlocks: Int { 4 }
    /// Bytes in one set of 8 planes (`bitWidth / 16` blocks).
    static var setBytes: Int { Plane.bitWidth }

    /// Round key r's plane b at 8r + b (16 bits: byte j of the round key at bit j).
    var roundKeys = InlineArray<88, UInt16>(repeating: 0)

    /// Expands `key` (16 bytes): FIPS 197, 5.2, with SubWord computed by the bitsliced S-box.
    public init(key: Span<UInt8>) {
        precondition(key.count == Self.keyBytes, "AES-128 takes a 16-byte key")
        // The schedule as 44 words of 4 bytes, byte 0 in the low 8 bits.
        var w = InlineArray<44, UInt32>(repeating: 0)
        for i in 0..<4 {
            w[i] =
                UInt32(key[4 * i]) | UInt32(key[4 * i + 1]) &<< 8 | UInt32(key[4 * i + 2]) &<< 16
                | UInt32(key[4 * i + 3]) &<< 24
        }
        var rcon: UInt32 = 1
        for i in 4..<44 {
            var temp = w[i - 1]
            if i % 4 == 0 {
                // RotWord, then SubWord on the four bytes (lane 0, bytes 0 ..< 4).
                temp = temp &>> 8 | temp &<< 24
                var planes = AESPlanes<Plane>(repeating: 0)
                for j in 0..<4 {
                    let byte = temp &>> UInt32(8 * j)
                    for b in 0..<8 { planes[b] |= Plane((byte &>> UInt32(b)) & 1) &<< j }
                }
                aesSubBytes(&planes)
                temp = 0
                for j in 0..<4 {
                    for b in 0..<8 { temp |= UInt32(truncatingIfNeeded: (planes[b] &>> j) & 1) &<< UInt32(8 * j + b) }
                }
                for b in 0..<8 { planes[b] = 0 }
                temp ^= rcon
                rcon = (rcon &<< 1) ^ ((rcon &>> 7) * 0x11B)  // public: the round number
            }
            w[i] = w[i - 4] ^ temp
        }
        for r in 0..<11 {
            for j in 0..<16 {
                let byte = w[4 * r + j / 4] &>> UInt32(8 * (j % 4))
                for b in 0..<8 { roundKeys[8 * r + b] |= UInt16(truncatingIfNeeded: (byte &>> UInt32(b)) & 1) &<< j }
            }
        }
        for i in 0..<44 { w[i] = 0 }
    }

    /// Clears the round keys.
    public mutating func wipe() {
        for i in 0..<88 { roundKeys[i] = 0 }
    }

    /// XORs round key `round` into the planes (`keys` is `roundKeys.span`: indexing the
    /// stored array directly copied all 176 bytes for every plane on the M4).
    @inline(__always)
    private func addRoundKey(_ x: inout AESPlanes<Plane>, _ keys: Span<UInt16>, _ round: Int) {
        for b in 0..<8 { x[b] ^= broadcast(keys[8 * round + b]) }
    }

    /// Encrypts the `setBytes / 16` blocks at `offset` in place.
    func encryptSet(_ blocks: inout MutableSpan<UInt8>, at offset: Int) {
        let keys = roundKeys.span
        var x: AESPlanes<Plane> = loadPlanes(blocks.span, at: offset)
        addRoundKey(&x, keys, 0)
        for round in 1..<10 {
            aesSubBytes(&x)
            aesShiftMix(&x)
            addRoundKey(&x, keys, round)
        }
        aesSubBytes(&x)
        for b in 0..<8 { x[b] = shiftRows(x[b]) }
        addRoundKey(&x, keys, 10)
        storePlanes(x, into: &blocks, at: offset)
        for b in 0..<8 { x[b] = 0 }
    }

    /// Encrypts the four 16-byte blocks in `blocks` (64 bytes) in place.
    public func encrypt4(_ blocks: inout MutableSpan<UInt8>) {
        precondition(blocks.count == Self.parallelBlocks * Self.blockBytes, "encrypt4 takes 64 bytes")
        var offset = 0
        while offset < 64 {
            encryptSet(&blocks, at: offset)
            offset += Self.setBytes
        }
    }

    /// The S-box on each of the first `Plane.bitWidth` bytes of `bytes`, through the planes
    /// (for tests: the circuit against the table).
    public static func subBytes(_ bytes: inout MutableSpan<UInt8>) {
        precondition(bytes.count >= setBytes, "subBytes takes one set of bytes")
        var x: AESPlanes<Plane> = loadPlanes(bytes.span, at: 0)
        aesSubBytes(&x)
        storePlanes(x, into: &bytes, at: 0)
    }
}

/// The meter's AES-128: planes of the target's word.
public typealias AES128 = BitslicedAES128<AESPlaneWord>

/// GHASH's multiply in GF(2^128) (SP 800-38D, Algorithm 1) in constant time, in 64-bit
/// words, four bits of x per step: Horner's rule from x's last coefficient,
/// Z = Z·x^4 ⊕ x_4j·Y ⊕ x_4j+1·Y·x ⊕ x_4j+2·Y·x^2 ⊕ x_4j+3·Y·x^3, every term taken under a
/// mask. Blocks are two big-endian words: `hi` holds bytes 0 ..< 8, whose first bit is x^0.
@inline(__always)
func ghashMultiply(_ x: (hi: UInt64, lo: UInt64), _ y: (hi: UInt64, lo: UInt64)) -> (hi: UInt64, lo: UInt64) {
    // Y·x^k for k = 0 ..< 4 at 2k, 2k + 1.
    var m = InlineArray<8, UInt64>(repeating: 0)
    var vh = y.hi
    var vl = y.lo
    for k in 0..<4 {
        m[2 * k] = vh
        m[2 * k + 1] = vl
        // V·x: shift right by one bit; the bit leaving x^127 comes back as R = 0xE1 ‖ 0^120.
        let carry = topMask64(vl &<< 63)
        vl = (vl &>> 1) | (vh &<< 63)
        vh = (vh &>> 1) ^ (0xE100_0000_0000_0000 & carry)
    }
    var zh: UInt64 = 0
    var zl: UInt64 = 0
    do {
        let y0 = m.span
        for half in 0..<2 {
            // x's words from the last; each from its lowest nibble (public: the loop's position)
            var word = half == 0 ? x.lo : x.hi
            for _ in 0..<16 {
                // Z·x^4: x^124 … x^127 (bits 3 … 0 of zl) come back as x^k·(1 + x + x^2 + x^7).
                let d = zl & 0xF
                zl = (zl &>> 4) | (zh &<< 60)
                zh = (zh &>> 4) ^ (d &<< 60) ^ (d &<< 59) ^ (d &<< 58) ^ (d &<< 53)
                // Coefficient 4j + k of x is bit 3 − k of the nibble.
                let take0 = topMask64(word &<< 60)
                let take1 = topMask64(word &<< 61)
                let take2 = topMask64(word &<< 62)
                let take3 = topMask64(word &<< 63)
                zh ^= (y0[0] & take0) ^ (y0[2] & take1) ^ (y0[4] & take2) ^ (y0[6] & take3)
                zl ^= (y0[1] & take0) ^ (y0[3] & take1) ^ (y0[5] & take2) ^ (y0[7] & take3)
                word &>>= 4
            }
        }
    }
    for i in 0..<8 { m[i] = 0 }
    return (zh, zl)
}

/// All ones if the top bit of `v` is set, else 0 (an arithmetic shift: no branch).
@inline(__always) private func topMask64(_ v: UInt64) -> UInt64 {
    UInt64(bitPattern: Int64(bitPattern: v) &>> 63)
}

/// All ones if the top bit of `v` is set, else 0 (an arithmetic shift: no branch).
@inline(__always) private func topMask(_ v: UInt32) -> UInt32 {
    UInt32(bitPattern: Int32(bitPattern: v) &>> 31)
}

/// The same multiply in 32-bit words (32-bit targets), four bits of x per step: Horner's
/// rule from x's last coefficient, Z = Z·x^4 ⊕ x_4j·Y ⊕ x_4j+1·Y·x ⊕ x_4j+2·Y·x^2 ⊕
/// x_4j+3·Y·x^3, every term taken under a mask. Words are big-endian, word 0 holding bytes
/// 0 ..< 4 (coefficients x^0 … x^31, x^0 in the top bit).
@inline(__always)
func ghashMultiply32(_ x: (hi: UInt64, lo: UInt64), _ y: (hi: UInt64, lo: UInt64)) -> (hi: UInt64, lo: UInt64) {
    // Y·x^k for k = 0 ..< 4 at 4k ..< 4k + 4.
    var m = InlineArray<16, UInt32>(repeating: 0)
    var v0 = UInt32(truncatingIfNeeded: y.hi &>> 32)
    var v1 = UInt32(truncatingIfNeeded: y.hi)
    var v2 = UInt32(truncatingIfNeeded: y.lo &>> 32)
    var v3 = UInt32(truncatingIfNeeded: y.lo)
    for k in 0..<4 {
        m[4 * k] = v0
        m[4 * k + 1] = v1
        m[4 * k + 2] = v2
        m[4 * k + 3] = v3
        // V·x: shift right by one bit; the bit leaving x^127 comes back as R = 0xE1 ‖ 0^120.
        let carry = topMask(v3 &<< 31)
        v3 = (v3 &>> 1) | (v2 &<< 31)
        v2 = (v2 &>> 1) | (v1 &<< 31)
        v1 = (v1 &>> 1) | (v0 &<< 31)
        v0 = (v0 &>> 1) ^ (0xE100_0000 & carry)
    }
    var z0: UInt32 = 0
    var z1: UInt32 = 0
    var z2: UInt32 = 0
    var z3: UInt32 = 0
    do {
        let y0 = m.span
        for quarter in 0..<4 {
            // x's words from the last; each from its lowest nibble (public: the loop's position)
            var word = UInt32(truncatingIfNeeded: (quarter < 2 ? x.lo : x.hi) &>> (quarter % 2 == 0 ? 0 : 32))
            for _ in 0..<8 {
                // Z·x^4: the four coefficients x^124 … x^127 leaving the low end (bits 3 … 0 of
                // z3) come back as x^k·(1 + x + x^2 + x^7), i.e. 0xE1 ‖ 0^24 moved down by k.
                let d = z3 & 0xF
                z3 = (z3 &>> 4) | (z2 &<< 28)
                z2 = (z2 &>> 4) | (z1 &<< 28)
                z1 = (z1 &>> 4) | (z0 &<< 28)
                z0 = (z0 &>> 4) ^ (d &<< 28) ^ (d &<< 27) ^ (d &<< 26) ^ (d &<< 21)
                // Coefficient 4j + k of x is bit 3 − k of the nibble.
                let take0 = topMask(word &<< 28)
                let take1 = topMask(word &<< 29)
                let take2 = topMask(word &<< 30)
                let take3 = topMask(word &<< 31)
                z0 ^= (y0[0] & take0) ^ (y0[4] & take1) ^ (y0[8] & take2) ^ (y0[12] & take3)
                z1 ^= (y0[1] & take0) ^ (y0[5] & take1) ^ (y0[9] & take2) ^ (y0[13] & take3)
                z2 ^= (y0[2] & take0) ^ (y0[6] & take1) ^ (y0[10] & take2) ^ (y0[14] & take3)
                z3 ^= (y0[3] & take0) ^ (y0[7] & take1) ^ (y0[11] & take2) ^ (y0[15] & take3)
                word &>>= 4
            }
        }
    }
    for i in 0..<16 { m[i] = 0 }
    return (UInt64(z0) &<< 32 | UInt64(z1), UInt64(z2) &<< 32 | UInt64(z3))
}

/// GHASH_H over zero-padded segments and the length block, in `Word`-sized arithmetic.
struct GHash<Word: FixedWidthInteger & UnsignedInteger> {
    let h: (hi: UInt64, lo: UInt64)
    var y: (hi: UInt64, lo: UInt64) = (0, 0)

    init(h: (hi: UInt64, lo: UInt64)) { self.h = h }

    @inline(__always)
    mutating func absorb(hi: UInt64, lo: UInt64) {
        // public: the target's word width
        y = Word.bitWidth == 32 ? ghashMultiply32((y.hi ^ hi, y.lo ^ lo), h) : ghashMultiply((y.hi ^ hi, y.lo ^ lo), h)
    }

    /// Absorbs `bytes` as whole blocks, the last one padded with zeros.
    mutating func absorbPadded(_ bytes: Span<UInt8>) {
        var offset = 0
        while offset < bytes.count {
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            for k in 0..<16 {
                let byte = offset + k < bytes.count ? UInt64(bytes[offset + k]) : 0  // public: the length
                if k < 8 { hi |= byte &<< UInt64(56 - 8 * k) } else { lo |= byte &<< UInt64(120 - 8 * k) }
            }
            absorb(hi: hi, lo: lo)
            offset += 16
        }
    }
}

/// AES-128-GCM with 96-bit nonces and 128-bit tags (NIST SP 800-38D) on planes and GHASH
/// words of `Plane`. Keyed once (round keys and H = E_K(0^128) in 192 bytes), then seals
/// any number of messages, each under a nonce that never repeats for this key. The meter's
/// is `AESGCM` (the target's word); `AESGCMCore<UInt32>` is the 32-bit path on any host.
public struct AESGCMCore<Plane: FixedWidthInteger & UnsignedInteger>: Sendable {
    var cipher: BitslicedAES128<Plane>
    let h: (hi: UInt64, lo: UInt64)

    public init(key: Span<UInt8>) {
        cipher = BitslicedAES128(key: key)
        // H = E_K(0): one set of planes is enough.
        var zero = InlineArray<64, UInt8>(repeating: 0)
        var span = zero.mutableSpan
        cipher.encryptSet(&span, at: 0)
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<8 {
            hi = hi &<< 8 | UInt64(zero[k])
            lo = lo &<< 8 | UInt64(zero[8 + k])
        }
        h = (hi, lo)
        for k in 0..<64 { zero[k] = 0 }
    }

    /// Four keystream blocks E_K(nonce ‖ counter), counter = first ..< first + 4 (inc32).
    func keystream(nonce: Span<UInt8>, first: UInt32, into ks: inout InlineArray<64, UInt8>) {
        for k in 0..<4 {
            for i in 0..<12 { ks[16 * k + i] = nonce[i] }
            let counter = first &+ UInt32(k)
            for i in 0..<4 { ks[16 * k + 12 + i] = UInt8(truncatingIfNeeded: counter &>> UInt32(24 - 8 * i)) }
        }
        var span = ks.mutableSpan
        cipher.encrypt4(&span)
    }

    /// XORs the keystream from counter 2 on into `input`, written to `output`; returns
    /// E_K(J0), the tag's mask, in `mask`.
    func crypt(
        nonce: Span<UInt8>, input: Span<UInt8>, output: inout MutableSpan<UInt8>, mask: inout InlineArray<16, UInt8>
    ) {
        var ks = InlineArray<64, UInt8>(repeating: 0)
        keystream(nonce: nonce, first: 1, into: &ks)
        for k in 0..<16 { mask[k] = ks[k] }
        var used = 16
        var next: UInt32 = 5
        for i in 0..<input.count {
            if used == 64 {
                keystream(nonce: nonce, first: next, into: &ks)
                next &+= 4
                used = 0
            }
            output[i] = input[i] ^ ks[used]
            used += 1
        }
        for k in 0..<64 { ks[k] = 0 }
    }

    /// S = GHASH_H(A ‖ pad ‖ C ‖ pad ‖ [len A]64 ‖ [len C]64), masked: the tag.
    func tag(
        aad: Span<UInt8>, ciphertext: Span<UInt8>, mask: InlineArray<16, UInt8>, into out: inout InlineArray<16, UInt8>
    ) {
        var g = GHash<Plane>(h: h)
        g.absorbPadded(aad)
        g.absorbPadded(ciphertext)
        g.absorb(hi: UInt64(aad.count) &* 8, lo: UInt64(ciphertext.count) &* 8)
        for k in 0..<8 {
            out[k] = UInt8(truncatingIfNeeded: g.y.hi &>> UInt64(56 - 8 * k)) ^ mask[k]
            out[8 + k] = UInt8(truncatingIfNeeded: g.y.lo &>> UInt64(56 - 8 * k)) ^ mask[8 + k]
        }
    }

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag
    /// over `aad` and the ciphertext into `tag`. `nonce` (12 bytes) must never have been
    /// used with this key before.
    public func seal(
        nonce: Span<UInt8>, aad: Span<UInt8>, plaintext: Span<UInt8>, ciphertext: inout MutableSpan<UInt8>,
        tag out: inout MutableSpan<UInt8>
    ) {
        precondition(nonce.count == AESGCM.nonceBytes, "AES-GCM: a nonce has 12 bytes")
        precondition(ciphertext.count >= plaintext.count && out.count == AESGCM.tagBytes, "AES-GCM: buffer sizes")
        var mask = InlineArray<16, UInt8>(repeating: 0)
        crypt(nonce: nonce, input: plaintext, output: &ciphertext, mask: &mask)
        var t = InlineArray<16, UInt8>(repeating: 0)
        tag(aad: aad, ciphertext: ciphertext.span.extracting(0..<plaintext.count), mask: mask, into: &t)
        for k in 0..<16 { out[k] = t[k] }
    }

    #if !hasFeature(Embedded)
        // Opening is the customer's side (host, browser): not in the meter's image.

        /// Checks the tag in constant time, then decrypts `ciphertext` into `plaintext`.
        /// False, with `plaintext` left zeroed, when the tag does not verify.
        public func open(
            nonce: Span<UInt8>, aad: Span<UInt8>, ciphertext: Span<UInt8>, tag expected: Span<UInt8>,
            plaintext: inout MutableSpan<UInt8>
        ) -> Bool {
            precondition(nonce.count == AESGCM.nonceBytes, "AES-GCM: a nonce has 12 bytes")
            precondition(plaintext.count >= ciphertext.count, "AES-GCM: buffer sizes")
            guard expected.count == AESGCM.tagBytes else { return false }
            var ks = InlineArray<64, UInt8>(repeating: 0)
            keystream(nonce: nonce, first: 1, into: &ks)
            var mask = InlineArray<16, UInt8>(repeating: 0)
            for k in 0..<16 { mask[k] = ks[k] }
            var t = InlineArray<16, UInt8>(repeating: 0)
            tag(aad: aad, ciphertext: ciphertext, mask: mask, into: &t)
            var difference: UInt8 = 0
            for k in 0..<16 { difference |= t[k] ^ expected[k] }
            guard difference == 0 else {
                for i in 0..<ciphertext.count { plaintext[i] = 0 }
                return false
            }
            crypt(nonce: nonce, input: ciphertext, output: &plaintext, mask: &mask)
            return true
        }
    #endif
}

/// AES-128-GCM as the meter runs it: `AESGCMCore` on the target's word (`AESPlaneWord`).
public struct AESGCM: Sendable {
    public static let keyBytes = 16
    public static let nonceBytes = 12
    public static let tagBytes = 16

    var core: AESGCMCore<AESPlaneWord>

    public init(key: Span<UInt8>) { core = AESGCMCore(key: key) }

    /// `AESGCMCore.seal`: `nonce` (12 bytes) must never have been used with this key before.
    public func seal(
        nonce: Span<UInt8>, aad: Span<UInt8>, plaintext: Span<UInt8>, ciphertext: inout MutableSpan<UInt8>,
        tag out: inout MutableSpan<UInt8>
    ) {
        core.seal(nonce: nonce, aad: aad, plaintext: plaintext, ciphertext: &ciphertext, tag: &out)
    }

    #if !hasFeature(Embedded)
        /// `AESGCMCore.open`: false, with `plaintext` left zeroed, when the tag does not verify.
        public func open(
            nonce: Span<UInt8>, aad: Span<UInt8>, ciphertext: Span<UInt8>, tag expected: Span<UInt8>,
            plaintext: inout MutableSpan<UInt8>
        ) -> Bool {
            core.open(nonce: nonce, aad: aad, ciphertext: ciphertext, tag: expected, plaintext: &plaintext)
        }
    #endif
}
