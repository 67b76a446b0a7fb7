import Aggregation
import MeterCrypto

/// A group replayed into an aggregator without meters: meters 1 … n with random frame
/// keys (from a seed), the aggregator's intake, labels 500, 501, …, and for every label
/// one sealed reading frame per meter with the true sum. Every scheme's aggregator
/// workload in the cost report builds its frames through it; only the encryption of a
/// reading differs.
public struct WorkloadGroup {
    public let ids: [UInt32]
    public let frameKeys: [UInt32: [UInt8]]
    public let intake: FrameIntake
    public let labels: [UInt64]
    var rng: SeededGenerator

    public init(group: UInt32, scheme: SchemeID, meters: Int, labels: Int, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        ids = (0..<meters).map { UInt32(1 + $0) }
        var keys: [UInt32: [UInt8]] = [:]
        for id in ids { keys[id] = rng.bytes(Frame.keyBytes) }
        frameKeys = keys
        intake = FrameIntake(members: try GroupMembers(group: group, scheme: scheme, frameKeys: keys))
        self.labels = (0..<labels).map { 500 + UInt64($0) }
        self.rng = rng
    }

    /// `n` random bytes from the workload's generator.
    public mutating func bytes(_ n: Int) -> [UInt8] { rng.bytes(n) }

    /// The group's membership built from copies of the frame keys, so that an aggregator's
    /// own memory (membership, keys) is allocated where it is measured.
    public func freshMembers() throws -> GroupMembers {
        var keys: [UInt32: [UInt8]] = [:]
        keys.reserveCapacity(frameKeys.count)
        for (id, key) in frameKeys { keys[id] = key.map { $0 } }
        return try GroupMembers(group: intake.members.group, scheme: intake.members.scheme, frameKeys: keys)
    }

    /// For every label, `encryptor(label)` returns the function that encrypts meter i's
    /// reading into a frame payload; readings are drawn up to `maxReading`.
    public mutating func readingFrames(
        maxReading: UInt64, encryptor: (UInt64) throws -> (_ meterIndex: Int, _ reading: UInt64) throws -> [UInt8]
    ) throws -> (frames: [[[UInt8]]], sums: [UInt64]) {
        var frames: [[[UInt8]]] = []
        var sums: [UInt64] = []
        for label in labels {
            let encrypt = try encryptor(label)
            var perLabel: [[UInt8]] = []
            perLabel.reserveCapacity(ids.count)
            var sum: UInt64 = 0
            for (i, id) in ids.enumerated() {
                let reading = rng.next() % (maxReading + 1)
                sum += reading
                perLabel.append(intake.seal(.reading, to: id, label: label, payload: try encrypt(i, reading)))
            }
            frames.append(perLabel)
            sums.append(sum)
        }
        return (frames, sums)
    }
}
