import Aggregation
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// A neighbour-graph group of reference meters (MeterCrypto only, no firmware), enrolled,
/// placed and signed by the authority, set up through the relay's real frames.
final class NeighbourBench {
    let authority: ProvisioningAuthority
    var meters: [UInt32: NeighbourReferenceMeter] = [:]
    var members: GroupMembers
    var relay: NeighbourKeySetup
    var group: SignedNeighbourGroup
    let groupID: UInt32 = 7
    let maxReading: UInt64 = 5000

    init(
        meters n: Int, degree: Int? = nil, maxSilent: Int? = nil, authority: ProvisioningAuthority = .init(seed: 3)
    ) throws {
        self.authority = authority
        for i in 1...n {
            let id = UInt32(100 + 3 * i)
            meters[id] = NeighbourReferenceMeter(factory: authority.manufacture(meter: id), seed: UInt64(i))
        }
        let epoch = authority.issueEpoch()
        members = try authority.members(group: groupID, epoch: epoch, scheme: .lwrPSA, meters: meters.keys.sorted())
        relay = try NeighbourKeySetup(members: members, parameters: .standard, maxReading: maxReading)
        for id in meters.keys.sorted() {
            try relay.receivePublicKey(meters[id]!.publicKeyFrame(group: groupID, epoch: epoch))
        }
        let plan = Self.plan(n: n, degree: degree, maxSilent: maxSilent)
        group = try authority.signNeighbourGroup(
            group: groupID, epoch: epoch, parameterID: LWRParameters.standard.id, maxReading: maxReading,
            enrolments: relay.enrolments, plan: plan)
        try relay.install(group)
        for id in meters.keys.sorted() {
            try meters[id]!.setup(group: groupID, epoch: epoch, frames: relay.setupFrames(for: id))
        }
    }

    static func plan(n: Int, degree: Int?, maxSilent: Int?) -> NeighbourGraphPlan {
        let p = NeighbourGraphAnalysis.plan(meters: UInt32(n))
        return p.with(degree: degree ?? p.degree, maxSilent: maxSilent ?? degree ?? p.maxSilent)
    }

    func aggregator(current: UInt64 = 0) throws -> NeighbourAggregator {
        try NeighbourAggregator(
            members: members, group: group, parameters: .standard, silentLimit: meters.count, currentLabel: current)
    }

    func reading(_ id: UInt32, _ label: UInt64) -> UInt64 {
        (UInt64(id) &* 7919 &+ label &* 104_729) % (maxReading + 1)
    }

    /// One label: every meter but `silent` reports, the aggregator closes the label, the
    /// reporting neighbours answer. Returns the result and the true sum of the reporting meters.
    func run(
        _ agg: NeighbourAggregator, label: UInt64, silent: Set<UInt32>
    ) throws -> (NeighbourLabelSum, UInt64, [RecoveryRequest]) {
        try agg.advance(to: label)
        var truth: UInt64 = 0
        for (id, m) in meters.sorted(by: { $0.key < $1.key }) where !silent.contains(id) {
            let receipt = try agg.accept(m.readingFrame(label: label, reading: reading(id, label)))
            #expect(receipt.reported != nil)
            truth += reading(id, label)
        }
        let requests = try agg.close(label: label)
        for r in requests {
            #expect(!silent.contains(r.meter))
            try agg.acceptRecovery(meters[r.meter]!.answer(r.frame, current: label + 1))
        }
        return (try agg.sum(label: label), truth, requests)
    }
}

@Suite("Neighbour-graph aggregator (reference meters)")
struct NeighbourAggregatorTests {
    @Test("0, 1 and many silent meters: the exact sum of the meters that reported")
    func silentMeters() throws {
        let bench = try NeighbourBench(meters: 24, degree: 6)
        let agg = try bench.aggregator()
        let ids = bench.meters.keys.sorted()
        let cases: [Set<UInt32>] = [[], [ids[3]], Set(ids.enumerated().filter { $0.offset % 4 == 1 }.map(\.element))]
        for (label, silent) in cases.enumerated() {
            let (result, truth, requests) = try bench.run(agg, label: UInt64(label), silent: silent)
            #expect(result.sum == truth)
            #expect(result.reporting == ids.count - silent.count)
            #expect(result.silent == silent.sorted())
            // One answer per reporting neighbour of a silent meter, none otherwise.
            let expected = Set(silent.flatMap { bench.group.neighbours(of: $0) }).subtracting(silent)
            #expect(Set(requests.map(\.meter)) == expected)
            #expect(result.recoveryAnswers == expected.count)
        }
    }

    @Test("silent meters next to each other on the ring, and a run of k/2 of them")
    func adjacentSilent() throws {
        let bench = try NeighbourBench(meters: 20, degree: 6)
        let agg = try bench.aggregator()
        let ring = bench.group.roster.entries.map(\.meter)
        let cases: [Set<UInt32>] = [[ring[0], ring[19]], [ring[5], ring[6], ring[7]], [ring[9], ring[10], ring[12]]]
        for (label, silent) in cases.enumerated() {
            let (result, truth, _) = try bench.run(agg, label: UInt64(label), silent: silent)
            #expect(result.sum == truth)
            #expect(result.reporting == 20 - silent.count)
        }
    }

    @Test("a silent meter that comes back: its late reading is acked late and in no sum; the next label is normal")
    func comesBack() throws {
        let bench = try NeighbourBench(meters: 12, degree: 4)
        let agg = try bench.aggregator()
        let j = bench.meters.keys.sorted()[5]
        let (first, truth, _) = try bench.run(agg, label: 0, silent: [j])
        #expect(first.sum == truth)
        let late = try agg.accept(bench.meters[j]!.readingFrame(label: 0, reading: bench.reading(j, 0)))
        #expect(late.reported == nil)
        let header = try Frame.parseHeader(late.ack.span)
        #expect(header.type == .ack && Array(late.ack[Frame.payloadRange(header)]) == [RecoveryPayload.lateAck])
        #expect(try agg.sum(label: 0) == first)  // unchanged
        let (second, truth2, requests) = try bench.run(agg, label: 1, silent: [])
        #expect(second.sum == truth2 && second.reporting == 12 && requests.isEmpty)
    }

    @Test("recovery answers are useless for another label")
    func otherLabel() throws {
        let bench = try NeighbourBench(meters: 12, degree: 4)
        let agg = try bench.aggregator()
        let j = bench.meters.keys.sorted()[2]
        let (result, truth, requests) = try bench.run(agg, label: 5, silent: [j])
        #expect(result.sum == truth)
        // The same answers against label 6's ciphertexts with the same meter silent.
        var sum6: UInt64 = 0
        var truth6: UInt64 = 0
        for (id, m) in bench.meters where id != j {
            let f = try m.readingFrame(label: 6, reading: bench.reading(id, 6))
            let h = try Frame.parseHeader(f.span)
            sum6 &+= BigEndian.load64(Array(f[Frame.payloadRange(h)]).span, at: 0)
            truth6 += bench.reading(id, 6)
        }
        for r in requests {
            let answer = try bench.meters[r.meter]!.answer(r.frame, current: 6)
            let h = try Frame.parseHeader(answer.span)
            sum6 &+= BigEndian.load64(Array(answer[Frame.payloadRange(h)]).span, at: 0)
        }
        let bounds = try NeighbourKeys.bounds(meters: 12, maxReading: bench.maxReading, parameters: .standard)
        let wrong = LWRPSA.decryptSum(ciphertextSum: sum6, aggregatePad: 0, bounds: bounds, parameters: .standard)
        #expect(wrong != truth6)
        // Without the silent meter's edges removed the sum of label 6 is no reading sum either.
        #expect(wrong > 12 * bench.maxReading || wrong != truth6)
    }

    @Test("a reference meter answers only for labels it encrypted, within the window, for ≤ t neighbours")
    func answerRules() throws {
        let bench = try NeighbourBench(meters: 12, degree: 4, maxSilent: 1)
        let agg = try bench.aggregator()
        let ids = bench.meters.keys.sorted()
        let j = ids[0]
        try agg.advance(to: 4)
        for (id, m) in bench.meters where id != j { _ = try agg.accept(m.readingFrame(label: 3, reading: 1)) }
        let requests = try agg.close(label: 3)
        let i = requests[0].meter
        #expect(throws: ReferenceMeterError.recoveryRefused("outside the window")) {
            try bench.meters[i]!.answer(requests[0].frame, current: 3 + 5)
        }
        let intake = FrameIntake(members: bench.members)
        let unencrypted = intake.seal(.recoveryRequest, to: i, label: 9, payload: [1, 0, 0, 0] + be(j))
        #expect(throws: ReferenceMeterError.recoveryRefused("a label this meter did not encrypt")) {
            try bench.meters[i]!.answer(unencrypted, current: 10)
        }
        let two = bench.group.neighbours(of: i).sorted().prefix(2)
        let tooMany = intake.seal(.recoveryRequest, to: i, label: 3, payload: [2, 0, 0, 0] + two.flatMap(be))
        #expect(throws: ReferenceMeterError.recoveryRefused("more than t silent neighbours")) {
            try bench.meters[i]!.answer(tooMany, current: 4)
        }
        // The aggregator refuses a label where some reporting meter has more than t silent neighbours.
        let k = bench.group.neighbours(of: ids[6])
        for (id, m) in bench.meters where !k.prefix(2).contains(id) {
            _ = try agg.accept(m.readingFrame(label: 4, reading: 1))
        }
        #expect(try agg.close(label: 4).isEmpty)
        #expect(throws: AggregationError.self) { try agg.sum(label: 4) }
    }

    @Test(
        "false-dropout evidence: a plain ack and a relayed notice for one label convict the aggregator; a late ack does not"
    )
    func falseDropoutEvidence() throws {
        let bench = try NeighbourBench(meters: 10, degree: 4)
        let agg = try bench.aggregator()
        let ids = bench.meters.keys.sorted()
        let j = ids[4]
        let victim = bench.meters[j]!
        // The aggregator takes j's reading (plain ack), then claims j was silent anyway.
        try agg.advance(to: 2)
        let receipt = try agg.accept(victim.readingFrame(label: 2, reading: 4000))
        let i = bench.group.neighbours(of: j)[0]
        let relayed = try agg.relay(bench.meters[i]!.notice(to: j, label: 2))
        #expect(relayed.meter == j)
        let notice = try victim.checkNotice(relayed.frame)
        #expect(notice.from == i && notice.label == 2)
        func alarm(ack: [UInt8]) -> [UInt8] {
            let h = try! Frame.parseHeader(relayed.frame.span)
            let payload = Array(relayed.frame[Frame.payloadRange(h)])
            return payload + Array(relayed.frame.suffix(16)) + Array(ack.suffix(16))
        }
        let epoch = bench.members.epoch
        #expect(
            try bench.authority.checkFalseDropoutAlarm(
                meter: j, group: bench.groupID, epoch: epoch, label: 2, payload: alarm(ack: receipt.ack)))
        // An honest aggregator's late ack is no evidence; nor is a tampered tag.
        let late = agg.lateAck(to: j, label: 2)
        #expect(
            try !bench.authority.checkFalseDropoutAlarm(
                meter: j, group: bench.groupID, epoch: epoch, label: 2, payload: alarm(ack: late)))
        var tampered = alarm(ack: receipt.ack)
        tampered[30] ^= 1
        #expect(
            try !bench.authority.checkFalseDropoutAlarm(
                meter: j, group: bench.groupID, epoch: epoch, label: 2, payload: tampered))
        #expect(
            try !bench.authority.checkFalseDropoutAlarm(
                meter: j, group: bench.groupID, epoch: epoch, label: 3, payload: alarm(ack: receipt.ack)))
        // Notices only travel between neighbours.
        let far = ids.first { $0 != i && !bench.group.areNeighbours($0, i) }!
        let key = try bench.authority.frameKey(meter: i, group: bench.groupID, epoch: epoch)
        let payload = be(far) + [UInt8](repeating: 0, count: 16)
        let header = FrameHeader(
            type: .silenceNotice, scheme: .lwrPSA, group: bench.groupID, meter: i, label: 2,
            payloadLength: payload.count)
        var forged = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        forged.replaceSubrange(Frame.payloadRange(header), with: payload)
        var span = forged.mutableSpan
        _ = Frame.seal(header, key: key.span, frame: &span)
        #expect(throws: AggregationError.unknownMeter(far)) { _ = try agg.relay(forged) }
    }

    @Test("membership change: only meters whose neighbours change do key agreements; sums stay exact")
    func membershipChange() throws {
        let authority = ProvisioningAuthority(seed: 11)
        let bench = try NeighbourBench(meters: 30, degree: 6, authority: authority)
        let old = bench.group
        let leaving = old.roster.entries[10].meter
        let joiner: UInt32 = 999
        let newcomer = NeighbourReferenceMeter(factory: authority.manufacture(meter: joiner), seed: 999)
        let epoch = authority.issueEpoch()
        var ids = Set(bench.meters.keys)
        ids.remove(leaving)
        ids.insert(joiner)
        let members = try authority.members(group: bench.groupID, epoch: epoch, scheme: .lwrPSA, meters: ids.sorted())
        let relay = try NeighbourKeySetup(
            members: members, parameters: .standard, maxReading: bench.maxReading, enrolling: [joiner])
        #expect(relay.enrolFrames().map(\.meter) == [joiner])
        try relay.receivePublicKey(newcomer.publicKeyFrame(group: bench.groupID, epoch: epoch))
        #expect(relay.allPublicKeysReceived)
        let changed = try authority.signNeighbourGroup(
            group: bench.groupID, epoch: epoch, parameterID: LWRParameters.standard.id, maxReading: bench.maxReading,
            enrolments: relay.enrolments, plan: NeighbourBench.plan(n: 30, degree: 6, maxSilent: nil),
            previous: old, leaving: [leaving])
        try relay.install(changed)
        // The members that stay keep their places' order and ring keys.
        let stay = old.roster.entries.filter { $0.meter != leaving }
        #expect(changed.roster.entries.filter { $0.meter != joiner }.map(\.meter) == stay.map(\.meter))
        #expect(changed.terms.previousEpoch == old.epoch)
        let predicted = try relay.keyAgreements(since: old)
        bench.meters[leaving] = nil
        bench.meters[joiner] = newcomer
        for (id, m) in bench.meters {
            try m.setup(group: bench.groupID, epoch: epoch, frames: relay.setupFrames(for: id))
        }
        for (id, m) in bench.meters { #expect(m.keyAgreements == predicted[id], "meter \(id)") }
        // A leave adds k/2 edges, a join k: 2·(3 + 6) = 18 exponentiations in all, the joiner 6.
        #expect(newcomer.keyAgreements == 6)
        #expect(bench.meters.values.map(\.keyAgreements).reduce(0, +) == 18)
        #expect(bench.meters.values.filter { $0.keyAgreements > 0 }.count <= 1 + 6 + 6)
        bench.members = members
        bench.group = changed
        bench.relay = relay
        let agg = try bench.aggregator(current: 10)
        let (result, truth, _) = try bench.run(agg, label: 10, silent: [joiner])
        #expect(result.sum == truth)
        let (all, truthAll, _) = try bench.run(agg, label: 11, silent: [])
        #expect(all.sum == truthAll && all.reporting == 30)
    }

    @Test("the Python statement body and roster root (Vectors/dropout.json) from the host's builders")
    func statementMatchesPython() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MeterCryptoTests/Vectors/dropout.json")
        struct File: Decodable {
            struct Member: Decodable {
                let meter: UInt32
                let public_key: String
            }
            struct Statement: Decodable {
                let degree: Int
                let max_silent: Int
                let budget: Int
                let window: Int
                let activation_label: UInt64
                let body: String
            }
            struct RosterCase: Decodable {
                let group: UInt32
                let epoch: UInt32
                let graph_seed: String
                let members: [Member]
                let ring: [UInt32]
                let root: String
                let statement: Statement
            }
            let roster: RosterCase
        }
        let r = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).roster
        let seed = Hex.decode(r.graph_seed)
        var keys: [UInt32: [UInt8]] = [:]
        var ringKeys: [UInt32: UInt64] = [:]
        for m in r.members {
            keys[m.meter] = Hex.decode(m.public_key)
            ringKeys[m.meter] = NeighbourGraph.ringKey(seed: seed.span, group: r.group, meter: m.meter)
        }
        let roster = try RosterTree(publicKeys: keys, ringKeys: ringKeys)
        #expect(roster.entries.map(\.meter) == r.ring)
        #expect(Hex.encode(roster.root) == r.root)
        let terms = try NeighbourGroupTerms(
            graph: NeighbourGraph(meters: UInt32(r.members.count), degree: r.statement.degree),
            maxSilent: r.statement.max_silent, budget: r.statement.budget, window: r.statement.window,
            activationLabel: r.statement.activation_label, previousEpoch: 0)
        let body = SignedNeighbourGroup.body(
            group: r.group, epoch: r.epoch, parameterID: 1, keyMode: 1, maxReading: 5000, roster: roster,
            graphSeed: seed, terms: terms)
        #expect(Hex.encode(body) == r.statement.body)
    }
}

@Suite("Neighbour graph: choice of k and connectivity")
struct NeighbourGraphAnalysisTests {
    @Test("the Swift plan chooses the k of scripts/dropout_degree.py (exact integers)")
    func matchesPython() throws {
        struct Case: Codable {
            let n: Int
            let gamma: Double
            let delta: Double
            let sigma: Int
        }
        struct Answer: Decodable {
            let k: Int
            let log2_bound: Double?
        }
        var cases: [Case] = []
        for n in [2, 3, 10, 50, 100, 101, 1000, 4096, 10000] {
            for (g, d) in [(0.2, 0.05), (0.1, 0.02), (1.0 / 3, 0.05), (0.25, 0.1)] {
                cases.append(Case(n: n, gamma: g, delta: d, sigma: 40))
            }
        }
        cases.append(Case(n: 1000, gamma: 0.2, delta: 0.05, sigma: 20))
        cases.append(Case(n: 65536, gamma: 0.2, delta: 0.05, sigma: 40))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts").path
        let answers: [Answer] = try PythonOracle.run(
            "import sys; sys.path.insert(0, \(String(reflecting: script))); import dropout_degree; dropout_degree.oracle()",
            input: cases)
        for (c, a) in zip(cases, answers) {
            let plan = NeighbourGraphAnalysis.plan(
                meters: UInt32(c.n), corruptFraction: c.gamma, silentFraction: c.delta, securityBits: c.sigma)
            #expect(plan.degree == a.k, "n = \(c.n), γ = \(c.gamma), δ = \(c.delta)")
            if let b = a.log2_bound {
                #expect(abs(plan.log2Disconnect - b) < 1e-6)
            } else {
                #expect(plan.log2Disconnect == -.infinity)
            }
        }
        // The defaults at the issue's sizes.
        #expect([100, 1000, 10000].map { NeighbourGraphAnalysis.plan(meters: $0).degree } == [20, 30, 34])
    }

    @Test("H(n, k) at the stated parameters keeps the honest reporting members connected; the run condition is exact")
    func connectivity() throws {
        var rng = SeededGenerator(seed: 5)
        // n = 1000, k = 30 (γ = 0.2, δ = 0.05): 250 removed members at random, many times.
        let plan = NeighbourGraphAnalysis.plan(meters: 1000)
        let graph = try NeighbourGraph(meters: 1000, degree: plan.degree)
        for _ in 0..<100 {
            let gone = removed(1000, plan.removed, &rng)
            #expect(connected(graph, removed: gone))
        }
        // A sparse graph, where disconnections happen: they happen exactly when two runs of
        // ≥ k/2 removed positions exist, and no more often than the bound says.
        let sparse = try NeighbourGraph(meters: 300, degree: 10)
        var cut = 0
        let trials = 1500
        for _ in 0..<trials {
            let gone = removed(300, 80, &rng)
            let isConnected = connected(sparse, removed: gone)
            #expect(isConnected == (longRuns(300, half: 5, removed: gone) < 2))
            if !isConnected { cut += 1 }
        }
        let bound = exp2(NeighbourGraphAnalysis.log2Bound(meters: 300, removed: 80, half: 5))
        #expect(cut > 0 && Double(cut) / Double(trials) <= bound * 1.5)
    }

    /// `m` of `n` ring positions, uniformly at random.
    func removed(_ n: Int, _ m: Int, _ rng: inout SeededGenerator) -> [Bool] {
        var positions = Array(0..<n)
        for i in 0..<m { positions.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        var gone = [Bool](repeating: false, count: n)
        for p in positions.prefix(m) { gone[p] = true }
        return gone
    }

    func connected(_ g: NeighbourGraph, removed: [Bool]) -> Bool {
        let rest = removed.filter { !$0 }.count
        guard let start = removed.firstIndex(of: false) else { return true }
        var seen = [Bool](repeating: false, count: removed.count)
        seen[start] = true
        var count = 1
        var todo = [UInt32(start)]
        while let p = todo.popLast() {
            for s in 0..<g.neighbourCount {
                let q = Int(g.neighbour(of: p, slot: s))
                if !removed[q] && !seen[q] {
                    seen[q] = true
                    count += 1
                    todo.append(UInt32(q))
                }
            }
        }
        return count == rest
    }

    func longRuns(_ n: Int, half h: Int, removed: [Bool]) -> Int {
        guard let start = removed.firstIndex(of: false) else { return 0 }
        var runs = 0
        var length = 0
        for i in 1...n {
            if removed[(start + i) % n] {
                length += 1
            } else {
                if length >= h { runs += 1 }
                length = 0
            }
        }
        return runs
    }
}

func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
