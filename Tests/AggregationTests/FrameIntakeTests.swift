import Aggregation
import MeterCrypto
import MeterSimulator
import Testing

/// FrameIntake tags frames from each meter's keyed MAC (keyed once per group), not through
/// Frame.seal / Frame.verify: both must agree byte for byte.
@Suite("Frame intake: keyed MACs agree with Frame.seal and Frame.verify")
struct FrameIntakeTests {
    static func members() throws -> GroupMembers {
        var rng = SeededGenerator(seed: 5)
        var keys: [UInt32: [UInt8]] = [:]
        for meter in UInt32(1)...4 {
            keys[meter] = (0..<Frame.keyBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        return try GroupMembers(group: 9, epoch: 3, scheme: .lwrPSA, frameKeys: keys)
    }

    /// A frame sealed by the firmware's own code.
    static func sealed(_ members: GroupMembers, meter: UInt32, label: UInt64, payload: [UInt8], type: FrameType)
        -> [UInt8]
    {
        let header = FrameHeader(
            type: type, scheme: members.scheme, group: members.group, meter: meter, label: label,
            payloadLength: payload.count)
        var out = [UInt8](repeating: 0, count: Frame.size(payloadLength: payload.count))
        out.replaceSubrange(Frame.payloadRange(header), with: payload)
        let key = members.frameKey(of: meter)!
        var span = out.mutableSpan
        _ = Frame.seal(header, key: key.span, frame: &span)
        return out
    }

    @Test("seal gives Frame.seal's bytes; open accepts Frame.seal's frames and refuses any flipped bit")
    func agree() throws {
        let members = try Self.members()
        let intake = FrameIntake(members: members)
        for (meter, length) in [(UInt32(1), 0), (2, 8), (3, 167), (4, 300)] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(meter)) }
            let label = UInt64(meter) << 40 | 77
            let byIntake = intake.seal(.ack, to: meter, label: label, payload: payload)
            #expect(byIntake == Self.sealed(members, meter: meter, label: label, payload: payload, type: .ack))
            let key = members.frameKey(of: meter)!
            let verifies = Frame.verify(byIntake.span, key: key.span)
            #expect(verifies)
            let reading = Self.sealed(members, meter: meter, label: label, payload: payload, type: .reading)
            let opened = try intake.open(reading, expecting: .reading)
            #expect(opened.header.meter == meter && opened.payload == payload)
            for bit in [0, reading.count * 8 / 2, reading.count * 8 - 1] where bit / 8 >= Frame.headerBytes {
                var forged = reading
                forged[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(throws: AggregationError.badTag(meter: meter)) { try intake.open(forged, expecting: .reading) }
            }
            // Another meter's key does not verify it.
            let other = meter % 4 + 1
            var relabelled = Self.sealed(members, meter: other, label: label, payload: payload, type: .reading)
            relabelled.replaceSubrange(8..<12, with: withUnsafeBytes(of: meter.bigEndian, Array.init))
            #expect(throws: AggregationError.badTag(meter: meter)) { try intake.open(relabelled, expecting: .reading) }
        }
    }
}
