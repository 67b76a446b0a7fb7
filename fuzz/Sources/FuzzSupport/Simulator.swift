// The simulated groups the harnesses set up: three meters (ids 1 ... 3) of group 7, one
// seeded authority per seed, loads sampled every minute, one thread (reproducible).
import MeterCrypto
import MeterFirmware
import MeterSimulator

/// A fleet of three meters for `scheme` (Paillier: 2048-bit key), not yet set up.
public func fuzzFleet(_ scheme: SchemeID, keyMode: KeyMode = .seed, seed: UInt64) throws -> Fleet {
    var c = FleetConfiguration()
    c.meters = 3
    c.group = 7
    c.maxReading = 1000
    c.seed = seed
    c.sampleSeconds = 60
    c.threads = 1
    c.scheme = scheme
    c.keyMode = keyMode
    c.paillierKeyBits = 2048
    return try Fleet(c, labels: 4)
}

/// Runs one 15-minute interval on `m`, sample by sample.
public func runInterval(_ m: SimulatedMeter) {
    for _ in 0..<(900_000 / m.timing.sampleTicks) {
        m.advance(ticks: m.timing.sampleTicks)
        _ = m.firmware.poll()
    }
}
