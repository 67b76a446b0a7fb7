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
    /// The meter sent two different ciphertexts for one label: its label counter failed
    /// (under LWR-PSA their difference reveals the difference of the two readings). An
    /// alarm (`LabelReuseAlarm`), never acknowledged; the first ciphertext stays.
    case labelReused(meter: UInt32, label: UInt64)
    /// A label too close to 2^64 − 1 for the window to move to.
    case labelOutOfRange(UInt64)
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

    // Neighbour graph (NeighbourAggregator.swift)
    /// A recovery answer nobody asked for, answered twice, or covering other members than asked.
    case unexpectedRecovery(meter: UInt32, label: UInt64)
    /// The label's sum over the reporting members cannot be recovered (why in the payload).
    case recoveryFailed(label: UInt64, RecoveryFailure)

    // Paillier (PaillierKeys.swift, PaillierAggregator.swift, PaillierBilling.swift)
    /// A Paillier ciphertext is zero: not an element of Z*_{N^2}.
    case zeroCiphertext
    /// A Paillier ciphertext is negative or not below N^2: not reduced under this key.
    case ciphertextOutOfRange
    /// A Paillier ciphertext shares a factor with N: not an encryption under this key.
    case ciphertextNotInvertible
    /// A ciphertext made under another Paillier key (key ids in hex).
    case wrongKey(expected: String, actual: String)
    /// The group layout lets a combination of group sums reveal this meter's reading;
    /// `groups` are the groups whose sums combine to it.
    case layoutIsolatesMeter(meter: UInt32, groups: [UInt32])
    /// An aggregate that does not hold every meter of its group: the supplier decrypts
    /// group sums only.
    case notAGroupSum(group: UInt32, meters: Int, expected: Int)
    /// A decrypted value that does not fit 64 bits: not a sum of readings.
    case decryptedValueOutOfRange
    /// The aggregator holds no ciphertext of this meter for this label.
    case missingReading(meter: UInt32, label: UInt64)
    /// A billing or report period shorter than the minimum (fewer labels could single
    /// out readings).
    case periodTooShort(labels: Int, minimum: Int)
    /// Part of the period was already released for this meter (bill or report): overlapping
    /// releases could be subtracted to single out readings.
    case periodAlreadyReleased(meter: UInt32, label: UInt64)
    /// A tariff that cannot be applied (no classes, a class without a price, a price
    /// that would overflow the plaintext space, prices further apart than the bound).
    case invalidTariff(String)
    /// A statement (tariff, layout) that is not signed by the authority, or not for this
    /// group, period or epoch.
    case unsignedStatement(String)
    /// A bill asked for labels outside the signed tariff's billing period.
    case outsideTariffPeriod(labels: ClosedRange<UInt64>, period: ClosedRange<UInt64>)

    // Statistics (Statistics.swift)
    /// Statistics refused: group below the minimum size, Σx² capacity, a plan that does not fit.
    case statistics(StatisticsError)

    // Bills made on the meter (MeterBills.swift)
    /// A bill frame that does not open under the meter's bill key (forged, altered, another
    /// meter's or supplier's).
    case billNotAuthentic(meter: UInt32, MeterBillError)
    /// An authentic bill that does not match the tariff it is priced under (group, epoch,
    /// period, supplier or class count).
    case billTariffMismatch(String)
}
