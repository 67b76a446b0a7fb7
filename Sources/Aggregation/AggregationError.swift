import MeterCrypto

/// Why the aggregator rejected a frame or could not answer. A rejected frame changes
/// nothing already collected.
public enum AggregationError: Error, Equatable, Sendable {
    /// The frame's layout is wrong (truncated, unknown version, type or scheme, lengths).
    case malformed(FrameError)
    /// The frame names a meter this aggregator does not know.
    case unknownMeter(UInt32)
    /// The frame belongs to another group.
    case wrongGroup(expected: UInt32, actual: UInt32)
    /// The frame is for another scheme than this group runs.
    case wrongScheme(expected: SchemeID, actual: SchemeID)
    /// The frame's type is not the one this step expects.
    case unexpectedType(FrameType)
    /// The authentication tag does not verify under the meter's key.
    case badTag(meter: UInt32)
    /// The meter already reported this label (a replay or a retransmission).
    case duplicate(meter: UInt32, label: UInt64)
    /// The label lies outside the window the aggregator currently accepts.
    case labelOutsideWindow(label: UInt64, accepted: ClosedRange<UInt64>)
    /// The payload size does not fit the frame type and scheme.
    case badPayload(type: FrameType, size: Int)
    /// Not every meter has reported this label yet.
    case incomplete(label: UInt64, missing: Int)
    /// The label was never opened, or was already decrypted and dropped.
    case unknownLabel(UInt64)
    /// Key setup has not completed: there is no aggregate key yet.
    case keySetupIncomplete
    /// A key-setup message arrived twice or out of order.
    case keySetupProtocol(meter: UInt32)
    /// The group description is unusable (no meters, duplicate ids, bad keys).
    case invalidGroup(String)
    /// No discrete logarithm within ±bound: the result is out of range or the key does not
    /// match the ciphertexts (never reported as a wrong number).
    case discreteLogOutOfRange(bound: UInt64)
    /// A discrete-log bound this implementation does not take (2·bound + 1 must fit 62 bits).
    case discreteLogBoundTooLarge(UInt64)
    /// A group element that is not in the DMCFE subgroup (zero, ≥ p, or of the wrong order).
    case notInGroup(meter: UInt32)
    /// A weight vector that does not cover exactly the group's meters.
    case invalidWeights(String)
    /// The scheme's own parameters refused the input.
    case lwr(LWRError)
}
