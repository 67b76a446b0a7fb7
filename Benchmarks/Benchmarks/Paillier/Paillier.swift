// Paillier cost on the meter (per reading), the aggregator (per label) and the supplier.
//
// Run from Benchmarks/:  swift package benchmark --target Paillier
//   allocation check:     swift package benchmark thresholds check --target Paillier --filter 'alloc\..*'
//
// Groups (key sizes 2048 and 3072 where it matters):
//   meter.randomizer.*   r^N mod N^2 with mpn_sec_powm, plus drawing r's checks (r < N, and
//                        gcd(r, N) = 1 through mpn_sec_invert): the idle-time precomputation.
//   gmp.powm_sec.*       the same r^N mod N^2 with GMP's own mpz_powm_sec, in the same run:
//                        the reference for the firmware's exponentiation (target ≤ 1.3×).
//   compare.*            both in the same iteration with the same r: 100 × firmware / GMP.
//   meter.online.*       the boundary step: (1 + m·N)·R mod N^2 (mpn_sec_mul + mpn_sec_div_r)
//                        with a precomputed R (target ≤ 50 µs); meter.online+frame adds the
//                        frame's KMAC tag over the 768-byte ciphertext.
//   aggregator.*         1000 ciphertexts: the aggregator's product (BigInt.multiply(by:modulo:),
//                        what accept uses) against a plain mpz_mul/mpz_mod loop
//                        (baseline.mpz-mul-mod, target ≤ 1.1×), and the whole accept path
//                        (frame parse, KMAC check, range check, product) for 1000 frames.
//   supplier.decrypt.*   CRT decryption of one group sum; supplier.decrypt-textbook without CRT.
//   alloc.*              heap allocations of the firmware paths (randomizer, online step,
//                        whole reading with frame), .mallocCountTotal alone, thresholds 0
//                        (Thresholds/Paillier.alloc.*.p90.json).

import Aggregation
import Benchmark
import BenchmarkSupport
import BigNum
import MeterCrypto

/// 100 × (firmware r^N) / (mpz_powm_sec r^N), both timed on the thread CPU clock in the
/// same iteration with the same r (the harness prints custom metrics as integers, scaled
/// by thousands, so the ratio is kept in percent to stay below 1000).
let ratioPercent = BenchmarkMetric.custom("firmware / mpz_powm_sec (%)")

// MARK: - Fixtures

/// A reproducible supplier key and the meter's copy of it, with inputs for one encryption.
struct KeyFixture: @unchecked Sendable {
    let privateKey: PaillierPrivateKey
    let meterKey: PaillierMeterKey
    /// A few candidate r's (big-endian, accepted by the firmware).
    let rBytes: [[UInt8]]
    let rValues: [BigInt]
    /// A fresh randomizer to copy for every online-step iteration.
    let randomizer: PaillierRandomizer

    init(bits: Int) {
        var generator = SeededGenerator(seed: UInt64(bits))
        privateKey = try! PaillierPrivateKey.generate(bits: bits, using: &generator)
        let pk = privateKey.publicKey
        meterKey = try! makeMeterKey(pk.n.bigEndianBytes(length: pk.modulusBytes)!)
        var r: [BigInt] = []
        while r.count < 8 {
            let candidate = BigInt.random(below: pk.n, using: &generator)
            if BigInt.gcd(candidate, pk.n) == BigInt(1) { r.append(candidate) }
        }
        rValues = r
        rBytes = r.map { $0.bigEndianBytes(length: pk.modulusBytes)! }
        var randomizer = PaillierRandomizer()
        precondition(precompute(&randomizer, meterKey, rBytes[0]))
        self.randomizer = randomizer
    }
}

func makeMeterKey(_ bytes: [UInt8]) throws -> PaillierMeterKey { try PaillierMeterKey(modulusBigEndian: bytes.span) }

@inline(never)
func precompute(_ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey, _ r: [UInt8]) -> Bool {
    randomizer.precompute(key: key, randomBytes: r.span)
}

/// The online step into a fixed buffer, as the firmware does; returns the last byte.
@inline(never)
func encryptOnline(_ reading: UInt64, _ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey) -> UInt8 {
    var out = InlineArray<768, UInt8>(repeating: 0)
    var span = out.mutableSpan
    try! Paillier.encrypt(
        reading: reading, randomizer: &randomizer, key: key, into: &span, at: 768 - key.ciphertextBytes)
    return out[767]
}

/// The online step and the reading frame sealed in place (what leaves the meter).
@inline(never)
func encryptAndSeal(
    _ reading: UInt64, _ label: UInt64, _ randomizer: inout PaillierRandomizer, _ key: PaillierMeterKey,
    _ frameKey: [UInt8]
) -> UInt8 {
    var frame = InlineArray<808, UInt8>(repeating: 0)
    var span = frame.mutableSpan
    try! Paillier.encrypt(reading: reading, randomizer: &randomizer, key: key, into: &span, at: Frame.headerBytes)
    let header = FrameHeader(
        type: .reading, scheme: .paillier, group: 7, meter: 1, label: label, payloadLength: key.ciphertextBytes)
    let length = Frame.seal(header, key: frameKey.span, frame: &span)
    return frame[length - 1]
}

/// 1000 meters' ciphertexts for one label, as values and as sealed frames, plus the sum.
struct AggregationFixture: @unchecked Sendable {
    let key: PaillierPrivateKey
    let members: GroupMembers
    let layout: GroupLayout
    let ciphertexts: [BigInt]
    let frames: [[UInt8]]
    let sum: UInt64

    init(meters: Int, bits: Int = 3072) throws {
        var generator = SeededGenerator(seed: UInt64(bits))
        key = try PaillierPrivateKey.generate(bits: bits, using: &generator)
        let pk = key.publicKey
        let ids = (0..<meters).map { UInt32(100 + $0) }
        var frameKeys: [UInt32: [UInt8]] = [:]
        for id in ids { frameKeys[id] = (0..<32).map { UInt8(truncatingIfNeeded: Int(id) &* 31 &+ $0) } }
        members = try GroupMembers(group: 7, scheme: .paillier, frameKeys: frameKeys)
        layout = try GroupLayout(group: 7, meters: ids)
        let intake = FrameIntake(members: members)
        // Distinct ciphertexts: Enc(m; r_i) with r_i = R·(i + 1) mod N from one random R
        // (the benchmark multiplies them; how they were drawn does not matter).
        let base = BigInt.random(below: pk.n, using: &generator)
        var cts: [BigInt] = []
        var frames: [[UInt8]] = []
        var sum: UInt64 = 0
        for (i, id) in ids.enumerated() {
            let m = UInt64(i % 5000)
            sum += m
            let c = pk.encrypt(BigInt(m), randomizer: (base * UInt64(i + 1)).modulo(pk.n)).value
            cts.append(c)
            frames.append(
                intake.seal(.reading, to: id, label: 1000, payload: c.bigEndianBytes(length: pk.ciphertextBytes)!))
        }
        ciphertexts = cts
        self.frames = frames
        self.sum = sum
    }

    func makeAggregator() throws -> PaillierAggregator {
        try PaillierAggregator(
            members: members, publicKey: key.publicKey, layout: layout, currentLabel: 1000, keepsReadings: false)
    }
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    let slow = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU], timeUnits: .milliseconds, warmupIterations: 2,
        maxDuration: .seconds(5), maxIterations: 200)
    let fast = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU], timeUnits: .microseconds, warmupIterations: 10,
        maxDuration: .seconds(3), maxIterations: 20_000)

    for bits in [2048, 3072] {
        Benchmark(
            "meter.randomizer.\(bits)", configuration: slow,
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                let r = f.rBytes[benchmark.currentIteration % f.rBytes.count]
                var randomizer = PaillierRandomizer()
                let ok = measuringThreadCPU(benchmark) { precompute(&randomizer, f.meterKey, r) }
                precondition(ok)
            }, setup: { KeyFixture(bits: bits) })

        Benchmark(
            "gmp.powm_sec.\(bits)", configuration: slow,
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                let r = f.rValues[benchmark.currentIteration % f.rValues.count]
                let pk = f.privateKey.publicKey
                blackHole(measuringThreadCPU(benchmark) { r.securePower(pk.n, modulo: pk.nSquared) })
            }, setup: { KeyFixture(bits: bits) })

        Benchmark(
            "meter.online.\(bits)", configuration: fast,
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                var randomizer = f.randomizer  // a fresh copy per iteration
                let reading = UInt64(benchmark.currentIteration % 5000)
                blackHole(measuringThreadCPU(benchmark) { encryptOnline(reading, &randomizer, f.meterKey) })
            }, setup: { KeyFixture(bits: bits) })

        Benchmark(
            "supplier.decrypt.\(bits)", configuration: slow,
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                let pk = f.privateKey.publicKey
                let c = pk.encrypt(BigInt(1234), randomizer: f.rValues[0])
                benchmark.startMeasurement()
                let m = measuringThreadCPU(benchmark) { try! f.privateKey.decrypt(c) }
                benchmark.stopMeasurement()
                precondition(m == BigInt(1234))
            }, setup: { KeyFixture(bits: bits) })
    }

    for bits in [2048, 3072] {
        Benchmark(
            "compare.randomizer-vs-powm_sec.\(bits)",
            configuration: .init(
                metrics: [ratioPercent], warmupIterations: 2, maxDuration: .seconds(8), maxIterations: 200),
            closure: { (benchmark: Benchmark, f: KeyFixture) in
                let i = benchmark.currentIteration % f.rBytes.count
                let pk = f.privateKey.publicKey
                var randomizer = PaillierRandomizer()
                let t0 = threadCPUNanoseconds()
                let ok = precompute(&randomizer, f.meterKey, f.rBytes[i])
                let t1 = threadCPUNanoseconds()
                blackHole(f.rValues[i].securePower(pk.n, modulo: pk.nSquared))
                let t2 = threadCPUNanoseconds()
                precondition(ok)
                benchmark.measurement(ratioPercent, (100 * (t1 - t0) + (t2 - t1) / 2) / (t2 - t1))
            }, setup: { KeyFixture(bits: bits) })
    }

    let frameKey = [UInt8](repeating: 0x42, count: 32)
    Benchmark(
        "meter.online+frame.3072", configuration: fast,
        closure: { (benchmark: Benchmark, f: KeyFixture) in
            var randomizer = f.randomizer
            let label = UInt64(benchmark.currentIteration)
            blackHole(measuringThreadCPU(benchmark) { encryptAndSeal(1234, label, &randomizer, f.meterKey, frameKey) })
        }, setup: { KeyFixture(bits: 3072) })

    Benchmark(
        "supplier.decrypt-textbook.3072", configuration: slow,
        closure: { (benchmark: Benchmark, f: KeyFixture) in
            let c = f.privateKey.publicKey.encrypt(BigInt(1234), randomizer: f.rValues[0])
            benchmark.startMeasurement()
            let m = measuringThreadCPU(benchmark) { try! f.privateKey.decryptTextbook(c) }
            benchmark.stopMeasurement()
            precondition(m == BigInt(1234))
        }, setup: { KeyFixture(bits: 3072) })

    // ---- the aggregator, 1000 ciphertexts at 3072 bits ----------------------------------

    let aggregation = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU], timeUnits: .milliseconds, warmupIterations: 2,
        maxDuration: .seconds(5), maxIterations: 500)

    Benchmark(
        "baseline.mpz-mul-mod.n1000", configuration: aggregation,
        closure: { (benchmark: Benchmark, f: AggregationFixture) in
            let modulus = f.key.publicKey.nSquared
            blackHole(measuringThreadCPU(benchmark) { BigInt.plainProduct(of: f.ciphertexts, modulo: modulus) })
        }, setup: { try AggregationFixture(meters: 1000) })

    Benchmark(
        "aggregator.product.n1000", configuration: aggregation,
        closure: { (benchmark: Benchmark, f: AggregationFixture) in
            let modulus = f.key.publicKey.nSquared
            blackHole(
                measuringThreadCPU(benchmark) {
                    var product = BigInt(1)
                    for c in f.ciphertexts { product.multiply(by: c, modulo: modulus) }
                    return product
                })
        }, setup: { try AggregationFixture(meters: 1000) })

    Benchmark(
        "aggregator.accept.n1000", configuration: aggregation,
        closure: { (benchmark: Benchmark, f: AggregationFixture) in
            let aggregator = try! f.makeAggregator()
            benchmark.startMeasurement()
            let aggregate = measuringThreadCPU(benchmark) {
                for frame in f.frames { _ = try! aggregator.accept(frame) }
                return try! aggregator.aggregate(label: 1000)
            }
            benchmark.stopMeasurement()
            blackHole(aggregate)
        }, setup: { try AggregationFixture(meters: 1000) })

    // ---- heap allocations of the firmware paths -------------------------------------------

    let zero = zeroAllocationThresholds()
    let allocation = Benchmark.Configuration(
        metrics: [.mallocCountTotal], warmupIterations: 1, maxDuration: .seconds(3), maxIterations: 20,
        thresholds: [.mallocCountTotal: zero])

    Benchmark(
        "alloc.randomizer.3072", configuration: allocation,
        closure: { (benchmark: Benchmark, f: KeyFixture) in
            var randomizer = PaillierRandomizer()
            benchmark.startMeasurement()
            blackHole(precompute(&randomizer, f.meterKey, f.rBytes[1]))
            benchmark.stopMeasurement()
        }, setup: { KeyFixture(bits: 3072) })

    Benchmark(
        "alloc.online.3072", configuration: allocation,
        closure: { (benchmark: Benchmark, f: KeyFixture) in
            var pool = [PaillierRandomizer](repeating: f.randomizer, count: 16)
            benchmark.startMeasurement()
            for i in 0..<16 { blackHole(encryptOnline(UInt64(i), &pool[i], f.meterKey)) }
            benchmark.stopMeasurement()
        }, setup: { KeyFixture(bits: 3072) })

    Benchmark(
        "alloc.online+frame.3072", configuration: allocation,
        closure: { (benchmark: Benchmark, f: KeyFixture) in
            var pool = [PaillierRandomizer](repeating: f.randomizer, count: 16)
            benchmark.startMeasurement()
            for i in 0..<16 { blackHole(encryptAndSeal(UInt64(i), UInt64(i), &pool[i], f.meterKey, frameKey)) }
            benchmark.stopMeasurement()
        }, setup: { KeyFixture(bits: 3072) })
}
