import CostReport
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// One element of the chart's SVG, with its attributes and (for text) its content.
struct SVGElement {
    let name: String
    let attributes: [String: String]
    var content = ""

    func number(_ key: String) -> Double? { attributes[key].flatMap(Double.init) }
}

/// Reads the chart back with Foundation's XML parser: the test sees what a browser sees, not
/// the chart's own layout code.
final class SVGReader: NSObject, XMLParserDelegate {
    var elements: [SVGElement] = []
    var error: (any Error)?
    /// The text element whose content is being read, if any.
    var openText: Int?

    static func read(_ svg: String) throws -> [SVGElement] {
        let reader = SVGReader()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reader
        if !parser.parse() { throw parser.parserError ?? reader.error ?? CocoaError(.coderReadCorrupt) }
        return reader.elements
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements.append(SVGElement(name: elementName, attributes: attributes))
        openText = elementName == "text" ? elements.count - 1 : nil
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
    ) {
        openText = nil
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = openText { elements[i].content += string }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) { error = parseError }
}

/// A text's box in the chart, from a deliberately generous width of 0.62 em per character
/// (0.68 em bold; DejaVu Sans averages about 0.55 em) and the font's height.
struct TextBox {
    let text: String
    let left, right, top, bottom: Double

    init?(_ e: SVGElement) {
        guard e.name == "text", e.attributes["transform"] == nil, let x = e.number("x"), let y = e.number("y"),
            let size = e.number("font-size")
        else { return nil }
        let w = Double(e.content.count) * size * (e.attributes["font-weight"] == "bold" ? 0.68 : 0.62)
        switch e.attributes["text-anchor"] {
        case "middle": left = x - w / 2
        case "end": left = x - w
        default: left = x
        }
        right = left + w
        top = y - 0.8 * size
        bottom = y + 0.2 * size
        text = e.content
    }

    func overlaps(_ o: TextBox) -> Bool {
        left < o.right && o.left < right && top < o.bottom && o.top < bottom
    }
}

@Suite("Cost chart")
struct CostChartTests {
    @Test("the chart's size: its width, a height that holds everything, the viewBox matching both")
    func size() throws {
        let report = try smallReport.get()
        let elements = try SVGReader.read(CostChart(report: report).svg())
        let root = try #require(elements.first { $0.name == "svg" })
        let width = try #require(root.number("width"))
        let height = try #require(root.number("height"))
        #expect(width == CostChart.width)
        #expect(root.attributes["viewBox"] == "0 0 \(String(format: "%.1f", width)) \(String(format: "%.1f", height))")
        let lowest = elements.compactMap(TextBox.init).map(\.bottom).max() ?? 0
        let lowestRect =
            elements.filter { $0.name == "rect" && $0.attributes["width"] != "100%" }
            .map { ($0.number("y") ?? 0) + ($0.number("height") ?? 0) }.max() ?? 0
        #expect(lowest <= height)
        #expect(lowestRect <= height)
        #expect(height < 2 * lowest)
    }

    @Test("every text lies inside the chart, and no two texts overlap")
    func textPlacement() throws {
        let report = try smallReport.get()
        let svg = CostChart(report: report).svg()
        let elements = try SVGReader.read(svg)
        let root = try #require(elements.first { $0.name == "svg" })
        let width = try #require(root.number("width"))
        let boxes = elements.compactMap(TextBox.init)
        #expect(boxes.count > 20)
        for b in boxes {
            #expect(b.left >= 0, "\(b.text) starts left of the chart")
            #expect(b.right <= width, "\(b.text) runs past the right edge (\(b.right) > \(width))")
            #expect(b.top >= 0, "\(b.text) is above the chart")
        }
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] where a.overlaps(b) {
                Issue.record("\"\(a.text)\" overlaps \"\(b.text)\"")
            }
        }
    }

    @Test("every configuration's row has a visible bar, its title, and every phase named with its time")
    func everyRowReadable() throws {
        let report = try smallReport.get()
        let elements = try SVGReader.read(CostChart(report: report).svg())
        #expect(report.meter.count == CostCatalog.schemes.count)
        for (r, m) in report.meter.enumerated() {
            let row = elements.filter { $0.attributes["data-row"] == String(r) }
            let title = row.filter { $0.attributes["class"] == "phase-title" }.map(\.content)
            #expect(title == ["\(m.id.scheme) \(m.id.parameters)/\(m.id.variant)"])
            // Each bar is drawn on its own row's scale, so even a 20 µs reading fills its row.
            let bars = row.filter { $0.attributes["class"] == "phase-bar" }
            #expect(bars.count == m.phases.count)
            let barWidth = bars.compactMap { $0.number("width") }.reduce(0, +)
            #expect(barWidth >= 100, "\(title): bar \(barWidth) px wide")
            let values = row.filter { $0.attributes["class"] == "phase-value" }.map(\.content)
            #expect(values.count == m.phases.count)
            for (p, value) in zip(m.phases, values) {
                #expect(value.hasPrefix(p.name + " "))
                #expect(value.contains("µs") || value.contains("ms") || value.contains(" s "))
                #expect(value.hasSuffix("%)"))
            }
        }
    }
}
