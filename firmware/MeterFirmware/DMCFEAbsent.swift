// Stand-ins for the DMCFE mode in a firmware built without it (scripts/check-firmware.sh
// --scheme lwr-psa, for the flash footprint of an LWR-PSA-only meter). Empty in every
// other build: the SwiftPM targets define neither PM_SINGLE_SCHEME nor the scheme flags.

#if PM_SINGLE_SCHEME && !PM_SCHEME_DMCFE
    #if !hasFeature(Embedded)
        import MeterCrypto
    #endif

    /// Only the parameter byte, so an LWR-PSA-only meter can refuse a DMCFE setup.
    enum DMCFE {
        static let parameterID: UInt8 = 0x10
    }

    extension Meter {
        var isDMCFE: Bool { false }
        mutating func dmcfeIdle() -> Bool { false }
        mutating func dmcfeEncrypt(label: UInt64, reading: UInt64) -> Int {
            preconditionFailure("this firmware has no DMCFE")
        }
        mutating func prepareSeedArea(peers: Int) throws(MeterError) { throw .setupRejected(.unknownParameters) }
        mutating func storePeerSeed(_ seed: Span<UInt8>, peer: UInt32, index: Int) throws(MeterError) {
            throw .unexpectedDownlink(.rosterEntry)
        }
        mutating func handleWeights(_ payload: Span<UInt8>, chunk: UInt64) throws(MeterError) -> MeterEvent? {
            throw .unexpectedDownlink(.weights)
        }
    }
#endif
