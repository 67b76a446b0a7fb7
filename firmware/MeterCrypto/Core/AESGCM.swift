// AES-128 (FIPS 197) and AES-128-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags): the
// AEAD that seals a customer's detailed readings (docs/spec/customer-detail.md). It is
// DLMS/COSEM security suite 0's cipher, and WebCrypto's AES-GCM opens it in a browser.
//
// Firmware code: no heap, fixed-size buffers, and constant time. No table is indexed by
// secret data and no branch depends on it:
// - AES is bitsliced: four blocks at once as 8 bit planes of 64 bits (bit 16k + j of plane
//   b is bit b of byte j of block k). SubBytes is the S-box's own definition computed on
//   the planes: the inverse x^254 in GF(2^8) (4 multiplications and 7 squarings of bit
//   planes, reduced by x^8 + x^4 + x^3 + x + 1), then the affine map. ShiftRows and
//   MixColumns are shifts and masks of the planes. Only the forward cipher exists: GCM
//   never decrypts a block.
// - GHASH multiplies in GF(2^128) by SP 800-38D's Algorithm 1, each conditional step done
//   with a mask (128 rounds of shift, AND, XOR): no table, and no multiply instruction,
//   whose timing depends on its operands on some small cores (Cortex-M0/M3).

/// Four AES blocks in bitsliced form.
typealias AESPlanes = InlineArray<8, UInt64>

/// A 16-bit lane pattern repeated in the four lanes of a plane.
@inline(__always) private func lanes(_ pattern: UInt64) -> UInt64 { pattern &* 0x0001_0001_0001_0001 }

/// c mod x^8 + x^4 + x^3 + x + 1, for a product c of degree ≤ 14 (bit planes).
@inline(__always)
private func gfReduce(_ c: inout InlineArray<15, UInt64>) -> AESPlanes {
    var k = 14
    while k >= 8 {
        // x^k = x^(k−8)·(x^4 + x^3 + x + 1)
        let t = c[k]
        c[k - 4] ^= t
        c[k - 5] ^= t
        c[k - 7] ^= t
        c[k - 8] ^= t
        k -= 1
    }
    var out = AESPlanes(repeating: 0)
    for i in 0..<8 { out[i] = c[i] }
    return out
}

/// a·b in GF(2^8), byte by byte across the planes.
private func gfMultiply(_ a: AESPlanes, _ b: AESPlanes) -> AESPlanes {
    var c = InlineArray<15, UInt64>(repeating: 0)
    for i in 0..<8 {
        for j in 0..<8 { c[i + j] ^= a[i] & b[j] }
    }
    return gfReduce(&c)
}

/// a² in GF(2^8) (a linear map: bit i goes to x^2i).
private func gfSquare(_ a: AESPlanes) -> AESPlanes {
    var c = InlineArray<15, UInt64>(repeating: 0)
    for i in 0..<8 { c[2 * i] = a[i] }
    return gfReduce(&c)
}

/// The S-box on every byte: x^254 (the inverse, 0 for 0), then the affine map
/// b_i ⊕ b_(i+4) ⊕ b_(i+5) ⊕ b_(i+6) ⊕ b_(i+7) ⊕ 0x63_i (FIPS 197, 5.1.1).
func aesSubBytes(_ x: inout AESPlanes) {
    let x2 = gfSquare(x)
    let x3 = gfMultiply(x2, x)
    let x12 = gfSquare(gfSquare(x3))
    let x15 = gfMultiply(x12, x3)
    let x240 = gfSquare(gfSquare(gfSquare(gfSquare(x15))))
    let inverse = gfMultiply(gfMultiply(x240, x12), x2)
    for i in 0..<8 {
        x[i] = inverse[i] ^ inverse[(i + 4) & 7] ^ inverse[(i + 5) & 7] ^ inverse[(i + 6) & 7] ^ inverse[(i + 7) & 7]
    }
    // 0x63 = bits 0, 1, 5, 6
    x[0] = ~x[0]
    x[1] = ~x[1]
    x[5] = ~x[5]
    x[6] = ~x[6]
}

/// ShiftRows: row r of each block (bits r, r + 4, r + 8, r + 12 of its lane: byte
/// 4·column + row) rotates left by r columns, i.e. its bits move down by 4r in the lane.
private func aesShiftRows(_ x: inout AESPlanes) {
    for b in 0..<8 {
        let v = x[b]
        var out = v & lanes(0x1111)
        for r in 1..<4 {
            let s = UInt64(4 * r)
            let row = v & lanes(UInt64(0x1111) << UInt64(r))
            let low = lanes((UInt64(1) << (16 - s)) - 1)
            out |= (row >> s) & low
            out |= (row << (16 - s)) & (lanes(0xFFFF) ^ low)
        }
        x[b] = out
    }
}

/// The rows of each column moved up by one (row r takes row r + 1 mod 4).
@inline(__always) private func rotateRows1(_ v: UInt64) -> UInt64 {
    ((v >> 1) & lanes(0x7777)) | ((v << 3) & lanes(0x8888))
}

/// The rows of each column moved up by two.
@inline(__always) private func rotateRows2(_ v: UInt64) -> UInt64 {
    ((v >> 2) & lanes(0x3333)) | ((v << 2) & lanes(0xCCCC))
}

/// MixColumns: b_r = 2·a_r ⊕ 3·a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3)
///               = 2·t_r ⊕ a_(r+1) ⊕ t_(r+2)   with t_r = a_r ⊕ a_(r+1).
private func aesMixColumns(_ x: inout AESPlanes) {
    var t = AESPlanes(repeating: 0)
    var a1 = AESPlanes(repeating: 0)
    for b in 0..<8 {
        a1[b] = rotateRows1(x[b])
        t[b] = x[b] ^ a1[b]
    }
    // 2·t: bit i − 1 to bit i, bit 7 back into bits 0, 1, 3, 4.
    let double0 = t[7]
    let double1 = t[0] ^ t[7]
    let double2 = t[1]
    let double3 = t[2] ^ t[7]
    let double4 = t[3] ^ t[7]
    let double5 = t[4]
    let double6 = t[5]
    let double7 = t[6]
    x[0] = double0 ^ a1[0] ^ rotateRows2(t[0])
    x[1] = double1 ^ a1[1] ^ rotateRows2(t[1])
    x[2] = double2 ^ a1[2] ^ rotateRows2(t[2])
    x[3] = double3 ^ a1[3] ^ rotateRows2(t[3])
    x[4] = double4 ^ a1[4] ^ rotateRows2(t[4])
    x[5] = double5 ^ a1[5] ^ rotateRows2(t[5])
    x[6] = double6 ^ a1[6] ^ rotateRows2(t[6])
    x[7] = double7 ^ a1[7] ^ rotateRows2(t[7])
}

/// AES-128's forward cipher, bitsliced (FIPS 197). Holds the 11 round keys as bit planes
/// (176 bytes); wipe it by letting it go out of scope on a stack the caller clears, or
/// call `wipe()`.
public struct AES128: Sendable {
    public static let keyBytes = 16
    public static let blockBytes = 16
    /// Blocks one `encrypt4` call ciphers.
    public static let parallelBlocks = 4

    /// Round key r's plane b at 8r + b (16 bits: byte j of the round key at bit j).
    var roundKeys = InlineArray<88, UInt16>(repeating: 0)

    /// Expands `key` (16 bytes): FIPS 197, 5.2, with SubWord computed by the bitsliced S-box.
    public init(key: Span<UInt8>) {
        precondition(key.count == Self.keyBytes, "AES-128 takes a 16-byte key")
        // The schedule as 44 words of 4 bytes, byte 0 in the low 8 bits.
        var w = InlineArray<44, UInt32>(repeating: 0)
        for i in 0..<4 {
            w[i] =
                UInt32(key[4 * i]) | UInt32(key[4 * i + 1]) << 8 | UInt32(key[4 * i + 2]) << 16
                | UInt32(key[4 * i + 3]) << 24
        }
        var rcon: UInt32 = 1
        for i in 4..<44 {
            var temp = w[i - 1]
            if i % 4 == 0 {
                // RotWord, then SubWord on the four bytes (lane 0, bytes 0 ..< 4).
                temp = temp >> 8 | temp << 24
                var planes = AESPlanes(repeating: 0)
                for j in 0..<4 {
                    let byte = temp >> UInt32(8 * j)
                    for b in 0..<8 { planes[b] |= UInt64((byte >> UInt32(b)) & 1) << UInt64(j) }
                }
                aesSubBytes(&planes)
                temp = 0
                for j in 0..<4 {
                    for b in 0..<8 { temp |= UInt32((planes[b] >> UInt64(j)) & 1) << UInt32(8 * j + b) }
                }
                temp ^= rcon
                rcon = (rcon << 1) ^ ((rcon >> 7) * 0x11B)  // public: the round number
            }
            w[i] = w[i - 4] ^ temp
        }
        for r in 0..<11 {
            for j in 0..<16 {
                let byte = w[4 * r + j / 4] >> UInt32(8 * (j % 4))
                for b in 0..<8 { roundKeys[8 * r + b] |= UInt16((byte >> UInt32(b)) & 1) << UInt16(j) }
            }
        }
        for i in 0..<44 { w[i] = 0 }
    }

    /// Clears the round keys.
    public mutating func wipe() {
        for i in 0..<88 { roundKeys[i] = 0 }
    }

    @inline(__always)
    private func addRoundKey(_ x: inout AESPlanes, _ round: Int) {
        for b in 0..<8 { x[b] ^= lanes(UInt64(roundKeys[8 * round + b])) }
    }

    /// Encrypts the four 16-byte blocks in `blocks` (64 bytes) in place.
    public func encrypt4(_ blocks: inout MutableSpan<UInt8>) {
        precondition(blocks.count == Self.parallelBlocks * Self.blockBytes, "encrypt4 takes 64 bytes")
        var x = AESPlanes(repeating: 0)
        // Byte j of block k is bit 16k + j: the byte's position in the buffer.
        for position in 0..<64 {
            let byte = UInt64(blocks[position])
            for b in 0..<8 { x[b] |= ((byte >> UInt64(b)) & 1) << UInt64(position) }
        }
        addRoundKey(&x, 0)
        for round in 1..<10 {
            aesSubBytes(&x)
            aesShiftRows(&x)
            aesMixColumns(&x)
            addRoundKey(&x, round)
        }
        aesSubBytes(&x)
        aesShiftRows(&x)
        addRoundKey(&x, 10)
        for position in 0..<64 {
            var byte: UInt64 = 0
            for b in 0..<8 { byte |= ((x[b] >> UInt64(position)) & 1) << UInt64(b) }
            blocks[position] = UInt8(truncatingIfNeeded: byte)
        }
        for b in 0..<8 { x[b] = 0 }
    }
}

/// GHASH's multiply in GF(2^128) (SP 800-38D, Algorithm 1) in constant time. Blocks are
/// two big-endian words: `hi` holds bytes 0 ..< 8, whose first bit is x^0.
@inline(__always)
func ghashMultiply(_ x: (hi: UInt64, lo: UInt64), _ y: (hi: UInt64, lo: UInt64)) -> (hi: UInt64, lo: UInt64) {
    var zh: UInt64 = 0
    var zl: UInt64 = 0
    var vh = y.hi
    var vl = y.lo
    for half in 0..<2 {
        let word = half == 0 ? x.hi : x.lo  // public: the loop's position
        var i: UInt64 = 0
        while i < 64 {
            let take = 0 &- ((word >> (63 - i)) & 1)
            zh ^= vh & take
            zl ^= vl & take
            // V·x: shift right by one bit; the bit leaving x^127 comes back as R = 0xE1 ‖ 0^120.
            let carry = 0 &- (vl & 1)
            vl = (vl >> 1) | (vh << 63)
            vh = (vh >> 1) ^ (0xE100_0000_0000_0000 & carry)
            i += 1
        }
    }
    return (zh, zl)
}

/// GHASH_H over zero-padded segments and the length block.
struct GHash {
    let h: (hi: UInt64, lo: UInt64)
    var y: (hi: UInt64, lo: UInt64) = (0, 0)

    init(h: (hi: UInt64, lo: UInt64)) { self.h = h }

    @inline(__always)
    mutating func absorb(hi: UInt64, lo: UInt64) {
        y = ghashMultiply((y.hi ^ hi, y.lo ^ lo), h)
    }

    /// Absorbs `bytes` as whole blocks, the last one padded with zeros.
    mutating func absorbPadded(_ bytes: Span<UInt8>) {
        var offset = 0
        while offset < bytes.count {
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            for k in 0..<16 {
                let byte = offset + k < bytes.count ? UInt64(bytes[offset + k]) : 0  // public: the length
                if k < 8 { hi |= byte << UInt64(56 - 8 * k) } else { lo |= byte << UInt64(120 - 8 * k) }
            }
            absorb(hi: hi, lo: lo)
            offset += 16
        }
    }
}

/// AES-128-GCM with 96-bit nonces and 128-bit tags (NIST SP 800-38D). Keyed once (round
/// keys and H = E_K(0^128) in 192 bytes), then seals any number of messages, each under a
/// nonce that never repeats for this key.
public struct AESGCM: Sendable {
    public static let keyBytes = 16
    public static let nonceBytes = 12
    public static let tagBytes = 16

    var cipher: AES128
    let h: (hi: UInt64, lo: UInt64)

    public init(key: Span<UInt8>) {
        cipher = AES128(key: key)
        var zero = InlineArray<64, UInt8>(repeating: 0)
        var span = zero.mutableSpan
        cipher.encrypt4(&span)
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<8 {
            hi = hi << 8 | UInt64(zero[k])
            lo = lo << 8 | UInt64(zero[8 + k])
        }
        h = (hi, lo)
        for k in 0..<64 { zero[k] = 0 }
    }

    /// Four keystream blocks E_K(nonce ‖ counter), counter = first ..< first + 4 (inc32).
    func keystream(nonce: Span<UInt8>, first: UInt32, into ks: inout InlineArray<64, UInt8>) {
        for k in 0..<4 {
            for i in 0..<12 { ks[16 * k + i] = nonce[i] }
            let counter = first &+ UInt32(k)
            for i in 0..<4 { ks[16 * k + 12 + i] = UInt8(truncatingIfNeeded: counter >> UInt32(24 - 8 * i)) }
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
        var g = GHash(h: h)
        g.absorbPadded(aad)
        g.absorbPadded(ciphertext)
        g.absorb(hi: UInt64(aad.count) &* 8, lo: UInt64(ciphertext.count) &* 8)
        for k in 0..<8 {
            out[k] = UInt8(truncatingIfNeeded: g.y.hi >> UInt64(56 - 8 * k)) ^ mask[k]
            out[8 + k] = UInt8(truncatingIfNeeded: g.y.lo >> UInt64(56 - 8 * k)) ^ mask[8 + k]
        }
    }

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag
    /// over `aad` and the ciphertext into `tag`. `nonce` (12 bytes) must never have been
    /// used with this key before.
    public func seal(
        nonce: Span<UInt8>, aad: Span<UInt8>, plaintext: Span<UInt8>, ciphertext: inout MutableSpan<UInt8>,
        tag out: inout MutableSpan<UInt8>
    ) {
        precondition(nonce.count == Self.nonceBytes, "AES-GCM: a nonce has 12 bytes")
        precondition(ciphertext.count >= plaintext.count && out.count == Self.tagBytes, "AES-GCM: buffer sizes")
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
            precondition(nonce.count == Self.nonceBytes, "AES-GCM: a nonce has 12 bytes")
            precondition(plaintext.count >= ciphertext.count, "AES-GCM: buffer sizes")
            guard expected.count == Self.tagBytes else { return false }
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
