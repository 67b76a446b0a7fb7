// Where the firmware keeps what on flash (docs/spec/flash-format.md). One layout for every scheme's image, so that a meter commissioned again
// with another scheme's image finds its key store where it was.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Where the firmware keeps what on flash, in sectors: the key store (2), the expanded
/// key (λ words), the energy register (2), the outbox rings, the customer-detail ring, the
/// billing journal (2) and the peer seeds (docs/spec/flash-format.md).
public struct MeterFlashLayout: Sendable, Equatable {
    public let sectorSize: UInt32
    public let keyStoreSector: UInt32
    public var keyStoreSectors: UInt32 { 2 }
    public let expandedKeySector: UInt32
    public let expandedKeySectors: UInt32
    /// The energy register's journal (EnergyStore.swift).
    public let energySector: UInt32
    public var energySectors: UInt32 { 2 }
    public let outboxSector: UInt32
    public let outboxSectors: UInt32
    /// Bytes the expanded-key sectors hold: λ = 2048 words of 8 bytes, the largest LWR-PSA
    /// set (`LWRParameters.maxLambda`, checked where the LWR-PSA image writes the key).
    public static let expandedKeyBytes = 2048 * 8
    /// One past the last sector the firmware uses.
    public var endSector: UInt32 { outboxSector + outboxSectors }

    public init(sectorSize: UInt32, keyStoreSector: UInt32 = 0, outboxSectors: UInt32 = 4) {
        self.sectorSize = sectorSize
        self.keyStoreSector = keyStoreSector
        expandedKeySector = keyStoreSector + 2
        expandedKeySectors = (UInt32(Self.expandedKeyBytes) + sectorSize - 1) / sectorSize
        energySector = expandedKeySector + expandedKeySectors
        outboxSector = energySector + 2
        self.outboxSectors = outboxSectors
    }
}

extension MeterFlashLayout {
    /// First sector of the wide outbox ring, for frames larger than LWR-PSA's (Paillier,
    /// DMCFE): right after the LWR-PSA ring.
    public var wideOutboxSector: UInt32 { outboxSector + outboxSectors }
    /// Sectors of the wide ring. Its entries hold a 3072-bit Paillier reading frame (896
    /// bytes, also with a 2048-bit key or a DMCFE frame of 424 bytes, so a rotation never
    /// changes the ring's layout): 4 per 4 KiB sector, so at 96 labels a day and one group
    /// each sector is erased about 550 times a year (`metering faults --campaign wear
    /// --scheme paillier` measures it).
    public var wideOutboxSectors: UInt32 { 16 }
    /// One past the wide ring.
    public var wideEndSector: UInt32 { wideOutboxSector + wideOutboxSectors }
    /// The largest frame the wide ring takes: a Paillier ciphertext of 768 bytes (3072-bit N).
    public static let wideFrameBytes = Frame.size(payloadLength: 768)
    /// First sector of the customer-detail ring (every image): the sealed detail frames
    /// (CustomerDetail.swift) until their reading is acknowledged, right after the wide ring.
    public var detailSector: UInt32 { wideEndSector }
    /// Sectors of the detail ring: 192-byte entries (a 114-byte frame and 29 bytes of entry),
    /// 21 per 4 KiB sector, so at 96 labels a day each sector is erased about 417 times a year.
    public var detailSectors: UInt32 { 4 }
    /// One past the detail ring.
    public var detailEndSector: UInt32 { detailSector + detailSectors }
    /// First sector of the billing journal (Billing.swift; LWR-PSA and DMCFE images): right
    /// after the detail ring, two sectors.
    public var billingSector: UInt32 { detailEndSector }
    /// First sector of the peer-seed area (key setup of LWR-PSA and DMCFE): right after the
    /// billing journal, to the end of the flash.
    public var peerSeedSector: UInt32 { billingSector + 2 }
    /// Bytes of one peer-seed slot: peer u32 | seed 32 | checksum 8 | 0xFF × 4.
    public static let peerSeedSlotBytes = 48
}
