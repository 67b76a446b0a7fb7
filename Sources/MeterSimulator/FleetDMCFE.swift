import Aggregation
import MeterCrypto
import MeterFirmware

extension Fleet {
    /// DMCFE after key setup: the weight vector y = (1, …, 1), so that the inner product is
    /// the group's sum, streamed to every meter; each answers with its functional-key share
    /// (meter CPU counted into `cpu`); the aggregator combines them into d_y and builds the
    /// discrete-log table for the largest possible sum, once. Returns the aggregator's CPU
    /// seconds (weight frames, combining the shares, the table).
    func runDMCFEFunctionalKey(
        _ setup: DMCFEKeySetup, cpu: UnsafeMutableBufferPointer<Double>, failures: UnsafeMutableBufferPointer<String?>
    ) throws -> Double {
        var t0 = threadCPUSeconds()
        let weights = Dictionary(uniqueKeysWithValues: members.meters.map { ($0, Int64(1)) })
        let frames = try meters.map { try setup.weightFrames(weights, for: $0.id) }
        var aggregatorCPU = threadCPUSeconds() - t0
        let shares = UnsafeMutableBufferPointer<[[UInt8]]>.allocate(capacity: meters.count)
        defer { shares.deallocate() }
        shares.initialize(repeating: [])
        forEachMeter { i in
            let t0 = threadCPUSeconds()
            do {
                var last = MeterEvent.none
                for frame in frames[i] { last = try self.meters[i].handle(frame) }
                if last != .keyShareSent { failures[i] = "the weight vector was answered with \(last)" }
            } catch {
                failures[i] = "\(error)"
            }
            cpu[i] += threadCPUSeconds() - t0
            shares[i] = self.meters[i].takeSent()
        }
        try checkFailures(failures)
        t0 = threadCPUSeconds()
        let bound = UInt64(meters.count) * configuration.maxReading
        let table = try DiscreteLogTable(bound: bound)
        let aggregator = try DMCFEAggregator(
            members: members, weights: weights, keyShares: shares.flatMap { $0 }, table: table, currentLabel: 0)
        dmcfeAggregator = aggregator
        pipeline = GroupSumPipeline(aggregator: aggregator, decryptor: aggregator)
        aggregatorCPU += threadCPUSeconds() - t0
        return aggregatorCPU
    }
}
