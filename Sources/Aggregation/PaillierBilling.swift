// Billing on ciphertexts (Paillier mode): the aggregator, which keeps every meter's
// ciphertexts, computes Enc(Σ_t price_t · usage_t + fee) from them without any key
// (c^k = Enc(k·m), c·c' = Enc(m + m')), and the supplier decrypts only the bill. The same
// way, an energy report gives one meter's energy per day (or any long interval).
//
// Only under a tariff the provisioning authority signed for the aggregator's group and the
// billing period (`SignedTariff`), with prices at most `Tariff.maxPriceRatio` apart: a
// tariff of price 1 for 23 hours and 2^31 for one would pack that hour's energy into its
// own digits of one bill (the trust review decoded one household's hour exactly that way).
//
// Release policy (so that bills and reports cannot be combined to single out a reading):
//   * a bill covers at least `minimumLabels` labels (default 96, one day), every label
//     of it priced (> 0) and reported by the meter;
//   * each report interval covers at least `minimumLabels` labels;
//   * a label is billed at most once per meter, and reported at most once per meter:
//     overlapping bills (or overlapping reports) are refused.
// What remains: a bill and a report over the same day give two linear combinations of that
// day's readings (e.g. peak and off-peak energy separately, for a two-class tariff).

import BigNum
import Foundation
import MeterCrypto

/// A time-of-use tariff: a price per Wh for each class of label (by time of day), plus a
/// fixed fee per bill. Money is in integer units (`unit`, e.g. micro-euros), so prices
/// are exact exponents on ciphertexts.
public struct Tariff: Sendable, Codable, Equatable {
    public struct PriceClass: Sendable, Codable, Equatable {
        public var name: String
        /// Price per Wh in `unit`s.
        public var pricePerWh: UInt64
        public init(name: String, pricePerWh: UInt64) {
            self.name = name
            self.pricePerWh = pricePerWh
        }
    }

    /// Name of the money unit, e.g. "µ€".
    public var unit: String
    /// Units per display currency unit (1 000 000 µ€ = 1 €).
    public var unitsPerCurrency: UInt64
    public var classes: [PriceClass]
    /// For each hour of the day (0...23), the index of its class.
    public var hourClass: [Int]
    /// Added once per bill, in `unit`s.
    public var fixedFee: UInt64

    /// Labels per day (15-minute intervals).
    public static let labelsPerDay: UInt64 = 96
    /// The largest ratio of two prices of one tariff: wider spreads encode single hours
    /// into separate digits of one bill.
    public static let maxPriceRatio: UInt64 = 16

    public init(unit: String, unitsPerCurrency: UInt64, classes: [PriceClass], hourClass: [Int], fixedFee: UInt64)
        throws(AggregationError)
    {
        guard !classes.isEmpty else { throw .invalidTariff("no price classes") }
        guard hourClass.count == 24, hourClass.allSatisfy({ classes.indices.contains($0) }) else {
            throw .invalidTariff("hourClass needs 24 entries, each a class index")
        }
        guard classes.allSatisfy({ $0.pricePerWh > 0 && $0.pricePerWh < 1 << 32 }) else {
            throw .invalidTariff("every price is in 1 ..< 2^32 units per Wh")
        }
        guard fixedFee < 1 << 48 else { throw .invalidTariff("the fixed fee is below 2^48 units") }
        let prices = classes.map(\.pricePerWh)
        guard prices.max()! <= prices.min()! * Self.maxPriceRatio else {
            throw .invalidTariff("prices more than \(Self.maxPriceRatio)× apart")
        }
        self.unit = unit
        self.unitsPerCurrency = unitsPerCurrency
        self.classes = classes
        self.hourClass = hourClass
        self.fixedFee = fixedFee
    }

    /// A typical three-rate tariff in µ€: off-peak 23:00–07:00 0.18 €/kWh, day 0.25 €/kWh,
    /// peak 17:00–21:00 0.40 €/kWh, fixed fee 0.50 € per bill.
    public static let threeRate = try! Tariff(
        unit: "µ€", unitsPerCurrency: 1_000_000,
        classes: [
            PriceClass(name: "off-peak", pricePerWh: 180), PriceClass(name: "day", pricePerWh: 250),
            PriceClass(name: "peak", pricePerWh: 400),
        ],
        hourClass: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 0],
        fixedFee: 500_000)

    /// The class index of `label` (by its hour of the day).
    public func classIndex(of label: UInt64) -> Int { hourClass[Int((label % Self.labelsPerDay) / 4)] }

    /// The price per Wh at `label`.
    public func price(at label: UInt64) -> UInt64 { classes[classIndex(of: label)].pricePerWh }

    /// The bill in plaintext: Σ price_t · usage_t + fee, for readings of labels
    /// `first, first + 1, ...` (what the encrypted bill must equal).
    public func plaintextBill(readings: [UInt64], firstLabel first: UInt64) -> UInt64 {
        var total = fixedFee
        for (i, wh) in readings.enumerated() { total += price(at: first + UInt64(i)) * wh }
        return total
    }
}

/// An encrypted bill: Enc(Σ price_t · usage_t + fee) for one meter over `labels`.
public struct PaillierEncryptedBill: Sendable {
    public let meter: UInt32
    public let labels: ClosedRange<UInt64>
    public let tariff: Tariff
    public let ciphertext: PaillierCiphertext

    public init(meter: UInt32, labels: ClosedRange<UInt64>, tariff: Tariff, ciphertext: PaillierCiphertext) {
        self.meter = meter
        self.labels = labels
        self.tariff = tariff
        self.ciphertext = ciphertext
    }
}

/// One meter's energy per interval (e.g. per day), encrypted: Enc(Σ usage) per interval.
public struct PaillierEncryptedReport: Sendable {
    public let meter: UInt32
    /// The intervals, in order; each covers at least the minimum number of labels.
    public let intervals: [ClosedRange<UInt64>]
    public let ciphertexts: [PaillierCiphertext]

    public init(meter: UInt32, intervals: [ClosedRange<UInt64>], ciphertexts: [PaillierCiphertext]) {
        self.meter = meter
        self.intervals = intervals
        self.ciphertexts = ciphertexts
    }
}

/// A decrypted bill.
public struct Bill: Sendable, Codable, Equatable {
    public let meter: UInt32
    public let firstLabel: UInt64
    public let lastLabel: UInt64
    /// Σ price_t · usage_t + fee, in the tariff's units.
    public let amount: UInt64
    public let unit: String
    public let unitsPerCurrency: UInt64
}

/// A decrypted energy report.
public struct EnergyReport: Sendable, Codable, Equatable {
    public struct Interval: Sendable, Codable, Equatable {
        public let firstLabel: UInt64
        public let lastLabel: UInt64
        public let energyWh: UInt64
    }
    public let meter: UInt32
    public let intervals: [Interval]
    /// Mean energy per interval, in Wh.
    public var averageWh: Double {
        intervals.isEmpty ? 0 : Double(intervals.reduce(0) { $0 + $1.energyWh }) / Double(intervals.count)
    }
}

/// The release rules and the arithmetic of bills and energy reports on ciphertexts, for
/// any keeper of a meter's ciphertexts: the in-memory `PaillierAggregator` and the service,
/// which reads them from its store and keeps the released periods there.
public struct PaillierRelease: Sendable {
    public let publicKey: PaillierPublicKey
    public let group: UInt32
    /// The provisioning authority's key, which must have signed every tariff.
    public let authorityKey: [UInt8]?
    public let minimumLabels: Int

    public init(publicKey: PaillierPublicKey, group: UInt32, authorityKey: [UInt8]?, minimumLabels: Int) {
        self.publicKey = publicKey
        self.group = group
        self.authorityKey = authorityKey
        self.minimumLabels = minimumLabels
    }

    /// Checks a tariff for a bill over `labels`: signed by the authority, for this group,
    /// covering the period.
    public func check(tariff signed: SignedTariff, labels: ClosedRange<UInt64>) throws(AggregationError) {
        guard let authorityKey, signed.statement.verifies(authorityKey: authorityKey) else {
            throw .unsignedStatement("the tariff is not signed by this aggregator's authority")
        }
        guard signed.statement.group == group else {
            throw .unsignedStatement("the tariff is for group \(signed.statement.group)")
        }
        guard signed.period.contains(labels.lowerBound) && signed.period.contains(labels.upperBound) else {
            throw .outsideTariffPeriod(labels: labels, period: signed.period)
        }
    }

    /// Refuses a period shorter than the minimum or overlapping one already released.
    public func checkPeriod(
        meter: UInt32, labels: ClosedRange<UInt64>, released: [ClosedRange<UInt64>]
    ) throws(AggregationError) {
        guard labels.count >= minimumLabels else { throw .periodTooShort(labels: labels.count, minimum: minimumLabels) }
        if let overlap = released.first(where: { $0.overlaps(labels) }) {
            throw .periodAlreadyReleased(meter: meter, label: max(overlap.lowerBound, labels.lowerBound))
        }
    }

    /// Enc(Σ price_t · usage_t + fee) from the meter's ciphertexts (`reading(label)`, which
    /// throws for a label the meter did not report): labels are grouped by price class, each
    /// class's product raised to its price once, times the trivial encryption of the fee.
    public func bill(
        meter: UInt32, labels: ClosedRange<UInt64>, tariff signed: SignedTariff, released: [ClosedRange<UInt64>],
        reading: (UInt64) throws(AggregationError) -> BigInt
    ) throws(AggregationError) -> PaillierEncryptedBill {
        try check(tariff: signed, labels: labels)
        try checkPeriod(meter: meter, labels: labels, released: released)
        let tariff = signed.tariff
        let modulus = publicKey.nSquared
        var perClass = [BigInt](repeating: BigInt(1), count: tariff.classes.count)
        for label in labels {
            perClass[tariff.classIndex(of: label)].multiply(by: try reading(label), modulo: modulus)
        }
        var total = publicKey.trivialEncryption(BigInt(tariff.fixedFee)).value
        for (i, product) in perClass.enumerated() {
            total.multiply(by: product.power(BigInt(tariff.classes[i].pricePerWh), modulo: modulus), modulo: modulus)
        }
        return PaillierEncryptedBill(
            meter: meter, labels: labels, tariff: tariff,
            ciphertext: PaillierCiphertext(value: total, key: publicKey.id))
    }

    /// Enc(energy) per interval of `intervalLabels` labels (96 = per day) over `labels`
    /// (whose length must be a multiple of it) for one meter.
    public func energyReport(
        meter: UInt32, labels: ClosedRange<UInt64>, intervalLabels: Int, released: [ClosedRange<UInt64>],
        reading: (UInt64) throws(AggregationError) -> BigInt
    ) throws(AggregationError) -> PaillierEncryptedReport {
        guard intervalLabels >= minimumLabels else {
            throw .periodTooShort(labels: intervalLabels, minimum: minimumLabels)
        }
        guard labels.count % intervalLabels == 0 else {
            throw .invalidTariff("the report period is not a whole number of \(intervalLabels)-label intervals")
        }
        try checkPeriod(meter: meter, labels: labels, released: released)
        let modulus = publicKey.nSquared
        var intervals: [ClosedRange<UInt64>] = []
        var ciphertexts: [PaillierCiphertext] = []
        var start = labels.lowerBound
        while start <= labels.upperBound {
            let end = start + UInt64(intervalLabels) - 1
            var product = BigInt(1)
            for label in start...end { product.multiply(by: try reading(label), modulo: modulus) }
            intervals.append(start...end)
            ciphertexts.append(PaillierCiphertext(value: product, key: publicKey.id))
            start = end + 1
        }
        return PaillierEncryptedReport(meter: meter, intervals: intervals, ciphertexts: ciphertexts)
    }
}

extension PaillierAggregator {
    /// The least number of labels in one bill or one report interval.
    public static let minimumReleaseLabels = 96

    func release(minimumLabels: Int) -> PaillierRelease {
        PaillierRelease(
            publicKey: publicKey, group: members.group, authorityKey: authorityKey, minimumLabels: minimumLabels)
    }

    /// A bill over `labels` from the meter's ciphertexts in memory (`PaillierRelease.bill`).
    /// Refuses short periods, labels the meter has not reported, and labels already billed
    /// for this meter.
    public func bill(
        meter: UInt32, labels: ClosedRange<UInt64>, tariff signed: SignedTariff,
        minimumLabels: Int = minimumReleaseLabels
    ) throws(AggregationError) -> PaillierEncryptedBill {
        guard members.frameKey(of: meter) != nil else { throw .unknownMeter(meter) }
        let bill = try release(minimumLabels: minimumLabels).bill(
            meter: meter, labels: labels, tariff: signed, released: billed[meter] ?? []
        ) { (label) throws(AggregationError) in try reading(meter: meter, label: label) }
        billed[meter, default: []].append(labels)
        return bill
    }

    /// One meter's energy per interval of `intervalLabels` labels over `labels`, from the
    /// ciphertexts in memory (`PaillierRelease.energyReport`).
    public func energyReport(
        meter: UInt32, labels: ClosedRange<UInt64>, intervalLabels: Int = Int(Tariff.labelsPerDay),
        minimumLabels: Int = minimumReleaseLabels
    ) throws(AggregationError) -> PaillierEncryptedReport {
        guard members.frameKey(of: meter) != nil else { throw .unknownMeter(meter) }
        let report = try release(minimumLabels: minimumLabels).energyReport(
            meter: meter, labels: labels, intervalLabels: intervalLabels, released: reported[meter] ?? []
        ) { (label) throws(AggregationError) in try reading(meter: meter, label: label) }
        reported[meter, default: []].append(labels)
        return report
    }
}

extension PaillierSupplier {
    /// Decrypts a bill (the only value of one meter the supplier ever sees, with reports).
    public func decryptBill(_ bill: PaillierEncryptedBill) throws(AggregationError) -> Bill {
        Bill(
            meter: bill.meter, firstLabel: bill.labels.lowerBound, lastLabel: bill.labels.upperBound,
            amount: try plaintext(bill.ciphertext), unit: bill.tariff.unit,
            unitsPerCurrency: bill.tariff.unitsPerCurrency)
    }

    /// Decrypts an energy report.
    public func decryptReport(_ report: PaillierEncryptedReport) throws(AggregationError) -> EnergyReport {
        var intervals: [EnergyReport.Interval] = []
        for (range, c) in zip(report.intervals, report.ciphertexts) {
            intervals.append(
                EnergyReport.Interval(
                    firstLabel: range.lowerBound, lastLabel: range.upperBound, energyWh: try plaintext(c)))
        }
        return EnergyReport(meter: report.meter, intervals: intervals)
    }
}

/// A tariff as the authority signs it, pinned to a group and a billing period (statement
/// kind `tariff`). Body after the header: first label u64 | last label u64 | units per
/// currency u64 | fixed fee u64 | class count u8 | per class: price u32, name length u8,
/// name (UTF-8) | 24 hour classes u8 | unit length u8 | unit (UTF-8) | supplier u32 (whose
/// bill key seals the bills LWR-PSA and DMCFE meters make themselves, MeterBill.swift).
public struct SignedTariff: Sendable {
    public let statement: SignedStatement
    public let tariff: Tariff
    public let period: ClosedRange<UInt64>
    /// The supplier the tariff names.
    public let supplier: UInt32
    /// The supplier of tariffs signed without naming one (`SignedTariff.body`).
    public static let defaultSupplier: UInt32 = 1

    /// Decodes a tariff statement (the signature is checked where the tariff is used).
    public init(_ statement: SignedStatement) throws(AggregationError) {
        let b = statement.body
        guard statement.kind == .tariff, b.count >= Statement.headerBytes + 33 else {
            throw .unsignedStatement("not a tariff statement")
        }
        var i = Statement.headerBytes
        func u64() -> UInt64 {
            defer { i += 8 }
            return BigEndian.load64(b.span, at: i)
        }
        func byte() throws(AggregationError) -> UInt8 {
            guard i < b.count else { throw .invalidTariff("truncated") }
            defer { i += 1 }
            return b[i]
        }
        func text(_ n: Int) throws(AggregationError) -> String {
            guard i + n <= b.count else { throw .invalidTariff("truncated") }
            defer { i += n }
            return String(decoding: b[i..<(i + n)], as: UTF8.self)
        }
        let first = u64()
        let last = u64()
        let unitsPerCurrency = u64()
        let fee = u64()
        guard first <= last else { throw .invalidTariff("an empty period") }
        var classes: [Tariff.PriceClass] = []
        for _ in 0..<Int(try byte()) {
            guard i + 5 <= b.count else { throw .invalidTariff("truncated") }
            let price = UInt64(BigEndian.load32(b.span, at: i))
            i += 4
            classes.append(Tariff.PriceClass(name: try text(Int(try byte())), pricePerWh: price))
        }
        var hours: [Int] = []
        for _ in 0..<24 { hours.append(Int(try byte())) }
        let unit = try text(Int(try byte()))
        guard i + 4 <= b.count else { throw .invalidTariff("truncated") }
        supplier = BigEndian.load32(b.span, at: i)
        guard i + 4 == b.count else { throw .invalidTariff("trailing bytes") }
        guard supplier != 0 else { throw .invalidTariff("no supplier") }
        tariff = try Tariff(
            unit: unit, unitsPerCurrency: unitsPerCurrency, classes: classes, hourClass: hours, fixedFee: fee)
        period = first...last
        self.statement = statement
    }

    /// The statement body of `tariff` for `group` over `period`, naming `supplier`.
    public static func body(
        tariff: Tariff, group: UInt32, period: ClosedRange<UInt64>, epoch: UInt32, supplier: UInt32 = defaultSupplier
    ) -> [UInt8] {
        var b = SignedStatement.header(kind: .tariff, epoch: epoch, subject: 0, group: group)
        func u64(_ v: UInt64) { b += (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * $0)) } }
        u64(period.lowerBound)
        u64(period.upperBound)
        u64(tariff.unitsPerCurrency)
        u64(tariff.fixedFee)
        b.append(UInt8(tariff.classes.count))
        for c in tariff.classes {
            b += (0..<4).map { UInt8(truncatingIfNeeded: c.pricePerWh >> UInt64(24 - 8 * $0)) }
            let name = Array(c.name.utf8.prefix(255))
            b.append(UInt8(name.count))
            b += name
        }
        b += tariff.hourClass.map { UInt8($0) }
        let unit = Array(tariff.unit.utf8.prefix(255))
        b.append(UInt8(unit.count))
        b += unit
        return b + (0..<4).map { UInt8(truncatingIfNeeded: supplier >> UInt32(24 - 8 * $0)) }
    }
}
