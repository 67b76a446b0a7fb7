// What the schemes' reading probes share: a two-meter group on simulated boards, its first
// label through an aggregator, and the bookkeeping between measured readings.
import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

/// The probes' group: meters 1 and 2 of group 1 on simulated boards under a constant load,
/// one ADC sample per 15-minute interval so that the boundary step is one `poll()`.
enum ProbeGroup {
    /// A group description built from copies of the frame keys, so that the aggregator's
    /// own memory (membership, keys) is allocated inside the measured window.
    static func freshMembers(group: UInt32, scheme: SchemeID, frameKeys: [UInt32: [UInt8]]) throws -> GroupMembers {
        var keys: [UInt32: [UInt8]] = [:]
        keys.reserveCapacity(frameKeys.count)
        for (id, key) in frameKeys { keys[id] = key.map { $0 } }
        return try GroupMembers(group: group, scheme: scheme, frameKeys: keys)
    }

    /// Constant load: 400 W, i.e. 100 Wh per interval.
    static let milliwatts: UInt32 = 400_000
    /// The true sum of one label over both meters, in Wh.
    static var labelSum: UInt64 { 2 * UInt64(milliwatts) / 4000 }

    /// Both meters, provisioned by a reproducible authority, and the aggregator's view of
    /// the group (epoch 1's frame keys) for `scheme`.
    static func makeMeters(scheme: SchemeID) throws -> (
        meters: [SimulatedMeter], members: GroupMembers, authority: ProvisioningAuthority
    ) {
        let authority = ProvisioningAuthority(seed: 0xC057)
        let meters = try (1...2).map { i in
            try SimulatedMeter(
                factory: authority.manufacture(meter: UInt32(i)), seed: 0xC057 &+ UInt64(i), profile: [milliwatts],
                sampleSeconds: 900, scheme: scheme)
        }
        let members = try authority.members(
            group: 1, epoch: authority.issueEpoch(), scheme: scheme, meters: meters.map(\.id))
        return (meters, members, authority)
    }

    /// One label through both meters after key setup: each precomputes and closes its
    /// interval, and every reading frame goes to `accept`, whose ack the meter takes.
    /// Returns the label; the caller decrypts it, so that the probe measures a meter whose
    /// readings really decrypt.
    static func runFirstLabel(_ meters: [SimulatedMeter], accept: ([UInt8]) throws -> [UInt8]) throws -> UInt64 {
        let label = meters[0].firmware.nextLabel
        for m in meters {
            m.advance(ticks: m.timing.intervalTicks)
            m.firmware.idle()
            _ = m.firmware.poll()
            for frame in m.takeSent() where frame[1] == FrameType.reading.rawValue { try m.handle(try accept(frame)) }
        }
        return label
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
        guard sent.count == 1, sent[0][1] == FrameType.reading.rawValue, sent[0].count == frameBytes else {
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

/// The replayed group of an aggregator workload: meters 1 … n with random frame keys,
/// labels 500, 501, …, and for every label one sealed reading frame per meter with the
/// true sum. Every scheme's workload builds its frames through it; only the encryption
/// of a reading differs.
struct WorkloadGroup {
    let ids: [UInt32]
    let frameKeys: [UInt32: [UInt8]]
    let intake: FrameIntake
    let labels: [UInt64]
    var rng: SplitMix64

    init(group: UInt32, scheme: SchemeID, meters: Int, labels: Int, seed: UInt64) throws {
        rng = SplitMix64(seed: seed)
        ids = (0..<meters).map { UInt32(1 + $0) }
        var keys: [UInt32: [UInt8]] = [:]
        for id in ids { keys[id] = Self.bytes(Frame.keyBytes, &rng) }
        frameKeys = keys
        intake = FrameIntake(members: try GroupMembers(group: group, scheme: scheme, frameKeys: keys))
        self.labels = (0..<labels).map { 500 + UInt64($0) }
    }

    static func bytes(_ n: Int, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// n random bytes from the workload's generator.
    mutating func bytes(_ n: Int) -> [UInt8] { Self.bytes(n, &rng) }

    /// For every label, `encryptor(label)` returns the function that encrypts meter i's
    /// reading into a frame payload; readings are drawn up to `maxReading`.
    mutating func readingFrames(
        maxReading: UInt64, encryptor: (UInt64) throws -> (_ meterIndex: Int, _ reading: UInt64) throws -> [UInt8]
    ) throws -> (frames: [[[UInt8]]], sums: [UInt64]) {
        var frames: [[[UInt8]]] = []
        var sums: [UInt64] = []
        for label in labels {
            let encrypt = try encryptor(label)
            var perLabel: [[UInt8]] = []
            perLabel.reserveCapacity(ids.count)
            var sum: UInt64 = 0
            for (i, id) in ids.enumerated() {
                let reading = rng.next() % (maxReading + 1)
                sum += reading
                perLabel.append(intake.seal(.reading, to: id, label: label, payload: try encrypt(i, reading)))
            }
            frames.append(perLabel)
            sums.append(sum)
        }
        return (frames, sums)
    }
}
