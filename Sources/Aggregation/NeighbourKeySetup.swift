import MeterCrypto

/// The aggregator's side of the neighbour-graph key setup (docs/spec/dropout.md, "Key
/// setup"). Like the n-of-n setup it relays and decides nothing: enrolments go to the
/// authority, which places the members on the ring and signs the group (`SignedNeighbourGroup`).
/// Each meter then gets the statement, its own roster entry and its k neighbours' entries,
/// pairs with those neighbours only and sends nothing back: its key is the signed sum of its
/// edges' vectors, and the keys cancel over the group, so there is no key for the aggregator.
///
/// In a membership change (a new epoch of the same group) only joining meters enrol; every
/// member gets the new statement and its entries, and only meters with a new neighbour do a
/// key agreement (`keyAgreements(since:)`).
public final class NeighbourKeySetup: KeySetupRelay {
    public let parameters: LWRParameters
    public let bounds: LWRGroupBounds
    /// The signed group once installed.
    public private(set) var neighbourGroup: SignedNeighbourGroup?

    /// A setup for `members` (the frame keys of the epoch); `enrolling` are the meters asked
    /// to enrol a fresh DH key (all of them for a new group, the joining ones for a change).
    public init(
        members: GroupMembers, parameters: LWRParameters, maxReading: UInt64, enrolling: [UInt32]? = nil
    ) throws(AggregationError) {
        guard members.scheme == .lwrPSA else { throw .wrongScheme(expected: .lwrPSA, actual: members.scheme) }
        do {
            bounds = try NeighbourKeys.bounds(
                meters: UInt32(members.count), maxReading: maxReading, parameters: parameters)
        } catch {
            throw .lwr(error)
        }
        self.parameters = parameters
        self.enrolling = enrolling ?? members.meters
        super.init(members: members, parameterByte: parameters.id, keyMode: 1, maxReading: maxReading)
    }

    let enrolling: [UInt32]

    /// One enrolRequest frame per enrolling meter (label = epoch).
    public override func enrolFrames() -> [(meter: UInt32, frame: [UInt8])] {
        enrolling.map { ($0, intake.seal(.enrolRequest, to: $0, label: UInt64(epoch), payload: [])) }
    }

    public override var allPublicKeysReceived: Bool { publicKeys.count == enrolling.count }

    /// Takes the authority's signed neighbour group for this group and epoch.
    public func install(_ group: SignedNeighbourGroup) throws(AggregationError) {
        try install(group.signed)
        neighbourGroup = group
    }

    /// The roster frames for one meter: its own entry, then its neighbours' in slot order.
    public override func rosterFrames(for meter: UInt32) throws(AggregationError) -> [[UInt8]] {
        guard let group = neighbourGroup, let p = group.position(of: meter) else { throw .keySetupIncomplete }
        let positions =
            [p] + (0..<group.graph.neighbourCount).map { Int(group.graph.neighbour(of: UInt32(p), slot: $0)) }
        return positions.map { q in
            intake.seal(.rosterEntry, to: meter, label: 0, payload: group.roster.entryPayload(q))
        }
    }

    /// For a membership change: the new edges (pairs of members that were not neighbours
    /// under `previous`, or whose DH key changed), i.e. the key agreements this epoch costs,
    /// per meter.
    public func keyAgreements(since previous: SignedNeighbourGroup) throws(AggregationError) -> [UInt32: Int] {
        guard let group = neighbourGroup else { throw .keySetupIncomplete }
        var keys: [UInt32: [UInt8]] = [:]
        for entry in previous.roster.entries { keys[entry.meter] = entry.publicKey }
        var count: [UInt32: Int] = [:]
        for entry in group.roster.entries {
            let old = keys[entry.meter] == entry.publicKey ? Set(previous.neighbours(of: entry.meter)) : []
            count[entry.meter] =
                group.neighbours(of: entry.meter).filter { peer in
                    !old.contains(peer) || keys[peer] != group.roster.entries[group.position(of: peer)!].publicKey
                }.count
        }
        return count
    }
}
