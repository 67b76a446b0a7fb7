// scripts/count-instructions.sh as an instrument: instructions per reading under callgrind.
import Foundation

/// Instructions of one reading, counted by callgrind.
public struct InstructionCount: Codable, Sendable, Equatable {
    public let prepare: UInt64
    public let boundary: UInt64
    public var perReading: UInt64 { prepare + boundary }

    public init(prepare: UInt64, boundary: UInt64) {
        self.prepare = prepare
        self.boundary = boundary
    }

    enum CodingKeys: String, CodingKey { case prepare, boundary, perReading }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prepare = try c.decode(UInt64.self, forKey: .prepare)
        boundary = try c.decode(UInt64.self, forKey: .boundary)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prepare, forKey: .prepare)
        try c.encode(boundary, forKey: .boundary)
        try c.encode(perReading, forKey: .perReading)
    }
}

/// scripts/count-instructions.sh --json: one reading per configuration under callgrind.
public struct InstructionCounter: Sendable {
    public let root: URL
    /// The metering executable to run under valgrind (this one, normally).
    public let binary: String

    public init(root: URL, binary: String) {
        self.root = root
        self.binary = binary
    }

    public func count(_ ids: [CostVariantID]) throws -> [CostVariantID: InstructionCount] {
        let data = try runScript(
            root.appendingPathComponent("scripts/count-instructions.sh"),
            arguments: ["--json", "--binary", binary] + ids.map(\.description))
        struct Row: Decodable {
            let variant: String
            let prepare: UInt64
            let boundary: UInt64
        }
        struct Raw: Decodable { let readings: [Row] }
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw ToolError.unreadableOutput(script: "count-instructions.sh", detail: "\(error)")
        }
        var out: [CostVariantID: InstructionCount] = [:]
        for row in raw.readings {
            guard let id = ids.first(where: { $0.description == row.variant }) else { continue }
            out[id] = InstructionCount(prepare: row.prepare, boundary: row.boundary)
        }
        return out
    }
}
