import MeterCrypto
import TestSupport
import Testing

@Suite("Frames")
struct FrameTests {
    let key = (0..<32).map { UInt8($0) }

    func sealed(_ type: FrameType = .reading, payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8], label: UInt64 = 42)
        -> [UInt8]
    {
        let header = FrameHeader(
            type: type, scheme: .lwrPSA, group: 0x0102_0304, meter: 77, label: label, payloadLength: payload.count)
        var frame = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        frame.replaceSubrange(Frame.payloadRange(header), with: payload)
        var span = frame.mutableSpan
        let n = Frame.seal(header, key: key.span, frame: &span)
        #expect(n == frame.count)
        return frame
    }

    func verifies(_ frame: [UInt8], _ key: [UInt8]) -> Bool { Frame.verify(frame.span, key: key.span) }

    @Test("seal, parse and verify round-trip with the documented layout")
    func roundTrip() throws {
        let frame = sealed()
        #expect(frame.count == 24 + 8 + 16)
        #expect(Array(frame[0..<24]) == [1, 1, 1, 0, 1, 2, 3, 4, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 42, 0, 8, 0, 0])
        let header = try Frame.parseHeader(frame.span)
        #expect(
            header
                == FrameHeader(
                    type: .reading, scheme: .lwrPSA, group: 0x0102_0304, meter: 77, label: 42, payloadLength: 8))
        #expect(verifies(frame, key))
        #expect(Array(frame[Frame.payloadRange(header)]) == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test("the tag is KMAC128 over header and payload (pycryptodome)")
    func tagAgainstPython() throws {
        let frame = sealed(payload: (0..<100).map { UInt8($0) })
        struct Input: Codable { let key: String; let signed: String }
        let script = """
            import sys, json
            from Crypto.Hash import KMAC128
            c = json.load(sys.stdin)
            mac = KMAC128.new(key=bytes.fromhex(c["key"]), mac_len=16, custom=b"PM-FRAME-v1")
            mac.update(bytes.fromhex(c["signed"]))
            print(json.dumps(mac.hexdigest()))
            """
        let tag = try PythonOracle.run(
            script, input: Input(key: Hex.encode(key), signed: Hex.encode(frame[0..<(frame.count - 16)])),
            as: String.self)
        #expect(Hex.encode(frame[(frame.count - 16)...]) == tag)
    }

    @Test("every layout error is typed")
    func layoutErrors() {
        let good = sealed()
        #expect(throws: FrameError.truncated(length: 10)) { try Frame.parseHeader(Array(good[0..<10]).span) }
        var f = good
        f[0] = 2
        #expect(throws: FrameError.unsupportedVersion(2)) { try Frame.parseHeader(f.span) }
        f = good
        f[1] = 0x7F
        #expect(throws: FrameError.unknownType(0x7F)) { try Frame.parseHeader(f.span) }
        f = good
        f[2] = 9
        #expect(throws: FrameError.unknownScheme(9)) { try Frame.parseHeader(f.span) }
        f = good
        f[3] = 1
        #expect(throws: FrameError.reservedBitsSet) { try Frame.parseHeader(f.span) }
        f = good
        f.append(0)
        #expect(throws: FrameError.lengthMismatch(declared: 8, actual: 9)) { try Frame.parseHeader(f.span) }
        f = good
        f[20] = 0x10  // 4104 bytes declared
        #expect(throws: FrameError.payloadTooLarge(4104)) { try Frame.parseHeader(f.span) }
    }

    @Test("a flipped bit anywhere or a wrong key fails verification")
    func tamper() {
        let good = sealed()
        for i in 0..<good.count {
            var f = good
            f[i] ^= 0x10
            #expect(!verifies(f, key), "byte \(i)")
        }
        let other = [UInt8](repeating: 9, count: 32)
        #expect(!verifies(good, other))
    }
}
