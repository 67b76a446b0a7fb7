import MeterCrypto
import MeterFirmware
import Provisioning

/// One meter: the firmware running on its own simulated board.
///
/// Not thread-safe; the fleet gives each instance to one thread at a time (hence
/// `@unchecked Sendable`).
public final class SimulatedMeter: @unchecked Sendable {
    public let id: UInt32
    /// The board the firmware runs on: clock, flash and its faults, radio.
    public let board: SimulatedBoard
    /// The firmware image the board runs (one scheme's: `scheme`).
    public private(set) var firmware: any MeterImage
    /// The scheme of the image the board was flashed with.
    public private(set) var scheme: SchemeID
    public let profile: [UInt32]
    public let timing: MeterTiming
    /// What the factory wrote (and writes again when the meter is re-provisioned).
    public let factory: FactoryKeys
    /// Where every frame crossing this meter's radio is recorded, both directions (nil: nowhere).
    public var trace: (any RadioTrace)?

    /// A new board (erased flash, RNG seeded from `seed`), the firmware image of `scheme`
    /// booted on it and, unless `provision` is false, provisioned with the factory keys of
    /// `factory`.
    public init(
        factory: FactoryKeys, seed: UInt64, profile: [UInt32], sampleSeconds: UInt64, flashSectors: UInt32 = 64,
        scheme: SchemeID = .lwrPSA, provision: Bool = true
    ) throws {
        board = try SimulatedBoard(SimulatedBoard.Configuration(sectorCount: flashSectors, rngSeed: seed))
        try board.setLoadProfile(profile, ticksPerStep: LoadModel.stepSeconds * 1000)
        id = factory.meter
        self.factory = factory
        self.profile = profile
        timing = MeterTiming(ticksPerSecond: board.configuration.ticksPerSecond, sampleSeconds: sampleSeconds)
        self.scheme = scheme
        firmware = try bootImage(scheme: scheme, board: board.hal, timing: timing)
        if provision { try provisionFirmware() }
    }

    /// Provisions the firmware with this meter's identity and keys (the factory step).
    public func provisionFirmware(minGroupSize: UInt32 = 2) throws {
        let keys = factory
        try firmware.provision(
            meter: keys.meter, frameSecret: keys.frameSecret.span, enrolmentKey: keys.enrolmentKey.span,
            authorityKey: keys.authorityKey.span, minGroupSize: minGroupSize)
    }

    public var ticks: UInt64 { board.ticks }

    public func advance(ticks: UInt64) { board.advance(ticks: ticks) }

    /// Puts a frame in the meter's radio inbox.
    public func deliver(_ frame: [UInt8]) throws {
        try board.deliver(frame)
        trace?.record(.downlink, meter: id, frame: frame)
    }

    /// Takes every frame the meter has sent.
    public func takeSent() -> [[UInt8]] {
        let frames = board.takeSent()
        if let trace { for frame in frames { trace.record(.uplink, meter: id, frame: frame) } }
        return frames
    }

    /// Delivers a frame and lets the firmware handle it.
    @discardableResult
    public func handle(_ frame: [UInt8]) throws -> MeterEvent {
        try deliver(frame)
        return firmware.poll()
    }

    /// Reboots the firmware (power cycle): RAM state is lost, flash and clock remain.
    /// Restores power first if a cut had switched the board off.
    public func reboot() throws {
        if !board.powered || board.powerFailing { board.powerOn() }
        firmware = try bootImage(scheme: scheme, board: board.hal, timing: timing)
    }

    /// Flashes the image of another scheme and boots it on the same flash (commissioning a
    /// meter for another scheme). Its key store is kept, but the new image's outbox ring
    /// was never formatted under it, so the meter reports its store corrupt and encrypts
    /// nothing until it is provisioned again (`provisionFirmware`).
    public func reflash(scheme: SchemeID) throws {
        self.scheme = scheme
        try reboot()
    }

    /// A power failure announced by the warning: the firmware sees it at its next poll,
    /// saves its energy register, and the board loses power; then it boots again.
    public func powerFailAndReboot(mode: PowerCutMode = .partial) throws {
        board.raisePowerFail(mode: mode)
        _ = firmware.poll()
        try reboot()
    }

    /// The customer code the meter shows its customer, once (its in-home display); throws
    /// `MeterError.customerCodeShown` after the first time.
    public func revealCustomerCode() throws(MeterError) -> String {
        var out = [UInt8](repeating: 0, count: CustomerCode.renderedBytes)
        var span = out.mutableSpan
        let n = try firmware.revealCustomerCode(into: &span)
        return String(decoding: out[0..<n], as: UTF8.self)
    }

    /// The sealed detail frames the firmware keeps until their reading is acknowledged.
    public func pendingDetailFrames() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: Frame.maxFrameBytes)
        for i in 0..<firmware.pendingDetail {
            var span = buffer.mutableSpan
            let n = try firmware.pendingDetailFrame(i, into: &span)
            out.append(Array(buffer[0..<n]))
        }
        return out
    }

    /// The frames the firmware holds unacknowledged in its outbox, oldest label first.
    public func pendingFrames() throws -> [(label: UInt64, frame: [UInt8])] {
        var out: [(UInt64, [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: Frame.maxFrameBytes)
        for i in 0..<firmware.pendingReadings {
            var span = buffer.mutableSpan
            let n = try firmware.pendingFrame(i, into: &span)
            out.append((firmware.pendingLabel(i), Array(buffer[0..<n])))
        }
        return out
    }
}

/// Failures of the simulation harness itself.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    /// The C board could not be created (out of memory).
    case boardCreation
    /// A radio queue refused a frame (HAL status code).
    case radio(UInt32)
    /// A board was given a load profile without samples (or with a zero step).
    case emptyLoadProfile
    /// A meter did not answer a key-setup step as expected.
    case setupStalled(meter: UInt32, detail: String)
    /// A meter sent no reading for a label.
    case missingReading(meter: UInt32, label: UInt64)
    /// The fleet cannot run this scheme (yet).
    case unsupportedScheme(SchemeID)

    public var description: String {
        switch self {
        case .boardCreation: return "could not create a simulated board"
        case .radio(let s): return "radio queue refused a frame (status \(s))"
        case .emptyLoadProfile: return "a load profile needs at least one sample and a step of at least one tick"
        case .setupStalled(let m, let d): return "key setup stalled at meter \(m): \(d)"
        case .missingReading(let m, let l): return "meter \(m) sent no reading for label \(l)"
        case .unsupportedScheme(let s): return "the fleet does not run scheme \(s) yet"
        }
    }
}
