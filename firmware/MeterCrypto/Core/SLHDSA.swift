// SLH-DSA (FIPS 205, August 2024), SHAKE instantiation: the provisioning authority's
// signature, which a meter verifies before it acts on any statement.
//
// Firmware code: builds as Embedded Swift with -no-allocations. The verifier is streaming:
// the meter receives a signature over the radio in chunks and never holds it whole. Every
// n-byte element of the signature is used the moment it is complete (docs/spec/signatures.md
// gives the order), so the verifier's state is a few nodes, one sponge and some counters.
//
// The building blocks below (address layout, the SHAKE functions, chains, climbing one tree
// level, the message digest and its split, WOTS+ digits) are public because the host's
// signer (Sources/Provisioning) uses the same code; they carry no secret-handling promises
// (no constant time, no zeroisation): verification works on public data only.

/// A node (an n-byte hash value) in a fixed buffer: bytes 0..<n are the value, the rest zero.
/// 32 bytes hold every FIPS 205 set's n; only the 128-bit sets are defined here.
public typealias SLHDSANode = InlineArray<32, UInt8>

/// One SLH-DSA parameter set (FIPS 205, table 2), SHAKE instantiation.
public struct SLHDSAParameters: Sendable, Equatable {
    /// Last arc of the set's object identifier 2.16.840.1.101.3.4.3.id (26: SHAKE-128s, 27: SHAKE-128f).
    public let id: UInt8
    /// Bytes per hash value (security parameter).
    public let n: Int
    /// Total height of the hypertree.
    public let h: Int
    /// Number of hypertree layers.
    public let d: Int
    /// Height of each XMSS tree, h / d.
    public let hPrime: Int
    /// Height of each FORS tree.
    public let a: Int
    /// Number of FORS trees.
    public let k: Int
    /// log2 of the Winternitz parameter w.
    public let lgW: Int
    /// Bytes of H_msg output.
    public let m: Int

    init(id: UInt8, n: Int, h: Int, d: Int, hPrime: Int, a: Int, k: Int, lgW: Int, m: Int) {
        precondition(n <= 32 && h == d * hPrime && hPrime <= 16 && h - hPrime <= 64, "SLH-DSA: parameter set")
        precondition(a <= 16 && lgW == 4 && m <= 64, "SLH-DSA: parameter set")
        precondition((k * a + 7) / 8 + (h - hPrime + 7) / 8 + (hPrime + 7) / 8 == m, "SLH-DSA: m does not match")
        self.id = id
        self.n = n
        self.h = h
        self.d = d
        self.hPrime = hPrime
        self.a = a
        self.k = k
        self.lgW = lgW
        self.m = m
    }

    /// SLH-DSA-SHAKE-128f: fast signing, 17 088-byte signatures. The one the authority uses.
    public static let shake128f = SLHDSAParameters(
        id: 27, n: 16, h: 66, d: 22, hPrime: 3, a: 6, k: 33, lgW: 4, m: 34)
    /// SLH-DSA-SHAKE-128s: small signatures (7 856 bytes), slow signing.
    public static let shake128s = SLHDSAParameters(
        id: 26, n: 16, h: 63, d: 7, hPrime: 9, a: 12, k: 14, lgW: 4, m: 30)

    /// The Winternitz parameter w = 2^lgW.
    public var w: Int { 1 << lgW }
    /// WOTS+ message digits: ceil(8n / lgW).
    public var len1: Int { (8 * n + lgW - 1) / lgW }
    /// WOTS+ checksum digits: floor(log2(len1 (w - 1)) / lgW) + 1.
    public var len2: Int {
        let x = len1 * (w - 1)
        return (Int.bitWidth - 1 - x.leadingZeroBitCount) / lgW + 1
    }
    /// WOTS+ chains per key: len1 + len2.
    public var len: Int { len1 + len2 }
    /// Signature bytes: R, the FORS signature, d XMSS signatures.
    public var signatureBytes: Int { elementCount * n }
    /// Public key bytes: PK.seed || PK.root.
    public var publicKeyBytes: Int { 2 * n }
    /// Bytes of the FORS part: k trees of one secret and a authentication nodes.
    public var forsSignatureBytes: Int { k * (a + 1) * n }
    /// Bytes of one XMSS signature in the hypertree part: len WOTS+ values and h' nodes.
    public var xmssSignatureBytes: Int { (len + hPrime) * n }
    /// The signature as n-byte elements.
    var elementCount: Int { 1 + k * (a + 1) + d * (len + hPrime) }
}

/// An ADRS (FIPS 205, section 4.2): the full 32-byte address of the SHAKE instantiation,
/// layer (4 bytes) || tree (12 bytes, the top 4 zero) || type (4) || three 4-byte words.
public struct SLHDSAAddress: Sendable {
    /// The address types of FIPS 205, table 1.
    public enum Kind: UInt32, Sendable {
        /// WOTS_HASH: a step in a WOTS+ chain.
        case wotsHash = 0
        /// WOTS_PK: compressing a WOTS+ public key.
        case wotsPK = 1
        /// TREE: an XMSS tree node.
        case tree = 2
        /// FORS_TREE: a FORS tree node.
        case forsTree = 3
        /// FORS_ROOTS: compressing the FORS roots.
        case forsRoots = 4
        /// WOTS_PRF: generating a WOTS+ secret value.
        case wotsPRF = 5
        /// FORS_PRF: generating a FORS secret value.
        case forsPRF = 6
    }

    /// Hypertree layer (0 is the bottom).
    public var layer: UInt32
    /// Tree index within the layer.
    public var tree: UInt64
    /// Address type; the words after it mean what the type says.
    public var kind: Kind
    /// Key pair address: the WOTS+ key (leaf) or FORS key; 0 for TREE.
    public var keyPair: UInt32
    /// Chain address (WOTS) or tree height (TREE, FORS_TREE).
    public var chainOrHeight: UInt32
    /// Hash address (WOTS) or tree index (TREE, FORS_TREE, FORS_PRF).
    public var hashOrIndex: UInt32

    public init(
        layer: UInt32, tree: UInt64, kind: Kind, keyPair: UInt32 = 0, chainOrHeight: UInt32 = 0,
        hashOrIndex: UInt32 = 0
    ) {
        self.layer = layer
        self.tree = tree
        self.kind = kind
        self.keyPair = keyPair
        self.chainOrHeight = chainOrHeight
        self.hashOrIndex = hashOrIndex
    }

    /// Absorbs the 32 address bytes.
    func absorb(into xof: inout XOF) {
        xof.absorb(bigEndian: UInt64(layer) &<< 32)
        xof.absorb(bigEndian: tree)
        xof.absorb(bigEndian: UInt64(kind.rawValue) &<< 32 | UInt64(keyPair))
        xof.absorb(bigEndian: UInt64(chainOrHeight) &<< 32 | UInt64(hashOrIndex))
    }
}

/// The tweakable hash functions of the SHAKE instantiation (FIPS 205, section 11.1) for one
/// PK.seed: F, H, T_l and PRF are SHAKE256(PK.seed || ADRS || input) cut to n bytes.
public struct SLHDSAHasher: Sendable {
    /// Bytes per hash value.
    public let n: Int
    /// PK.seed in bytes 0..<n.
    public private(set) var publicSeed: SLHDSANode

    /// `publicSeed` must hold at least n bytes; the first n are used.
    public init(n: Int, publicSeed: Span<UInt8>) {
        precondition(n > 0 && n <= 32 && publicSeed.count >= n, "SLH-DSA: PK.seed shorter than n")
        self.n = n
        self.publicSeed = SLHDSANode(repeating: 0)
        for i in 0..<n { self.publicSeed[i] = publicSeed[i] }
    }

    /// A sponge holding PK.seed || ADRS: T_l's start. Absorb l nodes, then `squeeze`.
    public func begin(_ address: SLHDSAAddress) -> XOF {
        var xof = XOF(.shake256)
        xof.absorb(publicSeed.span.extracting(0..<n))
        address.absorb(into: &xof)
        return xof
    }

    /// Absorbs the n bytes of `node`.
    public func absorb(_ node: SLHDSANode, into xof: inout XOF) {
        xof.absorb(node.span.extracting(0..<n))
    }

    /// The next n output bytes of `xof` as a node.
    public func squeeze(_ xof: inout XOF) -> SLHDSANode {
        var out = SLHDSANode(repeating: 0)
        var span = out.mutableSpan
        xof.squeeze(into: &span, count: n)
        return out
    }

    /// F(PK.seed, ADRS, x).
    public func f(_ address: SLHDSAAddress, _ x: SLHDSANode) -> SLHDSANode {
        var xof = begin(address)
        absorb(x, into: &xof)
        return squeeze(&xof)
    }

    /// H(PK.seed, ADRS, left || right).
    public func h(_ address: SLHDSAAddress, _ left: SLHDSANode, _ right: SLHDSANode) -> SLHDSANode {
        var xof = begin(address)
        absorb(left, into: &xof)
        absorb(right, into: &xof)
        return squeeze(&xof)
    }

    /// PRF(PK.seed, SK.seed, ADRS) = SHAKE256(PK.seed || ADRS || SK.seed).
    public func prf(_ address: SLHDSAAddress, secretSeed: SLHDSANode) -> SLHDSANode {
        f(address, secretSeed)
    }

    /// chain(x, start, steps) (FIPS 205, algorithm 5): F applied `steps` times with hash
    /// addresses start..<start + steps. `address` is a WOTS_HASH address with its chain set.
    public func chain(_ x: SLHDSANode, start: Int, steps: Int, address: inout SLHDSAAddress) -> SLHDSANode {
        var value = x
        var j = start
        while j < start + steps {
            address.hashOrIndex = UInt32(truncatingIfNeeded: j)
            value = f(address, value)
            j += 1
        }
        return value
    }

    /// One level up a Merkle tree (FIPS 205, algorithms 11 and 17): `address` holds the height
    /// and index of `node`; returns the parent of `node` and its `sibling` and moves `address`
    /// to the parent.
    public func climb(_ node: SLHDSANode, sibling: SLHDSANode, address: inout SLHDSAAddress) -> SLHDSANode {
        let index = address.hashOrIndex
        address.chainOrHeight &+= 1
        address.hashOrIndex = index >> 1
        return index & 1 == 0 ? h(address, node, sibling) : h(address, sibling, node)
    }
}

/// H_msg's output split into the FORS message and the hypertree indices (FIPS 205,
/// algorithm 20 lines 7-12, algorithm 19 lines 11-16).
public struct SLHDSADigest: Sendable {
    /// The m digest bytes; md is the first ceil(k a / 8).
    var bytes: InlineArray<64, UInt8>
    /// Index of the bottom layer's XMSS tree: the next ceil((h - h') / 8) bytes mod 2^(h - h').
    public let treeIndex: UInt64
    /// Index of the leaf (WOTS+ key) in that tree: the next ceil(h' / 8) bytes mod 2^h'.
    public let leafIndex: UInt32

    /// An all-zero digest (a verifier before R arrives).
    init() {
        bytes = InlineArray(repeating: 0)
        treeIndex = 0
        leafIndex = 0
    }

    /// H_msg(R, PK.seed, PK.root, M') for pure SLH-DSA, M' = 0x00 || len(ctx) || ctx || M
    /// (FIPS 205, algorithms 22 and 24), split. `context` must be at most 255 bytes.
    public init(
        parameters p: SLHDSAParameters, randomizer r: Span<UInt8>, publicSeed: Span<UInt8>,
        publicRoot: Span<UInt8>, context: Span<UInt8>, message: Span<UInt8>
    ) {
        var xof = XOF(.shake256)
        xof.absorb(r)
        xof.absorb(publicSeed)
        xof.absorb(publicRoot)
        SLHDSA.absorbPureMessage(into: &xof, context: context, message: message)
        var bytes = InlineArray<64, UInt8>(repeating: 0)
        var span = bytes.mutableSpan
        xof.squeeze(into: &span, count: p.m)
        let mdBytes = (p.k * p.a + 7) / 8
        let treeBytes = (p.h - p.hPrime + 7) / 8
        let leafBytes = (p.hPrime + 7) / 8
        var tree: UInt64 = 0
        for i in 0..<treeBytes { tree = tree &<< 8 | UInt64(bytes[mdBytes + i]) }
        let treeBits = p.h - p.hPrime
        if treeBits < 64 { tree &= (1 &<< UInt64(treeBits)) &- 1 }
        var leaf: UInt32 = 0
        for i in 0..<leafBytes { leaf = leaf &<< 8 | UInt32(bytes[mdBytes + treeBytes + i]) }
        leaf &= (1 &<< UInt32(p.hPrime)) &- 1
        self.bytes = bytes
        treeIndex = tree
        leafIndex = leaf
    }

    /// The leaf revealed in FORS tree `tree`: digit `tree` of base_2b(md, a, k).
    public func forsIndex(_ tree: Int, parameters p: SLHDSAParameters) -> UInt32 {
        bytes.span.bits(at: tree * p.a, count: p.a)
    }
}

/// A WOTS+ message and its checksum as len base-w digits (FIPS 205, algorithm 7 lines 1-9).
public struct SLHDSAWOTSMessage: Sendable {
    /// The n-byte message (an XMSS root or the FORS public key).
    var message: SLHDSANode
    /// The checksum, shifted left so its len2 digits fill whole bytes.
    var checksum: UInt32

    public init(_ message: SLHDSANode, parameters p: SLHDSAParameters) {
        self.message = message
        var sum: UInt32 = 0
        for i in 0..<p.len1 {
            sum &+= UInt32(p.w - 1) &- message.span.bits(at: i * p.lgW, count: p.lgW)
        }
        let checksumBits = p.len2 * p.lgW
        checksum = sum &<< UInt32((8 - checksumBits % 8) % 8)
    }

    /// Digit `i` (0..<len): the message's digits first, then the checksum's.
    public func digit(_ i: Int, parameters p: SLHDSAParameters) -> Int {
        if i < p.len1 { return Int(message.span.bits(at: i * p.lgW, count: p.lgW)) }
        let totalBits = (p.len2 * p.lgW + 7) / 8 * 8
        let shift = totalBits - p.lgW * (i - p.len1 + 1)
        return Int((checksum >> UInt32(shift)) & UInt32(p.w - 1))
    }
}

extension XOF {
    /// Fills the first `count` bytes of `out` with the next output bytes.
    mutating func squeeze(into out: inout MutableSpan<UInt8>, count: Int) {
        precondition(count <= out.count, "XOF: squeeze past the end of the buffer")
        out.withUnsafeMutableBufferPointer { squeeze(into: UnsafeMutableBufferPointer(rebasing: $0[0..<count])) }
    }
}

extension Span where Element == UInt8 {
    /// `count` (at most 32) bits starting at bit `offset`, most significant bit of each byte
    /// first, as an integer: base_2b's digits (FIPS 205, algorithm 4).
    func bits(at offset: Int, count: Int) -> UInt32 {
        var value: UInt32 = 0
        var bit = offset
        while bit < offset + count {
            let byte = self[bit >> 3]
            value = value &<< 1 | UInt32((byte >> UInt8(7 - bit & 7)) & 1)
            bit += 1
        }
        return value
    }
}

/// One-shot verification and the message encoding shared with the signer.
public enum SLHDSA {
    /// slh_verify (FIPS 205, algorithm 24): true iff `signature` is a valid pure SLH-DSA
    /// signature of `message` with context `context` under `publicKey`. Runs the streaming
    /// verifier over the whole signature at once.
    public static func verify(
        parameters: SLHDSAParameters, publicKey: Span<UInt8>, message: Span<UInt8>, signature: Span<UInt8>,
        context: StaticString
    ) -> Bool {
        var verifier = SLHDSAVerifier(parameters: parameters, publicKey: publicKey, context: context)
        verifier.absorb(signature: signature, message: message)
        return verifier.finish()
    }

    /// Absorbs M' = 0x00 || len(ctx) || ctx || M (pure SLH-DSA, FIPS 205 algorithms 22/24).
    public static func absorbPureMessage(into xof: inout XOF, context: Span<UInt8>, message: Span<UInt8>) {
        precondition(context.count <= 255, "SLH-DSA: context longer than 255 bytes")
        xof.absorb(UInt8(0))
        xof.absorb(UInt8(truncatingIfNeeded: context.count))
        xof.absorb(context)
        xof.absorb(message)
    }
}

/// A streaming SLH-DSA verifier (FIPS 205, algorithm 24 / 20, pure, SHAKE).
///
/// Feed the signature in chunks of any size with `absorb(signature:message:)`, then ask
/// `finish()`. Each n-byte element is processed as soon as it is complete: R yields the
/// digest; each FORS secret is hashed to its leaf and climbed with its a authentication
/// nodes, each root absorbed into T_k; then per hypertree layer each WOTS+ value is chained
/// to w - 1 and absorbed into T_len, the resulting leaf climbed with h' nodes to the root
/// that is the next layer's message, and the top root compared with PK.root.
///
/// Malformed input (a public key of the wrong length, a context over 255 bytes, more bytes
/// than `signatureBytes`) never traps: it makes `finish()` false.
public struct SLHDSAVerifier: Sendable {
    let parameters: SLHDSAParameters
    let context: StaticString
    /// PK.seed and the hash functions.
    var hasher: SLHDSAHasher
    /// PK.root in bytes 0..<n.
    var publicRoot: SLHDSANode
    /// The element being received, bytes 0..<pendingCount.
    var pending: SLHDSANode
    var pendingCount: Int
    /// Index of the element being received (0: R).
    var element: Int
    /// Signature bytes absorbed so far (only counted while not malformed).
    var absorbedBytes: Int
    /// Input that can never verify: wrong key or context length, too many bytes.
    var malformed: Bool
    /// Set when the last element completes and the top root equals PK.root.
    var accepted: Bool
    /// The digest of R and the message.
    var digest: SLHDSADigest
    /// The current layer's XMSS tree and leaf (the bottom layer's come from the digest).
    var treeIndex: UInt64
    var leafIndex: UInt32
    /// The address of `node` while climbing a tree.
    var address: SLHDSAAddress
    /// The node being climbed.
    var node: SLHDSANode
    /// The current layer's WOTS+ message (the FORS public key, then each XMSS root).
    var wotsMessage: SLHDSAWOTSMessage
    /// T_k over the FORS roots, then T_len over each layer's chain ends.
    var sponge: XOF

    /// `publicKey` is PK.seed || PK.root (2n bytes); `context` the FIPS 205 ctx string.
    public init(parameters: SLHDSAParameters, publicKey: Span<UInt8>, context: StaticString) {
        let n = parameters.n
        let keyOK = publicKey.count == parameters.publicKeyBytes
        let zero = SLHDSANode(repeating: 0)
        self.parameters = parameters
        self.context = context
        hasher = keyOK ? SLHDSAHasher(n: n, publicSeed: publicKey) : SLHDSAHasher(n: n, publicSeed: zero.span)
        publicRoot = zero
        if keyOK { for i in 0..<n { publicRoot[i] = publicKey[n + i] } }
        pending = zero
        pendingCount = 0
        element = 0
        absorbedBytes = 0
        malformed = !keyOK || context.utf8CodeUnitCount > 255
        accepted = false
        digest = SLHDSADigest()
        treeIndex = 0
        leafIndex = 0
        address = SLHDSAAddress(layer: 0, tree: 0, kind: .tree)
        node = zero
        wotsMessage = SLHDSAWOTSMessage(zero, parameters: parameters)
        sponge = XOF(.shake256)
    }

    /// Signature bytes still expected.
    public var bytesRemaining: Int { max(0, parameters.signatureBytes - absorbedBytes) }

    /// Feeds the next bytes of the signature (any split). `message` is the same whole message
    /// on every call: it is hashed when R completes.
    public mutating func absorb(signature: Span<UInt8>, message: Span<UInt8>) {
        guard !malformed else { return }
        guard signature.count <= bytesRemaining else {
            malformed = true
            return
        }
        let n = parameters.n
        var i = 0
        while i < signature.count {
            let take = min(n - pendingCount, signature.count - i)
            for t in 0..<take { pending[pendingCount + t] = signature[i + t] }
            pendingCount += take
            i += take
            if pendingCount == n {
                process(message: message)
                element += 1
                pendingCount = 0
            }
        }
        absorbedBytes += signature.count
    }

    /// True iff exactly `signatureBytes` were absorbed and the signature verifies.
    public func finish() -> Bool {
        !malformed && absorbedBytes == parameters.signatureBytes && accepted
    }

    /// Uses the element just completed in `pending`.
    mutating func process(message: Span<UInt8>) {
        let p = parameters
        if element == 0 {
            startFORS(message: message)
            return
        }
        let forsElements = p.k * (p.a + 1)
        if element <= forsElements {
            let tree = (element - 1) / (p.a + 1)
            let position = (element - 1) % (p.a + 1)
            if position == 0 {
                // The revealed secret: its leaf (FIPS 205, algorithm 17 lines 4-6).
                let index = UInt32(tree << p.a) | digest.forsIndex(tree, parameters: p)
                address = SLHDSAAddress(
                    layer: 0, tree: treeIndex, kind: .forsTree, keyPair: leafIndex, hashOrIndex: index)
                node = hasher.f(address, pending)
            } else {
                node = hasher.climb(node, sibling: pending, address: &address)
            }
            if position == p.a {
                hasher.absorb(node, into: &sponge)
                if tree == p.k - 1 { startLayer(0, message: hasher.squeeze(&sponge)) }
            }
            return
        }
        let perLayer = p.len + p.hPrime
        let layer = (element - 1 - forsElements) / perLayer
        let position = (element - 1 - forsElements) % perLayer
        if position < p.len {
            // A WOTS+ value: chain it to the end (FIPS 205, algorithm 8) into T_len.
            let digit = wotsMessage.digit(position, parameters: p)
            var chainAddress = SLHDSAAddress(
                layer: UInt32(layer), tree: treeIndex, kind: .wotsHash, keyPair: leafIndex,
                chainOrHeight: UInt32(position))
            let end = hasher.chain(pending, start: digit, steps: p.w - 1 - digit, address: &chainAddress)
            hasher.absorb(end, into: &sponge)
            if position == p.len - 1 {
                node = hasher.squeeze(&sponge)
                address = SLHDSAAddress(layer: UInt32(layer), tree: treeIndex, kind: .tree, hashOrIndex: leafIndex)
            }
            return
        }
        // An authentication node (FIPS 205, algorithm 11 lines 6-17).
        node = hasher.climb(node, sibling: pending, address: &address)
        if position == perLayer - 1 {
            if layer == p.d - 1 {
                var equal = true
                for i in 0..<p.n where node[i] != publicRoot[i] { equal = false }
                accepted = equal
            } else {
                startLayer(layer + 1, message: node)
            }
        }
    }

    /// R is complete: the digest, and T_k's sponge for the FORS roots.
    mutating func startFORS(message: Span<UInt8>) {
        let n = parameters.n
        let digest = context.withUTF8Buffer { ctx in
            SLHDSADigest(
                parameters: parameters, randomizer: pending.span.extracting(0..<n),
                publicSeed: hasher.publicSeed.span.extracting(0..<n), publicRoot: publicRoot.span.extracting(0..<n),
                context: Span(_unsafeElements: ctx), message: message)
        }
        self.digest = digest
        treeIndex = digest.treeIndex
        leafIndex = digest.leafIndex
        sponge = hasher.begin(SLHDSAAddress(layer: 0, tree: treeIndex, kind: .forsRoots, keyPair: leafIndex))
    }

    /// Hypertree layer `layer` starts: its tree and leaf, its WOTS+ message, T_len's sponge.
    mutating func startLayer(_ layer: Int, message: SLHDSANode) {
        let p = parameters
        if layer > 0 {
            leafIndex = UInt32(truncatingIfNeeded: treeIndex) & ((1 << UInt32(p.hPrime)) - 1)
            treeIndex >>= UInt64(p.hPrime)
        }
        wotsMessage = SLHDSAWOTSMessage(message, parameters: p)
        sponge = hasher.begin(SLHDSAAddress(layer: UInt32(layer), tree: treeIndex, kind: .wotsPK, keyPair: leafIndex))
    }
}
