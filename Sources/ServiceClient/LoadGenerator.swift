import Aggregation
import AggregatorAPI
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning

/// Load for the aggregator service from pre-sealed frames: `groups` groups of `meters`
/// meters are created and set up through the service's routes exactly as meters would
/// (enrolled public keys, the authority's signature, key shares), but the frames are made
/// here, not by the firmware, so the load is limited by the service and not by simulating
/// boards. The meters' LWR keys are all zero (every pad is 0, so c = Δ·x): the sums the
/// service decrypts are still exact and checked, but nothing here is private; it measures
/// the service's frame handling and storage, never the scheme.
public final class LoadGenerator: @unchecked Sendable {
    public struct Report: Codable, Sendable {
        public var database: String
        public var groups: Int
        public var meters_per_group: Int
        public var labels: Int
        public var frames: Int
        public var batch: Int
        public var connections: Int
        public var seconds: Double
        public var frames_per_second: Double
        public var p50_ms: Double
        public var p99_ms: Double
        public var exact_labels: Int
        public var rejected: Int
    }

    public let client: AggregatorClient
    public let supplier: AggregatorClient
    public let groups: Int
    public let meters: Int
    public let labels: Int
    public let firstGroup: UInt32
    let authority: ProvisioningAuthority
    let epoch: UInt32
    let parameters = LWRParameters.standard
    let maxReading: UInt64 = 5000
    var members: [GroupMembers] = []
    var factory: [UInt32: FactoryKeys] = [:]

    public init(
        client: AggregatorClient, supplier: AggregatorClient, groups: Int, meters: Int, labels: Int,
        firstGroup: UInt32 = 1000, seed: UInt64 = 1
    ) {
        self.client = client
        self.supplier = supplier
        self.groups = groups
        self.meters = meters
        self.labels = labels
        self.firstGroup = firstGroup
        authority = ProvisioningAuthority(seed: seed)
        epoch = authority.issueEpoch()
    }

    /// The reading of meter `m` (1-based) for `label`.
    func reading(meter m: UInt32, label: UInt64) -> UInt64 {
        (UInt64(m) &* 7919 &+ label &* 104_729) % (maxReading + 1)
    }

    /// Creates and sets up every group through the service.
    public func setUp() async throws {
        for m in 1...UInt32(meters) { factory[m] = authority.manufacture(meter: m) }
        let y = [UInt8](repeating: 0x5A, count: FFDHGroup.byteCount)
        for g in 0..<groups {
            let group = firstGroup + UInt32(g)
            let member = try authority.members(
                group: group, epoch: epoch, scheme: .lwrPSA, meters: Array(1...UInt32(meters)))
            members.append(member)
            var keys: [String: String] = [:]
            for m in member.meters { keys["\(m)"] = Hex.encode(member.frameKey(of: m)!) }
            _ = try await client.createGroup(
                GroupCreation(group: group, epoch: epoch, max_reading: maxReading, frame_keys: keys))
            let intake = FrameIntake(members: member)
            var publicKeys: [[UInt8]] = []
            var enrolments: [UInt32: [UInt8]] = [:]
            for m in member.meters {
                var tag = [UInt8](repeating: 0, count: Enrolment.tagBytes)
                let enrolmentKey = factory[m]!.enrolmentKey
                var span = tag.mutableSpan
                Enrolment.tag(
                    enrolmentKey: enrolmentKey.span, group: group, epoch: epoch, meter: m, publicKey: y.span,
                    into: &span)
                enrolments[m] = y + tag
                publicKeys.append(intake.seal(.publicKey, to: m, label: UInt64(epoch), payload: y + tag))
            }
            try await uploadAll(publicKeys)
            let signed = try authority.signGroup(
                group: group, epoch: epoch, parameterID: parameters.id, keyMode: 0, maxReading: maxReading,
                enrolments: enrolments)
            var roster: [String: String] = [:]
            for entry in signed.roster.entries { roster["\(entry.meter)"] = Hex.encode(entry.publicKey) }
            _ = try await client.installSigned(
                group: group,
                SignedParameters(
                    statement_body: Hex.encode(signed.statement.body),
                    signature: Hex.encode(signed.statement.signature),
                    public_keys: roster))
            // Key shares of zero keys with zero masks: K = 0.
            let zeros = [UInt8](repeating: 0, count: 128 * 8)
            var shares: [[UInt8]] = []
            for m in member.meters {
                for chunk in 0..<UInt64(parameters.lambda / 128) {
                    shares.append(intake.seal(.keyShare, to: m, label: chunk, payload: zeros))
                }
            }
            try await uploadAll(shares)
            let status = try await client.status(group: group)
            guard status.phase == "collecting" else { throw ClientError.decoding("group \(group) is \(status.phase)") }
        }
    }

    func uploadAll(_ frames: [[UInt8]]) async throws {
        var i = 0
        while i < frames.count {
            let batch = Array(frames[i..<min(i + 2000, frames.count)])
            for case .rejected(let error) in try await client.upload(batch) {
                throw ClientError.decoding("setup frame refused: \(error)")
            }
            i += batch.count
        }
    }

    /// Every reading frame of every group and label, label by label, sealed up front.
    public func sealReadings() throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(groups * meters * labels)
        for label in 0..<UInt64(labels) {
            for member in members {
                let bounds = try LWRGroupBounds(
                    meters: UInt32(member.count), maxReading: maxReading, parameters: parameters)
                let intake = FrameIntake(members: member)
                for m in member.meters {
                    let c = try LWRPSA.encrypt(
                        reading: reading(meter: m, label: label), pad: 0, bounds: bounds, parameters: parameters)
                    var payload = [UInt8](repeating: 0, count: 8)
                    var span = payload.mutableSpan
                    BigEndian.store(c, at: 0, in: &span)
                    frames.append(intake.seal(.reading, to: m, label: label, payload: payload))
                }
            }
        }
        return frames
    }

    /// Uploads `frames` in batches of `batch`, `connections` requests at once; times the
    /// whole run and each request; then checks every group's sums.
    public func run(frames: [[UInt8]], batch: Int, connections: Int, database: String) async throws -> Report {
        var batches: [[[UInt8]]] = []
        var i = 0
        while i < frames.count {
            batches.append(Array(frames[i..<min(i + batch, frames.count)]))
            i += batch
        }
        let client = self.client
        var latencies: [Double] = []
        var rejected = 0
        let start = monotonicSeconds()
        try await withThrowingTaskGroup(of: (Double, Int).self) { tasks in
            var next = 0
            func launch() {
                guard next < batches.count else { return }
                let body = batches[next]
                next += 1
                tasks.addTask {
                    let t0 = monotonicSeconds()
                    let outcomes = try await client.upload(body)
                    var refused = 0
                    for outcome in outcomes { if case .rejected = outcome { refused += 1 } }
                    return (monotonicSeconds() - t0, refused)
                }
            }
            for _ in 0..<connections { launch() }
            for try await (seconds, refused) in tasks {
                latencies.append(seconds * 1e3)
                rejected += refused
                launch()
            }
        }
        let seconds = monotonicSeconds() - start
        var exact = 0
        for member in members {
            let sums = try await supplier.sums(group: member.group, from: 0, to: UInt64(labels - 1))
            for entry in sums.sums {
                let truth = member.meters.reduce(UInt64(0)) { $0 + reading(meter: $1, label: entry.label) }
                if entry.sum == truth && entry.meters == member.count { exact += 1 }
            }
        }
        let (p50, p99) = percentiles(latencies)
        return Report(
            database: database, groups: groups, meters_per_group: meters, labels: labels, frames: frames.count,
            batch: batch, connections: connections, seconds: seconds, frames_per_second: Double(frames.count) / seconds,
            p50_ms: p50, p99_ms: p99, exact_labels: exact, rejected: rejected)
    }
}
