import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// The two state representations behind the sponge: 64-bit lanes (lane complementing inside
/// the permutation) and bit-interleaved 32-bit words (the Cortex-M4 build's). The sponge tests
/// (XOFTests) run both through the NIST, Keccak team and RFC 9861 vectors and against Python;
/// these check the permutations and the lane conversions directly.
@Suite("Keccak-f[1600]: lane and bit-interleaved representations")
struct KeccakStateTests {
    /// Keccak-f[1600] applied to the all-zero state, lanes 0 and 1 (the Keccak team's
    /// intermediate values; recomputed with hashlib's SHAKE128 through the same permutation).
    static let zeroStateLane0: UInt64 = 0xF125_8F79_40E1_DDE7
    static let zeroStateLane1: UInt64 = 0x84D5_CCF9_33C0_478A

    @Test("Keccak-f[1600] of the zero state", arguments: StateRepresentation.allCases)
    func zeroState(representation: StateRepresentation) {
        let lanes = permuted(representation.stateType, Array(repeating: 0, count: 25), firstRound: 0)
        #expect(lanes[0] == Self.zeroStateLane0)
        #expect(lanes[1] == Self.zeroStateLane1)
    }

    @Test("both representations permute random states alike, 24 and 12 rounds")
    func representationsAgree() {
        var rng = SeededGenerator(seed: 1600)
        for trial in 0..<200 {
            let state = (0..<25).map { _ in UInt64.random(in: .min ... .max, using: &rng) }
            for firstRound in [0, 12] {
                let lanes = permuted(KeccakLaneState.self, state, firstRound: firstRound)
                let interleaved = permuted(KeccakInterleavedState.self, state, firstRound: firstRound)
                #expect(lanes == interleaved, "trial \(trial), first round \(firstRound)")
            }
        }
    }

    @Test("lanes and bytes read back what was XORed in; bulk lane reads agree", arguments: StateRepresentation.allCases)
    func laneAndByteAccess(representation: StateRepresentation) {
        laneAndByteAccess(representation.stateType)
        bulkLanes(representation.stateType)
    }

    func laneAndByteAccess<S: KeccakState>(_: S.Type) {
        var rng = SeededGenerator(seed: 25)
        var state = S()
        var expected = [UInt64](repeating: 0, count: 25)
        for _ in 0..<500 {
            let index = Int.random(in: 0..<25, using: &rng)
            let value = UInt64.random(in: .min ... .max, using: &rng)
            state.xorLane(index, value)
            expected[index] ^= value
            let position = Int.random(in: 0..<200, using: &rng)
            let byte = UInt8.random(in: 0...255, using: &rng)
            state.xorByte(byte, at: position)
            expected[position / 8] ^= UInt64(byte) << (8 * UInt64(position % 8))
        }
        var lanes: [UInt64] = []
        for i in 0..<25 { lanes.append(state.lane(i)) }
        #expect(lanes == expected)
        for position in 0..<200 {
            let byte = state.byte(at: position)
            #expect(byte == UInt8(truncatingIfNeeded: expected[position / 8] >> (8 * UInt64(position % 8))))
        }
    }

    /// lanes(from:count:into:) and publicLanes(from:count:into:) against lane(_:).
    func bulkLanes<S: KeccakState>(_: S.Type) {
        var rng = SeededGenerator(seed: 2048)
        var state = S()
        for i in 0..<25 { state.xorLane(i, UInt64.random(in: .min ... .max, using: &rng)) }
        for _ in 0..<100 {
            state.permute(firstRound: 0)
            let first = Int.random(in: 0..<25, using: &rng)
            let count = Int.random(in: 0...(25 - first), using: &rng)
            var expected: [UInt64] = []
            for k in 0..<count { expected.append(state.lane(first + k)) }
            var secret = [UInt64](repeating: 0, count: count)
            var open = [UInt64](repeating: 0, count: count)
            secret.withUnsafeMutableBufferPointer { state.lanes(from: first, count: count, into: $0.baseAddress!) }
            open.withUnsafeMutableBufferPointer { state.publicLanes(from: first, count: count, into: $0.baseAddress!) }
            #expect(secret == expected)
            #expect(open == expected)
        }
    }

    @Test("squeezeWords gives what squeezeWord gives, from any position", arguments: StateRepresentation.allCases)
    func squeezeWords(representation: StateRepresentation) {
        squeezeWords(representation.stateType)
    }

    func squeezeWords<S: KeccakState>(_: S.Type) {
        var rng = SeededGenerator(seed: 168)
        for trial in 0..<60 {
            let algorithm: XOFAlgorithm = [.shake128, .shake256, .turboShake128][trial % 3]
            var bulk = KeccakSponge<S>(algorithm)
            let message = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bulk.absorb(message.span)
            var single = bulk
            // Sometimes a byte squeeze first, so the words start inside a lane.
            for _ in 0..<(trial % 4 == 3 ? Int.random(in: 1..<8, using: &rng) : 0) {
                var one = InlineArray<1, UInt8>(repeating: 0)
                var a = one.mutableSpan
                bulk.squeeze(into: &a)
                var b = one.mutableSpan
                single.squeeze(into: &b)
            }
            for _ in 0..<4 {
                let count = Int.random(in: 0..<70, using: &rng)
                var words = [UInt64](repeating: 0, count: count)
                var span = words.mutableSpan
                bulk.squeezeWords(into: &span)
                let expected = (0..<count).map { _ in single.squeezeWord() }
                #expect(words == expected, "trial \(trial)")
            }
            #expect(bulk.squeezeWord() == single.squeezeWord(), "trial \(trial): the positions differ")
        }
    }

    @Test("a lane index outside 0..<25 stops the program")
    func laneIndexChecked() async {
        await #expect(processExitsWith: .failure) {
            var state = KeccakLaneState()
            _ = state.lane(25)
        }
        await #expect(processExitsWith: .failure) {
            var state = KeccakInterleavedState()
            _ = state.lane(25)
        }
        await #expect(processExitsWith: .failure) {
            var state = KeccakInterleavedState()
            _ = state.lane(-1)
        }
    }
}

/// `state` as lanes, permuted in representation S, read back as lanes.
func permuted<S: KeccakState>(_: S.Type, _ state: [UInt64], firstRound: Int) -> [UInt64] {
    var s = S()
    for (i, lane) in state.enumerated() { s.xorLane(i, lane) }
    s.permute(firstRound: firstRound)
    var lanes: [UInt64] = []
    for i in 0..<25 { lanes.append(s.lane(i)) }
    return lanes
}
