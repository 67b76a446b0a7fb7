import Aggregation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// A group of n meters whose frames are made directly with the shared frame code
/// (no firmware), and an aggregator holding K = Σ k_i.
struct FrameFactory {
    let parameters = LWRParameters.standard
    let group: UInt32 = 5
    let seeds: [UInt32: [UInt8]]
    let keys: [UInt32: [UInt8]]
    let bounds: LWRGroupBounds
    let aggregateKey: [UInt64]

    init(meters: Int) throws {
        var rng = SeededGenerator(seed: 99)
        var seeds: [UInt32: [UInt8]] = [:]
        var keys: [UInt32: [UInt8]] = [:]
        var k = [UInt64](repeating: 0, count: parameters.lambda)
        for i in 1...meters {
            let id = UInt32(i * 10)
            let seed = rng.bytes(32)
            seeds[id] = seed
            keys[id] = rng.bytes(32)
            var stream = LWRPSA.keyStream(parameters: parameters, seed: seed.span)
            for j in 0..<k.count { k[j] &+= stream.squeezeWord() }
        }
        self.seeds = seeds
        self.keys = keys
        aggregateKey = k
        bounds = try LWRGroupBounds(meters: UInt32(meters), maxReading: 1000, parameters: parameters)
    }

    func aggregator(current: UInt64 = 10) throws -> LWRAggregator {
        let members = try GroupMembers(group: group, scheme: .lwrPSA, frameKeys: keys)
        return try LWRAggregator(
            members: members, parameters: parameters, bounds: bounds, aggregateKey: aggregateKey, currentLabel: current,
            lookback: 4)
    }

    func frame(
        meter: UInt32, label: UInt64, reading: UInt64, type: FrameType = .reading, scheme: SchemeID = .lwrPSA,
        group: UInt32? = nil, key: [UInt8]? = nil, payload: [UInt8]? = nil
    ) throws -> [UInt8] {
        let seed = seeds[meter]!
        let pad = LWRPSA.prf(parameters: parameters, seed: seed.span, group: self.group, label: label)
        let c = try LWRPSA.encrypt(reading: reading, pad: pad, bounds: bounds, parameters: parameters)
        var body = payload ?? [UInt8](repeating: 0, count: 8)
        if payload == nil {
            var span = body.mutableSpan
            BigEndian.store(c, at: 0, in: &span)
        }
        let header = FrameHeader(
            type: type, scheme: scheme, group: group ?? self.group, meter: meter, label: label,
            payloadLength: body.count)
        var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: body.count))
        out.replaceSubrange(Frame.payloadRange(header), with: body)
        var span = out.mutableSpan
        let frameKey = key ?? keys[meter]!
        _ = Frame.seal(header, key: frameKey.span, frame: &span)
        return out
    }
}

@Suite("LWR aggregator")
struct LWRAggregatorTests {
    @Test("collects a label and decrypts the exact sum")
    func sum() throws {
        let f = try FrameFactory(meters: 4)
        let agg = try f.aggregator()
        let readings: [UInt32: UInt64] = [10: 0, 20: 1000, 30: 517, 40: 3]
        for (m, x) in readings { _ = try agg.accept(f.frame(meter: m, label: 10, reading: x)) }
        #expect(try agg.decryptSum(label: 10) == 1520)
    }

    @Test("every bad frame gets its typed error and changes nothing already collected")
    func typedErrors() throws {
        let f = try FrameFactory(meters: 3)
        let agg = try f.aggregator()
        #expect(try agg.accept(f.frame(meter: 10, label: 9, reading: 100)) == 1)

        let good = try f.frame(meter: 20, label: 9, reading: 200)
        var truncated = good
        truncated.removeLast(3)
        #expect(throws: AggregationError.malformed(.lengthMismatch(declared: 8, actual: 5))) {
            try agg.accept(truncated)
        }
        #expect(throws: AggregationError.malformed(.truncated(length: 3))) { try agg.accept([1, 1, 1]) }
        let stranger = try f.frame(meter: 20, label: 9, reading: 200, key: f.keys[20]!)
        var unknown = stranger
        unknown[11] = 99  // meter id 99
        #expect(throws: AggregationError.unknownMeter(99)) { try agg.accept(unknown) }
        #expect(throws: AggregationError.wrongGroup(expected: 5, actual: 6)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 200, group: 6))
        }
        #expect(throws: AggregationError.wrongScheme(expected: .lwrPSA, actual: .paillier)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 200, scheme: .paillier))
        }
        #expect(throws: AggregationError.badTag(meter: 20)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 200, key: f.keys[30]!))
        }
        var flipped = good
        flipped[Frame.headerBytes + 7] ^= 1
        #expect(throws: AggregationError.badTag(meter: 20)) { try agg.accept(flipped) }
        #expect(throws: AggregationError.unexpectedType(.status)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 200, type: .status))
        }
        #expect(throws: AggregationError.badPayload(type: .reading, size: 7)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 0, payload: [0, 0, 0, 0, 0, 0, 0]))
        }
        #expect(throws: AggregationError.badPayload(type: .reading, size: 8)) {
            try agg.accept(f.frame(meter: 20, label: 9, reading: 0, payload: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]))
        }
        #expect(throws: AggregationError.labelOutsideWindow(label: 2, accepted: 6...11)) {
            try agg.accept(f.frame(meter: 20, label: 2, reading: 200))
        }
        #expect(throws: AggregationError.labelOutsideWindow(label: 12, accepted: 6...11)) {
            try agg.accept(f.frame(meter: 20, label: 12, reading: 200))
        }
        #expect(throws: AggregationError.incomplete(label: 9, missing: 2)) { try agg.decryptSum(label: 9) }
        #expect(throws: AggregationError.unknownLabel(8)) { try agg.decryptSum(label: 8) }
        // A replay of the first frame, and a second reading from the same meter (a reused
        // label: an alarm, and nothing changes).
        #expect(throws: AggregationError.duplicate(meter: 10, label: 9)) {
            try agg.accept(f.frame(meter: 10, label: 9, reading: 100))
        }
        #expect(throws: AggregationError.labelReused(meter: 10, label: 9)) {
            try agg.accept(f.frame(meter: 10, label: 9, reading: 999))
        }

        // Nothing above changed what was collected: the honest frames still decrypt exactly.
        #expect(try agg.accept(good) == 2)
        #expect(try agg.accept(f.frame(meter: 30, label: 9, reading: 300)) == 3)
        #expect(try agg.decryptSum(label: 9) == 600)
    }

    @Test("labels that leave the window are dropped")
    func window() throws {
        let f = try FrameFactory(meters: 2)
        let agg = try f.aggregator(current: 10)
        _ = try agg.accept(f.frame(meter: 10, label: 7, reading: 1))
        try agg.advance(to: 20)
        #expect(throws: AggregationError.unknownLabel(7)) { try agg.decryptSum(label: 7) }
        #expect(throws: AggregationError.labelOutsideWindow(label: 7, accepted: 16...21)) {
            try agg.accept(f.frame(meter: 20, label: 7, reading: 1))
        }
    }

    @Test("a group description that does not fit is refused")
    func invalidGroups() throws {
        let f = try FrameFactory(meters: 2)
        #expect(throws: AggregationError.self) { try GroupMembers(group: 1, scheme: .lwrPSA, frameKeys: [:]) }
        #expect(throws: AggregationError.self) { try GroupMembers(group: 1, scheme: .lwrPSA, frameKeys: [1: [1, 2]]) }
        let members = try GroupMembers(group: f.group, scheme: .lwrPSA, frameKeys: f.keys)
        #expect(throws: AggregationError.lwr(.wrongKeyLength(expected: 2048, actual: 3))) {
            try LWRAggregator(
                members: members, parameters: f.parameters, bounds: f.bounds, aggregateKey: [1, 2, 3], currentLabel: 0)
        }
        let wrongBounds = try LWRGroupBounds(meters: 3, maxReading: 1, parameters: f.parameters)
        #expect(throws: AggregationError.self) {
            try LWRAggregator(
                members: members, parameters: f.parameters, bounds: wrongBounds, aggregateKey: f.aggregateKey,
                currentLabel: 0)
        }
    }
}

@Suite("Aggregator: label reuse and the window's end")
struct LabelReuseTests {
    @Test("two different ciphertexts for one (meter, label) raise a typed label-reuse alarm, no ack")
    func labelReuseAlarm() throws {
        let factory = try FrameFactory(meters: 2)
        let aggregator = try factory.aggregator()
        let first = try factory.frame(meter: 10, label: 10, reading: 7)
        let other = try factory.frame(meter: 10, label: 10, reading: 8)
        _ = try aggregator.acceptAndAcknowledge(first)
        // A retransmission is acked again and raises nothing.
        #expect(try aggregator.acceptAndAcknowledge(first).reported == nil)
        #expect(aggregator.labelReuseAlarms.isEmpty)
        #expect(throws: AggregationError.labelReused(meter: 10, label: 10)) {
            _ = try aggregator.acceptAndAcknowledge(other)
        }
        #expect(aggregator.labelReuseAlarms == [LabelReuseAlarm(meter: 10, label: 10)])
        #expect("\(aggregator.labelReuseAlarms[0])" == "meter 10 sent two different ciphertexts for label 10")
    }

    @Test("advance(to: 2^64 − 1) is a typed error, not a trap")
    func advanceToMax() throws {
        let aggregator = try FrameFactory(meters: 2).aggregator()
        #expect(throws: AggregationError.labelOutOfRange(.max)) { try aggregator.advance(to: .max) }
        try aggregator.advance(to: .max - 1)
        let frame = try FrameFactory(meters: 2).frame(meter: 10, label: .max, reading: 1)
        #expect(try aggregator.accept(frame) == 1)
    }
}
