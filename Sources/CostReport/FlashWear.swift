// Flash wear per year: the key store's figure, through one hook.

import MeterCrypto
import MeterFirmware
import MeterSimulator

/// Flash wear caused by the meter's key store (and outbox) over a year of readings.
public struct FlashWear: Codable, Sendable, Equatable {
    /// Erase cycles per year of the most-erased sector.
    public let worstSectorErasesPerYear: Double
    /// Flash program operations per year, all sectors together.
    public let programOperationsPerYear: Double
    /// Erase cycles the flash is specified for (per sector), if the figure assumes one.
    public let enduranceCycles: Double?
    /// Where the figure comes from (a model, a simulation run, ...), one line.
    public let source: String

    public init(
        worstSectorErasesPerYear: Double, programOperationsPerYear: Double, enduranceCycles: Double?, source: String
    ) {
        self.worstSectorErasesPerYear = worstSectorErasesPerYear
        self.programOperationsPerYear = programOperationsPerYear
        self.enduranceCycles = enduranceCycles
        self.source = source
    }

    /// Years until the most-erased sector reaches the specified endurance.
    public var yearsToEndurance: Double? {
        guard let enduranceCycles, worstSectorErasesPerYear > 0 else { return nil }
        return enduranceCycles / worstSectorErasesPerYear
    }
}

/// Readings per year at one reading per 15 minutes.
public let readingsPerYear: Double = 96 * 365

/// The flash wear of the key store and the outbox, measured on a simulated board by the
/// wear campaign (`FaultCampaigns.measureFlashWear`: a month of readings, erase counts
/// scaled to a year). The same for every LWR-PSA configuration: the outbox entry and the
/// key-store slot do not depend on the parameter set, and the expanded key is written only
/// at key setup. Measured once per process.
public enum KeyStoreWear {
    public static func perYear(for id: CostVariantID, readings: Double) -> FlashWear? {
        if id.scheme == "paillier" || id.scheme == "dmcfe" {
            return wideRingModel(readings: readings)
        }
        guard id.scheme == "lwr-psa", let wear = measured else { return nil }
        let scale = readings / readingsPerYear
        return FlashWear(
            worstSectorErasesPerYear: max(
                wear.outboxErasesPerSectorPerYear, wear.keyStoreErasesPerSectorPerYear) * scale,
            programOperationsPerYear: wear.programOperationsPerYear * scale,
            enduranceCycles: Double(wear.ratedCycles),
            source:
                "wear campaign on a simulated board (\(String(format: "%.2f", wear.simulatedYears)) years of readings)"
        )
    }

    static let measured: WearReport? = try? FaultCampaigns.measureFlashWear(years: 1.0 / 12)
}

extension KeyStoreWear {
    /// The wide outbox ring (Paillier's and DMCFE's readings) from its geometry, for a
    /// meter in one group with every reading acknowledged before its sector comes round
    /// again (nothing carried forward): one entry per reading, so each ring sector is erased once per
    /// (entries per sector × ring sectors) readings. Per reading three program operations
    /// (entry, commit mark, ack mark), per erase two more (the sector marker). A model,
    /// not a run: a simulated year at 3072 bits takes a quarter of an hour of encryption
    /// (`metering faults --campaign wear --scheme paillier` measures it;
    /// docs/measurements/2026-12-01.md compares the two). DMCFE's 384-byte ciphertexts take the same entries (the ring's entry size does not
    /// depend on the scheme), so its model is the same; its peer seeds are written once,
    /// at key setup.
    static func wideRingModel(readings: Double) -> FlashWear {
        let layout = MeterFlashLayout(sectorSize: 4096)
        // The ring's entries hold the largest frame whatever the key size (3072 bits: 808 B).
        let entry = Outbox.entryBytes(forFrame: Frame.size(payloadLength: PaillierMeterKey.maxCiphertextBytes))
        let perSector = Double((4096 - 16) / entry)
        let ring = Double(layout.wideOutboxSectors)
        let erases = readings / (perSector * ring)
        return FlashWear(
            worstSectorErasesPerYear: erases, programOperationsPerYear: 3 * readings + 2 * erases * ring,
            enduranceCycles: 10_000,
            source:
                "model of the outbox ring: \(Int(perSector)) entries of \(entry) B per 4 KiB sector, \(Int(ring)) sectors, 1 group, every reading acked"
        )
    }
}
