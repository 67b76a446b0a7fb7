import AggregatorAPI
import AggregatorService
import Foundation
import ServiceClient
import Testing

@Suite("Scale-out: instances split the groups of one PostgreSQL database")
struct ScaleOutTests {
    @Test("two instances on one database, each serving its own group; both continue after a restart")
    func twoInstances() async throws {
        guard let database = TestDatabase(.postgresql) else { return }
        func start(_ group: UInt32) async throws -> TestServer {
            var configuration = TestServer.configuration(database)
            configuration.groups = [group]
            return try await TestServer(configuration)
        }
        var a = try await start(1)
        var b = try await start(2)
        let fleetA = try smallFleet(a, labels: 3, group: 1, seed: 21)
        let fleetB = try smallFleet(b, labels: 3, group: 2, seed: 22)
        try await fleetA.setUp()
        try await fleetB.setUp()
        // An instance refuses a group that is the other's.
        let creation = GroupCreation(group: 2, epoch: 1, max_reading: 10, frame_keys: [:])
        let body = try JSONEncoder().encode(creation)
        let wrong = try await fleetA.client.send(
            .POST, "/v1/groups", body: Array(body), contentType: "application/json")
        #expect(wrong.status == 421 && problem(wrong)?.title == "notServedHere")
        for label in 0..<2 {
            await fleetA.runLabel(UInt64(label))
            await fleetB.runLabel(UInt64(label))
        }
        await fleetA.client.shutdown()
        await fleetB.client.shutdown()
        await a.stop()
        await b.stop()
        a = try await start(1)
        b = try await start(2)
        fleetA.client = try a.client()
        fleetB.client = try b.client()
        await fleetA.runLabel(2)
        await fleetB.runLabel(2)
        for (fleet, server) in [(fleetA, a), (fleetB, b)] {
            let supplier = try server.client(supplierToken)
            let (exact, mismatches) = try await fleet.check(supplier: supplier)
            #expect(exact == 3, "\(mismatches)")
            let other = fleet.group == 1 ? 2 : 1
            #expect(try await supplier.send(.GET, "/v1/groups/\(other)/sums").status == 404)
            await supplier.shutdown()
            await fleet.client.shutdown()
        }
        await a.stop()
        await b.stop()
        await database.remove()
    }
}
