import Aggregation
import MeterCrypto
import MeterFirmware

extension Fleet {
    /// DMCFE after key setup: the weight vector y = (1, …, 1), so that the inner product is
    /// the group's sum, streamed to every meter; each answers with its functional-key share
    /// (meter CPU counted into `cpu`); the aggregator combines them into d_y and builds the
    /// discrete-log table for the largest possible sum, once. Returns the aggregator's CPU
    /// seconds (weight frames, combining the shares, the table).
    func runDMCFEFunctionalKey(_ setup: DMCFEKeySetup, cpu: MeterCPU) throws -> Double {
        let weights = Dictionary(uniqueKeysWithValues: members.meters.map { ($0, Int64(1)) })
        let shares = try SignedSetup.functionalKeyShares(
            meters: meters, setup: setup, weights: weights, runner: runner, cpu: cpu)
        let t0 = threadCPUSeconds()
        let bound = UInt64(meters.count) * configuration.maxReading
        let table = try DiscreteLogTable(bound: bound)
        let aggregator = try DMCFEAggregator(
            members: members, weights: weights, keyShares: shares, table: table, currentLabel: 0)
        dmcfeAggregator = aggregator
        pipeline = GroupSumPipeline(aggregator: aggregator, decryptor: aggregator)
        return threadCPUSeconds() - t0
    }
}
