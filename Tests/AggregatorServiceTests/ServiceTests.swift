import Aggregation
import AggregatorAPI
import AggregatorService
import AggregatorStore
import Foundation
import MeterCrypto
import Provisioning
import ServiceClient
import Testing

/// What the store holds for a group: everything a refused request must leave unchanged.
func snapshot(_ database: TestDatabase, group: UInt32) async throws -> (
    readings: [StoredReading], sums: [LabelSum], setup: [[UInt8]], groups: [GroupRecord]
) {
    let store = try await database.open()
    defer { Task { await store.close() } }
    return (
        try await store.readings(group: group, fromLabel: 0), try await store.sums(group: group, labels: 0...1000),
        try await store.setupFrames(group: group), try await store.groups()
    )
}

func problem(_ answer: (status: Int, contentType: String, body: [UInt8])) -> Problem? {
    guard answer.contentType.hasPrefix("application/problem+json") else { return nil }
    return try? JSONDecoder().decode(Problem.self, from: Data(answer.body))
}

@Suite("Aggregator service over HTTP (SQLite and PostgreSQL)", .serialized)
struct ServiceTests {
    @Test(
        "simulated meters set up their group through the service; every sum is exact, as JSON and CSV",
        arguments: Backend.allCases)
    func fleetThroughService(_ backend: Backend) async throws {
        try await withServer(backend) { server, _ in
            let fleet = try smallFleet(server, labels: 3)
            try await fleet.setUp()
            for label in 0..<3 { await fleet.runLabel(UInt64(label)) }
            #expect(fleet.pending == 0)
            let supplier = try server.client(supplierToken)
            let (exact, mismatches) = try await fleet.check(supplier: supplier)
            #expect(exact == 3, "\(mismatches)")
            let json = try await supplier.sums(group: 1)
            let csv = try await supplier.sumsCSV(group: 1)
            #expect(csv == json.csv)
            #expect(csv.hasPrefix("label,sum_wh,meters\n0,"))
            let status = try await fleet.client.status(group: 1)
            #expect(status.phase == "collecting")
            #expect(status.readings_stored == 9 && status.labels_complete == 3 && status.meters_reporting == 3)
            let metrics = try await supplier.metrics()
            #expect(metrics.contains("metering_frames_accepted_total"))
            #expect(metrics.contains("metering_labels_decrypted_total 3"))
            #expect(metrics.contains("metering_http_request_duration_seconds_bucket"))
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
    }

    @Test(
        "a repeat is acknowledged again; another frame for a stored key raises the label-reuse alarm",
        arguments: Backend.allCases)
    func repeatsAndLabelReuse(_ backend: Backend) async throws {
        try await withServer(backend) { server, database in
            let fleet = try smallFleet(server, labels: 2)
            try await fleet.setUp()
            let frames = await fleet.runInterval(0)
            let first = try await fleet.client.upload(frames)
            #expect(first.allSatisfy { if case .stored = $0 { true } else { false } })
            // The same frames again (the first acks were lost): acked again, nothing new stored.
            let again = try await fleet.client.upload(frames)
            #expect(again.map(\.ack) == first.map(\.ack))
            #expect(again.allSatisfy { if case .acknowledgedAgain = $0 { true } else { false } })
            // A different, authentic ciphertext for meter 1's label 0.
            let firstFrame = frames[0]
            let header = try Frame.parseHeader(firstFrame.span)
            let reused = FrameIntake(members: fleet.fleet.members).seal(
                .reading, to: header.meter, label: 0, payload: [0, 0, 0, 0, 0, 0, 0, 42])
            let before = try await snapshot(database, group: 1)
            let answer = try await fleet.client.send(
                .POST, "/v1/uplink", body: reused, contentType: "application/octet-stream")
            #expect(answer.status == 409)
            #expect(problem(answer)?.title == "labelReused")
            let after = try await snapshot(database, group: 1)
            #expect(after.readings == before.readings && after.sums == before.sums)
            let alarms = try await fleet.client.alarms(group: 1)
            #expect(alarms.alarms == [AlarmEntry(meter: header.meter, label: 0, kind: "labelReused")])
            // The first ciphertext stays: the sum is still exact.
            let supplier = try server.client(supplierToken)
            #expect(
                try await fleet.check(supplier: supplier).mismatches == ["label 1: no sum (true \(truth(fleet, 1)))"])
            #expect(try await supplier.metrics().contains("metering_frames_rejected_total{reason=\"labelReused\"} 1"))
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
    }

    @Test(
        "bad input gets a problem document naming the typed error; nothing stored changes",
        arguments: Backend.allCases)
    func badInput(_ backend: Backend) async throws {
        var configuration = ServiceConfiguration()
        configuration.maxBodyBytes = 128 << 10
        configuration.maxBatchFrames = 8
        guard let database = TestDatabase(backend) else { return }
        configuration.database = database.location
        configuration.port = 0
        configuration.operatorTokens = [operatorToken]
        configuration.supplierTokens = [supplierToken]
        configuration.insecureHTTP = true
        let server = try await TestServer(configuration)
        let fleet = try smallFleet(server, labels: 2)
        fleet.batchSize = 8
        try await fleet.setUp()
        let frames = await fleet.runInterval(0)
        _ = try await fleet.client.upload([frames[0]])
        let client = fleet.client
        let before = try await snapshot(database, group: 1)

        var forged = frames[1]
        forged[forged.count - 1] ^= 1
        var otherGroup = frames[1]
        otherGroup[7] ^= 0x40  // the group id's low byte: the frame now names group 65
        let octets = "application/octet-stream"
        let cases: [(String, [UInt8]?, String?, Int, String)] = [
            ("/v1/uplink", Array(frames[1].prefix(10)), octets, 400, "malformed"),
            ("/v1/uplink", forged, octets, 401, "badTag"),
            ("/v1/uplink", otherGroup, octets, 404, "unknownGroup"),
            ("/v1/uplink", frames[1], "application/json", 415, "unsupportedMediaType"),
            ("/v1/uplink", [UInt8](repeating: 1, count: 150_000), octets, 413, "bodyTooLarge"),
            ("/v1/uplink/batch", FrameBatch.encode(Array(repeating: frames[1], count: 9)), octets, 413, "batchTooLong"),
            ("/v1/uplink/batch", FrameBatch.encode([frames[1]]).dropLast(3).map { $0 }, octets, 400, "malformedBatch"),
        ]
        for (path, body, type, status, title) in cases {
            let answer = try await client.send(.POST, path, body: body, contentType: type)
            #expect(answer.status == status, "\(title)")
            #expect(problem(answer)?.title == title)
        }
        // A batch: the bad frames are refused by name, the good one is stored.
        let outcomes = try await client.upload([forged, frames[1], Array(frames[2].prefix(30))])
        #expect(outcomes[0] == .rejected(error: "badTag"))
        if case .stored = outcomes[1] {} else { Issue.record("the authentic frame was not stored: \(outcomes[1])") }
        #expect(outcomes[2] == .rejected(error: "malformed"))
        let after = try await snapshot(database, group: 1)
        #expect(after.readings.count == before.readings.count + 1)
        #expect(after.setup == before.setup && after.groups == before.groups)

        // Roles: no token, an unknown one, the supplier on an operator route.
        let anonymous = try server.client(nil)
        let stranger = try server.client("nobody")
        let supplier = try server.client(supplierToken)
        #expect(problem(try await anonymous.send(.GET, "/v1/groups"))?.title == "unauthorized")
        #expect(try await stranger.send(.GET, "/v1/groups/1").status == 401)
        let forbidden = try await supplier.send(.GET, "/v1/groups/1/enrolments")
        #expect(forbidden.status == 403 && problem(forbidden)?.title == "forbidden")
        #expect(
            try await supplier.send(.POST, "/v1/groups", body: Array("{}".utf8), contentType: "application/json").status
                == 403)
        #expect(try await anonymous.send(.GET, "/v1/groups/1/sums").status == 401)
        #expect(try await supplier.send(.GET, "/v1/groups/1/sums").status == 200)
        // The operator: a broken body, a group that exists, an unknown group or meter.
        let broken = try await client.send(.POST, "/v1/groups", body: Array("{".utf8), contentType: "application/json")
        #expect(broken.status == 400 && problem(broken)?.title == "badRequest")
        var keys: [String: String] = [:]
        for m in fleet.fleet.members.meters { keys["\(m)"] = Hex.encode(fleet.fleet.members.frameKey(of: m)!) }
        await #expect(throws: ClientError.self) {
            _ = try await client.createGroup(GroupCreation(group: 1, epoch: 1, max_reading: 10, frame_keys: keys))
        }
        #expect(problem(try await client.send(.GET, "/v1/groups/99"))?.title == "unknownGroup")
        #expect(problem(try await client.send(.GET, "/v1/meters/99/downlink"))?.title == "unknownMeter")
        #expect(problem(try await client.send(.GET, "/v1/groups/1/sums?from=5&to=2"))?.title == "badRequest")
        #expect(problem(try await client.send(.GET, "/no/such/route"))?.status == 404)
        let final = try await snapshot(database, group: 1)
        #expect(final.readings == after.readings && final.groups == after.groups && final.sums == after.sums)
        for c in [anonymous, stranger, supplier, client] { await c.shutdown() }
        await server.stop()
        await database.remove()
    }

    @Test(
        "forged group parameters are refused by the service (422 unsignedStatement) and never stored; the authority's then set the group up",
        arguments: Backend.allCases)
    func forgedGroupParameters(_ backend: Backend) async throws {
        try await withServer(backend) { server, database in
            let fleet = try smallFleet(server, meters: 4, labels: 1, seed: 45)
            let signed = try #require(try await fleet.enrol())
            let body = try #require(Hex.decode(signed.statement_body))
            let signature = try #require(Hex.decode(signed.signature))
            var flippedBody = body
            flippedBody[flippedBody.count - 1] ^= 0x01
            var flippedSignature = signature
            flippedSignature[200] ^= 0x01
            let otherAuthority = ProvisioningAuthority(seed: 999).sign(body)
            let forged: [(String, [UInt8], [UInt8])] = [
                ("signed by another key", body, otherAuthority.signature),
                ("a bit of the body flipped", flippedBody, signature),
                ("a bit of the signature flipped", body, flippedSignature),
                ("the signature truncated", body, Array(signature.prefix(64))),
            ]
            let before = try await snapshot(database, group: 1)
            for (what, b, sig) in forged {
                let request = SignedParameters(
                    statement_body: Hex.encode(b), signature: Hex.encode(sig), public_keys: signed.public_keys)
                let answer = try await fleet.client.send(
                    .PUT, "/v1/groups/1/signed-parameters", body: Array(try JSONEncoder().encode(request)),
                    contentType: "application/json")
                #expect(answer.status == 422, "\(what): \(answer.status)")
                #expect(problem(answer)?.title == "unsignedStatement", "\(what)")
                #expect(try await fleet.client.status(group: 1).phase == "awaiting-signature", "\(what)")
            }
            let after = try await snapshot(database, group: 1)
            #expect(after.setup == before.setup && after.groups == before.groups)
            // The authority's own statement still installs, and the group runs.
            try await fleet.finishSetUp(signed)
            await fleet.runLabel(0)
            let supplier = try server.client(supplierToken)
            let (exact, mismatches) = try await fleet.check(supplier: supplier)
            #expect(exact == 1, "\(mismatches)")
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
    }

    @Test("a restarted service continues where it was: key setup, window and sums", arguments: Backend.allCases)
    func restart(_ backend: Backend) async throws {
        guard let database = TestDatabase(backend) else { return }
        let first = try await TestServer(TestServer.configuration(database))
        let fleet = try smallFleet(first, labels: 4)
        try await fleet.setUp()
        await fleet.runLabel(0)
        let frames1 = await fleet.runInterval(1)
        _ = try await fleet.client.upload(Array(frames1.prefix(2)))  // label 1 incomplete
        await fleet.client.shutdown()
        await first.stop()

        let second = try await TestServer(TestServer.configuration(database))
        let client = try second.client()
        let status = try await client.status(group: 1)
        #expect(status.phase == "collecting" && status.readings_stored == 5 && status.labels_complete == 1)
        // The stored half of label 1 is there: the rest completes it; a repeat is acked again.
        let outcomes = try await client.upload(frames1)
        #expect(outcomes.prefix(2).allSatisfy { if case .acknowledgedAgain = $0 { true } else { false } })
        #expect(outcomes.dropFirst(2).allSatisfy { if case .stored = $0 { true } else { false } })
        let sums = try await client.sums(group: 1)
        #expect(sums.sums.map(\.label) == [0, 1])
        #expect(sums.sums[1].sum == truth(fleet, 1))
        await client.shutdown()
        await second.stop()
        await database.remove()
    }
}

/// The true sum of `label` in the fleet's simulation.
func truth(_ fleet: NetworkFleet, _ label: Int) -> UInt64 {
    (0..<fleet.fleet.meters.count).reduce(UInt64(0)) { $0 + fleet.fleet.expectedReadings(meter: $1)[label] }
}
