// What the provisioning authority signs and the meter checks before it acts, shared by
// the firmware (which verifies) and the host (which builds and signs), so both read one
// layout. docs/spec/key-setup.md describes the protocol around it, docs/spec/signatures.md
// the signature.
//
// A signed statement is a body of at most `Statement.maxBodyBytes` bytes and an
// SLH-DSA-SHAKE-128f signature (FIPS 205, pure, context "PM-STATEMENT-v1") over it.
//
// Body header (big-endian integers), common to every kind:
//   0  kind     u8    StatementKind
//   1  version  u8    Statement.version
//   2  reserved u16   0
//   4  epoch    u32   only increases, per kind, on every meter
//   8  subject  u32   the meter a statement is for, or 0 for a whole group
//  12  group    u32   the group it defines (group parameters), 0 otherwise
//
// Group parameters (kind 1), after the header:
//  16  parameter id  u8   an LWR-PSA set's id or DMCFE.parameterID
//  17  key mode      u8   KeyMode
//  18  roster depth  u8   the roster tree has 2^depth leaves (1 ... Roster.maxDepth)
//  19  key setup     u8   KeySetupKind: 0 every pair (n-of-n), 1 neighbour graph
//  20  meters        u32  n, the group size
//  24  max reading   u64  the largest reading per interval, in Wh
//  32  roster root   32   Merkle root over the members (Roster)
//  64  end (key setup 0: leaves (meter id, SHAKE256(DH public key)), ids increasing)
//
//  Key setup 1, the neighbour graph (docs/spec/dropout.md), continues (NeighbourGroupLayout):
//  64  graph seed        32   ring keys of the members that join in this epoch
//  96  degree            u8   k, even, 2 ... NeighbourGraph.maxDegree
//  97  max silent        u8   t: most silent neighbours one recovery answer covers, 1 ... k
//  98  recovery budget   u8   B: unconfirmed recovery answers per neighbour, 1 ... 4
//  99  recovery window   u8   W: labels back from the current one a recovery may ask for, 1 ... 96
// 100  activation label  u64  the first label encrypted under this epoch's keys
// 108  previous epoch    u32  the epoch whose pairwise seeds carry over (0: a new group)
// 112  reserved          16   0
// 128  end (leaves (meter id, ring key, SHAKE256(DH public key)), ring keys increasing)
//
// Paillier key (kind 2), for one meter (subject), after the header:
//  16  key bits      u16  2048 or 3072
//  18  group count   u8   1 ... 4
//  19  reserved      u8   0
//  20  groups        4 × u32 (unused entries 0)
//  36  N             bits/8 bytes, big-endian
//
// Statistics plan (kind 5): MeterCrypto/LWRPSA/Statistics.swift.
//
// Downlink framing: frame type `statement`, label = epoch << 32 | chunk. Chunk 0 carries
// body length u16 | body; chunks 1 ... carry the signature, `Statement.chunkBytes` each.
// Frame keys: every frame between a meter and an aggregator is tagged under the key for
// its (meter, group, epoch), derived from the meter's frame secret (`FrameKeys.derive`).

/// What a statement defines.
public enum StatementKind: UInt8, Sendable {
    /// A group: scheme, parameter set, size, maximum reading and the roster of members.
    case groupParameters = 1
    /// The supplier's Paillier key for one meter and the groups it reports to.
    case paillierKey = 2
    /// A group layout of Paillier groups (host side: the aggregators and the guard).
    case layout = 3
    /// A tariff for a billing period: the Paillier aggregators' bills on ciphertexts (host
    /// side), and the LWR-PSA and DMCFE meters' own bills (MeterFirmware/Core/Billing.swift).
    case tariff = 4
    /// A statistics plan for one group and epoch: bin edges, the x² slot, the minimum group
    /// size (LWR-PSA; layout in MeterCrypto/LWRPSA/Statistics.swift, docs/spec/statistics.md).
    case statisticsPlan = 5
}

/// Why a statistics plan, or the slots it asks for, was refused.
// In the core (not LWRPSA/Statistics.swift) because `MeterError` names it in every image.
public enum StatisticsError: UInt8, Error, Equatable, Sendable {
    /// Layout, length, flags, bin count or bin edges a plan may not have.
    case malformed = 1
    /// The plan is for another group size than the group's signed n.
    case wrongGroupSize = 2
    /// The group, or the plan's minimum, is below the minimum group size for statistics.
    case groupTooSmall = 3
    /// Σx² could wrap: n·(n·x_max² + 1) ≥ p. The group gets no variance (a plan without the x² slot).
    case squaresCapacity = 4
    /// The bins need more slots than a statistics frame carries (`StatisticsLayout.maxSlots`).
    case tooManySlots = 5
    /// A group keyed over the neighbour graph: its slot sums would need recovery too; not offered.
    case neighbourGraph = 6
}

/// How the members of a group agree on their keys (group parameters, byte 19).
public enum KeySetupKind: UInt8, Sendable {
    /// Every member pairs with every other and sends its key masked; the aggregator learns
    /// K = Σ k_i and needs every member's ciphertext for every label (n-of-n, the seed's
    /// protocol, kept for comparison: docs/spec/key-setup.md).
    case allPairs = 0
    /// Each member pairs with its neighbours in the signed graph; the keys cancel over the
    /// group and the sum of the members that reported is recovered (docs/spec/dropout.md).
    case neighbourGraph = 1
}

/// Offsets of the neighbour-graph fields of a group-parameters statement (key setup 1).
public enum NeighbourGroupLayout {
    /// Body bytes of a neighbour-graph group-parameters statement.
    public static let bytes = 128
    public static let graphSeed = 64
    public static let degree = 96
    public static let maxSilent = 97
    public static let recoveryBudget = 98
    public static let recoveryWindow = 99
    public static let activationLabel = 100
    public static let previousEpoch = 108
    /// Reserved bytes (zero): 112 ..< 128.
    public static let reserved = 112
}

/// Layout constants of signed statements.
public enum Statement {
    public static let version: UInt8 = 1
    /// FIPS 205 context string of every statement signature.
    public static let context: StaticString = "PM-STATEMENT-v1"
    /// The signature scheme of the authority.
    public static let signatureParameters = SLHDSAParameters.shake128f
    /// Bytes of the authority's public key (PK.seed ‖ PK.root).
    public static let authorityKeyBytes = 32
    public static let headerBytes = 16
    /// The largest body a meter takes (the Paillier key statement at 3072 bits: 420).
    public static let maxBodyBytes = 512
    /// Signature bytes per downlink chunk.
    public static let chunkBytes = 1024
    /// Body bytes of a group-parameters statement.
    public static let groupParametersBytes = 64
    /// The most groups one meter reports to under Paillier (one ciphertext per group per label).
    public static let paillierMaxGroups = 4
    /// Body bytes of a Paillier key statement for an N of `modulusBytes` bytes.
    public static func paillierKeyBytes(modulusBytes: Int) -> Int { 36 + modulusBytes }
    /// Downlink chunks of one statement: the body, then the signature.
    public static var chunkCount: Int { 1 + (signatureParameters.signatureBytes + chunkBytes - 1) / chunkBytes }

    /// The frame label of chunk `chunk` of a statement of `epoch`.
    @inlinable public static func label(epoch: UInt32, chunk: Int) -> UInt64 {
        UInt64(epoch) << 32 | UInt64(chunk)
    }
}

/// The roster of a group: a Merkle tree over its members, so a meter checks each peer's
/// public key against the signed root with log₂ n hashes and keeps nothing per peer.
///
/// leaf(id, h) = SHAKE256("PM-ROSTER-LEAF-v1" ‖ id u32 ‖ h)[32], h = SHAKE256("PM-DHPK-v1" ‖ y)[32];
/// node(l, r) = SHAKE256("PM-ROSTER-NODE-v1" ‖ l ‖ r)[32]; leaves past n are
/// SHAKE256("PM-ROSTER-EMPTY-v1")[32]. Member i (ids increasing) is leaf i.
public enum Roster {
    public static let hashBytes = 32
    /// Up to 65 536 members.
    public static let maxDepth = 16

    /// The hash of a DH public key (384 big-endian bytes) that the roster lists.
    public static func publicKeyHash(_ y: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake256)
        x.absorb("PM-DHPK-v1")
        x.absorb(y)
        x.squeeze(into: &out)
    }

    public static func leaf(meter: UInt32, publicKeyHash: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake256)
        x.absorb("PM-ROSTER-LEAF-v1")
        x.absorb(bigEndian: meter)
        x.absorb(publicKeyHash)
        x.squeeze(into: &out)
    }

    public static func emptyLeaf(into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake256)
        x.absorb("PM-ROSTER-EMPTY-v1")
        x.squeeze(into: &out)
    }

    public static func node(left: Span<UInt8>, right: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        var x = XOF(.shake256)
        x.absorb("PM-ROSTER-NODE-v1")
        x.absorb(left)
        x.absorb(right)
        x.squeeze(into: &out)
    }

    /// True when `leaf` at `index` with the sibling hashes `path` (depth × 32 bytes,
    /// bottom up) gives `root`.
    public static func verifyPath(
        leaf: Span<UInt8>, index: UInt32, depth: Int, path: Span<UInt8>, root: Span<UInt8>
    ) -> Bool {
        guard depth >= 1, depth <= maxDepth, path.count == depth * hashBytes, leaf.count == hashBytes,
            root.count == hashBytes, UInt64(index) < UInt64(1) << UInt64(depth)
        else { return false }
        var current = InlineArray<32, UInt8>(repeating: 0)
        for k in 0..<hashBytes { current[k] = leaf[k] }
        var next = InlineArray<32, UInt8>(repeating: 0)
        var position = index
        for level in 0..<depth {
            let sibling = path.extracting((level * hashBytes)..<((level + 1) * hashBytes))
            var out = next.mutableSpan
            if position & 1 == 0 {
                node(left: current.span, right: sibling, into: &out)
            } else {
                node(left: sibling, right: current.span, into: &out)
            }
            current = next
            position >>= 1
        }
        var diff: UInt8 = 0
        for k in 0..<hashBytes { diff |= current[k] ^ root[k] }
        return diff == 0
    }

    /// Payload of a roster-entry downlink (`rosterEntry`): index u32 | meter u32 | y (384) | path.
    public static func entryBytes(depth: Int) -> Int { 8 + publicKeyBytes + depth * hashBytes }
    /// Bytes of a member's DH public key in an entry: an ffdhe3072 element (`FFDHGroup.byteCount`).
    public static let publicKeyBytes = 384

    /// A leaf of a neighbour-graph roster (key setup 1): the member's ring key, which fixes
    /// its place on the ring (leaves are in increasing ring-key order), is part of it:
    /// SHAKE256("PM-ROSTER-LEAF-v2" ‖ id u32 ‖ ring key u64 ‖ h)[32].
    public static func graphLeaf(
        meter: UInt32, ringKey: UInt64, publicKeyHash: Span<UInt8>, into out: inout MutableSpan<UInt8>
    ) {
        var x = XOF(.shake256)
        x.absorb("PM-ROSTER-LEAF-v2")
        x.absorb(bigEndian: meter)
        x.absorb(bigEndian: ringKey)
        x.absorb(publicKeyHash)
        x.squeeze(into: &out)
    }

    /// Payload of a neighbour-graph roster entry: index u32 | meter u32 | ring key u64 | y (384) | path.
    public static func graphEntryBytes(depth: Int) -> Int { 16 + publicKeyBytes + depth * hashBytes }
}

/// The enrolment of a fresh DH public key with the authority: the meter tags it under its
/// enrolment key, which only it and the authority hold (per meter, never shared with the
/// aggregator or another meter), so neither an aggregator nor a meter can enrol a key in
/// another meter's name.
public enum Enrolment {
    public static let tagBytes = 16
    /// publicKey uplink payload: y (384 big-endian) | tag (16).
    public static let payloadBytes = Roster.publicKeyBytes + tagBytes

    /// KMAC128(enrolment key, "PM-ENROL-v1", group ‖ epoch ‖ meter ‖ y), 16 bytes.
    public static func tag(
        enrolmentKey: Span<UInt8>, group: UInt32, epoch: UInt32, meter: UInt32, publicKey: Span<UInt8>,
        into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == tagBytes, "an enrolment tag has 16 bytes")
        mac(enrolmentKey, group, epoch, meter, publicKey).finalize(into: &out)
    }

    /// Checks an enrolment tag in constant time.
    public static func verify(
        enrolmentKey: Span<UInt8>, group: UInt32, epoch: UInt32, meter: UInt32, publicKey: Span<UInt8>,
        tag: Span<UInt8>
    ) -> Bool {
        tag.count == tagBytes && mac(enrolmentKey, group, epoch, meter, publicKey).verify(tag)
    }

    private static func mac(
        _ key: Span<UInt8>, _ group: UInt32, _ epoch: UInt32, _ meter: UInt32, _ y: Span<UInt8>
    ) -> KMAC128 {
        var mac = KMAC128(key: key, customization: "PM-ENROL-v1")
        mac.absorb(bigEndian: group)
        mac.absorb(bigEndian: epoch)
        mac.absorb(bigEndian: meter)
        mac.absorb(y)
        return mac
    }
}

/// Frame keys per (meter, group, epoch): an aggregator gets from the authority the keys of
/// its own groups' members for the current epoch only, so it can neither forge frames or
/// acks into another group nor speak for an older epoch.
public enum FrameKeys {
    /// KMAC128(frame secret, "PM-FRAME-KEY-v1", group ‖ epoch), 32 bytes.
    public static func derive(
        secret: Span<UInt8>, group: UInt32, epoch: UInt32, into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == Frame.keyBytes, "a frame key has 32 bytes")
        var mac = KMAC128(key: secret, customization: "PM-FRAME-KEY-v1")
        mac.absorb(bigEndian: group)
        mac.absorb(bigEndian: epoch)
        mac.finalize(into: &out)
    }
}
