import Aggregation
import MeterCrypto

extension ProvisioningAuthority {
    /// Checks the enrolled keys (meter → y | enrolment tag) and places the members on the
    /// ring, then signs a neighbour-graph group (docs/spec/dropout.md): a new group when
    /// `previous` is nil, otherwise a membership change of `previous`'s group, where the
    /// members that stay keep their DH keys and ring places, `leaving` members drop out and
    /// the enrolled ones join at ring places drawn from a fresh graph seed.
    ///
    /// k and t come from `plan` (by default `NeighbourGraphAnalysis.plan` for the new n);
    /// the authority refuses a plan for another n or a k above `NeighbourGraph.maxDegree`.
    public func signNeighbourGroup(
        group: UInt32, epoch: UInt32, parameterID: UInt8, maxReading: UInt64, enrolments: [UInt32: [UInt8]],
        plan: NeighbourGraphPlan? = nil, budget: Int = 4, window: Int = 4, activationLabel: UInt64 = 0,
        previous: SignedNeighbourGroup? = nil, leaving: Set<UInt32> = []
    ) throws(AuthorityError) -> SignedNeighbourGroup {
        guard let parameters = LWRParameters.withID(parameterID) else { throw .refused("unknown parameter set") }
        var keys: [UInt32: [UInt8]] = [:]
        var ringKeys: [UInt32: UInt64] = [:]
        if let previous {
            guard previous.group == group, epoch > previous.epoch else {
                throw .refused("a membership change continues its own group with a newer epoch")
            }
            for entry in previous.roster.entries where !leaving.contains(entry.meter) {
                keys[entry.meter] = entry.publicKey
                ringKeys[entry.meter] = entry.ringKey
            }
        }
        for (meter, payload) in enrolments {
            guard keys[meter] == nil else { throw .refused("meter \(meter) is a member already") }
            keys[meter] = try enrolledKey(meter: meter, payload: payload, group: group, epoch: epoch)
        }
        let n = keys.count
        guard n >= Int(minGroupSize), n >= 2 else {
            throw .refused("a group needs at least \(max(minGroupSize, 2)) meters")
        }
        let plan = plan ?? NeighbourGraphAnalysis.plan(meters: UInt32(n))
        guard plan.meters == UInt32(n) else {
            throw .refused("the plan is for \(plan.meters) meters, the group has \(n)")
        }
        do { _ = try NeighbourKeys.bounds(meters: UInt32(n), maxReading: maxReading, parameters: parameters) } catch {
            throw .refused("\(n) meters × \(maxReading) Wh exceed the capacity 2n·(n·x_max + 1) < p")
        }
        let terms: NeighbourGroupTerms
        do {
            let graph = try NeighbourGraph(meters: UInt32(n), degree: plan.degree)
            terms = try NeighbourGroupTerms(
                graph: graph, maxSilent: min(plan.maxSilent, graph.neighbourCount), budget: budget, window: window,
                activationLabel: activationLabel, previousEpoch: previous?.epoch ?? 0)
        } catch {
            throw .refused("graph terms: \(error)")
        }
        // Joiners' ring keys from a fresh seed; drawn again in the (2^-40-rare) case of a tie.
        var seed: [UInt8]
        repeat {
            seed = randomBytes(32)
            for meter in enrolments.keys {
                ringKeys[meter] = NeighbourGraph.ringKey(seed: seed.span, group: group, meter: meter)
            }
        } while Set(ringKeys.values).count != ringKeys.count
        let roster: RosterTree
        do { roster = try RosterTree(publicKeys: keys, ringKeys: ringKeys) } catch { throw .refused("\(error)") }
        let body = SignedNeighbourGroup.body(
            group: group, epoch: epoch, parameterID: parameterID, keyMode: 1, maxReading: maxReading, roster: roster,
            graphSeed: seed, terms: terms)
        do { return try SignedNeighbourGroup(SignedGroup(statement: sign(body), roster: roster)) } catch {
            throw .refused("\(error)")
        }
    }

    /// Checks a false-dropout alarm (docs/spec/dropout.md, "False dropouts"): true when both
    /// frames it names are the aggregator's, under `meter`'s frame key of (group, epoch): a
    /// plain ack of `label` and a relayed notice that `meter` was declared silent for it.
    /// An honest aggregator never sends both, so a true result is proof against it.
    public func checkFalseDropoutAlarm(
        meter: UInt32, group: UInt32, epoch: UInt32, label: UInt64, payload: [UInt8]
    ) throws(AuthorityError) -> Bool {
        guard payload.count == RecoveryPayload.alarmBytes else { throw .malformed("an alarm has 52 bytes") }
        let key = try frameKey(meter: meter, group: group, epoch: epoch)
        // Each frame rebuilt with the claimed tag, then verified in constant time.
        func tagMatches(_ type: FrameType, _ framePayload: [UInt8], _ tag: ArraySlice<UInt8>) -> Bool {
            let header = FrameHeader(
                type: type, scheme: .lwrPSA, group: group, meter: meter, label: label, payloadLength: framePayload.count
            )
            var frame = [UInt8](repeating: 0, count: Frame.size(payloadLength: framePayload.count))
            frame.replaceSubrange(Frame.payloadRange(header), with: framePayload)
            do {
                var span = frame.mutableSpan
                _ = Frame.seal(header, key: key.span, frame: &span)
            }
            frame.replaceSubrange((frame.count - Frame.tagBytes)..<frame.count, with: tag)
            return Frame.verify(frame.span, key: key.span)
        }
        let notice = Array(payload[0..<20])
        return tagMatches(.noticeRelay, notice, payload[20..<36]) && tagMatches(.ack, [], payload[36..<52])
    }
}
