// What the meter reports and refuses: errors, status codes, events, and the main loop's timing.
// Shared by every scheme's image.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif
/// Why the firmware refused or failed an operation.
public enum MeterError: Error, Equatable, Sendable {
    /// No valid key store: the meter needs provisioning and encrypts nothing.
    case notProvisioned
    /// The key store holds slots but none is valid: corruption, never used to encrypt.
    case keyStoreCorrupt
    /// Key setup has not completed: there is no group key to encrypt under.
    case notReady
    /// The label was encrypted before (or lies before one that was): never again.
    case labelAlreadyEncrypted(label: UInt64, next: UInt64)
    /// The reading exceeds the group's agreed maximum; it is not wrapped (the main loop
    /// never asks: it clamps to the maximum and carries the excess, docs/spec/readings.md).
    case readingAboveMaximum(reading: UInt64, maximum: UInt64)
    /// Key-setup parameters this meter does not accept.
    case setupRejected(SetupRejection)
    /// A peer public key that is not authentic or not a valid group element.
    case peerKeyRejected(peer: UInt32)
    /// A downlink frame that is malformed, for another meter, or not authentic.
    case badDownlink(FrameError)
    /// A downlink frame that makes no sense in the meter's current phase.
    case unexpectedDownlink(FrameType)
    /// The key store could not be written; nothing was sent.
    case keyStore(KeyStoreError)
    /// The radio or the flash failed.
    case board(BoardError)
    /// A Paillier key statement whose key is not usable (size, parity, groups).
    case paillierKeyRejected
    /// A statement that is not signed by the authority, not newer, or not for this meter.
    case statementRejected(StatementRejection)
    /// The key store holds no customer key (written before it existed): no detail, no code.
    case noCustomerKey
    /// The customer code was shown once already; it is never shown again.
    case customerCodeShown
    /// A recovery request the meter's bounds refuse (nothing was sent but the status).
    case recoveryRefused(RecoveryRefusal)
    /// A signed statistics plan the meter does not use (group too small, capacity, layout).
    case statisticsRejected(StatisticsError)
    /// A signed tariff the meter does not bill under (period, classes, overlap; Billing.swift).
    case billingRejected(BillingRejection)
}

/// Why a signed statement was refused (nothing the meter holds changed).
public enum StatementRejection: UInt8, Equatable, Sendable {
    /// Layout, length, kind or version the meter does not take.
    case malformed = 1
    /// The signature does not verify under the authority's key.
    case badSignature = 2
    /// Not newer than the statement of its kind the meter holds (a replay or a rollback).
    case staleEpoch = 3
    /// For another meter, or for a group and epoch the meter holds no enrolled key for.
    case wrongSubject = 4
    /// A chunk that does not continue the statement in progress.
    case outOfOrder = 5
    /// A fresh enrolment within a day of the last one (flash wear): the aggregator asks again later.
    case enrolmentTooSoon = 6
    /// A statement of a kind this image's scheme does not act on (a Paillier key sent to an
    /// LWR-PSA meter, group parameters to a Paillier meter).
    case wrongScheme = 7
}

/// Why key setup was refused.
public enum SetupRejection: UInt8, Equatable, Sendable {
    /// The parameter set id is unknown.
    case unknownParameters = 1
    /// The group is smaller than the meter's minimum.
    case groupTooSmall = 2
    /// n·(n·x_max + 1) ≥ p: sums could wrap.
    case capacityExceeded = 3
    /// An unknown key mode.
    case unknownKeyMode = 4
    /// The payload has the wrong size.
    case malformed = 5
    /// More peers than the meter's flash holds seeds for (DMCFE).
    case groupTooLarge = 6
}

/// Status codes the meter reports in status frames.
public enum StatusCode: UInt16, Sendable {
    case needsProvisioning = 1
    case keyStoreCorrupt = 2
    /// Never sent: it would tell which interval was clamped (readings above the maximum are
    /// encrypted as the maximum and the excess carried, docs/spec/readings.md).
    case readingAboveMaximum = 3
    case setupRejected = 4
    case peerKeyRejected = 5
    case keyStoreWriteFailed = 6
    case setupComplete = 7
    /// A flipped bit in the key store or the outbox was corrected; the state is intact.
    case keyStoreRepaired = 8
    /// The outbox was full: the oldest unacknowledged reading (label in the detail) was dropped.
    case outboxOverflow = 9
    /// A Paillier key statement carried a key that is not usable.
    case paillierKeyRejected = 10
    /// A signed statement was refused (`StatementRejection` code in the detail).
    case statementRejected = 11
    /// A neighbour answered a recovery about this meter for a label it had encrypted and
    /// the aggregator had acknowledged: the `silenceAlarm` frame with the evidence went out
    /// (label in the detail; docs/spec/dropout.md, "False dropouts").
    case falseDropoutAlarm = 12
    /// The same for a label this meter encrypted and never saw acknowledged (the frame may
    /// have been lost; no proof): label in the detail.
    case declaredSilent = 13
    /// A recovery request the meter's bounds refuse (`RecoveryRefusal` code in the detail).
    case recoveryRefused = 14
    /// A signed tariff was refused (`BillingRejection` code in the detail).
    case billingRejected = 15
}

/// Why a meter refused a recovery request (docs/spec/dropout.md, "Recovery").
public enum RecoveryRefusal: UInt8, Equatable, Sendable {
    /// The request's layout is wrong, or it names no silent neighbour or a non-neighbour.
    case malformed = 1
    /// A label this meter did not encrypt (or cannot tell since its last boot).
    case notEncrypted = 2
    /// A label older than the recovery window, or not yet over.
    case outsideWindow = 3
    /// More silent neighbours than one answer covers (t).
    case tooManySilent = 4
    /// A neighbour named has no budget left: B answers about it it has not confirmed.
    case budgetExhausted = 5
    /// The label was answered already (one answer per label).
    case answeredBefore = 6
    /// The recovery ledger on flash is damaged: no answers until the next key setup.
    case ledgerDamaged = 7
}

/// Timing of the main loop.
public struct MeterTiming: Sendable {
    /// Ticks between ADC samples; must divide `intervalTicks`.
    public var sampleTicks: UInt64
    /// Ticks per label (15 minutes).
    public var intervalTicks: UInt64

    public init(ticksPerSecond: UInt32, sampleSeconds: UInt64 = 1, intervalSeconds: UInt64 = 900) {
        sampleTicks = UInt64(ticksPerSecond) * sampleSeconds
        intervalTicks = UInt64(ticksPerSecond) * intervalSeconds
        precondition(
            sampleTicks > 0 && intervalTicks % sampleTicks == 0,
            "the sample period must divide the interval")
    }
}

/// What one call to `poll` did, for the simulator's bookkeeping.
public enum MeterEvent: Equatable, Sendable {
    case none
    /// A reading for `label` was encrypted and sent.
    case readingSent(label: UInt64, reading: UInt64)
    /// The meter sent a freshly enrolled DH public key (for the authority's roster).
    case publicKeySent
    /// A signed statement verified and took effect (group parameters: key setup started).
    case statementAccepted(StatementKind)
    /// All roster entries were processed and the masked key share was sent.
    case keyShareSent
    /// The meter reported an error in a status frame.
    case statusSent(StatusCode)
    /// The aggregator acknowledged the reading for `label`; the outbox let it go.
    case acknowledged(label: UInt64)
    /// The meter answered a recovery request for `label` (and sent its notices).
    case recoveryAnswered(label: UInt64)
    /// The board warned of a power failure: the meter saved its energy register and does
    /// nothing more until it is rebooted.
    case energySaved
    /// The aggregator acknowledged the bill of the period ending at `label`.
    case billAcknowledged(label: UInt64)
}
