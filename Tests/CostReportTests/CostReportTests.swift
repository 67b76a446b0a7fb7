import CostReport
import Foundation
import HeapCounter
import MeterCrypto
import MeterFirmware
import Testing

/// One small report for all tests (key setup, a few readings per configuration, two small
/// groups on the aggregator, the firmware built per scheme). Structure only: no timing is
/// asserted anywhere.
let smallReport: Result<CostMeasurements, any Error> = Result {
    var options = CostOptions()
    options.readings = 5
    options.warmupReadings = 2
    options.allocationReadings = 20  // > 16 slots per key-store sector: includes a compaction
    options.stackReadings = 3
    options.aggregatorMeters = [2, 20]
    options.aggregatorLabels = 2
    options.aggregatorSamples = (min: 1, max: 2)
    options.aggregatorBudgetSeconds = 0
    options.statementRuns = 2
    options.allocationCounter = InterposedAllocationCounter()
    guard let root = ProjectRoot.locate() else { throw ToolError.projectRootNotFound }
    options.firmware = FirmwareSizer(root: root)
    return try CostReporter.run(schemes: CostCatalog.schemes, options: options)
}

/// What scripts/check-firmware.sh prints, read independently of the report's own decoder.
func checkScript(scheme: String) throws -> [String: Any] {
    let root = try #require(ProjectRoot.locate())
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "bash", root.appendingPathComponent("scripts/check-firmware.sh").path, "--json", "--scheme", scheme,
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Suite("Cost report")
struct CostReportTests {
    @Test("the key-setup section: the neighbour graph against n-of-n per group size, and the recovery cost")
    func keySetupSection() throws {
        let report = try smallReport.get()
        #expect(report.keySetup.map(\.meters) == [2, 20])
        for k in report.keySetup {
            #expect(k.key_agreements_per_meter == min(k.degree, k.meters - 1))
            #expect(k.key_agreements_n_of_n == k.meters - 1)
            #expect(k.answer_frame_bytes == Frame.size(payloadLength: 16))
            #expect(k.label_exact == true)
        }
        #expect(report.table().contains("KEY SETUP, LWR-PSA per meter"))
        #expect(report.csv().contains("key_setup,lwr-psa,neighbour-graph"))
        #expect(try report.json().contains("key_setup"))
    }

    @Test(
        "every scheme configuration is present: LWR-PSA in both parameter sets and key modes, Paillier at both key sizes, DMCFE"
    )
    func everyScheme() throws {
        let report = try smallReport.get()
        let ids = Set(report.meter.map(\.id))
        #expect(ids == Set(CostCatalog.schemes.map(\.id)))
        for parameters in ["standard", "turbo"] {
            for mode in ["seed", "expanded"] {
                #expect(ids.contains(CostVariantID(scheme: "lwr-psa", parameters: parameters, variant: mode)))
            }
            for n in [2, 20] {
                #expect(report.aggregator.contains { $0.group == "lwr-psa/\(parameters)" && $0.meters == n })
            }
        }
        for bits in ["2048", "3072"] {
            #expect(ids.contains(CostVariantID(scheme: "paillier", parameters: bits, variant: "-")))
            for n in [2, 20] {
                #expect(report.aggregator.contains { $0.group == "paillier/\(bits)" && $0.meters == n })
            }
        }
        #expect(ids.contains(CostVariantID(scheme: "dmcfe", parameters: "3072", variant: "-")))
        for n in [2, 20] {
            #expect(report.aggregator.contains { $0.group == "dmcfe/3072" && $0.meters == n })
        }
        // Both LWR key modes share one aggregator measurement per parameter set.
        #expect(report.aggregator.count == 2 * 2 + 2 * 2 + 2)
    }

    @Test("the meter side allocates nothing; the counter is shown to work on paths that allocate")
    func allocations() throws {
        let report = try smallReport.get()
        #expect((report.allocationCounterControl ?? 0) > 0)
        for m in report.meter {
            #expect(m.heapAllocations == 0, "\(m.id)")
            #expect(m.heapAllocationsPerReading == 0)
            #expect(m.allocationReadings == 20)
        }
        // The aggregator allocates (frames, sets, the key copy): the same counter sees it.
        for a in report.aggregator {
            #expect((a.heapAllocations ?? 0) > 0)
            if a.scheme == "lwr-psa" {
                #expect((a.peakHeapBytes ?? 0) >= Int64(LWRParameters.maxLambda * 8), "K alone is λ words")
            } else {
                #expect((a.peakHeapBytes ?? 0) > 0)
            }
        }
    }

    @Test("the counter counts an allocating path and nothing on the firmware's PRF")
    func counterDirectly() throws {
        let counter = InterposedAllocationCounter()
        counter.begin()
        let array = makeArray(1000)
        let counts = counter.end()
        withExtendedLifetime(array) {}
        #expect(counts.allocations >= 1)
        #expect(counts.bytesAllocated >= 8000)

        let seed = [UInt8](repeating: 1, count: 32)
        // The first call may instantiate generic metadata in the runtime (which allocates,
        // once per process); the report warms up the same way before it counts.
        _ = LWRPSA.prf(parameters: .standard, seed: seed.span, group: 1, label: 1)
        counter.begin()
        let pad = LWRPSA.prf(parameters: .standard, seed: seed.span, group: 1, label: 2)
        let none = counter.end()
        #expect(pad != 0)
        #expect(none.allocations == 0)
    }

    @Test("the stack high-water mark is non-zero and below the painted size")
    func stack() throws {
        let report = try smallReport.get()
        for m in report.meter {
            let s = try #require(m.stack, "\(m.id)")
            #expect(s.prepareBytes > s.harnessBytes)
            #expect(s.boundaryBytes > s.harnessBytes)
            #expect(s.highWaterBytes > 0)
            #expect(s.highWaterBytes < s.paintedBytes)
            #expect(s.paintedBytes <= 256 * 1024)
        }
    }

    @Test("the stack probe finds a known depth")
    func stackProbe() throws {
        let depth = 24 * 1024
        let use = try StackProbe.measure(stackBytes: 128 * 1024) { blackHole(touchStack()) }
        #expect(use.highWaterBytes >= depth)
        #expect(use.highWaterBytes < depth + 16 * 1024)
        #expect(use.highWaterBytes < use.paintedBytes)
    }

    @Test("the flash footprint is the check script's for a firmware with only that scheme")
    func flash() throws {
        let report = try smallReport.get()
        for scheme in Set(report.meter.map(\.id.scheme)) {
            let script = try checkScript(scheme: scheme)
            let text = try #require(script["text"] as? Int)
            let data = try #require(script["data"] as? Int)
            let bss = try #require(script["bss"] as? Int)
            #expect(script["scheme"] as? String == scheme)
            #expect((script["forbidden_symbols"] as? [Any])?.isEmpty == true)
            for m in report.meter where m.id.scheme == scheme {
                let flash = try #require(m.flash)
                #expect(flash.flashBytes == text + data)
                #expect(flash.text == text)
                #expect(m.staticRAM.firmwareData == data)
                #expect(m.staticRAM.firmwareBSS == bss)
            }
        }
    }

    @Test("static RAM, ciphertext and key-store bytes are the firmware's")
    func sizes() throws {
        let report = try smallReport.get()
        for m in report.meter {
            if m.id.scheme == "paillier" {
                let bits = try #require(Int(m.id.parameters))
                #expect(m.ciphertextBytes == bits / 4)
                #expect(m.frameBytes == bits / 4 + 40)
                #expect(m.keyStore.bytes > bits / 8, "the key store holds N")
            } else if m.id.scheme == "dmcfe" {
                #expect(m.ciphertextBytes == 384)
                #expect(m.frameBytes == 384 + 40)
                #expect(m.keyStore.bytes > 48, "the key store holds the key seed and a peer seed")
            } else {
                #expect(m.ciphertextBytes == 8)
                #expect(m.frameBytes == 48)
            }
            // Each image's own state: the Meter<Scheme> of its scheme, nothing of the others'.
            let state: Int
            switch m.id.scheme {
            case "paillier": state = MemoryLayout<Meter<PaillierScheme>>.size
            case "dmcfe": state = MemoryLayout<Meter<DMCFEScheme>>.size
            default: state = MemoryLayout<Meter<LWRScheme>>.size
            }
            #expect(m.staticRAM.state.filter(\.isTotal).map(\.bytes) == [state])
            #expect(m.staticRAM.totalBytes > state)
            if m.id.scheme == "lwr-psa" {
                // No λ-word buffer stays resident after key setup: the peer seeds are in flash.
                #expect(m.staticRAM.totalBytes < 10_000)
            }
            if m.id.scheme == "paillier" || m.id.scheme == "dmcfe" {
                #expect(m.keyStore.bytes < 1024)
            } else if m.id.variant == "expanded" {
                #expect(m.keyStore.bytes > LWRParameters.maxLambda * 8)
            } else {
                #expect(m.keyStore.bytes < 1024)
            }
            let wear = try #require(m.flashWear, "the wear campaign measures the key store and outbox")
            #expect(wear.worstSectorErasesPerYear > 0)
            #expect(wear.programOperationsPerYear >= 96 * 365, "at least one program per reading")
        }
    }

    @Test(
        "LWR-PSA readings break down into four phases, Paillier's into the exponentiation and the online step, DMCFE's into the hashes, the exponentiations and the boundary; each also times the customer's detail"
    )
    func phases() throws {
        let report = try smallReport.get()
        for m in report.meter {
            let names =
                switch m.id.scheme {
                case "paillier": ["exponentiation", "online multiplication", "customer detail", "boundary step"]
                case "dmcfe": ["hash to group", "exponentiations by s", "customer detail", "boundary step"]
                default: ["label expansion", "key stream", "inner product", "customer detail", "boundary step"]
                }
            #expect(m.phases.map(\.name) == names)
            for p in m.phases {
                #expect(p.cpu.samples == 5)
                #expect(p.fraction > 0)
            }
            #expect(m.phases.last?.measuredAs == "boundary")
            #expect((m.phasesSumFraction ?? 0) > 0)
        }
    }

    @Test("JSON and CSV carry every configuration; the table and the chart name them")
    func outputs() throws {
        let report = try smallReport.get()
        let json = try report.json()
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let meter = try #require(decoded["meter"] as? [[String: Any]])
        #expect(meter.count == report.meter.count)
        #expect(meter.allSatisfy { ($0["heap_allocations"] as? Int) == 0 })
        #expect(meter.allSatisfy { ($0["heap_allocations_per_reading"] as? Double) == 0 })
        #expect(meter.allSatisfy { $0["flash_wear"] is [String: Any] })
        // Not measured is an explicit null ("n/a"), never a missing key.
        #expect(meter.allSatisfy { $0["instructions"] is NSNull })
        #expect(meter.allSatisfy { (($0["static_ram"] as? [String: Any])?["total_bytes"] as? Int ?? 0) > 0 })
        #expect(meter.allSatisfy { ($0["cpu_per_reading"] as? [String: Any])?["median_us"] is Double })
        #expect((decoded["aggregator"] as? [Any])?.count == report.aggregator.count)

        let csv = report.csv().split(separator: "\n")
        #expect(csv.first == "section,scheme,parameters,variant,meters,phase,metric,value,unit")
        #expect(csv.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 9 })
        for m in report.meter {
            let prefix = "meter,\(m.id.scheme),\(m.id.parameters),\(m.id.variant),,,heap_allocations_per_reading,"
            #expect(csv.contains { $0.hasPrefix(prefix) })
        }

        let table = report.table()
        let svg = CostChart(report: report).svg()
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.hasSuffix("</svg>\n"))
        for m in report.meter {
            #expect(table.contains("\(m.id.parameters)/\(m.id.variant)"))
            #expect(svg.contains("\(m.id.scheme) \(m.id.parameters)/\(m.id.variant)"))
        }
        #expect(svg.components(separatedBy: "<circle").count - 1 >= report.meter.count * 2)
    }

    @Test(
        "the setup section: every configuration verifies its statement through the firmware with no allocation, sizes are the layout's"
    )
    func setup() throws {
        let report = try smallReport.get()
        #expect(Set(report.setup.map(\.id)) == Set(CostCatalog.schemes.map(\.id)))
        let p = Statement.signatureParameters
        #expect(p.signatureBytes == 17_088)
        for s in report.setup {
            #expect(s.heapAllocations == 0, "\(s.id)")
            #expect(s.cpuPerStatement.samples == 2)
            let stack = try #require(s.peakStackBytes)
            #expect(stack > (s.stackHarnessBytes ?? 0) && stack < 256 * 1024)
            let streaming = try #require(s.streamingStackBytes)
            #expect(streaming > 0 && streaming <= stack)
            // Both the verifier's symbols and the whole firmware are measured; one is part of the other.
            let verifier = try #require(s.verifierFlashBytes)
            let flash = try #require(s.firmwareFlashBytes)
            #expect(verifier > 0 && verifier < flash)
            let z = s.sizes
            #expect(z.signatureBytes == 17_088)
            #expect(z.chunks == 18 && z.chunks == Statement.chunkCount)
            // Chunk 0: length u16 | body; then 16 full chunks of 1024 and one of 704.
            let statementFrames =
                Frame.size(payloadLength: 2 + z.bodyBytes) + 16 * Frame.size(payloadLength: Statement.chunkBytes)
                + Frame.size(payloadLength: 17_088 - 16 * Statement.chunkBytes)
            #expect(z.statementDownlinkBytes == statementFrames)
            if s.id.scheme == "paillier" {
                #expect(z.kind == "paillierKey")
                #expect(z.bodyBytes == Statement.paillierKeyBytes(modulusBytes: Int(s.id.parameters)! / 8))
                #expect(z.meters == nil && z.rosterEntries == 0 && z.downlinkBytesPerMeter == statementFrames)
            } else {
                #expect(z.kind == "groupParameters")
                #expect(z.bodyBytes == Statement.groupParametersBytes)
                #expect(z.meters == 100 && z.rosterDepth == 7 && z.rosterEntries == 100)
                #expect(z.rosterEntryBytes == Roster.entryBytes(depth: 7))
                #expect(z.rosterDownlinkBytes == 100 * Frame.size(payloadLength: Roster.entryBytes(depth: 7)))
                #expect(z.downlinkBytesPerMeter == statementFrames + z.rosterDownlinkBytes)
            }
        }
        let json = try report.json()
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let setup = try #require(decoded["setup"] as? [[String: Any]])
        #expect(setup.count == report.setup.count)
        let first = try #require(setup.first)
        for key in [
            "cpu_per_statement", "last_chunk", "verify_alone", "heap_allocations", "peak_stack_bytes",
            "verifier_flash_bytes", "sizes",
        ] {
            #expect(first[key] != nil, "\(key)")
        }
        let sizes = try #require(first["sizes"] as? [String: Any])
        #expect(sizes["signature_bytes"] as? Int == 17_088)
        #expect(sizes["downlink_bytes_per_meter"] != nil)
        // Paillier's key statement has no roster: its roster figures are null, not missing.
        let paillier = try #require(
            setup.first { ($0["sizes"] as? [String: Any])?["kind"] as? String == "paillierKey" })
        let paillierSizes = try #require(paillier["sizes"] as? [String: Any])
        #expect(paillierSizes["roster_depth"] is NSNull && paillierSizes["meters"] is NSNull)
        #expect(report.table().contains("SETUP, per signed statement"))
        #expect(report.csv().contains("setup,lwr-psa,standard,seed,,,signature,17088,bytes"))
    }

    @Test("the instruction probe runs one reading of every configuration")
    func instructionProbe() throws {
        for scheme in CostCatalog.schemes { try InstructionProbe.run(scheme, warmup: 1) }
    }

    @Test("configurations are selected by scheme, scheme/parameters or full id")
    func selection() throws {
        #expect(CostCatalog.select([]).count == CostCatalog.schemes.count)
        #expect(CostCatalog.select(["lwr-psa"]).count == 4)
        #expect(CostCatalog.select(["lwr-psa/turbo"]).map(\.id.variant) == ["seed", "expanded"])
        #expect(CostCatalog.select(["lwr-psa/standard/expanded"]).count == 1)
        #expect(CostCatalog.select(["paillier"]).map(\.id.parameters) == ["2048", "3072"])
        #expect(CostCatalog.select(["paillier/3072/-"]).count == 1)
        #expect(CostCatalog.select(["paillier/none"]).isEmpty)
        #expect(CostCatalog.select(["dmcfe"]).map(\.id.description) == ["dmcfe/3072/-"])
        // DMCFE's aggregator stops at 1000 meters (n = 10 000 takes minutes per report).
        let dmcfe = try #require(CostCatalog.select(["dmcfe"]).first)
        #expect(dmcfe.measuresAggregator(meters: 1_000))
        #expect(!dmcfe.measuresAggregator(meters: 10_000))
        #expect(CostCatalog.select(["paillier"]).allSatisfy { $0.measuresAggregator(meters: 10_000) })
    }
}

/// A heap array the optimiser cannot move to the stack (it escapes through the result).
@inline(never)
func makeArray(_ count: Int) -> [UInt64] { [UInt64](repeating: 7, count: count) }

/// Writes a 24 KiB local array: at least that much stack.
@inline(never)
func touchStack() -> UInt64 {
    var words = InlineArray<3072, UInt64>(repeating: 0)
    for i in 0..<3072 { words[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
    var acc: UInt64 = 0
    for i in stride(from: 0, to: 3072, by: 97) { acc ^= words[i] }
    return acc
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
