// `metering cost --svg FILE`: the report as a chart, SVG written by hand.
//
// Left: meter CPU per reading (x) against aggregator CPU per label (y), both log scales,
// a point per configuration and group size, labelled. Right: where a reading's time goes,
// phase by phase, per configuration.
import Foundation

public struct CostChart {
    public let report: CostMeasurements

    public init(report: CostMeasurements) { self.report = report }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    static let phasePalette = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#ff9da7", "#bab0ac",
    ]

    /// Width of the whole chart in pixels; nothing is drawn past it.
    public static let width = 1120.0
    static let margin = 24.0

    /// A generous estimate of a text's width in the chart's font (DejaVu Sans): 0.62 em a
    /// character, 0.68 em in bold. The layout wraps and places text by it.
    static func textWidth(_ t: String, size: Double, bold: Bool = false) -> Double {
        Double(t.count) * size * (bold ? 0.68 : 0.62)
    }

    public func svg() -> String {
        let width = Self.width
        let top = 80.0
        var right = SVGWriter(width: width)
        let rightBottom = phases(&right, x: 660, y: top, width: width - 660 - Self.margin)
        // The scatter is as tall as the phase panel (at least 400 px); its axis labels take 44 px.
        let plotHeight = max(400, rightBottom - top - 44)
        var s = SVGWriter(width: width)
        s.text(
            "PrivateMetering: cost per reading on the meter vs per label on the aggregator", x: Self.margin, y: 30,
            size: 18, weight: "bold")
        s.text(
            "\(report.host.build) build, \(report.host.system), thread CPU time (medians); generated \(report.generated)",
            x: Self.margin, y: 50, size: 12, fill: "#555")
        scatter(&s, x: 90, y: top, width: 520, height: plotHeight)
        s.body += right.body
        var footY = max(top + plotHeight + 44, rightBottom) + 24
        if !report.targets.isEmpty { footY = targets(&s, y: footY + 8) + 16 }
        let footnotes = [
            "Each configuration is one colour; marker size is the group size n. Aggregator per label = verify + collect n frames + decrypt the sum.",
            "Right: each bar on its own scale (the reading's phases, with their times); compare configurations on the left.",
            "Reproduce: swift run -c release metering cost --svg FILE (docs/cost.md says how to read it).",
        ]
        for line in footnotes {
            s.text(line, x: Self.margin, y: footY, size: 11, fill: "#555")
            footY += 16
        }
        return s.finish(height: footY + 4)
    }
    // MARK: - Targets

    /// `--target cortex-m4`: instructions per reading by target, a row per configuration
    /// with a Cortex-M4 figure, x86_64 and Cortex-M4 bars on one log scale; the M4's time
    /// per reading at 64 and 168 MHz if every instruction took one cycle (they take more).
    /// Returns the panel's bottom.
    func targets(_ s: inout SVGWriter, y: Double) -> Double {
        let m4 = CortexM4Bench.target
        let rows = report.meter.compactMap { m -> (String, TargetCost?, TargetCost)? in
            guard let arm = report.target(m4, m.id) else { return nil }
            return ("\(m.id.scheme) \(m.id.parameters)/\(m.id.variant)", report.target("x86_64", m.id), arm)
        }
        guard !rows.isEmpty else { return y }
        s.text(
            "Instructions per reading by target (log scale): x86_64 host build (callgrind) and Cortex-M4 (QEMU mps2-an386 -icount)",
            x: Self.margin, y: y, size: 13, weight: "bold")
        let values = rows.flatMap { [$0.1?.instructionsPerReading, $0.2.instructionsPerReading] }.compactMap { $0 }
        let x0 = 250.0
        let x1 = Self.width - Self.margin - 330
        let axis = LogAxis(values: values.map { Double($0) }, from: x0, to: x1)
        var rowY = y + 22
        for (i, row) in rows.enumerated() {
            s.text(row.0, x: Self.margin, y: rowY + 12, size: 11, cssClass: "target-label", row: i)
            for (k, entry) in [row.1, row.2].enumerated() {
                let barY = rowY + Double(k) * 13
                let colour = k == 0 ? "#4e79a7" : "#e15759"
                guard let n = entry?.instructionsPerReading else {
                    s.text("x86_64: not counted (--instructions)", x: x0, y: barY + 9, size: 10, fill: "#777")
                    continue
                }
                let end = axis.position(Double(n))
                s.rect(
                    x: x0, y: barY, width: max(end - x0, 0.5), height: 10, fill: colour, stroke: "none",
                    cssClass: "target-bar", row: i)
                var label = "\(k == 0 ? "x86_64" : "M4"): \(instructionCount(n))"
                if k == 1, let a = entry?.microseconds(atMegahertz: 64), let b = entry?.microseconds(atMegahertz: 168) {
                    label += " ≥ \(microseconds(a)) at 64 MHz, ≥ \(microseconds(b)) at 168 MHz"
                }
                s.text(label, x: end + 6, y: barY + 9, size: 10, fill: "#333", cssClass: "target-value", row: i)
            }
            rowY += 34
        }
        return rowY
    }

    // MARK: - Scatter

    func scatter(_ s: inout SVGWriter, x: Double, y: Double, width: Double, height: Double) {
        let sizes = Array(Set(report.aggregator.map(\.meters))).sorted()
        var points: [(config: Int, n: Int, meter: Double, agg: Double)] = []
        for (c, m) in report.meter.enumerated() {
            for n in sizes {
                if let a = report.aggregatorCost(for: m, meters: n) {
                    points.append((c, n, m.cpuPerReading.medianUs, a.cpuPerLabel.medianUs))
                }
            }
        }
        s.text("Meter CPU per reading vs aggregator CPU per label", x: x, y: y - 8, size: 14, weight: "bold")
        guard !points.isEmpty else {
            s.text("no aggregator figures", x: x + 20, y: y + 40, size: 12)
            return
        }
        let xs = LogAxis(values: points.map(\.meter), from: x, to: x + width)
        let ys = LogAxis(values: points.map(\.agg), from: y + height, to: y)
        s.rect(x: x, y: y, width: width, height: height, fill: "#fafafa", stroke: "#ccc")
        // Over one or two decades the 2× and 5× ticks are labelled too.
        for t in xs.ticks {
            let px = xs.position(t.value)
            s.line(x1: px, y1: y, x2: px, y2: y + height, stroke: t.major ? "#ddd" : "#eee")
            if t.major || xs.decades <= 2 {
                s.text(
                    microseconds(t.value), x: px, y: y + height + 16, size: 11, anchor: "middle",
                    fill: t.major ? "#222" : "#777")
            }
        }
        for t in ys.ticks {
            let py = ys.position(t.value)
            s.line(x1: x, y1: py, x2: x + width, y2: py, stroke: t.major ? "#ddd" : "#eee")
            if t.major || ys.decades <= 2 {
                s.text(
                    microseconds(t.value), x: x - 6, y: py + 4, size: 11, anchor: "end", fill: t.major ? "#222" : "#777"
                )
            }
        }
        s.text(
            "meter CPU per reading (log scale)", x: x + width / 2, y: y + height + 36, size: 12, anchor: "middle")
        s.text(
            "aggregator CPU per label (log scale)", x: x - 62, y: y + height / 2, size: 12, anchor: "middle",
            rotate: -90)

        // A thin line through each configuration's group sizes, then the points.
        for c in report.meter.indices {
            let mine = points.filter { $0.config == c }.sorted { $0.n < $1.n }
            guard mine.count > 1 else { continue }
            let colour = Self.palette[c % Self.palette.count]
            for (a, b) in zip(mine, mine.dropFirst()) {
                s.line(
                    x1: xs.position(a.meter), y1: ys.position(a.agg), x2: xs.position(b.meter),
                    y2: ys.position(b.agg), stroke: colour, width: 1.5)
            }
        }
        for p in points {
            let colour = Self.palette[p.config % Self.palette.count]
            let rank = Double(sizes.firstIndex(of: p.n) ?? 0)
            s.circle(
                cx: xs.position(p.meter), cy: ys.position(p.agg), r: 3.5 + 2 * rank, fill: colour, stroke: "white")
        }
        // Group sizes once, next to the configuration with the largest meter time.
        if let last = report.meter.indices.max(by: {
            report.meter[$0].cpuPerReading.medianUs < report.meter[$1].cpuPerReading.medianUs
        }) {
            // From the top down, each label at least a line below the one before, so close
            // points (small groups) do not print their labels over each other.
            var labelY = -Double.infinity
            for p in points.filter({ $0.config == last }).sorted(by: { ys.position($0.agg) < ys.position($1.agg) }) {
                labelY = max(ys.position(p.agg) + 4, labelY + 13)
                s.text("n = \(grouped(p.n))", x: xs.position(p.meter) + 12, y: labelY, size: 11, fill: "#333")
            }
        }
        // Legend: one entry per configuration, inside the plot, top left.
        var ly = y + 18
        for (c, m) in report.meter.enumerated() {
            let colour = Self.palette[c % Self.palette.count]
            s.circle(cx: x + 16, cy: ly - 4, r: 5, fill: colour, stroke: "white")
            s.text(
                "\(m.id.scheme) \(m.id.parameters)/\(m.id.variant): \(microseconds(m.cpuPerReading.medianUs)) per reading",
                x: x + 28, y: ly, size: 12)
            ly += 18
        }
    }

    // MARK: - Phases

    /// Where a reading's time goes, one row per configuration, each bar on the row's own scale
    /// (the larger of the whole reading and the sum of its phases), every phase named with its
    /// time and share under the bar. Returns the y below the last row.
    func phases(_ s: inout SVGWriter, x: Double, y: Double, width: Double) -> Double {
        s.text("Where a reading's CPU time goes (meter)", x: x, y: y - 8, size: 14, weight: "bold")
        var names: [String] = []
        for m in report.meter { for p in m.phases where !names.contains(p.name) { names.append(p.name) } }
        let barHeight = 14.0
        let lineHeight = 15.0
        var cursorY = y + 8
        for (r, m) in report.meter.enumerated() {
            let title = "\(m.id.scheme) \(m.id.parameters)/\(m.id.variant)"
            let sum = m.phasesSumFraction.map { ", phases sum to \(percent($0))" } ?? ""
            s.text(title, x: x, y: cursorY + 12, size: 12, weight: "bold", cssClass: "phase-title", row: r)
            cursorY += lineHeight
            s.text(
                "whole reading \(microseconds(m.cpuPerReading.medianUs))\(sum)", x: x, y: cursorY + 12, size: 11,
                fill: "#555")
            let barTop = cursorY + 18
            let phaseSum = m.phases.reduce(0) { $0 + $1.cpu.medianUs }
            let scale = max(m.cpuPerReading.medianUs, phaseSum)
            var cursor = x
            if scale > 0 {
                for p in m.phases {
                    let w = width * p.cpu.medianUs / scale
                    let colour = Self.phasePalette[(names.firstIndex(of: p.name) ?? 0) % Self.phasePalette.count]
                    s.rect(
                        x: cursor, y: barTop, width: max(w, 0.5), height: barHeight, fill: colour, stroke: "white",
                        cssClass: "phase-bar", row: r)
                    cursor += w
                }
                // The whole reading, measured as one, for comparison with the sum of phases.
                let whole = x + width * m.cpuPerReading.medianUs / scale
                s.line(x1: whole, y1: barTop - 3, x2: whole, y2: barTop + barHeight + 3, stroke: "#000", width: 2)
            }
            // Every phase's name, time and share, wrapped to the panel's width.
            var lx = x
            var ly = barTop + barHeight + 14
            for p in m.phases {
                let share = p.fraction > 0 && p.fraction < 0.005 ? "<1%" : percent(p.fraction)
                let label = "\(p.name) \(microseconds(p.cpu.medianUs)) (\(share))"
                let itemWidth = 14 + Self.textWidth(label, size: 11)
                if lx > x && lx + itemWidth > x + width {
                    lx = x
                    ly += lineHeight
                }
                let colour = Self.phasePalette[(names.firstIndex(of: p.name) ?? 0) % Self.phasePalette.count]
                s.rect(x: lx, y: ly - 9, width: 10, height: 10, fill: colour, stroke: "none")
                s.text(label, x: lx + 14, y: ly, size: 11, cssClass: "phase-value", row: r)
                lx += itemWidth + 12
            }
            if m.phases.isEmpty {
                s.text("no phases measured", x: x, y: ly, size: 11, fill: "#555", cssClass: "phase-value", row: r)
            }
            cursorY = ly + 12
        }
        s.line(x1: x, y1: cursorY + 6, x2: x + 14, y2: cursorY + 6, stroke: "#000", width: 2)
        s.text("the whole reading, timed as one", x: x + 20, y: cursorY + 10, size: 11)
        return cursorY + 14
    }
}

/// 37.2 → "37 µs", 1530 → "1.5 ms".
/// An instruction count, e.g. "2.41 M" or "1.47 G".
func instructionCount(_ n: Int) -> String {
    let v = Double(n)
    if v >= 1e9 { return String(format: "%.2f G", v / 1e9) }
    if v >= 1e6 { return String(format: "%.2f M", v / 1e6) }
    if v >= 1e3 { return String(format: "%.1f k", v / 1e3) }
    return "\(n)"
}

func microseconds(_ v: Double) -> String {
    if v >= 1_000_000 { return String(format: "%g s", (v / 1e6 * 100).rounded() / 100) }
    if v >= 1000 { return String(format: "%g ms", (v / 1e3 * 100).rounded() / 100) }
    if v >= 10 { return String(format: "%.0f µs", v) }
    return String(format: "%g µs", (v * 10).rounded() / 10)
}

/// A logarithmic axis over whole decades that cover the values.
struct LogAxis {
    let low: Double
    let high: Double
    let from: Double
    let to: Double

    init(values: [Double], from: Double, to: Double) {
        let positive = values.filter { $0 > 0 }
        let lo = positive.min() ?? 1
        let hi = positive.max() ?? 10
        low = pow(10, floor(log10(lo)))
        var h = pow(10, ceil(log10(hi)))
        if h <= low { h = low * 10 }
        high = h
        self.from = from
        self.to = to
    }

    func position(_ v: Double) -> Double {
        let t = (log10(max(v, low)) - log10(low)) / (log10(high) - log10(low))
        return from + (to - from) * t
    }

    /// Decades the axis spans.
    var decades: Int { Int((log10(high) - log10(low)).rounded()) }

    /// 1, 2, 5 × each decade; the decades are major.
    var ticks: [(value: Double, major: Bool)] {
        var out: [(Double, Bool)] = []
        var decade = low
        while decade <= high * 1.0001 {
            out.append((decade, true))
            for m in [2.0, 5.0] where decade * m < high { out.append((decade * m, false)) }
            decade *= 10
        }
        return out
    }
}

/// Just enough SVG.
struct SVGWriter {
    var body: [String] = []
    let width: Double

    init(width: Double) { self.width = width }

    mutating func text(
        _ t: String, x: Double, y: Double, size: Double, anchor: String = "start", weight: String = "normal",
        fill: String = "#222", rotate: Double? = nil, cssClass: String? = nil, row: Int? = nil
    ) {
        let transform = rotate.map { " transform=\"rotate(\(f($0)) \(f(x)) \(f(y)))\"" } ?? ""
        body.append(
            "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\"\(transform)\(tags(cssClass, row))>\(escape(t))</text>"
        )
    }

    /// `class` and `data-row` attributes, so tests can find a row's bar and labels.
    func tags(_ cssClass: String?, _ row: Int?) -> String {
        (cssClass.map { " class=\"\($0)\"" } ?? "") + (row.map { " data-row=\"\($0)\"" } ?? "")
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1) {
        body.append(
            "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\"/>"
        )
    }

    mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String, cssClass: String? = nil,
        row: Int? = nil
    ) {
        body.append(
            "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(fill)\" stroke=\"\(stroke)\"\(tags(cssClass, row))/>"
        )
    }

    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, stroke: String) {
        body.append(
            "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"\(f(r))\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1\"/>"
        )
    }

    func finish(height: Double) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
