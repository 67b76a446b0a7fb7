import Foundation
import MeterCrypto

/// Which way a frame crossed a meter's radio.
public enum RadioDirection: String, Sendable {
    /// Aggregator → meter (`SimulatedMeter.deliver`).
    case downlink
    /// Meter → aggregator (`SimulatedMeter.takeSent`).
    case uplink
}

/// A sink for every frame that crosses a simulated meter's radio; set it on
/// `SimulatedMeter.trace`. Meters of a fleet run on several threads: implementations
/// must be thread-safe.
public protocol RadioTrace: AnyObject, Sendable {
    func record(_ direction: RadioDirection, meter: UInt32, frame: [UInt8])
}

/// Writes each frame as one JSON line: direction, meter, group, type, label, hex
/// (the whole frame: header, payload, tag). Frames that do not parse have type "unparsed".
public final class JSONLinesRadioTrace: RadioTrace, @unchecked Sendable {
    let handle: FileHandle
    let lock = NSLock()
    public private(set) var frames = 0

    /// Creates (or truncates) `path`.
    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    deinit { try? handle.close() }

    /// The JSON line of one frame (no newline).
    public static func line(_ direction: RadioDirection, meter: UInt32, frame: [UInt8]) -> String {
        let hex = frame.map { String(format: "%02x", $0) }.joined()
        guard let h = try? Frame.parseHeader(frame.span) else {
            return
                #"{"direction":"\#(direction.rawValue)","meter":\#(meter),"group":null,"type":"unparsed","label":null,"hex":"\#(hex)"}"#
        }
        return
            #"{"direction":"\#(direction.rawValue)","meter":\#(meter),"group":\#(h.group),"type":"\#(h.type)","label":\#(h.label),"hex":"\#(hex)"}"#
    }

    public func record(_ direction: RadioDirection, meter: UInt32, frame: [UInt8]) {
        let data = Data((Self.line(direction, meter: meter, frame: frame) + "\n").utf8)
        lock.lock()
        defer { lock.unlock() }
        handle.write(data)
        frames += 1
    }
}
