// Paillier through an independent aggregator (DESIGN.md, scheme 3): "encrypt, aggregate
// and decrypt at different places".
//
//   meters      encrypt each reading under the supplier's public key, once per group
//   aggregator  one per group, an independent third party holding no key: verifies the
//               frames, multiplies the group's ciphertexts per label, forwards only the
//               product (and bills, see PaillierBilling.swift) to the supplier
//   supplier    holds the private key; decrypts group sums, bills and reports only
//
// Trust assumption: the aggregator does not collude with the supplier — it must never hand
// a single meter's ciphertext to the supplier, who could decrypt it. The supplier only
// accepts aggregates that claim the whole group, but cannot verify the claim from the
// ciphertext alone.

import BigNum
import MeterCrypto

/// The product of one label's ciphertexts from every meter of a group: what the aggregator
/// forwards to the supplier. Only the aggregator makes these.
public struct PaillierGroupAggregate: Sendable {
    public let group: UInt32
    public let label: UInt64
    /// Meters whose ciphertexts are in the product.
    public let meters: Int
    /// Enc(Σ readings) = Π c_i mod N^2.
    public let ciphertext: PaillierCiphertext

    /// An aggregate as the supplier rebuilds it from the aggregator's answer (e.g. the
    /// service's encrypted sums); `decryptSum` still checks the claim against the layout.
    public init(group: UInt32, label: UInt64, meters: Int, ciphertext: PaillierCiphertext) {
        self.group = group
        self.label = label
        self.meters = meters
        self.ciphertext = ciphertext
    }
}

/// The aggregator of one group under Paillier: holds the supplier's public key only.
public final class PaillierAggregator: GroupAggregator {
    public let members: GroupMembers
    public let publicKey: PaillierPublicKey
    public let layout: GroupLayout
    let intake: FrameIntake
    var labels: LabelCollection<BigInt>
    /// Every meter's ciphertext per label, kept for billing when `keepsReadings` is set.
    var ledger: [UInt32: [UInt64: BigInt]] = [:]
    public let keepsReadings: Bool
    /// Labels already released per meter in bills and in reports (see PaillierBilling.swift).
    var billed: [UInt32: [ClosedRange<UInt64>]] = [:]
    var reported: [UInt32: [ClosedRange<UInt64>]] = [:]

    /// The authority's public key: bills only under tariffs it signed (nil: no bills).
    public let authorityKey: [UInt8]?

    /// An aggregator for `members.group`, which must be a group of the validated `layout`
    /// with the same meters. `keepsReadings` keeps every ciphertext for billing;
    /// `authorityKey` checks the tariffs of bills.
    public init(
        members: GroupMembers, publicKey: PaillierPublicKey, layout: GroupLayout, currentLabel: UInt64,
        lookback: UInt64 = 96, keepsReadings: Bool = true, authorityKey: [UInt8]? = nil
    ) throws(AggregationError) {
        guard members.scheme == .paillier else { throw .wrongScheme(expected: .paillier, actual: members.scheme) }
        guard let layoutMeters = layout.meters(of: members.group), layoutMeters == members.meters else {
            throw .invalidGroup("group \(members.group) is not in the validated layout with these meters")
        }
        self.members = members
        self.publicKey = publicKey
        self.layout = layout
        self.keepsReadings = keepsReadings
        self.authorityKey = authorityKey
        intake = FrameIntake(members: members)
        labels = LabelCollection(current: currentLabel, lookback: lookback)
    }

    /// Verifies one reading frame (layout, group, scheme, meter, tag, payload size,
    /// 0 < c < N^2) and multiplies its ciphertext into the label's product.
    public func accept(_ frame: [UInt8]) throws(AggregationError) -> Int {
        let opened = try intake.open(frame, expecting: .reading)
        let c = try publicKey.ciphertext(bigEndian: opened.payload)
        let modulus = publicKey.nSquared
        let count = try labels.add(
            meter: opened.header.meter, label: opened.header.label,
            fingerprint: LabelReuseAlarm.fingerprint(opened.payload), initial: BigInt(1)
        ) {
            (product: inout BigInt) throws(AggregationError) in product.multiply(by: c.value, modulo: modulus)
        }
        if keepsReadings { ledger[opened.header.meter, default: [:]][opened.header.label] = c.value }
        return count
    }

    /// The product of the label's ciphertexts, once every meter of the group reported it.
    public func aggregate(label: UInt64) throws(AggregationError) -> PaillierGroupAggregate {
        guard let (product, count) = labels.partial(label) else { throw .unknownLabel(label) }
        guard count == members.count else { throw .incomplete(label: label, missing: members.count - count) }
        return PaillierGroupAggregate(
            group: members.group, label: label, meters: count,
            ciphertext: PaillierCiphertext(value: product, key: publicKey.id))
    }

    public func advance(to label: UInt64) throws(AggregationError) { try labels.advance(to: label) }

    public var labelReuseAlarms: [LabelReuseAlarm] { labels.alarms }

    /// The stored ciphertext of `meter` for `label` (billing).
    func reading(meter: UInt32, label: UInt64) throws(AggregationError) -> BigInt {
        guard members.frameKey(of: meter) != nil else { throw .unknownMeter(meter) }
        guard let c = ledger[meter]?[label] else { throw .missingReading(meter: meter, label: label) }
        return c
    }

    /// The statement frames that relay the authority's signed Paillier key statement to one
    /// meter of this group (the meter checks the signature; the aggregator cannot swap the key).
    public func keyStatementFrames(_ statement: SignedStatement, meter: UInt32) -> [[UInt8]] {
        intake.statementFrames(statement, to: meter)
    }
}

/// The Paillier key statement's body (Statement.swift): the supplier's key and the groups
/// `meter` reports to, under `epoch` (the layout's).
public enum PaillierKeyStatement {
    public static func body(publicKey: PaillierPublicKey, meter: UInt32, groups: [UInt32], epoch: UInt32) -> [UInt8] {
        precondition(
            !groups.isEmpty && groups.count <= Statement.paillierMaxGroups,
            "a meter reports to 1...\(Statement.paillierMaxGroups) groups")
        var body = SignedStatement.header(kind: .paillierKey, epoch: epoch, subject: meter, group: 0)
        body += [UInt8](repeating: 0, count: 20)
        var span = body.mutableSpan
        BigEndian.store(UInt16(publicKey.bits), at: 16, in: &span)
        span[18] = UInt8(groups.count)
        for (i, g) in groups.enumerated() { BigEndian.store(g, at: 20 + 4 * i, in: &span) }
        return body + publicKey.n.bigEndianBytes(length: publicKey.modulusBytes)!
    }
}

/// The supplier under Paillier: holds the private key; opens group aggregates, bills and
/// reports, and nothing addressed to a single reading.
public final class PaillierSupplier: GroupSumDecryptor {
    let privateKey: PaillierPrivateKey
    public let layout: GroupLayout

    public init(privateKey: PaillierPrivateKey, layout: GroupLayout) {
        self.privateKey = privateKey
        self.layout = layout
    }

    public var publicKey: PaillierPublicKey { privateKey.publicKey }

    /// The group's sum: refuses aggregates of another key, or that do not claim every
    /// meter of a group in the layout.
    public func decryptSum(_ aggregate: PaillierGroupAggregate) throws(AggregationError) -> UInt64 {
        guard let meters = layout.meters(of: aggregate.group) else {
            throw .invalidGroup("group \(aggregate.group) is not in the layout")
        }
        guard aggregate.meters == meters.count else {
            throw .notAGroupSum(group: aggregate.group, meters: aggregate.meters, expected: meters.count)
        }
        return try plaintext(aggregate.ciphertext)
    }

    /// A decrypted value as UInt64 (sums, bills and report entries all fit).
    func plaintext(_ c: PaillierCiphertext) throws(AggregationError) -> UInt64 {
        guard let value = try privateKey.decrypt(c).uint64 else { throw .decryptedValueOutOfRange }
        return value
    }
}
