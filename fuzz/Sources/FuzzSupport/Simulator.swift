// The simulated groups the harnesses set up: three meters (ids 1 ... 3) of group 7, one
// seeded authority per seed, loads sampled every minute, one thread (reproducible).
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning

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

/// A meter's flash, RNG and clock: what a new board needs to be that meter again (its RAM
/// is lost, as after a power cycle).
public struct MeterSnapshot {
    public let flash: [UInt8]
    public let rng: [UInt64]
    public let ticks: UInt64
    /// The scheme of the meter's firmware image.
    public let scheme: SchemeID

    public init(_ m: SimulatedMeter) {
        flash = m.board.flashSnapshot()
        rng = m.board.rngState
        ticks = m.ticks
        scheme = m.scheme
    }

    public init(flash: [UInt8], rng: [UInt64], ticks: UInt64, scheme: SchemeID = .lwrPSA) {
        self.flash = flash
        self.rng = rng
        self.ticks = ticks
        self.scheme = scheme
    }

    /// A new board for `factory` with this RNG and clock and `flash` (default: this
    /// snapshot's), the firmware image of the snapshot's scheme booted on it.
    public func boot(factory: FactoryKeys, profile: [UInt32], sampleSeconds: UInt64, flash: [UInt8]? = nil)
        -> SimulatedMeter
    {
        let m = try! SimulatedMeter(
            factory: factory, seed: 0, profile: profile, sampleSeconds: sampleSeconds, scheme: scheme,
            provision: false)
        m.board.restoreFlash(flash ?? self.flash)
        m.board.rngState = rng
        m.advance(ticks: ticks - m.ticks)
        try! m.reboot()
        return m
    }
}
