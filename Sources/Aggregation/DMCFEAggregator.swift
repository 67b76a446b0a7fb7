import MeterCrypto

/// The product of one label's weighted DMCFE ciphertexts, Π c_i^{y_i}.
public struct DMCFELabelAggregate: Sendable, Equatable {
    public let label: UInt64
    public let product: Limbs3072
}

/// DMCFE on the aggregator for one weight vector y: combines the meters'
/// functional-key shares into d_y = Σ y_i·s_i, multiplies the ciphertexts of a label
/// raised to their weights, removes H(l)_1^{d_1}·H(l)_2^{d_2} and finds <x, y> by a
/// bounded discrete logarithm. With y = (1, …, 1) the inner product is the group's sum.
/// It holds d_y and opens its own aggregates: it is its own decryptor.
public final class DMCFEAggregator: GroupAggregator, GroupSumDecryptor {
    public let members: GroupMembers
    /// y_i per meter.
    public let weights: [UInt32: Int64]
    public let digest: [UInt8]
    let intake: FrameIntake
    let table: DiscreteLogTable
    let d1: DMCFE.Exponent
    let d2: DMCFE.Exponent
    var labels: LabelCollection<Limbs3072>

    /// The digest meters bind their key shares to: `DMCFE.weightDigest` over the entries
    /// in increasing meter id order.
    public static func digest(of weights: [UInt32: Int64]) -> [UInt8] {
        var x = DMCFE.weightDigest(entries: UInt32(weights.count))
        for id in weights.keys.sorted() {
            x.absorb(bigEndian: id)
            x.absorb(bigEndian: UInt64(bitPattern: weights[id]!))
        }
        var out = [UInt8](repeating: 0, count: DMCFE.digestBytes)
        var span = out.mutableSpan
        x.squeeze(into: &span)
        return out
    }

    /// Combines one functional-key-share frame per meter (all for `weights`) into d_y.
    public init(
        members: GroupMembers, weights: [UInt32: Int64], keyShares: [[UInt8]], table: DiscreteLogTable,
        currentLabel: UInt64, lookback: UInt64 = 96
    ) throws(AggregationError) {
        guard members.scheme == .dmcfe else { throw .wrongScheme(expected: .dmcfe, actual: members.scheme) }
        guard Set(weights.keys) == Set(members.meters) else {
            throw .invalidWeights("the weight vector must name exactly the group's \(members.count) meters")
        }
        self.members = members
        self.weights = weights
        digest = Self.digest(of: weights)
        intake = FrameIntake(members: members)
        self.table = table
        labels = LabelCollection(current: currentLabel, lookback: lookback)
        var seen = Set<UInt32>()
        var sum1 = DMCFE.Exponent(repeating: 0)
        var sum2 = DMCFE.Exponent(repeating: 0)
        for frame in keyShares {
            let opened = try intake.open(frame, expecting: .functionalKeyShare)
            let meter = opened.header.meter
            let p = opened.payload
            guard p.count == DMCFE.digestBytes + DMCFE.keyShareBytes else {
                throw .badPayload(type: .functionalKeyShare, size: p.count)
            }
            guard Array(p[0..<32]) == digest else {
                throw .invalidWeights("meter \(meter) shared a key for another weight vector")
            }
            guard seen.insert(meter).inserted else { throw .keySetupProtocol(meter: meter) }
            let z = Array(p[32..<96])
            guard let z1 = DMCFE.exponent(bigEndian: z[0..<32].span),
                let z2 = DMCFE.exponent(bigEndian: z[32..<64].span)
            else { throw .badPayload(type: .functionalKeyShare, size: p.count) }
            sum1 = DMCFE.addExponents(sum1, z1)
            sum2 = DMCFE.addExponents(sum2, z2)
        }
        guard seen.count == members.count else { throw .keySetupIncomplete }
        d1 = sum1
        d2 = sum2
    }

    public func accept(_ frame: [UInt8]) throws(AggregationError) -> Int {
        let opened = try intake.open(frame, expecting: .reading)
        let meter = opened.header.meter
        guard opened.payload.count == DMCFE.ciphertextBytes else {
            throw .badPayload(type: .reading, size: opened.payload.count)
        }
        guard let ct = Limbs3072(bigEndianBytes: opened.payload.span), Self.inGroup(ct) else {
            throw .notInGroup(meter: meter)
        }
        let y = weights[meter]!
        let weighted = y == 1 ? ct : DMCFE.power(ct, DMCFE.exponent(y))
        return try labels.add(
            meter: meter, label: opened.header.label, fingerprint: LabelReuseAlarm.fingerprint(opened.payload),
            initial: Limbs3072(1)
        ) {
            (product: inout Limbs3072) throws(AggregationError) in product = DMCFE.multiply(product, weighted)
        }
    }

    /// Π c_i^{y_i} of a label once every meter reported it.
    public func aggregate(label: UInt64) throws(AggregationError) -> DMCFELabelAggregate {
        guard let (product, count) = labels.partial(label) else { throw .unknownLabel(label) }
        guard count == members.count else { throw .incomplete(label: label, missing: members.count - count) }
        return DMCFELabelAggregate(label: label, product: product)
    }

    /// <x, y> of an aggregate: removes the label's mask and solves the discrete logarithm.
    public func decryptInnerProduct(_ aggregate: DMCFELabelAggregate) throws(AggregationError) -> Int64 {
        let h1 = DMCFE.hashToGroup(group: members.group, label: aggregate.label, index: 1)
        let h2 = DMCFE.hashToGroup(group: members.group, label: aggregate.label, index: 2)
        let mask = DMCFE.multiply(
            DMCFE.power(h1, DMCFE.negateExponent(d1)), DMCFE.power(h2, DMCFE.negateExponent(d2)))
        return try table.solve(DMCFE.multiply(aggregate.product, mask))
    }

    /// <x, y> for a label once every meter reported it.
    public func decryptInnerProduct(label: UInt64) throws(AggregationError) -> Int64 {
        try decryptInnerProduct(aggregate(label: label))
    }

    /// The sum (y = 1 for every meter gives <x, y> = Σ x).
    public func decryptSum(_ aggregate: DMCFELabelAggregate) throws(AggregationError) -> UInt64 {
        let v = try decryptInnerProduct(aggregate)
        guard v >= 0 else { throw .discreteLogOutOfRange(bound: table.bound) }
        return UInt64(v)
    }

    /// The sum of a complete label: `decryptSum(aggregate(label:))`.
    public func decryptSum(label: UInt64) throws(AggregationError) -> UInt64 {
        try decryptSum(aggregate(label: label))
    }

    public func advance(to label: UInt64) throws(AggregationError) { try labels.advance(to: label) }

    public var labelReuseAlarms: [LabelReuseAlarm] { labels.alarms }

    /// 0 < c < p and c^q = 1.
    static func inGroup(_ c: Limbs3072) -> Bool {
        guard c != Limbs3072.zero else { return false }
        var below = false
        let p = DMCFEGroup.primeLimbs
        for i in (0..<Limbs3072.limbCount).reversed() where c.limbs[i] != p[i] {
            below = c.limbs[i] < p[i]
            break
        }
        return below && DMCFE.power(c, DMCFEGroup.orderLimbs) == Limbs3072(1)
    }
}
