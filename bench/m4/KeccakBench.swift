// The Keccak bench for the Cortex-M4 under QEMU (scripts/m4-keccak-bench.sh builds it with
// firmware/MeterCrypto/Core/Keccak.swift and KMAC.swift as one module and runs it).
//
// Reports, in instructions counted by QEMU's -icount through the board's timer:
//   keccak-f1600-instructions   one Keccak-f[1600] (the mean of 64 back-to-back calls)
//   shake128-16k-instructions   absorbing a short message and squeezing 16 KiB of SHAKE128
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

@_cdecl("main")
func benchMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    mps2_stack_paint()

    var state = InlineArray<25, UInt64>(repeating: 0)
    let t0 = mps2_instructions()
    for _ in 0..<permutations { keccakP1600(&state, firstRound: 0) }
    let t1 = mps2_instructions()
    report("keccak-f1600-instructions", (t1 - t0) / UInt64(permutations))
    report("keccak-f1600-lane0", state[0])

    var output = InlineArray<16384, UInt8>(repeating: 0)
    let t2 = mps2_instructions()
    var xof = XOF(.shake128)
    xof.absorb("PrivateMetering M4 Keccak bench")
    var span = output.mutableSpan
    xof.squeeze(into: &span)
    let t3 = mps2_instructions()
    report("shake128-16k-instructions", t3 - t2)
    report("shake128-16k-permutations", UInt64((squeezeBytes + 167) / 168))
    report("stack-high-water-bytes", UInt64(mps2_stack_high_water()))

    guard let path = mps2_option("out") else { return 0 }
    let written = output.span.withUnsafeBufferPointer {
        mps2_write_file(path, $0.baseAddress, UInt32($0.count))
    }
    return written == 0 ? 0 : 1
}
