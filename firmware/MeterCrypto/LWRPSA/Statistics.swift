// Statistics without individuals over LWR-PSA (docs/spec/statistics.md): besides its
// reading x, a meter encrypts a few more values of the same label under the same key, each
// in a statistics slot s with its own public vector a_{l,s} (`LWRPSA.slotExpansion`):
// x² (slot 1) and packed histogram counters (slots 2 ...), so the aggregator decrypts
// Σx², and how many households fell into each bin, exactly as it decrypts Σx, and nothing
// about one household. The meter does this only under a statistics plan the provisioning
// authority signed for its group and epoch (statement kind 5).
//
// Statistics plan (kind 5), after the statement header (epoch = the group's epoch, subject 0,
// group = the group), big-endian:
//  16  meters        u32  n: the plan is for a group of exactly the signed size
//  20  minimum       u32  the smallest group the plan may be used in (≥ `StatisticsPlan.minimumGroupSize`)
//  24  flags         u8   bit 0: the x² slot (variance); other bits 0
//  25  bins          u8   B: 0 (no histogram) or 2 ... 16
//  26  reserved      u16  0
//  28  edges         15 × u32  e_1 < … < e_{B−1} (Wh), unused entries 0
//  88  end
//
// Bin b of a reading x is the number of edges ≤ x: bin 0 is [0, e_1), bin B − 1 is
// [e_{B−1}, ∞).

/// A statistics plan as the meter reads it from its signed body (the layout above).
public struct StatisticsPlan: Sendable {
    /// Body bytes of a statistics plan.
    public static let bodyBytes = 88
    /// The most histogram bins a plan has.
    public static let maxBins = 16
    /// No plan is used in a group smaller than this (the meter's own floor; a plan may ask for more).
    public static let minimumGroupSize: UInt32 = 10
    /// Flag bit 0 of byte 24: the x² slot.
    public static let squaresFlag: UInt8 = 1

    public let group: UInt32
    public let epoch: UInt32
    /// The group size the plan is for.
    public let meters: UInt32
    /// The smallest group the plan may be used in.
    public let minimumGroupSize: UInt32
    /// Whether the meter encrypts x² (slot 1).
    public let squares: Bool
    /// B, the number of bins (0: no histogram).
    public let binCount: Int
    /// e_1 … e_{B−1} in entries 0 ..< B − 1.
    public let edges: InlineArray<15, UInt32>

    /// Reads and checks a plan body (kind, length, edges increasing, minimum ≥ 10 and ≤ n).
    /// It does not know the group: the caller compares group, epoch and n with its own.
    public init(body: Span<UInt8>) throws(StatisticsError) {
        guard body.count == Self.bodyBytes, body[0] == StatementKind.statisticsPlan.rawValue,
            body[1] == Statement.version,
            body[2] == 0, body[3] == 0, BigEndian.load32(body, at: 8) == 0, body[24] & ~Self.squaresFlag == 0,
            body[26] == 0, body[27] == 0
        else { throw .malformed }
        let bins = Int(body[25])
        guard bins == 0 || (bins >= 2 && bins <= Self.maxBins) else { throw .malformed }
        var edges = InlineArray<15, UInt32>(repeating: 0)
        var previous: UInt32 = 0
        for i in 0..<15 {
            let e = BigEndian.load32(body, at: 28 + 4 * i)
            if i < bins - 1 {
                guard e > previous else { throw .malformed }
                previous = e
            } else {
                guard e == 0 else { throw .malformed }
            }
            edges[i] = e
        }
        epoch = BigEndian.load32(body, at: 4)
        group = BigEndian.load32(body, at: 12)
        meters = BigEndian.load32(body, at: 16)
        minimumGroupSize = BigEndian.load32(body, at: 20)
        squares = body[24] & Self.squaresFlag != 0
        binCount = bins
        self.edges = edges
        guard squares || bins > 0 else { throw .malformed }
        guard minimumGroupSize >= Self.minimumGroupSize, meters >= minimumGroupSize else { throw .groupTooSmall }
    }

    /// The bin of reading `x`: the number of edges ≤ x.
    public func bin(of x: UInt64) -> Int {
        var b = 0
        for i in 0..<max(binCount - 1, 0) where x >= UInt64(edges[i]) { b = i + 1 }
        return b
    }
}

/// Which slots a plan takes in a group and how the histogram is packed: the same on the meter
/// and the aggregator, from the signed n, x_max and plan.
///
/// Every slot is decrypted like the reading, with Δ = n, so each slot's per-meter maximum v
/// must pass the reading's bound n·(n·v + 1) < p (`LWRGroupBounds`): x_max² for the x²
/// slot; 2^{w·(k−1)} for a histogram slot of k bins, whose counters are w = bit width of n
/// bits wide (a counter holds at most n < 2^w, so counters never carry into each other).
public struct StatisticsLayout: Sendable, Equatable {
    /// The most slots a statistics frame carries.
    public static let maxSlots = 4
    /// Slot tag of the x² slot.
    public static let squaresTag: UInt8 = 1
    /// Slot tag of the first histogram slot (then 3, 4, …).
    public static let firstHistogramTag: UInt8 = 2

    public let meters: UInt32
    public let squares: Bool
    public let binCount: Int
    /// w: bits per packed counter.
    public let counterBits: Int
    /// Bins packed into one histogram slot.
    public let binsPerSlot: Int
    public let histogramSlots: Int
    /// The bounds of the x² slot (per-meter maximum x_max²), when it is used.
    public let squaresBounds: LWRGroupBounds?
    /// The bounds of a histogram slot (per-meter maximum 2^{w·(binsPerSlot − 1)}).
    public let histogramBounds: LWRGroupBounds?

    /// Slots of the statistics frame, in order: the x² slot (if any), then the histogram slots.
    public var slotCount: Int { (squares ? 1 : 0) + histogramSlots }

    public init(meters: UInt32, maxReading: UInt64, squares: Bool, binCount: Int, parameters: LWRParameters)
        throws(StatisticsError)
    {
        guard meters > 0, binCount >= 0, binCount <= StatisticsPlan.maxBins else { throw .malformed }
        self.meters = meters
        self.squares = squares
        self.binCount = binCount
        if squares {
            let (square, o) = maxReading.multipliedReportingOverflow(by: maxReading)
            guard !o, let b = try? LWRGroupBounds(meters: meters, maxReading: square, parameters: parameters) else {
                throw .squaresCapacity
            }
            squaresBounds = b
        } else {
            squaresBounds = nil
        }
        let w = UInt32.bitWidth - meters.leadingZeroBitCount
        counterBits = w
        guard binCount > 0 else {
            binsPerSlot = 0
            histogramSlots = 0
            histogramBounds = nil
            return
        }
        var k = 0
        var bounds: LWRGroupBounds? = nil
        while k < binCount, w * k < 63,
            let b = try? LWRGroupBounds(meters: meters, maxReading: UInt64(1) << UInt64(w * k), parameters: parameters)
        {
            k += 1
            bounds = b
        }
        guard k > 0, let bounds else { throw .tooManySlots }
        binsPerSlot = k
        histogramSlots = (binCount + k - 1) / k
        histogramBounds = bounds
        guard (squares ? 1 : 0) + histogramSlots <= Self.maxSlots else { throw .tooManySlots }
    }

    /// The tag s of slot `i` (its label vector is a_{l,s}).
    public func tag(ofSlot i: Int) -> UInt8 {
        precondition(i >= 0 && i < slotCount, "no such slot")
        if squares { return i == 0 ? Self.squaresTag : Self.firstHistogramTag + UInt8(i - 1) }
        return Self.firstHistogramTag + UInt8(i)
    }

    /// What a meter with reading `x` in bin `bin` puts into slot `i`.
    public func value(ofSlot i: Int, reading x: UInt64, bin: Int) -> UInt64 {
        if squares && i == 0 { return x &* x }
        let j = squares ? i - 1 : i
        guard bin / binsPerSlot == j else { return 0 }
        return UInt64(1) << UInt64(counterBits * (bin % binsPerSlot))
    }

    /// The bounds slot `i` is encrypted and decrypted under.
    public func bounds(ofSlot i: Int) -> LWRGroupBounds {
        (squares && i == 0 ? squaresBounds : histogramBounds)!
    }

    /// Count of bin `bin` from the decrypted sum of its histogram slot.
    public func count(ofBin bin: Int, slotSum: UInt64) -> UInt64 {
        (slotSum >> UInt64(counterBits * (bin % binsPerSlot))) & ((UInt64(1) << UInt64(counterBits)) - 1)
    }

    /// The slot index (in the frame) that holds bin `bin`.
    public func slot(ofBin bin: Int) -> Int { (squares ? 1 : 0) + bin / binsPerSlot }
}
