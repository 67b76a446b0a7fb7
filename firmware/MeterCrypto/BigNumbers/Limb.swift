// GMP's limb and the firmware's limb buffers, for every target the firmware builds for.
//
// A limb is GMP's mp_limb_t, the C `unsigned long`, which Swift imports as `UInt`: 64
// bits on x86_64, 32 on the Cortex-M4 (armv7em-none-none-eabi). Everything that counts
// limbs derives the count from `Limb.bits`; the one thing Swift cannot derive is a
// literal count in a type (`InlineArray<48, UInt>`), so the fixed buffers are declared
// below once per width, each named for the number of bits it holds. Constant tables
// (the FFDH and DMCFE primes) are written as 64-bit words and split into limbs by
// `Limb.limbs(words:)`, so the same table serves both widths.
//
// The conversions are generic over the limb type: the host tests run them with UInt32
// limbs too, against the same vectors as the 64-bit build.

/// GMP's limb: its width on this target, limb counts, and conversions between limbs,
/// big-endian bytes and 64-bit words (least significant limb first, GMP's mpn layout).
public enum Limb {
    /// Bits per limb: 64 on x86_64, 32 on the Cortex-M4.
    public static var bits: Int { UInt.bitWidth }
    /// Bytes per limb.
    public static var bytes: Int { UInt.bitWidth / 8 }
    /// Limbs of this target that hold `bitCount` bits.
    public static func count(bits bitCount: Int) -> Int { count(bits: bitCount, limbBits: bits) }

    /// Limbs of `limbBits` bits that hold `bitCount` bits.
    public static func count(bits bitCount: Int, limbBits: Int) -> Int {
        precondition(bitCount >= 0 && limbBits > 0, "limb count of a negative size")
        return (bitCount + limbBits - 1) / limbBits
    }

    /// Whether every fixed limb buffer declared for this target (below) holds the bits its
    /// name says: a self-check of the per-width declarations, folded to a constant by the
    /// compiler. The host tests check it on x86_64; on the M4 an image can check it at boot.
    public static var buffersMatchWidth: Bool {
        LimbArray64.count == count(bits: 64) && LimbArray256.count == count(bits: 256)
            && LimbArray256Carry.count == count(bits: 256) + 1 && LimbArray280.count == count(bits: 280)
            && LimbArray384.count == count(bits: 384) && LimbArray2816.count == count(bits: 2816)
            && LimbArray3072.count == count(bits: 3072) && LimbArray3136.count == count(bits: 3136)
            && LimbArray3200.count == count(bits: 3200) && LimbArray6144.count == count(bits: 6144)
            && LimbArray9280.count == count(bits: 9280)
    }

    /// Reads `bytes` (a big-endian number of at most `limbs` limbs' bytes; shorter strings
    /// are zero-extended) into the first `limbs` limbs of `out`, least significant first.
    /// Limbs of `out` past `limbs` are left alone.
    public static func read<L: FixedWidthInteger & UnsignedInteger>(
        bigEndian bytes: Span<UInt8>, into out: inout MutableSpan<L>, limbs: Int
    ) {
        let limbBytes = L.bitWidth / 8
        precondition(limbs >= 0 && out.count >= limbs && bytes.count <= limbs * limbBytes, "limb buffer sizes")
        for i in 0..<limbs {
            // Limb i holds bytes [count - limbBytes(i+1), count - limbBytes·i) of the string.
            let end = bytes.count - limbBytes * i
            var limb: L = 0
            for k in max(end - limbBytes, 0)..<max(end, 0) { limb = (limb << 8) | L(bytes[k]) }
            out[i] = limb
        }
    }

    /// Writes the first `limbs` limbs of `value` big-endian into
    /// `out[offset ..< offset + limbs · (bytes per limb)]`.
    public static func write<L: FixedWidthInteger & UnsignedInteger>(
        _ value: Span<L>, limbs: Int, bigEndianInto out: inout MutableSpan<UInt8>, at offset: Int
    ) {
        let limbBytes = L.bitWidth / 8
        precondition(
            limbs >= 0 && offset >= 0 && out.count >= offset + limbBytes * limbs && value.count >= limbs,
            "limb buffer sizes")
        for i in 0..<limbs {
            let start = offset + limbBytes * (limbs - i - 1)
            let limb = value[i]
            for k in 0..<limbBytes {
                out[start + k] = UInt8(truncatingIfNeeded: limb >> (8 * (limbBytes - 1 - k)))
            }
        }
    }

    /// Stores the 64-bit word `word` as the limbs `out[index ..< index + 64 / L.bitWidth]`,
    /// least significant first.
    public static func store<L: FixedWidthInteger & UnsignedInteger>(
        _ word: UInt64, into out: inout MutableSpan<L>, at index: Int
    ) {
        precondition(L.bitWidth <= 64 && 64 % L.bitWidth == 0, "limbs of 8, 16, 32 or 64 bits")
        let perWord = 64 / L.bitWidth
        precondition(index >= 0 && out.count >= index + perWord, "limb buffer sizes")
        for k in 0..<perWord { out[index + k] = L(truncatingIfNeeded: word >> UInt64(k * L.bitWidth)) }
    }

    /// Splits 64-bit words (least significant first) into the limbs of `out`, which must
    /// hold exactly as many bits.
    public static func split<L: FixedWidthInteger & UnsignedInteger>(
        words: Span<UInt64>, into out: inout MutableSpan<L>
    ) {
        precondition(out.count * L.bitWidth == words.count * 64, "a word table splits into as many bits of limbs")
        let perWord = 64 / L.bitWidth
        for i in 0..<words.count { store(words[i], into: &out, at: i * perWord) }
    }

    /// A constant table of 64-bit words as this target's limbs (`n · Limb.bits` = 64 · `w`).
    public static func limbs<let w: Int, let n: Int>(words: InlineArray<w, UInt64>) -> InlineArray<n, UInt> {
        var out = InlineArray<n, UInt>(repeating: 0)
        var span = out.mutableSpan
        split(words: words.span, into: &span)
        return out
    }

    /// A value below 2^64 as this target's limbs (one on x86_64, two on the M4).
    public static func limbs(_ value: UInt64) -> LimbArray64 {
        var out = LimbArray64(repeating: 0)
        var span = out.mutableSpan
        store(value, into: &span, at: 0)
        return out
    }
}

// MARK: - the firmware's limb buffers, per width

// Counts: `Limb.count(bits:)` of the size in the name. GMP scratch sizes are GMP 6.2.1's
// `mpn_*_itch` figures (checked by a precondition at every call): on x86_64 as Debian's
// libgmp reports them, on the M4 from GMP's generic code for 32-bit limbs
// (POWM_SEC_TABLE 2,33,96,780,2741: window size 4 for 280-bit exponents, 6 above 2741
// bits; mpn_sec_powm_itch = max(n·2^window + 4n, 5n + 2bn + 2)).
#if _pointerBitWidth(_64)
    /// 64 bits: a reading, a 64-bit exponent.
    public typealias LimbArray64 = InlineArray<1, UInt>
    /// 256 bits: an element of the DMCFE group's Z_q.
    public typealias LimbArray256 = InlineArray<4, UInt>
    /// 256 bits and a carry limb.
    public typealias LimbArray256Carry = InlineArray<5, UInt>
    /// 280 bits: an FFDH private exponent.
    public typealias LimbArray280 = InlineArray<5, UInt>
    /// 384 bits: a DMCFE mask before its reduction mod q.
    public typealias LimbArray384 = InlineArray<6, UInt>
    /// 2816 bits: the DMCFE group's cofactor (p − 1)/q.
    public typealias LimbArray2816 = InlineArray<44, UInt>
    /// 3072 bits: an ffdhe3072 or DMCFE group element, a Paillier N.
    public typealias LimbArray3072 = InlineArray<48, UInt>
    /// 3072 + 64 bits: 1 + m·N for a 64-bit reading m.
    public typealias LimbArray3136 = InlineArray<49, UInt>
    /// 3200 bits (400 bytes): a DMCFE hash-to-group candidate before its reduction mod p.
    public typealias LimbArray3200 = InlineArray<50, UInt>
    /// 6144 bits: N^2 for a 3072-bit N, a Paillier ciphertext.
    public typealias LimbArray6144 = InlineArray<96, UInt>
    /// 9280 bits (6144 + 3136): R · (1 + m·N), the widest product the firmware reduces.
    typealias LimbArray9280 = InlineArray<145, UInt>

    /// mpn_sec_powm scratch for a 3072-bit modulus and exponents of up to 2816 bits:
    /// mpn_sec_powm_itch(48, 2816, 48) = 1728.
    typealias PowerScratch2816 = InlineArray<1728, UInt>
    /// mpn_sec_powm scratch for ffdhe3072's 280-bit exponents: itch(48, 280, 48) = 960;
    /// kept at the 2816-bit figure, as before the limb width was a parameter.
    typealias PowerScratch280 = InlineArray<1728, UInt>
    /// mpn_sec_powm scratch for r^N mod N^2 at 3072 bits: itch(48, 3072, 96) = 6528.
    typealias PowerScratchPaillier = InlineArray<6528, UInt>
    /// mpn_sec_div_r scratch for a 9280-bit value mod a 6144-bit one: itch(145, 96) = 339.
    typealias ReduceScratch = InlineArray<400, UInt>
    /// mpn_sec_invert scratch for a 3072-bit modulus: itch(48) = 192.
    typealias InvertScratch3072 = InlineArray<256, UInt>
#elseif _pointerBitWidth(_32)
    // The same buffers (documented above) with 32-bit limbs.
    public typealias LimbArray64 = InlineArray<2, UInt>
    public typealias LimbArray256 = InlineArray<8, UInt>
    public typealias LimbArray256Carry = InlineArray<9, UInt>
    public typealias LimbArray280 = InlineArray<9, UInt>
    public typealias LimbArray384 = InlineArray<12, UInt>
    public typealias LimbArray2816 = InlineArray<88, UInt>
    public typealias LimbArray3072 = InlineArray<96, UInt>
    public typealias LimbArray3136 = InlineArray<98, UInt>
    public typealias LimbArray3200 = InlineArray<100, UInt>
    public typealias LimbArray6144 = InlineArray<192, UInt>
    typealias LimbArray9280 = InlineArray<290, UInt>

    /// mpn_sec_powm scratch for a 3072-bit modulus and exponents of up to 2816 bits:
    /// mpn_sec_powm_itch(96, 2816, 96) = 96·2^6 + 4·96 = 6528.
    typealias PowerScratch2816 = InlineArray<6528, UInt>
    /// mpn_sec_powm scratch for ffdhe3072's 280-bit exponents: itch(96, 280, 96) = 96·2^4
    /// + 4·96 = 1920.
    typealias PowerScratch280 = InlineArray<1920, UInt>
    /// mpn_sec_powm scratch for r^N mod N^2 at 3072 bits: itch(96, 3072, 192) = 192·2^6
    /// + 4·192 = 13056.
    typealias PowerScratchPaillier = InlineArray<13056, UInt>
    /// mpn_sec_div_r scratch for a 9280-bit value mod a 6144-bit one: itch(290, 192) =
    /// 290 + 2·192 + 2 = 676.
    typealias ReduceScratch = InlineArray<800, UInt>
    /// mpn_sec_invert scratch for a 3072-bit modulus: itch(96) = 4·96 = 384.
    typealias InvertScratch3072 = InlineArray<512, UInt>
#else
    #error("the firmware's limb buffers are declared for 32- and 64-bit limbs only")
#endif
