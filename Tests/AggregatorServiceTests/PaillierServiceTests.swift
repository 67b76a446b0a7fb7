import Aggregation
import AggregatorAPI
import AggregatorService
import AggregatorStore
import Foundation
import MeterCrypto
import MeterSimulator
import ServiceClient
import Testing

/// The supplier's key for these tests (2048 bits: the smaller size meters accept).
let testSupplierKey: PaillierPrivateKey = {
    var generator = SeededGenerator(seed: 12)
    return try! PaillierPrivateKey.generate(bits: 2048, using: &generator)
}()

/// A small Paillier fleet talking to `server`.
func paillierFleet(_ server: TestServer, meters: Int = 3, labels: Int = 3, group: UInt32 = 1) throws -> NetworkFleet {
    try smallFleet(server, meters: meters, labels: labels, group: group) { config in
        config.scheme = .paillier
        config.paillierKey = testSupplierKey
    }
}

@Suite("Paillier groups in the aggregator service (SQLite and PostgreSQL)", .serialized)
struct PaillierServiceTests {
    @Test(
        "meters take the signed key from the service; the supplier decrypts the encrypted group sums, exact; a restart continues",
        arguments: Backend.allCases)
    func paillierGroupThroughService(_ backend: Backend) async throws {
        guard let database = TestDatabase(backend) else { return }
        let first = try await TestServer(TestServer.configuration(database))
        let fleet = try paillierFleet(first)
        // Before setup nothing is relayed; the group's creation brings each meter its statement.
        try await fleet.setUp()
        #expect(fleet.fleet.meters.allSatisfy { $0.firmware.isReady })
        await fleet.runLabel(0)
        await fleet.runLabel(1)
        #expect(fleet.pending == 0)
        // A meter that reported gets no statement again.
        #expect(try await fleet.client.downlink(meter: 1).isEmpty)
        let status = try await fleet.client.status(group: 1)
        #expect(status.scheme == "paillier" && status.phase == "collecting")
        #expect(status.readings_stored == 6 && status.labels_complete == 2 && status.meters_reporting == 3)

        // The supplier: encrypted sums only, one product per complete label; no decrypted sums.
        let supplier = try first.client(supplierToken)
        let encrypted = try await supplier.encryptedSums(group: 1)
        #expect(encrypted.sums.map(\.label) == [0, 1] && encrypted.sums.allSatisfy { $0.meters == 3 })
        #expect(encrypted.modulus == Hex.encode(testSupplierKey.publicKey.n.bigEndianBytes(length: 256)!))
        let store = try await database.open()
        let payloads = Set(
            try await store.readings(group: 1, fromLabel: 0).map {
                Array($0.frame.dropFirst(Frame.headerBytes).prefix(512))
            })
        await store.close()
        #expect(encrypted.sums.allSatisfy { !payloads.contains(Hex.decode($0.ciphertext)!) })
        let sums = try await supplier.send(.GET, "/v1/groups/1/sums")
        #expect(sums.status == 409 && problem(sums)?.title == "otherScheme")
        let checks = try await fleet.labelChecks(supplier: supplier)
        #expect(checks.prefix(2).allSatisfy { $0.exact }, "\(checks)")
        await supplier.shutdown()
        await fleet.client.shutdown()
        await first.stop()

        // A restarted service rebuilds the group (the hand-over checked again) and continues.
        let second = try await TestServer(TestServer.configuration(database))
        fleet.client = try second.client()
        #expect(try await fleet.client.status(group: 1).labels_complete == 2)
        await fleet.runLabel(2)
        let supplier2 = try second.client(supplierToken)
        let (exact, mismatches) = try await fleet.check(supplier: supplier2)
        #expect(exact == 3, "\(mismatches)")
        await supplier2.shutdown()
        await fleet.client.shutdown()
        await second.stop()
        await database.remove()
    }

    @Test(
        "a hand-over whose statements the authority did not sign for this key and group is refused; nothing stored",
        arguments: Backend.allCases)
    func badHandOver(_ backend: Backend) async throws {
        try await withServer(backend) { server, database in
            let fleet = try paillierFleet(server)
            let f = fleet.fleet
            let key = testSupplierKey.publicKey
            var keys: [String: String] = [:]
            for m in f.members.meters { keys["\(m)"] = Hex.encode(f.members.frameKey(of: m)!) }
            let layout = try f.authority.signLayout(groups: [1: Set(f.members.meters)], epoch: f.epoch)
            var statements: [String: SignedStatementJSON] = [:]
            for m in f.members.meters {
                let s = try f.authority.signPaillierKey(meter: m, publicKey: key, layoutEpoch: f.epoch)
                statements["\(m)"] = SignedStatementJSON(body: Hex.encode(s.body), signature: Hex.encode(s.signature))
            }
            func creation(
                group: UInt32 = 1, layout: SignedStatement = layout, statements: [String: SignedStatementJSON]
            )
                -> GroupCreation
            {
                GroupCreation(
                    group: group, epoch: f.epoch, scheme: "paillier", max_reading: 5000, frame_keys: keys,
                    paillier: PaillierHandOver(
                        modulus: Hex.encode(key.n.bigEndianBytes(length: key.modulusBytes)!),
                        authority_key: Hex.encode(f.authority.publicKey),
                        layout: SignedStatementJSON(
                            body: Hex.encode(layout.body), signature: Hex.encode(layout.signature)),
                        key_statements: statements))
            }
            var forged = statements
            var signature = Hex.decode(forged["2"]!.signature)!
            signature[10] ^= 1
            forged["2"]!.signature = Hex.encode(signature)
            var missing = statements
            missing["3"] = nil
            // The same authority (same seed) signing another layout of this epoch.
            let otherLayout = try paillierFleet(server).fleet.authority.signLayout(groups: [1: [1, 2]], epoch: f.epoch)
            let cases: [(GroupCreation, String)] = [
                (creation(statements: forged), "unsignedStatement"),
                (creation(statements: missing), "invalidGroup"),
                (creation(layout: otherLayout, statements: statements), "invalidGroup"),
            ]
            let client = fleet.client
            for (body, title) in cases {
                let answer = try await client.send(
                    .POST, "/v1/groups", body: Array(try JSONEncoder().encode(body)), contentType: "application/json")
                #expect(answer.status == 422 && problem(answer)?.title == title, "\(title): \(answer.status)")
            }
            let store = try await database.open()
            #expect(try await store.groups().isEmpty)
            await store.close()
            // The good one is taken; the LWR-PSA routes refuse it by name.
            _ = try await client.createGroup(creation(statements: statements))
            let enrolments = try await client.send(.GET, "/v1/groups/1/encrypted-sums?from=3&to=1")
            #expect(problem(enrolments)?.title == "badRequest")
            #expect(try await client.downlink(meter: 2).count > 1)
            await client.shutdown()
        }
    }
}
