// The report as a terminal table, CSV and JSON.
import Foundation
import MeterSimulator

extension CostMeasurements {
    /// Pretty-printed JSON with snake_case keys.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    // MARK: - CSV

    /// One figure per line: section, scheme, parameters, variant, meters, phase, metric,
    /// value, unit. Empty value: not measured.
    public func csv() -> String {
        var lines = ["section,scheme,parameters,variant,meters,phase,metric,value,unit"]
        func row(
            _ section: String, _ id: (String, String, String), meters: Int? = nil, phase: String = "",
            _ metric: String, _ value: String, _ unit: String
        ) {
            let fields = [
                section, id.0, id.1, id.2, meters.map(String.init) ?? "", phase, metric, value, unit,
            ]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        func num(_ v: Double) -> String { String(format: "%.3f", v) }
        for m in meter {
            let id = (m.id.scheme, m.id.parameters, m.id.variant)
            for (name, d) in [("cpu_per_reading", m.cpuPerReading), ("prepare", m.prepare), ("boundary", m.boundary)] {
                row("meter", id, "\(name)_median", num(d.medianUs), "us")
                row("meter", id, "\(name)_p10", num(d.p10Us), "us")
                row("meter", id, "\(name)_p90", num(d.p90Us), "us")
            }
            row("meter", id, "readings", "\(m.cpuPerReading.samples)", "count")
            row("meter", id, "heap_allocations_per_reading", m.heapAllocationsPerReading.map(num) ?? "", "count")
            row("meter", id, "peak_stack", m.stack.map { "\($0.highWaterBytes)" } ?? "", "bytes")
            row("meter", id, "peak_stack_harness", m.stack.map { "\($0.harnessBytes)" } ?? "", "bytes")
            row("meter", id, "stack_painted", m.stack.map { "\($0.paintedBytes)" } ?? "", "bytes")
            row("meter", id, "static_ram", "\(m.staticRAM.totalBytes)", "bytes")
            row("meter", id, "flash", m.flash.map { "\($0.flashBytes)" } ?? "", "bytes")
            row("meter", id, "ciphertext", "\(m.ciphertextBytes)", "bytes")
            row("meter", id, "frame", "\(m.frameBytes)", "bytes")
            row("meter", id, "key_store", "\(m.keyStore.bytes)", "bytes")
            row("meter", id, "key_store_flash", "\(m.keyStore.flashBytes)", "bytes")
            row(
                "meter", id, "flash_wear_worst_sector_erases_per_year",
                m.flashWear.map { num($0.worstSectorErasesPerYear) } ?? "", "count")
            row("meter", id, "instructions_per_reading", m.instructions.map { "\($0.perReading)" } ?? "", "count")
            for p in m.phases {
                row("phase", id, phase: p.name, "median", num(p.cpu.medianUs), "us")
                row("phase", id, phase: p.name, "fraction", String(format: "%.4f", p.fraction), "ratio")
            }
            if let sum = m.phasesSumFraction {
                row("phase", id, phase: "sum of phases", "fraction", String(format: "%.4f", sum), "ratio")
            }
        }
        for s in setup {
            let id = (s.id.scheme, s.id.parameters, s.id.variant)
            let n = s.sizes.meters
            row("setup", id, "cpu_per_statement_median", num(s.cpuPerStatement.medianUs), "us")
            row("setup", id, "cpu_per_statement_p10", num(s.cpuPerStatement.p10Us), "us")
            row("setup", id, "cpu_per_statement_p90", num(s.cpuPerStatement.p90Us), "us")
            row("setup", id, "last_chunk_median", num(s.lastChunk.medianUs), "us")
            row("setup", id, "verify_alone_median", num(s.verifyAlone.medianUs), "us")
            row("setup", id, "statements", "\(s.cpuPerStatement.samples)", "count")
            row("setup", id, "heap_allocations_per_statement", s.heapAllocations.map { "\($0)" } ?? "", "count")
            row("setup", id, "peak_stack", s.peakStackBytes.map { "\($0)" } ?? "", "bytes")
            row("setup", id, "peak_stack_signature_chunks", s.streamingStackBytes.map { "\($0)" } ?? "", "bytes")
            row("setup", id, "verifier_flash", s.verifierFlashBytes.map { "\($0)" } ?? "", "bytes")
            row("setup", id, "firmware_flash", s.firmwareFlashBytes.map { "\($0)" } ?? "", "bytes")
            row("setup", id, "statement_body", "\(s.sizes.bodyBytes)", "bytes")
            row("setup", id, "signature", "\(s.sizes.signatureBytes)", "bytes")
            row("setup", id, "statement_chunks", "\(s.sizes.chunks)", "count")
            row("setup", id, "statement_downlink", "\(s.sizes.statementDownlinkBytes)", "bytes")
            row("setup", id, meters: n, "roster_entry", s.sizes.rosterEntryBytes.map { "\($0)" } ?? "", "bytes")
            row("setup", id, meters: n, "roster_downlink", "\(s.sizes.rosterDownlinkBytes)", "bytes")
            row("setup", id, meters: n, "downlink_per_meter", "\(s.sizes.downlinkBytesPerMeter)", "bytes")
        }
        for a in aggregator {
            let id = (a.scheme, a.parameters, "")
            row("aggregator", id, meters: a.meters, "cpu_per_label_median", num(a.cpuPerLabel.medianUs), "us")
            row("aggregator", id, meters: a.meters, "cpu_per_label_p10", num(a.cpuPerLabel.p10Us), "us")
            row("aggregator", id, meters: a.meters, "cpu_per_label_p90", num(a.cpuPerLabel.p90Us), "us")
            row("aggregator", id, meters: a.meters, "collect_median", num(a.collect.medianUs), "us")
            row("aggregator", id, meters: a.meters, "decrypt_median", num(a.decrypt.medianUs), "us")
            row("aggregator", id, meters: a.meters, "samples", "\(a.cpuPerLabel.samples)", "count")
            row("aggregator", id, meters: a.meters, "peak_heap", a.peakHeapBytes.map { "\($0)" } ?? "", "bytes")
        }
        for k in keySetup {
            let id = ("lwr-psa", "neighbour-graph", "")
            row("key_setup", id, meters: k.meters, "degree", "\(k.degree)", "count")
            row("key_setup", id, meters: k.meters, "key_agreements", "\(k.key_agreements_per_meter)", "count")
            row("key_setup", id, meters: k.meters, "key_agreements_n_of_n", "\(k.key_agreements_n_of_n)", "count")
            row("key_setup", id, meters: k.meters, "downlink", "\(k.downlink_bytes_per_meter)", "bytes")
            row("key_setup", id, meters: k.meters, "downlink_n_of_n", "\(k.downlink_bytes_n_of_n)", "bytes")
            row("key_setup", id, meters: k.meters, "setup_cpu", num(k.setup_cpu_ms_median), "ms")
            row("recovery", id, meters: k.meters, "answer_frame", "\(k.answer_frame_bytes)", "bytes")
            row("recovery", id, meters: k.meters, "answer_cpu", num(k.answer_cpu_ms), "ms")
            if let a = k.aggregator_cpu_ms_per_label {
                row("recovery", id, meters: k.meters, "label_aggregator_cpu", num(a), "ms")
            }
        }
        for t in targets {
            let id = (t.scheme, t.parameters, t.variant)
            let v = { (x: Int?) in x.map { "\($0)" } ?? "" }
            row("target_\(t.target)", id, "instructions_per_reading", v(t.instructionsPerReading), "count")
            row("target_\(t.target)", id, "flash", v(t.flashBytes), "bytes")
            row("target_\(t.target)", id, "ram", v(t.ramBytes), "bytes")
            row("target_\(t.target)", id, "stack", v(t.stackBytes), "bytes")
            for (phase, n) in t.phases.sorted(by: { $0.key < $1.key }) {
                row("target_\(t.target)", id, phase: phase, "instructions", "\(n)", "count")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Table

    /// The report as one table: a column per configuration, a row per figure.
    public func table() -> String {
        let columns = meter
        var rows: [(String, [String])] = []
        func section(_ title: String) { rows.append((title, columns.map { _ in "" })) }
        func add(_ label: String, _ value: (MeterCost) -> String) { rows.append(("  " + label, columns.map(value))) }

        rows.append(("", columns.map { $0.id.scheme }))
        rows.append(("", columns.map { "\($0.id.parameters)/\($0.id.variant)" }))
        section("METER, per reading")
        add("CPU µs, median") { us($0.cpuPerReading.medianUs) }
        add("  spread p10–p90") { "\(us($0.cpuPerReading.p10Us))–\(us($0.cpuPerReading.p90Us))" }
        add("  prepare (ahead)") { us($0.prepare.medianUs) }
        add("  boundary step") { us($0.boundary.medianUs) }
        add("instructions") { m in m.instructions.map { grouped(Int($0.perReading)) } ?? "n/a" }
        add("heap allocations") { m in
            m.heapAllocationsPerReading.map { $0 == 0 ? "0" : String(format: "%.2f", $0) } ?? "not counted"
        }
        add("peak stack B") { m in m.stack.map { grouped($0.highWaterBytes) } ?? "n/a" }
        add("  prepare / boundary") { m in
            m.stack.map { "\(grouped($0.prepareBytes)) / \(grouped($0.boundaryBytes))" } ?? "n/a"
        }
        add("static RAM B") { grouped($0.staticRAM.totalBytes) }
        add("flash B (text+data)") { m in m.flash.map { grouped($0.flashBytes) } ?? "n/a" }
        add("ciphertext B (frame)") { "\($0.ciphertextBytes) (\($0.frameBytes))" }
        add("key store B (flash)") { "\(grouped($0.keyStore.bytes)) (\(grouped($0.keyStore.flashBytes)))" }
        add("flash wear per year") { m in
            m.flashWear.map { String(format: "%.0f erases", $0.worstSectorErasesPerYear) } ?? "n/a"
        }

        var phaseNames: [String] = []
        for m in meter { for p in m.phases where !phaseNames.contains(p.name) { phaseNames.append(p.name) } }
        if !phaseNames.isEmpty {
            section("PHASES, µs median (share of the reading)")
            for name in phaseNames {
                add(name) { m in
                    guard let p = m.phases.first(where: { $0.name == name }) else { return "-" }
                    return "\(us(p.cpu.medianUs)) (\(percent(p.fraction)))"
                }
            }
            add("sum of phases") { m in m.phasesSumFraction.map(percent) ?? "-" }
        }

        if !setup.isEmpty {
            section("SETUP, per signed statement on the meter (SLH-DSA-SHAKE-128f)")
            func cost(_ m: MeterCost) -> SetupCost? { setup.first { $0.id == m.id } }
            func add(_ label: String, _ value: @escaping (SetupCost) -> String) {
                rows.append(("  " + label, columns.map { m in cost(m).map(value) ?? "-" }))
            }
            add("statement") { $0.sizes.kind }
            add("CPU µs, median") { us($0.cpuPerStatement.medianUs) }
            add("  last chunk (finish, apply)") { us($0.lastChunk.medianUs) }
            add("  SLHDSA.verify alone") { us($0.verifyAlone.medianUs) }
            add("heap allocations") { s in s.heapAllocations.map { "\($0)" } ?? "not counted" }
            add("peak stack B") { s in s.peakStackBytes.map(grouped) ?? "n/a" }
            add("  signature chunks") { s in s.streamingStackBytes.map(grouped) ?? "n/a" }
            add("verifier flash B (of)") { s in
                guard let v = s.verifierFlashBytes else { return "n/a" }
                return "\(grouped(v)) (\(s.firmwareFlashBytes.map(grouped) ?? "?"))"
            }
            add("body B / signature B") { "\($0.sizes.bodyBytes) / \(grouped($0.sizes.signatureBytes))" }
            add("chunks (downlink B)") { "\($0.sizes.chunks) (\(grouped($0.sizes.statementDownlinkBytes)))" }
            let n = setup.compactMap(\.sizes.meters).first.map(grouped) ?? "n"
            add("roster entry B (depth)") { s in
                guard let e = s.sizes.rosterEntryBytes, let d = s.sizes.rosterDepth else { return "-" }
                return "\(e) (\(d))"
            }
            add("downlink B/meter, n = \(n)") { grouped($0.sizes.downlinkBytesPerMeter) }
        }

        let sizes = Array(Set(aggregator.map(\.meters))).sorted()
        if !sizes.isEmpty {
            section("AGGREGATOR, per label: verify+collect n frames, decrypt")
            for n in sizes {
                let label = "n = \(grouped(n))"
                add("\(label) CPU µs") { m in
                    guard let a = aggregatorCost(for: m, meters: n) else { return "-" }
                    return "\(us(a.cpuPerLabel.medianUs)) (dec \(us(a.decrypt.medianUs)))"
                }
                add("\(label) peak heap B") { m in
                    guard let a = aggregatorCost(for: m, meters: n) else { return "-" }
                    return a.peakHeapBytes.map { grouped(Int($0)) } ?? "not counted"
                }
            }
        }

        if !targets.isEmpty {
            let m4 = CortexM4Bench.target
            section("CORTEX-M4, per reading (QEMU mps2-an386 -icount; instructions, not cycles)")
            add("instructions") { m in target(m4, m.id)?.instructionsPerReading.map(grouped) ?? "n/a" }
            for mhz in [64.0, 168.0] {
                add("µs at \(Int(mhz)) MHz, 1 instr/cycle") { m in
                    target(m4, m.id)?.microseconds(atMegahertz: mhz).map(us) ?? "n/a"
                }
            }
            add("flash B (linked image)") { m in target(m4, m.id)?.flashBytes.map(grouped) ?? "n/a" }
            add("RAM B (data+bss+stack)") { m in target(m4, m.id)?.ramBytes.map(grouped) ?? "n/a" }
            add("stack B (painted)") { m in target(m4, m.id)?.stackBytes.map(grouped) ?? "n/a" }
        }

        // Section titles (rows without cells) may run into the columns.
        let labelWidth = rows.filter { !$0.1.allSatisfy(\.isEmpty) }.map { $0.0.count }.max() ?? 0
        var widths = columns.indices.map { c in rows.map { $0.1[c].count }.max() ?? 0 }
        widths = widths.map { max($0, 8) }
        var out: [String] = []
        for (label, cells) in rows {
            if cells.allSatisfy(\.isEmpty) {
                out.append(label)
                continue
            }
            var line = label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            for (c, cell) in cells.enumerated() {
                line += "  " + String(repeating: " ", count: widths[c] - cell.count) + cell
            }
            out.append(line.trimmingTrailingSpaces())
        }
        out.append("")
        out.append(contentsOf: keySetupTable())
        out.append(contentsOf: footnotes())
        return out.joined(separator: "\n") + "\n"
    }

    /// LWR-PSA's key setup, neighbour graph against n-of-n, and the recovery per silent meter.
    func keySetupTable() -> [String] {
        guard !keySetup.isEmpty else { return [] }
        func pad(_ s: String, _ w: Int) -> String {
            s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count)
        }
        var lines = [
            "KEY SETUP, LWR-PSA per meter: neighbour graph (n-of-n), reference meters (docs/spec/dropout.md)",
            "  " + pad("n", 8) + pad("k", 4) + pad("DH exps", 14) + pad("downlink B", 22) + pad("uplink B", 16)
                + pad("CPU ms", 8),
        ]
        for k in keySetup {
            lines.append(
                "  " + pad(grouped(k.meters), 8) + pad("\(k.degree)", 4)
                    + pad("\(k.key_agreements_per_meter) (\(grouped(k.key_agreements_n_of_n)))", 14)
                    + pad("\(grouped(k.downlink_bytes_per_meter)) (\(grouped(k.downlink_bytes_n_of_n)))", 22)
                    + pad("\(k.uplink_bytes_per_meter) (\(grouped(k.uplink_bytes_n_of_n)))", 16)
                    + String(format: "%.1f", k.setup_cpu_ms_median))
        }
        lines.append("RECOVERY, per reporting neighbour of a silent meter (neighbour graph)")
        for k in keySetup {
            var line =
                "  n = \(grouped(k.meters)): request \(k.request_frame_bytes) B down, answer \(k.answer_frame_bytes) B up, "
                + "notice \(k.notice_frame_bytes) B up+down; meter CPU \(String(format: "%.2f", k.answer_cpu_ms)) ms "
                + "(+\(String(format: "%.2f", k.answer_cpu_ms_per_extra_silent)) per further silent neighbour)"
            if let agg = k.aggregator_cpu_ms_per_label, let silent = k.label_silent, let answers = k.label_answers {
                line += String(format: "; a label with %d silent: %d answers, aggregator %.1f ms", silent, answers, agg)
            }
            lines.append(line)
        }
        lines.append("")
        return lines
    }

    /// The aggregator row that belongs to a meter column.
    func aggregatorCost(for m: MeterCost, meters n: Int) -> AggregatorCost? {
        aggregator.first { $0.scheme == m.id.scheme && $0.parameters == m.id.parameters && $0.meters == n }
    }

    func footnotes() -> [String] {
        var lines: [String] = []
        let readings = meter.first?.cpuPerReading.samples ?? 0
        lines.append(
            "\(host.build) build on \(host.system), \(host.cores) cores; CPU = thread CPU time, \(readings) readings per column."
        )
        lines.append(
            "prepare = work ahead of the boundary (LWR: F_k(l), Paillier: r^N mod N², DMCFE: H(l)_1^{s_1}·H(l)_2^{s_2}, while idle); boundary step = sample, encrypt, persist, seal, send."
        )
        if let s = meter.first?.stack {
            lines.append(
                "peak stack: painted \(grouped(s.paintedBytes)) B, deepest of \(s.readings) readings, host x86_64 build; includes \(s.harnessBytes) B of probe frames."
            )
        }
        if let f = firmware.first {
            let ext = f.externalSymbols.joined(separator: " ")
            lines.append(
                "flash: scripts/check-firmware.sh --scheme NAME (Embedded -\(f.optimization), \(f.target)); not included: \(ext)."
            )
        }
        lines.append("static RAM = the firmware state (MemoryLayout<Meter>) + .data + .bss of the Embedded object.")
        if let s = setup.first {
            lines.append(
                "setup: one statement's chunks delivered to meter 1 and polled, median of \(s.cpuPerStatement.samples) statements; verifier flash = text of the SLHDSA* symbols (inlined code not counted); downlink = statement + roster frames per meter (Paillier: the key statement only)."
            )
        }
        lines.append(
            "aggregator columns with the same scheme and parameters share one measurement; dec = decrypt alone.")
        if meter.contains(where: { $0.flashWear == nil }) {
            lines.append("flash wear n/a: the key store provides no figure yet (CostReport.KeyStoreWear).")
        }
        if meter.contains(where: { $0.instructions == nil }) {
            lines.append("instructions n/a: add --instructions (callgrind, slow) or run scripts/count-instructions.sh.")
        }
        lines.append(contentsOf: notes.map { "note: \($0)" })
        return lines
    }
}

func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

func us(_ v: Double) -> String {
    v >= 1000 ? grouped(Int(v.rounded())) : String(format: v >= 100 ? "%.0f" : "%.1f", v)
}

func percent(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }

/// 12345678 → "12 345 678".
func grouped(_ v: Int) -> String {
    let digits = String(v.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(" ") }
        out.append(ch)
    }
    return v < 0 ? "-" + out : out
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
