// GMP's own figures for the work Paillier does, as baselines for the Cost target's
// measurements of the real paths (meter.paillier.*, aggregator.paillier.*, decrypt.paillier.*).
//
// Run from Benchmarks/:  swift package benchmark --target Paillier
//
//   gmp.powm_sec.BITS     r^N mod N² with GMP's mpz_powm_sec: the reference for the meter's
//                         idle-time exponentiation (mpn_sec_powm, the prepare step of
//                         Cost's meter.paillier.BITS.-.reading; target ≤ 1.3×).
//   baseline.mpz-mul-mod.n1000
//                         1000 ciphertexts multiplied modulo N² with a plain mpz_mul/mpz_mod
//                         loop at 3072 bits: the reference for the aggregator's product
//                         (Cost's aggregator.paillier.3072.n1000; target ≤ 1.1×).

import Aggregation
import Benchmark
import BenchmarkSupport
import BigNum
import MeterSimulator

/// A reproducible supplier key (`SeededGenerator`) and a few exponentiation bases r < N
/// coprime to N.
struct KeyFixture: @unchecked Sendable {
    let key: PaillierPrivateKey
    let bases: [BigInt]

    init(bits: Int) {
        var generator = SeededGenerator(seed: UInt64(bits))
        key = try! PaillierPrivateKey.generate(bits: bits, using: &generator)
        let n = key.publicKey.n
        var r: [BigInt] = []
        while r.count < 8 {
            let candidate = BigInt.random(below: n, using: &generator)
            if BigInt.gcd(candidate, n) == BigInt(1) { r.append(candidate) }
        }
        bases = r
    }
}

/// 1000 distinct ciphertexts modulo N² of one 3072-bit key: Enc(m_i; R·(i + 1) mod N) from
/// one random R (the benchmark multiplies them; how they were drawn does not matter).
struct ProductFixture: @unchecked Sendable {
    let modulus: BigInt
    let ciphertexts: [BigInt]

    init(count: Int, bits: Int = 3072) {
        let fixture = KeyFixture(bits: bits)
        let pk = fixture.key.publicKey
        modulus = pk.nSquared
        ciphertexts = (0..<count).map { i in
            pk.encrypt(BigInt(UInt64(i % 5000)), randomizer: (fixture.bases[0] * UInt64(i + 1)).modulo(pk.n)).value
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    for bits in [2048, 3072] {
        Benchmark(
            "gmp.powm_sec.\(bits)",
            configuration: .init(
                metrics: [.wallClock, threadCPU], timeUnits: .milliseconds, warmupIterations: 2,
                maxDuration: .seconds(5), maxIterations: 200),
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                let r = f.bases[benchmark.currentIteration % f.bases.count]
                let pk = f.key.publicKey
                blackHole(measuringThreadCPU(benchmark) { r.securePower(pk.n, modulo: pk.nSquared) })
            }, setup: { KeyFixture(bits: bits) })
    }

    Benchmark(
        "baseline.mpz-mul-mod.n1000",
        configuration: .init(
            metrics: [.wallClock, threadCPU], timeUnits: .milliseconds, warmupIterations: 2,
            maxDuration: .seconds(5), maxIterations: 500),
        closure: { (benchmark: Benchmark, f: ProductFixture) in
            blackHole(measuringThreadCPU(benchmark) { BigInt.plainProduct(of: f.ciphertexts, modulo: f.modulus) })
        }, setup: { ProductFixture(count: 1000) })
}
