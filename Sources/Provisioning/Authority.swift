import Aggregation
import BigNum
import MeterCrypto

/// What a meter gets at the factory (`Meter.provision`): its id, its frame secret and
/// enrolment key (both shared with the authority alone) and the authority's public key.
public struct FactoryKeys: Sendable {
    public let meter: UInt32
    public let frameSecret: [UInt8]
    public let enrolmentKey: [UInt8]
    public let authorityKey: [UInt8]
}

/// Why the authority refused to sign.
public enum AuthorityError: Error, Equatable, Sendable {
    /// A meter the authority never manufactured.
    case unknownMeter(UInt32)
    /// An enrolled public key whose tag does not verify under that meter's enrolment key.
    case badEnrolment(meter: UInt32)
    /// A payload of the wrong size.
    case malformed(String)
    /// A group the authority will not sign (too small, too large, unsafe layout).
    case refused(String)
    /// A statistics plan the authority will not sign (group too small, Σx² capacity, slots).
    case statistics(StatisticsError)
}

/// The provisioning authority (the grid operator's key management, offline; DESIGN.md,
/// "Trust"): it manufactures meters, hands each aggregator the frame keys of its own group
/// and epoch, checks enrolled DH keys and signs what defines a group. It never sees a reading.
///
/// The aggregator relays everything but can forge none of it: statements carry an SLH-DSA
/// signature every meter checks, enrolments a tag only the authority checks.
public final class ProvisioningAuthority: @unchecked Sendable {
    let signingKey: SLHDSASecretKey
    /// The public key every meter holds from the factory.
    public let publicKey: [UInt8]
    var secrets: [UInt32: (frame: [UInt8], enrolment: [UInt8])] = [:]
    var random: XOF
    var lastEpoch: UInt32 = 0
    /// The smallest group the authority signs.
    public var minGroupSize: UInt32 = 2

    /// An authority whose keys derive from `seed` (reproducible: for demos, tests and the
    /// simulator); nil draws them from the system's random number generator.
    public init(seed: UInt64? = nil) {
        var x = XOF(.shake256)
        x.absorb("PM-AUTHORITY-v1")
        if let seed {
            x.absorb(bigEndian: seed)
        } else {
            var system = SystemRandomNumberGenerator()
            for _ in 0..<4 { x.absorb(bigEndian: system.next() as UInt64) }
        }
        random = x
        var seedBytes = [UInt8](repeating: 0, count: 3 * Statement.signatureParameters.n)
        var span = seedBytes.mutableSpan
        random.squeeze(into: &span)
        signingKey = SLHDSASecretKey(parameters: Statement.signatureParameters, seed: seedBytes)
        publicKey = signingKey.publicKey
    }

    func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var span = out.mutableSpan
        random.squeeze(into: &span)
        return out
    }

    /// Makes the factory keys of `meter` (once per meter id).
    public func manufacture(meter: UInt32) -> FactoryKeys {
        precondition(secrets[meter] == nil, "meter \(meter) was manufactured before")
        let frame = randomBytes(32)
        let enrolment = randomBytes(32)
        secrets[meter] = (frame, enrolment)
        return FactoryKeys(meter: meter, frameSecret: frame, enrolmentKey: enrolment, authorityKey: publicKey)
    }

    /// A new epoch number, larger than every one before.
    public func issueEpoch() -> UInt32 {
        lastEpoch += 1
        return lastEpoch
    }

    /// The frame key of (meter, group, epoch).
    public func frameKey(meter: UInt32, group: UInt32, epoch: UInt32) throws(AuthorityError) -> [UInt8] {
        guard let secret = secrets[meter]?.frame else { throw .unknownMeter(meter) }
        var key = [UInt8](repeating: 0, count: Frame.keyBytes)
        var span = key.mutableSpan
        FrameKeys.derive(secret: secret.span, group: group, epoch: epoch, into: &span)
        return key
    }

    /// What the aggregator of `group` gets for `epoch`: its members' frame keys, nothing else.
    public func members(group: UInt32, epoch: UInt32, scheme: SchemeID, meters: [UInt32]) throws -> GroupMembers {
        var keys: [UInt32: [UInt8]] = [:]
        for meter in meters { keys[meter] = try frameKey(meter: meter, group: group, epoch: epoch) }
        return try GroupMembers(group: group, epoch: epoch, scheme: scheme, frameKeys: keys)
    }

    /// Signs `body` (a statement body, Statement.swift).
    public func sign(_ body: [UInt8]) -> SignedStatement {
        SignedStatement(body: body, signature: signingKey.sign(body, context: "PM-STATEMENT-v1"))
    }

    /// Checks the enrolled keys (meter → y | enrolment tag) of a group and signs its
    /// parameters over a roster of exactly those keys.
    public func signGroup(
        group: UInt32, epoch: UInt32, parameterID: UInt8, keyMode: UInt8, maxReading: UInt64,
        enrolments: [UInt32: [UInt8]]
    ) throws(AuthorityError) -> SignedGroup {
        guard enrolments.count >= Int(minGroupSize) else {
            throw .refused("a group needs at least \(minGroupSize) meters")
        }
        var keys: [UInt32: [UInt8]] = [:]
        for (meter, payload) in enrolments {
            keys[meter] = try enrolledKey(meter: meter, payload: payload, group: group, epoch: epoch)
        }
        let roster: RosterTree
        do { roster = try RosterTree(publicKeys: keys) } catch { throw .refused("\(error)") }
        let body = SignedGroup.body(
            group: group, epoch: epoch, parameterID: parameterID, keyMode: keyMode, maxReading: maxReading,
            roster: roster)
        return SignedGroup(statement: sign(body), roster: roster)
    }

    /// The DH public key y of one enrolment (y | enrolment tag), once its tag verifies under
    /// the meter's enrolment key for (group, epoch).
    func enrolledKey(meter: UInt32, payload: [UInt8], group: UInt32, epoch: UInt32) throws(AuthorityError) -> [UInt8] {
        guard let enrolmentKey = secrets[meter]?.enrolment else { throw .unknownMeter(meter) }
        guard payload.count == Enrolment.payloadBytes else { throw .malformed("an enrolment has 400 bytes") }
        let y = Array(payload[0..<FFDHGroup.byteCount])
        let tag = Array(payload[FFDHGroup.byteCount...])
        guard
            Enrolment.verify(
                enrolmentKey: enrolmentKey.span, group: group, epoch: epoch, meter: meter, publicKey: y.span,
                tag: tag.span)
        else { throw .badEnrolment(meter: meter) }
        return y
    }

    /// Layouts signed and not yet retired: epoch → groups. Any of them can be live at once.
    public private(set) var liveLayouts: [UInt32: [UInt32: Set<UInt32>]] = [:]

    /// Signs a Paillier group layout under `epoch`, only if it passes the differencing
    /// check together with every layout still live (a transition must not isolate a
    /// meter by subtracting a group of the old layout from one of the new).
    public func signLayout(groups: [UInt32: Set<UInt32>], epoch: UInt32) throws(AuthorityError) -> SignedStatement {
        if let existing = liveLayouts[epoch] {
            // Signing the same layout again gives the same statement; another one is refused.
            guard existing == groups else { throw .refused("another layout of epoch \(epoch) exists") }
        }
        do {
            _ = try GroupLayout(groups: groups)
            try GroupLayout.checkLiveTogether(liveLayouts.keys.sorted().map { liveLayouts[$0]! } + [groups])
        } catch {
            throw .refused("\(error)")
        }
        liveLayouts[epoch] = groups
        return sign(GroupLayout.body(groups: groups, epoch: epoch))
    }

    /// No aggregator uses the layout of `epoch` any more: later layouts are checked without it.
    public func retireLayout(epoch: UInt32) { liveLayouts[epoch] = nil }

    /// Signs the supplier's Paillier key for `meter` with the groups the live layout of
    /// `layoutEpoch` gives it, under that epoch: a meter's groups always come from one
    /// validated layout.
    public func signPaillierKey(
        meter: UInt32, publicKey: PaillierPublicKey, layoutEpoch: UInt32
    ) throws(AuthorityError) -> SignedStatement {
        guard secrets[meter] != nil else { throw .unknownMeter(meter) }
        guard let layout = liveLayouts[layoutEpoch] else { throw .refused("no live layout of epoch \(layoutEpoch)") }
        let groups = layout.keys.sorted().filter { layout[$0]!.contains(meter) }
        guard !groups.isEmpty, groups.count <= Statement.paillierMaxGroups else {
            throw .refused(
                "meter \(meter) is in \(groups.count) groups of the layout (1 ... \(Statement.paillierMaxGroups))")
        }
        return sign(PaillierKeyStatement.body(publicKey: publicKey, meter: meter, groups: groups, epoch: layoutEpoch))
    }

    /// Signs a tariff for `group` over the billing `period` (its price ratio was checked
    /// when the tariff was made).
    public func signTariff(
        _ tariff: Tariff, group: UInt32, period: ClosedRange<UInt64>, epoch: UInt32,
        supplier: UInt32 = SignedTariff.defaultSupplier
    ) -> SignedTariff {
        // The body decodes back to the same tariff: a failure here is a bug, not input.
        try! SignedTariff(
            sign(SignedTariff.body(tariff: tariff, group: group, period: period, epoch: epoch, supplier: supplier)))
    }

    /// The bill key of (`meter`, `supplier`) (MeterBill.swift): what the authority gives a
    /// supplier for each meter it supplies, so that it opens the bills those meters make.
    public func billKey(meter: UInt32, supplier: UInt32) throws(AuthorityError) -> [UInt8] {
        guard let secret = secrets[meter]?.frame else { throw .unknownMeter(meter) }
        var key = [UInt8](repeating: 0, count: MeterBill.keyBytes)
        var span = key.mutableSpan
        MeterBill.key(frameSecret: secret.span, supplier: supplier, meter: meter, into: &span)
        return key
    }
}
