import MeterCrypto

/// Why the sum of one label could not be recovered (docs/spec/dropout.md, "Recovery").
public enum RecoveryFailure: Sendable, Equatable {
    /// More members were silent than the group's dropout bound: the privacy analysis does
    /// not cover that many, so this aggregator does not open the label.
    case tooManySilent(silent: Int, limit: Int)
    /// A reporting member has more silent neighbours than one recovery answer may cover (t).
    case tooManySilentNeighbours(meter: UInt32, silent: Int, limit: Int)
    /// No member reported the label.
    case noneReported
}

/// One label's result under the neighbour graph: the sum over the members that reported.
public struct NeighbourLabelSum: Sendable, Equatable {
    public let label: UInt64
    /// Σ x_i over the reporting members.
    public let sum: UInt64
    /// Members whose reading is in the sum.
    public let reporting: Int
    /// Members declared silent (their neighbours' answers removed their edges).
    public let silent: [UInt32]
    /// Recovery answers the label needed (one per reporting member with a silent neighbour).
    public let recoveryAnswers: Int
}

/// A recovery request to one reporting member for one label (downlink frame included).
public struct RecoveryRequest: Sendable, Equatable {
    public let meter: UInt32
    public let label: UInt64
    /// Its silent neighbours, ids increasing: what the answer must cover.
    public let silent: [UInt32]
    public let frame: [UInt8]
}

/// LWR-PSA over the neighbour graph on the aggregator (docs/spec/dropout.md). It holds no
/// key: the members' keys cancel over the group. Per label it adds the ciphertexts of the
/// members that reported; when some are silent, `close(label:)` asks each reporting
/// neighbour of a silent member for one recovery answer covering exactly its silent
/// neighbours, and the label's sum is Σ c_i + Σ r_i, divided by Δ = 2n.
///
/// It keeps the rule an honest aggregator is judged by: it never both acknowledges a
/// member's reading plainly and declares that member silent for the same label. A reading
/// that arrives after its label was closed without it gets a late ack (`RecoveryPayload.lateAck`)
/// and is in no sum.
public final class NeighbourAggregator {
    public let members: GroupMembers
    public let group: SignedNeighbourGroup
    public let parameters: LWRParameters
    public let bounds: LWRGroupBounds
    /// The most silent members a label may have and still be opened (⌊δn⌋ of the plan).
    public let silentLimit: Int
    let intake: FrameIntake
    var labels: LabelCollection<UInt64>

    enum Phase {
        /// Requests sent; answers expected from these members (meter → its silent neighbours).
        case recovering(requests: [UInt32: [UInt32]], answers: [UInt32: UInt64], silent: [UInt32])
        case decrypted(NeighbourLabelSum)
        case failed(RecoveryFailure)
    }

    var closed: [UInt64: Phase] = [:]
    /// Notices, confirmations and alarms the meters sent, for the record.
    public private(set) var alarms: [(meter: UInt32, label: UInt64, payload: [UInt8])] = []
    /// Recovery answers received since the start (the cost report's count).
    public private(set) var recoveryAnswersReceived = 0

    public init(
        members: GroupMembers, group: SignedNeighbourGroup, parameters: LWRParameters, silentLimit: Int,
        currentLabel: UInt64, lookback: UInt64 = 96
    ) throws(AggregationError) {
        guard members.scheme == .lwrPSA else { throw .wrongScheme(expected: .lwrPSA, actual: members.scheme) }
        guard members.meters == group.roster.entries.map(\.meter).sorted(), members.epoch == group.epoch,
            members.group == group.group
        else { throw .invalidGroup("the frame keys are not those of the signed group's members and epoch") }
        do {
            bounds = try NeighbourKeys.bounds(
                meters: UInt32(members.count), maxReading: group.signed.maxReading, parameters: parameters)
        } catch {
            throw .lwr(error)
        }
        guard group.signed.parameterID == parameters.id else {
            throw .invalidGroup("the signed group uses parameter set \(group.signed.parameterID)")
        }
        self.members = members
        self.group = group
        self.parameters = parameters
        self.silentLimit = silentLimit
        intake = FrameIntake(members: members)
        labels = LabelCollection(current: currentLabel, lookback: lookback)
    }

    /// Takes one reading frame and returns the meter's ack: plain while the label is open (or
    /// for a reading already in it), late when the label was closed without this meter.
    public func accept(_ frame: [UInt8]) throws(AggregationError) -> ReadingReceipt {
        let (opened, c) = try intake.openLWRReading(frame, parameters: parameters)
        let meter = opened.header.meter
        let label = opened.header.label
        if closed[label] != nil && !labels.reported(label).contains(meter) {
            return ReadingReceipt(reported: nil, ack: lateAck(to: meter, label: label))
        }
        do {
            let reported = try labels.add(meter: meter, label: label, fingerprint: c, initial: 0) {
                (sum: inout UInt64) throws(AggregationError) in sum &+= c
            }
            return ReadingReceipt(reported: reported, ack: intake.acknowledgement(to: meter, label: label))
        } catch .duplicate(let meter, let label) {
            return ReadingReceipt(reported: nil, ack: intake.acknowledgement(to: meter, label: label))
        } catch .labelOutsideWindow(let label, let accepted) where label < accepted.lowerBound {
            // Too old to be in any sum: acknowledged late, so the meter lets it go.
            return ReadingReceipt(reported: nil, ack: lateAck(to: meter, label: label))
        }
    }

    /// The ack of a reading that is in no sum.
    public func lateAck(to meter: UInt32, label: UInt64) -> [UInt8] {
        intake.seal(.ack, to: meter, label: label, payload: [RecoveryPayload.lateAck])
    }

    /// Members that reported `label` so far.
    public func reported(_ label: UInt64) -> Set<UInt32> { labels.reported(label) }

    /// Closes `label`: the members that have not reported are silent from now on (a later
    /// reading gets a late ack). With none silent the label is decrypted at once; otherwise
    /// the recovery requests to send (one per reporting neighbour of a silent member).
    @discardableResult
    public func close(label: UInt64) throws(AggregationError) -> [RecoveryRequest] {
        guard closed[label] == nil else { return [] }
        guard labels.window.contains(label) else {
            throw .labelOutsideWindow(label: label, accepted: labels.window)
        }
        let reported = labels.reported(label)
        let silent = members.meters.filter { !reported.contains($0) }
        if reported.isEmpty {
            closed[label] = .failed(.noneReported)
            return []
        }
        guard silent.count <= silentLimit else {
            closed[label] = .failed(.tooManySilent(silent: silent.count, limit: silentLimit))
            return []
        }
        let silentSet = Set(silent)
        var requests: [UInt32: [UInt32]] = [:]
        for j in silent {
            for i in group.neighbours(of: j) where !silentSet.contains(i) {
                requests[i, default: []].append(j)
            }
        }
        for i in requests.keys.sorted() where requests[i]!.count > group.terms.maxSilent {
            let s = requests[i]!
            closed[label] = .failed(.tooManySilentNeighbours(meter: i, silent: s.count, limit: group.terms.maxSilent))
            return []
        }
        closed[label] = .recovering(requests: requests.mapValues { $0.sorted() }, answers: [:], silent: silent)
        if requests.isEmpty { try finish(label) }
        return requests.keys.sorted().map { i in
            let s = requests[i]!.sorted()
            var payload = [UInt8](repeating: 0, count: 4)
            payload[0] = UInt8(s.count)
            for j in s { payload += [UInt8(j >> 24), UInt8(j >> 16 & 0xFF), UInt8(j >> 8 & 0xFF), UInt8(j & 0xFF)] }
            return RecoveryRequest(
                meter: i, label: label, silent: s,
                frame: intake.seal(.recoveryRequest, to: i, label: label, payload: payload))
        }
    }

    /// Takes one recovery answer; true once the label is decrypted.
    @discardableResult
    public func acceptRecovery(_ frame: [UInt8]) throws(AggregationError) -> Bool {
        let opened = try intake.open(frame, expecting: .recovery)
        let meter = opened.header.meter
        let label = opened.header.label
        guard case .recovering(let requests, var answers, let silent)? = closed[label], let asked = requests[meter],
            answers[meter] == nil
        else { throw .unexpectedRecovery(meter: meter, label: label) }
        let p = opened.payload
        guard p.count == RecoveryPayload.answerBytes(count: asked.count) else {
            throw .badPayload(type: .recovery, size: p.count)
        }
        let r = BigEndian.load64(p.span, at: 0)
        let echoed = (0..<asked.count).map { BigEndian.load32(p.span, at: 12 + 4 * $0) }
        guard Int(p[8]) == asked.count, p[9] == 0, p[10] == 0, p[11] == 0, echoed == asked,
            r <= parameters.plaintextMask
        else { throw .unexpectedRecovery(meter: meter, label: label) }
        answers[meter] = r
        recoveryAnswersReceived += 1
        closed[label] = .recovering(requests: requests, answers: answers, silent: silent)
        guard answers.count == requests.count else { return false }
        try finish(label)
        return true
    }

    func finish(_ label: UInt64) throws(AggregationError) {
        guard case .recovering(let requests, let answers, let silent)? = closed[label],
            answers.count == requests.count, let (csum, count) = labels.partial(label)
        else { return }
        var total = csum
        for r in answers.values { total &+= r }
        let sum = LWRPSA.decryptSum(ciphertextSum: total, aggregatePad: 0, bounds: bounds, parameters: parameters)
        closed[label] = .decrypted(
            NeighbourLabelSum(label: label, sum: sum, reporting: count, silent: silent, recoveryAnswers: answers.count))
    }

    /// The sum of a decrypted label.
    public func sum(label: UInt64) throws(AggregationError) -> NeighbourLabelSum {
        switch closed[label] {
        case .decrypted(let result)?: return result
        case .failed(let why)?: throw .recoveryFailed(label: label, why)
        case .recovering(let requests, let answers, _)?:
            throw .incomplete(label: label, missing: requests.count - answers.count)
        case nil:
            throw .unknownLabel(label)
        }
    }

    /// Relays a silence notice or a confirmation from one member to the neighbour it names
    /// (checking only that the two are neighbours): the downlink frame and its receiver.
    public func relay(_ frame: [UInt8]) throws(AggregationError) -> (meter: UInt32, frame: [UInt8]) {
        let header: FrameHeader
        do { header = try Frame.parseHeader(frame.span) } catch { throw .malformed(error) }
        let type: FrameType
        switch header.type {
        case .silenceNotice: type = .noticeRelay
        case .silenceConfirm: type = .confirmationRelay
        default: throw .unexpectedType(header.type)
        }
        let opened = try intake.open(frame, expecting: header.type)
        guard opened.payload.count == RecoveryPayload.noticeBytes else {
            throw .badPayload(type: header.type, size: opened.payload.count)
        }
        let to = BigEndian.load32(opened.payload.span, at: 0)
        guard group.areNeighbours(opened.header.meter, to) else { throw .unknownMeter(to) }
        var payload = opened.payload
        let from = opened.header.meter
        payload.replaceSubrange(
            0..<4, with: [UInt8(from >> 24), UInt8(from >> 16 & 0xFF), UInt8(from >> 8 & 0xFF), UInt8(from & 0xFF)])
        return (to, intake.seal(type, to: to, label: opened.header.label, payload: payload))
    }

    /// Takes a meter's false-dropout alarm (kept for the authority, which can check the
    /// evidence: `ProvisioningAuthority.checkFalseDropoutAlarm`).
    public func receiveAlarm(_ frame: [UInt8]) throws(AggregationError) {
        let opened = try intake.open(frame, expecting: .silenceAlarm)
        guard opened.payload.count == RecoveryPayload.alarmBytes else {
            throw .badPayload(type: .silenceAlarm, size: opened.payload.count)
        }
        alarms.append((opened.header.meter, opened.header.label, opened.payload))
    }

    /// Moves the window of accepted labels; labels that leave it are forgotten.
    public func advance(to label: UInt64) throws(AggregationError) {
        try labels.advance(to: label)
        let low = labels.window.lowerBound
        closed = closed.filter { $0.key >= low }
    }

    public var labelReuseAlarms: [LabelReuseAlarm] { labels.alarms }
}
