import Aggregation
import AggregatorAPI
import Foundation
import MeterCrypto
import MeterSimulator
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
}
