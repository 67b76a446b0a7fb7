import Aggregation
import Foundation
import MeterCrypto

/// The customer's key, from the code the meter showed once (CustomerCode.swift). Held by
/// the customer only: it never goes to the aggregator or the supplier.
public struct CustomerKey: Sendable, Equatable {
    public let bytes: [UInt8]

    /// The key of a typed code (case, hyphens and spaces do not matter).
    public init(code: String) throws(CustomerCodeError) {
        var key = [UInt8](repeating: 0, count: CustomerDetail.keyBytes)
        var span = key.mutableSpan
        let typed = Array(code.utf8)
        try CustomerCode.parse(typed.span, into: &span)
        bytes = key
    }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == CustomerDetail.keyBytes, "a customer key has 16 bytes")
        self.bytes = bytes
    }

    /// The login secret w = AES-128_K("PM-CUSTOMER-ID-1"): what the customer shows the
    /// service (`Authorization: Customer <w hex>`); it does not give K.
    public var loginSecret: [UInt8] {
        var w = [UInt8](repeating: 0, count: CustomerDetail.loginSecretBytes)
        var span = w.mutableSpan
        CustomerDetail.loginSecret(cipher: AESGCM(key: bytes.span), into: &span)
        return w
    }

    /// The customer verifier v = SHAKE128("PM-CUSTOMER-VERIFIER-v1" ‖ w)[0 ..< 16], which
    /// every detail frame of this key carries.
    public var verifier: [UInt8] { CustomerKey.verifier(loginSecret: loginSecret) }

    /// v of a login secret (what the service computes from the w it is shown).
    public static func verifier(loginSecret w: [UInt8]) -> [UInt8] {
        precondition(w.count == CustomerDetail.loginSecretBytes, "a login secret has 16 bytes")
        var v = [UInt8](repeating: 0, count: CustomerDetail.verifierBytes)
        var span = v.mutableSpan
        CustomerDetail.verifier(loginSecret: w.span, into: &span)
        return v
    }

    /// The code of this key (XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXX).
    public var code: String {
        var out = [UInt8](repeating: 0, count: CustomerCode.renderedBytes)
        var span = out.mutableSpan
        CustomerCode.render(key: bytes.span, into: &span)
        return String(decoding: out, as: UTF8.self)
    }
}

/// One label's detail, opened by its customer.
public struct DetailReading: Sendable, Equatable, Codable {
    public let meter: UInt32
    public let group: UInt32
    public let label: UInt64
    /// The interval's reading in Wh, as the meter reported it to its group.
    public let wattHours: UInt64
    /// Average power of each minute of the interval in W; nil where the meter did not
    /// measure the whole minute (it booted in the middle, or samples slower than a minute).
    public let minuteWatts: [UInt16?]

    /// Opens one sealed frame with `key`: refused unless its GCM tag verifies (the right
    /// meter's key, nothing changed in header or ciphertext) and its header names `meter`.
    public init(opening detail: SealedDetail, key: CustomerKey, meter: UInt32) throws(CustomerDetailError) {
        var plaintext = [UInt8](repeating: 0, count: CustomerDetail.plaintextBytes)
        var span = plaintext.mutableSpan
        let header = try CustomerDetail.open(detail.frame.span, customerKey: key.bytes.span, plaintext: &span)
        // The frame says which meter and label it is for, under the tag; the store's own
        // columns are only an index and must agree.
        guard header.meter == meter, header.meter == detail.meter, header.label == detail.label else {
            throw .notAuthentic
        }
        self.meter = header.meter
        group = header.group
        label = header.label
        let mask = UInt16(plaintext[2]) << 8 | UInt16(plaintext[3])
        wattHours = plaintext[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        minuteWatts = (0..<CustomerDetail.minuteSlots).map { m in
            guard mask & (1 << UInt16(m)) != 0 else { return nil }
            return UInt16(plaintext[12 + 2 * m]) << 8 | UInt16(plaintext[13 + 2 * m])
        }
    }
}

/// A customer's curve: every sealed frame of their meter from a source, opened.
public struct CustomerCurve: Sendable {
    /// The opened readings, one per label, in label order.
    public let readings: [DetailReading]
    /// Frames that did not open with the key (another meter's, changed, or a wrong code),
    /// with why.
    public let refused: [(label: UInt64, error: CustomerDetailError)]

    public init(meter: UInt32, key: CustomerKey, source: any SealedDetailSource, labels: ClosedRange<UInt64>? = nil)
        throws
    {
        var readings: [UInt64: DetailReading] = [:]
        var refused: [(UInt64, CustomerDetailError)] = []
        for detail in try source.sealedDetail(meter: meter, labels: labels) {
            do throws(CustomerDetailError) {
                let r = try DetailReading(opening: detail, key: key, meter: meter)
                if readings[r.label] == nil { readings[r.label] = r }
            } catch {
                refused.append((detail.label, error))
            }
        }
        self.readings = readings.values.sorted { $0.label < $1.label }
        self.refused = refused
    }

    /// The total of the readings, in Wh.
    public var totalWattHours: UInt64 { readings.reduce(0) { $0 + $1.wattHours } }
}

/// Sealed detail as JSON lines, one frame per line: {"meter", "group", "label", "hex"}
/// (the whole frame). What the simulator's aggregator writes and `metering customer show`
/// reads; the aggregator service's export can use the same lines.
public final class JSONLinesDetailFile: SealedDetailStore, SealedDetailSource, @unchecked Sendable {
    struct Line: Codable {
        let meter: UInt32
        let group: UInt32
        let label: UInt64
        let hex: String
    }

    public let path: String
    let lock = NSLock()
    var handle: FileHandle?

    /// A file to read (`truncate` false) or to write from empty (`truncate` true).
    public init(path: String, truncate: Bool = false) throws {
        self.path = path
        if truncate {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
    }

    deinit { try? handle?.close() }

    public func store(_ detail: SealedDetail) throws {
        lock.lock()
        defer { lock.unlock() }
        if handle == nil {
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle?.seekToEnd()
        }
        let line = Line(
            meter: detail.meter, group: detail.group, label: detail.label,
            hex: detail.frame.map { String(format: "%02x", $0) }.joined())
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var data = try encoder.encode(line)
        data.append(0x0A)
        try handle?.write(contentsOf: data)
    }

    /// Every line of the file.
    public func all() throws -> [SealedDetail] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { raw in
            let line = try decoder.decode(Line.self, from: Data(raw.utf8))
            return SealedDetail(
                meter: line.meter, group: line.group, label: line.label, frame: try Self.bytes(line.hex))
        }
    }

    public func sealedDetail(meter: UInt32, labels: ClosedRange<UInt64>?) throws -> [SealedDetail] {
        try all().filter { $0.meter == meter && (labels?.contains($0.label) ?? true) }.sorted { $0.label < $1.label }
    }

    struct BadHex: Error, CustomStringConvertible {
        var description: String { "a line's hex is not an even number of hex digits" }
    }

    static func bytes(_ hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw BadHex() }
        func value(_ c: UInt8) throws -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: throw BadHex()
            }
        }
        return try stride(from: 0, to: digits.count, by: 2).map { try value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }
}
