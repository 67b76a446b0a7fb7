import MeterCrypto

/// The host side of a scheme for one group, once its key setup is done: takes the
/// meters' reading frames and answers the sum per label. Every scheme implements it,
/// so the demo, the simulator and the cost report treat schemes alike.
public protocol GroupAggregator: AnyObject {
    var members: GroupMembers { get }
    /// Verifies and collects one reading frame; returns how many meters have now
    /// reported its label. A rejected frame changes nothing.
    func accept(_ frame: [UInt8]) throws(AggregationError) -> Int
    /// The sum of the group's readings for `label`, once every meter reported it.
    func decryptSum(label: UInt64) throws(AggregationError) -> UInt64
    /// Moves the window of accepted labels forward to `label`.
    func advance(to label: UInt64)
}
