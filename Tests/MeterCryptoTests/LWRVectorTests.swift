import Foundation
import MeterCrypto
import TestSupport
import Testing

/// Vectors/lwr_psa.json, made by scripts/vectors/make_lwr_vectors.py from the specification
/// (docs/spec/lwr-psa.md, key-setup.md, frames.md) in Python, independently of the firmware.
struct LWRVectorFile: Decodable {
    struct ParameterSet: Decodable {
        let id: UInt8
        let name: String
        let lambda: Int
        let plaintext_bits: Int
        let prf: [PRFCase]
        let encrypt: [EncryptCase]
        let capacity: Capacity
        let groups: [GroupCase]
        let pairwise_seed: [PairwiseSeedCase]
        let zero_share: [ZeroShareCase]
        let apply_zero_share: [ApplyCase]
        let key_setup_group: KeySetupGroup
        let slot_prf: [SlotPRFCase]
        let statistics_group: StatisticsGroup
    }
    struct SlotPRFCase: Decodable {
        let seed: String
        let group: UInt32
        let label: UInt64
        let slot: UInt8
        let slot_vector_first: [String]
        let prf: UInt64
        let reading_prf: UInt64
    }
    struct StatisticsMember: Decodable {
        let seed: String
        let reading: UInt64
        let slot_values: [UInt64]
        let ciphertexts: [UInt64]
    }
    struct StatisticsGroup: Decodable {
        let group: UInt32
        let label: UInt64
        let meters: UInt32
        let max_reading: UInt64
        let squares: Bool
        let edges: [UInt32]
        let counter_bits: Int
        let bins_per_slot: Int
        let tags: [UInt8]
        let members: [StatisticsMember]
        let aggregate_key_shake256: String
        let slot_sums: [UInt64]
        let sum_of_squares: UInt64
        let histogram: [UInt64]
    }
    struct PRFCase: Decodable {
        let seed: String
        let group: UInt32
        let label: UInt64
        let label_vector_first: [String]
        let key_first: [String]
        let key_shake256: String
        let prf: UInt64
    }
    struct EncryptCase: Decodable {
        let pad: UInt64
        let meters: UInt32
        let max_reading: UInt64
        let reading: UInt64
        let ciphertext: UInt64
    }
    struct Capacity: Decodable {
        let meters: UInt32
        let largest_max_reading: UInt64
    }
    struct Member: Decodable {
        let seed: String
        let reading: UInt64
        let ciphertext: UInt64
    }
    struct GroupCase: Decodable {
        let group: UInt32
        let label: UInt64
        let max_reading: UInt64
        let members: [Member]
        let aggregate_key_first: [String]
        let aggregate_key_shake256: String
        let aggregate_pad: UInt64
        let sum: UInt64
    }
    struct PairwiseSeedCase: Decodable {
        let shared_secret: String
        let group: UInt32
        let meter_a: UInt32
        let meter_b: UInt32
        let seed: String
    }
    struct ZeroShareCase: Decodable {
        let pairwise_seed: String
        let first: [String]
        let shake256: String
    }
    struct ApplyCase: Decodable {
        let key_seed: String
        let pairwise_seed: String
        let own: UInt32
        let peer: UInt32
        let share_first: [String]
        let share_shake256: String
    }
    struct KeySetupMember: Decodable {
        let meter: UInt32
        let key_seed: String
        let share_shake256: String
        let first_chunk_le: String
    }
    struct PairSeed: Decodable {
        let meter_a: UInt32
        let meter_b: UInt32
        let seed: String
    }
    struct KeySetupGroup: Decodable {
        let meters: [KeySetupMember]
        let pairwise_seeds: [PairSeed]
        let aggregate_key_shake256: String
    }
    struct FrameCase: Decodable {
        let key: String
        let type: UInt8
        let scheme: UInt8
        let group: UInt32
        let meter: UInt32
        let label: UInt64
        let payload: String
        let frame: String
        let tag: String
    }

    let parameter_sets: [ParameterSet]
    let frame: [FrameCase]

    static let loaded = Result { try Vectors.load("lwr_psa", as: LWRVectorFile.self) }
}

/// λ words as little-endian bytes, the layout the specification hashes and sends.
func littleEndianBytes(_ words: some Collection<UInt64>) -> [UInt8] {
    words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * UInt64($0))) } }
}

/// SHAKE256 (32 bytes) of a word vector's little-endian bytes, as the vector file names vectors.
func shake256Hex(_ words: [UInt64]) -> String {
    Hex.encode(xofOutput(.shake256, message: littleEndianBytes(words), count: 32))
}

func hexWords(_ words: some Collection<UInt64>) -> [String] {
    words.map { w in
        let digits = String(w, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// A meter key expanded from its seed, through the firmware's key stream.
func expandedKey(_ parameters: LWRParameters, seed: String) -> [UInt64] {
    var stream = LWRPSA.keyStream(parameters: parameters, seed: Hex.decode(seed).span)
    return (0..<parameters.lambda).map { _ in stream.squeezeWord() }
}

@Suite("LWR-PSA known answers (Vectors/lwr_psa.json)")
struct LWRVectorTests {
    func sets() throws -> [(LWRParameters, LWRVectorFile.ParameterSet)] {
        let file = try LWRVectorFile.loaded.get()
        #expect(file.parameter_sets.map(\.id) == [1, 2])
        return try file.parameter_sets.map { entry in
            let parameters = try #require(LWRParameters.withID(entry.id))
            #expect("\(parameters.name)" == entry.name)
            #expect(parameters.lambda == entry.lambda)
            #expect(parameters.plaintextBits == entry.plaintext_bits)
            return (parameters, entry)
        }
    }

    @Test("the PRF: label vector, key from its seed, F_k(l) streamed from the seed and from the stored key")
    func prf() throws {
        for (parameters, entry) in try sets() {
            #expect(entry.prf.count >= 6)
            for c in entry.prf {
                let key = expandedKey(parameters, seed: c.seed)
                #expect(hexWords(key.prefix(c.key_first.count)) == c.key_first)
                #expect(shake256Hex(key) == c.key_shake256)
                #expect(
                    LWRPSA.prf(parameters: parameters, seed: Hex.decode(c.seed).span, group: c.group, label: c.label)
                        == c.prf)
                #expect(try LWRPSA.prf(parameters: parameters, key: key.span, group: c.group, label: c.label) == c.prf)
                // a_l[j]'s top 48 bits are F of the unit key e_j: the label stream's own words.
                for (j, word) in c.label_vector_first.enumerated() {
                    var unit = [UInt64](repeating: 0, count: parameters.lambda)
                    unit[j] = 1
                    let top = try LWRPSA.prf(parameters: parameters, key: unit.span, group: c.group, label: c.label)
                    let a = try #require(UInt64(word, radix: 16))
                    #expect(top == a >> UInt64(64 - parameters.plaintextBits))
                }
            }
        }
    }

    @Test("encryption c = F + n·x mod p, and the capacity edge n·(n·x_max + 1) < p")
    func encrypt() throws {
        for (parameters, entry) in try sets() {
            for c in entry.encrypt {
                let bounds = try LWRGroupBounds(meters: c.meters, maxReading: c.max_reading, parameters: parameters)
                #expect(
                    try LWRPSA.encrypt(reading: c.reading, pad: c.pad, bounds: bounds, parameters: parameters)
                        == c.ciphertext)
            }
            let edge = entry.capacity
            #expect(throws: Never.self) {
                try LWRGroupBounds(meters: edge.meters, maxReading: edge.largest_max_reading, parameters: parameters)
            }
            #expect(throws: LWRError.capacityExceeded(meters: edge.meters, maxReading: edge.largest_max_reading + 1)) {
                try LWRGroupBounds(
                    meters: edge.meters, maxReading: edge.largest_max_reading + 1, parameters: parameters)
            }
        }
    }

    @Test("whole groups: every member's ciphertext, K = Σ k_i, F_K(l) and the decrypted sum")
    func groups() throws {
        for (parameters, entry) in try sets() {
            for g in entry.groups {
                let bounds = try LWRGroupBounds(
                    meters: UInt32(g.members.count), maxReading: g.max_reading, parameters: parameters)
                var aggregateKey = [UInt64](repeating: 0, count: parameters.lambda)
                var ciphertextSum: UInt64 = 0
                for m in g.members {
                    let pad = LWRPSA.prf(
                        parameters: parameters, seed: Hex.decode(m.seed).span, group: g.group, label: g.label)
                    let c = try LWRPSA.encrypt(reading: m.reading, pad: pad, bounds: bounds, parameters: parameters)
                    #expect(c == m.ciphertext)
                    for (j, w) in expandedKey(parameters, seed: m.seed).enumerated() { aggregateKey[j] &+= w }
                    ciphertextSum &+= c
                }
                #expect(hexWords(aggregateKey.prefix(g.aggregate_key_first.count)) == g.aggregate_key_first)
                #expect(shake256Hex(aggregateKey) == g.aggregate_key_shake256)
                let aggregatePad = try LWRPSA.prf(
                    parameters: parameters, key: aggregateKey.span, group: g.group, label: g.label)
                #expect(aggregatePad == g.aggregate_pad)
                let sum = LWRPSA.decryptSum(
                    ciphertextSum: ciphertextSum, aggregatePad: aggregatePad, bounds: bounds, parameters: parameters)
                #expect(sum == g.sum)
                #expect(sum == g.members.reduce(0) { $0 + $1.reading })
            }
        }
    }

    /// σ·Z_ab added into a whole λ-word share, one 128-word chunk at a time (as the meter does).
    func applyZeroShare(
        _ parameters: LWRParameters, pairwiseSeed: [UInt8], own: UInt32, peer: UInt32, to share: inout [UInt64]
    ) {
        for chunk in 0..<(parameters.lambda / KeySetup.shareChunkWords) {
            var words = Array(share[(chunk * KeySetup.shareChunkWords)..<((chunk + 1) * KeySetup.shareChunkWords)])
            var span = words.mutableSpan
            KeySetup.applyZeroShare(
                parameters: parameters, pairwiseSeed: pairwiseSeed.span, own: own, peer: peer, chunk: chunk, to: &span)
            share.replaceSubrange(
                (chunk * KeySetup.shareChunkWords)..<((chunk + 1) * KeySetup.shareChunkWords), with: words)
        }
    }

    @Test("key setup: pairwise seeds, zero-share streams, a share after one peer either way")
    func zeroShares() throws {
        for (parameters, entry) in try sets() {
            for c in entry.pairwise_seed {
                for (a, b) in [(c.meter_a, c.meter_b), (c.meter_b, c.meter_a)] {
                    var seed = [UInt8](repeating: 0, count: KeySetup.seedBytes)
                    var out = seed.mutableSpan
                    KeySetup.pairwiseSeed(
                        sharedSecret: Hex.decode(c.shared_secret).span, group: c.group, meterA: a, meterB: b,
                        into: &out)
                    #expect(Hex.encode(seed) == c.seed)
                }
            }
            for c in entry.zero_share {
                let seed = Hex.decode(c.pairwise_seed)
                let words = (0..<(parameters.lambda / KeySetup.shareChunkWords)).flatMap { chunk in
                    var z = KeySetup.zeroShareChunk(parameters: parameters, pairwiseSeed: seed.span, chunk: chunk)
                    return (0..<KeySetup.shareChunkWords).map { _ in z.squeezeWord() }
                }
                #expect(hexWords(words.prefix(c.first.count)) == c.first)
                #expect(shake256Hex(words) == c.shake256)
            }
            #expect(Set(entry.apply_zero_share.map { $0.own < $0.peer }) == [true, false])
            for c in entry.apply_zero_share {
                var share = expandedKey(parameters, seed: c.key_seed)
                applyZeroShare(
                    parameters, pairwiseSeed: Hex.decode(c.pairwise_seed), own: c.own, peer: c.peer, to: &share)
                #expect(hexWords(share.prefix(c.share_first.count)) == c.share_first)
                #expect(shake256Hex(share) == c.share_shake256)
            }
        }
    }

    @Test("key setup of three meters: each masked share, its first keyShare chunk, and Σ shares = Σ k_i")
    func keySetupGroup() throws {
        for (parameters, entry) in try sets() {
            let g = entry.key_setup_group
            var pairSeeds: [[UInt32]: [UInt8]] = [:]
            for p in g.pairwise_seeds { pairSeeds[[p.meter_a, p.meter_b]] = Hex.decode(p.seed) }
            #expect(pairSeeds.count == 3)
            var total = [UInt64](repeating: 0, count: parameters.lambda)
            for m in g.meters {
                var share = expandedKey(parameters, seed: m.key_seed)
                for peer in g.meters where peer.meter != m.meter {
                    let seed = pairSeeds[[min(m.meter, peer.meter), max(m.meter, peer.meter)]] ?? []
                    applyZeroShare(parameters, pairwiseSeed: seed, own: m.meter, peer: peer.meter, to: &share)
                }
                #expect(shake256Hex(share) == m.share_shake256)
                #expect(Hex.encode(littleEndianBytes(share.prefix(128))) == m.first_chunk_le)
                for j in 0..<share.count { total[j] &+= share[j] }
            }
            #expect(shake256Hex(total) == g.aggregate_key_shake256)
        }
    }

    @Test("the frame tag: sealed frames equal the vectors byte for byte, parse back, and verify")
    func frames() throws {
        let cases = try LWRVectorFile.loaded.get().frame
        #expect(cases.count >= 8)
        for c in cases {
            let payload = Hex.decode(c.payload)
            let type = try #require(FrameType(rawValue: c.type))
            let scheme = try #require(SchemeID(rawValue: c.scheme))
            let header = FrameHeader(
                type: type, scheme: scheme, group: c.group, meter: c.meter, label: c.label,
                payloadLength: payload.count)
            var buffer = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
            for (i, b) in payload.enumerated() { buffer[Frame.headerBytes + i] = b }
            let key = Hex.decode(c.key)
            var span = buffer.mutableSpan
            let size = Frame.seal(header, key: key.span, frame: &span)
            #expect(size == buffer.count)
            #expect(Hex.encode(buffer) == c.frame)
            #expect(Hex.encode(Array(buffer.suffix(Frame.tagBytes))) == c.tag)

            let expected = Hex.decode(c.frame)
            #expect(try Frame.parseHeader(expected.span) == header)
            let verifies = Frame.verify(expected.span, key: key.span)
            #expect(verifies)
            var tampered = expected
            tampered[tampered.count - 1] ^= 0x01
            let tamperedVerifies = Frame.verify(tampered.span, key: key.span)
            #expect(!tamperedVerifies)
        }
    }
}
