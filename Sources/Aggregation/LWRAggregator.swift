import MeterCrypto

extension FrameIntake {
    /// An authentic LWR-PSA reading frame and its ciphertext c < p.
    func openLWRReading(_ frame: [UInt8], parameters: LWRParameters) throws(AggregationError) -> (OpenedFrame, UInt64) {
        let opened = try open(frame, expecting: .reading)
        guard opened.payload.count == parameters.ciphertextBytes else {
            throw .badPayload(type: .reading, size: opened.payload.count)
        }
        let c = BigEndian.load64(opened.payload.span, at: 0)
        guard c <= parameters.plaintextMask else { throw .badPayload(type: .reading, size: opened.payload.count) }
        return (opened, c)
    }
}

/// The sum of one label's LWR-PSA ciphertexts, Σ c_i mod p.
public struct LWRLabelAggregate: Sendable, Equatable {
    public let label: UInt64
    public let ciphertextSum: UInt64
}

/// LWR-PSA on the aggregator: holds K = Σ k_i and nothing else; adds the group's
/// ciphertexts per label and removes F_K(l). It is its own decryptor.
public final class LWRAggregator: GroupAggregator, GroupSumDecryptor {
    public let members: GroupMembers
    public let parameters: LWRParameters
    public let bounds: LWRGroupBounds
    let intake: FrameIntake
    let aggregateKey: [UInt64]
    var labels: LabelCollection<UInt64>

    public init(
        members: GroupMembers, parameters: LWRParameters, bounds: LWRGroupBounds, aggregateKey: [UInt64],
        currentLabel: UInt64, lookback: UInt64 = 96
    ) throws(AggregationError) {
        guard members.scheme == .lwrPSA else {
            throw .wrongScheme(expected: .lwrPSA, actual: members.scheme)
        }
        guard bounds.meters == UInt32(members.count) else {
            throw .invalidGroup("bounds are for \(bounds.meters) meters, the group has \(members.count)")
        }
        guard aggregateKey.count == parameters.lambda else {
            throw .lwr(.wrongKeyLength(expected: parameters.lambda, actual: aggregateKey.count))
        }
        self.members = members
        self.parameters = parameters
        self.bounds = bounds
        self.aggregateKey = aggregateKey
        intake = FrameIntake(members: members)
        labels = LabelCollection(current: currentLabel, lookback: lookback)
    }

    public func accept(_ frame: [UInt8]) throws(AggregationError) -> Int {
        let (opened, c) = try intake.openLWRReading(frame, parameters: parameters)
        return try labels.add(
            meter: opened.header.meter, label: opened.header.label, fingerprint: c, initial: 0
        ) {
            (sum: inout UInt64) throws(AggregationError) in sum &+= c
        }
    }

    /// Σ c_i mod p of a complete label.
    public func aggregate(label: UInt64) throws(AggregationError) -> LWRLabelAggregate {
        guard let (sum, count) = labels.partial(label) else { throw .unknownLabel(label) }
        guard count == members.count else { throw .incomplete(label: label, missing: members.count - count) }
        return LWRLabelAggregate(label: label, ciphertextSum: sum)
    }

    /// Σ x_i from Σ c_i − F_K(l): the aggregator opens its own aggregates.
    public func decryptSum(_ aggregate: LWRLabelAggregate) throws(AggregationError) -> UInt64 {
        let key = aggregateKey
        let pad: UInt64
        do {
            pad = try LWRPSA.prf(parameters: parameters, key: key.span, group: members.group, label: aggregate.label)
        } catch {
            throw .lwr(error)
        }
        return LWRPSA.decryptSum(
            ciphertextSum: aggregate.ciphertextSum, aggregatePad: pad, bounds: bounds, parameters: parameters)
    }

    /// The sum of a complete label: `decryptSum(aggregate(label:))`.
    public func decryptSum(label: UInt64) throws(AggregationError) -> UInt64 {
        try decryptSum(aggregate(label: label))
    }

    public func advance(to label: UInt64) throws(AggregationError) { try labels.advance(to: label) }

    public var labelReuseAlarms: [LabelReuseAlarm] { labels.alarms }
}
