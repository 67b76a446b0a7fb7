// scripts/check-firmware.sh as an instrument: the flash footprint of the firmware built
// with one scheme.
import Foundation

/// The flash footprint of one scheme's firmware image.
public struct FirmwareFootprint: Codable, Sendable, Equatable {
    /// The scheme whose image this is (`Sources/Firmware<Scheme>`).
    public let scheme: String
    public let optimization: String
    public let target: String
    public let sources: Int
    public let text: Int
    public let data: Int
    public let bss: Int
    /// text + data: what the firmware occupies in flash.
    public let flashBytes: Int
    /// Symbols the object needs from outside (GMP's mpn_sec_*, memset, ...): their code
    /// is not in flashBytes.
    public let externalSymbols: [String]
    /// Text of the symbols whose (mangled) names contain "SLHDSA": the signature
    /// verifier's share of `text`, without what the optimiser inlined into its callers
    /// (nil: not measured).
    public let signatureVerifierText: Int?
}

/// scripts/check-firmware.sh --json --scheme NAME.
public struct FirmwareSizer: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func footprint(scheme: String) throws -> FirmwareFootprint {
        let outputDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pm-cost-\(getpid())-\(scheme)")
        defer { try? FileManager.default.removeItem(at: outputDir) }
        let data = try runScript(
            root.appendingPathComponent("scripts/check-firmware.sh"),
            arguments: ["--json", "--scheme", scheme, "--output-dir", outputDir.path])
        struct Raw: Decodable {
            let scheme: String?
            let module: String
            let optimization: String
            let target: String
            let sources: Int
            let text: Int
            let data: Int
            let bss: Int
            let flashBytes: Int
            let externalSymbols: [String]

            enum CodingKeys: String, CodingKey {
                case scheme, module, optimization, target, sources, text, data, bss, flashBytes = "flash_bytes"
                case externalSymbols = "external_symbols"
            }
        }
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw ToolError.unreadableOutput(script: "check-firmware.sh", detail: "\(error)")
        }
        return FirmwareFootprint(
            scheme: raw.scheme ?? scheme, optimization: raw.optimization, target: raw.target, sources: raw.sources,
            text: raw.text, data: raw.data, bss: raw.bss, flashBytes: raw.flashBytes,
            externalSymbols: raw.externalSymbols,
            signatureVerifierText: try? symbolText(
                outputDir.appendingPathComponent("\(raw.module)-\(raw.optimization).o"), containing: "SLHDSA"))
    }

    /// Sum of the sizes of text symbols of `object` whose names contain `fragment` (nm -S).
    func symbolText(_ object: URL, containing fragment: String) throws -> Int {
        let data = try runTool(["nm", "-S", object.path], name: "nm")
        var total = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, "tTwW".contains(f[2]), f[3].contains(fragment), let size = Int(f[1], radix: 16) else {
                continue
            }
            total += size
        }
        return total
    }
}
