// Bills without the curve on the meter (LWR-PSA and DMCFE images; docs/spec/billing.md):
// a tariff the authority signed for the meter's group and a billing period (statement kind
// `tariff`) gives each hour of the day a class; every stored reading of the period is added
// to its class's total, kept in a flash journal (Journal.swift) so that a power cut never
// loses or doubles one; once the period is over the meter sends the totals, sealed for the
// supplier the tariff names (MeterCrypto/MeterBill.swift), until the aggregator acks them.
//
// Power cuts: the journal slot for a reading is written *before* the reading's outbox
// entry, with the reading as "pending" beside the totals without it. At boot the pending
// reading counts exactly when the outbox's newest entry is its label (the entry was
// committed), so a cut on either side of the commit counts the reading once or not at all,
// as the aggregator's sums do. A slot that cannot be written never stops the reading: it is
// stored and counted in RAM, and only a cut before the next good slot can drop it from the
// bill (never count it twice).
//
// What a tariff may ask (checked before and after its signature): a period of at least
// `MeterBill.minimumPeriodLabels` labels, starting at a label not yet metered, overlapping
// no period the meter holds (two bills over overlapping periods would give one reading by
// subtraction), at most `MeterBill.maxClasses` classes. The meter holds two periods at
// once: one closed and not yet acknowledged or running, and the next one.
//
// Journal slot (192 bytes, magic "PMB1", marker "PMBL", checksum domain "PM-BILL-v1"):
//   8    pending label u64 (all ones: none)   16  pending Wh u64   24  pending period u8
//   25   0 × 7
//   32   period 0, 104 period 1, 72 bytes each:
//        state u8 | class count u8 | 0 u16 | tariff epoch u32 | supplier u32 |
//        labels metered u32 | first label u64 | last label u64 |
//        hour classes u64 (2 bits per hour, hour h at bits 2h) | 4 × Wh per class u64
//  176   0xFF until the checksum at 180

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Why a signed tariff was not taken (nothing the meter holds changed).
public enum BillingRejection: UInt8, Equatable, Sendable {
    /// Layout, lengths, hour classes or supplier a tariff may not have.
    case malformed = 1
    /// A period shorter than `MeterBill.minimumPeriodLabels`.
    case periodTooShort = 2
    /// A period that starts at a label the meter metered already.
    case periodStarted = 3
    /// A period overlapping one the meter holds.
    case overlapsPeriod = 4
    /// More classes than `MeterBill.maxClasses`.
    case tooManyClasses = 5
    /// The meter holds two periods already (the next tariff comes once a bill is acknowledged).
    case busy = 6
    /// The flash has no billing journal (or it could not be read at boot).
    case unavailable = 7
}

/// One billing period on the meter: the tariff's part the meter needs, and the totals.
public struct BillingPeriod: Sendable {
    public enum State: UInt8, Sendable {
        case empty = 0
        /// Accepted; no reading of it stored yet.
        case queued = 1
        /// Readings of it are being added.
        case open = 2
        /// Over: its bill is sent until acknowledged.
        case closed = 3
    }
    public var state = State.empty
    public var classCount: UInt8 = 0
    /// The group epoch the tariff was signed for.
    public var tariffEpoch: UInt32 = 0
    public var supplier: UInt32 = 0
    public var meteredLabels: UInt32 = 0
    public var first: UInt64 = 0
    public var last: UInt64 = 0
    /// The class of each hour of the day, 2 bits each (hour h at bits 2h ..< 2h + 2).
    public var hourClasses: UInt64 = 0
    /// Wh per class.
    public var totals = InlineArray<4, UInt64>(repeating: 0)

    public init() {}

    /// The class of `label` (15-minute labels, 96 a day, as `Tariff.classIndex`).
    public func classOf(_ label: UInt64) -> Int {
        Int(truncatingIfNeeded: (hourClasses >> (2 * ((label % 96) / 4))) & 3)
    }

    static let bytes = 72

    init(decoding b: Span<UInt8>, at o: Int) {
        self.init()
        // From a slot that checked out, written by this firmware; still never trusted to
        // index anything: an unknown state reads as empty, a count is clamped.
        state = State(rawValue: b[o]) ?? .empty
        classCount = min(b[o + 1], UInt8(MeterBill.maxClasses))
        tariffEpoch = BigEndian.load32(b, at: o + 4)
        supplier = BigEndian.load32(b, at: o + 8)
        meteredLabels = BigEndian.load32(b, at: o + 12)
        first = BigEndian.load64(b, at: o + 16)
        last = BigEndian.load64(b, at: o + 24)
        hourClasses = BigEndian.load64(b, at: o + 32)
        for c in 0..<MeterBill.maxClasses { totals[c] = BigEndian.load64(b, at: o + 40 + 8 * c) }
    }

    func encode(into b: inout MutableSpan<UInt8>, at o: Int) {
        b[o] = state.rawValue
        b[o + 1] = classCount
        b[o + 2] = 0
        b[o + 3] = 0
        BigEndian.store(tariffEpoch, at: o + 4, in: &b)
        BigEndian.store(supplier, at: o + 8, in: &b)
        BigEndian.store(meteredLabels, at: o + 12, in: &b)
        BigEndian.store(first, at: o + 16, in: &b)
        BigEndian.store(last, at: o + 24, in: &b)
        BigEndian.store(hourClasses, at: o + 32, in: &b)
        for c in 0..<MeterBill.maxClasses { BigEndian.store(totals[c], at: o + 40 + 8 * c, in: &b) }
    }
}

/// What the billing journal keeps: two periods and the reading being stored.
public struct BillingRecord: Sendable {
    public var periods = InlineArray<2, BillingPeriod>(repeating: BillingPeriod())
    /// The label whose reading is being stored (counted once its outbox entry is on flash);
    /// `.max`: none.
    public var pendingLabel: UInt64 = .max
    public var pendingWattHours: UInt64 = 0
    public var pendingPeriod: UInt8 = 0

    public init() {}

    /// The periods' states when the next reading stored is `label`'s (every label below it
    /// was stored or never will be): those past their last label close, a queued one whose
    /// period holds `label` opens. True when a state changed.
    mutating func advance(to label: UInt64) -> Bool {
        var changed = false
        for i in 0..<2 {
            let state = periods[i].state
            if (state == .queued || state == .open) && label > periods[i].last {
                periods[i].state = .closed
                changed = true
            } else if state == .queued && label >= periods[i].first {
                periods[i].state = .open
                changed = true
            }
        }
        return changed
    }

    /// The open period that holds `label`.
    func period(of label: UInt64) -> Int? {
        for i in 0..<2 where periods[i].state == .open && periods[i].first <= label && label <= periods[i].last {
            return i
        }
        return nil
    }

    /// Adds the stored reading of `label` to period `i`; closes the period at its last label.
    mutating func count(_ label: UInt64, wattHours: UInt64, in i: Int) {
        guard i < 2, periods[i].state == .open, periods[i].first <= label, label <= periods[i].last else { return }
        let c = periods[i].classOf(label)
        let (sum, o) = periods[i].totals[c].addingReportingOverflow(wattHours)
        periods[i].totals[c] = o ? .max : sum
        periods[i].meteredLabels &+= 1
        if label == periods[i].last { periods[i].state = .closed }
    }

    /// Drops period `i` (its bill was acknowledged); the next one moves up.
    mutating func remove(_ i: Int) {
        if i == 0 { periods[0] = periods[1] }
        periods[1] = BillingPeriod()
    }
}

extension BillingRecord: JournalRecord {
    static var slotBytes: Int { 192 }
    static var magic: UInt32 { 0x504D_4231 }  // "PMB1"
    static var markerMagic: UInt32 { 0x504D_424C }  // "PMBL"
    static var domain: StaticString { "PM-BILL-v1" }
    static var savesAtPowerFail: Bool { false }

    init(slot: Span<UInt8>) {
        self.init()
        pendingLabel = BigEndian.load64(slot, at: 8)
        pendingWattHours = BigEndian.load64(slot, at: 16)
        pendingPeriod = slot[24]
        periods[0] = BillingPeriod(decoding: slot, at: 32)
        periods[1] = BillingPeriod(decoding: slot, at: 32 + BillingPeriod.bytes)
    }

    func encode(into slot: inout MutableSpan<UInt8>) {
        BigEndian.store(pendingLabel, at: 8, in: &slot)
        BigEndian.store(pendingWattHours, at: 16, in: &slot)
        slot[24] = pendingPeriod
        for k in 25..<32 { slot[k] = 0 }
        periods[0].encode(into: &slot, at: 32)
        periods[1].encode(into: &slot, at: 32 + BillingPeriod.bytes)
    }
}

extension Meter where Scheme: ~Copyable {
    /// The billing periods the meter holds (for the simulator and tests).
    public var billingRecord: BillingRecord { billing }

    /// Reads the billing journal at boot and counts the pending reading when its outbox
    /// entry is on flash; closes the periods whose last label passed (stored, or over by the
    /// clock).
    mutating func loadBilling() {
        guard Scheme.billsOnMeter, billingJournal != nil else { return }
        let loaded: BillingRecord?
        do throws(KeyStoreError) { loaded = try billingJournal!.load() } catch {
            // Unreadable now is no verdict on what is stored: no billing until the next boot,
            // nothing erased.
            billingJournal = nil
            return
        }
        try? billingJournal!.prepare()
        var r = loaded ?? BillingRecord()
        if r.pendingLabel != .max {
            if outbox.newestLabel == r.pendingLabel {
                r.count(r.pendingLabel, wattHours: r.pendingWattHours, in: Int(r.pendingPeriod))
            }
            r.pendingLabel = .max
        }
        // No label before the running one is stored after a boot (their boundaries passed with
        // the meter off): a period that ended meanwhile is over.
        _ = r.advance(to: max(labelFloor, currentLabel))
        billing = r
    }

    /// Formats the billing journal (a new identity at provisioning holds no period).
    mutating func clearBilling() {
        billing = BillingRecord()
        guard Scheme.billsOnMeter, billingJournal != nil else { return }
        try? billingJournal!.clear()
        try? billingJournal!.prepare()
    }

    /// Writes `r` as the journal's newest slot (formatting the other sector when the active
    /// one is full: never called during a power-fail warning).
    mutating func saveBilling(_ r: BillingRecord) throws(KeyStoreError) {
        guard billingJournal != nil else { throw .flashTooSmall }
        if !billingJournal!.ready { try billingJournal!.prepare() }
        try billingJournal!.save(r)
    }

    /// Before the reading of `label` goes to the outbox: the periods move on and, for a
    /// label in an open period, the slot with the reading pending is written. Returns the
    /// period the reading belongs to.
    mutating func billBeforeStore(label: UInt64, reading: UInt64) -> Int? {
        guard Scheme.billsOnMeter, billingJournal != nil else { return nil }
        var r = billing
        let changed = r.advance(to: label)
        let target = r.period(of: label)
        guard changed || target != nil else { return nil }
        if let t = target {
            r.pendingLabel = label
            r.pendingWattHours = reading
            r.pendingPeriod = UInt8(t)
        }
        do { try saveBilling(r) } catch { billingWriteFailures += 1 }
        billing = r
        return target
    }

    /// After the reading of `label` is in the outbox: it counts.
    mutating func billAfterStore(label: UInt64, reading: UInt64, period: Int?) {
        billing.pendingLabel = .max
        guard let t = period else { return }
        billing.count(label, wattHours: reading, in: t)
        if billing.periods[t].state == .closed {
            // Best effort: without this slot, the boot counts the pending reading again.
            do { try saveBilling(billing) } catch { billingWriteFailures += 1 }
        }
    }

    /// The reading of `label` was not stored: it is not pending any more.
    mutating func billNotStored() { billing.pendingLabel = .max }

    /// Sends the bill of every closed period (best effort: again at every boundary, and after
    /// boot, until acknowledged).
    mutating func resendBills() {
        guard Scheme.billsOnMeter, storeState == nil else { return }
        for i in 0..<2 where billing.periods[i].state == .closed { sendBill(i) }
    }

    mutating func sendBill(_ i: Int) {
        let p = billing.periods[i]
        var key = InlineArray<32, UInt8>(repeating: 0)
        var keySpan = key.mutableSpan
        MeterBill.key(frameSecret: record.frameSecret.span, supplier: p.supplier, meter: record.meter, into: &keySpan)
        var plain = InlineArray<40, UInt8>(repeating: 0)
        var plainSpan = plain.mutableSpan
        MeterBill.encodePlaintext(
            classCount: Int(p.classCount), meteredLabels: p.meteredLabels, totals: p.totals.span, into: &plainSpan)
        let header = FrameHeader(
            type: .bill, scheme: Scheme.schemeID, group: record.group, meter: record.meter, label: p.last,
            payloadLength: MeterBill.payloadBytes)
        var f = frame.mutableSpan
        MeterBill.seal(
            header, billKey: key.span, tariffEpoch: p.tariffEpoch, supplier: p.supplier, period: p.first...p.last,
            plaintext: plain.span, frame: &f)
        for k in 0..<32 { key[k] = 0 }
        for k in 0..<MeterBill.plaintextBytes { plain[k] = 0 }
        let length = seal(header, epoch: record.groupEpoch)
        try? board.send(frame.span.extracting(0..<length))
    }

    /// The aggregator acknowledged the bill of the period ending at `label`.
    mutating func acknowledgeBill(label: UInt64) -> MeterEvent? {
        guard Scheme.billsOnMeter else { return nil }
        for i in 0..<2 where billing.periods[i].state == .closed && billing.periods[i].last == label {
            var r = billing
            r.remove(i)
            // Best effort: an ack whose slot did not make it lets the bill go out again.
            do { try saveBilling(r) } catch { billingWriteFailures += 1 }
            billing = r
            return .billAcknowledged(label: label)
        }
        return nil
    }

    // MARK: - the signed tariff

    /// The checks of a tariff statement's body before its signature (and again after).
    mutating func precheckTariff(_ body: Span<UInt8>) throws(MeterError) {
        _ = try tariffPeriod(body)
    }

    /// A verified tariff (in the statement buffer) becomes the meter's next billing period.
    mutating func applyTariff() throws(MeterError) -> MeterEvent? {
        let body = statementBody
        let p = try tariffPeriod(body.span.extracting(0..<statementLength))
        var r = billing
        let slot = r.periods[0].state == .empty ? 0 : 1
        r.periods[slot] = p
        do { try saveBilling(r) } catch { throw .keyStore(error) }
        billing = r
        return .statementAccepted(.tariff)
    }

    /// The billing period a tariff body defines, if the meter takes it.
    ///
    /// Body after the header (`SignedTariff.body` on the host): first label u64 | last label
    /// u64 | units per currency u64 | fixed fee u64 | class count u8 | per class: price u32,
    /// name length u8, name | 24 hour classes u8 | unit length u8 | unit | supplier u32.
    mutating func tariffPeriod(_ b: Span<UInt8>) throws(MeterError) -> BillingPeriod {
        guard Scheme.billsOnMeter else { throw .statementRejected(.wrongScheme) }
        guard b.count >= Statement.headerBytes + 33 else { throw .statementRejected(.malformed) }
        let epoch = BigEndian.load32(b, at: 4)
        guard BigEndian.load32(b, at: 8) == 0, BigEndian.load32(b, at: 12) == record.group, record.group != 0 else {
            throw .statementRejected(.wrongSubject)
        }
        // Signed for the group's current epoch: the only one whose aggregator the meter talks to.
        guard epoch >= record.groupEpoch else { throw .statementRejected(.staleEpoch) }
        guard epoch == record.groupEpoch else { throw .statementRejected(.wrongSubject) }
        var p = BillingPeriod()
        p.state = .queued
        p.tariffEpoch = epoch
        p.first = BigEndian.load64(b, at: 16)
        p.last = BigEndian.load64(b, at: 24)
        let count = Int(b[48])
        guard count >= 1 else { throw .billingRejected(.malformed) }
        guard count <= MeterBill.maxClasses else { throw .billingRejected(.tooManyClasses) }
        var i = 49
        for _ in 0..<count {
            guard i + 5 <= b.count else { throw .billingRejected(.malformed) }
            i += 5 + Int(b[i + 4])
        }
        guard i + 25 <= b.count else { throw .billingRejected(.malformed) }
        for h in 0..<24 {
            let c = b[i + h]
            guard Int(c) < count else { throw .billingRejected(.malformed) }
            p.hourClasses |= UInt64(c) << UInt64(2 * h)
        }
        i += 24
        i += 1 + Int(b[i])
        guard i + 4 == b.count else { throw .billingRejected(.malformed) }
        p.supplier = BigEndian.load32(b, at: i)
        p.classCount = UInt8(count)
        guard p.supplier != 0, p.first <= p.last, p.last < .max else { throw .billingRejected(.malformed) }
        guard p.last - p.first + 1 >= MeterBill.minimumPeriodLabels else { throw .billingRejected(.periodTooShort) }
        guard billingJournal != nil else { throw .billingRejected(.unavailable) }
        guard p.first >= labelFloor else { throw .billingRejected(.periodStarted) }
        for k in 0..<2 where billing.periods[k].state != .empty {
            guard p.first > billing.periods[k].last else { throw .billingRejected(.overlapsPeriod) }
        }
        guard billing.periods[1].state == .empty else { throw .billingRejected(.busy) }
        return p
    }
}
