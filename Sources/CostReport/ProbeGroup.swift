// What the schemes' reading probes share: a two-meter group on simulated boards, its first
// label through an aggregator, and the bookkeeping between measured readings. (The
// aggregator workloads' replayed groups are MeterSimulator's WorkloadGroup.)
import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

/// The probes' group: meters 1 and 2 of group 1 on simulated boards under a constant load,
/// one ADC sample per 15-minute interval so that the boundary step is one `poll()`.
enum ProbeGroup {
    /// Constant load: 400 W, i.e. 100 Wh per interval.
    static let milliwatts: UInt32 = 400_000
    /// The true sum of one label over both meters, in Wh.
    static var labelSum: UInt64 { 2 * UInt64(milliwatts) / 4000 }

    /// Both meters, provisioned by a reproducible authority, and the aggregator's view of
    /// the group (epoch 1's frame keys) for `scheme`.
    static func make(scheme: SchemeID) throws -> SimulatedGroup {
        try SimulatedGroup(
            authority: ProvisioningAuthority(seed: 0xC057), scheme: scheme, ids: [1, 2], sampleSeconds: 900,
            boardSeed: { 0xC057 &+ UInt64($0 + 1) }, profile: { _ in [milliwatts] })
    }

    /// Meter 1 of `group` after key setup, as the report measures it: one label through
    /// both meters (each precomputes and closes its interval; every reading frame goes to
    /// `accept`, whose ack the meter takes), then `decrypt(label)` must give the true sum, so
    /// that the probe measures a meter whose readings really decrypt.
    static func readingProbe(
        _ group: SimulatedGroup, ciphertextBytes: Int, accept: ([UInt8]) throws -> [UInt8],
        decrypt: (UInt64) throws -> UInt64
    ) throws -> SimulatedReadingProbe {
        let meters = group.meters
        let label = meters[0].firmware.nextLabel
        for m in meters {
            m.advance(ticks: m.timing.intervalTicks)
            m.firmware.idle()
            _ = m.firmware.poll()
            for frame in m.takeSent() where frame[1] == FrameType.reading.rawValue { try m.handle(try accept(frame)) }
        }
        let sum = try decrypt(label)
        guard sum == labelSum else { throw CostProbeError.wrongSum(label: label, decrypted: sum, expected: labelSum) }
        return SimulatedReadingProbe(
            meter: meters[0], members: group.members, frameBytes: Frame.size(payloadLength: ciphertextBytes),
            firstLabel: label)
    }
}

/// A meter of a `ProbeGroup` after its first label, as the report measures it:
/// `prepare()` is `idle()`, `boundary()` is `poll()`; `settle()` checks that exactly one
/// reading frame of `frameBytes` went out for the expected label and acks it (the outbox
/// keeps a reading, and re-sends it at every boundary, until it is acknowledged).
final class SimulatedReadingProbe: ReadingProbe {
    let meter: SimulatedMeter
    /// Makes the aggregator's acks.
    let intake: FrameIntake
    let frameBytes: Int
    let intervalTicks: UInt64
    var expectedLabel: UInt64
    var lastIdle = false
    var lastEvent = MeterEvent.none

    /// `meter` has sent and had acked `firstLabel`; its clock moves to the next interval.
    init(meter: SimulatedMeter, members: GroupMembers, frameBytes: Int, firstLabel: UInt64) {
        self.meter = meter
        intake = FrameIntake(members: members)
        self.frameBytes = frameBytes
        intervalTicks = meter.timing.intervalTicks
        expectedLabel = firstLabel + 1
        meter.advance(ticks: intervalTicks)
    }

    func prepare() { lastIdle = meter.firmware.idle() }

    func boundary() { lastEvent = meter.firmware.poll() }

    func settle() throws {
        let label = expectedLabel
        let sent = meter.takeSent()
        guard lastIdle else { throw CostProbeError.noReading(label: label, detail: "idle() did not precompute") }
        guard case .readingSent(label, _) = lastEvent else {
            throw CostProbeError.noReading(label: label, detail: "poll() returned \(lastEvent)")
        }
        // The reading frame, and the customer's sealed detail (every image's core seals it).
        let readings = sent.filter { $0[1] == FrameType.reading.rawValue }
        let detail = sent.filter { $0[1] == FrameType.customerDetail.rawValue }
        guard readings.count == 1, readings[0].count == frameBytes, detail.count == 1,
            detail[0].count == CustomerDetail.frameBytes, sent.count == 2
        else {
            throw CostProbeError.noReading(label: label, detail: "\(sent.count) frames sent")
        }
        guard try meter.handle(intake.acknowledgement(to: meter.id, label: label)) == .acknowledged(label: label) else {
            throw CostProbeError.noReading(label: label, detail: "the ack was not taken")
        }
        lastIdle = false
        lastEvent = .none
        expectedLabel += 1
        meter.advance(ticks: intervalTicks)
    }
}
