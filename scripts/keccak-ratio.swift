// The quick form of the Keccak benchmark (Benchmarks/Keccak): the firmware's SHAKE128 against
// OpenSSL's EVP SHAKE128 on the 16 KiB squeeze behind one LWR-PSA label, in one process.
// Built and run by scripts/keccak-ratio.sh (see there); not part of the package.
//
//   keccak-ratio [ROUNDS]   time ROUNDS rounds (default 3000); each round runs every variant
//                           once, in rotating order, on the thread CPU clock
//   keccak-ratio --count    run each variant 10 times for callgrind (the script's --callgrind)

import COpenSSLSHAKE
import MeterCrypto

#if canImport(Glibc)
    import Glibc
#endif

let squeezeBytes = 16_384
let input: [UInt8] = Array("PM-LWR-A-v1".utf8) + [1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 42]

func threadNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
}

guard let openssl = pm_openssl_shake128_new() else { fatalError("OpenSSL has no SHAKE128") }
var reference = [UInt8](repeating: 0, count: squeezeBytes)
var output = [UInt8](repeating: 0, count: squeezeBytes)

// The measured calls (scripts/keccak-ratio.sh --callgrind collects inside each one by name).
@inline(never)
func opensslSqueeze() {
    let ok = input.withUnsafeBufferPointer { i in
        reference.withUnsafeMutableBufferPointer {
            pm_openssl_shake128(openssl, i.baseAddress, i.count, $0.baseAddress, $0.count)
        }
    }
    precondition(ok == 1, "OpenSSL EVP SHAKE128 failed")
}

@inline(never)
func squeeze<S: KeccakState>(_: S.Type) {
    var xof = KeccakSponge<S>(.shake128)
    xof.absorb(input.span)
    var span = output.mutableSpan
    xof.squeeze(into: &span)
}

@inline(never)
func firmwareSqueeze() { squeeze(KeccakTargetState.self) }

@inline(never)
func interleavedSqueeze() { squeeze(KeccakInterleavedState.self) }

var wordSink: UInt64 = 0
@inline(never)
func firmwareWords() {
    var xof = XOF(.shake128)
    xof.absorb(input.span)
    var acc: UInt64 = 0
    for _ in 0..<(squeezeBytes / 8) { acc &+= xof.squeezeWord() }
    wordSink &+= acc
}

let variants: [(name: String, run: () -> Void)] = [
    ("firmware squeeze(into:)", firmwareSqueeze), ("firmware squeezeWord x2048", firmwareWords),
    ("interleaved state (M4 form)", interleavedSqueeze), ("OpenSSL EVP", opensslSqueeze),
]

/// The same output from every byte squeeze (each variant runs once more).
func checkSameOutput() {
    opensslSqueeze()
    firmwareSqueeze()
    precondition(output == reference, "the firmware's SHAKE128 differs from OpenSSL's")
    interleavedSqueeze()
    precondition(output == reference, "the interleaved state's SHAKE128 differs from OpenSSL's")
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.first == "--count" {
    // Exactly 10 calls of each (callgrind collects every call by name: the script divides by 10).
    for _ in 0..<9 {
        for variant in variants where variant.name != "firmware squeezeWord x2048" { variant.run() }
    }
    checkSameOutput()
    for _ in 0..<10 { firmwareWords() }
    exit(0)
}
checkSameOutput()
let rounds = arguments.first.flatMap { Int($0) } ?? 3000
var times = [[Int]](repeating: [], count: variants.count)
for round in 0..<rounds {
    for k in 0..<variants.count {
        let i = (k + round) % variants.count
        let start = threadNanoseconds()
        variants[i].run()
        times[i].append(threadNanoseconds() - start)
    }
}
func percentile(_ sorted: [Int], _ p: Double) -> Int { sorted[Int(Double(sorted.count - 1) * p)] }

/// `value` with `decimals` decimals, right-aligned in `width` characters.
func fixed(_ value: Double, _ decimals: Int, _ width: Int) -> String {
    var scale = 1
    for _ in 0..<decimals { scale *= 10 }
    let n = Int((value * Double(scale)).rounded())
    var text = String(n / scale)
    if decimals > 0 {
        let fraction = String(n % scale)
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

func padded(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
}

let sorted = times.map { $0.sorted() }
let openssl50 = Double(percentile(sorted[variants.count - 1], 0.5))
let openssl0 = Double(sorted[variants.count - 1][0])
print("OpenSSL: \(String(cString: pm_openssl_version())); \(rounds) rounds, thread CPU time of one 16 KiB squeeze")
print(padded("variant", 30) + "  min (µs)  p50 (µs)  ratio to OpenSSL: min    p50")
for (k, variant) in variants.enumerated() {
    let minimum = Double(sorted[k][0])
    let median = Double(percentile(sorted[k], 0.5))
    var line = padded(variant.name, 30) + fixed(minimum / 1000, 1, 10) + fixed(median / 1000, 1, 10)
    line += fixed(minimum / openssl0, 3, 23) + fixed(median / openssl50, 3, 7)
    print(line)
}
pm_openssl_shake128_free(openssl)
