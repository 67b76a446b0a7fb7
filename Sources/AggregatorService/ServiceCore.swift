import Aggregation
import AggregatorAPI
import AggregatorStore
import Foundation
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
    /// Parties customers grant access to: bearer token → party name (`--party NAME=TOKEN`).
    public var partyTokens: [String: String] = [:]
    /// The time grants expire against (tests set their own).
    public var clock: @Sendable () -> Date = { Date() }

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
        guard request.scheme == "lwr-psa" || request.scheme == "paillier" else {
            throw .unsupportedScheme(request.scheme)
        }
        guard served?.contains(request.group) ?? true else { throw .notServedHere(request.group) }
        var scheme = SchemeID.lwrPSA
        var parameterID: UInt8 = 0
        var keyMode: UInt8 = 0
        var paillier: PaillierGroupRecord? = nil
        var authorityKey: [UInt8]? = nil
        if request.scheme == "paillier" {
            guard request.authority_key == nil else {
                throw .badRequest(
                    "\"authority_key\" is for scheme lwr-psa: a Paillier group's is paillier.authority_key")
            }
            // The supplier's key, the signed layout and key statements (checked by the engine).
            guard let handOver = request.paillier else { throw .badRequest("scheme paillier needs \"paillier\"") }
            scheme = .paillier
            paillier = try Self.decode(handOver)
        } else {
            guard request.paillier == nil else { throw .badRequest("\"paillier\" is for scheme paillier only") }
            switch request.parameters {
            case "standard": parameterID = LWRParameters.standard.id
            case "turbo": parameterID = LWRParameters.turbo.id
            default: throw .badRequest("parameters must be standard or turbo")
            }
            switch request.key_mode {
            case "seed": keyMode = 0
            case "expanded": keyMode = 1
            default: throw .badRequest("key_mode must be seed or expanded")
            }
            if let hex = request.authority_key {
                guard let key = Hex.decode(hex), key.count == Statement.signatureParameters.publicKeyBytes else {
                    throw .badRequest(
                        "authority_key is the authority's SLH-DSA public key, \(Statement.signatureParameters.publicKeyBytes) bytes in hex"
                    )
                }
                authorityKey = key
            }
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
            group: request.group, scheme: scheme.rawValue, epoch: request.epoch, parameterID: parameterID,
            keyMode: keyMode, maxReading: request.max_reading, frameKeys: keys, currentLabel: request.current_label,
            lookback: request.lookback, paillier: paillier, authorityKey: authorityKey)
        guard engines[request.group] == nil else { throw .groupExists(request.group) }
        let engine = try GroupEngine.fresh(record: record, store: store)
        do { try await store.insertGroup(record) } catch {
            if case .groupExists(let g) = error { throw .groupExists(g) }
            throw .store(error)
        }
        engines[request.group] = engine
        logger.info(
            "group created",
            metadata: ["group": "\(request.group)", "scheme": "\(request.scheme)", "meters": "\(keys.count)"])
        return engine
    }

    /// A Paillier hand-over's hex fields as bytes.
    static func decode(_ handOver: PaillierHandOver) throws(ServiceError) -> PaillierGroupRecord {
        func bytes(_ hex: String, _ what: String) throws(ServiceError) -> [UInt8] {
            guard let b = Hex.decode(hex), !b.isEmpty else { throw .badRequest("paillier.\(what) is not hex") }
            return b
        }
        func signed(_ s: SignedStatementJSON, _ what: String) throws(ServiceError) -> SignedBytes {
            SignedBytes(body: try bytes(s.body, "\(what).body"), signature: try bytes(s.signature, "\(what).signature"))
        }
        var statements: [UInt32: SignedBytes] = [:]
        for (id, statement) in handOver.key_statements {
            guard let meter = UInt32(id) else { throw .badRequest("key_statements maps decimal meter ids") }
            statements[meter] = try signed(statement, "key_statements.\(id)")
        }
        return PaillierGroupRecord(
            modulus: try bytes(handOver.modulus, "modulus"),
            authorityKey: try bytes(handOver.authority_key, "authority_key"),
            layout: try signed(handOver.layout, "layout"), keyStatements: statements)
    }
}
