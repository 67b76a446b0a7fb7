import Aggregation
import AggregatorAPI
import AggregatorStore
import Foundation
import MeterCrypto
import MeterSimulator
import Provisioning
import ServiceClient
import Testing

/// Statistics without individuals through the service (docs/spec/statistics.md,
/// docs/service.md): the operator installs the signed plan, the meters take it from their
/// downlink and upload their statistics frames with their readings, and the supplier's
/// GET /v1/groups/{g}/analytics equals the figures of the true readings.
@Suite("Service: analytics", .serialized)
struct AnalyticsServiceTests {
    @Test(
        "20 meters, 8 labels: every label's count, sum, mean, variance and histogram equal the true readings'",
        arguments: Backend.allCases)
    func analytics(_ backend: Backend) async throws {
        try await withServer(backend) { server, _ in
            let fleet = try smallFleet(server, meters: 20, labels: 8, seed: 41) {
                $0.maxReading = 2000
                $0.statistics = .uniform(bins: 10, maxReading: 400)
            }
            try await fleet.setUp()
            for label in UInt64(0)..<8 { await fleet.runLabel(label) }
            let supplier = try server.client(supplierToken)
            let (exact, mismatches, response) = try await fleet.statisticsCheck(supplier: supplier)
            #expect(exact == 8, "\(mismatches)")
            #expect(response.meters == 20 && response.minimumGroupSize == 10 && response.bins.count == 9)
            let best = response.labels.max { $0.sum < $1.sum }
            #expect(response.peak?.sum == best?.sum)
            #expect(fleet.rejected.isEmpty, "\(fleet.rejected)")
            // The JSON shape the browser page reads.
            let raw = try await supplier.send(.GET, "/v1/groups/1/analytics?from=0&to=7")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(raw.body)) as? [String: Any])
            #expect(Set(object.keys) == ["group", "meters", "minimum_group_size", "bins", "labels", "peak"])
            let first = try #require((object["labels"] as? [[String: Any]])?.first)
            #expect(Set(first.keys) == ["label", "count", "sum", "mean", "variance", "histogram"])
            await supplier.shutdown()
        }
    }

    @Test("a group below the minimum size (3 meters) is refused with 422 statistics")
    func refused() async throws {
        try await withServer(.sqlite) { server, _ in
            let fleet = try smallFleet(server, meters: 3, labels: 1)
            try await fleet.setUp()
            let supplier = try server.client(supplierToken)
            let small = try await supplier.send(.GET, "/v1/groups/1/analytics")
            #expect(small.status == 422)
            #expect(String(decoding: small.body, as: UTF8.self).contains("statistics"))
            await supplier.shutdown()
        }
    }

    @Test(
        "a statistics plan not signed by the group's authority, or not for this group, is refused and not stored",
        arguments: Backend.allCases)
    func forgedPlans(_ backend: Backend) async throws {
        try await withServer(backend) { server, database in
            let fleet = try smallFleet(server, meters: 10, labels: 1, seed: 43) { $0.maxReading = 2000 }
            try await fleet.setUp()
            let authority = fleet.fleet.authority
            let epoch = fleet.fleet.epoch
            let spec = StatisticsPlanSpec.uniform(bins: 4, maxReading: 400)
            let valid = try authority.signStatisticsPlan(spec, group: 1, epoch: epoch, meters: 10, maxReading: 2000)
                .statement
            let body = valid.body
            var flippedSignature = valid.signature
            flippedSignature[100] ^= 0x01
            var flippedBody = body
            flippedBody[31] ^= 0x01  // the first bin edge: still a plan a meter would read, not the signed one
            let forged: [(what: String, plan: SignedStatement, title: String)] = [
                ("signed by another key", ProvisioningAuthority(seed: 999).sign(body), "unsignedStatement"),
                (
                    "a bit of the signature flipped", SignedStatement(body: body, signature: flippedSignature),
                    "unsignedStatement"
                ),
                (
                    "a bit of the body flipped", SignedStatement(body: flippedBody, signature: valid.signature),
                    "unsignedStatement"
                ),
                (
                    "the body truncated", SignedStatement(body: Array(body.prefix(40)), signature: valid.signature),
                    "unsignedStatement"
                ),
                (
                    "the signature truncated",
                    SignedStatement(body: body, signature: Array(valid.signature.prefix(64))), "unsignedStatement"
                ),
                (
                    "signed by another key for n = 5 below the minimum",
                    ProvisioningAuthority(seed: 999).sign(
                        StatisticsPlanSpec(edges: spec.edges, minimumGroupSize: 5).body(
                            group: 1, epoch: epoch, meters: 5)),
                    "unsignedStatement"
                ),
                (
                    "the authority's, for group 2", authority.sign(spec.body(group: 2, epoch: epoch, meters: 10)),
                    "unsignedStatement"
                ),
                (
                    "the authority's, for another epoch",
                    authority.sign(spec.body(group: 1, epoch: epoch + 1, meters: 10)), "unsignedStatement"
                ),
                (
                    "the authority's, for n = 9", authority.sign(spec.body(group: 1, epoch: epoch, meters: 9)),
                    "statistics"
                ),
                (
                    "the authority's, minimum group size 5",
                    authority.sign(
                        StatisticsPlanSpec(edges: spec.edges, minimumGroupSize: 5).body(
                            group: 1, epoch: epoch, meters: 10)),
                    "statistics"
                ),
            ]
            let operatorClient = try server.client()
            let store = try #require(try await database.open() as? any StatisticsDataStore)
            func put(_ plan: SignedStatement) async throws -> (status: Int, contentType: String, body: [UInt8]) {
                try await Self.put(operatorClient, plan)
            }
            // Refused before a plan is installed, and after: the stored plan stays what it was.
            for installed in [nil, valid] {
                if let installed { #expect(try await put(installed).status == 200) }
                let expected = installed.map { StoredPlan(body: $0.body, signature: $0.signature) }
                #expect(try await store.statisticsPlan(group: 1) == expected)
                let before = try await snapshot(database, group: 1)
                for f in forged {
                    let answer = try await put(f.plan)
                    #expect(answer.status == 422, "\(f.what): \(answer.status)")
                    #expect(
                        problem(answer)?.title == f.title, "\(f.what): \(String(decoding: answer.body, as: UTF8.self))")
                    #expect(try await store.statisticsPlan(group: 1) == expected, "\(f.what)")
                }
                let after = try await snapshot(database, group: 1)
                #expect(
                    after.readings == before.readings && after.sums == before.sums && after.setup == before.setup
                        && after.groups == before.groups)
            }
            await store.close()
            await operatorClient.shutdown()
        }
    }

    /// PUT the plan as the operator; the answer.
    static func put(_ client: AggregatorClient, _ plan: SignedStatement) async throws -> (
        status: Int, contentType: String, body: [UInt8]
    ) {
        try await client.send(
            .PUT, "/v1/groups/1/statistics-plan",
            body: Array(
                try JSONEncoder().encode(
                    StatisticsPlanBody(statement_body: Hex.encode(plan.body), signature: Hex.encode(plan.signature)))),
            contentType: "application/json")
    }

    @Test(
        "a group created without authority_key takes no statistics plan (422 unsignedStatement); a malformed key, or one beside a Paillier hand-over, is 400"
    )
    func withoutAuthorityKey() async throws {
        try await withServer(.sqlite) { server, database in
            let fleet = try smallFleet(server, meters: 10, labels: 1, seed: 44) { $0.maxReading = 2000 }
            fleet.sendsAuthorityKey = false
            try await fleet.setUp()
            let plan = try fleet.fleet.authority.signStatisticsPlan(
                .uniform(bins: 4, maxReading: 400), group: 1, epoch: fleet.fleet.epoch, meters: 10, maxReading: 2000)
            let client = try server.client()
            let answer = try await Self.put(client, plan.statement)
            #expect(answer.status == 422 && problem(answer)?.title == "unsignedStatement")
            let store = try #require(try await database.open() as? any StatisticsDataStore)
            #expect(try await store.statisticsPlan(group: 1) == nil)
            #expect(try await store.groups().first?.authorityKey == nil)
            await store.close()
            let hex = String(repeating: "ab", count: 32)
            for (key, scheme) in [
                ("abcd", "lwr-psa"), (String(repeating: "zz", count: 32), "lwr-psa"), (hex, "paillier"),
            ] {
                let creation = GroupCreation(
                    group: 5, epoch: 1, scheme: scheme, max_reading: 10, frame_keys: ["1": hex], authority_key: key)
                let refused = try await client.send(
                    .POST, "/v1/groups", body: Array(try JSONEncoder().encode(creation)),
                    contentType: "application/json")
                #expect(refused.status == 400 && problem(refused)?.title == "badRequest", "\(scheme) \(key)")
            }
            let created = try await client.createGroup(
                GroupCreation(group: 5, epoch: 1, max_reading: 10, frame_keys: ["1": hex], authority_key: hex))
            #expect(created.group == 5)
            let again = try await database.open()
            #expect(try await again.groups().last?.authorityKey == [UInt8](repeating: 0xAB, count: 32))
            await again.close()
            await client.shutdown()
        }
    }
}
