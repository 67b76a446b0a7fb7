import Foundation

/// A synthetic household load: one day of power in milliwatts per minute, seeded.
///
/// Base load, a cycling fridge, a morning peak (kettle, shower), an evening peak
/// (cooking, lighting, TV) and a few random appliance runs (washing machine,
/// dishwasher, oven), scaled per household and shifted in time, then clamped to the
/// meter's largest power `capMilliwatts` (the group's agreed maximum reading).
public struct LoadModel: Sendable {
    public static let stepsPerDay = 1440
    public static let stepSeconds: UInt64 = 60

    public let capMilliwatts: UInt32

    /// `maxWattHoursPerInterval` is the group's largest reading: over 15 minutes it
    /// allows an average power of 4·max W, so the profile never exceeds that.
    public init(maxWattHoursPerInterval: UInt64) {
        let limit = UInt64(UInt32.max) / 4000
        capMilliwatts = UInt32(min(maxWattHoursPerInterval, limit) * 4000)
    }

    /// One household's day, reproducible from `seed`.
    public func household(seed: UInt64) -> [UInt32] {
        var rng = SeededGenerator(seed: seed)
        func uniform(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * Double(rng.next() >> 11) / Double(1 << 53)
        }
        let scale = uniform(0.5...1.6)
        let shift = Int(uniform(-45...45))
        var watts = [Double](repeating: 0, count: Self.stepsPerDay)
        let base = uniform(80...250)
        let fridgePhase = Int(uniform(0...44))
        for m in 0..<Self.stepsPerDay {
            var w = base
            if (m + fridgePhase) % 45 < 15 { w += 110 }  // fridge compressor
            let t = (m + shift + Self.stepsPerDay) % Self.stepsPerDay
            let hour = Double(t) / 60
            if (6.5...8.5).contains(hour) { w += 600 * (1 + sin(hour * 3)) }  // morning
            if (17.5...22).contains(hour) { w += 900 + 700 * sin((hour - 17.5) * 1.4) }  // evening
            if (7.0...7.1).contains(hour) || (18.2...18.3).contains(hour) { w += 2000 }  // kettle
            watts[m] = w
        }
        // Random appliance runs.
        for _ in 0..<Int(uniform(1...3.99)) {
            let start = Int(uniform(0...Double(Self.stepsPerDay - 1)))
            let length = Int(uniform(30...120))
            let power = uniform(1200...2500)
            for m in start..<min(Self.stepsPerDay, start + length) { watts[m] += power }
        }
        return watts.map { w in
            let mw = (w * scale * 1000).rounded()
            return UInt32(min(Double(capMilliwatts), max(0, mw)))
        }
    }
}

/// The metering rule of the firmware, computed independently from the load profile:
/// one ADC sample per sample period, taken at the end of the period and held over it;
/// readings are whole Wh per interval with the remainder carried to the next.
public struct ExpectedMetering: Sendable {
    public let profile: [UInt32]
    public let ticksPerSecond: UInt64
    public let sampleTicks: UInt64
    public let intervalTicks: UInt64
    public let stepTicks: UInt64

    public init(profile: [UInt32], ticksPerSecond: UInt64, sampleSeconds: UInt64, intervalSeconds: UInt64 = 900) {
        self.profile = profile
        self.ticksPerSecond = ticksPerSecond
        sampleTicks = sampleSeconds * ticksPerSecond
        intervalTicks = intervalSeconds * ticksPerSecond
        stepTicks = LoadModel.stepSeconds * ticksPerSecond
    }

    func power(at tick: UInt64) -> UInt64 { UInt64(profile[Int((tick / stepTicks) % UInt64(profile.count))]) }

    /// Energy in mW·ticks metered in interval `label`.
    public func energy(label: UInt64) -> UInt64 {
        var e: UInt64 = 0
        let start = label * intervalTicks
        var t = start + sampleTicks
        while t <= start + intervalTicks {
            e += power(at: t) * sampleTicks
            t += sampleTicks
        }
        return e
    }

    /// The readings in Wh of labels 0..<count, carrying remainders like the firmware.
    public func readings(count: Int, startingAt first: UInt64 = 0) -> [UInt64] {
        let unit = 3_600_000 * ticksPerSecond
        var cumulative: UInt64 = 0
        var accounted: UInt64 = 0
        var out: [UInt64] = []
        for label in 0..<(first + UInt64(count)) {
            cumulative += energy(label: label)
            let total = cumulative / unit
            if label >= first { out.append(total - accounted) }
            accounted = total
        }
        return out
    }
}
