// The Keccak bench for the Cortex-M4 under QEMU (scripts/m4-keccak-bench.sh builds it with
// firmware/MeterCrypto/Core/Keccak.swift, KeccakF1600.swift and KMAC.swift as one module and
// runs it). On this 32-bit target XOF's state is bit-interleaved (KeccakInterleavedState).
//
// Reports, in instructions counted by QEMU's -icount through the board's timer:
//   keccak-f1600-instructions   one Keccak-f[1600] (the mean of 64 back-to-back calls)
//   shake128-16k-instructions   absorbing a short message and squeezing 16 KiB of SHAKE128
//   shake128-16k-words-instructions  the same 16 KiB as 2048 squeezeWord() calls (the
//                               LWR-PSA label expansion's path); words-match is 1 when their
//                               sum equals that of the squeezed bytes read as words
//   stack-high-water-bytes      the deepest the stack went (painting)
// and writes the 16 KiB of output to the host file out= so the script can compare it
// with Python's hashlib. Instructions are not cycles (docs/m4.md).
import MPS2Board

let permutations = 64
let squeezeBytes = 16_384

func report(_ key: StaticString, _ value: UInt64) {
    key.withUTF8Buffer { buffer in
        UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: CChar.self, capacity: buffer.count + 1) {
            mps2_report($0, value)
        }
    }
}

/// The wrapping sum of the next 2048 squeezeWord() words.
@inline(never)
func sumOfWords(_ xof: inout XOF) -> UInt64 {
    var sum: UInt64 = 0
    for _ in 0..<(squeezeBytes / 8) { sum &+= xof.squeezeWord() }
    return sum
}

@_cdecl("main")
func benchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()

    var state = KeccakTargetState()
    let t0 = mps2_instructions()
    for _ in 0..<permutations { state.permute(firstRound: 0) }
    let t1 = mps2_instructions()
    report("keccak-f1600-instructions", (t1 - t0) / UInt64(permutations))
    report("keccak-f1600-lane0", state.lane(0))

    var output = InlineArray<16384, UInt8>(repeating: 0)
    let t2 = mps2_instructions()
    var xof = XOF(.shake128)
    xof.absorb("PrivateMetering M4 Keccak bench")
    var span = output.mutableSpan
    xof.squeeze(into: &span)
    let t3 = mps2_instructions()
    report("shake128-16k-instructions", t3 - t2)
    report("shake128-16k-permutations", UInt64((squeezeBytes + 167) / 168))

    var words = XOF(.shake128)
    words.absorb("PrivateMetering M4 Keccak bench")
    let t4 = mps2_instructions()
    let sum = sumOfWords(&words)
    let t5 = mps2_instructions()
    report("shake128-16k-words-instructions", t5 - t4)
    // The words must be the squeezed bytes read little-endian (compared through their sum).
    var expected: UInt64 = 0
    output.span.withUnsafeBufferPointer { bytes in
        for i in 0..<(squeezeBytes / 8) {
            expected &+= UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress!).loadUnaligned(
                fromByteOffset: 8 &* i, as: UInt64.self))
        }
    }
    report("words-match", sum == expected ? 1 : 0)
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))

    guard let path = mps2_option("out") else { return 0 }
    let written = output.span.withUnsafeBufferPointer {
        mps2_write_file(path, $0.baseAddress, UInt32($0.count))
    }
    return written == 0 ? 0 : 1
}
