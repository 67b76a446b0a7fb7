// The meter's firmware: boot, key setup, and the main loop
// tick → sample → integrate energy → at the 15-minute boundary encrypt, frame, send.
//
// Everything lives in fixed-size buffers inside `Meter`; nothing allocates.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

/// Why the firmware refused or failed an operation.
public enum MeterError: Error, Equatable, Sendable {
    /// No valid key store: the meter needs provisioning and encrypts nothing.
    case notProvisioned
    /// The key store holds slots but none is valid: corruption, never used to encrypt.
    case keyStoreCorrupt
    /// Key setup has not completed: there is no group key to encrypt under.
    case notReady
    /// The label was encrypted before (or lies before one that was): never again.
    case labelAlreadyEncrypted(label: UInt64, next: UInt64)
    /// The reading exceeds the group's agreed maximum; it is not wrapped (the main loop
    /// never asks: it clamps to the maximum and carries the excess, docs/spec/readings.md).
    case readingAboveMaximum(reading: UInt64, maximum: UInt64)
    /// Key-setup parameters this meter does not accept.
    case setupRejected(SetupRejection)
    /// A peer public key that is not authentic or not a valid group element.
    case peerKeyRejected(peer: UInt32)
    /// A downlink frame that is malformed, for another meter, or not authentic.
    case badDownlink(FrameError)
    /// A downlink frame that makes no sense in the meter's current phase.
    case unexpectedDownlink(FrameType)
    /// The key store could not be written; nothing was sent.
    case keyStore(KeyStoreError)
    /// The radio or the flash failed.
    case board(BoardError)
    /// A Paillier key statement whose key is not usable (size, parity, groups).
    case paillierKeyRejected
    /// A statement that is not signed by the authority, not newer, or not for this meter.
    case statementRejected(StatementRejection)
}

/// Why a signed statement was refused (nothing the meter holds changed).
public enum StatementRejection: UInt8, Equatable, Sendable {
    /// Layout, length, kind or version the meter does not take.
    case malformed = 1
    /// The signature does not verify under the authority's key.
    case badSignature = 2
    /// Not newer than the statement of its kind the meter holds (a replay or a rollback).
    case staleEpoch = 3
    /// For another meter, or for a group and epoch the meter holds no enrolled key for.
    case wrongSubject = 4
    /// A chunk that does not continue the statement in progress.
    case outOfOrder = 5
    /// A fresh enrolment within a day of the last one (flash wear): the aggregator asks again later.
    case enrolmentTooSoon = 6
}

/// Why key setup was refused.
public enum SetupRejection: UInt8, Equatable, Sendable {
    /// The parameter set id is unknown.
    case unknownParameters = 1
    /// The group is smaller than the meter's minimum.
    case groupTooSmall = 2
    /// n·(n·x_max + 1) ≥ p: sums could wrap.
    case capacityExceeded = 3
    /// An unknown key mode.
    case unknownKeyMode = 4
    /// The payload has the wrong size.
    case malformed = 5
    /// More peers than the meter's flash holds seeds for (DMCFE).
    case groupTooLarge = 6
}

/// Status codes the meter reports in status frames.
public enum StatusCode: UInt16, Sendable {
    case needsProvisioning = 1
    case keyStoreCorrupt = 2
    /// Never sent: it would tell which interval was clamped (readings above the maximum are
    /// encrypted as the maximum and the excess carried, docs/spec/readings.md).
    case readingAboveMaximum = 3
    case setupRejected = 4
    case peerKeyRejected = 5
    case keyStoreWriteFailed = 6
    case setupComplete = 7
    /// A flipped bit in the key store or the outbox was corrected; the state is intact.
    case keyStoreRepaired = 8
    /// The outbox was full: the oldest unacknowledged reading (label in the detail) was dropped.
    case outboxOverflow = 9
    /// A Paillier key statement carried a key that is not usable.
    case paillierKeyRejected = 10
    /// A signed statement was refused (`StatementRejection` code in the detail).
    case statementRejected = 11
}

/// Timing of the main loop.
public struct MeterTiming: Sendable {
    /// Ticks between ADC samples; must divide `intervalTicks`.
    public var sampleTicks: UInt64
    /// Ticks per label (15 minutes).
    public var intervalTicks: UInt64

    public init(ticksPerSecond: UInt32, sampleSeconds: UInt64 = 1, intervalSeconds: UInt64 = 900) {
        sampleTicks = UInt64(ticksPerSecond) * sampleSeconds
        intervalTicks = UInt64(ticksPerSecond) * intervalSeconds
        precondition(
            sampleTicks > 0 && intervalTicks % sampleTicks == 0,
            "the sample period must divide the interval")
    }
}

/// What one call to `poll` did, for the simulator's bookkeeping.
public enum MeterEvent: Equatable, Sendable {
    case none
    /// A reading for `label` was encrypted and sent.
    case readingSent(label: UInt64, reading: UInt64)
    /// The meter sent a freshly enrolled DH public key (for the authority's roster).
    case publicKeySent
    /// A signed statement verified and took effect (group parameters: key setup started).
    case statementAccepted(StatementKind)
    /// All roster entries were processed and the masked key share was sent.
    case keyShareSent
    /// The meter reported an error in a status frame.
    case statusSent(StatusCode)
    /// The aggregator acknowledged the reading for `label`; the outbox let it go.
    case acknowledged(label: UInt64)
    /// The board warned of a power failure: the meter saved its energy register and does
    /// nothing more until it is rebooted.
    case energySaved
}

/// Where the firmware keeps what on flash, in sectors: the key store (2), the expanded
/// key (λ words), the energy register (2), the outbox ring (docs/spec/flash-format.md).
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
    /// One past the last sector the firmware uses.
    public var endSector: UInt32 { outboxSector + outboxSectors }

    public init(sectorSize: UInt32, keyStoreSector: UInt32 = 0, outboxSectors: UInt32 = 4) {
        self.sectorSize = sectorSize
        self.keyStoreSector = keyStoreSector
        expandedKeySector = keyStoreSector + 2
        expandedKeySectors = (UInt32(LWRParameters.maxLambda * 8) + sectorSize - 1) / sectorSize
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
}

/// Key-setup payload layouts (uplink publicKey / keyShare; the downlink rosterEntry is
/// `Roster.entryBytes`).
public enum SetupPayload {
    /// publicKey: y (384 big-endian) | enrolment tag (16)
    public static let publicKeyBytes = Enrolment.payloadBytes
    /// Key words per keyShare frame.
    public static let shareWordsPerChunk = 128
    /// keyShare: 128 words little-endian.
    public static let shareChunkBytes = shareWordsPerChunk * 8
}

/// One meter's firmware state.
public struct Meter: ~Copyable {
    public let board: Board
    public let timing: MeterTiming
    var store: KeyStore
    var outbox: Outbox
    var energy: EnergyStore
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
    public private(set) var repairs = 0

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

    // PRF precomputation: the pad for `padLabel`, computed while idle
    var pad: UInt64 = 0
    var padLabel: UInt64 = .max

    // key setup (GroupSetup.swift): k_i + Σ ±Z_ij, accumulated as roster entries arrive
    var share = InlineArray<2048, UInt64>(repeating: 0)
    var peersProcessed: UInt32 = 0
    var lastPeer: UInt32 = 0
    var dhKey: FFDHPrivateKey? = nil
    var expandedSums: (UInt64, UInt64) = (0, 0)
    /// The signed roster's root and depth, the next entry expected, and this meter's own
    /// public-key hash (its own entry must list exactly that).
    var rosterRoot = InlineArray<32, UInt8>(repeating: 0)
    var rosterDepth = 0
    var rosterNext: UInt32 = 0
    var ownKeyHash = InlineArray<32, UInt8>(repeating: 0)
    var ownEntrySeen = false
    /// Tick of the last fresh enrolment since boot (at most one a day: each is a key-store write).
    var lastEnrolmentTick: UInt64? = nil

    // signed statements arriving in chunks (Statements.swift)
    var statementBody = InlineArray<512, UInt8>(repeating: 0)
    var statementLength = 0
    var statementEpoch: UInt32 = 0
    var statementGroup: UInt32 = 0
    var statementNextChunk = 0
    var statementVerifier: SLHDSAVerifier? = nil

    // the frame key of the last (group, epoch) used, derived from the frame secret
    var frameKeyCache = InlineArray<32, UInt8>(repeating: 0)
    var frameKeyCacheGroup: UInt32 = 0
    var frameKeyCacheEpoch: UInt32 = 0
    var frameKeyCacheValid = false

    // DMCFE (DMCFEMeter.swift): the pad of `dmcfePadLabel`, and the weight vector streaming in
    var dmcfePad = Limbs3072.zero
    var dmcfePadLabel: UInt64 = .max
    var weightDigest = XOF(.shake256)
    var weightsExpected: UInt32 = 0
    var weightsSeen: UInt32 = 0
    var lastWeightMeter: UInt32 = 0
    var ownWeight: Int64 = 0
    var ownWeightSeen = false

    var frame = InlineArray<1064, UInt8>(repeating: 0)
    var inbox = InlineArray<1064, UInt8>(repeating: 0)

    // Paillier mode (PaillierMeter.swift): supplier key, groups, precomputed randomizers
    var paillier = PaillierState()

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
            outbox = try Outbox(board: board, firstSector: layout.outboxSector, sectorCount: layout.outboxSectors)
            energy = try EnergyStore(board: board, firstSector: layout.energySector)
        } catch {
            throw .keyStore(error)
        }
        self.layout = layout
        self.store = store
        self.outbox = outbox
        self.energy = energy
        lastSampleTick = board.ticks / timing.sampleTicks * timing.sampleTicks
        boot()
    }

    mutating func boot() {
        do {
            record = try store.load()
            storeState = nil
        } catch {
            storeState = error
        }
        selectOutboxRing(booting: true)  // the Paillier ring when the key store holds a Paillier key
        var outboxState: KeyStoreError? = nil
        do { try outbox.load() } catch { outboxState = error }
        if storeState == nil, outboxState == nil, !outbox.isFormatted, outbox.firstSector == layout.outboxSector {
            // Provisioning formats the LWR-PSA ring: a valid key store over a ring with no
            // formatted sector means the ring was erased, and with it the label counter.
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
        loadPaillier()
        restoreEnergy()
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
        return record.phase == .keySetup && dhKey == nil ? .provisioned : record.phase
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
        r.nextLabel = labelFloor  // a re-provisioned meter never reuses labels it knows of
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
        storeState = nil
        bootStatus = nil
        padLabel = .max
        frameKeyCacheValid = false
        leavePaillierMode()
    }

    // MARK: - main loop

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

    /// Integrates one ADC sample into the register.
    mutating func sample() {
        let mw = UInt64(board.sampleMilliwatts())
        let (e, o) = mw.multipliedReportingOverflow(by: timing.sampleTicks)
        registerMilliwattTicks = o ? .max : saturatingAdd(registerMilliwattTicks, e)
        lastSampleTick += timing.sampleTicks
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

    /// Points `outbox` at the ring the key store's scheme needs (the wide ring for Paillier
    /// and DMCFE frames; with a corrupt store, the newest intact state decides), before the
    /// outbox is read.
    // Not inlined: its buffers would enlarge the frames of the LWR-PSA paths that call it.
    /// Outside boot, a ring with no formatted sector is formatted when it is selected, so
    /// that a ring in use is never blank.
    @inline(never)
    mutating func selectOutboxRing(booting: Bool = false) {
        let intact = storeState == nil ? record : store.lastIntact
        let wide = intact.map { $0.paillierKey != nil || $0.parameterID == DMCFE.parameterID } ?? false
        defer {
            if !booting && storeState == nil {
                var probe = outbox
                if (try? probe.load()) != nil, !probe.isFormatted { try? outbox.format() }
            }
        }
        guard wide != (outbox.firstSector == layout.wideOutboxSector) else { return }
        do {
            outbox =
                wide
                ? try Outbox(
                    board: board, firstSector: layout.wideOutboxSector, sectorCount: layout.wideOutboxSectors,
                    maxFrameBytes: MeterFlashLayout.wideFrameBytes)
                : try Outbox(board: board, firstSector: layout.outboxSector, sectorCount: layout.outboxSectors)
        } catch {
            // Setup checks the flash first: a store naming a ring the board cannot hold is
            // not one this firmware wrote.
            if storeState == nil { storeState = .corrupt }
        }
    }

    /// a + b, saturating at 2^64 − 1.
    @inline(__always) func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? .max : r
    }

    /// Idle work between boundaries: precomputes the pad F_k(l) for the next label,
    /// so the boundary costs one addition. Returns true if it did work.
    @discardableResult
    public mutating func idle() -> Bool {
        if paillierReady { return idlePaillier() }
        guard storeState == nil, record.phase == .ready else { return false }
        if isDMCFE { return dmcfeIdle() }
        guard padLabel != labelFloor else { return false }
        guard let p = try? computePad(label: labelFloor) else { return false }
        pad = p
        padLabel = labelFloor
        return true
    }

    /// True when the pad of the next label to encrypt is ready, so its boundary is one
    /// addition (the outbox, not the key store, holds the label counter).
    public var padPrecomputed: Bool { (isDMCFE ? dmcfePadLabel : padLabel) == labelFloor }

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
    var readingMaximum: UInt64 { paillierReady ? .max : record.maxReading }

    /// Intervals per day at 15-minute labels: the carry holds at most one day of maxima.
    static let carryIntervals: UInt64 = 96

    /// The carry's bound: `carryIntervals` maxima (saturating).
    var carryBound: UInt64 {
        let (b, o) = readingMaximum.multipliedReportingOverflow(by: Self.carryIntervals)
        return o ? .max : b
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
        let measured = takeIntervalEnergy()
        retryLabel = nil  // a label whose store kept failing is given up; its energy is carried
        guard storeState == nil, record.phase == .ready || paillierReady, label >= labelFloor else {
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
        return sent
    }

    /// Encrypts `reading` under `label`, writes the sealed frame to the outbox, then
    /// sends it. A label is never encrypted twice: the frame (and with it the label
    /// counter) is on flash before it leaves the meter, and it is re-sent as stored
    /// until acknowledged. A radio that refuses the frame is not an error here.
    public mutating func encryptAndSend(label: UInt64, reading: UInt64) throws(MeterError) {
        if paillierReady { return try encryptAndSendPaillier(label: label, reading: reading) }
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        guard record.phase == .ready else { throw .notReady }
        // No label follows 2^64 − 1: refused rather than let the counter wrap.
        guard label >= labelFloor, label < .max else {
            throw .labelAlreadyEncrypted(label: label, next: labelFloor)
        }
        let payloadLength: Int
        if isDMCFE {
            guard reading <= record.maxReading else {
                throw .readingAboveMaximum(reading: reading, maximum: record.maxReading)
            }
            payloadLength = dmcfeEncrypt(label: label, reading: reading)
        } else {
            guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
            let bounds: LWRGroupBounds
            do {
                bounds = try LWRGroupBounds(
                    meters: record.groupSize, maxReading: record.maxReading, parameters: parameters)
            } catch {
                throw .notReady
            }
            let p = padLabel == label ? pad : try computePad(label: label)
            let c: UInt64
            do { c = try LWRPSA.encrypt(reading: reading, pad: p, bounds: bounds, parameters: parameters) } catch {
                throw .readingAboveMaximum(reading: reading, maximum: record.maxReading)
            }
            var f = frame.mutableSpan
            BigEndian.store(c, at: Frame.headerBytes, in: &f)
            payloadLength = parameters.ciphertextBytes
        }
        // The outbox's entries are sized at boot for LWR-PSA frames; a larger ciphertext
        // (DMCFE, 384 bytes) is refused with a typed error until the outbox is sized per scheme.
        guard Frame.size(payloadLength: payloadLength) <= outbox.frameCapacity else {
            throw .keyStore(.flashTooSmall)
        }
        let length = sealFrame(.reading, label: label, payloadLength: payloadLength)
        let dropped: UInt64?
        do { dropped = try outbox.append(label: label, frame: frame.span.extracting(0..<length)) } catch {
            throw .keyStore(error)
        }
        labelFloor = label + 1
        padLabel = .max
        do { try board.send(frame.span.extracting(0..<length)) } catch {
            // Stored: the outbox sends it again at the next boundary.
        }
        if let d = dropped { _ = reportError(.keyStore(.corrupt), detail: d, code: .outboxOverflow) }
        if repairToReport {
            // The expanded key was rewritten from its seed while computing a pad.
            repairToReport = false
            _ = reportError(.keyStore(.corrupt), detail: 0, code: .keyStoreRepaired)
        }
    }

    // `mutating` only so that `self` is passed by address: as a borrowing method, every
    // call from a mutating one (idle, encryptAndSend) copied the whole Meter (18.8 KB) onto
    // the stack first, twice per reading (`metering cost`, peak stack: 41 KB → 3 KB).
    mutating func computePad(label: UInt64) throws(MeterError) -> UInt64 {
        guard let parameters = LWRParameters.withID(record.parameterID) else { throw .notReady }
        switch record.keyMode {
        case .seed:
            return LWRPSA.prf(
                parameters: parameters, seed: record.psaSeed.span, group: record.group, label: label)
        case .expanded:
            var stream = LWRLabelStream(parameters: parameters, group: record.group, label: label)
            // λ is a multiple of 64 for every set: the key is read in whole 512-byte pages.
            var page = InlineArray<512, UInt8>(repeating: 0)
            var address = expandedKeyAddress
            var s1: UInt64 = 0
            var s2: UInt64 = 0
            while stream.remainingWords > 0 {
                var pageSpan = page.mutableSpan
                do throws(BoardError) { try board.read(address, into: &pageSpan) } catch {
                    throw .board(error)
                }
                for w in 0..<64 {
                    var v: UInt64 = 0
                    for b in 0..<8 { v |= UInt64(page[8 * w + b]) << UInt64(8 * b) }
                    stream.absorb(keyWord: v)
                    s1 &+= v
                    s2 &+= s1
                }
                address += 512
            }
            if s1 == record.expandedKeySums.0 && s2 == record.expandedKeySums.1 { return stream.prf() }
            // The expanded key no longer matches its sums (a flip at rest, a cut rewrite):
            // it is never used. The seed is authoritative: rewrite the key from it.
            _ = try writeExpandedKey(parameters)
            repairs += 1
            repairToReport = true
            return LWRPSA.prf(parameters: parameters, seed: record.psaSeed.span, group: record.group, label: label)
        }
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
        var key = InlineArray<32, UInt8>(repeating: 0)
        var keySpan = key.mutableSpan
        frameKey(group: header.group, epoch: epoch, into: &keySpan)
        guard Frame.verify(bytes, key: key.span) else { throw .badDownlink(.badTag) }
        let payload = bytes.extracting(Frame.payloadRange(header))
        switch header.type {
        case .enrolRequest:
            guard payload.count == 0 else {
                throw .badDownlink(.badPayloadSize(type: .enrolRequest, size: payload.count))
            }
            try enrol(group: header.group, epoch: epoch, scheme: header.scheme)
            return .publicKeySent
        case .statement:
            return try receiveStatementChunk(header, epoch: epoch, payload)
        case .rosterEntry:
            guard header.group == record.group, epoch == record.groupEpoch else {
                throw .unexpectedDownlink(.rosterEntry)
            }
            try processRosterEntry(payload)
            return record.phase == .ready ? .keyShareSent : nil
        case .weights:
            return try handleWeights(payload, chunk: header.label)
        case .ack:
            let acknowledged: Bool
            do { acknowledged = try outbox.acknowledge(label: header.label, group: header.group) } catch {
                throw .keyStore(error)
            }
            return acknowledged ? .acknowledged(label: header.label) : nil
        default:
            throw .unexpectedDownlink(header.type)
        }
    }

    /// The epoch whose frame key must tag `header`: an enrolment request names it in its
    /// label, a statement chunk in its label's high half; everything else speaks for the
    /// meter's current group (its accepted group epoch) or one of its Paillier groups.
    /// nil when the frame's group is none of the meter's.
    // `mutating` only so that `self` is passed by address (see `computePad`).
    mutating func downlinkEpoch(_ header: FrameHeader) -> UInt32? {
        switch header.type {
        case .enrolRequest:
            return header.label <= UInt64(UInt32.max) ? UInt32(header.label) : nil
        case .statement:
            return UInt32(truncatingIfNeeded: header.label >> 32)
        default:
            if header.group == record.group && record.groupEpoch > 0 { return record.groupEpoch }
            if paillierReportsTo(group: header.group) { return record.paillierEpoch }
            return nil
        }
    }

    /// The frame key of (this meter, `group`, `epoch`) from the frame secret of `identity`
    /// (the last one is cached: readings use the same key every interval).
    mutating func frameKey(
        group: UInt32, epoch: UInt32, identity: MeterRecord? = nil, into out: inout MutableSpan<UInt8>
    ) {
        if identity == nil && frameKeyCacheValid && frameKeyCacheGroup == group && frameKeyCacheEpoch == epoch {
            for k in 0..<32 { out[k] = frameKeyCache[k] }
            return
        }
        let secret = identity?.frameSecret ?? record.frameSecret
        FrameKeys.derive(secret: secret.span, group: group, epoch: epoch, into: &out)
        guard identity == nil else { return }
        for k in 0..<32 { frameKeyCache[k] = out[k] }
        frameKeyCacheGroup = group
        frameKeyCacheEpoch = epoch
        frameKeyCacheValid = true
    }

    /// Seals the payload already in `frame` under the key of (meter, group, epoch); returns
    /// the length. `identity` overrides the meter's record (a corrupt store's status report).
    mutating func seal(_ header: FrameHeader, epoch: UInt32, identity: MeterRecord? = nil) -> Int {
        var key = InlineArray<32, UInt8>(repeating: 0)
        var keySpan = key.mutableSpan
        frameKey(group: header.group, epoch: epoch, identity: identity, into: &keySpan)
        var f = frame.mutableSpan
        return Frame.seal(header, key: key.span, frame: &f)
    }

    /// Seals the payload already in `frame` for the meter's current group; returns the length.
    /// With a corrupt store, a status report goes out under the newest intact identity
    /// (authentication only: nothing is ever encrypted under it).
    mutating func sealFrame(_ type: FrameType, label: UInt64, payloadLength: Int) -> Int {
        let intact = storeState == .corrupt ? store.lastIntact : nil
        let identity = intact ?? record
        let header = FrameHeader(
            type: type, scheme: isDMCFE ? .dmcfe : .lwrPSA, group: identity.group, meter: identity.meter, label: label,
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
