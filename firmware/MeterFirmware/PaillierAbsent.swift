// Stand-ins for PaillierMeter.swift in a firmware built with one scheme other than
// Paillier (`scripts/check-firmware.sh --scheme lwr-psa`, firmware/schemes.conf): the main
// loop in Meter.swift calls these hooks, which then do nothing. Every other build
// (SwiftPM's targets, the full check) compiles PaillierMeter.swift and none of this.

#if PM_SINGLE_SCHEME && !PM_SCHEME_PAILLIER
    /// No Paillier state in a firmware without Paillier.
    struct PaillierState {}

    extension Meter {
        var paillierReady: Bool { false }
        mutating func loadPaillier() {}
        mutating func leavePaillierMode() {}
        mutating func idlePaillier() -> Bool { false }
        func paillierReportsTo(group: UInt32) -> Bool { false }

        mutating func encryptAndSendPaillier(label: UInt64, reading: UInt64) throws(MeterError) {
            throw .notReady
        }

        mutating func applyPaillierKey() throws(MeterError) -> MeterEvent? {
            throw .statementRejected(.malformed)
        }
    }
#endif
