import Aggregation
import AggregatorAPI
import AggregatorStore
import Logging
import MeterCrypto

/// What `metering serve` is started with.
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (see `AggregatorServer.run(onListening:)`).
    public var port = 8080
    /// An SQLite path (or `sqlite:PATH`) or a `postgres://` URL.
    public var database = "metering.sqlite"
    /// Bearer tokens of the operator role (group creation, status, alarms; sums too).
    public var operatorTokens: [String] = []
    /// Bearer tokens of the supplier role (sums only).
    public var supplierTokens: [String] = []
    /// The largest request body accepted, bytes.
    public var maxBodyBytes = 4 << 20
    /// The most frames one batch upload may carry.
    public var maxBatchFrames = 20_000
    /// PEM certificate chain and private key: the service speaks HTTPS only.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Plain HTTP, only when asked for (`--insecure-http`).
    public var insecureHTTP = false
    /// The groups this instance serves (nil: every group it finds or is asked to create).
    /// Instances sharing one database split the groups between them with this.
    public var groups: Set<UInt32>? = nil

    public init() {}
}

/// The groups the service runs, each behind its own `GroupEngine`, over one store.
actor ServiceCore {
    let store: any AggregatorStore
    let metrics: ServiceMetrics
    let logger: Logger
    var engines: [UInt32: GroupEngine] = [:]

    /// The groups served (nil: all).
    let served: Set<UInt32>?

    init(store: any AggregatorStore, metrics: ServiceMetrics, logger: Logger, served: Set<UInt32>? = nil) {
        self.served = served
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// Loads every stored group (replaying its setup frames and the readings in its window).
    func loadGroups() async throws(ServiceError) {
        let records: [GroupRecord]
        do { records = try await store.groups() } catch { throw .store(error) }
        for record in records where served?.contains(record.group) ?? true {
            engines[record.group] = try await GroupEngine.load(record: record, store: store)
            logger.info(
                "group loaded", metadata: ["group": "\(record.group)", "phase": "\(engines[record.group]!.phase)"])
        }
    }

    func engine(_ group: UInt32) throws(ServiceError) -> GroupEngine {
        guard let engine = engines[group] else { throw .unknownGroup(group) }
        return engine
    }

    var allEngines: [GroupEngine] { engines.keys.sorted().map { engines[$0]! } }

    /// Creates a group from the authority's hand-over (frame keys for this epoch).
    func createGroup(_ request: GroupCreation) async throws(ServiceError) -> GroupEngine {
        guard request.scheme == "lwr-psa" else { throw .unsupportedScheme(request.scheme) }
        guard served?.contains(request.group) ?? true else { throw .notServedHere(request.group) }
        let parameters: LWRParameters
        switch request.parameters {
        case "standard": parameters = .standard
        case "turbo": parameters = .turbo
        default: throw .badRequest("parameters must be standard or turbo")
        }
        let keyMode: UInt8
        switch request.key_mode {
        case "seed": keyMode = 0
        case "expanded": keyMode = 1
        default: throw .badRequest("key_mode must be seed or expanded")
        }
        guard request.current_label <= UInt64(Int64.max), request.lookback >= 1, request.lookback <= 96 * 366 else {
            throw .badRequest("current_label below 2^63 and lookback 1 ... 35136")
        }
        var keys: [UInt32: [UInt8]] = [:]
        for (id, hex) in request.frame_keys {
            guard let meter = UInt32(id), let key = Hex.decode(hex) else {
                throw .badRequest("frame_keys maps decimal meter ids to hex keys")
            }
            keys[meter] = key
        }
        let record = GroupRecord(
            group: request.group, scheme: SchemeID.lwrPSA.rawValue, epoch: request.epoch, parameterID: parameters.id,
            keyMode: keyMode, maxReading: request.max_reading, frameKeys: keys, currentLabel: request.current_label,
            lookback: request.lookback)
        guard engines[request.group] == nil else { throw .groupExists(request.group) }
        let engine = try GroupEngine.fresh(record: record, store: store)
        do { try await store.insertGroup(record) } catch {
            if case .groupExists(let g) = error { throw .groupExists(g) }
            throw .store(error)
        }
        engines[request.group] = engine
        logger.info("group created", metadata: ["group": "\(request.group)", "meters": "\(keys.count)"])
        return engine
    }
}
