import Aggregation
import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// A DMCFE group at the crypto level: secrets, pairwise seeds, sealed frames.
struct DMCFEBench {
    let group: UInt32 = 4
    let ids: [UInt32]
    let secrets: [UInt32: DMCFESecret]
    let seeds: [[UInt32]: [UInt8]]
    let keys: [UInt32: [UInt8]]
    let members: GroupMembers

    init(meters: Int, seed: UInt64 = 1) throws {
        var rng = SeededGenerator(seed: seed)
        ids = (1...meters).map { UInt32($0 * 3) }
        var secrets: [UInt32: DMCFESecret] = [:]
        var keys: [UInt32: [UInt8]] = [:]
        for id in ids {
            var s: DMCFESecret? = nil
            while s == nil { s = DMCFESecret(randomBytes: rng.bytes(64).span) }
            secrets[id] = s
            keys[id] = rng.bytes(32)
        }
        var seeds: [[UInt32]: [UInt8]] = [:]
        for a in ids { for b in ids where a < b { seeds[[a, b]] = rng.bytes(32) } }
        self.secrets = secrets
        self.seeds = seeds
        self.keys = keys
        members = try GroupMembers(group: group, scheme: .dmcfe, frameKeys: keys)
    }

    func seal(_ type: FrameType, meter: UInt32, label: UInt64, payload: [UInt8]) -> [UInt8] {
        let header = FrameHeader(
            type: type, scheme: .dmcfe, group: group, meter: meter, label: label, payloadLength: payload.count)
        var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        out.replaceSubrange(Frame.payloadRange(header), with: payload)
        var span = out.mutableSpan
        let key = keys[meter]!
        _ = Frame.seal(header, key: key.span, frame: &span)
        return out
    }

    /// Each meter's functional-key share frame for `weights`, masked with its pairwise seeds.
    func keyShares(for weights: [UInt32: Int64]) -> [[UInt8]] {
        let digest = DMCFEAggregator.digest(of: weights)
        return ids.map { own in
            var t1 = InlineArray<4, UInt>(repeating: 0)
            var t2 = InlineArray<4, UInt>(repeating: 0)
            for peer in ids where peer != own {
                let s = seeds[[min(own, peer), max(own, peer)]]!
                DMCFE.addMask(pairwiseSeed: s.span, digest: digest.span, own: own, peer: peer, t1: &t1, t2: &t2)
            }
            var share = [UInt8](repeating: 0, count: 64)
            var span = share.mutableSpan
            DMCFE.keyShare(secret: secrets[own]!, weight: weights[own]!, t1: t1, t2: t2, into: &span)
            return seal(.functionalKeyShare, meter: own, label: 0, payload: digest + share)
        }
    }

    func reading(meter: UInt32, label: UInt64, x: UInt64) -> [UInt8] {
        let pad = DMCFE.pad(secret: secrets[meter]!, group: group, label: label)
        let ct = DMCFE.encrypt(reading: x, pad: pad)
        var bytes = [UInt8](repeating: 0, count: 384)
        var span = bytes.mutableSpan
        ct.bigEndianBytes(into: &span)
        return seal(.reading, meter: meter, label: label, payload: bytes)
    }
}

@Suite("DMCFE aggregator and discrete logarithm")
struct DMCFEAggregatorTests {
    static let table = try! DiscreteLogTable(bound: 1_000_000, maxEntries: 1 << 12)

    @Test("y = (1, …, 1) gives the exact sum; a random small y gives the inner product")
    func correctness() throws {
        let bench = try DMCFEBench(meters: 5)
        var rng = SeededGenerator(seed: 9)
        let readings = Dictionary(
            uniqueKeysWithValues: bench.ids.map { ($0, UInt64.random(in: 0...5000, using: &rng)) })
        let ones = Dictionary(uniqueKeysWithValues: bench.ids.map { ($0, Int64(1)) })
        let small = Dictionary(uniqueKeysWithValues: bench.ids.map { ($0, Int64.random(in: -20...20, using: &rng)) })
        for (weights, label) in [(ones, UInt64(3)), (small, UInt64(4))] {
            let agg = try DMCFEAggregator(
                members: bench.members, weights: weights, keyShares: bench.keyShares(for: weights),
                table: Self.table, currentLabel: label)
            for id in bench.ids { _ = try agg.accept(bench.reading(meter: id, label: label, x: readings[id]!)) }
            let expected = bench.ids.reduce(Int64(0)) { $0 + weights[$1]! * Int64(readings[$1]!) }
            #expect(try agg.decryptInnerProduct(label: label) == expected)
        }
    }

    @Test("key shares are bound to their weight vector")
    func sharesBoundToWeights() throws {
        let bench = try DMCFEBench(meters: 4)
        let y1 = Dictionary(uniqueKeysWithValues: bench.ids.map { ($0, Int64(1)) })
        var y2 = y1
        y2[bench.ids[0]] = 2
        // Every share for y2 presented as if for y1: rejected by the digest.
        #expect(throws: AggregationError.self) {
            try DMCFEAggregator(
                members: bench.members, weights: y1, keyShares: bench.keyShares(for: y2), table: Self.table,
                currentLabel: 0)
        }
        // Mixed shares relabelled with y1's digest: the masks do not cancel, so no result in range.
        let digest1 = DMCFEAggregator.digest(of: y1)
        let forged = bench.keyShares(for: y2).enumerated().map { (i, frame) -> [UInt8] in
            let payload = Array(frame[(24 + 32)..<(frame.count - 16)])
            return i == 0
                ? bench.keyShares(for: y1)[0]
                : bench.seal(.functionalKeyShare, meter: bench.ids[i], label: 0, payload: digest1 + payload)
        }
        let agg = try DMCFEAggregator(
            members: bench.members, weights: y1, keyShares: forged, table: Self.table, currentLabel: 0)
        for id in bench.ids { _ = try agg.accept(bench.reading(meter: id, label: 0, x: 10)) }
        #expect(throws: AggregationError.discreteLogOutOfRange(bound: 1_000_000)) {
            try agg.decryptInnerProduct(label: 0)
        }
    }

    @Test("discrete logarithm at 0, ±bound, negative, and beyond the bound")
    func discreteLog() throws {
        let t = Self.table
        for v: Int64 in [0, 1, -1, 999_999, 1_000_000, -1_000_000, -123_456, 4096, 4095] {
            let h =
                v >= 0
                ? DMCFE.generatorPower(UInt64(v))
                : DMCFE.power(DMCFE.generatorPower(UInt64(-v)), DMCFE.negateExponent(DMCFE.exponent(1)))
            #expect(try t.solve(h) == v, "v = \(v)")
        }
        for v: UInt64 in [1_000_001, 2_000_001, 1 << 40] {
            #expect(throws: AggregationError.discreteLogOutOfRange(bound: 1_000_000)) {
                try t.solve(DMCFE.generatorPower(v))
            }
        }
        #expect(throws: AggregationError.discreteLogBoundTooLarge(1 << 62)) { try DiscreteLogTable(bound: 1 << 62) }
    }

    @Test("bad ciphertexts and unknown meters get typed errors and change nothing")
    func badInput() throws {
        let bench = try DMCFEBench(meters: 2)
        let ones = Dictionary(uniqueKeysWithValues: bench.ids.map { ($0, Int64(1)) })
        let agg = try DMCFEAggregator(
            members: bench.members, weights: ones, keyShares: bench.keyShares(for: ones), table: Self.table,
            currentLabel: 1)
        let id = bench.ids[0]
        #expect(throws: AggregationError.notInGroup(meter: id)) {
            try agg.accept(bench.seal(.reading, meter: id, label: 1, payload: [UInt8](repeating: 0, count: 384)))
        }
        #expect(throws: AggregationError.notInGroup(meter: id)) {
            try agg.accept(bench.seal(.reading, meter: id, label: 1, payload: [UInt8](repeating: 0xFF, count: 384)))
        }
        // p − 1 has order 2, not q.
        var pMinus1 = [UInt8](repeating: 0, count: 384)
        var span = pMinus1.mutableSpan
        var p = DMCFEGroup.prime
        p.limbs[0] -= 1
        p.bigEndianBytes(into: &span)
        #expect(throws: AggregationError.notInGroup(meter: id)) {
            try agg.accept(bench.seal(.reading, meter: id, label: 1, payload: pMinus1))
        }
        for m in bench.ids { _ = try agg.accept(bench.reading(meter: m, label: 1, x: 7)) }
        #expect(try agg.decryptSum(label: 1) == 14)
    }
}
