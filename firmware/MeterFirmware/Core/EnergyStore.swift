// The energy register across power cuts: what the meter measured and has not yet put in
// a stored reading, written when the board raises its power-fail warning (meter_hal.h,
// `power_failing`) and read back at boot, so an outage loses no energy.
//
// Layout (docs/spec/flash-format.md): a journal (Journal.swift) of 64-byte slots on two
// sectors, each formatted before use (marker "PMEN"); 63 slots per 4 KiB sector.
//
//   0     magic u32 "PME1"
//   4     sequence u32        one more than the slot it supersedes
//   8     label u64           the label counter when saved: the energy is in no stored
//                             reading, and belongs to the first one stored from this label on
//   16    register u64        energy in mW·ticks not yet counted in whole Wh
//   24    carried u64         whole Wh not yet reported (the interval so far, the carry)
//   32    lost u64            Wh dropped beyond the carry bound (local, never reported)
//   40    ticks/s u32         the clock the register counts in
//   44    0xFF
//   52    checksum 8          SHAKE128("PM-EN-v1" ‖ bytes 0 ..< 52)
//   60    syndrome 3          over bytes 0 ..< 60
//   63    commit mark         programmed last, in its own operation
//
// A save is two program operations (the slot, its commit mark) and never an erase: when
// the active sector is full, the other one is formatted at boot (`prepare`), while the
// newest slot stays intact where it is. After a cut anywhere, `load` returns the newest
// committed valid slot: the new record or the one before, never a mix. A record older
// than the newest is either stale (its label lies below the label counter) or an earlier
// part of the same unreported energy, so falling back to it never counts energy twice.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// The meter's energy register as it is saved at a power-fail warning.
public struct EnergyRecord: Equatable, Sendable {
    /// The label counter when saved: the record counts only while no reading of this label
    /// or a later one is stored.
    public var label: UInt64 = 0
    /// Energy not yet counted in whole Wh, in mW·ticks.
    public var registerMilliwattTicks: UInt64 = 0
    /// Whole Wh measured and not yet in a stored reading.
    public var carriedWattHours: UInt64 = 0
    /// Wh dropped beyond the carry bound since manufacture (kept locally, never sent).
    public var lostWattHours: UInt64 = 0
    /// Ticks per second of the clock the register counts in.
    public var ticksPerSecond: UInt32 = 0

    public init() {}
}

/// The journal of energy records on flash.
typealias EnergyStore = Journal<EnergyRecord>

extension EnergyRecord: JournalRecord {
    static var slotBytes: Int { 64 }
    static var magic: UInt32 { 0x504D_4531 }  // "PME1"
    static var markerMagic: UInt32 { 0x504D_454E }  // "PMEN"
    static var domain: StaticString { "PM-EN-v1" }
    static var savesAtPowerFail: Bool { true }

    init(slot: Span<UInt8>) {
        self.init()
        label = BigEndian.load64(slot, at: 8)
        registerMilliwattTicks = BigEndian.load64(slot, at: 16)
        carriedWattHours = BigEndian.load64(slot, at: 24)
        lostWattHours = BigEndian.load64(slot, at: 32)
        ticksPerSecond = BigEndian.load32(slot, at: 40)
    }

    func encode(into slot: inout MutableSpan<UInt8>) {
        BigEndian.store(label, at: 8, in: &slot)
        BigEndian.store(registerMilliwattTicks, at: 16, in: &slot)
        BigEndian.store(carriedWattHours, at: 24, in: &slot)
        BigEndian.store(lostWattHours, at: 32, in: &slot)
        BigEndian.store(ticksPerSecond, at: 40, in: &slot)
    }
}
