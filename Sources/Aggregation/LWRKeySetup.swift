import MeterCrypto

/// The part of key setup every scheme shares (DESIGN.md, scheme 2; docs/spec/key-setup.md),
/// as the aggregator runs it. The aggregator decides nothing a meter relies on:
/// 1. `enrolFrames` asks every meter to enrol a fresh DH key for (group, epoch);
///    `receivePublicKey` collects the answers, each tagged under the meter's enrolment key,
///    which only the authority can check: `enrolments` go to the authority.
/// 2. The authority checks them and signs the group's parameters over a roster of exactly
///    those keys (`SignedGroup`); `install` takes it.
/// 3. `statementFrames(for:)` relays the signed statement to a meter, `rosterFrames(for:)`
///    every member's entry (its own included) with the Merkle path to the signed root.
public class KeySetupRelay {
    public let members: GroupMembers
    /// The signed statement's parameter byte (an LWR-PSA set's id, or `DMCFE.parameterID`).
    public let parameterByte: UInt8
    public let keyMode: UInt8
    public let maxReading: UInt64
    let intake: FrameIntake
    var publicKeys: [UInt32: [UInt8]] = [:]
    /// The authority's statement for this group and epoch, once installed.
    public private(set) var signedGroup: SignedGroup?

    init(members: GroupMembers, parameterByte: UInt8, keyMode: UInt8, maxReading: UInt64) {
        self.members = members
        self.parameterByte = parameterByte
        self.keyMode = keyMode
        self.maxReading = maxReading
        intake = FrameIntake(members: members)
    }

    /// The epoch this setup runs for (the frame keys' epoch).
    public var epoch: UInt32 { members.epoch }

    /// One enrolRequest frame per meter (label = epoch).
    public func enrolFrames() -> [(meter: UInt32, frame: [UInt8])] {
        members.meters.map { ($0, intake.seal(.enrolRequest, to: $0, label: UInt64(epoch), payload: [])) }
    }

    /// Stores one meter's enrolled public key (y | enrolment tag); true once every meter's
    /// key is in. The aggregator cannot check the tag: the authority does.
    @discardableResult
    public func receivePublicKey(_ frame: [UInt8]) throws(AggregationError) -> Bool {
        let opened = try intake.open(frame, expecting: .publicKey)
        guard opened.payload.count == Enrolment.payloadBytes else {
            throw .badPayload(type: .publicKey, size: opened.payload.count)
        }
        guard opened.header.label == UInt64(epoch), publicKeys[opened.header.meter] == nil else {
            throw .keySetupProtocol(meter: opened.header.meter)
        }
        publicKeys[opened.header.meter] = opened.payload
        return allPublicKeysReceived
    }

    public var allPublicKeysReceived: Bool { publicKeys.count == members.count }

    /// The enrolments to hand to the authority: meter → y | enrolment tag.
    public var enrolments: [UInt32: [UInt8]] { publicKeys }

    /// Takes the authority's signed group. It must be for this group, epoch, scheme,
    /// parameters and exactly these members (the meters check the signature themselves).
    public func install(_ signed: SignedGroup) throws(AggregationError) {
        guard signed.statement.kind == .groupParameters, signed.statement.group == members.group,
            signed.statement.epoch == epoch, signed.parameterID == parameterByte, signed.keyMode == keyMode,
            signed.maxReading == maxReading, signed.roster.entries.map(\.meter).sorted() == members.meters
        else { throw .invalidGroup("the signed group parameters do not describe this group and epoch") }
        signedGroup = signed
    }

    /// The statement frames for one meter (body, then the signature in chunks).
    public func statementFrames(for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        guard let signedGroup else { throw .keySetupIncomplete }
        return intake.statementFrames(signedGroup.statement, to: meter)
    }

    /// The roster-entry frames for one meter: every member's entry in index order.
    public func rosterFrames(for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        guard let signedGroup else { throw .keySetupIncomplete }
        return (0..<signedGroup.roster.entries.count).map { i in
            intake.seal(.rosterEntry, to: meter, label: 0, payload: signedGroup.roster.entryPayload(i))
        }
    }

    /// The frames a meter needs after enrolment: the statement, then the roster.
    public func setupFrames(for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        try statementFrames(for: meter) + rosterFrames(for: meter)
    }
}

/// The aggregator's side of LWR-PSA key setup.
///
/// 1. `beginFrames` tells every meter the group's parameters.
/// 2. Each meter answers with its DH public key; `receivePublicKey` stores them.
/// 3. `peerKeyFrames(for:)` relays every other meter's key, in increasing id order.
/// 4. Each meter answers with k_i + Σ ±Z_ij in chunks; `receiveKeyShare` adds them up.
/// 5. `aggregateKey()` is K = Σ k_i once every chunk of every meter has arrived.
public final class LWRKeySetup: KeySetupRelay {
    public let parameters: LWRParameters
    public let bounds: LWRGroupBounds
    var chunksReceived: [UInt32: Set<UInt64>] = [:]
    var sum: [UInt64]

    public var chunksPerMeter: Int { parameters.lambda / shareWordsPerChunk }
    let shareWordsPerChunk = 128

    public init(members: GroupMembers, parameters: LWRParameters, maxReading: UInt64, keyMode: UInt8 = 0)
        throws(AggregationError)
    {
        guard members.scheme == .lwrPSA else { throw .wrongScheme(expected: .lwrPSA, actual: members.scheme) }
        do {
            bounds = try LWRGroupBounds(meters: UInt32(members.count), maxReading: maxReading, parameters: parameters)
        } catch {
            throw .lwr(error)
        }
        self.parameters = parameters
        sum = [UInt64](repeating: 0, count: parameters.lambda)
        super.init(members: members, parameterByte: parameters.id, keyMode: keyMode, maxReading: maxReading)
    }

    /// Adds one chunk of a meter's masked key; true once K is complete.
    @discardableResult
    public func receiveKeyShare(_ frame: [UInt8]) throws(AggregationError) -> Bool {
        let opened = try intake.open(frame, expecting: .keyShare)
        let meter = opened.header.meter
        let chunk = opened.header.label
        guard opened.payload.count == shareWordsPerChunk * 8 else {
            throw .badPayload(type: .keyShare, size: opened.payload.count)
        }
        guard chunk < UInt64(chunksPerMeter), !(chunksReceived[meter]?.contains(chunk) ?? false) else {
            throw .keySetupProtocol(meter: meter)
        }
        let base = Int(chunk) * shareWordsPerChunk
        for w in 0..<shareWordsPerChunk {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(opened.payload[8 * w + b]) << UInt64(8 * b) }
            sum[base + w] &+= v
        }
        chunksReceived[meter, default: []].insert(chunk)
        return isComplete
    }

    public var isComplete: Bool {
        chunksReceived.count == members.count && chunksReceived.values.allSatisfy { $0.count == chunksPerMeter }
    }

    /// K = Σ k_i.
    public func aggregateKey() throws(AggregationError) -> [UInt64] {
        guard isComplete else { throw .keySetupIncomplete }
        return sum
    }
}
