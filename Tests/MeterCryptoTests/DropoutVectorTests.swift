import Foundation
import MeterCrypto
import TestSupport
import Testing

/// Vectors/dropout.json, made by scripts/vectors/make_dropout_vectors.py from
/// docs/spec/dropout.md in Python, independently of the firmware.
struct DropoutVectorFile: Decodable {
    struct RingKeyCase: Decodable {
        let seed: String
        let group: UInt32
        let meter: UInt32
        let ring_key: UInt64
    }
    struct GraphCase: Decodable {
        let meters: UInt32
        let degree: Int
        let neighbours: [String: [UInt32]]
    }
    struct CapacityCase: Decodable {
        let meters: UInt32
        let delta: UInt64
        let largest_max_reading: UInt64
    }
    struct TagCase: Decodable {
        let pairwise_seed: String
        let group: UInt32
        let meter_a: UInt32
        let meter_b: UInt32
        let label: UInt64
        let notice: String
        let confirmation: String
    }
    struct RosterMember: Decodable {
        let meter: UInt32
        let public_key: String
    }
    struct StatementCase: Decodable {
        let parameter_id: UInt8
        let key_mode: UInt8
        let max_reading: UInt64
        let degree: Int
        let max_silent: Int
        let budget: Int
        let window: Int
        let activation_label: UInt64
        let previous_epoch: UInt32
        let body: String
    }
    struct RosterCase: Decodable {
        let group: UInt32
        let epoch: UInt32
        let graph_seed: String
        let members: [RosterMember]
        let ring: [UInt32]
        let depth: Int
        let root: String
        let statement: StatementCase
    }
    struct EdgeCase: Decodable {
        let pairwise_seed: String
        let first: [String]
        let chunk1_first: [String]
        let shake256: String
    }
    struct PairSeed: Decodable {
        let meter_a: UInt32
        let meter_b: UInt32
        let seed: String
    }
    struct Member: Decodable {
        let meter: UInt32
        let ring_key: UInt64
        let neighbours: [UInt32]
        let key_first: [String]
        let key_shake256: String
        let reading: UInt64
        let ciphertext: UInt64
    }
    struct Answer: Decodable {
        let meter: UInt32
        let silent: [UInt32]
        let answer: UInt64
    }
    struct GroupCase: Decodable {
        let group: UInt32
        let label: UInt64
        let meters: UInt32
        let degree: Int
        let max_reading: UInt64
        let graph_seed: String
        let ring: [UInt32]
        let pairwise_seeds: [PairSeed]
        let members: [Member]
        let silent: [UInt32]
        let answers: [Answer]
        let sum: UInt64
    }
    struct ParameterSet: Decodable {
        let id: UInt8
        let edge: [EdgeCase]
        let groups: [GroupCase]
    }

    let ring_key: [RingKeyCase]
    let graph: [GraphCase]
    let capacity: [CapacityCase]
    let tags: [TagCase]
    let roster: RosterCase
    let parameter_sets: [ParameterSet]

    static let loaded = Result { try Vectors.load("dropout", as: DropoutVectorFile.self) }
}

extension DropoutVectorFile.GroupCase {
    func seed(_ a: UInt32, _ b: UInt32) -> [UInt8] {
        Hex.decode(pairwise_seeds.first { $0.meter_a == min(a, b) && $0.meter_b == max(a, b) }!.seed)
    }

    /// The member's key, chunk by chunk through `NeighbourKeys.addEdge` as the meter builds it.
    func key(of meter: UInt32, _ parameters: LWRParameters) -> [UInt64] {
        let member = members.first { $0.meter == meter }!
        var key: [UInt64] = []
        for c in 0..<(parameters.lambda / NeighbourKeys.chunkWords) {
            var chunk = [UInt64](repeating: 0, count: NeighbourKeys.chunkWords)
            var span = chunk.mutableSpan
            for peer in member.neighbours {
                let s = seed(meter, peer)
                NeighbourKeys.addEdge(
                    parameters: parameters, pairwiseSeed: s.span, own: meter, peer: peer, chunk: c, to: &span)
            }
            key += chunk
        }
        return key
    }
}

@Suite("Neighbour-graph known answers (Vectors/dropout.json)")
struct DropoutVectorTests {
    @Test("ring keys")
    func ringKeys() throws {
        for c in try DropoutVectorFile.loaded.get().ring_key {
            let seed = Hex.decode(c.seed)
            let key = NeighbourGraph.ringKey(seed: seed.span, group: c.group, meter: c.meter)
            #expect(key == c.ring_key)
        }
    }

    @Test("neighbours in window order; slot(of:around:) inverts neighbour(of:slot:)")
    func graph() throws {
        for c in try DropoutVectorFile.loaded.get().graph {
            let g = try NeighbourGraph(meters: c.meters, degree: c.degree)
            for (p, expected) in c.neighbours {
                let position = UInt32(p)!
                let got = (0..<g.neighbourCount).map { g.neighbour(of: position, slot: $0) }
                #expect(got == expected, "n = \(c.meters), k = \(c.degree), p = \(p)")
                for (slot, q) in got.enumerated() { #expect(g.slot(of: q, around: position) == slot) }
                #expect(g.slot(of: position, around: position) == nil)
            }
            // Symmetric, and exactly neighbourCount neighbours (small rings: every pair).
            if c.meters <= 100 {
                for a in 0..<c.meters {
                    #expect((0..<c.meters).filter { g.areNeighbours(a, $0) }.count == g.neighbourCount)
                    for b in 0..<c.meters { #expect(g.areNeighbours(a, b) == g.areNeighbours(b, a)) }
                }
            }
        }
    }

    @Test("capacity with Δ = 2n: the largest maximum reading is accepted, one more is refused")
    func capacity() throws {
        for c in try DropoutVectorFile.loaded.get().capacity {
            let b = try NeighbourKeys.bounds(meters: c.meters, maxReading: c.largest_max_reading, parameters: .standard)
            #expect(b.delta == c.delta)
            #expect(throws: LWRError.self) {
                try NeighbourKeys.bounds(meters: c.meters, maxReading: c.largest_max_reading + 1, parameters: .standard)
            }
        }
    }

    @Test("silence notice and confirmation tags")
    func tags() throws {
        for c in try DropoutVectorFile.loaded.get().tags {
            let seed = Hex.decode(c.pairwise_seed)
            var notice = [UInt8](repeating: 0, count: 16)
            var span = notice.mutableSpan
            NeighbourKeys.tag(
                .notice, pairwiseSeed: seed.span, group: c.group, from: c.meter_a, to: c.meter_b, label: c.label,
                into: &span)
            #expect(Hex.encode(notice) == c.notice)
            var confirmation = [UInt8](repeating: 0, count: 16)
            var cspan = confirmation.mutableSpan
            NeighbourKeys.tag(
                .confirmation, pairwiseSeed: seed.span, group: c.group, from: c.meter_a, to: c.meter_b, label: c.label,
                into: &cspan)
            #expect(Hex.encode(confirmation) == c.confirmation)
            let tag = Hex.decode(c.notice)
            func verifies(_ from: UInt32, _ about: UInt32, _ label: UInt64) -> Bool {
                NeighbourKeys.verify(
                    .notice, pairwiseSeed: seed.span, group: c.group, from: from, to: about, label: label, tag: tag.span
                )
            }
            #expect(verifies(c.meter_a, c.meter_b, c.label))
            #expect(!verifies(c.meter_b, c.meter_a, c.label))
            #expect(!verifies(c.meter_a, c.meter_b, c.label + 1))
            let confirmationTag = Hex.decode(c.confirmation)
            let confirms = NeighbourKeys.verify(
                .confirmation, pairwiseSeed: seed.span, group: c.group, from: c.meter_a, to: c.meter_b, label: c.label,
                tag: confirmationTag.span)
            let noticeAsConfirmation = NeighbourKeys.verify(
                .confirmation, pairwiseSeed: seed.span, group: c.group, from: c.meter_a, to: c.meter_b, label: c.label,
                tag: tag.span)
            #expect(confirms && !noticeAsConfirmation)
        }
    }

    @Test("a ring roster's leaves and root")
    func rosterRoot() throws {
        let r = try DropoutVectorFile.loaded.get().roster
        let seed = Hex.decode(r.graph_seed)
        let ring = r.members.map(\.meter).sorted {
            let a = NeighbourGraph.ringKey(seed: seed.span, group: r.group, meter: $0)
            let b = NeighbourGraph.ringKey(seed: seed.span, group: r.group, meter: $1)
            return (a, $0) < (b, $1)
        }
        #expect(ring == r.ring)
        var level: [[UInt8]] = ring.map { m in
            let y = Hex.decode(r.members.first { $0.meter == m }!.public_key)
            var h = [UInt8](repeating: 0, count: 32)
            var hs = h.mutableSpan
            Roster.publicKeyHash(y.span, into: &hs)
            var leaf = [UInt8](repeating: 0, count: 32)
            var ls = leaf.mutableSpan
            Roster.graphLeaf(
                meter: m, ringKey: NeighbourGraph.ringKey(seed: seed.span, group: r.group, meter: m),
                publicKeyHash: h.span, into: &ls)
            return leaf
        }
        var empty = [UInt8](repeating: 0, count: 32)
        var es = empty.mutableSpan
        Roster.emptyLeaf(into: &es)
        level += [[UInt8]](repeating: empty, count: (1 << r.depth) - level.count)
        for _ in 0..<r.depth {
            let below = level
            level = stride(from: 0, to: below.count, by: 2).map { i in
                let left = below[i]
                let right = below[i + 1]
                var node = [UInt8](repeating: 0, count: 32)
                var ns = node.mutableSpan
                Roster.node(left: left.span, right: right.span, into: &ns)
                return node
            }
        }
        #expect(Hex.encode(level[0]) == r.root)
        let body = Hex.decode(r.statement.body)
        let parsed = NeighbourGroupTerms(body: body.span)
        let terms = try #require(parsed)
        #expect(terms.graph.degree == r.statement.degree)
        #expect(terms.maxSilent == r.statement.max_silent)
        #expect(terms.budget == r.statement.budget)
        #expect(terms.window == r.statement.window)
        #expect(terms.activationLabel == r.statement.activation_label)
        #expect(terms.previousEpoch == r.statement.previous_epoch)
        var bad = body
        bad[NeighbourGroupLayout.reserved] = 1
        let refused = NeighbourGroupTerms(body: bad.span)
        #expect(refused == nil)
    }

    @Test("pairwise vectors G(s), chunk by chunk")
    func edges() throws {
        for entry in try DropoutVectorFile.loaded.get().parameter_sets {
            let parameters = try #require(LWRParameters.withID(entry.id))
            for c in entry.edge {
                let seed = Hex.decode(c.pairwise_seed)
                var g: [UInt64] = []
                for chunk in 0..<(parameters.lambda / NeighbourKeys.chunkWords) {
                    var x = NeighbourKeys.edgeChunkStream(parameters: parameters, pairwiseSeed: seed.span, chunk: chunk)
                    g += (0..<NeighbourKeys.chunkWords).map { _ in x.squeezeWord() }
                }
                #expect(hexWords(g.prefix(c.first.count)) == c.first)
                #expect(hexWords(g[128..<(128 + c.chunk1_first.count)]) == c.chunk1_first)
                #expect(shake256Hex(g) == c.shake256)
            }
        }
    }

    @Test("groups: keys from edges cancel, ciphertexts, recovery answers, the sum of the reporting meters")
    func groups() throws {
        for entry in try DropoutVectorFile.loaded.get().parameter_sets {
            let parameters = try #require(LWRParameters.withID(entry.id))
            for g in entry.groups {
                let bounds = try NeighbourKeys.bounds(
                    meters: g.meters, maxReading: g.max_reading, parameters: parameters)
                let graph = try NeighbourGraph(meters: g.meters, degree: g.degree)
                var total = [UInt64](repeating: 0, count: parameters.lambda)
                var sum: UInt64 = 0
                var truth: UInt64 = 0
                for (p, m) in g.members.enumerated() {
                    #expect(m.meter == g.ring[p])
                    #expect(
                        (0..<graph.neighbourCount).map { g.ring[Int(graph.neighbour(of: UInt32(p), slot: $0))] }
                            == m.neighbours)
                    let key = g.key(of: m.meter, parameters)
                    #expect(hexWords(key.prefix(m.key_first.count)) == m.key_first)
                    #expect(shake256Hex(key) == m.key_shake256)
                    for w in 0..<key.count { total[w] &+= key[w] }
                    let pad = try LWRPSA.prf(parameters: parameters, key: key.span, group: g.group, label: g.label)
                    let c = try LWRPSA.encrypt(reading: m.reading, pad: pad, bounds: bounds, parameters: parameters)
                    #expect(c == m.ciphertext)
                    if !g.silent.contains(m.meter) {
                        sum &+= c
                        truth += m.reading
                    }
                }
                #expect(total.allSatisfy { $0 == 0 })
                for a in g.answers {
                    var ip = EdgeInnerProduct(parameters: parameters, group: g.group, label: g.label)
                    for _ in 0..<ip.chunkCount {
                        ip.nextChunk()
                        for j in a.silent {
                            let s = g.seed(a.meter, j)
                            ip.addRecoveryTerm(pairwiseSeed: s.span, own: a.meter, peer: j)
                        }
                    }
                    #expect(ip.prf() == a.answer)
                    sum &+= a.answer
                }
                let x = LWRPSA.decryptSum(ciphertextSum: sum, aggregatePad: 0, bounds: bounds, parameters: parameters)
                #expect(x == g.sum)
                #expect(x == truth)
            }
        }
    }
}
