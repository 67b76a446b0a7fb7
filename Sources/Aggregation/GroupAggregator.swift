import MeterCrypto

/// The aggregator of one group for one scheme, once the scheme's setup is done: verifies
/// and collects the meters' reading frames and releases one aggregate per complete label,
/// never a single meter's contribution.
///
/// Who can open an aggregate depends on the scheme, which is why collecting and decrypting
/// are two protocols: under LWR-PSA the aggregator holds K and opens its own aggregates;
/// under Paillier it holds no key and forwards the product of the ciphertexts to the
/// supplier, who decrypts group sums only. `GroupSumPipeline` joins the two for the demo,
/// the simulator and the cost report, which treat all schemes alike.
public protocol GroupAggregator: AnyObject {
    /// What leaves the aggregator for one complete label.
    associatedtype Aggregate: Sendable
    var members: GroupMembers { get }
    /// Verifies and collects one reading frame; returns how many meters have now
    /// reported its label. A rejected frame changes nothing.
    func accept(_ frame: [UInt8]) throws(AggregationError) -> Int
    /// The label's aggregate, once every meter of the group reported it.
    func aggregate(label: UInt64) throws(AggregationError) -> Aggregate
    /// Moves the window of accepted labels forward to `label` (`labelOutOfRange` near 2^64).
    func advance(to label: UInt64) throws(AggregationError)
    /// Every label reuse seen: a meter that sent two different ciphertexts for one label.
    var labelReuseAlarms: [LabelReuseAlarm] { get }
}

/// The party that holds the key which opens a group's aggregate: the LWR-PSA aggregator
/// itself (K = Σ k_i), the Paillier supplier (the private key).
public protocol GroupSumDecryptor: AnyObject {
    associatedtype Aggregate
    /// The group's sum of readings in the aggregate.
    func decryptSum(_ aggregate: Aggregate) throws(AggregationError) -> UInt64
}

/// One group's host side, whatever the scheme: frames in, the group's sum per label out,
/// with the aggregator's and the decrypting party's work timed separately.
public final class GroupSumPipeline {
    /// Seconds spent in each party for one label's sum.
    public struct LabelSum: Sendable {
        public let sum: UInt64
        /// Time to release the aggregate (the aggregator).
        public let aggregateSeconds: Double
        /// Time to open it (the aggregator under LWR-PSA, the supplier under Paillier).
        public let decryptSeconds: Double
    }

    public let members: GroupMembers
    let acceptFrame: ([UInt8]) throws(AggregationError) -> Int
    let acceptAndAcknowledgeFrame: ([UInt8]) throws(AggregationError) -> ReadingReceipt
    let sumOfLabel: (UInt64, () -> Double) throws(AggregationError) -> LabelSum
    let advanceTo: (UInt64) throws(AggregationError) -> Void
    let alarms: () -> [LabelReuseAlarm]

    /// Joins an aggregator with the party that opens its aggregates.
    public init<A: GroupAggregator, D: GroupSumDecryptor>(aggregator: A, decryptor: D)
    where D.Aggregate == A.Aggregate {
        members = aggregator.members
        acceptFrame = { (frame: [UInt8]) throws(AggregationError) -> Int in try aggregator.accept(frame) }
        acceptAndAcknowledgeFrame = { (frame: [UInt8]) throws(AggregationError) -> ReadingReceipt in
            try aggregator.acceptAndAcknowledge(frame)
        }
        sumOfLabel = { (label: UInt64, clock: () -> Double) throws(AggregationError) -> LabelSum in
            let t0 = clock()
            let aggregate = try aggregator.aggregate(label: label)
            let t1 = clock()
            let sum = try decryptor.decryptSum(aggregate)
            let t2 = clock()
            return LabelSum(sum: sum, aggregateSeconds: t1 - t0, decryptSeconds: t2 - t1)
        }
        advanceTo = { (label: UInt64) throws(AggregationError) in try aggregator.advance(to: label) }
        alarms = { aggregator.labelReuseAlarms }
    }

    /// Verifies and collects one reading frame (see `GroupAggregator.accept`).
    public func accept(_ frame: [UInt8]) throws(AggregationError) -> Int { try acceptFrame(frame) }

    /// Accepts a reading and returns the meter's ack (see `GroupAggregator.acceptAndAcknowledge`).
    public func acceptAndAcknowledge(_ frame: [UInt8]) throws(AggregationError) -> ReadingReceipt {
        try acceptAndAcknowledgeFrame(frame)
    }

    /// The group's sum for `label`, timed with `clock` (seconds; e.g. the thread CPU clock).
    public func sum(label: UInt64, clock: () -> Double = { 0 }) throws(AggregationError) -> LabelSum {
        try sumOfLabel(label, clock)
    }

    /// Moves the window of accepted labels forward.
    public func advance(to label: UInt64) throws(AggregationError) { try advanceTo(label) }

    /// The label-reuse alarms the aggregator raised (what the operator must see).
    public var labelReuseAlarms: [LabelReuseAlarm] { alarms() }
}
