import Aggregation
import MeterCrypto

extension ProvisioningAuthority {
    /// Signs a statistics plan (statement kind 5, docs/spec/statistics.md) for `group`'s
    /// `epoch`, a group of `meters` with readings up to `maxReading`: only for a group of at
    /// least the plan's minimum size (and `StatisticsPlan.minimumGroupSize`), keyed n-of-n,
    /// whose slots fit (a plan whose Σx² could wrap is refused: sign one without the x² slot).
    public func signStatisticsPlan(
        _ spec: StatisticsPlanSpec, group: UInt32, epoch: UInt32, meters: UInt32, maxReading: UInt64,
        parameters: LWRParameters = .standard, keySetup: KeySetupKind = .allPairs
    ) throws(AuthorityError) -> SignedStatisticsPlan {
        guard keySetup == .allPairs else { throw .statistics(.neighbourGraph) }
        do { _ = try spec.layout(meters: meters, maxReading: maxReading, parameters: parameters) } catch {
            throw .statistics(error)
        }
        let statement = sign(spec.body(group: group, epoch: epoch, meters: meters))
        // The body was built and checked here: reading it back cannot fail.
        return try! SignedStatisticsPlan(statement, authorityKey: publicKey)
    }
}
