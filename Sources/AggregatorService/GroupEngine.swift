import Aggregation
import AggregatorAPI
import AggregatorStore
import BigNum
import MeterCrypto

/// A lock that async code can hold across suspension points (a database commit): one
/// holder at a time, waiters served in arrival order.
actor AsyncLock {
    var locked = false
    var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if locked {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            locked = true
        }
    }

    func unlock() {
        if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
    }
}

/// What collects a group's readings: the LWR-PSA aggregator (holds K, decrypts its own
/// sums) or the Paillier aggregator (holds no key: its sums are the products of the
/// meters' ciphertexts, which only the supplier can open).
enum Collector {
    case lwr(LWRAggregator)
    case paillier(PaillierAggregator)

    func acceptAndAcknowledge(_ frame: [UInt8]) throws(AggregationError) -> ReadingReceipt {
        switch self {
        case .lwr(let a): return try a.acceptAndAcknowledge(frame)
        case .paillier(let a): return try a.acceptAndAcknowledge(frame)
        }
    }

    func accept(_ frame: [UInt8]) throws(AggregationError) -> Int {
        switch self {
        case .lwr(let a): return try a.accept(frame)
        case .paillier(let a): return try a.accept(frame)
        }
    }

    func advance(to label: UInt64) throws(AggregationError) {
        switch self {
        case .lwr(let a): try a.advance(to: label)
        case .paillier(let a): try a.advance(to: label)
        }
    }

    /// The complete label's row: its decrypted sum, or the encrypted one (sum 0).
    func labelSum(_ label: UInt64, meters: Int) throws(AggregationError) -> LabelSum {
        switch self {
        case .lwr(let a):
            return LabelSum(label: label, sum: try a.decryptSum(label: label), meters: meters)
        case .paillier(let a):
            let aggregate = try a.aggregate(label: label)
            let bytes = aggregate.ciphertext.value.bigEndianBytes(length: a.publicKey.ciphertextBytes)!
            return LabelSum(label: label, sum: 0, meters: aggregate.meters, ciphertext: bytes)
        }
    }
}

/// One group inside the service: the Aggregation module's key-setup relay and LWR-PSA
/// aggregator, or its Paillier aggregator (which do every frame check and every sum), in
/// front of the store.
///
/// Invariant: the in-memory state is what replaying the stored rows gives. Each request
/// runs under the group's lock: frames go through the aggregator in memory, the new rows
/// are committed in one transaction, and only then are acks returned. When a commit fails
/// the memory is ahead of the store, so it is rebuilt from the store before the next
/// request (and the failed request gets no ack: the meters re-send).
final class GroupEngine: @unchecked Sendable {
    let lock = AsyncLock()
    let store: any AggregatorStore
    var record: GroupRecord
    var members: GroupMembers
    /// LWR-PSA only: the parameter set and the key-setup relay.
    let parameters: LWRParameters?
    var setup: LWRKeySetup?
    var aggregator: Collector?
    /// Paillier only: the supplier's public key and the meters' key statements.
    let paillierKey: PaillierPublicKey?
    var keyStatements: [UInt32: SignedStatement] = [:]
    /// Paillier: meters with a reading in memory (they hold the key: no statement for them).
    var heard: Set<UInt32> = []
    /// Meters whose key shares have been accepted (they need no more setup frames).
    var sharesFrom: Set<UInt32> = []
    var enrolRequests: [UInt32: [UInt8]] = [:]
    /// True after a failed commit: memory must be rebuilt from the store first.
    var stale = false
    /// LWR-PSA under a statistics plan: its side of the engine (AnalyticsRoutes.swift).
    var analytics = EngineAnalytics()
    /// Bills made on the meters: the tariff relayed to them, bills to commit (BillingRoutes.swift).
    var billing = EngineBilling()

    var group: UInt32 { record.group }

    private init(record: GroupRecord, store: any AggregatorStore) throws(ServiceError) {
        self.record = record
        self.store = store
        if record.scheme == SchemeID.paillier.rawValue {
            guard let handOver = record.paillier else { throw .badRequest("a Paillier group needs its hand-over") }
            parameters = nil
            do throws(AggregationError) {
                members = try GroupMembers(
                    group: record.group, epoch: record.epoch, scheme: .paillier, frameKeys: record.frameKeys)
                let (key, layout, statements) = try Self.check(handOver, members: members)
                paillierKey = key
                keyStatements = statements
                aggregator = .paillier(
                    try PaillierAggregator(
                        members: members, publicKey: key, layout: layout, currentLabel: record.currentLabel,
                        lookback: record.lookback, keepsReadings: false))
            } catch {
                throw .frame(error)
            }
            return
        }
        guard record.scheme == SchemeID.lwrPSA.rawValue else { throw .unsupportedScheme("\(record.scheme)") }
        guard let parameters = LWRParameters.withID(record.parameterID) else {
            throw .badRequest("unknown LWR parameter set \(record.parameterID)")
        }
        self.parameters = parameters
        paillierKey = nil
        let setup: LWRKeySetup
        do {
            members = try GroupMembers(
                group: record.group, epoch: record.epoch, scheme: .lwrPSA, frameKeys: record.frameKeys)
            setup = try LWRKeySetup(
                members: members, parameters: parameters, maxReading: record.maxReading, keyMode: record.keyMode)
        } catch {
            throw .frame(error)
        }
        self.setup = setup
        for (meter, frame) in setup.enrolFrames() { enrolRequests[meter] = frame }
    }

    /// Checks a Paillier hand-over against the group: the layout is signed by the authority,
    /// passes the differencing check and holds exactly the group's meters; every meter has
    /// a key statement the authority signed for this key, this meter and the layout's epoch
    /// and groups (the meters check the signature again; the service relays only these).
    static func check(_ handOver: PaillierGroupRecord, members: GroupMembers) throws(AggregationError) -> (
        PaillierPublicKey, GroupLayout, [UInt32: SignedStatement]
    ) {
        let key: PaillierPublicKey
        do { key = try PaillierPublicKey(n: BigInt(bigEndian: handOver.modulus)) } catch {
            throw .invalidGroup("the Paillier key: \(error)")
        }
        let layout = try GroupLayout(
            signed: SignedStatement(body: handOver.layout.body, signature: handOver.layout.signature),
            authorityKey: handOver.authorityKey)
        guard layout.meters(of: members.group) == members.meters else {
            throw .invalidGroup("the signed layout does not hold group \(members.group) with these meters")
        }
        var statements: [UInt32: SignedStatement] = [:]
        for meter in members.meters {
            guard let given = handOver.keyStatements[meter] else {
                throw .invalidGroup("no key statement for meter \(meter)")
            }
            let statement = SignedStatement(body: given.body, signature: given.signature)
            let expected = PaillierKeyStatement.body(
                publicKey: key, meter: meter, groups: layout.groups(of: meter), epoch: layout.epoch)
            guard statement.body == expected, statement.verifies(authorityKey: handOver.authorityKey) else {
                throw .unsignedStatement(
                    "meter \(meter)'s key statement is not the authority's for this key and layout")
            }
            statements[meter] = statement
        }
        guard handOver.keyStatements.count == members.count else {
            throw .invalidGroup("key statements for meters outside the group")
        }
        return (key, layout, statements)
    }

    /// A new group's engine (nothing to replay).
    static func fresh(record: GroupRecord, store: any AggregatorStore) throws(ServiceError) -> GroupEngine {
        try GroupEngine(record: record, store: store)
    }

    /// A stored group's engine: replays its key-setup frames and the readings inside its window.
    static func load(record: GroupRecord, store: any AggregatorStore) async throws(ServiceError) -> GroupEngine {
        let engine = try GroupEngine(record: record, store: store)
        try await engine.replay()
        return engine
    }

    func replay() async throws(ServiceError) {
        let frames: [[UInt8]]
        do { frames = try await store.setupFrames(group: group) } catch { throw .store(error) }
        do {
            // Public keys first, then the signed statement, then the key shares: the order
            // they can only have been accepted in.
            if setup != nil {
                for frame in frames where Self.type(of: frame) == .publicKey { try setup!.receivePublicKey(frame) }
                if let signed = record.signed { try install(signed) }
                for frame in frames where Self.type(of: frame) == .keyShare {
                    try setup!.receiveKeyShare(frame)
                    sharesFrom.insert(try Frame.header(frame).meter)
                }
            }
            try startCollectingIfComplete()
            guard let aggregator else { return }
            let from = record.currentLabel >= record.lookback ? record.currentLabel - record.lookback : 0
            let readings: [StoredReading]
            do { readings = try await store.readings(group: group, fromLabel: from) } catch {
                throw ServiceError.store(error)
            }
            for reading in readings {
                _ = try aggregator.accept(reading.frame)
                heard.insert(reading.meter)
            }
            try await replayAnalytics()
            try await replayBilling()
        } catch let error as ServiceError {
            throw error
        } catch let error as AggregationError {
            throw .frame(error)
        } catch {
            preconditionFailure("replay throws only typed errors: \(error)")
        }
    }

    static func type(of frame: [UInt8]) -> FrameType? { try? Frame.header(frame).type }

    func install(_ signed: SignedGroupRecord) throws(AggregationError) {
        let roster = try RosterTree(publicKeys: signed.rosterKeys)
        guard setup != nil else { throw .wrongScheme(expected: .lwrPSA, actual: members.scheme) }
        for (meter, key) in signed.rosterKeys {
            guard let enrolled = setup!.enrolments[meter], Array(enrolled.prefix(key.count)) == key else {
                throw .invalidGroup("the roster's key of meter \(meter) is not the one it enrolled")
            }
        }
        try setup!.install(
            SignedGroup(statement: SignedStatement(body: signed.body, signature: signed.signature), roster: roster))
    }

    func startCollectingIfComplete() throws(AggregationError) {
        guard aggregator == nil, let setup, let parameters, setup.isComplete else { return }
        aggregator = .lwr(
            try LWRAggregator(
                members: members, parameters: parameters, bounds: setup.bounds, aggregateKey: try setup.aggregateKey(),
                currentLabel: record.currentLabel, lookback: record.lookback))
    }

    /// Rebuilds memory from the store (after a failed commit).
    func reload() async throws(ServiceError) {
        let records: [GroupRecord]
        do { records = try await store.groups() } catch { throw .store(error) }
        guard let stored = records.first(where: { $0.group == group }) else { throw .unknownGroup(group) }
        let fresh = try GroupEngine(record: stored, store: store)
        try await fresh.replay()
        record = fresh.record
        members = fresh.members
        setup = fresh.setup
        aggregator = fresh.aggregator
        sharesFrom = fresh.sharesFrom
        keyStatements = fresh.keyStatements
        heard = fresh.heard
        analytics = fresh.analytics
        stale = false
    }

    /// Runs `body` under the group's lock, on memory that matches the store.
    func locked<T>(_ body: () async throws(ServiceError) -> T) async throws(ServiceError) -> T {
        await lock.lock()
        do {
            if stale { try await reload() }
            let result = try await body()
            await lock.unlock()
            return result
        } catch {
            await lock.unlock()
            throw error
        }
    }

    // MARK: - uplink

    /// What `upload` did: an outcome per frame and what to count.
    struct UploadResult {
        var outcomes: [UploadOutcome]
        /// The typed error of each rejected frame, by index.
        var errors: [Int: ServiceError] = [:]
        var stored = 0
        var again = 0
        var labelsDecrypted = 0
    }

    /// Runs the group's frames through the aggregator, commits what is new in one
    /// transaction, and returns one outcome per frame (acks only once committed).
    func upload(_ frames: [[UInt8]]) async throws(ServiceError) -> UploadResult {
        try await locked { () async throws(ServiceError) -> UploadResult in
            var result = UploadResult(outcomes: Array(repeating: .rejected(error: "pending"), count: frames.count))
            var commit = StoreCommit(group: group)
            /// Frames the aggregator did not count (repeats, late): index, key, ack.
            var repeats: [(index: Int, key: ReadingKey, ack: [UInt8])] = []
            var pending: [ReadingKey: [UInt8]] = [:]
            for (index, frame) in frames.enumerated() {
                do throws(AggregationError) {
                    let header = try Frame.header(frame)
                    switch header.type {
                    case .publicKey:
                        guard setup != nil, setup!.signedGroup == nil else {
                            throw .keySetupProtocol(meter: header.meter)
                        }
                        try setup!.receivePublicKey(frame)
                        commit.setupFrames.append(frame)
                        result.outcomes[index] = .stored(ack: [])
                    case .keyShare:
                        guard setup?.signedGroup != nil, aggregator == nil else {
                            throw .keySetupProtocol(meter: header.meter)
                        }
                        try setup!.receiveKeyShare(frame)
                        sharesFrom.insert(header.meter)
                        commit.setupFrames.append(frame)
                        result.outcomes[index] = .stored(ack: [])
                        try startCollectingIfComplete()
                    case .reading:
                        guard let aggregator else { throw .keySetupIncomplete }
                        guard header.label <= UInt64(Int64.max) else { throw .labelOutOfRange(header.label) }
                        let receipt: ReadingReceipt
                        do throws(AggregationError) {
                            receipt = try aggregator.acceptAndAcknowledge(frame)
                        } catch .labelOutsideWindow(let label, let accepted) where label > accepted.upperBound {
                            // The tag verified before the window was checked: an authentic
                            // reading for a newer label moves the window to it.
                            try aggregator.advance(to: label)
                            commit.currentLabel = label
                            record.currentLabel = label
                            receipt = try aggregator.acceptAndAcknowledge(frame)
                        }
                        let key = ReadingKey(meter: header.meter, label: header.label)
                        if let reported = receipt.reported {
                            commit.readings.append(
                                StoredReading(meter: header.meter, label: header.label, frame: frame))
                            heard.insert(header.meter)
                            pending[key] = frame
                            if reported == members.count {
                                commit.sums.append(try aggregator.labelSum(header.label, meters: reported))
                            }
                            result.outcomes[index] = .stored(ack: receipt.ack)
                        } else {
                            repeats.append((index, key, receipt.ack))
                        }
                        noteReading(header)
                    case .statistics:
                        try acceptStatistics(frame, header)
                        result.outcomes[index] = .stored(ack: [])
                    case .bill:
                        result.outcomes[index] = .stored(ack: try acceptMeterBill(frame))
                    default:
                        // The shared intake names the refusal (a bad tag before a wrong type).
                        _ = try FrameIntake(members: members).open(frame, expecting: .reading)
                        throw .unexpectedType(header.type)
                    }
                } catch {
                    if case .labelReused(let meter, let label) = error {
                        commit.alarms.append(StoredAlarm(meter: meter, label: label, kind: error.name, frame: frame))
                    }
                    result.outcomes[index] = .rejected(error: error.name)
                    result.errors[index] = .frame(error)
                }
            }
            // A frame the aggregator did not count is acknowledged again only if it is the
            // stored one byte for byte; a different frame for a stored key is label reuse.
            if !repeats.isEmpty {
                let stored: [ReadingKey: [UInt8]]
                do throws(StoreError) {
                    stored = try await store.storedFrames(
                        group: group, keys: repeats.map(\.key).filter { pending[$0] == nil })
                } catch {
                    stale = !commit.isEmpty
                    throw .store(error)
                }
                for r in repeats {
                    let frame = frames[r.index]
                    if let first = pending[r.key] ?? stored[r.key], first != frame {
                        commit.alarms.append(
                            StoredAlarm(meter: r.key.meter, label: r.key.label, kind: "labelReused", frame: frame))
                        result.outcomes[r.index] = .rejected(error: "labelReused")
                        result.errors[r.index] = .frame(.labelReused(meter: r.key.meter, label: r.key.label))
                    } else {
                        result.outcomes[r.index] = .acknowledgedAgain(ack: r.ack)
                        result.again += 1
                    }
                }
            }
            do throws(StoreError) { try await store.commit(commit) } catch {
                stale = true
                throw .store(error)
            }
            try await commitAnalytics()
            try await commitMeterBills()
            result.stored = commit.readings.count + commit.setupFrames.count
            result.labelsDecrypted = commit.sums.count
            return result
        }
    }

    // MARK: - downlink, operator

    /// The frames waiting for `meter` in this group: its enrolment request, then the
    /// signed statement and the roster; nothing once it sent its key shares.
    func downlink(meter: UInt32) async throws(ServiceError) -> [[UInt8]] {
        try await locked { () throws(ServiceError) -> [[UInt8]] in
            // Paillier: the meter's signed key statement until a reading of it came in (the
            // readings in the window, after a restart).
            if case .paillier(let paillier) = aggregator {
                guard let statement = keyStatements[meter], !heard.contains(meter) else { return [] }
                return paillier.keyStatementFrames(statement, meter: meter)
            }
            if aggregator != nil { return analyticsDownlink(meter: meter) + billingDownlink(meter: meter) }
            guard aggregator == nil, members.frameKey(of: meter) != nil, let setup else { return [] }
            if setup.signedGroup == nil {
                return setup.enrolments[meter] == nil ? [enrolRequests[meter]!] : []
            }
            guard !sharesFrom.contains(meter) else { return [] }
            do throws(AggregationError) { return try setup.setupFrames(for: meter) } catch { throw .frame(error) }
        }
    }

    func enrolments() async throws(ServiceError) -> [UInt32: [UInt8]] {
        try await locked { () throws(ServiceError) -> [UInt32: [UInt8]] in setup?.enrolments ?? [:] }
    }

    /// Installs the authority's signed parameters once every public key is in, and stores them.
    func installSigned(_ signed: SignedGroupRecord) async throws(ServiceError) {
        try await locked { () async throws(ServiceError) in
            if let stored = record.signed {
                guard stored == signed else { throw .wrongPhase("group \(group) has other signed parameters") }
                return
            }
            guard let setup else { throw .wrongPhase("group \(group) is a Paillier group: no signed parameters") }
            // The meters check the signature themselves; the service checks it too when it has the
            // authority's key, so a forged statement is refused here, by name, and never stored.
            if let authorityKey = record.authorityKey,
                !SignedStatement(body: signed.body, signature: signed.signature).verifies(authorityKey: authorityKey)
            {
                throw .frame(.unsignedStatement("the group parameters are not signed by the group's authority_key"))
            }
            guard setup.allPublicKeysReceived else {
                throw .wrongPhase(
                    "group \(group) has \(setup.enrolments.count) of \(members.count) public keys: sign when all are in"
                )
            }
            do throws(AggregationError) { try install(signed) } catch { throw .frame(error) }
            do throws(StoreError) { try await store.updateSignedGroup(group: group, signed: signed) } catch {
                stale = true
                throw .store(error)
            }
            record.signed = signed
        }
    }

    /// The authority key the group was created with, to check a `what` the service acts on
    /// (statistics plan, tariff): `unsignedStatement` when the group was created without one.
    func authorityKey(checking what: String) throws(AggregationError) -> [UInt8] {
        guard let key = record.authorityKey else {
            throw .unsignedStatement("group \(group) was created without authority_key: no \(what) can be checked")
        }
        return key
    }

    var phase: String {
        if aggregator != nil { return "collecting" }
        if setup?.signedGroup != nil { return "key-setup" }
        return setup?.allPublicKeysReceived == true ? "awaiting-signature" : "enrolling"
    }

    var schemeName: String { paillierKey == nil ? "lwr-psa" : "paillier" }

    func status() async throws(ServiceError) -> GroupStatus {
        try await locked { () async throws(ServiceError) -> GroupStatus in
            let stats: GroupStatistics
            do throws(StoreError) { stats = try await store.statistics(group: group) } catch { throw .store(error) }
            return GroupStatus(
                group: group, scheme: schemeName, epoch: record.epoch, meters: members.count, phase: phase,
                public_keys_received: setup?.enrolments.count ?? members.count, meters_reporting: stats.metersReporting,
                readings_stored: stats.readings, labels_complete: stats.labelsComplete,
                newest_label: stats.newestLabel, current_label: record.currentLabel, alarms: stats.alarms)
        }
    }
}

extension Frame {
    /// The header of a frame held as an array (typed as the aggregator reports it).
    static func header(_ frame: [UInt8]) throws(AggregationError) -> FrameHeader {
        do { return try Frame.parseHeader(frame.span) } catch { throw .malformed(error) }
    }
}
