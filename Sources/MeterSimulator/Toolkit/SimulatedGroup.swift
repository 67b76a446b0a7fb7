import Aggregation
import MeterCrypto
import MeterFirmware
import Provisioning

/// The simulator's group harness: meters on simulated boards, provisioned by one
/// authority, and the aggregator's view of their group (the frame keys of one epoch).
/// Key setup runs through `SignedSetup` on these meters; fleets, the cost probes, the
/// attacks and the tests build their groups here.
public struct SimulatedGroup {
    public let authority: ProvisioningAuthority
    public let meters: [SimulatedMeter]
    /// The group, its scheme, epoch and frame keys, as the aggregator holds them.
    public let members: GroupMembers

    /// The group's epoch (its frame keys' and its key setup's).
    public var epoch: UInt32 { members.epoch }
    /// The aggregator's frame intake for the group: opens frames, seals downlinks and acks.
    public var intake: FrameIntake { FrameIntake(members: members) }

    /// Meters `ids` manufactured by `authority`, each on a new board seeded by
    /// `boardSeed(index)` and loaded with `profile(index)` (mW per minute), sampled every
    /// `sampleSeconds`; the group `group` of `scheme` at `epoch` (nil: the authority
    /// issues the next one).
    public init(
        authority: ProvisioningAuthority, group: UInt32 = 1, scheme: SchemeID = .lwrPSA, ids: [UInt32],
        epoch: UInt32? = nil, sampleSeconds: UInt64 = 60, flashSectors: UInt32 = 64,
        boardSeed: (Int) -> UInt64 = { UInt64($0 + 1) }, profile: (Int) -> [UInt32]
    ) throws {
        let meters = try ids.enumerated().map { index, id in
            try SimulatedMeter(
                factory: authority.manufacture(meter: id), seed: boardSeed(index), profile: profile(index),
                sampleSeconds: sampleSeconds, flashSectors: flashSectors, scheme: scheme)
        }
        try self.init(authority: authority, group: group, scheme: scheme, meters: meters, epoch: epoch)
    }

    /// Meters 1 … n under a constant load of `watts` each, sampled every minute.
    public init(
        authority: ProvisioningAuthority, group: UInt32 = 1, scheme: SchemeID = .lwrPSA, meters n: Int,
        watts: UInt32 = 1000
    ) throws {
        try self.init(
            authority: authority, group: group, scheme: scheme, ids: (1...n).map { UInt32($0) },
            profile: { _ in [watts * 1000] })
    }

    /// Meters already built (and provisioned by `authority`) as one group.
    public init(
        authority: ProvisioningAuthority, group: UInt32 = 1, scheme: SchemeID, meters: [SimulatedMeter],
        epoch: UInt32? = nil
    ) throws {
        self.authority = authority
        self.meters = meters
        members = try authority.members(
            group: group, epoch: epoch ?? authority.issueEpoch(), scheme: scheme, meters: meters.map(\.id))
    }

    // MARK: - key setup (SignedSetup on these meters)

    /// The aggregator's LWR-PSA key setup for this group.
    public func lwrKeySetup(
        parameters: LWRParameters = .standard, maxReading: UInt64, keyMode: KeyMode = .seed
    ) throws -> LWRKeySetup {
        try LWRKeySetup(members: members, parameters: parameters, maxReading: maxReading, keyMode: keyMode.rawValue)
    }

    /// Steps 1 and 2 of key setup: enrolment, the authority's signature installed in `relay`.
    @discardableResult
    public func enrolAndSign(
        _ relay: KeySetupRelay, runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil
    ) throws -> SignedGroup {
        try SignedSetup.enrolAndSign(meters: meters, relay: relay, authority: authority, runner: runner, cpu: cpu)
    }

    /// LWR-PSA after `enrolAndSign`: the rest of key setup; the aggregator holding K.
    public func completeLWR(
        _ setup: LWRKeySetup, currentLabel: UInt64 = 0, runner: ParallelRunner = .sequential, cpu: MeterCPU? = nil
    ) throws -> LWRAggregator {
        try SignedSetup.completeLWR(meters: meters, setup: setup, currentLabel: currentLabel, runner: runner, cpu: cpu)
    }

    /// The whole LWR-PSA key setup: the relay, enrolment and signature, the rest; the aggregator.
    public func setUpLWR(
        parameters: LWRParameters = .standard, maxReading: UInt64, keyMode: KeyMode = .seed
    ) throws -> (setup: LWRKeySetup, aggregator: LWRAggregator) {
        let setup = try lwrKeySetup(parameters: parameters, maxReading: maxReading, keyMode: keyMode)
        try enrolAndSign(setup)
        return (setup, try completeLWR(setup))
    }

    /// The whole DMCFE key setup; the relay that streams weight vectors afterwards.
    public func setUpDMCFE(maxReading: UInt64) throws -> DMCFEKeySetup {
        let setup = try DMCFEKeySetup(members: members, maxReading: maxReading)
        try enrolAndSign(setup)
        try SignedSetup.completeDMCFE(meters: meters, setup: setup)
        return setup
    }

    /// DMCFE: every meter's functional-key share for `weights`, one frame each.
    public func functionalKeyShares(_ setup: DMCFEKeySetup, weights: [UInt32: Int64]) throws -> [[UInt8]] {
        try SignedSetup.functionalKeyShares(meters: meters, setup: setup, weights: weights)
    }

    /// Every meter through `samples` ADC samples `sampleTicks` apart (one 15-minute
    /// interval at one sample a minute), then idle; what each sent.
    public func runInterval(samples: Int = 15, sampleTicks: UInt64 = 60_000) -> [[[UInt8]]] {
        meters.map { Self.runInterval($0, samples: samples, sampleTicks: sampleTicks) }
    }

    /// One meter through one interval (see `runInterval(samples:sampleTicks:)`); what it sent.
    public static func runInterval(_ m: SimulatedMeter, samples: Int = 15, sampleTicks: UInt64 = 60_000) -> [[UInt8]] {
        for _ in 0..<samples {
            m.advance(ticks: sampleTicks)
            _ = m.firmware.poll()
        }
        m.firmware.idle()
        return m.takeSent()
    }
}
