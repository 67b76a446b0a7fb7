// Frame mutations shared by the harnesses: mutate a valid frame's header and payload from
// the input, keep its length field consistent, and re-seal its tag with the right key, so
// that most inputs pass the tag check and reach the code behind it.
import MeterCrypto

public enum FuzzFrames {
    /// Header, payload and tag of at least an empty payload.
    public static let minimumBytes = Frame.headerBytes + Frame.tagBytes

    /// Writes the KMAC128 frame tag over everything before the last 16 bytes.
    public static func seal(_ frame: inout [UInt8], key: [UInt8]) {
        guard frame.count >= minimumBytes else { return }
        let signed = frame.count - Frame.tagBytes
        var mac = KMAC128(key: key.span, customization: "PM-FRAME-v1")
        mac.absorb(frame.span.extracting(0..<signed))
        var tag = [UInt8](repeating: 0, count: Frame.tagBytes)
        var tagSpan = tag.mutableSpan
        mac.finalize(into: &tagSpan)
        frame.replaceSubrange(signed..<frame.count, with: tag)
    }

    /// Sets the payload length field to the frame's actual payload length.
    public static func fixLength(_ frame: inout [UInt8]) {
        guard frame.count >= minimumBytes else { return }
        let length = frame.count - minimumBytes
        frame[20] = UInt8(truncatingIfNeeded: length >> 8)
        frame[21] = UInt8(truncatingIfNeeded: length)
    }

    /// True when the frame parses and its tag verifies under `key`.
    public static func isAuthentic(_ frame: [UInt8], key: [UInt8]) -> Bool {
        guard (try? Frame.parseHeader(frame.span)) != nil else { return false }
        return Frame.verify(frame.span, key: key.span)
    }

    /// Up to four edits of header and payload (never the tag, which is re-sealed): flip
    /// bits, set a byte, cut the payload short, insert bytes.
    public static func mutate(_ original: [UInt8], _ input: inout FuzzInput) -> [UInt8] {
        var frame = original
        let edits = Int(input.byte() % 5)
        for _ in 0..<edits {
            let body = frame.count - Frame.tagBytes
            guard body > 0 else { break }
            switch input.byte() % 5 {
            case 0, 1:
                frame[input.below(body)] ^= input.byte() | 1
            case 2:
                frame[input.below(body)] = input.byte()
            case 3 where body > Frame.headerBytes:
                let keep = input.below(body - Frame.headerBytes + 1)
                frame.removeSubrange((Frame.headerBytes + keep)..<body)
            default:
                let at = min(body, Frame.headerBytes + input.below(max(1, body - Frame.headerBytes + 1)))
                frame.insert(contentsOf: input.take(input.below(48) + 1), at: at)
            }
        }
        return frame
    }

    /// Hex of the first bytes, for invariant messages.
    public static func hex(_ bytes: [UInt8], limit: Int = 64) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in bytes.prefix(limit) {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return bytes.count > limit ? s + "… (\(bytes.count) bytes)" : s
    }
}
