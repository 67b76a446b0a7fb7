// The firmware's SHAKE128 against OpenSSL's, on the squeeze behind one LWR-PSA label:
// 16 KiB of output (λ = 2048 words of a_l) from the label's short input.
//
// Run from Benchmarks/:  swift package benchmark --target Keccak
// (OpenSSL's headers: Debian's libssl-dev, installed by scripts/lib/setup.sh's
// setup_benchmark_packages; scripts/keccak-ratio.sh gives the same ratio without this package.)
//
//   shake128.16KiB.firmware        XOF(.shake128): absorb the label input, squeeze(into:) 16 KiB
//   shake128.16KiB.firmware-words  the same output as 2048 squeezeWord() calls (the PRF's path)
//   shake128.16KiB.interleaved     the 32-bit targets' bit-interleaved state, run on this host
//   shake128.16KiB.openssl         OpenSSL's EVP SHAKE128: init, update, final XOF of 16 KiB
//   compare.*                      the firmware's squeeze and OpenSSL's in the same iteration,
//                                  same input, in the order A B B A; per iteration
//                                  100 × min(firmware) / min(OpenSSL) thread CPU time: the
//                                  figure issue 11 asks to be at most 100.

import Benchmark
import BenchmarkSupport
import COpenSSLSHAKE
import MeterCrypto

let squeezeBytes = 16_384
let ratioPercent = BenchmarkMetric.custom("firmware / OpenSSL (%)")

/// The bytes LWRLabelStream absorbs for (group, label) with the standard parameter set.
func labelInput(_ label: UInt64) -> [UInt8] {
    var bytes = Array("PM-LWR-A-v1".utf8)
    bytes.append(LWRParameters.standard.id)
    bytes += [0, 0, 0, 7]
    bytes += (0..<8).map { UInt8(truncatingIfNeeded: label >> (56 - 8 * UInt64($0))) }
    return bytes
}

/// OpenSSL's reusable EVP context, and one output buffer for each side (both warm).
final class OpenSSLFixture: @unchecked Sendable {
    let context: OpaquePointer
    var output = [UInt8](repeating: 0, count: squeezeBytes)
    var firmwareOutput = [UInt8](repeating: 0, count: squeezeBytes)

    init() {
        guard let context = pm_openssl_shake128_new() else { fatalError("OpenSSL has no SHAKE128") }
        self.context = context
    }

    deinit { pm_openssl_shake128_free(context) }

    @inline(never)
    func squeeze(_ input: [UInt8]) -> UInt8 {
        let ok = input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer {
                pm_openssl_shake128(context, i.baseAddress, i.count, $0.baseAddress, $0.count)
            }
        }
        precondition(ok == 1, "OpenSSL EVP SHAKE128 failed")
        return output[squeezeBytes - 1]
    }
}

@inline(never)
func firmwareSqueeze<S: KeccakState>(_: S.Type, _ input: [UInt8], into output: inout [UInt8]) -> UInt8 {
    var xof = KeccakSponge<S>(.shake128)
    xof.absorb(input.span)
    var span = output.mutableSpan
    xof.squeeze(into: &span)
    return output[squeezeBytes - 1]
}

@inline(never)
func firmwareWords(_ input: [UInt8]) -> UInt64 {
    var xof = XOF(.shake128)
    xof.absorb(input.span)
    var acc: UInt64 = 0
    for _ in 0..<(squeezeBytes / 8) { acc &+= xof.squeezeWord() }
    return acc
}

/// Both implementations give the same 16 KiB (checked once per run, in setup).
func checkSameOutput() -> OpenSSLFixture {
    let openssl = OpenSSLFixture()
    var output = [UInt8](repeating: 0, count: squeezeBytes)
    let input = labelInput(1)
    _ = firmwareSqueeze(KeccakTargetState.self, input, into: &output)
    _ = openssl.squeeze(input)
    precondition(output == openssl.output, "the firmware's SHAKE128 differs from OpenSSL's")
    var interleaved = [UInt8](repeating: 0, count: squeezeBytes)
    _ = firmwareSqueeze(KeccakInterleavedState.self, input, into: &interleaved)
    precondition(interleaved == output, "the interleaved state's SHAKE128 differs from OpenSSL's")
    return openssl
}

let benchmarks: @Sendable () -> Void = {
    print("OpenSSL: \(String(cString: pm_openssl_version()))")
    let timing = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU], timeUnits: .microseconds, warmupIterations: 20,
        maxDuration: .seconds(3), maxIterations: 20_000)
    let comparing = Benchmark.Configuration(
        metrics: [ratioPercent], warmupIterations: 20, maxDuration: .seconds(6), maxIterations: 5_000)

    Benchmark(
        "shake128.16KiB.firmware", configuration: timing,
        closure: { (benchmark: Benchmark, f: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            benchmark.startMeasurement()
            blackHole(
                measuringThreadCPU(benchmark) {
                    firmwareSqueeze(KeccakTargetState.self, input, into: &f.firmwareOutput)
                })
            benchmark.stopMeasurement()
        }, setup: { checkSameOutput() })

    Benchmark(
        "shake128.16KiB.firmware-words", configuration: timing,
        closure: { (benchmark: Benchmark, _: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            benchmark.startMeasurement()
            blackHole(measuringThreadCPU(benchmark) { firmwareWords(input) })
            benchmark.stopMeasurement()
        }, setup: { checkSameOutput() })

    Benchmark(
        "shake128.16KiB.interleaved", configuration: timing,
        closure: { (benchmark: Benchmark, f: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            benchmark.startMeasurement()
            blackHole(
                measuringThreadCPU(benchmark) {
                    firmwareSqueeze(KeccakInterleavedState.self, input, into: &f.firmwareOutput)
                })
            benchmark.stopMeasurement()
        }, setup: { checkSameOutput() })

    Benchmark(
        "shake128.16KiB.openssl", configuration: timing,
        closure: { (benchmark: Benchmark, openssl: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            benchmark.startMeasurement()
            blackHole(measuringThreadCPU(benchmark) { openssl.squeeze(input) })
            benchmark.stopMeasurement()
        }, setup: { checkSameOutput() })

    Benchmark(
        "compare.shake128.16KiB", configuration: comparing,
        closure: { (benchmark: Benchmark, openssl: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            let t0 = cpuNow()
            blackHole(firmwareSqueeze(KeccakTargetState.self, input, into: &openssl.firmwareOutput))
            let t1 = cpuNow()
            blackHole(openssl.squeeze(input))
            let t2 = cpuNow()
            blackHole(openssl.squeeze(input))
            let t3 = cpuNow()
            blackHole(firmwareSqueeze(KeccakTargetState.self, input, into: &openssl.firmwareOutput))
            let t4 = cpuNow()
            precondition(openssl.firmwareOutput == openssl.output)
            let firmware = min(t1 - t0, t4 - t3)
            let reference = min(t2 - t1, t3 - t2)
            benchmark.measurement(ratioPercent, (100 * firmware + reference / 2) / reference)
        }, setup: { checkSameOutput() })

    Benchmark(
        "compare.shake128.16KiB-words", configuration: comparing,
        closure: { (benchmark: Benchmark, openssl: OpenSSLFixture) in
            let input = labelInput(UInt64(benchmark.currentIteration))
            let t0 = cpuNow()
            blackHole(firmwareWords(input))
            let t1 = cpuNow()
            blackHole(openssl.squeeze(input))
            let t2 = cpuNow()
            blackHole(openssl.squeeze(input))
            let t3 = cpuNow()
            blackHole(firmwareWords(input))
            let t4 = cpuNow()
            let firmware = min(t1 - t0, t4 - t3)
            let reference = min(t2 - t1, t3 - t2)
            benchmark.measurement(ratioPercent, (100 * firmware + reference / 2) / reference)
        }, setup: { checkSameOutput() })
}
