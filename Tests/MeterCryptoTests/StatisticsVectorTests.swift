import MeterCrypto
import TestSupport
import Testing

/// The statistics slots of Vectors/lwr_psa.json (docs/spec/statistics.md), made by
/// scripts/vectors/make_lwr_vectors.py independently of the firmware.
@Suite("LWR-PSA statistics slots, known answers (Vectors/lwr_psa.json)")
struct StatisticsVectorTests {
    @Test("slot PRFs F_k(l, s) over a_{l,s} from PM-LWR-S-v1, apart from the reading's F_k(l)")
    func slotPRF() throws {
        let file = try LWRVectorFile.loaded.get()
        for entry in file.parameter_sets {
            let parameters = try #require(LWRParameters.withID(entry.id))
            #expect(entry.slot_prf.count >= 3)
            for c in entry.slot_prf {
                let seed = Hex.decode(c.seed)
                #expect(
                    LWRPSA.prf(parameters: parameters, seed: seed.span, group: c.group, label: c.label, slot: c.slot)
                        == c.prf)
                #expect(
                    LWRPSA.prf(parameters: parameters, seed: seed.span, group: c.group, label: c.label) == c.reading_prf
                )
                let key = expandedKey(parameters, seed: c.seed)
                #expect(
                    try LWRPSA.prf(parameters: parameters, key: key.span, group: c.group, label: c.label, slot: c.slot)
                        == c.prf)
                var stream = LWRPSA.slotExpansion(parameters: parameters, group: c.group, label: c.label, slot: c.slot)
                #expect(
                    hexWords((0..<c.slot_vector_first.count).map { _ in stream.squeezeWord() }) == c.slot_vector_first)
            }
        }
    }

    @Test("a group's x² and packed histogram slots: layout, values, ciphertexts, decrypted sums")
    func group() throws {
        let file = try LWRVectorFile.loaded.get()
        for entry in file.parameter_sets {
            let parameters = try #require(LWRParameters.withID(entry.id))
            let g = entry.statistics_group
            let layout = try StatisticsLayout(
                meters: g.meters, maxReading: g.max_reading, squares: g.squares, binCount: g.edges.count + 1,
                parameters: parameters)
            #expect(layout.counterBits == g.counter_bits && layout.binsPerSlot == g.bins_per_slot)
            #expect((0..<layout.slotCount).map { layout.tag(ofSlot: $0) } == g.tags)
            let body = planBody(group: g.group, meters: g.meters, squares: g.squares, edges: g.edges)
            let plan = try StatisticsPlan(body: body.span)
            var key = [UInt64](repeating: 0, count: parameters.lambda)
            var sums = [UInt64](repeating: 0, count: layout.slotCount)
            for m in g.members {
                let bin = plan.bin(of: m.reading)
                let values = (0..<layout.slotCount).map { layout.value(ofSlot: $0, reading: m.reading, bin: bin) }
                #expect(values == m.slot_values)
                for i in 0..<layout.slotCount {
                    let pad = LWRPSA.prf(
                        parameters: parameters, seed: Hex.decode(m.seed).span, group: g.group, label: g.label,
                        slot: layout.tag(ofSlot: i))
                    let c = try LWRPSA.encrypt(
                        reading: values[i], pad: pad, bounds: layout.bounds(ofSlot: i), parameters: parameters)
                    #expect(c == m.ciphertexts[i])
                    sums[i] &+= c
                }
                for (j, w) in expandedKey(parameters, seed: m.seed).enumerated() { key[j] &+= w }
            }
            #expect(shake256Hex(key) == g.aggregate_key_shake256)
            let plain = try (0..<layout.slotCount).map { i in
                let pad = try LWRPSA.prf(
                    parameters: parameters, key: key.span, group: g.group, label: g.label, slot: layout.tag(ofSlot: i))
                return LWRPSA.decryptSum(
                    ciphertextSum: sums[i], aggregatePad: pad, bounds: layout.bounds(ofSlot: i), parameters: parameters)
            }
            #expect(plain == g.slot_sums)
            #expect(plain[0] == g.sum_of_squares)
            let histogram = (0..<layout.binCount).map {
                layout.count(ofBin: $0, slotSum: plain[layout.slot(ofBin: $0)])
            }
            #expect(histogram == g.histogram)
        }
    }

    /// A plan body (docs/spec/statistics.md) written from the layout, independently of the host's builder.
    func planBody(group: UInt32, meters: UInt32, squares: Bool, edges: [UInt32]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: StatisticsPlan.bodyBytes)
        func put(_ v: UInt32, _ at: Int) {
            for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(k))) }
        }
        b[0] = 5
        b[1] = 1
        put(group, 12)
        put(meters, 16)
        put(10, 20)
        b[24] = squares ? 1 : 0
        b[25] = UInt8(edges.count + 1)
        for (i, e) in edges.enumerated() { put(e, 28 + 4 * i) }
        return b
    }
}
