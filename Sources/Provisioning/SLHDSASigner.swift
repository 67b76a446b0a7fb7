// The provisioning authority's SLH-DSA signer (FIPS 205, pure, SHAKE instantiation).
//
// Host only: it builds whole XMSS and FORS trees in arrays. The hash functions, addresses,
// chains, digest split and WOTS+ digits are the firmware's (firmware/MeterCrypto/SLHDSA.swift),
// so signer and meter share one definition of each.

import MeterCrypto

/// An SLH-DSA secret key: SK.seed, SK.prf, PK.seed and the derived PK.root.
public struct SLHDSASecretKey: Sendable {
    public let parameters: SLHDSAParameters
    let secretSeed: SLHDSANode
    let secretPRF: [UInt8]
    let publicSeed: [UInt8]
    let publicRoot: [UInt8]
    let hasher: SLHDSAHasher
    /// PK.seed || PK.root: what meters hold.
    public let publicKey: [UInt8]

    /// slh_keygen_internal (FIPS 205, algorithm 18): PK.root is the root of the top layer's
    /// XMSS tree. Each seed must be n bytes.
    public init(parameters: SLHDSAParameters, skSeed: [UInt8], skPRF: [UInt8], pkSeed: [UInt8]) {
        let n = parameters.n
        precondition(skSeed.count == n && skPRF.count == n && pkSeed.count == n, "SLH-DSA: seeds must be n bytes")
        self.parameters = parameters
        secretSeed = SLHDSANode(bytes: skSeed)
        secretPRF = skPRF
        publicSeed = pkSeed
        hasher = SLHDSAHasher(n: n, publicSeed: pkSeed.span)
        let tree = XMSSTree(
            parameters: parameters, hasher: hasher, secretSeed: secretSeed, layer: UInt32(parameters.d - 1), tree: 0)
        publicRoot = tree.root.bytes(n)
        publicKey = pkSeed + publicRoot
    }

    /// A key from 3n seed bytes: SK.seed || SK.prf || PK.seed.
    public init(parameters: SLHDSAParameters, seed: [UInt8]) {
        let n = parameters.n
        precondition(seed.count == 3 * n, "SLH-DSA: the seed must be 3n bytes")
        self.init(
            parameters: parameters, skSeed: Array(seed[0..<n]), skPRF: Array(seed[n..<(2 * n)]),
            pkSeed: Array(seed[(2 * n)...]))
    }

    /// slh_sign (FIPS 205, algorithms 22 and 19): a pure SLH-DSA signature of `message` with
    /// context `context` (at most 255 UTF-8 bytes). `addRandomness` is opt_rand (n bytes);
    /// nil signs deterministically (opt_rand = PK.seed).
    public func sign(_ message: [UInt8], context: String, addRandomness: [UInt8]? = nil) -> [UInt8] {
        let p = parameters
        let n = p.n
        let ctx = Array(context.utf8)
        precondition(ctx.count <= 255, "SLH-DSA: context longer than 255 bytes")
        let optRand = addRandomness ?? publicSeed
        precondition(optRand.count == n, "SLH-DSA: addRandomness must be n bytes")

        // R = PRF_msg(SK.prf, opt_rand, M').
        var prfMsg = XOF(.shake256)
        prfMsg.absorb(secretPRF.span)
        prfMsg.absorb(optRand.span)
        SLHDSA.absorbPureMessage(into: &prfMsg, context: ctx.span, message: message.span)
        let r = hasher.squeeze(&prfMsg).bytes(n)
        var signature = r
        signature.reserveCapacity(p.signatureBytes)

        let digest = SLHDSADigest(
            parameters: p, randomizer: r.span, publicSeed: publicSeed.span, publicRoot: publicRoot.span,
            context: ctx.span, message: message.span)

        // FORS (algorithms 16 and 15): per tree the revealed secret and its authentication path.
        var roots = hasher.begin(
            SLHDSAAddress(layer: 0, tree: digest.treeIndex, kind: .forsRoots, keyPair: digest.leafIndex))
        for i in 0..<p.k {
            let offset = UInt32(i << p.a)
            let leafIndex = Int(digest.forsIndex(i, parameters: p))
            let secrets = (0..<(1 << p.a)).map { leaf in
                hasher.prf(
                    SLHDSAAddress(
                        layer: 0, tree: digest.treeIndex, kind: .forsPRF, keyPair: digest.leafIndex,
                        hashOrIndex: offset + UInt32(leaf)),
                    secretSeed: secretSeed)
            }
            let leaves = secrets.indices.map { leaf in
                hasher.f(
                    SLHDSAAddress(
                        layer: 0, tree: digest.treeIndex, kind: .forsTree, keyPair: digest.leafIndex,
                        hashOrIndex: offset + UInt32(leaf)),
                    secrets[leaf])
            }
            let tree = MerkleTree(
                leaves: leaves, hasher: hasher,
                address: SLHDSAAddress(layer: 0, tree: digest.treeIndex, kind: .forsTree, keyPair: digest.leafIndex),
                firstLeafIndex: offset)
            signature += secrets[leafIndex].bytes(n)
            for node in tree.authenticationPath(leafIndex) { signature += node.bytes(n) }
            hasher.absorb(tree.root, into: &roots)
        }
        var layerMessage = hasher.squeeze(&roots)

        // The hypertree (algorithms 12 and 10): per layer a WOTS+ signature of the message
        // and the authentication path of its leaf; the tree's root is the next message.
        var treeIndex = digest.treeIndex
        var leafIndex = digest.leafIndex
        for layer in 0..<p.d {
            if layer > 0 {
                leafIndex = UInt32(truncatingIfNeeded: treeIndex) & ((1 << UInt32(p.hPrime)) - 1)
                treeIndex >>= UInt64(p.hPrime)
            }
            let xmss = XMSSTree(
                parameters: p, hasher: hasher, secretSeed: secretSeed, layer: UInt32(layer), tree: treeIndex)
            let wots = SLHDSAWOTSMessage(layerMessage, parameters: p)
            for chain in 0..<p.len {
                var address = SLHDSAAddress(
                    layer: UInt32(layer), tree: treeIndex, kind: .wotsHash, keyPair: leafIndex,
                    chainOrHeight: UInt32(chain))
                let secret = xmss.wotsSecret(leaf: leafIndex, chain: chain)
                let value = hasher.chain(
                    secret, start: 0, steps: wots.digit(chain, parameters: p), address: &address)
                signature += value.bytes(n)
            }
            for node in xmss.tree.authenticationPath(Int(leafIndex)) { signature += node.bytes(n) }
            layerMessage = xmss.root
        }
        precondition(signature.count == p.signatureBytes, "SLH-DSA: signature length")
        return signature
    }
}

/// A whole Merkle tree, every level kept: level 0 the leaves, the last level the root.
struct MerkleTree {
    let levels: [[SLHDSANode]]

    /// Nodes at height j are H(ADRS with height j, index (firstLeafIndex >> j) + i, left, right)
    /// (FIPS 205, algorithms 9 and 14): `address` carries everything else.
    init(leaves: [SLHDSANode], hasher: SLHDSAHasher, address: SLHDSAAddress, firstLeafIndex: UInt32) {
        precondition(leaves.count > 0 && leaves.count & (leaves.count - 1) == 0, "Merkle tree: 2^h leaves")
        var levels = [leaves]
        var height: UInt32 = 0
        while levels[levels.count - 1].count > 1 {
            let below = levels[levels.count - 1]
            height += 1
            var address = address
            address.chainOrHeight = height
            levels.append(
                (0..<(below.count / 2)).map { i in
                    address.hashOrIndex = (firstLeafIndex >> height) + UInt32(i)
                    return hasher.h(address, below[2 * i], below[2 * i + 1])
                })
        }
        self.levels = levels
    }

    var root: SLHDSANode { levels[levels.count - 1][0] }

    /// The siblings of leaf `index` from the bottom up.
    func authenticationPath(_ index: Int) -> [SLHDSANode] {
        (0..<(levels.count - 1)).map { j in levels[j][(index >> j) ^ 1] }
    }
}

/// One XMSS tree of the hypertree: its leaves are WOTS+ public keys (FIPS 205, algorithm 6).
struct XMSSTree {
    let parameters: SLHDSAParameters
    let hasher: SLHDSAHasher
    let secretSeed: SLHDSANode
    let layer: UInt32
    let treeIndex: UInt64
    let tree: MerkleTree

    init(parameters p: SLHDSAParameters, hasher: SLHDSAHasher, secretSeed: SLHDSANode, layer: UInt32, tree: UInt64) {
        parameters = p
        self.hasher = hasher
        self.secretSeed = secretSeed
        self.layer = layer
        treeIndex = tree
        var leaves: [SLHDSANode] = []
        leaves.reserveCapacity(1 << p.hPrime)
        for leaf in 0..<UInt32(1 << p.hPrime) {
            var compressed = hasher.begin(SLHDSAAddress(layer: layer, tree: tree, kind: .wotsPK, keyPair: leaf))
            for chain in 0..<p.len {
                let secret = Self.wotsSecret(hasher, secretSeed, layer: layer, tree: tree, leaf: leaf, chain: chain)
                var address = SLHDSAAddress(
                    layer: layer, tree: tree, kind: .wotsHash, keyPair: leaf, chainOrHeight: UInt32(chain))
                hasher.absorb(hasher.chain(secret, start: 0, steps: p.w - 1, address: &address), into: &compressed)
            }
            leaves.append(hasher.squeeze(&compressed))
        }
        self.tree = MerkleTree(
            leaves: leaves, hasher: hasher, address: SLHDSAAddress(layer: layer, tree: tree, kind: .tree),
            firstLeafIndex: 0)
    }

    var root: SLHDSANode { tree.root }

    func wotsSecret(leaf: UInt32, chain: Int) -> SLHDSANode {
        Self.wotsSecret(hasher, secretSeed, layer: layer, tree: treeIndex, leaf: leaf, chain: chain)
    }

    /// The secret start of a WOTS+ chain: PRF with a WOTS_PRF address (algorithm 6 lines 5-7).
    static func wotsSecret(
        _ hasher: SLHDSAHasher, _ secretSeed: SLHDSANode, layer: UInt32, tree: UInt64, leaf: UInt32, chain: Int
    ) -> SLHDSANode {
        hasher.prf(
            SLHDSAAddress(layer: layer, tree: tree, kind: .wotsPRF, keyPair: leaf, chainOrHeight: UInt32(chain)),
            secretSeed: secretSeed)
    }
}

extension SLHDSANode {
    /// A node holding `bytes` (at most 32) in its first bytes.
    init(bytes: [UInt8]) {
        precondition(bytes.count <= 32, "SLH-DSA: a node holds at most 32 bytes")
        self.init(repeating: 0)
        for (i, byte) in bytes.enumerated() { self[i] = byte }
    }

    /// The first `n` bytes.
    func bytes(_ n: Int) -> [UInt8] { (0..<n).map { self[$0] } }
}
