import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// Issue 14, item 1: the aggregator stores every customer's sealed detail. It tries to read
/// it with everything it holds (frame keys, K, and each customer's login secret w and
/// verifier v, which the service learns), to tell equal readings apart, and to pass off changed or
/// forged frames to a customer: under another label, as another meter's, with flipped
/// bits, sealed under a key of its own; and to make a meter seal a label twice (acks held
/// back, a reboot, acks replayed), which would reuse a GCM nonce.
public struct CustomerDetailAttack: Attack {
    public let id = "customer-detail"
    public let scheme = "lwr-psa"
    public let tries =
        "read the customers' sealed detail with every key the aggregator holds and each customer's w and v; pass a customer a frame relabelled, swapped from another meter, with flipped bits, or forged; make a meter seal a label twice"
    public init() {}

    /// The customer's view: opens `frame` with `key` as `metering customer` does (the header
    /// must name `meter`); nil when refused.
    static func customerOpens(_ frame: [UInt8], key: [UInt8], meter: UInt32) -> [UInt8]? {
        guard key.count == CustomerDetail.keyBytes else { return nil }
        var plaintext = [UInt8](repeating: 0, count: CustomerDetail.plaintextBytes)
        var span = plaintext.mutableSpan
        guard let header = try? CustomerDetail.open(frame.span, customerKey: key.span, plaintext: &span),
            header.meter == meter
        else { return nil }
        return plaintext
    }

    public func run() throws -> AttackOutcome {
        // Meters 1 and 2 draw the same power: equal readings.
        let group = try AttackGroup(meters: 3, watts: { $0 == 2 ? 2000 : 1200 })
        let aggregator = try group.complete()
        let intake = CustomerDetailIntake(members: group.members)
        // The customers' keys (each customer's own, from the code its meter showed): the
        // bench's view, never the aggregator's.
        let keys = group.meters.map { m in
            m.firmware.storedRecord.map { r in (0..<16).map { r.customerKey[$0] } } ?? []
        }
        let ids = group.meters.map(\.id)

        // Label 0: readings acknowledged, detail stored by the aggregator.
        var stored: [Int: SealedDetail] = [:]
        for (i, frames) in group.runInterval().enumerated() {
            for frame in frames {
                switch frameType(frame) {
                case .reading: try group.meters[i].deliver(try aggregator.acceptAndAcknowledge(frame).ack)
                case .customerDetail: stored[i] = try intake.accept(frame)
                default: break
                }
            }
        }
        guard stored.count == 3 else { throw AttackBenchError("\(stored.count) of 3 meters sent sealed detail") }
        for i in 0..<3 {
            guard let plain = Self.customerOpens(stored[i]!.frame, key: keys[i], meter: ids[i]),
                plain[4..<12].reduce(UInt64(0), { $0 << 8 | UInt64($1) }) == group.reading(i)
            else { throw AttackBenchError("meter \(ids[i])'s customer cannot open its own detail") }
        }
        var leaks: [String] = []

        // 1. Read: every 16 bytes the aggregator holds as a GCM key (its frame keys, both
        //    halves; K's first words), and the reading's bytes in the frame.
        var candidates: [[UInt8]] = []
        for id in ids {
            let k = group.members.frameKey(of: id)!
            candidates += [Array(k[0..<16]), Array(k[16..<32])]
        }
        let aggregateKey = try group.setup.aggregateKey()
        candidates.append((0..<16).map { UInt8(truncatingIfNeeded: aggregateKey[$0 / 8] >> UInt64(8 * ($0 % 8))) })
        // What the service learns of each customer: the verifier v in every frame, and the
        // login secret w each customer shows it (Authorization: Customer w).
        for key in keys {
            let gcm = AESGCM(key: key.span)
            var w = [UInt8](repeating: 0, count: 16)
            var wSpan = w.mutableSpan
            CustomerDetail.loginSecret(cipher: gcm, into: &wSpan)
            var v = [UInt8](repeating: 0, count: 16)
            var vSpan = v.mutableSpan
            CustomerDetail.verifier(loginSecret: w.span, into: &vSpan)
            guard stored.values.contains(where: { Array($0.frame[CustomerDetail.verifierRange]) == v }) else {
                throw AttackBenchError("a customer's verifier is in none of the frames")
            }
            candidates += [w, v]
        }
        // The control: detail sealed under a key the aggregator holds does open.
        let control = Self.sealed(stored[0]!.frame, key: candidates[0], reading: group.reading(0))
        guard Self.customerOpens(control, key: candidates[0], meter: ids[0]) != nil else {
            throw AttackBenchError("the control frame does not open")
        }
        for i in 0..<3 {
            for key in candidates where Self.customerOpens(stored[i]!.frame, key: key, meter: ids[i]) != nil {
                leaks.append("meter \(ids[i])'s detail opened with a key the aggregator holds")
            }
            // The reading as u64, and two minutes of its load in W, as the plaintext holds them.
            let r = group.reading(i)
            let watts = UInt16(group.watts[i])
            let clear = [
                (0..<8).map { UInt8(truncatingIfNeeded: r >> UInt64(56 - 8 * $0)) },
                [UInt8(watts >> 8), UInt8(watts & 0xFF), UInt8(watts >> 8), UInt8(watts & 0xFF)],
            ]
            if clear.contains(where: stored[i]!.frame.contains(run:)) {
                leaks.append("meter \(ids[i])'s reading in clear in its frame")
            }
        }
        // Equal readings (meters 1 and 2), different ciphertexts: nothing to compare.
        // (The ciphertext bytes, before the GCM tag: the tag covers the header and differs anyway.)
        let ciphertext = CustomerDetail.aadBytes..<(CustomerDetail.aadBytes + CustomerDetail.plaintextBytes)
        if stored[0]!.frame[ciphertext] == stored[1]!.frame[ciphertext] {
            leaks.append("equal readings gave equal ciphertexts")
        }

        // 2. Pass a customer a changed frame: each reframed under the meter's frame key, so
        //    that the aggregator's own intake (and anyone checking the frame tag) takes it.
        func reframed(_ frame: [UInt8], meter: UInt32? = nil, label: UInt64? = nil) -> [UInt8] {
            let frame = frame
            var h = try! Frame.parseHeader(frame.span)
            if let meter { h.meter = meter }
            if let label { h.label = label }
            let key = group.members.frameKey(of: h.meter)!
            return forge(h, payload: Array(frame[Frame.payloadRange(h)]), key: key)
        }
        var forgeries: [(String, [UInt8], Int)] = [
            ("relabelled to label 1", reframed(stored[0]!.frame, label: 1), 0),
            ("relabelled to label 96", reframed(stored[0]!.frame, label: 96), 0),
            ("meter 1's frame as meter 2's", reframed(stored[0]!.frame, meter: ids[1]), 1),
            ("meter 2's frame as meter 1's", reframed(stored[1]!.frame, meter: ids[0]), 0),
            ("meter 1's frame unchanged, given to meter 2's customer", stored[0]!.frame, 1),
            (
                "forged under the aggregator's own key",
                reframed(Self.sealed(stored[0]!.frame, key: candidates[0], reading: 1)), 0
            ),
        ]
        for bit in stride(
            from: 8 * Frame.headerBytes, to: 8 * (Frame.headerBytes + CustomerDetail.payloadBytes), by: 13)
        {
            var f = stored[2]!.frame
            f[bit / 8] ^= 1 << UInt8(bit % 8)
            forgeries.append(("bit \(bit) flipped", reframed(f), 2))
        }
        var accepted = 0
        for (what, frame, victim) in forgeries {
            guard (try? intake.accept(frame)) != nil else { throw AttackBenchError("\(what): not a valid frame") }
            if Self.customerOpens(frame, key: keys[victim], meter: ids[victim]) != nil {
                accepted += 1
                leaks.append("customer of meter \(ids[victim]) accepted: \(what)")
            }
        }

        // 3. A label sealed twice: acks held back for 4 intervals, the meter rebooted, stale
        //    acks replayed, 2 more intervals; every detail frame a label got must be the same.
        let m = group.meters[0]
        var seen: [UInt64: Set<[UInt8]>] = [:]
        func collect(_ frames: [[UInt8]]) {
            for f in frames where frameType(f) == .customerDetail { seen[header(f)!.label, default: []].insert(f) }
        }
        for _ in 0..<4 { collect(SimulatedGroup.runInterval(m)) }
        try m.reboot()
        _ = m.firmware.poll()
        collect(m.takeSent())
        for stale in [UInt64(0), 0, 99] {
            _ = try m.handle(FrameIntake(members: group.members).seal(.ack, to: m.id, label: stale, payload: []))
        }
        for _ in 0..<2 { collect(SimulatedGroup.runInterval(m)) }
        let twice = seen.filter { $0.value.count > 1 }.keys.sorted()
        if !twice.isEmpty { leaks.append("labels \(twice) sealed twice (a GCM nonce reused)") }
        // The meter's load is constant: labels 1 ... 5 have equal plaintexts. One nonce for
        // two labels would give equal ciphertexts (and their XOR, the plaintexts' XOR).
        let ciphertexts = (1...5).compactMap {
            seen[UInt64($0)]?.first.map { Array($0[ciphertext]) }
        }
        if Set(ciphertexts).count < ciphertexts.count {
            leaks.append("equal plaintexts of two labels, equal ciphertexts")
        }
        guard seen.count >= 6 else { throw AttackBenchError("only \(seen.count) labels of detail in part 3") }

        return .refused(
            if: leaks.isEmpty,
            leaks.isEmpty
                ? "no key the aggregator holds opens the detail (\(candidates.count) tried; the control opens); equal readings, different ciphertexts; \(forgeries.count) changed or forged frames all refused by the customer (\(accepted) accepted); \(seen.count) labels through held-back acks and a reboot, each sealed once"
                : leaks.prefix(4).joined(separator: "; "))
    }

    /// A detail frame like `frame` (same header), with `reading` sealed under `key`: what an
    /// aggregator can make with a key it holds.
    static func sealed(_ frame: [UInt8], key: [UInt8], reading: UInt64) -> [UInt8] {
        let frame = frame
        let h = try! Frame.parseHeader(frame.span)
        var plaintext = [UInt8](repeating: 0, count: CustomerDetail.plaintextBytes)
        let minutes = [UInt16](repeating: 0, count: CustomerDetail.minuteSlots)
        var pspan = plaintext.mutableSpan
        CustomerDetail.encodePlaintext(reading: reading, minuteMask: 0, minutes: minutes.span, into: &pspan)
        var out = [UInt8](repeating: 0, count: CustomerDetail.frameBytes)
        var span = out.mutableSpan
        CustomerDetail.seal(h, customerKey: key.span, plaintext: plaintext.span, frame: &span)
        return out
    }
}
