import Aggregation
import AggregatorAPI
import Dispatch
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

/// The simulator's meters (firmware on simulated boards) talking to a running aggregator
/// service over HTTP: the group is created and set up through the service's own routes
/// (operator: group creation, enrolments to the authority, signed parameters; meters:
/// downlink polls and uploads), then readings are uploaded at each boundary and the acks
/// go back to the meters, whose outboxes keep every reading until its ack arrives.
public final class NetworkFleet: @unchecked Sendable {
    /// The meters, the authority and the expected readings (the fleet's own aggregator is
    /// not used: the service is the aggregator).
    public let fleet: Fleet
    /// The operator's client (meters' routes need no token); replaceable, e.g. when the
    /// service comes back on another port.
    public var client: AggregatorClient
    public let labels: Int
    /// Frames per upload request.
    public var batchSize = 500
    /// Upload requests in flight at once.
    public var connections = 4
    /// False: an LWR-PSA group is created without `authority_key` (the service then takes no
    /// statistics plan for it).
    public var sendsAuthorityKey = true

    public private(set) var framesSent = 0
    public private(set) var framesAcked = 0
    /// Frames sent again (an earlier copy of the same reading had been sent).
    public private(set) var resends = 0
    /// Upload requests that got no answer (the frames stay in the outboxes).
    public private(set) var failedUploads = 0
    /// Refused frames by the service's error name.
    public private(set) var rejected: [String: Int] = [:]
    /// Customer-detail frames the service stored (or already held), and those it refused by error name.
    public private(set) var detailStored = 0
    public private(set) var detailRejected: [String: Int] = [:]
    var detailFrames: [[UInt8]] = []
    /// Bills made on the meters (NetworkMeterBills.swift): the tariff installed, and the bills
    /// the service stored (or already held) and refused by error name.
    public internal(set) var meterTariff: SignedTariff?
    public private(set) var billsStored = 0
    public private(set) var billsRejected: [String: Int] = [:]
    /// (meter, label) of every reading the service acknowledged.
    public private(set) var acknowledged: Set<MeterLabel> = []
    /// Seconds per upload request that got an answer.
    public private(set) var uploadSeconds: [Double] = []
    var sentOnce: Set<MeterLabel> = []

    public struct MeterLabel: Hashable, Sendable {
        public let meter: UInt32
        public let label: UInt64
        public init(meter: UInt32, label: UInt64) {
            self.meter = meter
            self.label = label
        }
    }

    public var group: UInt32 { fleet.configuration.group }

    /// Paillier: the supplier's private key and the signed layout it decrypts under (the
    /// supplier's side of the simulation; the service never sees the private key).
    public private(set) var supplier: PaillierSupplier?

    public init(configuration: FleetConfiguration, labels: Int, client: AggregatorClient) throws {
        precondition(
            configuration.scheme == .lwrPSA || configuration.scheme == .paillier,
            "the service runs LWR-PSA and Paillier groups")
        fleet = try Fleet(configuration, labels: labels)
        self.client = client
        self.labels = labels
    }

    /// Runs `body(i)` for every meter index on the fleet's threads (each meter on one
    /// thread at a time): the simulator's `ParallelRunner`, awaited.
    func forEachMeter(_ body: @escaping @Sendable (Int) -> Void) async {
        await ParallelRunner(threads: fleet.configuration.threads).forEach(fleet.meters.count, body)
    }

    /// Hands `frames[i]` to meter i one by one (a poll each) and returns what each sent.
    func exchange(_ frames: [[[UInt8]]]) async throws -> [[[UInt8]]] {
        let meters = fleet.meters
        let sent = Box([[[UInt8]]](repeating: [], count: meters.count))
        let detail = Box([[[UInt8]]](repeating: [], count: meters.count))
        let failures = Box([String?](repeating: nil, count: meters.count))
        await forEachMeter { i in
            do {
                for frame in frames[i] {
                    if case .statusSent(let code) = try meters[i].handle(frame) {
                        failures.set(i, "answered with status \(code)")
                        break
                    }
                }
            } catch {
                failures.set(i, "\(error)")
            }
            sent.set(i, meters[i].takeSent())
        }
        for (i, failure) in failures.value.enumerated() {
            if let failure { throw SimulatorError.setupStalled(meter: meters[i].id, detail: failure) }
        }
        return sent.value
    }

    /// Every meter's downlink from the service.
    func downlinks() async throws -> [[[UInt8]]] {
        var out: [[[UInt8]]] = []
        for meter in fleet.meters { out.append(try await client.downlink(meter: meter.id)) }
        return out
    }

    /// Creates the group on the service and runs key setup through it.
    public func setUp() async throws {
        guard let signed = try await enrol() else { return }
        try await finishSetUp(signed)
    }

    /// Key setup up to the signature: the group created, the meters' enrolments through the
    /// service, and the parameters the authority signs over them (not yet installed). A
    /// Paillier group is set up completely here (nil: no group parameters to sign).
    public func enrol() async throws -> SignedParameters? {
        let configuration = fleet.configuration
        var keys: [String: String] = [:]
        for meter in fleet.members.meters { keys["\(meter)"] = Hex.encode(fleet.members.frameKey(of: meter)!) }
        if configuration.scheme == .paillier {
            try await setUpPaillier(frameKeys: keys)
            return nil
        }
        _ = try await client.createGroup(
            GroupCreation(
                group: group, epoch: fleet.epoch, parameters: configuration.parameters == .turbo ? "turbo" : "standard",
                key_mode: configuration.keyMode == .expanded ? "expanded" : "seed",
                max_reading: configuration.maxReading,
                current_label: 0, lookback: 96, frame_keys: keys,
                authority_key: sendsAuthorityKey ? Hex.encode(fleet.authority.publicKey) : nil))
        // 1. Enrolment requests down, public keys up.
        let publicKeys = try await exchange(try await downlinks())
        try await uploadSetup(publicKeys.flatMap { $0 })
        // 2. The authority checks the enrolments the service collected and signs the group.
        let enrolments = try await client.enrolments(group: group)
        var byMeter: [UInt32: [UInt8]] = [:]
        for (id, hex) in enrolments.enrolments { byMeter[UInt32(id)!] = Hex.decode(hex)! }
        let signed = try fleet.authority.signGroup(
            group: group, epoch: fleet.epoch, parameterID: configuration.parameters.id,
            keyMode: configuration.keyMode.rawValue, maxReading: configuration.maxReading, enrolments: byMeter)
        var rosterKeys: [String: String] = [:]
        for entry in signed.roster.entries { rosterKeys["\(entry.meter)"] = Hex.encode(entry.publicKey) }
        return SignedParameters(
            statement_body: Hex.encode(signed.statement.body), signature: Hex.encode(signed.statement.signature),
            public_keys: rosterKeys)
    }

    /// Key setup from the signature on: `signed` installed, statement and roster down, key
    /// shares up, then the fleet's statistics plan and tariff.
    public func finishSetUp(_ signed: SignedParameters) async throws {
        let configuration = fleet.configuration
        _ = try await client.installSigned(group: group, signed)
        // 3. Statement and roster down, key shares up.
        let shares = try await exchange(try await downlinks())
        try await uploadSetup(shares.flatMap { $0 })
        let status = try await client.status(group: group)
        guard status.phase == "collecting" else {
            throw SimulatorError.setupStalled(
                meter: 0, detail: "the service's group is \(status.phase) after key setup")
        }
        if configuration.statistics != nil { try await installStatistics() }
        if configuration.meterBilling != nil { try await installMeterTariff() }
        let meters = fleet.meters
        await forEachMeter { i in _ = meters[i].firmware.idle() }
    }

    /// Paillier: the supplier's key, the authority's signed layout and one signed key
    /// statement per meter go to the service with the group; each meter takes its statement
    /// from its downlink (and checks the signature), then precomputes its first randomizer.
    func setUpPaillier(frameKeys: [String: String]) async throws {
        let configuration = fleet.configuration
        let privateKey = try fleet.supplierKey()
        let publicKey = privateKey.publicKey
        let signedLayout = try fleet.authority.signLayout(
            groups: [group: Set(fleet.members.meters)], epoch: fleet.epoch)
        var statements: [String: SignedStatementJSON] = [:]
        for meter in fleet.members.meters {
            let s = try fleet.authority.signPaillierKey(meter: meter, publicKey: publicKey, layoutEpoch: fleet.epoch)
            statements["\(meter)"] = SignedStatementJSON(body: Hex.encode(s.body), signature: Hex.encode(s.signature))
        }
        _ = try await client.createGroup(
            GroupCreation(
                group: group, epoch: fleet.epoch, scheme: "paillier", max_reading: configuration.maxReading,
                current_label: 0, lookback: 96, frame_keys: frameKeys,
                paillier: PaillierHandOver(
                    modulus: Hex.encode(publicKey.n.bigEndianBytes(length: publicKey.modulusBytes)!),
                    authority_key: Hex.encode(fleet.authority.publicKey),
                    layout: SignedStatementJSON(
                        body: Hex.encode(signedLayout.body), signature: Hex.encode(signedLayout.signature)),
                    key_statements: statements)))
        _ = try await exchange(try await downlinks())
        for meter in fleet.meters where !meter.firmware.isReady {
            throw SimulatorError.setupStalled(meter: meter.id, detail: "not ready after its key statement")
        }
        supplier = PaillierSupplier(
            privateKey: privateKey,
            layout: try GroupLayout(signed: signedLayout, authorityKey: fleet.authority.publicKey))
        let meters = fleet.meters
        await forEachMeter { i in _ = meters[i].firmware.idle() }
    }

    func uploadSetup(_ frames: [[UInt8]]) async throws {
        var i = 0
        while i < frames.count {
            let batch = Array(frames[i..<min(i + batchSize, frames.count)])
            for outcome in try await client.upload(batch) {
                if case .rejected(let error) = outcome {
                    throw SimulatorError.setupStalled(meter: 0, detail: "the service refused a setup frame: \(error)")
                }
            }
            i += batch.count
        }
    }

    /// Runs every meter through the interval of `label` and returns the reading frames they
    /// sent (the new reading and every unacknowledged one below it, re-sent by the firmware);
    /// their sealed detail frames wait in `takeDetailFrames()`.
    public func runInterval(_ label: UInt64) async -> [[UInt8]] {
        let meters = fleet.meters
        let steps = Int(900 / fleet.configuration.sampleSeconds)
        // Readings, and under a statistics plan the statistics frames (NetworkStatistics.swift).
        var types: Set<UInt8> = [FrameType.reading.rawValue]
        if fleet.configuration.statistics != nil { types.insert(FrameType.statistics.rawValue) }
        // Under a tariff, the meters' bills (NetworkMeterBills.swift).
        if fleet.configuration.meterBilling != nil { types.insert(FrameType.bill.rawValue) }
        let uploaded = types
        let sampleTicks = fleet.configuration.sampleSeconds * 1000
        let sent = Box([[[UInt8]]](repeating: [], count: meters.count))
        let detail = Box([[[UInt8]]](repeating: [], count: meters.count))
        await forEachMeter { i in
            let meter = meters[i]
            for _ in 1...steps {
                meter.advance(ticks: sampleTicks)
                _ = meter.firmware.poll()
            }
            let frames = meter.takeSent()
            sent.set(i, frames.filter { $0.count > 1 && uploaded.contains($0[1]) })
            detail.set(i, frames.filter(Self.isDetail))
            _ = meter.firmware.idle()
        }
        detailFrames += detail.value.flatMap { $0 }
        return sent.value.flatMap { $0 }
    }

    /// The customers' sealed detail frames the meters sent since the last call (stored by
    /// the service, never opened; `runLabel` uploads them with the readings).
    public func takeDetailFrames() -> [[UInt8]] {
        defer { detailFrames = [] }
        return detailFrames
    }

    /// Uploads frames in batches (`connections` at once), then hands every ack to its
    /// meter. A batch that gets no answer is counted and left: the frames stay in the
    /// outboxes and go out again at the next boundary (or `flush`).
    public func upload(_ frames: [[UInt8]]) async {
        var batches: [[[UInt8]]] = []
        var i = 0
        while i < frames.count {
            batches.append(Array(frames[i..<min(i + batchSize, frames.count)]))
            i += batchSize
        }
        for frame in frames where !Self.isDetail(frame) {
            guard let header = try? Frame.parseHeader(frame.span), header.type == .reading else { continue }
            let key = MeterLabel(meter: header.meter, label: header.label)
            framesSent += 1
            if !sentOnce.insert(key).inserted { resends += 1 }
        }
        let client = self.client
        var answers: [(batch: [[UInt8]], outcomes: [UploadOutcome]?, seconds: Double)] = []
        await withTaskGroup(of: (Int, [UploadOutcome]?, Double).self) { tasks in
            var next = 0
            func start() {
                guard next < batches.count else { return }
                let index = next
                let batch = batches[index]
                next += 1
                tasks.addTask {
                    let t0 = monotonicSeconds()
                    let outcomes = try? await client.upload(batch)
                    return (index, outcomes, monotonicSeconds() - t0)
                }
            }
            for _ in 0..<connections { start() }
            for await (index, outcomes, seconds) in tasks {
                answers.append((batches[index], outcomes, seconds))
                start()
            }
        }
        var acks: [UInt32: [[UInt8]]] = [:]
        for answer in answers {
            guard let outcomes = answer.outcomes else {
                failedUploads += 1
                continue
            }
            uploadSeconds.append(answer.seconds)
            for (frame, outcome) in zip(answer.batch, outcomes) {
                if Self.isDetail(frame) {
                    switch outcome {
                    case .stored, .acknowledgedAgain: detailStored += 1
                    case .rejected(let error): detailRejected[error, default: 0] += 1
                    }
                    continue
                }
                guard let header = try? Frame.parseHeader(frame.span) else { continue }
                if header.type == .statistics {
                    if case .rejected(let error) = outcome { rejected["statistics: " + error, default: 0] += 1 }
                    continue  // no ack: the reading's ack lets it go
                }
                if header.type == .bill {
                    switch outcome {
                    case .stored(let ack), .acknowledgedAgain(let ack):
                        billsStored += 1
                        acks[header.meter, default: []].append(ack)
                    case .rejected(let error): billsRejected[error, default: 0] += 1
                    }
                    continue
                }
                switch outcome {
                case .stored(let ack), .acknowledgedAgain(let ack):
                    framesAcked += 1
                    acknowledged.insert(MeterLabel(meter: header.meter, label: header.label))
                    acks[header.meter, default: []].append(ack)
                case .rejected(let error):
                    rejected[error, default: 0] += 1
                }
            }
        }
        let meters = fleet.meters
        let byIndex = fleet.meters.map { acks[$0.id] ?? [] }
        await forEachMeter { i in
            for ack in byIndex[i] {
                try? meters[i].deliver(ack)
                _ = meters[i].firmware.poll()  // the outbox lets the reading go
            }
        }
    }

    static func isDetail(_ frame: [UInt8]) -> Bool {
        frame.count > 1 && frame[1] == FrameType.customerDetail.rawValue
    }

    /// One boundary: the meters' interval, then the upload.
    public func runLabel(_ label: UInt64) async {
        let readings = await runInterval(label)
        await upload(readings + takeDetailFrames())
    }

    /// Unacknowledged readings in all outboxes.
    public var pending: Int { fleet.meters.reduce(0) { $0 + $1.firmware.pendingReadings } }

    /// Re-sends every meter's outbox until it is empty or `rounds` uploads passed.
    public func flush(rounds: Int = 5) async throws {
        for _ in 0..<rounds where pending > 0 {
            var frames: [[UInt8]] = []
            for meter in fleet.meters { frames += try meter.pendingFrames().map(\.frame) }
            await upload(frames)
        }
    }

    /// One label's sum from the service next to the simulator's true sum.
    public struct LabelCheck: Sendable, Equatable {
        public let label: UInt64
        /// The service's sum (nil: it released none).
        public let sum: UInt64?
        /// Meters in the service's sum.
        public let meters: Int
        public let truth: UInt64
        /// The sum is the true one and holds every meter of the group.
        public let exact: Bool
    }

    /// The supplier's sums from the service, label by label, against the simulator's true sums.
    /// Paillier: the service's encrypted group sums, decrypted by the supplier.
    public func labelChecks(supplier: AggregatorClient) async throws -> [LabelCheck] {
        var byLabel: [UInt64: SumEntry] = [:]
        if let decryptor = self.supplier {
            let sums = try await supplier.encryptedSums(group: group, from: 0, to: UInt64(labels - 1))
            for entry in sums.sums {
                guard let bytes = Hex.decode(entry.ciphertext) else {
                    throw ClientError.decoding("an encrypted sum that is not hex")
                }
                let aggregate = PaillierGroupAggregate(
                    group: group, label: entry.label, meters: entry.meters,
                    ciphertext: try decryptor.publicKey.ciphertext(bigEndian: bytes))
                byLabel[entry.label] = SumEntry(
                    label: entry.label, sum: try decryptor.decryptSum(aggregate), meters: entry.meters)
            }
        } else {
            let sums = try await supplier.sums(group: group, from: 0, to: UInt64(labels - 1))
            for entry in sums.sums { byLabel[entry.label] = entry }
        }
        return (0..<labels).map { label in
            let truth = (0..<fleet.meters.count).reduce(UInt64(0)) { $0 + fleet.expectedReadings(meter: $1)[label] }
            let entry = byLabel[UInt64(label)]
            return LabelCheck(
                label: UInt64(label), sum: entry?.sum, meters: entry?.meters ?? 0, truth: truth,
                exact: entry.map { $0.sum == truth && $0.meters == fleet.meters.count } ?? false)
        }
    }

    /// The supplier's sums from the service against the simulator's true sums.
    public func check(supplier: AggregatorClient) async throws -> (exact: Int, mismatches: [String]) {
        var exact = 0
        var mismatches: [String] = []
        for c in try await labelChecks(supplier: supplier) {
            if c.exact {
                exact += 1
            } else if let sum = c.sum {
                mismatches.append("label \(c.label): \(sum) Wh from \(c.meters) meters, true \(c.truth)")
            } else {
                mismatches.append("label \(c.label): no sum (true \(c.truth))")
            }
        }
        return (exact, mismatches)
    }

    /// The median and 99th percentile of the upload requests, ms.
    public var latencyPercentiles: (p50: Double, p99: Double) {
        percentiles(uploadSeconds.map { $0 * 1e3 })
    }
}

/// The p50 and p99 of `values` (nearest rank; 0 when empty).
public func percentiles(_ values: [Double]) -> (p50: Double, p99: Double) {
    guard !values.isEmpty else { return (0, 0) }
    let sorted = values.sorted()
    func rank(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)] }
    return (rank(0.5), rank(0.99))
}

/// A value written by several threads at distinct indices (each index by one thread).
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [T]
    init(_ value: [T]) { storage = value }
    func set(_ i: Int, _ v: T) {
        lock.lock()
        storage[i] = v
        lock.unlock()
    }
    var value: [T] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
