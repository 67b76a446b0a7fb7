// Keccak-f[1600] (FIPS 202) and the sponge-based extendable-output functions built on it:
// SHAKE128, SHAKE256 (FIPS 202) and TurboSHAKE128 (RFC 9861).
//
// Firmware code: builds as Embedded Swift with -no-allocations. The state is 25 UInt64
// lanes in an InlineArray; lane i holds bytes 8i..<8i+8 of the 200-byte state, little-endian
// (FIPS 202, section 3.1.2), whatever the host byte order.

/// Round constants of Keccak-f[1600], ι step, for rounds 0..<24 (FIPS 202, algorithm 5/6).
/// TurboSHAKE uses only the last 12: indices 12..<24.
let keccakRoundConstants: InlineArray<24, UInt64> = [
    0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
    0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
    0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
    0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
    0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
    0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
]

@inline(__always)
func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 {
    (x &<< n) | (x &>> (64 &- n))
}

/// Keccak-p[1600, 24 - firstRound]: applies rounds firstRound..<24 of Keccak-f[1600] to `state`.
/// firstRound 0 is Keccak-f[1600] (SHAKE, cSHAKE, KMAC); 12 is Keccak-p[1600, 12] (TurboSHAKE).
///
/// The lanes live in 25 local variables for the whole call and each round is written out in
/// full (θ, ρ and π fused, then χ and ι), so the loop has no array accesses at all.
func keccakP1600(_ state: inout InlineArray<25, UInt64>, firstRound: Int) {
    precondition(firstRound >= 0 && firstRound <= 24, "Keccak: first round outside 0...24")
    var a0 = state[0]
    var a1 = state[1]
    var a2 = state[2]
    var a3 = state[3]
    var a4 = state[4]
    var a5 = state[5]
    var a6 = state[6]
    var a7 = state[7]
    var a8 = state[8]
    var a9 = state[9]
    var a10 = state[10]
    var a11 = state[11]
    var a12 = state[12]
    var a13 = state[13]
    var a14 = state[14]
    var a15 = state[15]
    var a16 = state[16]
    var a17 = state[17]
    var a18 = state[18]
    var a19 = state[19]
    var a20 = state[20]
    var a21 = state[21]
    var a22 = state[22]
    var a23 = state[23]
    var a24 = state[24]
    var round = firstRound
    while round < 24 {
        // Lane a{x + 5y} is A[x, y]. θ: column parities c and their mix d.
        // ρ and π: b{X + 5Y} = rot(A[x, y] ^ d[x], r[x, y]) with (X, Y) = (y, 2x + 3y mod 5).
        // χ: A[X, Y] = B[X, Y] ^ (~B[X + 1, Y] & B[X + 2, Y]). Generated from the FIPS 202
        // definitions (rotation offsets (t + 1)(t + 2) / 2 mod 64 along the π orbit).
        let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        let d0 = c4 ^ rotl(c1, 1)
        let d1 = c0 ^ rotl(c2, 1)
        let d2 = c1 ^ rotl(c3, 1)
        let d3 = c2 ^ rotl(c4, 1)
        let d4 = c3 ^ rotl(c0, 1)
        let b0 = a0 ^ d0
        let b1 = rotl(a6 ^ d1, 44)
        let b2 = rotl(a12 ^ d2, 43)
        let b3 = rotl(a18 ^ d3, 21)
        let b4 = rotl(a24 ^ d4, 14)
        let b5 = rotl(a3 ^ d3, 28)
        let b6 = rotl(a9 ^ d4, 20)
        let b7 = rotl(a10 ^ d0, 3)
        let b8 = rotl(a16 ^ d1, 45)
        let b9 = rotl(a22 ^ d2, 61)
        let b10 = rotl(a1 ^ d1, 1)
        let b11 = rotl(a7 ^ d2, 6)
        let b12 = rotl(a13 ^ d3, 25)
        let b13 = rotl(a19 ^ d4, 8)
        let b14 = rotl(a20 ^ d0, 18)
        let b15 = rotl(a4 ^ d4, 27)
        let b16 = rotl(a5 ^ d0, 36)
        let b17 = rotl(a11 ^ d1, 10)
        let b18 = rotl(a17 ^ d2, 15)
        let b19 = rotl(a23 ^ d3, 56)
        let b20 = rotl(a2 ^ d2, 62)
        let b21 = rotl(a8 ^ d3, 55)
        let b22 = rotl(a14 ^ d4, 39)
        let b23 = rotl(a15 ^ d0, 41)
        let b24 = rotl(a21 ^ d1, 2)
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= keccakRoundConstants[round]  // ι
        round &+= 1
    }
    state[0] = a0
    state[1] = a1
    state[2] = a2
    state[3] = a3
    state[4] = a4
    state[5] = a5
    state[6] = a6
    state[7] = a7
    state[8] = a8
    state[9] = a9
    state[10] = a10
    state[11] = a11
    state[12] = a12
    state[13] = a13
    state[14] = a14
    state[15] = a15
    state[16] = a16
    state[17] = a17
    state[18] = a18
    state[19] = a19
    state[20] = a20
    state[21] = a21
    state[22] = a22
    state[23] = a23
    state[24] = a24
}

/// The extendable-output functions this module offers.
public enum XOFAlgorithm: UInt8, Sendable {
    /// SHAKE128 (FIPS 202): rate 168 bytes, Keccak-f[1600], padding 0x1F.
    case shake128
    /// SHAKE256 (FIPS 202): rate 136 bytes, Keccak-f[1600], padding 0x1F.
    case shake256
    /// TurboSHAKE128 (RFC 9861): rate 168 bytes, 12 rounds, domain byte D (default 0x1F).
    case turboShake128
}

/// A streaming sponge: absorb any number of inputs, then squeeze any amount of output.
///
/// Copyable on purpose: absorb a common prefix once, then copy the state.
/// Absorbing after the first squeeze is a programming error and stops the program.
public struct XOF: Sendable {
    /// The 1600-bit state, lane i = bytes 8i..<8i+8 little-endian.
    @usableFromInline var state: InlineArray<25, UInt64>
    /// Byte position in the current block: where the next input byte goes while absorbing,
    /// where the next output byte comes from while squeezing. Equals `rate` only while
    /// squeezing, when the block is used up (the permutation runs lazily on the next read).
    @usableFromInline var offset: Int
    /// Bytes per block, a multiple of 8: 168 (128-bit security) or 136 (256-bit).
    @usableFromInline let rate: Int
    /// The first bits of the padding, right after the message: 0x1F for SHAKE,
    /// D for TurboSHAKE, 0x04 for cSHAKE. The final 0x80 bit is added in `pad()`.
    let domainByte: UInt8
    /// 0 for Keccak-f[1600] (24 rounds), 12 for TurboSHAKE's Keccak-p[1600, 12].
    let firstRound: Int
    /// False while absorbing; true from the first squeeze (padding done) on.
    @usableFromInline var squeezing: Bool

    /// domainSeparation is only used by TurboSHAKE128 (RFC 9861 'D' byte, 0x01...0x7F,
    /// default 0x1F); SHAKE uses 0x1F padding per FIPS 202 and accepts only the default.
    public init(_ algorithm: XOFAlgorithm, domainSeparation: UInt8 = 0x1F) {
        switch algorithm {
        case .shake128:
            precondition(domainSeparation == 0x1F, "XOF: SHAKE128 takes no domain separation byte")
            self.init(rate: 168, domainByte: 0x1F, firstRound: 0)
        case .shake256:
            precondition(domainSeparation == 0x1F, "XOF: SHAKE256 takes no domain separation byte")
            self.init(rate: 136, domainByte: 0x1F, firstRound: 0)
        case .turboShake128:
            precondition(
                domainSeparation >= 0x01 && domainSeparation <= 0x7F,
                "XOF: TurboSHAKE domain separation byte must be in 0x01...0x7F")
            self.init(rate: 168, domainByte: domainSeparation, firstRound: 12)
        }
    }

    /// A sponge with any rate and padding; cSHAKE128 (KMAC) is rate 168, domain byte 0x04.
    init(rate: Int, domainByte: UInt8, firstRound: Int) {
        precondition(rate > 0 && rate < 200 && rate % 8 == 0, "XOF: rate must be a multiple of 8 below 200")
        state = InlineArray(repeating: 0)
        offset = 0
        self.rate = rate
        self.domainByte = domainByte
        self.firstRound = firstRound
        squeezing = false
    }

    // MARK: Absorbing

    /// Absorbs `bytes`. Like all absorbing calls: only before the first squeeze.
    public mutating func absorb(_ bytes: Span<UInt8>) {
        bytes.withUnsafeBufferPointer { absorb(buffer: $0) }
    }

    /// Absorbs one byte.
    public mutating func absorb(_ byte: UInt8) {
        precondition(!squeezing, "XOF: absorb after squeeze")
        absorbByte(byte)
    }

    /// Absorbs the 4 bytes of `value`, most significant first.
    public mutating func absorb(bigEndian value: UInt32) {
        absorbBigEndian(value)
    }

    /// Absorbs the 8 bytes of `value`, most significant first.
    public mutating func absorb(bigEndian value: UInt64) {
        absorbBigEndian(value)
    }

    /// Absorbs the UTF-8 bytes of `text` (no length prefix, no terminator), for domain tags.
    public mutating func absorb(_ text: StaticString) {
        text.withUTF8Buffer { absorb(buffer: $0) }
    }

    mutating func absorbBigEndian<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        precondition(!squeezing, "XOF: absorb after squeeze")
        var shift = T.bitWidth - 8
        while shift >= 0 {
            absorbByte(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }

    /// The one absorbing loop: bytes up to a lane boundary, then whole lanes, then the tail.
    mutating func absorb(buffer: UnsafeBufferPointer<UInt8>) {
        precondition(!squeezing, "XOF: absorb after squeeze")
        let count = buffer.count
        guard count > 0, let base = UnsafeRawPointer(buffer.baseAddress) else { return }
        var i = 0
        while i < count && offset & 7 != 0 {
            absorbByte(buffer[i])
            i += 1
        }
        while count - i >= 8 {
            let lane = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            state[offset &>> 3] ^= lane
            offset &+= 8
            i &+= 8
            if offset == rate { permute() }
        }
        while i < count {
            absorbByte(buffer[i])
            i += 1
        }
    }

    @inline(__always)
    mutating func absorbByte(_ byte: UInt8) {
        state[offset &>> 3] ^= UInt64(byte) &<< UInt64((offset & 7) &<< 3)
        offset &+= 1
        if offset == rate { permute() }
    }

    /// Runs the permutation and starts a new block.
    mutating func permute() {
        keccakP1600(&state, firstRound: firstRound)
        offset = 0
    }

    /// Completes the absorbed input with zero bytes up to the next block boundary
    /// (SP 800-185 bytepad, whose input always starts on a block boundary here).
    mutating func zeroPadToBlockBoundary() {
        precondition(!squeezing, "XOF: absorb after squeeze")
        if offset != 0 { permute() }
    }

    /// Pads (domain byte, zeros, final 0x80 bit), permutes and switches to squeezing.
    mutating func pad() {
        state[offset &>> 3] ^= UInt64(domainByte) &<< UInt64((offset & 7) &<< 3)
        state[(rate - 1) &>> 3] ^= 0x80 &<< 56
        permute()
        squeezing = true
    }

    // MARK: Squeezing

    /// Fills all of `out` with the next `out.count` output bytes.
    public mutating func squeeze(into out: inout MutableSpan<UInt8>) {
        out.withUnsafeMutableBufferPointer { squeeze(into: $0) }
    }

    mutating func squeeze(into buffer: UnsafeMutableBufferPointer<UInt8>) {
        if !squeezing { pad() }
        let count = buffer.count
        guard count > 0, let base = UnsafeMutableRawPointer(buffer.baseAddress) else { return }
        var i = 0
        while i < count {
            if offset == rate { permute() }
            if offset & 7 == 0 && count - i >= 8 {
                // Whole lanes, as many as this block and the output both have.
                let lanes = min(rate - offset, count - i) &>> 3
                for k in 0..<lanes {
                    base.storeBytes(
                        of: state[(offset &>> 3) &+ k].littleEndian, toByteOffset: i &+ 8 &* k, as: UInt64.self)
                }
                offset &+= 8 &* lanes
                i &+= 8 &* lanes
            } else {
                buffer[i] = UInt8(truncatingIfNeeded: state[offset &>> 3] &>> UInt64((offset & 7) &<< 3))
                offset &+= 1
                i &+= 1
            }
        }
    }

    /// The next output byte.
    @inline(__always)
    mutating func squeezeByte() -> UInt8 {
        if !squeezing { pad() }
        if offset == rate { permute() }
        let byte = UInt8(truncatingIfNeeded: state[offset &>> 3] &>> UInt64((offset & 7) &<< 3))
        offset &+= 1
        return byte
    }

    /// The next 8 output bytes read as a little-endian UInt64.
    ///
    /// The hot path of the lattice PRF: when the output position is on a lane boundary
    /// (always, unless a byte squeeze left it elsewhere: the rates are multiples of 8) the
    /// word is the state lane itself.
    @inlinable @inline(__always)
    public mutating func squeezeWord() -> UInt64 {
        if squeezing && offset & 7 == 0 && offset < rate {
            let word = state[offset &>> 3]
            offset &+= 8
            return word
        }
        return squeezeWordSlowPath()
    }

    /// squeezeWord when the sponge is still absorbing, the block is used up, or the
    /// position is not on a lane boundary.
    @usableFromInline
    mutating func squeezeWordSlowPath() -> UInt64 {
        if !squeezing { pad() }
        if offset == rate { permute() }
        if offset & 7 == 0 {
            let word = state[offset &>> 3]
            offset &+= 8
            return word
        }
        var word: UInt64 = 0
        for k in 0..<8 {
            word |= UInt64(squeezeByte()) &<< UInt64(8 &* k)
        }
        return word
    }
}
