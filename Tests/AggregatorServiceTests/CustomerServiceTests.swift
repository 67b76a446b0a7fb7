import Aggregation
import AggregatorAPI
import AggregatorService
import AggregatorStore
import Crypto
import Customer
import Foundation
import GRDB
import Logging
import MeterCrypto
import MeterSimulator
import ServiceClient
import Testing

/// Every line the service logs, at trace level.
final class LogCapture: @unchecked Sendable {
    let lock = NSLock()
    var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }

    var logger: Logger {
        var logger = Logger(label: "metering.serve") { _ in CapturingHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
    }
}

/// The time the service checks expiry against, moved by the test.
final class TestClock: @unchecked Sendable {
    let lock = NSLock()
    var now = Date(timeIntervalSince1970: 1_800_000_000)

    func advance(_ seconds: TimeInterval) {
        lock.lock()
        now += seconds
        lock.unlock()
    }

    var read: @Sendable () -> Date {
        { [self] in
            lock.lock()
            defer { lock.unlock() }
            return now
        }
    }
}

let granteeName = "energy-advisor"
let granteeToken = "party-token-energy-advisor"
let otherPartyToken = "party-token-someone-else"

/// A service with parties and a test clock, and a fleet whose customers' readings are
/// distinctive (BDEW H25 at 150 MWh a year: 4-digit Wh per interval, 1-minute values in the tens of kW, below the u16 saturation), run for `labels`.
func withCustomerService(
    _ backend: Backend, labels: Int, meters: Int = 3,
    _ body: (TestServer, TestDatabase, NetworkFleet, [CustomerKey], TestClock, LogCapture) async throws -> Void
) async throws {
    guard let database = TestDatabase(backend) else { return }
    let clock = TestClock()
    let capture = LogCapture()
    var configuration = TestServer.configuration(database)
    configuration.partyTokens = [granteeToken: granteeName, otherPartyToken: "someone-else"]
    configuration.clock = clock.read
    let server = try await TestServer(configuration, logger: capture.logger)
    do {
        let fleet = try smallFleet(server, meters: meters, labels: labels) { config in
            config.maxReading = 60_000
            config.sampleSeconds = 60  // 1-minute values in every frame
            config.loadProfiles = .bdew(BDEWHouseholds(.h25, annualKWh: 150_000, annualSpread: 0))
        }
        try await fleet.setUp()
        for label in 0..<labels { await fleet.runLabel(UInt64(label)) }
        try await fleet.flush()
        #expect(fleet.pending == 0)
        #expect(fleet.detailRejected.isEmpty, "\(fleet.detailRejected)")
        let keys = try fleet.fleet.meters.map { try CustomerKey(code: try $0.revealCustomerCode()) }
        try await body(server, database, fleet, keys, clock, capture)
        await fleet.client.shutdown()
    } catch {
        await server.stop()
        await database.remove()
        throw error
    }
    await server.stop()
    await database.remove()
}

/// The names of the needles found in `haystack`, in one pass: each position's next 8 bytes as
/// a word, looked up by each needle length's prefix; a decimal (`digitBounded`) counts only
/// where it is not inside a longer run of digits.
func search(_ haystack: [UInt8], _ needles: [(name: String, bytes: [UInt8], digitBounded: Bool)]) -> [String] {
    func digit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    func word(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }
    var byPrefix: [Int: [UInt64: [Int]]] = [:]
    for (k, n) in needles.enumerated() where !n.bytes.isEmpty {
        let p = min(8, n.bytes.count)
        byPrefix[p, default: [:]][word(n.bytes.prefix(p)), default: []].append(k)
    }
    var found: Set<Int> = []
    var w: UInt64 = 0
    let count = haystack.count
    for i in 0..<count {
        // w = bytes i ..< i + 8 (zeros past the end).
        if i == 0 {
            w = word(haystack.prefix(8)) << UInt64(8 * max(0, 8 - count))
        } else {
            w = w << 8 | (i + 7 < count ? UInt64(haystack[i + 7]) : 0)
        }
        for (p, table) in byPrefix {
            guard i + p <= count, let candidates = table[w >> UInt64(8 * (8 - p))] else { continue }
            for k in candidates where !found.contains(k) {
                let n = needles[k]
                guard i + n.bytes.count <= count, haystack[i..<(i + n.bytes.count)].elementsEqual(n.bytes) else {
                    continue
                }
                if n.digitBounded {
                    let end = i + n.bytes.count
                    guard i == 0 || !digit(haystack[i - 1]), end == count || !digit(haystack[end]) else { continue }
                }
                found.insert(k)
            }
        }
    }
    return found.sorted().map { needles[$0].name }
}

func status(_ error: any Error) -> (Int, String?) {
    guard case ClientError.http(let status, let problem) = error else { return (0, nil) }
    return (status, problem?.title)
}

@Suite("Customers through the service: own detail, grants, revocation, audit (SQLite and PostgreSQL)", .serialized)
struct CustomerServiceTests {
    @Test(
        "each customer reads their own day (96 labels) equal to the meter's readings; the database and the log hold none of them in clear",
        arguments: Backend.allCases)
    func ownDay(_ backend: Backend) async throws {
        try await withCustomerService(backend, labels: 96) { server, database, fleet, keys, _, capture in
            var readings: [(wh: UInt64, minutes: [UInt16?])] = []
            for (i, key) in keys.enumerated() {
                let client = try CustomerClient(baseURL: server.url, key: key)
                let (meter, curve) = try await client.curve()
                await client.shutdown()
                #expect(meter == fleet.fleet.meters[i].id)
                #expect(curve.refused.isEmpty)
                #expect(curve.readings.map(\.label) == (0..<96).map(UInt64.init))
                #expect(curve.readings.map(\.wattHours) == fleet.fleet.expectedReadings(meter: i))
                readings += curve.readings.map { ($0.wattHours, $0.minuteWatts) }
            }
            #expect(readings.count == 3 * 96)
            #expect(readings.allSatisfy { $0.wh >= 1000 }, "readings distinctive enough to search for")
            #expect(
                readings.allSatisfy { $0.minutes.contains { ($0 ?? 0) > 255 } && !$0.minutes.contains(UInt16.max) },
                "1-minute values in every frame")

            // Another customer's w, a made-up w, a party token: nothing.
            let nobody = CustomerKey(bytes: [UInt8](repeating: 7, count: 16))
            let stranger = try CustomerClient(baseURL: server.url, key: nobody)
            do {
                _ = try await stranger.detail()
                Issue.record("an unknown customer read detail")
            } catch {
                #expect(status(error) == (401, "unknownCustomer"))
            }
            await stranger.shutdown()

            // The aggregator's attack on what it stores: every frame tried with every key it
            // holds (the group's frame keys) and with each customer's w and v.
            let store = try await database.open()
            let customerStore = try #require(store as? any CustomerDataStore)
            var tried = 0
            var control: [UInt8] = []
            for key in keys {
                let frames = try await customerStore.details(verifier: key.verifier, labels: 0...95)
                #expect(frames.count == 96)
                control = Array(frames[50].frame[40..<60])
                let candidates =
                    [key.loginSecret, key.verifier]
                    + fleet.fleet.meters.flatMap { m in
                        let k = fleet.fleet.members.frameKey(of: m.id)!
                        return [Array(k[0..<16]), Array(k[16..<32])]
                    }
                for frame in frames.prefix(8) {
                    for candidate in candidates {
                        var plaintext = [UInt8](repeating: 0, count: CustomerDetail.plaintextBytes)
                        var span = plaintext.mutableSpan
                        #expect(throws: CustomerDetailError.notAuthentic) {
                            _ = try CustomerDetail.open(frame.frame.span, customerKey: candidate.span, plaintext: &span)
                        }
                        tried += 1
                    }
                }
            }
            #expect(tried > 0)
            await store.close()

            // Nothing of the readings in clear: the SQLite file (and its WAL), and the log.
            func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * $0)) } }
            var places: [(String, [UInt8], Bool)] = [("log", Array(capture.text.utf8), true)]
            if backend == .sqlite {
                // The file and its write-ahead log (frames not yet checkpointed are there), as one.
                var files: [UInt8] = []
                for suffix in ["", "-wal"] {
                    if let data = FileManager.default.contents(atPath: database.location + suffix) {
                        files += [UInt8](data) + [UInt8](repeating: 0x5A, count: 64)
                    }
                }
                #expect(files.count > 100_000)
                places.append(("the SQLite file and its WAL", files, false))
            }
            #expect(capture.lines.count > 0)
            // In the log (text) every encoding; in the database file the bare u64 is six zero
            // bytes and two more, which zero-filled pages hold by chance (5 of 288 readings in a
            // run), so there it is searched as the plaintext holds it: followed by the minutes.
            for (name, bytes, isText) in places {
                var needles: [(name: String, bytes: [UInt8], digitBounded: Bool)] = []
                for r in readings {
                    let minutes = r.minutes.flatMap { m in m.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } ?? [0, 0] }
                    needles.append(("\(r.wh) decimal", Array(String(r.wh).utf8), true))
                    if isText {
                        needles.append(("\(r.wh) u64be", u64(r.wh), false))
                        needles.append(("\(r.wh) u64le", u64(r.wh).reversed(), false))
                    } else {
                        needles.append(("\(r.wh) u64be with its first minutes", u64(r.wh) + minutes.prefix(4), false))
                    }
                    needles.append(("\(r.wh)'s minutes as u16be", minutes, false))
                }
                let found = search(bytes, needles)
                if !isText {
                    // The control: the search does find what the file holds (a stored frame's bytes).
                    #expect(search(bytes, [("control", control, false)]) == ["control"], "\(name)")
                }
                #expect(found.isEmpty, "\(name): \(found.prefix(5))")
            }
        }
    }

    @Test(
        "a grant lets its grantee read exactly its labels; other parties, expired and revoked grants, wrongly signed grants are refused; the audit log lists it all and a changed entry is detected",
        arguments: Backend.allCases)
    func grants(_ backend: Backend) async throws {
        try await withCustomerService(backend, labels: 8) { server, database, fleet, keys, clock, _ in
            let customer = try CustomerClient(baseURL: server.url, key: keys[0])
            let grantee = Curve25519.KeyAgreement.PrivateKey()
            let (_, curve) = try await customer.curve()
            #expect(curve.readings.count == 8)

            // A grant of labels 2 ... 5.
            let upload = try Grants.make(
                key: keys[0], readings: curve.readings, grantee: granteeName, granteeKey: grantee.publicKey,
                labels: 2...5, purpose: "heat-pump sizing", expires: nil, now: clock.read())
            #expect(
                !upload.body.contains(Hex.encode(keys[0].bytes))
                    && !upload.body.contains(Hex.encode(keys[0].loginSecret)))
            let created = try await customer.upload(upload)
            #expect(created.status == "active" && created.from == 2 && created.to == 5)

            // The grantee reads exactly the granted labels, equal to the meter's readings.
            let party = try AggregatorClient(baseURL: server.url, token: granteeToken)
            let read = try Grants.open(try await party.grantDetail(created.id), with: grantee)
            #expect(read.records.map(\.label) == [2, 3, 4, 5])
            #expect(read.records.map(\.wh) == Array(fleet.fleet.expectedReadings(meter: 0)[2...5]))
            // Asking for more changes nothing: the records are the grant's.
            let more = try await party.send(.GET, "/v1/grants/\(created.id)/detail?from=0&to=7")
            let moreBody = try JSONDecoder().decode(GrantDetailResponse.self, from: Data(more.body))
            #expect(try Grants.open(moreBody, with: grantee).records.map(\.label) == [2, 3, 4, 5])
            // The party cannot use the customer's routes, nor another key the records.
            let asCustomer = try await party.send(.GET, "/v1/customer/detail")
            #expect(asCustomer.status == 401)
            #expect(throws: GrantError.self) {
                _ = try Grants.open(moreBody, with: Curve25519.KeyAgreement.PrivateKey())
            }

            // Another party's token, no token, the operator's token.
            for (token, expected) in [(otherPartyToken, 403), (nil, 401), (operatorToken, 401)] as [(String?, Int)] {
                let client = try AggregatorClient(baseURL: server.url, token: token)
                do {
                    _ = try await client.grantDetail(created.id)
                    Issue.record("token \(token ?? "none") read the grant")
                } catch {
                    #expect(status(error).0 == expected)
                }
                await client.shutdown()
            }

            // Wrongly signed: the body changed after signing; signed by another customer's key.
            var changed = upload
            changed.body = upload.body.replacingOccurrences(of: "heat-pump sizing", with: "marketing")
            do {
                _ = try await customer.upload(changed)
                Issue.record("a changed grant was accepted")
            } catch { #expect(status(error) == (403, "badGrantSignature")) }
            let impostor = try Grants.make(
                key: keys[1], readings: [], grantee: granteeName, granteeKey: grantee.publicKey, labels: 0...0,
                purpose: "x", expires: nil, now: clock.read(), requireRecords: false)
            var body = try JSONDecoder().decode(GrantBody.self, from: Data(impostor.body.utf8))
            body.customer = Hex.encode(keys[0].verifier)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let text = String(decoding: try encoder.encode(body), as: UTF8.self)
            let resigned = GrantUpload(
                body: text, signature: Hex.encode(Array(try keys[1].signingKey.signature(for: Data(text.utf8)))),
                sealed: impostor.sealed)
            do {
                _ = try await customer.upload(resigned)
                Issue.record("a grant under another signing key was accepted")
            } catch { #expect(status(error) == (403, "badGrantSignature")) }

            // An expiring grant: readable before, refused after.
            let expiring = try await customer.upload(
                try Grants.make(
                    key: keys[0], readings: curve.readings, grantee: granteeName, granteeKey: grantee.publicKey,
                    labels: 0...1, purpose: "one hour", expires: Grants.iso8601(clock.read() + 3600), now: clock.read())
            )
            #expect(try Grants.open(try await party.grantDetail(expiring.id), with: grantee).records.count == 2)
            clock.advance(7200)
            do {
                _ = try await party.grantDetail(expiring.id)
                Issue.record("an expired grant was served")
            } catch { #expect(status(error) == (403, "grantExpired")) }

            // Revocation: refused from then on, and the sealed records are gone.
            let revoked = try await customer.revoke(created.id)
            #expect(revoked.status == "revoked" && revoked.revoked != nil)
            do {
                _ = try await party.grantDetail(created.id)
                Issue.record("a revoked grant was served")
            } catch { #expect(status(error) == (403, "grantRevoked")) }
            let store = try await database.open()
            let kept = try await (store as! any CustomerDataStore).grant(id: created.id)
            #expect(kept?.sealed.isEmpty == true)
            await store.close()
            let list = try await customer.grants()
            #expect(Set(list.grants.map(\.status)) == ["revoked", "expired"])

            // The audit log: grant, accesses, refusals, revocation, chained.
            let log = try await customer.audit()
            try AuditChain.verify(log.entries)
            let kinds = log.entries.map(\.kind)
            #expect(kinds.first == "grant-created" && kinds.last == "access-refused")
            #expect(kinds.filter { $0 == "grant-created" }.count == 2)
            #expect(kinds.filter { $0 == "access" }.count == 3)
            #expect(kinds.filter { $0 == "revoked" }.count == 1)
            #expect(kinds.filter { $0 == "access-refused" }.count == 5)
            #expect(log.entries.contains { $0.kind == "access-refused" && $0.party == "someone-else" })
            #expect(
                log.entries.contains { $0.kind == "access" && $0.party == granteeName && $0.from == 2 && $0.to == 5 })
            // Another customer's log is theirs alone.
            let second = try CustomerClient(baseURL: server.url, key: keys[1])
            #expect(try await second.audit().entries.isEmpty)
            await second.shutdown()

            // A later edit of an entry (the service rewriting its log) is detected, and so is
            // a log that drops entries the customer saw.
            if backend == .sqlite {
                let queue = try DatabaseQueue(path: database.location)
                try await queue.write { db in
                    try db.execute(sql: "UPDATE customer_audit SET party = 'nobody' WHERE seq = 2")
                }
                try queue.close()
                let tampered = try await customer.audit()
                #expect(throws: AuditChain.Break.content(seq: 2)) { try AuditChain.verify(tampered.entries) }
            }
            let head = (seq: log.entries.last!.seq, hash: log.entries.last!.hash)
            #expect(throws: AuditChain.Break.self) {
                try AuditChain.verify(Array(log.entries.dropLast()), knownHead: head)
            }
            await party.shutdown()
            await customer.shutdown()
        }
    }

    @Test(
        "a detail frame repeated is acknowledged again; another frame for the same label is refused and nothing changes"
    )
    func detailRepeatsAndConflicts() async throws {
        guard let database = TestDatabase(.sqlite) else { return }
        let server = try await TestServer(TestServer.configuration(database))
        let fleet = try smallFleet(server, labels: 1)
        try await fleet.setUp()
        _ = await fleet.runInterval(0)
        let detail = fleet.takeDetailFrames()
        #expect(detail.count == 3 && detail.allSatisfy { $0.count == CustomerDetail.frameBytes })
        let first = try await fleet.client.upload(detail)
        #expect(first.allSatisfy { if case .stored = $0 { true } else { false } })
        let again = try await fleet.client.upload(detail)
        #expect(again.allSatisfy { if case .acknowledgedAgain = $0 { true } else { false } })
        // An authentic frame (right frame tag) with other sealed bytes for the same label.
        let firstDetail = detail[0]
        let header = try Frame.parseHeader(firstDetail.span)
        let payload = Array(detail[0][Frame.payloadRange(header)])
        var other = payload
        other[40] ^= 1
        let forged = FrameIntake(members: fleet.fleet.members).seal(
            .customerDetail, to: header.meter, label: header.label, payload: other)
        let answer = try await fleet.client.send(
            .POST, "/v1/uplink", body: forged, contentType: "application/octet-stream")
        #expect(answer.status == 409)
        #expect(problem(answer)?.title == "labelReused")
        let store = try await database.open()
        let kept = try await (store as! any CustomerDataStore).details(
            verifier: Array(detail[0][CustomerDetail.verifierRange]), labels: 0...0)
        #expect(kept.map(\.frame) == [detail[0]])
        await store.close()
        await fleet.client.shutdown()
        await server.stop()
        await database.remove()
    }
}
