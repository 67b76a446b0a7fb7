// The meter firmware's core, shared by every scheme's image: boot, the main loop
// tick → sample → integrate energy → at the 15-minute boundary encrypt, frame, send, the
// radio, the label counter, the key store and the outbox. The scheme (MeterScheme.swift)
// encrypts; the core decides when, and keeps every reading on flash until acknowledged.
//
// Everything lives in fixed-size buffers inside `Meter`; nothing allocates.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// One meter's firmware state: the core's, and `Scheme`'s.
public struct Meter<Scheme: MeterScheme & ~Copyable>: ~Copyable {
    public let board: Board
    public let timing: MeterTiming
    var store: KeyStore
    var outbox: Outbox
    var energy: EnergyStore
    /// The billing journal (Billing.swift); nil in an image whose scheme bills elsewhere
    /// (Paillier) or on a flash without its sectors.
    var billingJournal: Journal<BillingRecord>?
    /// The billing periods and their totals, as the journal's newest slot has them (but for
    /// a reading counted after a slot that could not be written).
    var billing = BillingRecord()
    /// Billing journal slots that could not be written since boot (the reading was stored
    /// anyway; docs/spec/billing.md, "Power cuts").
    public internal(set) var billingWriteFailures = 0
    public let layout: MeterFlashLayout
    var record = MeterRecord()
    var storeState: KeyStoreError? = .empty
    /// The label counter: no label below it is encrypted, ever. The larger of the key
    /// store's floor and the outbox's newest label + 1.
    var labelFloor: UInt64 = 0
    /// What the first poll after boot reports (corruption found, or a flip corrected).
    var bootStatus: StatusCode? = nil
    var bootResendDone = false
    /// A repair made while running (the expanded key rewritten from its seed), to report.
    var repairToReport = false
    /// Flipped bits corrected since boot (key store, outbox, expanded key).
    public internal(set) var repairs = 0

    // metrology (docs/spec/readings.md)
    var lastSampleTick: UInt64
    /// Energy since the last whole Wh taken, in mW·ticks.
    var registerMilliwattTicks: UInt64 = 0
    /// Whole Wh measured and not yet in a stored reading: the excess above the group's
    /// maximum, a reading whose store failed, a register restored at boot. At most
    /// `carryBound`.
    var carriedWattHours: UInt64 = 0
    /// Wh dropped because the carry would have exceeded its bound: counted here, never sent.
    public private(set) var lostWattHours: UInt64 = 0
    /// A label whose reading could not be stored: retried at the next polls, given up at
    /// the next boundary (its energy stays carried).
    var retryLabel: UInt64? = nil
    var retriesLeft = 0
    /// Set once the energy register was saved at a power-fail warning: the meter waits
    /// for the reset.
    var powerFailHandled = false

    // signed statements arriving in chunks (Statements.swift)
    var statementBody = InlineArray<512, UInt8>(repeating: 0)
    var statementLength = 0
    var statementEpoch: UInt32 = 0
    var statementGroup: UInt32 = 0
    var statementNextChunk = 0
    var statementVerifier: SLHDSAVerifier? = nil

    // the frame key of the last (group, epoch) used, derived from the frame secret
    var frameKeyCacheGroup: UInt32 = 0
    var frameKeyCacheEpoch: UInt32 = 0
    /// Kept as the frame MAC keyed with it (KMAC128 after its two key blocks, not the key's
    /// bytes): a tag is then one Keccak-f[1600] instead of three. nil: nothing cached.
    var frameMacCache: KMAC128? = nil

    var frame = InlineArray<1064, UInt8>(repeating: 0)
    var inbox = InlineArray<1064, UInt8>(repeating: 0)

    // the customer's detail (CustomerDetail.swift, docs/spec/customer-detail.md)
    /// Sealed detail frames until their reading is acknowledged; nil on a flash without
    /// the ring (the detail is then sent once and not kept).
    var detailRing: Outbox?
    /// Energy of the running minute in mW·ticks, counted from `minuteStart`.
    var minuteEnergy: UInt64 = 0
    var minuteStart: UInt64
    /// The running interval's 1-minute values (average W) and which of them were measured whole.
    var minutes = InlineArray<15, UInt16>(repeating: 0)
    var minuteMask: UInt16 = 0
    /// The last closed interval's 1-minute values, for its detail frame.
    var closedMinutes = InlineArray<15, UInt16>(repeating: 0)
    var closedMinuteMask: UInt16 = 0
    var closedMinuteLabel: UInt64 = .max
    /// The customer key's AES-GCM (round keys and H), keyed for `customerCipherKey`: the
    /// key schedule and H = E_K(0) once per customer key, not at every label.
    var customerCipher: AESGCM? = nil
    var customerCipherKey = InlineArray<16, UInt8>(repeating: 0)
    /// The customer verifier v of `customerCipherKey` (CustomerDetail.verifier), computed with
    /// the cipher and sent in clear in every detail frame: the service's index, never a key.
    var customerVerifier = InlineArray<16, UInt8>(repeating: 0)

    /// The scheme's state. Internal: the read accessor of a public stored `~Copyable`
    /// property may allocate (docs/testing.md, "The firmware check").
    var scheme = Scheme()

    /// Boots the meter: reads the key store and the outbox. A meter with an empty store
    /// comes up unprovisioned, one with a corrupt store reports it; both refuse to encrypt.
    public init(board: Board, timing: MeterTiming, keyStoreSector: UInt32 = 0) throws(MeterError) {
        self.board = board
        self.timing = timing
        let layout = MeterFlashLayout(sectorSize: board.sectorSize, keyStoreSector: keyStoreSector)
        let store: KeyStore
        let outbox: Outbox
        let energy: EnergyStore
        do {
            store = try KeyStore(board: board, firstSector: keyStoreSector)
            outbox = try Self.makeOutbox(board: board, layout: layout)
            energy = try EnergyStore(board: board, firstSector: layout.energySector)
        } catch {
            throw .keyStore(error)
        }
        self.layout = layout
        self.store = store
        self.outbox = outbox
        self.energy = energy
        detailRing = try? Outbox(
            board: board, firstSector: layout.detailSector, sectorCount: layout.detailSectors,
            maxFrameBytes: CustomerDetail.frameBytes)
        if Scheme.billsOnMeter {
            billingJournal = try? Journal(board: board, firstSector: layout.billingSector)
        }
        lastSampleTick = board.ticks / timing.sampleTicks * timing.sampleTicks
        minuteStart = lastSampleTick
        boot()
    }

    mutating func boot() {
        do {
            record = try store.load()
            storeState = nil
        } catch {
            storeState = error
        }
        var outboxState: KeyStoreError? = nil
        do { try outbox.load() } catch { outboxState = error }
        if storeState == nil, outboxState == nil, !outbox.isFormatted {
            // Provisioning formats the image's ring: a valid key store over a ring with no
            // formatted sector means the ring was erased, and with it the label counter (or
            // the store was provisioned by another scheme's image: commission it again).
            outboxState = .corrupt
        }
        if storeState == nil, let e = outboxState {
            // Without a trustworthy outbox the label counter is unknown: encrypt nothing.
            storeState = e == .empty ? .corrupt : e
        }
        labelFloor = record.nextLabel
        if let newest = outbox.newestLabel {
            // Values from flash are never trusted for arithmetic: no label follows 2^64 − 1,
            // so an entry claiming it was not written by this firmware.
            if newest == .max {
                if storeState == nil { storeState = .corrupt }
            } else if newest + 1 > labelFloor {
                labelFloor = newest + 1
            }
        }
        if storeState == .corrupt {
            bootStatus = .keyStoreCorrupt
        } else if storeState == nil && (store.corrected > 0 || outbox.corrected > 0) {
            repairs += store.corrected + outbox.corrected
            // Rewrite the key state with fresh bits; a corrected outbox entry stays readable.
            if store.newestCorrected { try? store.save(record) }
            bootStatus = .keyStoreRepaired
        }
        Scheme.boot(&self)
        restoreEnergy()
        loadDetailRing()
        loadBilling()
    }

    /// Takes back the energy register saved at the last power-fail warning, if no reading
    /// was stored since, and makes the next save an erase-free one.
    mutating func restoreEnergy() {
        guard let saved = try? energy.load() else {
            try? energy.prepare()
            return
        }
        try? energy.prepare()
        lostWattHours = saved.lostWattHours
        guard storeState == nil, saved.ticksPerSecond == board.ticksPerSecond, saved.label >= labelFloor else { return }
        let unit = wattHourUnit
        addToCarry(saved.carriedWattHours)
        addToCarry(saved.registerMilliwattTicks / unit)
        registerMilliwattTicks = saved.registerMilliwattTicks % unit
    }

    // MARK: - state seen from outside

    public var meterID: UInt32 { record.meter }
    public var groupID: UInt32 { record.group }
    /// nil when the store is empty or corrupt. A key setup cut short by a reboot reads
    /// as `.provisioned`: its state in RAM is gone, the aggregator starts it again.
    public var phase: MeterPhase? {
        guard storeState == nil else { return nil }
        return record.phase == .keySetup && !Scheme.isSettingUp(self) ? .provisioned : record.phase
    }
    /// The first label not yet encrypted. Never goes backwards.
    public var nextLabel: UInt64 { labelFloor }
    /// Why the store is unusable (empty or corrupt), or nil.
    public var storeError: KeyStoreError? { storeState }
    /// The persistent state as the meter booted it (or last wrote it); nil when unusable.
    public var storedRecord: MeterRecord? { storeState == nil ? record : nil }
    /// Outbox sectors retired as worn since boot.
    public var retiredOutboxSectors: Int { outbox.retiredSectors }
    /// Unacknowledged readings in the outbox.
    public var pendingReadings: Int { outbox.pendingCount }
    /// Unacknowledged readings the outbox dropped since boot (full, or a rotation found no
    /// sector whose entries fit).
    public var droppedReadings: Int { outbox.droppedEntries }
    /// The label of the i-th unacknowledged reading, oldest first.
    public func pendingLabel(_ i: Int) -> UInt64 { outbox.pendingLabel(i) }
    /// The stored frame of the i-th unacknowledged reading; returns its length.
    public func pendingFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int {
        try outbox.pendingFrame(i, into: &out)
    }
    /// The group of the i-th unacknowledged reading (one group per frame; Paillier
    /// readings go to several).
    public func pendingGroup(_ i: Int) -> UInt32 { outbox.pendingGroup(i) }
    public var keyMode: KeyMode { record.keyMode }
    /// The label whose interval contains the current tick.
    public var currentLabel: UInt64 { board.ticks / timing.intervalTicks }

    // MARK: - provisioning (factory)

    /// Writes identity and keys at the factory: the meter's id, its frame secret and
    /// enrolment key (both shared with the provisioning authority alone) and the
    /// authority's public key. The meter belongs to no group until a signed statement puts
    /// it in one. Formats an empty or corrupt store.
    public mutating func provision(
        meter: UInt32, frameSecret: Span<UInt8>, enrolmentKey: Span<UInt8>, authorityKey: Span<UInt8>,
        minGroupSize: UInt32 = 2
    ) throws(MeterError) {
        precondition(
            frameSecret.count == 32 && enrolmentKey.count == 32 && authorityKey.count == Statement.authorityKeyBytes,
            "keys have 32 bytes")
        var r = MeterRecord()
        r.meter = meter
        for k in 0..<32 {
            r.frameSecret[k] = frameSecret[k]
            r.enrolmentKey[k] = enrolmentKey[k]
            r.authorityKey[k] = authorityKey[k]
        }
        r.minGroupSize = max(minGroupSize, 2)
        // The customer key: from the board RNG, so that only the meter (and the customer it
        // shows the code to) ever holds it; the authority knows the factory secrets and
        // must not be able to derive it. A new provisioning (a new customer) draws a new one.
        var customerKey = InlineArray<16, UInt8>(repeating: 0)
        var customerKeySpan = customerKey.mutableSpan
        board.randomBytes(into: &customerKeySpan)
        r.customerKey = customerKey
        r.hasCustomerKey = true
        for k in 0..<16 { customerKey[k] = 0 }
        // A re-provisioned meter never reuses labels it knows of, in either ring: a meter
        // commissioned for another scheme has its old scheme's labels in the other one.
        r.nextLabel = max(labelFloor, otherRingFloor())
        do {
            if storeState != nil {
                try store.format()
                try outbox.format()
            }
            try store.save(r)
        } catch {
            throw .keyStore(error)
        }
        record = r
        labelFloor = r.nextLabel
        // The detail ring: formatted now rather than at the first reading's boundary (its
        // frames from before were sealed under the previous customer key). Best effort.
        if storeState != nil || detailRing?.isFormatted == false { try? detailRing?.format() }
        // Billing periods belong to the identity (its bill key): the new one holds none.
        clearBilling()
        storeState = nil
        bootStatus = nil
        frameMacCache = nil
        scheme = Scheme()  // the new identity holds no key of the scheme yet
    }

    /// One past the newest label in the ring of the other schemes' images (0 when it holds
    /// none, or cannot be read).
    // Not inlined: its outbox lives on the stack only while provisioning.
    @inline(never)
    func otherRingFloor() -> UInt64 {
        let other: OutboxRing = Scheme.outboxRing == .narrow ? .wide : .narrow
        guard var outbox = try? Self.makeOutbox(board: board, layout: layout, ring: other),
            (try? outbox.load()) != nil, let newest = outbox.newestLabel, newest < .max
        else { return 0 }
        return newest + 1
    }

    // MARK: - main loop

    /// The firmware's main loop on `board`, for an image's entry point: boots, then polls
    /// and works while idle, forever. A board whose flash cannot hold the firmware's
    /// structures leaves the meter doing nothing.
    public static func run(board: Board, timing: MeterTiming) -> Never {
        guard var meter = try? Meter(board: board, timing: timing) else {
            while true {}
        }
        while true {
            _ = meter.poll()
            meter.idle()
        }
    }

    /// One pass of the main loop: handles one received frame, integrates the samples
    /// due by now, and at an interval boundary encrypts and sends the reading.
    public mutating func poll() -> MeterEvent {
        if powerFailHandled { return .none }
        if board.powerFailing { return savePowerFail() }
        var event = MeterEvent.none
        if let status = bootStatus {
            bootStatus = nil
            if let e = reportError(.keyStoreCorrupt, detail: 0, code: status) {
                event = e
            }
        }
        if !bootResendDone {
            bootResendDone = true
            resendPending()
        }
        if let label = retryLabel, retriesLeft > 0 {
            retriesLeft -= 1
            if let e = storeReading(label, report: false) { event = e }
            if powerFailHandled { return event }
        }
        if let e = handleRadio() { event = e }
        if powerFailHandled { return event }
        let now = board.ticks
        while lastSampleTick + timing.sampleTicks <= now {
            sample()
            if lastSampleTick % timing.intervalTicks == 0 {
                let label = lastSampleTick / timing.intervalTicks - 1
                if let e = closeInterval(label) { event = e }
                if powerFailHandled { return event }
            }
        }
        return event
    }

    /// Integrates one ADC sample into the register (and the running minute).
    mutating func sample() {
        let mw = UInt64(board.sampleMilliwatts())
        let (e, o) = mw.multipliedReportingOverflow(by: timing.sampleTicks)
        registerMilliwattTicks = o ? .max : saturatingAdd(registerMilliwattTicks, e)
        minuteEnergy = o ? .max : saturatingAdd(minuteEnergy, e)
        lastSampleTick += timing.sampleTicks
        if lastSampleTick % minuteTicks == 0 { closeMinute() }
    }

    /// The power-fail warning: integrates the samples due, writes the energy register
    /// (two program operations of the granted budget) and stops until the reset. A reading
    /// being stored when the warning came was abandoned before; its energy is in the carry.
    mutating func savePowerFail() -> MeterEvent {
        powerFailHandled = true
        while lastSampleTick + timing.sampleTicks <= board.ticks { sample() }
        guard board.powerFailFlashOperations >= 2 else { return .none }
        var r = EnergyRecord()
        r.label = labelFloor
        r.registerMilliwattTicks = registerMilliwattTicks
        r.carriedWattHours = storeState == nil ? carriedWattHours : 0
        r.lostWattHours = lostWattHours
        r.ticksPerSecond = board.ticksPerSecond
        do { try energy.save(r) } catch { return .none }
        return .energySaved
    }

    /// The outbox over `ring` (default: the ring of the image's scheme).
    static func makeOutbox(
        board: Board, layout: MeterFlashLayout, ring: OutboxRing = Scheme.outboxRing
    ) throws(KeyStoreError) -> Outbox {
        switch ring {
        case .narrow:
            return try Outbox(board: board, firstSector: layout.outboxSector, sectorCount: layout.outboxSectors)
        case .wide:
            return try Outbox(
                board: board, firstSector: layout.wideOutboxSector, sectorCount: layout.wideOutboxSectors,
                maxFrameBytes: MeterFlashLayout.wideFrameBytes)
        }
    }

    /// a + b, saturating at 2^64 − 1.
    @inline(__always) func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? .max : r
    }

    /// Idle work between boundaries: the scheme's precomputation for the next label (the
    /// pad F_k(l) of LWR-PSA, a randomizer of Paillier), so that the boundary costs little.
    /// Returns true if it did work.
    @discardableResult
    public mutating func idle() -> Bool {
        guard storeState == nil, Scheme.isReady(&self) else { return false }
        return Scheme.idle(&self)
    }

    /// True when the next label's precomputation is done, so its boundary is one step
    /// (the outbox, not the key store, holds the label counter).
    public var padPrecomputed: Bool { Scheme.isPrecomputed(self) }

    /// True when the meter encrypts its readings: a valid key store and the scheme's key.
    public var isReady: Bool {
        mutating get { storeState == nil && Scheme.isReady(&self) }
    }

    /// mW·ticks per Wh.
    var wattHourUnit: UInt64 { 3_600_000 * UInt64(board.ticksPerSecond) }

    /// Energy since the last boundary, in whole Wh (the remainder stays in the register).
    mutating func takeIntervalEnergy() -> UInt64 {
        let unit = wattHourUnit
        let wattHours = registerMilliwattTicks / unit
        registerMilliwattTicks %= unit
        return wattHours
    }

    /// The largest reading the scheme encrypts: the group's signed maximum (LWR-PSA,
    /// DMCFE); Paillier has none below 2^64.
    var readingMaximum: UInt64 {
        mutating get { Scheme.readingMaximum(&self) }
    }

    /// Intervals per day at 15-minute labels: the carry holds at most one day of maxima.
    static var carryIntervals: UInt64 { 96 }

    /// The carry's bound: `carryIntervals` maxima (saturating).
    var carryBound: UInt64 {
        mutating get {
            let (b, o) = readingMaximum.multipliedReportingOverflow(by: Self.carryIntervals)
            return o ? .max : b
        }
    }

    /// Adds Wh to the carry; what goes beyond its bound is counted as lost, never sent.
    mutating func addToCarry(_ wattHours: UInt64) {
        let total = saturatingAdd(carriedWattHours, wattHours)
        let bound = carryBound
        if total > bound {
            lostWattHours = saturatingAdd(lostWattHours, total - bound)
            carriedWattHours = bound
        } else {
            carriedWattHours = total
        }
    }

    /// Whole Wh measured and not yet in a stored reading.
    public var carriedEnergy: UInt64 { carriedWattHours }

    mutating func closeInterval(_ label: UInt64) -> MeterEvent? {
        closeMinutes(label)
        let measured = takeIntervalEnergy()
        retryLabel = nil  // a label whose store kept failing is given up; its energy is carried
        guard storeState == nil, Scheme.isReady(&self), label >= labelFloor else {
            carriedWattHours = 0  // no group to report to: this energy is in no group's sum
            return nil
        }
        addToCarry(measured)
        retriesLeft = 3
        return storeReading(label, report: true)
    }

    /// Encrypts the carry, at most the maximum, under `label` and stores and sends it; what
    /// is above the maximum stays carried into the following intervals. When the store
    /// fails, the energy stays carried, the label is retried at the next polls (until the
    /// next boundary), a status with the code only is sent (`report`), and the pending
    /// readings are sent again so their acks can come back.
    mutating func storeReading(_ label: UInt64, report: Bool) -> MeterEvent? {
        let reading = min(carriedWattHours, readingMaximum)
        carriedWattHours -= reading
        do {
            try encryptAndSend(label: label, reading: reading)
        } catch {
            addToCarry(reading)  // exactly what was taken: never above the bound
            if board.powerFailing { return savePowerFail() }
            if case .labelAlreadyEncrypted = error {
                retryLabel = nil
                return nil
            }
            retryLabel = label
            let event = report ? reportError(error, detail: 0) : nil
            resendPending(before: label)
            return event
        }
        retryLabel = nil
        resendPending(before: label)
        return .readingSent(label: label, reading: reading)
    }

    /// Sends again every unacknowledged reading below `label`, byte for byte as stored.
    /// Returns how many frames went out.
    @discardableResult
    public mutating func resendPending(before label: UInt64 = .max) -> Int {
        guard storeState == nil else { return 0 }
        var sent = 0
        var i = 0
        while i < outbox.pendingCount && outbox.pendingLabel(i) < label {
            var f = frame.mutableSpan
            let length: Int
            do {
                length = try outbox.pendingFrame(i, into: &f)
            } catch {
                // A flash that cannot be read (power lost) is no verdict on the entry.
                guard error == .corrupt else { break }
                // More flips than one since boot: this reading is lost. Its label stays
                // used (the counter is in RAM); let the entry go and report it.
                let lost = outbox.pendingLabel(i)
                outbox.forget(i)  // the entry fails its checks: no mark is worth programming
                _ = reportError(.keyStoreCorrupt, detail: lost)
                continue
            }
            do { try board.send(frame.span.extracting(0..<length)) } catch { break }
            sent += 1
            i += 1
        }
        resendDetail(before: label)
        Scheme.resendExtra(&self, before: label)
        resendBills()
        return sent
    }

    /// Encrypts `reading` under `label`, writes the sealed frame to the outbox, then
    /// sends it. A label is never encrypted twice: the frame (and with it the label
    /// counter) is on flash before it leaves the meter, and it is re-sent as stored
    /// until acknowledged. A radio that refuses the frame is not an error here.
    public mutating func encryptAndSend(label: UInt64, reading: UInt64) throws(MeterError) {
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        guard Scheme.isReady(&self) else { throw .notReady }
        // No label follows 2^64 − 1: refused rather than let the counter wrap.
        guard label >= labelFloor, label < .max else {
            throw .labelAlreadyEncrypted(label: label, next: labelFloor)
        }
        try Scheme.encryptAndSend(&self, label: label, reading: reading)
        sendCustomerDetail(label: label, reading: reading)
        if repairToReport {
            // A repair while encrypting (the expanded key rewritten from its seed).
            repairToReport = false
            _ = reportError(.keyStore(.corrupt), detail: 0, code: .keyStoreRepaired)
        }
    }

    /// Seals the reading whose `payloadLength`-byte ciphertext is in `frame` for the
    /// meter's group, stores it in the outbox (moving the label counter past `label`), then
    /// sends it: the step after encryption for a scheme with one frame per label. The
    /// `reading` (Wh) counts in the billing period that holds `label` (Billing.swift).
    mutating func storeAndSendReading(label: UInt64, reading: UInt64, payloadLength: Int) throws(MeterError) {
        guard Frame.size(payloadLength: payloadLength) <= outbox.frameCapacity else {
            throw .keyStore(.flashTooSmall)
        }
        let length = sealFrame(.reading, label: label, payloadLength: payloadLength)
        let period = billBeforeStore(label: label, reading: reading)
        let dropped: UInt64?
        do { dropped = try outbox.append(label: label, frame: frame.span.extracting(0..<length)) } catch {
            billNotStored()
            throw .keyStore(error)
        }
        labelFloor = label + 1
        do { try board.send(frame.span.extracting(0..<length)) } catch {
            // Stored: the outbox sends it again at the next boundary.
        }
        billAfterStore(label: label, reading: reading, period: period)
        if let d = dropped { _ = reportError(.keyStore(.corrupt), detail: d, code: .outboxOverflow) }
    }

    // MARK: - radio

    mutating func handleRadio() -> MeterEvent? {
        var received: Int? = nil
        // A frame longer than the inbox is dropped by the HAL (MH_ERR_TOO_LONG, once):
        // take the next one. Bounded, so a flood cannot hold the loop.
        for _ in 0..<4 {
            var inSpan = inbox.mutableSpan
            do {
                received = try board.receive(into: &inSpan)
                break
            } catch {
                if error != .tooLong { return nil }
            }
        }
        guard let length = received, length <= inbox.count else { return nil }
        do {
            return try handleDownlink(length)
        } catch {
            // A refused statement says why (a code, no reading): the aggregator can fix a relay.
            if case .statementRejected(let why) = error { return reportError(error, detail: UInt64(why.rawValue)) }
            if case .recoveryRefused(let why) = error { return reportError(error, detail: UInt64(why.rawValue)) }
            if case .statisticsRejected(let why) = error { return reportError(error, detail: UInt64(why.rawValue)) }
            if case .billingRejected(let why) = error { return reportError(error, detail: UInt64(why.rawValue)) }
            return reportError(error, detail: 0)
        }
    }

    mutating func handleDownlink(_ length: Int) throws(MeterError) -> MeterEvent? {
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        let message = inbox  // a copy, so handlers may mutate the meter while reading it
        let bytes = message.span.extracting(0..<length)
        let header: FrameHeader
        do { header = try Frame.parseHeader(bytes) } catch { throw .badDownlink(error) }
        // Every downlink is tagged under the key of its (meter, group, epoch): only an
        // aggregator the authority gave that key speaks for that group and epoch.
        guard header.meter == record.meter, let epoch = downlinkEpoch(header) else { throw .badDownlink(.badTag) }
        guard Frame.verify(bytes, mac: frameMac(group: header.group, epoch: epoch)) else {
            throw .badDownlink(.badTag)
        }
        let payload = bytes.extracting(Frame.payloadRange(header))
        switch header.type {
        case .statement:
            return try receiveStatementChunk(header, epoch: epoch, payload)
        case .ack:
            let acknowledged: Bool
            do { acknowledged = try outbox.acknowledge(label: header.label, group: header.group) } catch {
                throw .keyStore(error)
            }
            // The reading's acknowledgement lets its sealed detail go too (best effort).
            _ = try? detailRing?.acknowledge(label: header.label, group: header.group)
            Scheme.acknowledged(&self, header, frame: bytes)
            return acknowledged ? .acknowledged(label: header.label) : nil
        case .billAck:
            return acknowledgeBill(label: header.label)
        default:
            return try Scheme.handleDownlink(&self, header, epoch: epoch, payload)
        }
    }

    /// The epoch whose frame key must tag `header`: an enrolment request names it in its
    /// label, a statement chunk in its label's high half; everything else speaks for the
    /// meter's current group (its accepted group epoch) or one of its Paillier groups, as
    /// the scheme says.
    /// nil when the frame's group is none of the meter's.
    // `mutating` only so that `self` is passed by address (see `LWRScheme.computePad`).
    public mutating func downlinkEpoch(_ header: FrameHeader) -> UInt32? {
        switch header.type {
        case .enrolRequest:
            return header.label <= UInt64(UInt32.max) ? UInt32(header.label) : nil
        case .statement:
            return UInt32(truncatingIfNeeded: header.label >> 32)
        default:
            return Scheme.downlinkEpoch(&self, group: header.group)
        }
    }

    /// The frame MAC of (this meter, `group`, `epoch`), keyed with the frame key derived from
    /// the frame secret of `identity` (the last one is cached: readings use the same key every
    /// interval).
    mutating func frameMac(group: UInt32, epoch: UInt32, identity: MeterRecord? = nil) -> KMAC128 {
        if identity == nil && frameKeyCacheGroup == group && frameKeyCacheEpoch == epoch, let mac = frameMacCache {
            return mac
        }
        var key = InlineArray<32, UInt8>(repeating: 0)
        var keySpan = key.mutableSpan
        let secret = identity?.frameSecret ?? record.frameSecret
        FrameKeys.derive(secret: secret.span, group: group, epoch: epoch, into: &keySpan)
        let mac = Frame.mac(key: key.span)
        for k in 0..<32 { key[k] = 0 }
        guard identity == nil else { return mac }
        frameMacCache = mac
        frameKeyCacheGroup = group
        frameKeyCacheEpoch = epoch
        return mac
    }

    /// Seals the payload already in `frame` under the key of (meter, group, epoch); returns
    /// the length. `identity` overrides the meter's record (a corrupt store's status report).
    mutating func seal(_ header: FrameHeader, epoch: UInt32, identity: MeterRecord? = nil) -> Int {
        let mac = frameMac(group: header.group, epoch: epoch, identity: identity)
        var f = frame.mutableSpan
        return Frame.seal(header, mac: mac, frame: &f)
    }

    /// Seals the payload already in `frame` for the meter's current group; returns the length.
    /// With a corrupt store, a status report goes out under the newest intact identity
    /// (authentication only: nothing is ever encrypted under it).
    mutating func sealFrame(_ type: FrameType, label: UInt64, payloadLength: Int) -> Int {
        if storeState != .corrupt {  // the usual case: no copy of the record
            let header = FrameHeader(
                type: type, scheme: Scheme.schemeID, group: record.group, meter: record.meter, label: label,
                payloadLength: payloadLength)
            return seal(header, epoch: record.groupEpoch)
        }
        let intact = storeState == .corrupt ? store.lastIntact : nil
        let identity = intact ?? record
        let header = FrameHeader(
            type: type, scheme: Scheme.schemeID, group: identity.group, meter: identity.meter, label: label,
            payloadLength: payloadLength)
        return seal(header, epoch: identity.groupEpoch, identity: intact)
    }

    mutating func sendFrame(_ type: FrameType, label: UInt64, payloadLength: Int) throws(MeterError) {
        let length = sealFrame(type, label: label, payloadLength: payloadLength)
        do { try board.send(frame.span.extracting(0..<length)) } catch { throw .board(error) }
    }

    /// Reports an error over the radio as a status frame (best effort). `code`, when
    /// given, overrides the code derived from the error.
    ///
    /// Status frames are authenticated, not encrypted: they carry codes, never a reading or
    /// anything computed from one. `detail` may hold 0, a label (the reading dropped from a
    /// full outbox, one lost to flipped bits) or a count the aggregator already knows (the
    /// peers of a finished setup); nothing else. A reading above the maximum sends nothing
    /// (`readingAboveMaximum` would tell which interval was clamped).
    mutating func reportError(_ error: MeterError, detail: UInt64, code override: StatusCode? = nil) -> MeterEvent? {
        let code: StatusCode
        if let override {
            code = override
        } else {
            switch error {
            case .notProvisioned: code = .needsProvisioning
            case .keyStoreCorrupt: code = .keyStoreCorrupt
            case .readingAboveMaximum: return nil
            case .setupRejected: code = .setupRejected
            case .peerKeyRejected: code = .peerKeyRejected
            case .keyStore: code = .keyStoreWriteFailed
            case .paillierKeyRejected: code = .paillierKeyRejected
            case .statementRejected: code = .statementRejected
            case .recoveryRefused: code = .recoveryRefused
            case .statisticsRejected: code = .statementRejected
            case .billingRejected: code = .billingRejected
            default: return nil
            }
        }
        guard storeState == nil || code == .needsProvisioning || code == .keyStoreCorrupt else { return nil }
        var f = frame.mutableSpan
        BigEndian.store(code.rawValue, at: Frame.headerBytes, in: &f)
        BigEndian.store(detail, at: Frame.headerBytes + 2, in: &f)
        do { try sendFrame(.status, label: labelFloor, payloadLength: 10) } catch { return nil }
        return .statusSent(code)
    }
}
