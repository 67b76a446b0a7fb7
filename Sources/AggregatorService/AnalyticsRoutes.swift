import Aggregation
import AggregatorAPI
import AggregatorStore
import Foundation
import Hummingbird
import MeterCrypto

// Statistics without individuals in the service (docs/spec/statistics.md, docs/service.md):
// the operator installs the authority's signed statistics plan for an LWR-PSA group, the
// service relays it to the meters, stores their statistics frames, decrypts each label's
// slots with K once every member's frames and the label's sum are in, and the supplier reads
// count, sum, mean, variance and histogram per label, never a household's value.

/// A group engine's statistics side (GroupEngine.analytics).
struct EngineAnalytics {
    /// The plan's slots and K, once a plan is installed.
    var aggregator: LWRStatisticsAggregator?
    /// Statistics frames accepted since the last commit, and the labels they touched.
    var pending: [StoredReading] = []
    var touched: Set<UInt64> = []
    /// Per meter: the newest label of a reading and of a statistics frame (the plan is
    /// relayed to a meter whose readings run ahead of its statistics: it rebooted, or never had it).
    var lastReading: [UInt32: UInt64] = [:]
    var lastStatistics: [UInt32: UInt64] = [:]
}

extension AnalyticsResponse {
    /// The response for `analytics` (the supplier's JSON, docs/service.md).
    public init(_ a: GroupAnalytics) {
        self.init(
            group: a.group, meters: a.meters, minimumGroupSize: a.minimumGroupSize, bins: a.edges,
            labels: a.labels.map {
                Label(
                    label: $0.label, count: $0.count, sum: $0.sum, mean: $0.mean, variance: $0.variance,
                    histogram: $0.histogram)
            }, peak: a.peak.map { Peak(label: $0.label, sum: $0.sum) })
    }
}

extension GroupEngine {
    var statisticsStore: (any StatisticsDataStore)? { store as? any StatisticsDataStore }

    /// The LWR-PSA aggregator's K, once key setup is complete.
    var lwrKey: [UInt64]? {
        guard case .lwr = aggregator, let setup else { return nil }
        return try? setup.aggregateKey()
    }

    /// The statistics side for a plan, checked against the group: its group, epoch and n, the
    /// minimum group size, the slots' capacity; with `verify` first its signature, under the
    /// authority key the group was created with (`unsignedStatement` without one). The stored
    /// plan, read back at a restart, was verified when it was installed.
    func statisticsAggregator(_ plan: StoredPlan, verify: Bool) throws(ServiceError) -> LWRStatisticsAggregator {
        guard let parameters, let key = lwrKey else {
            throw .wrongPhase("group \(group) has no LWR-PSA key yet: install a statistics plan once collecting")
        }
        do throws(AggregationError) {
            let statement = SignedStatement(body: plan.body, signature: plan.signature)
            let signed: SignedStatisticsPlan
            if verify {
                signed = try SignedStatisticsPlan(
                    statement, authorityKey: try authorityKey(checking: "statistics plan"))
            } else {
                signed = try SignedStatisticsPlan(relayed: statement)
            }
            return try LWRStatisticsAggregator(
                members: members, parameters: parameters, maxReading: record.maxReading, aggregateKey: key,
                plan: signed)
        } catch {
            throw .frame(error)
        }
    }

    /// After `replay`: the stored plan, the decrypted labels and the statistics frames in the window.
    func replayAnalytics() async throws(ServiceError) {
        analytics = EngineAnalytics()
        guard let statisticsStore, lwrKey != nil else { return }
        let plan: StoredPlan?
        do throws(StoreError) { plan = try await statisticsStore.statisticsPlan(group: group) } catch {
            throw .store(error)
        }
        guard let plan else { return }
        let side = try statisticsAggregator(plan, verify: false)
        let from = record.currentLabel >= record.lookback ? record.currentLabel - record.lookback : 0
        do throws(StoreError) {
            let done = try await statisticsStore.labelStatistics(group: group, labels: from...UInt64(Int64.max))
            side.markReleased(done.map(\.label))
            for f in try await statisticsStore.statisticsFrames(group: group, fromLabel: from) {
                _ = try? side.accept(f.frame)
                analytics.lastStatistics[f.meter] = max(analytics.lastStatistics[f.meter] ?? 0, f.label)
            }
        } catch {
            throw .store(error)
        }
        analytics.aggregator = side
    }

    /// An uploaded statistics frame (in `upload`, under the lock): checked and kept for the commit.
    func acceptStatistics(_ frame: [UInt8], _ header: FrameHeader) throws(AggregationError) {
        guard let side = analytics.aggregator else {
            _ = try FrameIntake(members: members).open(frame, expecting: .reading)
            throw .unexpectedType(header.type)
        }
        _ = try side.accept(frame)
        analytics.pending.append(StoredReading(meter: header.meter, label: header.label, frame: frame))
        analytics.touched.insert(header.label)
        analytics.lastStatistics[header.meter] = max(analytics.lastStatistics[header.meter] ?? 0, header.label)
    }

    /// A reading was stored (or its label's sum released): its label may complete statistics.
    func noteReading(_ header: FrameHeader) {
        guard analytics.aggregator != nil else { return }
        analytics.lastReading[header.meter] = max(analytics.lastReading[header.meter] ?? 0, header.label)
        analytics.touched.insert(header.label)
    }

    /// After the readings' commit: the statistics frames, and every touched label whose
    /// frames and sum are all in, decrypted, in one more transaction.
    func commitAnalytics() async throws(ServiceError) {
        guard let side = analytics.aggregator, let statisticsStore else { return }
        defer {
            analytics.pending = []
            analytics.touched = []
        }
        let candidates = analytics.touched.filter { side.reported(label: $0) == members.count }
        var labels: [StoredLabelStatistics] = []
        if let low = candidates.min(), let high = candidates.max() {
            let sums: [LabelSum]
            do throws(StoreError) { sums = try await store.sums(group: group, labels: low...high) } catch {
                stale = true
                throw .store(error)
            }
            for s in sums where candidates.contains(s.label) {
                do throws(AggregationError) {
                    let stats = try side.statistics(label: s.label, sum: s.sum)
                    labels.append(
                        StoredLabelStatistics(
                            label: stats.label, meters: stats.count, sum: stats.sum, sumOfSquares: stats.sumOfSquares,
                            histogram: stats.histogram))
                } catch {
                    throw .frame(error)
                }
            }
        }
        do throws(StoreError) {
            try await statisticsStore.commitStatistics(group: group, frames: analytics.pending, labels: labels)
        } catch {
            stale = true
            throw .store(error)
        }
    }

    /// Downlink while collecting: the statistics plan for a meter that needs it.
    func analyticsDownlink(meter: UInt32) -> [[UInt8]] {
        guard let side = analytics.aggregator, members.frameKey(of: meter) != nil else { return [] }
        let reading = analytics.lastReading[meter]
        let statistics = analytics.lastStatistics[meter]
        // A meter without statistics frames yet, or whose readings run ahead of them.
        if let statistics, let reading, reading <= statistics + 1 { return [] }
        if statistics != nil && reading == nil { return [] }
        return side.plan.frames(to: meter, intake: FrameIntake(members: members))
    }

    /// Installs the authority's statistics plan (operator) and stores it.
    func installStatisticsPlan(_ plan: StoredPlan) async throws(ServiceError) {
        try await locked { () async throws(ServiceError) in
            guard let statisticsStore else { throw .unsupportedScheme("this store keeps no statistics") }
            let side = try statisticsAggregator(plan, verify: true)
            do throws(StoreError) { try await statisticsStore.setStatisticsPlan(group: group, plan: plan) } catch {
                stale = true
                throw .store(error)
            }
            analytics = EngineAnalytics()
            analytics.aggregator = side
        }
    }

    /// The supplier's statistics of labels `from ... to` (only decrypted labels), refused for
    /// groups below the minimum size and groups without a plan.
    func analyticsResponse(from: UInt64, to: UInt64) async throws(ServiceError) -> AnalyticsResponse {
        try await locked { () async throws(ServiceError) -> AnalyticsResponse in
            guard paillierKey == nil else {
                throw .otherScheme("group \(group) is a Paillier group: statistics are an LWR-PSA plan's")
            }
            guard members.count >= Int(StatisticsPlan.minimumGroupSize) else {
                throw .frame(.statistics(.groupTooSmall))
            }
            guard let side = analytics.aggregator, let statisticsStore else {
                throw .wrongPhase("group \(group) has no statistics plan")
            }
            let spec = side.plan.spec
            guard members.count >= Int(spec.minimumGroupSize) else { throw .frame(.statistics(.groupTooSmall)) }
            let rows: [StoredLabelStatistics]
            do throws(StoreError) {
                rows = try await statisticsStore.labelStatistics(group: group, labels: from...to)
            } catch {
                throw .store(error)
            }
            let labels = rows.map {
                LabelStatistics(
                    label: $0.label, count: $0.meters, sum: $0.sum, sumOfSquares: $0.sumOfSquares,
                    histogram: $0.histogram)
            }
            return AnalyticsResponse(
                GroupAnalytics(
                    group: group, meters: members.count, minimumGroupSize: spec.minimumGroupSize, edges: spec.edges,
                    labels: labels))
        }
    }
}

extension Routes {
    /// PUT /v1/groups/{g}/statistics-plan (operator), GET /v1/groups/{g}/analytics (supplier).
    func registerAnalytics(_ router: Router<BasicRequestContext>) {
        router.put("/v1/groups/:group/statistics-plan") { request, context -> Response in
            try authorize(request, [.operator])
            let engine = try await core.engine(try groupID(context))
            let signed = try await json(StatisticsPlanBody.self, request)
            guard let body = Hex.decode(signed.statement_body), let signature = Hex.decode(signed.signature) else {
                throw ServiceError.badRequest("statement_body and signature are hex")
            }
            try await engine.installStatisticsPlan(StoredPlan(body: body, signature: signature))
            return Routes.respond(try await engine.status())
        }
        router.get("/v1/groups/:group/analytics") { request, context -> Response in
            try authorize(request, [.supplier, .operator])
            let engine = try await core.engine(try groupID(context))
            let (from, to) = try Routes.labelRange(request.uri.queryParameters)
            return Routes.respond(try await engine.analyticsResponse(from: from, to: to))
        }
    }
}
