import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

/// Statistics without individuals (docs/spec/statistics.md): the meters' x² and histogram
/// slots under a signed plan, decrypted per label by the aggregator, equal the figures of the
/// true readings; plans for small groups or with too large a Σx² are refused.
@Suite("Statistics without individuals")
struct StatisticsTests {
    static func fleet(meters: Int = 20, labels: Int = 8, spec: StatisticsPlanSpec) throws -> Fleet {
        var config = FleetConfiguration()
        config.meters = meters
        config.threads = 2
        config.maxReading = 5000
        config.seed = 14
        config.statistics = spec
        let fleet = try Fleet(config, labels: labels)
        _ = try fleet.runKeySetup()
        return fleet
    }

    @Test("20 meters, 8 labels: count, sum, mean, variance and histogram equal the true readings'")
    func fleetStatistics() throws {
        let spec = StatisticsPlanSpec.uniform(bins: 12, maxReading: 600)
        let fleet = try Self.fleet(spec: spec)
        let layout = try #require(fleet.statisticsAggregator?.layout)
        #expect(layout.slotCount >= 2)  // x² and at least one histogram slot
        var bins = Set<Int>()
        for label in UInt64(0)..<8 {
            let result = try fleet.runLabel(label)
            #expect(result.exact)
            let got = try #require(result.statistics)
            let truth = try #require(result.trueStatistics)
            #expect(got == truth)
            #expect(got.count == 20)
            #expect(got.meanFraction == truth.meanFraction)
            #expect(got.varianceFraction?.numerator == truth.varianceFraction?.numerator)
            #expect(got.varianceText(digits: 3) == truth.varianceText(digits: 3))
            #expect(got.histogram.reduce(0, +) == 20)
            for (b, c) in got.histogram.enumerated() where c > 0 { bins.insert(b) }
        }
        #expect(bins.count >= 2, "the readings should spread over several bins")
    }

    @Test("a plan without the x² slot: no variance; histogram only")
    func histogramOnly() throws {
        let spec = StatisticsPlanSpec(edges: [50, 100, 200, 400], squares: false)
        let fleet = try Self.fleet(meters: 12, labels: 2, spec: spec)
        for label in UInt64(0)..<2 {
            let result = try fleet.runLabel(label)
            let got = try #require(result.statistics)
            #expect(got == result.trueStatistics)
            #expect(got.variance == nil && got.sumOfSquares == nil)
        }
    }

    @Test("groups below the minimum size get no plan")
    func belowMinimum() throws {
        let authority = ProvisioningAuthority(seed: 3)
        let spec = StatisticsPlanSpec.uniform(bins: 8, maxReading: 1000)
        #expect(throws: AuthorityError.statistics(.groupTooSmall)) {
            try authority.signStatisticsPlan(spec, group: 1, epoch: 1, meters: 9, maxReading: 1000)
        }
        var lax = spec
        lax.minimumGroupSize = 5  // below the meters' floor of 10
        #expect(throws: AuthorityError.statistics(.groupTooSmall)) {
            try authority.signStatisticsPlan(lax, group: 1, epoch: 1, meters: 12, maxReading: 1000)
        }
        var strict = spec
        strict.minimumGroupSize = 50
        #expect(throws: AuthorityError.statistics(.groupTooSmall)) {
            try authority.signStatisticsPlan(strict, group: 1, epoch: 1, meters: 20, maxReading: 1000)
        }
        #expect(throws: AuthorityError.statistics(.neighbourGraph)) {
            try authority.signStatisticsPlan(
                spec, group: 1, epoch: 1, meters: 20, maxReading: 1000, keySetup: .neighbourGraph)
        }
    }

    @Test("Σx² capacity: n·(n·x_max² + 1) ≥ 2^48 gets no variance, a histogram-only plan still fits")
    func squaresCapacity() throws {
        let authority = ProvisioningAuthority(seed: 3)
        // 20·(20·10^12 + 1) ≈ 2^58.5 ≥ 2^48.
        let withSquares = StatisticsPlanSpec.uniform(bins: 8, maxReading: 1_000_000)
        #expect(throws: AuthorityError.statistics(.squaresCapacity)) {
            try authority.signStatisticsPlan(withSquares, group: 1, epoch: 1, meters: 20, maxReading: 1_000_000)
        }
        var histogramOnly = withSquares
        histogramOnly.squares = false
        let signed = try authority.signStatisticsPlan(
            histogramOnly, group: 1, epoch: 1, meters: 20, maxReading: 1_000_000)
        #expect(signed.spec == histogramOnly)
        // The largest x_max with variance for n = 20: n·(n·x² + 1) < 2^48.
        let layout = try StatisticsLayout(
            meters: 20, maxReading: 838_860, squares: true, binCount: 0, parameters: .standard)
        #expect(layout.slotCount == 1)
        #expect(throws: StatisticsError.squaresCapacity) {
            try StatisticsLayout(meters: 20, maxReading: 838_861, squares: true, binCount: 0, parameters: .standard)
        }
    }

    @Test("packing: w = bit width of n, bins per slot from n·(n·2^{w(k−1)} + 1) < 2^48")
    func packing() throws {
        let l20 = try StatisticsLayout(meters: 20, maxReading: 5000, squares: true, binCount: 16, parameters: .standard)
        #expect(l20.counterBits == 5 && l20.binsPerSlot == 8 && l20.histogramSlots == 2 && l20.slotCount == 3)
        let l1000 = try StatisticsLayout(
            meters: 1000, maxReading: 5000, squares: false, binCount: 9, parameters: .standard)
        #expect(l1000.counterBits == 10 && l1000.binsPerSlot == 3 && l1000.histogramSlots == 3)
        #expect(throws: StatisticsError.tooManySlots) {
            try StatisticsLayout(meters: 1000, maxReading: 5000, squares: true, binCount: 16, parameters: .standard)
        }
        // Each counter holds up to n < 2^w: counts decode back exactly.
        let sums: UInt64 = 20 | 3 << 5 | 17 << 35
        #expect(l20.count(ofBin: 0, slotSum: sums) == 20)
        #expect(l20.count(ofBin: 1, slotSum: sums) == 3)
        #expect(l20.count(ofBin: 7, slotSum: sums) == 17)
    }

    @Test("exact decimals: mean and variance from the fractions")
    func decimals() {
        let s = LabelStatistics(label: 0, readings: [1, 2, 4], spec: StatisticsPlanSpec(edges: [], squares: true))
        #expect(s.meanText(digits: 3) == "2.333")
        // (3·21 − 49) / 9 = 14/9
        #expect(s.varianceFraction?.numerator == 14 && s.varianceFraction?.denominator == 9)
        #expect(s.varianceText(digits: 4) == "1.5556")
    }
}
