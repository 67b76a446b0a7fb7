import MeterCrypto
import MeterSimulator
import TestSupport
import Testing

/// Expands a seed's key into λ words (what the aggregator's K is made of).
func expandKey(_ parameters: LWRParameters, seed: [UInt8]) -> [UInt64] {
    var stream = LWRPSA.keyStream(parameters: parameters, seed: seed.span)
    return (0..<parameters.lambda).map { _ in stream.squeezeWord() }
}

/// One group's worth of keys: seeds per meter and K = Σ k_i.
struct TestGroup {
    let parameters: LWRParameters
    let seeds: [[UInt8]]
    let aggregateKey: [UInt64]

    init(_ parameters: LWRParameters, meters: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        self.parameters = parameters
        seeds = (0..<meters).map { _ in rng.bytes(32) }
        var k = [UInt64](repeating: 0, count: parameters.lambda)
        for s in seeds {
            for (j, w) in expandKey(parameters, seed: s).enumerated() { k[j] &+= w }
        }
        aggregateKey = k
    }

    func pads(group: UInt32, label: UInt64) -> [UInt64] {
        seeds.map { LWRPSA.prf(parameters: parameters, seed: $0.span, group: group, label: label) }
    }

    /// Encrypts every reading, adds the ciphertexts and decrypts the sum.
    func roundTrip(_ readings: [UInt64], bounds: LWRGroupBounds, group: UInt32, label: UInt64) throws -> UInt64 {
        var sum: UInt64 = 0
        for (pad, x) in zip(pads(group: group, label: label), readings) {
            sum &+= try LWRPSA.encrypt(reading: x, pad: pad, bounds: bounds, parameters: parameters)
        }
        let aggregatePad = try LWRPSA.prf(parameters: parameters, key: aggregateKey.span, group: group, label: label)
        return LWRPSA.decryptSum(ciphertextSum: sum, aggregatePad: aggregatePad, bounds: bounds, parameters: parameters)
    }
}

/// The largest per-meter reading the capacity rule allows for n meters: n·(n·x + 1) < 2^48.
func largestReading(meters n: UInt64, bits: Int = 48) -> UInt64 {
    let p = UInt64(1) << UInt64(bits)
    return ((p - 1) / n - 1) / n
}

@Suite("LWR-PSA")
struct LWRPSATests {
    @Test("no parameter set below 128 bits or with a toy dimension exists")
    func parameterSets() {
        for id in UInt8(0)...255 {
            guard let set = LWRParameters.withID(id) else { continue }
            #expect(set.lambda >= 2048)
            #expect(set.classicalSecurityBits >= 128)
            #expect(set.plaintextBits == 48)
            // The firmware's buffers hold exactly maxLambda words and read keys in 64-word pages.
            #expect(set.lambda == LWRParameters.maxLambda)
            #expect(set.lambda % 64 == 0)
        }
        #expect(LWRParameters.withID(LWRParameters.standard.id) == .standard)
        #expect(LWRParameters.withID(LWRParameters.turbo.id) == .turbo)
    }

    @Test("exact at the capacity edges", arguments: [LWRParameters.standard, .turbo])
    func capacityEdges(parameters: LWRParameters) throws {
        // One meter at the largest reading its capacity allows.
        let one = TestGroup(parameters, meters: 1, seed: 1)
        let xOne = largestReading(meters: 1)
        let bOne = try LWRGroupBounds(meters: 1, maxReading: xOne, parameters: parameters)
        #expect(try one.roundTrip([xOne], bounds: bOne, group: 7, label: 0) == xOne)
        #expect(try one.roundTrip([0], bounds: bOne, group: 7, label: 1) == 0)

        // 40 meters: all zero, all maximal, mixed, on several labels.
        let n = 40
        let group = TestGroup(parameters, meters: n, seed: 2)
        let xMax = largestReading(meters: UInt64(n))
        let bounds = try LWRGroupBounds(meters: UInt32(n), maxReading: xMax, parameters: parameters)
        for label in [UInt64(0), 1, 96, 1 << 40, .max] {
            #expect(try group.roundTrip(Array(repeating: 0, count: n), bounds: bounds, group: 3, label: label) == 0)
            #expect(
                try group.roundTrip(Array(repeating: xMax, count: n), bounds: bounds, group: 3, label: label)
                    == xMax * UInt64(n))
        }
        var rng = SeededGenerator(seed: 3)
        let mixed = (0..<n).map { _ in UInt64.random(in: 0...xMax, using: &rng) }
        #expect(try group.roundTrip(mixed, bounds: bounds, group: 3, label: 5) == mixed.reduce(0, +))
    }

    @Test("decoding is exact for every rounding error up to n − 1, at the largest group")
    func decodingAtLargestGroup() throws {
        let parameters = LWRParameters.standard
        // The largest n for which a reading of 1 Wh still fits: n·(n + 1) < 2^48.
        var n: UInt64 = 1 << 24
        while n * (n + 1) >= 1 << 48 { n -= 1 }
        #expect(throws: LWRError.capacityExceeded(meters: UInt32(n + 1), maxReading: 1)) {
            try LWRGroupBounds(meters: UInt32(n + 1), maxReading: 1, parameters: parameters)
        }
        for (meters, xMax) in [(n, UInt64(1)), (1000, largestReading(meters: 1000)), (2, largestReading(meters: 2))] {
            let bounds = try LWRGroupBounds(meters: UInt32(meters), maxReading: xMax, parameters: parameters)
            let pad: UInt64 = 0x0000_DEAD_BEEF_1234
            for sum in [0, 1, meters * xMax / 2, meters * xMax] {
                for e in [0, 1, meters / 2, meters - 1] {
                    // Σ c_i = F_K − e + Δ·Σx (mod p): what the key homomorphism delivers.
                    let c = (pad &- e &+ bounds.delta &* sum) & parameters.plaintextMask
                    #expect(
                        LWRPSA.decryptSum(ciphertextSum: c, aggregatePad: pad, bounds: bounds, parameters: parameters)
                            == sum)
                }
            }
        }
    }

    @Test("rounding error of the key homomorphism lies in [0, n − 1]")
    func roundingErrorBound() throws {
        let parameters = LWRParameters.standard
        let n = 30
        let group = TestGroup(parameters, meters: n, seed: 4)
        var seen = Set<UInt64>()
        for label in UInt64(0)..<12 {
            let sumPads = group.pads(group: 9, label: label).reduce(0, &+) & parameters.plaintextMask
            let aggregate = try LWRPSA.prf(parameters: parameters, key: group.aggregateKey.span, group: 9, label: label)
            let e = (aggregate &- sumPads) & parameters.plaintextMask
            #expect(e <= UInt64(n - 1))
            seen.insert(e)
        }
        #expect(seen.count > 1, "the error should vary between labels")
    }

    @Test("capacity and reading bounds are refused with typed errors, never wrapped")
    func bounds() throws {
        let parameters = LWRParameters.standard
        #expect(throws: LWRError.emptyGroup) { try LWRGroupBounds(meters: 0, maxReading: 1, parameters: parameters) }
        let x = largestReading(meters: 100)
        _ = try LWRGroupBounds(meters: 100, maxReading: x, parameters: parameters)
        #expect(throws: LWRError.capacityExceeded(meters: 100, maxReading: x + 1)) {
            try LWRGroupBounds(meters: 100, maxReading: x + 1, parameters: parameters)
        }
        #expect(throws: LWRError.capacityExceeded(meters: 3, maxReading: .max)) {
            try LWRGroupBounds(meters: 3, maxReading: .max, parameters: parameters)
        }
        let b = try LWRGroupBounds(meters: 10, maxReading: 5000, parameters: parameters)
        #expect(throws: LWRError.readingAboveMaximum(reading: 5001, maximum: 5000)) {
            try LWRPSA.encrypt(reading: 5001, pad: 0, bounds: b, parameters: parameters)
        }
        #expect(throws: LWRError.wrongKeyLength(expected: 2048, actual: 5)) {
            try LWRPSA.prf(parameters: parameters, key: [UInt64](repeating: 1, count: 5).span, group: 1, label: 1)
        }
    }

    @Test("seed-streamed and stored-expanded keys give the same PRF", arguments: [LWRParameters.standard, .turbo])
    func seedAndExpandedAgree(parameters: LWRParameters) throws {
        var rng = SeededGenerator(seed: 5)
        for label in [UInt64(0), 17, 1 << 33] {
            let seed = rng.bytes(32)
            let key = expandKey(parameters, seed: seed)
            let a = LWRPSA.prf(parameters: parameters, seed: seed.span, group: 2, label: label)
            let b = try LWRPSA.prf(parameters: parameters, key: key.span, group: 2, label: label)
            #expect(a == b)
            // Chunked streaming (as from flash) agrees too.
            var stream = LWRLabelStream(parameters: parameters, group: 2, label: label)
            for start in stride(from: 0, to: key.count, by: 64) {
                stream.absorb(keyWords: key[start..<(start + 64)].span)
            }
            #expect(stream.prf() == a)
            // Key words one at a time, and as little-endian pages with their Fletcher sums
            // (the expanded key from flash), in uneven pieces.
            var single = LWRLabelStream(parameters: parameters, group: 2, label: label)
            for w in key { single.absorb(keyWord: w) }
            #expect(single.prf() == a)
            var bytes: [UInt8] = []
            var sums: (UInt64, UInt64) = (0, 0)
            for w in key {
                withUnsafeBytes(of: w.littleEndian) { bytes += $0 }
                sums.0 &+= w
                sums.1 &+= sums.0
            }
            var paged = LWRLabelStream(parameters: parameters, group: 2, label: label)
            var pagedSums: (UInt64, UInt64) = (0, 0)
            var start = 0
            for piece in [8, 504, 512, 13 * 8, 1024] + Array(repeating: 512, count: 40) where start < bytes.count {
                let end = min(start + piece, bytes.count)
                paged.absorb(keyBytes: bytes[start..<end].span.bytes, sums: &pagedSums)
                start = end
            }
            #expect(paged.prf() == a)
            #expect(pagedSums == sums)
        }
    }

    struct PRFCase: Codable {
        let xof: String
        let id: UInt8
        let seed: String
        let group: UInt32
        let label: UInt64
    }

    @Test("the PRF agrees with an independent Python implementation of the specification")
    func prfAgainstPython() throws {
        var rng = SeededGenerator(seed: 6)
        var cases: [PRFCase] = []
        for parameters in [LWRParameters.standard, .turbo] {
            for _ in 0..<4 {
                cases.append(
                    PRFCase(
                        xof: parameters.xof == .shake128 ? "shake128" : "turboshake128", id: parameters.id,
                        seed: Hex.encode(rng.bytes(32)), group: UInt32.random(in: 0...UInt32.max, using: &rng),
                        label: UInt64.random(in: 0...UInt64.max, using: &rng)))
            }
        }
        let script = """
            import sys, json, hashlib
            from Crypto.Hash import TurboSHAKE128
            def xof(kind, data, n):
                if kind == "shake128":
                    return hashlib.shake_128(data).digest(n)
                return TurboSHAKE128.new(data=data, domain=0x1F).read(n)
            out = []
            for c in json.load(sys.stdin):
                lam = 2048
                a = xof(c["xof"], b"PM-LWR-A-v1" + bytes([c["id"]]) + c["group"].to_bytes(4, "big") + c["label"].to_bytes(8, "big"), 8 * lam)
                k = xof(c["xof"], b"PM-LWR-K-v1" + bytes([c["id"]]) + bytes.fromhex(c["seed"]), 8 * lam)
                acc = 0
                for j in range(lam):
                    acc += int.from_bytes(a[8*j:8*j+8], "little") * int.from_bytes(k[8*j:8*j+8], "little")
                out.append((acc % 2**64) >> 16)
            print(json.dumps(out))
            """
        let expected = try PythonOracle.run(script, input: cases, as: [UInt64].self)
        for (c, want) in zip(cases, expected) {
            let parameters = LWRParameters.withID(c.id)!
            let got = LWRPSA.prf(parameters: parameters, seed: Hex.decode(c.seed).span, group: c.group, label: c.label)
            #expect(got == want)
        }
    }
}
