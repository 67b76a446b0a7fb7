// Flash wear per year: the key store's figure, through one hook.

/// Flash wear caused by the meter's key store (and outbox) over a year of readings.
public struct FlashWear: Codable, Sendable, Equatable {
    /// Erase cycles per year of the most-erased sector.
    public let worstSectorErasesPerYear: Double
    /// Bytes programmed per year, all sectors together.
    public let bytesProgrammedPerYear: Double
    /// Erase cycles the flash is specified for (per sector), if the figure assumes one.
    public let enduranceCycles: Double?
    /// Where the figure comes from (a model, a simulation run, ...), one line.
    public let source: String

    public init(
        worstSectorErasesPerYear: Double, bytesProgrammedPerYear: Double, enduranceCycles: Double?, source: String
    ) {
        self.worstSectorErasesPerYear = worstSectorErasesPerYear
        self.bytesProgrammedPerYear = bytesProgrammedPerYear
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

/// HOOK for the key store (key store / outbox / fault campaigns work): the flash wear per
/// year that configuration `id` causes at `readings` readings per year, or nil while the
/// key store does not provide one; the report then prints "n/a". Fill this in where the
/// key store knows its layout (slots per sector, sectors, writes per reading).
public enum KeyStoreWear {
    public static func perYear(for id: CostVariantID, readings: Double) -> FlashWear? {
        _ = (id, readings)
        return nil
    }
}
