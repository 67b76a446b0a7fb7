import MeterCrypto

/// The aggregator's side of DMCFE key setup and functional keys.
///
/// 1–3. As for LWR-PSA (`KeySetupRelay`): parameters, public keys, peer keys relayed. Each
///      meter keeps its pairwise seeds and answers with a `setupComplete` status.
/// 4. For a weight vector y, `weightFrames(_:)` streams y to every meter; each answers with
///    y_i·s_i + t_i bound to y's digest; `aggregator(...)` combines them into d_y.
public final class DMCFEKeySetup: KeySetupRelay {
    var completed = Set<UInt32>()

    public init(members: GroupMembers, maxReading: UInt64) throws(AggregationError) {
        guard members.scheme == .dmcfe else { throw .wrongScheme(expected: .dmcfe, actual: members.scheme) }
        super.init(members: members, parameterByte: DMCFE.parameterID, keyMode: 0, maxReading: maxReading)
    }

    /// Takes a meter's status frame; true once every meter has completed setup.
    @discardableResult
    public func receiveSetupComplete(_ frame: [UInt8]) throws(AggregationError) -> Bool {
        let opened = try intake.open(frame, expecting: .status)
        guard opened.payload.count >= 2, UInt16(opened.payload[0]) << 8 | UInt16(opened.payload[1]) == 7 else {
            throw .keySetupProtocol(meter: opened.header.meter)
        }
        completed.insert(opened.header.meter)
        return isComplete
    }

    public var isComplete: Bool { completed.count == members.count }

    /// The `weights` frames that carry y to one meter: chunk 0 starts with the number of
    /// entries, then (meter id u32, weight i64) in increasing id order, 80 per frame.
    public func weightFrames(_ weights: [UInt32: Int64], for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        guard Set(weights.keys) == Set(members.meters) else {
            throw .invalidWeights("the weight vector must name exactly the group's \(members.count) meters")
        }
        let ids = weights.keys.sorted()
        var frames: [[UInt8]] = []
        var start = 0
        var chunk: UInt64 = 0
        repeat {
            let end = min(ids.count, start + 80)
            var payload: [UInt8] = chunk == 0 ? bigEndian(UInt32(ids.count)) : []
            for id in ids[start..<end] {
                payload += bigEndian(id)
                payload += bigEndian(UInt64(bitPattern: weights[id]!))
            }
            frames.append(intake.seal(.weights, to: meter, label: chunk, payload: payload))
            start = end
            chunk += 1
        } while start < ids.count
        return frames
    }

    func bigEndian(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) } }
    func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * $0)) } }
}
