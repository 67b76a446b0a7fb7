// Statistics without individuals on the meter (LWR-PSA, n-of-n; docs/spec/statistics.md):
// under a statistics plan the authority signed for the meter's group and epoch, each label's
// x² and histogram slots are encrypted like the reading, c_s = F_k(l, s) + n·v_s mod p, and
// sent in one `statistics` frame right after the reading frame is in the outbox.
//
// Nonce safety (as for the customer detail): the slots of a label are encrypted only after
// the reading of that label is stored, so the label counter is past it and no (label, slot)
// is ever encrypted again, whatever power cuts follow. The slot pads F_k(l, s) are computed
// while idle with the reading's pad; the boundary adds n·v_s and tags the frame.
//
// The plan and the ciphertexts of unacknowledged labels are kept in RAM: they are sent again
// with the unacknowledged readings and let go with the reading's acknowledgement; a reboot
// loses them (those labels' statistics stay incomplete, never wrong) and the meter sends no
// statistics until the aggregator relays the plan again.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// LWR-PSA's statistics state on the meter (RAM only).
public struct StatisticsState: Sendable {
    /// Labels whose ciphertexts are kept for resending, at index label mod 4 (RAM: 4 × 41 bytes;
    /// the LWR-PSA image's static RAM stays below the cost report's 10 000-byte bound).
    static let kept = 4
    var plan: StatisticsPlan? = nil
    var layout: StatisticsLayout? = nil
    /// The slot pads F_k(l, s) of `padLabel`, in slot order.
    var pads = InlineArray<4, UInt64>(repeating: 0)
    var padLabel: UInt64 = .max
    /// Sent and not yet acknowledged: the label (.max: none), its slot count, its ciphertexts.
    var sentLabels = InlineArray<4, UInt64>(repeating: .max)
    var sentSlots = InlineArray<4, UInt8>(repeating: 0)
    var sent = InlineArray<16, UInt64>(repeating: 0)

    public init() {}
}

extension Meter where Scheme == LWRScheme {
    /// The plan in force and its slots: for the meter's current group and epoch, once ready.
    mutating func activeStatistics() -> (plan: StatisticsPlan, layout: StatisticsLayout)? {
        guard let plan = scheme.statistics.plan, let layout = scheme.statistics.layout, record.phase == .ready,
            plan.group == record.group, plan.epoch == record.groupEpoch, record.neighbourGraph == nil
        else { return nil }
        return (plan, layout)
    }

    /// Header checks of a statistics plan before its signature: for the meter's own group
    /// and its current epoch (a plan of another group or an older epoch costs no verification).
    mutating func precheckStatisticsPlan(_ body: Span<UInt8>) throws(MeterError) {
        let epoch = BigEndian.load32(body, at: 4)
        let subject = BigEndian.load32(body, at: 8)
        let group = BigEndian.load32(body, at: 12)
        guard subject == 0, record.group != 0, group == record.group, epoch == record.groupEpoch else {
            throw .statementRejected(.wrongSubject)
        }
    }

    /// A verified statistics plan (body in `statementBody`) takes effect: for this group and
    /// epoch, the group's signed n, at least the minimum group size, n-of-n, and slots that
    /// fit (`StatisticsLayout`). A refused plan leaves the one in force as it was.
    mutating func applyStatisticsPlan() throws(MeterError) -> MeterEvent? {
        let copy = statementBody
        let plan: StatisticsPlan
        do { plan = try StatisticsPlan(body: copy.span.extracting(0..<statementLength)) } catch {
            throw .statisticsRejected(error)
        }
        guard plan.group == statementGroup, plan.group == record.group, plan.epoch == record.groupEpoch else {
            throw .statementRejected(.wrongSubject)
        }
        guard record.neighbourGraph == nil else { throw .statisticsRejected(.neighbourGraph) }
        guard plan.meters == record.groupSize else { throw .statisticsRejected(.wrongGroupSize) }
        guard record.groupSize >= plan.minimumGroupSize, record.groupSize >= StatisticsPlan.minimumGroupSize else {
            throw .statisticsRejected(.groupTooSmall)
        }
        guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
        let layout: StatisticsLayout
        do {
            layout = try StatisticsLayout(
                meters: record.groupSize, maxReading: record.maxReading, squares: plan.squares,
                binCount: plan.binCount, parameters: parameters)
        } catch {
            throw .statisticsRejected(error)
        }
        scheme.statistics.plan = plan
        scheme.statistics.layout = layout
        scheme.statistics.padLabel = .max
        return .statementAccepted(.statisticsPlan)
    }

    /// Idle work: the slot pads of the next label, after the reading's pad. Without a plan
    /// (the usual case) one test, inlined into every idle pass, and no call.
    @inline(__always)
    mutating func precomputeStatisticsPads() -> Bool {
        scheme.statistics.plan != nil && precomputePlannedStatisticsPads()
    }

    @inline(never)
    mutating func precomputePlannedStatisticsPads() -> Bool {
        guard scheme.statistics.padLabel != labelFloor, let (_, layout) = activeStatistics() else { return false }
        var pads = InlineArray<4, UInt64>(repeating: 0)
        for i in 0..<layout.slotCount {
            guard let p = try? computePad(label: labelFloor, slot: layout.tag(ofSlot: i)) else { return false }
            pads[i] = p
        }
        scheme.statistics.pads = pads
        scheme.statistics.padLabel = labelFloor
        return true
    }

    /// True when no slot pad is due for the next label.
    var statisticsPrecomputed: Bool {
        scheme.statistics.plan == nil || scheme.statistics.padLabel == labelFloor
    }

    /// Encrypts the statistics slots of `reading` under `label` and sends them (best effort:
    /// nothing here can fail or delay the reading). Only after the reading is stored.
    mutating func sendStatistics(label: UInt64, reading: UInt64) {
        guard labelFloor > label, let (plan, layout) = activeStatistics(),
            let parameters = LWRParameters.withID(record.parameterID), reading <= record.maxReading
        else { return }
        let precomputed = scheme.statistics.padLabel == label
        scheme.statistics.padLabel = .max
        let bin = plan.bin(of: reading)
        let n = UInt64(record.groupSize)
        let keep = Int(label % UInt64(StatisticsState.kept))
        for i in 0..<layout.slotCount {
            let pad: UInt64
            if precomputed {
                pad = scheme.statistics.pads[i]
            } else {
                guard let p = try? computePad(label: label, slot: layout.tag(ofSlot: i)) else { return }
                pad = p
            }
            let v = layout.value(ofSlot: i, reading: reading, bin: bin)
            scheme.statistics.sent[4 * keep + i] = (pad &+ n &* v) & parameters.plaintextMask
        }
        scheme.statistics.sentLabels[keep] = label
        scheme.statistics.sentSlots[keep] = UInt8(layout.slotCount)
        sendStatisticsFrame(keep)
    }

    /// Seals and sends the kept statistics frame at index `keep`.
    mutating func sendStatisticsFrame(_ keep: Int) {
        let slots = Int(scheme.statistics.sentSlots[keep])
        let values = scheme.statistics.sent
        var f = frame.mutableSpan
        for i in 0..<slots { BigEndian.store(values[4 * keep + i], at: Frame.headerBytes + 8 * i, in: &f) }
        let length = sealFrame(.statistics, label: scheme.statistics.sentLabels[keep], payloadLength: 8 * slots)
        try? board.send(frame.span.extracting(0..<length))
    }

    /// Sends again the statistics frames of the unacknowledged readings below `label`.
    mutating func resendStatistics(before label: UInt64) {
        var i = 0
        while i < outbox.pendingCount && outbox.pendingLabel(i) < label {
            let pending = outbox.pendingLabel(i)
            let keep = Int(pending % UInt64(StatisticsState.kept))
            if scheme.statistics.sentLabels[keep] == pending { sendStatisticsFrame(keep) }
            i += 1
        }
    }

    /// The reading of `label` was acknowledged: its statistics frame is let go.
    mutating func statisticsAcknowledged(_ header: FrameHeader) {
        guard header.group == record.group else { return }
        let keep = Int(header.label % UInt64(StatisticsState.kept))
        if scheme.statistics.sentLabels[keep] == header.label { scheme.statistics.sentLabels[keep] = .max }
    }
}
