import Aggregation
import BigNum
import MeterCrypto
import MeterSimulator
import Provisioning
import Testing

/// Keys shared by the Paillier tests (reproducible; generated once per process).
enum PaillierFixtures {
    static let key2048: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 2048)
        return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
    }()
    static let key3072: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 3072)
        return try! PaillierPrivateKey.generate(bits: 3072, using: &generator)
    }()
    /// A second, unrelated 2048-bit key (the "wrong key").
    static let otherKey2048: PaillierPrivateKey = {
        var generator = SeededGenerator(seed: 4096)
        return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
    }()

    static func key(bits: Int) -> PaillierPrivateKey { bits == 2048 ? key2048 : key3072 }
}

/// The meter's encryption, exactly as the firmware runs it: N loaded from its big-endian
/// encoding, r^N precomputed from r's bytes, then one multiplication mod N^2.
/// Returns nil if the firmware rejects r (r = 0, r ≥ N, gcd(r, N) ≠ 1).
func firmwareEncrypt(_ m: UInt64, key: PaillierPublicKey, r: BigInt) throws -> BigInt? {
    let nBytes = key.n.bigEndianBytes(length: key.modulusBytes)!
    let meterKey = try meterKeyFrom(nBytes)
    guard let rBytes = r.bigEndianBytes(length: key.modulusBytes) else { return nil }
    var randomizer = PaillierRandomizer()
    guard precompute(&randomizer, meterKey, rBytes) else { return nil }
    var out = [UInt8](repeating: 0, count: key.ciphertextBytes)
    try encryptInto(&out, m, &randomizer, meterKey)
    return BigInt(bigEndian: out)
}

/// The meter's copy of N from its big-endian bytes.
func meterKeyFrom(_ bytes: [UInt8]) throws -> PaillierMeterKey {
    try PaillierMeterKey(modulusBigEndian: bytes.span)
}

func precompute(_ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey, _ r: [UInt8]) -> Bool {
    randomizer.precompute(key: key, randomBytes: r.span)
}

func encryptInto(
    _ out: inout [UInt8], _ m: UInt64, _ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey
) throws {
    var span = out.mutableSpan
    try Paillier.encrypt(reading: m, randomizer: &randomizer, key: key, into: &span)
}

/// A Paillier group with real frame keys, its aggregator, and frames made the meters' way.
struct PaillierGroupFixture {
    let members: GroupMembers
    let layout: GroupLayout
    let aggregator: PaillierAggregator
    let intake: FrameIntake
    let publicKey: PaillierPublicKey
    /// The authority whose tariffs the aggregator bills under.
    static let authority = ProvisioningAuthority(seed: 0x7A41)

    init(group: UInt32 = 9, meters: [UInt32], key: PaillierPublicKey, layout: GroupLayout? = nil) throws {
        var keys: [UInt32: [UInt8]] = [:]
        for id in meters { keys[id] = [UInt8](repeating: UInt8(truncatingIfNeeded: id &* 7 &+ 1), count: 32) }
        members = try GroupMembers(group: group, scheme: .paillier, frameKeys: keys)
        self.layout = try layout ?? GroupLayout(group: group, meters: meters)
        aggregator = try PaillierAggregator(
            members: members, publicKey: key, layout: self.layout, currentLabel: 0,
            authorityKey: Self.authority.publicKey)
        intake = FrameIntake(members: members)
        publicKey = key
    }

    /// `tariff` signed by the authority for this group over `period`.
    func signed(_ tariff: Tariff, period: ClosedRange<UInt64> = 0...10_000) -> SignedTariff {
        Self.authority.signTariff(tariff, group: members.group, period: period, epoch: 1)
    }

    /// A reading frame of `meter` carrying `ciphertext` (big-endian, fixed length).
    func frame(meter: UInt32, label: UInt64, ciphertext: BigInt) -> [UInt8] {
        let bytes = ciphertext.bigEndianBytes(length: publicKey.ciphertextBytes) ?? ciphertext.bigEndianBytes()!
        return intake.seal(.reading, to: meter, label: label, payload: bytes)
    }

    /// A reading frame with a fresh host encryption of `reading`.
    func frame<G: RandomNumberGenerator>(meter: UInt32, label: UInt64, reading: UInt64, using rng: inout G)
        -> [UInt8]
    {
        frame(meter: meter, label: label, ciphertext: publicKey.encrypt(BigInt(reading), using: &rng).value)
    }
}
