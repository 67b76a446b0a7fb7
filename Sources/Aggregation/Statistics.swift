import MeterCrypto

// Statistics without individuals over LWR-PSA (docs/spec/statistics.md): the plan as the
// authority signs it, the aggregator's side that adds the meters' statistics slots per
// label and decrypts them with the same K, and the figures per label.

/// A statistics plan as the authority writes it (host side of `StatisticsPlan`): the bin
/// edges, the x² slot and the minimum group size.
public struct StatisticsPlanSpec: Sendable, Equatable, Codable {
    /// e_1 < … < e_{B−1} in Wh; empty: no histogram. B = edges + 1 bins.
    public var edges: [UInt32]
    /// The x² slot (variance).
    public var squares: Bool
    /// The smallest group the plan may be used in (at least `StatisticsPlan.minimumGroupSize`).
    public var minimumGroupSize: UInt32

    public init(edges: [UInt32], squares: Bool = true, minimumGroupSize: UInt32 = StatisticsPlan.minimumGroupSize) {
        self.edges = edges
        self.squares = squares
        self.minimumGroupSize = minimumGroupSize
    }

    /// B, the number of bins (0 without edges).
    public var binCount: Int { edges.isEmpty ? 0 : edges.count + 1 }

    /// `count` bins of equal width over 0 ... maxReading (the last one open): edges at
    /// maxReading·b/count, b = 1 … count − 1.
    public static func uniform(bins count: Int, maxReading: UInt64, squares: Bool = true) -> StatisticsPlanSpec {
        let edges = count < 2 ? [] : (1..<count).map { UInt32(clamping: maxReading * UInt64($0) / UInt64(count)) }
        return StatisticsPlanSpec(edges: edges, squares: squares)
    }

    /// The signed body (kind 5, MeterCrypto/LWRPSA/Statistics.swift) for `group`'s `epoch` and n.
    public func body(group: UInt32, epoch: UInt32, meters: UInt32) -> [UInt8] {
        var body =
            SignedStatement.header(kind: .statisticsPlan, epoch: epoch, subject: 0, group: group)
            + [UInt8](repeating: 0, count: StatisticsPlan.bodyBytes - Statement.headerBytes)
        var span = body.mutableSpan
        BigEndian.store(meters, at: 16, in: &span)
        BigEndian.store(minimumGroupSize, at: 20, in: &span)
        span[24] = squares ? StatisticsPlan.squaresFlag : 0
        span[25] = UInt8(clamping: binCount)
        for (i, e) in edges.prefix(15).enumerated() { BigEndian.store(e, at: 28 + 4 * i, in: &span) }
        return body
    }

    /// The slots this plan takes in a group of `meters` with readings up to `maxReading`;
    /// throws what a meter would refuse (group too small, Σx² capacity, too many slots, edges).
    public func layout(meters: UInt32, maxReading: UInt64, parameters: LWRParameters) throws(StatisticsError)
        -> StatisticsLayout
    {
        guard edges.count <= StatisticsPlan.maxBins - 1, zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }),
            edges.first.map({ $0 > 0 }) ?? true, squares || !edges.isEmpty
        else { throw .malformed }
        guard minimumGroupSize >= StatisticsPlan.minimumGroupSize, meters >= minimumGroupSize else {
            throw .groupTooSmall
        }
        return try StatisticsLayout(
            meters: meters, maxReading: maxReading, squares: squares, binCount: binCount, parameters: parameters)
    }
}

/// A signed statistics plan the aggregator relays and uses: the statement and what it says.
public struct SignedStatisticsPlan: Sendable {
    public let statement: SignedStatement
    public let group: UInt32
    public let epoch: UInt32
    public let meters: UInt32
    public let spec: StatisticsPlanSpec

    /// A plan as the service relays it: not checked against the authority's key (the
    /// meters verify the signature and act on nothing else; a forged plan gets no frames).
    public init(relayed statement: SignedStatement) throws(AggregationError) {
        let plan: StatisticsPlan
        do { plan = try StatisticsPlan(body: statement.body.span) } catch { throw .statistics(error) }
        self.statement = statement
        group = plan.group
        epoch = plan.epoch
        meters = plan.meters
        spec = StatisticsPlanSpec(
            edges: (0..<max(plan.binCount - 1, 0)).map { plan.edges[$0] }, squares: plan.squares,
            minimumGroupSize: plan.minimumGroupSize)
    }

    /// Reads a signed plan (its signature is checked against `authorityKey`).
    public init(_ statement: SignedStatement, authorityKey: [UInt8]) throws(AggregationError) {
        guard statement.verifies(authorityKey: authorityKey) else {
            throw .unsignedStatement("a statistics plan not signed by the authority")
        }
        try self.init(relayed: statement)
    }

    /// The `statement` frames that relay the plan to `meter`.
    public func frames(to meter: UInt32, intake: FrameIntake) -> [[UInt8]] {
        intake.statementFrames(statement, to: meter)
    }
}

/// One label's statistics over the group: never a household's value. Mean and variance are
/// exact rationals (`meanFraction`, `varianceFraction`); `mean` and `variance` their
/// nearest doubles.
public struct LabelStatistics: Sendable, Equatable {
    public let label: UInt64
    /// Meters whose values are in every figure (n: n-of-n needs every member's frames).
    public let count: Int
    /// Σx (Wh).
    public let sum: UInt64
    /// Σx² (Wh²), nil without the x² slot.
    public let sumOfSquares: UInt64?
    /// Households per bin, B entries (empty without a histogram).
    public let histogram: [UInt64]

    public init(label: UInt64, count: Int, sum: UInt64, sumOfSquares: UInt64?, histogram: [UInt64]) {
        self.label = label
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
        self.histogram = histogram
    }

    /// The statistics of `readings` computed in clear (tests, and the simulator's truth).
    public init(label: UInt64, readings: [UInt64], spec: StatisticsPlanSpec) {
        let plan = spec
        var histogram = [UInt64](repeating: 0, count: plan.binCount)
        for x in readings where plan.binCount > 0 {
            histogram[plan.edges.filter { UInt64($0) <= x }.count] += 1
        }
        self.init(
            label: label, count: readings.count, sum: readings.reduce(0, +),
            sumOfSquares: spec.squares ? readings.reduce(0) { $0 + $1 * $1 } : nil, histogram: histogram)
    }

    /// Σx / n as (numerator, denominator).
    public var meanFraction: (numerator: UInt64, denominator: UInt64) { (sum, UInt64(count)) }

    /// Σx²/n − (Σx/n)² = (n·Σx² − (Σx)²) / n², or nil without the x² slot.
    public var varianceFraction: (numerator: UInt128, denominator: UInt128)? {
        guard let sumOfSquares, count > 0 else { return nil }
        let n = UInt128(count)
        let s = UInt128(sum)
        let a = n * UInt128(sumOfSquares)
        // n·Σx² ≥ (Σx)² (Cauchy–Schwarz) for true readings; clamp a corrupt aggregate at 0.
        return (a >= s * s ? a - s * s : 0, n * n)
    }

    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
    public var variance: Double? {
        varianceFraction.map { Double($0.numerator) / Double($0.denominator) }
    }

    /// The mean as a decimal with `digits` places (rounded half up, from the exact fraction).
    public func meanText(digits: Int = 3) -> String {
        Self.decimal(UInt128(sum), UInt128(max(count, 1)), digits: digits)
    }

    /// The variance as a decimal with `digits` places, or nil without the x² slot.
    public func varianceText(digits: Int = 3) -> String? {
        varianceFraction.map { Self.decimal($0.numerator, $0.denominator, digits: digits) }
    }

    /// numerator / denominator with `digits` decimal places, rounded half up.
    public static func decimal(_ numerator: UInt128, _ denominator: UInt128, digits: Int) -> String {
        var scale: UInt128 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = (numerator * scale + denominator / 2) / denominator
        let whole = scaled / scale
        guard digits > 0 else { return "\(whole)" }
        let fraction = String(scaled % scale)
        return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}

/// The statistics side of an LWR-PSA aggregator: holds the same K as the sum's aggregator,
/// adds each label's statistics slots over the members and decrypts them, for a signed plan.
/// Refuses groups below the plan's minimum size (and below `StatisticsPlan.minimumGroupSize`).
public final class LWRStatisticsAggregator: @unchecked Sendable {
    public let members: GroupMembers
    public let parameters: LWRParameters
    public let plan: SignedStatisticsPlan
    public let layout: StatisticsLayout
    let intake: FrameIntake
    let aggregateKey: [UInt64]
    /// label → meter → the slot ciphertexts it sent.
    var received: [UInt64: [UInt32: [UInt64]]] = [:]
    /// Labels already decrypted: their frames, sent again, are ignored.
    var released: Set<UInt64> = []

    public init(
        members: GroupMembers, parameters: LWRParameters, maxReading: UInt64, aggregateKey: [UInt64],
        plan: SignedStatisticsPlan
    ) throws(AggregationError) {
        guard members.scheme == .lwrPSA else { throw .wrongScheme(expected: .lwrPSA, actual: members.scheme) }
        guard plan.group == members.group, plan.epoch == members.epoch else {
            throw .unsignedStatement("the statistics plan is for group \(plan.group) epoch \(plan.epoch)")
        }
        guard plan.meters == UInt32(members.count) else { throw .statistics(.wrongGroupSize) }
        guard aggregateKey.count == parameters.lambda else {
            throw .lwr(.wrongKeyLength(expected: parameters.lambda, actual: aggregateKey.count))
        }
        do {
            layout = try plan.spec.layout(meters: plan.meters, maxReading: maxReading, parameters: parameters)
        } catch {
            throw .statistics(error)
        }
        self.members = members
        self.parameters = parameters
        self.plan = plan
        self.aggregateKey = aggregateKey
        intake = FrameIntake(members: members)
    }

    /// An authentic statistics frame: its slot ciphertexts. Returns its label. The same frame
    /// again is a retransmission (ignored); other ciphertexts for a label a meter reported
    /// are refused (`labelReused`: the first stays).
    @discardableResult
    public func accept(_ frame: [UInt8]) throws(AggregationError) -> UInt64 {
        let opened = try intake.open(frame, expecting: .statistics)
        let values = try Self.ciphertexts(opened, layout: layout, parameters: parameters)
        let label = opened.header.label
        if released.contains(label) { return label }
        if let before = received[label]?[opened.header.meter] {
            guard before == values else { throw .labelReused(meter: opened.header.meter, label: label) }
            return label
        }
        received[label, default: [:]][opened.header.meter] = values
        return label
    }

    /// The slot ciphertexts of an opened statistics frame (8 bytes each, below p).
    public static func ciphertexts(_ opened: OpenedFrame, layout: StatisticsLayout, parameters: LWRParameters)
        throws(AggregationError) -> [UInt64]
    {
        guard opened.payload.count == 8 * layout.slotCount else {
            throw .badPayload(type: .statistics, size: opened.payload.count)
        }
        var values: [UInt64] = []
        for i in 0..<layout.slotCount {
            let c = BigEndian.load64(opened.payload.span, at: 8 * i)
            guard c <= parameters.plaintextMask else {
                throw .badPayload(type: .statistics, size: opened.payload.count)
            }
            values.append(c)
        }
        return values
    }

    /// Labels decrypted before (a restart): their frames are ignored from now on.
    public func markReleased(_ labels: [UInt64]) {
        for l in labels {
            released.insert(l)
            received[l] = nil
        }
    }

    /// Meters whose statistics frame for `label` arrived.
    public func reported(label: UInt64) -> Int { received[label]?.count ?? 0 }

    /// The label's statistics, with `sum` the label's decrypted Σx (from the sum's
    /// aggregator); the label's slots are dropped afterwards.
    public func statistics(label: UInt64, sum: UInt64) throws(AggregationError) -> LabelStatistics {
        guard let frames = received[label] else { throw .unknownLabel(label) }
        guard frames.count == members.count else {
            throw .incomplete(label: label, missing: members.count - frames.count)
        }
        var sums = [UInt64](repeating: 0, count: layout.slotCount)
        for values in frames.values {
            for i in 0..<layout.slotCount { sums[i] &+= values[i] }
        }
        let result = try Self.decrypt(
            label: label, slotSums: sums, sum: sum, layout: layout, parameters: parameters, key: aggregateKey,
            group: members.group)
        received[label] = nil
        released.insert(label)
        return result
    }

    /// Decrypts the slot ciphertext sums of one label into its statistics (also the service's path).
    public static func decrypt(
        label: UInt64, slotSums: [UInt64], sum: UInt64, layout: StatisticsLayout, parameters: LWRParameters,
        key: [UInt64], group: UInt32
    ) throws(AggregationError) -> LabelStatistics {
        guard slotSums.count == layout.slotCount else { throw .badPayload(type: .statistics, size: 8 * slotSums.count) }
        var plain = [UInt64](repeating: 0, count: layout.slotCount)
        for i in 0..<layout.slotCount {
            let pad: UInt64
            do {
                pad = try LWRPSA.prf(
                    parameters: parameters, key: key.span, group: group, label: label, slot: layout.tag(ofSlot: i))
            } catch {
                throw .lwr(error)
            }
            plain[i] = LWRPSA.decryptSum(
                ciphertextSum: slotSums[i], aggregatePad: pad, bounds: layout.bounds(ofSlot: i), parameters: parameters)
        }
        let histogram = (0..<layout.binCount).map { b in layout.count(ofBin: b, slotSum: plain[layout.slot(ofBin: b)]) }
        return LabelStatistics(
            label: label, count: Int(layout.meters), sum: sum, sumOfSquares: layout.squares ? plain[0] : nil,
            histogram: histogram)
    }
}

/// The statistics of labels `from ... to` with the group peak: what the supplier gets
/// (`metering analytics`, `GET /v1/groups/{g}/analytics`).
public struct GroupAnalytics: Sendable, Equatable {
    public let group: UInt32
    public let meters: Int
    public let minimumGroupSize: UInt32
    /// e_1 … e_{B−1}.
    public let edges: [UInt32]
    public let labels: [LabelStatistics]

    public init(group: UInt32, meters: Int, minimumGroupSize: UInt32, edges: [UInt32], labels: [LabelStatistics]) {
        self.group = group
        self.meters = meters
        self.minimumGroupSize = minimumGroupSize
        self.edges = edges
        self.labels = labels
    }

    /// The label with the largest group sum (the first of equals), nil without labels.
    public var peak: LabelStatistics? {
        labels.reduce(nil) { best, s in best.map { $0.sum >= s.sum ? $0 : s } ?? s }
    }
}
