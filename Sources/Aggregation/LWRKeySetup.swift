import MeterCrypto

/// The part of key setup every scheme shares (DESIGN.md, scheme 2): the group's
/// parameters to every meter, then the meters' DH public keys collected and relayed,
/// each with its tag under the provisioning key, which the aggregator cannot check or
/// forge.
public class KeySetupRelay {
    public let members: GroupMembers
    /// The `setupBegin` parameter byte (an LWR-PSA set's id, or `DMCFE.parameterID`).
    public let parameterByte: UInt8
    public let keyMode: UInt8
    public let maxReading: UInt64
    let intake: FrameIntake
    var publicKeys: [UInt32: [UInt8]] = [:]

    init(members: GroupMembers, parameterByte: UInt8, keyMode: UInt8, maxReading: UInt64) {
        self.members = members
        self.parameterByte = parameterByte
        self.keyMode = keyMode
        self.maxReading = maxReading
        intake = FrameIntake(members: members)
    }

    /// One setupBegin frame per meter.
    public func beginFrames() -> [(meter: UInt32, frame: [UInt8])] {
        var payload = [UInt8](repeating: 0, count: 16)
        payload[0] = parameterByte
        payload[1] = keyMode
        var span = payload.mutableSpan
        BigEndian.store(UInt32(members.count), at: 4, in: &span)
        BigEndian.store(maxReading, at: 8, in: &span)
        return members.meters.map { ($0, intake.seal(.setupBegin, to: $0, label: 0, payload: payload)) }
    }

    /// Stores one meter's public key; true once every meter's key is in.
    @discardableResult
    public func receivePublicKey(_ frame: [UInt8]) throws(AggregationError) -> Bool {
        let opened = try intake.open(frame, expecting: .publicKey)
        guard opened.payload.count == 384 + 16 else { throw .badPayload(type: .publicKey, size: opened.payload.count) }
        guard publicKeys[opened.header.meter] == nil else { throw .keySetupProtocol(meter: opened.header.meter) }
        publicKeys[opened.header.meter] = opened.payload
        return publicKeys.count == members.count
    }

    public var allPublicKeysReceived: Bool { publicKeys.count == members.count }

    /// The peerKey frames for one meter: every other meter's key and tag, in increasing id order.
    public func peerKeyFrames(for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        guard allPublicKeysReceived else { throw .keySetupIncomplete }
        return members.meters.filter { $0 != meter }.map { peer in
            var payload = [UInt8](repeating: 0, count: 4)
            var span = payload.mutableSpan
            BigEndian.store(peer, at: 0, in: &span)
            payload += publicKeys[peer]!
            return intake.seal(.peerKey, to: meter, label: 0, payload: payload)
        }
    }

    /// Replaces a relayed public key, as a dishonest aggregator would (for tests that
    /// show the meters reject it).
    public func tamperWithPublicKey(of meter: UInt32, _ change: (inout [UInt8]) -> Void) {
        if var key = publicKeys[meter] {
            change(&key)
            publicKeys[meter] = key
        }
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
