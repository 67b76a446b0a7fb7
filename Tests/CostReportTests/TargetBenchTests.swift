import CostReport
import Foundation
import Testing

/// `metering cost --target cortex-m4`: the bench summaries read back, and the error when
/// the tools are missing (the QEMU runs themselves are scripts/m4-test.sh's).
@Suite("Cost per reading on the Cortex-M4 target")
struct TargetBenchTests {
    @Test("a bench summary line becomes a cortex-m4 entry with its phases")
    func parsesSummary() throws {
        let line = """
            {"scheme": "lwr-psa", "parameters": "standard", "variant": "expanded", "target": "cortex-m4", \
            "instructions_per_reading": 1234567, "pad_instructions": 1200000, "phases": {"pad": 1200000, \
            "key_stream": null, "inner_product": 20000}, "flash_bytes": 80000, "ram_bytes": 36000, \
            "stack_bytes": 35000, "labels": 4}
            """
        let entries = try CortexM4Bench.parse(line + "\n")
        #expect(entries.count == 1)
        let e = try #require(entries.first)
        #expect(e.id == CostVariantID(scheme: "lwr-psa", parameters: "standard", variant: "expanded"))
        #expect(e.target == "cortex-m4")
        #expect(e.instructionsPerReading == 1_234_567)
        #expect(e.flashBytes == 80_000 && e.ramBytes == 36_000 && e.stackBytes == 35_000)
        #expect(e.phases.count == 2)  // the null phase is dropped
        #expect(e.microseconds(atMegahertz: 64) == 1_234_567.0 / 64)
        // A figure not measured is null in the JSON, not missing.
        let host = TargetCost(
            scheme: "dmcfe", parameters: "3072", variant: "-", target: "x86_64", instructionsPerReading: nil,
            flashBytes: nil, ramBytes: 6_873, stackBytes: 32_895)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(host), as: UTF8.self)
        #expect(json.contains("\"instructions_per_reading\":null") && json.contains("\"flash_bytes\":null"))
    }

    @Test("without the cross tools and QEMU the target fails with what to install")
    func missingTools() {
        let missing = CortexM4Bench.missingTools(path: "/nonexistent")
        #expect(missing.starts(with: CortexM4Bench.tools))
        let message = TargetBenchError.toolsMissing(missing).description
        #expect(message.contains("qemu-system-arm") && message.contains("apt-get install"))
    }

    @Test("a summary that is not the bench's JSON is refused")
    func refusesGarbage() {
        #expect(throws: (any Error).self) { try CortexM4Bench.parse("not json\n") }
    }
}

@Suite("Cost chart with the Cortex-M4 target")
struct TargetChartTests {
    @Test("both targets' bars are drawn per configuration, every text inside the chart and apart")
    func chartShowsBothTargets() throws {
        var report = try smallReport.get()
        report.addTarget(
            report.meter.enumerated().map { i, m in
                TargetCost(
                    scheme: m.id.scheme, parameters: m.id.parameters, variant: m.id.variant, target: "cortex-m4",
                    instructionsPerReading: 1_000_000 * (i + 1) * (i + 1) * 300, flashBytes: 80_000,
                    ramBytes: 65_000, stackBytes: 64_000)
            })
        #expect(report.targets.count == 2 * report.meter.count)
        let elements = try SVGReader.read(CostChart(report: report).svg())
        let root = try #require(elements.first { $0.name == "svg" })
        let width = try #require(root.number("width"))
        let height = try #require(root.number("height"))
        let bars = elements.filter { $0.attributes["class"] == "target-bar" }
        let values = elements.filter { $0.attributes["class"] == "target-value" }
        #expect(bars.count >= report.meter.count)  // the M4 bar of every row (x86_64: if counted)
        #expect(values.filter { $0.content.hasPrefix("M4: ") }.count == report.meter.count)
        #expect(values.contains { $0.content.contains("at 64 MHz") && $0.content.contains("at 168 MHz") })
        let boxes = elements.compactMap(TextBox.init)
        for b in boxes {
            #expect(b.left >= 0 && b.right <= width && b.bottom <= height, "\(b.text) outside the chart")
        }
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] where a.overlaps(b) { Issue.record("\"\(a.text)\" overlaps \"\(b.text)\"") }
        }
        // The JSON has both targets with the figures the issue names.
        let json = try report.json()
        for key in [
            "\"target\" : \"cortex-m4\"", "\"target\" : \"x86_64\"", "instructions_per_reading", "flash_bytes",
            "ram_bytes", "stack_bytes",
        ] {
            #expect(json.contains(key), "no \(key) in the JSON")
        }
    }
}
