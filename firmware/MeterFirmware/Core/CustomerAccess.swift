// The customer's private access to their own detail, in the core of every image: each
// label's reading and its 1-minute values sealed with AES-128-GCM under the customer key
// (MeterCrypto/CustomerDetail.swift; docs/spec/customer-detail.md), and the code that
// shows the customer that key once.
//
// Safety of the nonce (label-based): the detail of a label is sealed only after the
// scheme's reading frame for it is in the outbox, so the label counter is already past it
// and the label is never sealed again, whatever power cuts follow. Best effort: nothing
// here can fail, delay or drop the reading; a detail frame that cannot be stored is still
// sent once. The stored ones go out again with the unacknowledged readings and are let go
// with their reading's acknowledgement.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

extension Meter where Scheme: ~Copyable {
    /// Ticks of one minute.
    var minuteTicks: UInt64 { 60 * UInt64(board.ticksPerSecond) }

    /// Ends the running minute at `lastSampleTick`: its average power goes into its slot of
    /// the interval when the meter sampled the whole minute.
    mutating func closeMinute() {
        let end = lastSampleTick
        let minute = minuteTicks
        defer {
            minuteEnergy = 0
            minuteStart = end
        }
        guard minute % timing.sampleTicks == 0, timing.intervalTicks % minute == 0, end >= minute,
            minuteStart == end - minute
        else { return }
        let index = (end - minute) % timing.intervalTicks / minute
        guard index < UInt64(CustomerDetail.minuteSlots) else { return }
        let watts = minuteEnergy / minute / 1000
        minutes[Int(index)] = UInt16(truncatingIfNeeded: min(watts, UInt64(UInt16.max)))
        minuteMask |= 1 << UInt16(index)
    }

    /// Keeps the closing interval's 1-minute values for its detail frame and starts the next.
    mutating func closeMinutes(_ label: UInt64) {
        closedMinutes = minutes
        closedMinuteMask = minuteMask
        closedMinuteLabel = label
        for m in 0..<CustomerDetail.minuteSlots { minutes[m] = 0 }
        minuteMask = 0
    }

    /// Reads the detail ring at boot; one that does not check out is formatted (its detail
    /// is lost, never a reading).
    mutating func loadDetailRing() {
        guard detailRing != nil else { return }
        do throws(KeyStoreError) { try detailRing!.load() } catch {
            if (try? detailRing!.format()) == nil { detailRing = nil }
        }
    }

    /// Seals the customer's detail of `label` (the reading just stored, and this label's
    /// 1-minute values), stores it in the detail ring and sends it. Only after the reading
    /// is stored (the label counter is past `label`): no nonce is ever used twice.
    mutating func sendCustomerDetail(label: UInt64, reading: UInt64) {
        guard storeState == nil, record.hasCustomerKey, labelFloor > label, let group = Scheme.detailGroup(&self),
            let epoch = Scheme.downlinkEpoch(&self, group: group)
        else { return }
        let header = FrameHeader(
            type: .customerDetail, scheme: Scheme.schemeID, group: group, meter: record.meter, label: label,
            payloadLength: CustomerDetail.payloadBytes)
        do {
            let own = closedMinuteLabel == label
            let values = own ? closedMinutes : InlineArray<15, UInt16>(repeating: 0)
            var plaintext = InlineArray<42, UInt8>(repeating: 0)
            var plain = plaintext.mutableSpan
            CustomerDetail.encodePlaintext(
                reading: reading, minuteMask: own ? closedMinuteMask : 0, minutes: values.span, into: &plain)
            let gcm = keyedCustomerCipher()
            let verifier = customerVerifier
            var f = frame.mutableSpan
            CustomerDetail.seal(
                header, cipher: gcm, verifier: verifier.span, plaintext: plaintext.span, frame: &f)
            for k in 0..<CustomerDetail.plaintextBytes { plaintext[k] = 0 }
        }
        let length = seal(header, epoch: epoch)  // the frame tag, for the aggregator
        _ = try? detailRing?.append(label: label, frame: frame.span.extracting(0..<length))
        try? board.send(frame.span.extracting(0..<length))
    }

    /// The customer key's AES-GCM, keyed again only when the key in the record is not the
    /// one it was keyed for (compared without a branch on the key's bytes). Keying it also
    /// computes the customer verifier v (`customerVerifier`) from the login secret w, once.
    mutating func keyedCustomerCipher() -> AESGCM {
        let key = record.customerKey
        var difference: UInt8 = 0
        for k in 0..<CustomerDetail.keyBytes { difference |= customerCipherKey[k] ^ key[k] }
        if let gcm = customerCipher, difference == 0 { return gcm }
        let gcm = AESGCM(key: key.span)
        var secret = InlineArray<16, UInt8>(repeating: 0)
        var w = secret.mutableSpan
        CustomerDetail.loginSecret(cipher: gcm, into: &w)
        var v = customerVerifier.mutableSpan
        CustomerDetail.verifier(loginSecret: secret.span, into: &v)
        for k in 0..<16 { secret[k] = 0 }
        customerCipher = gcm
        customerCipherKey = key
        return gcm
    }

    /// Sends again the stored detail frames of the labels below `label`, as stored.
    mutating func resendDetail(before label: UInt64) {
        guard detailRing != nil else { return }
        var i = 0
        while i < detailRing!.pendingCount && detailRing!.pendingLabel(i) < label {
            var f = frame.mutableSpan
            let length: Int
            do throws(KeyStoreError) { length = try detailRing!.pendingFrame(i, into: &f) } catch {
                guard error == .corrupt else { return }
                detailRing!.forget(i)  // lost to flipped bits: the detail is best effort
                continue
            }
            do throws(BoardError) { try board.send(frame.span.extracting(0..<length)) } catch { return }
            i += 1
        }
    }

    /// Sealed detail frames not yet let go (their reading is unacknowledged).
    public var pendingDetail: Int { detailRing?.pendingCount ?? 0 }

    /// The i-th stored detail frame, oldest label first; returns its length.
    public func pendingDetailFrame(_ i: Int, into out: inout MutableSpan<UInt8>) throws(KeyStoreError) -> Int {
        guard let ring = detailRing, i < ring.pendingCount else { throw .corrupt }
        return try ring.pendingFrame(i, into: &out)
    }

    /// Whether the meter holds a customer key whose code was not shown yet.
    public var customerCodeAvailable: Bool {
        storeState == nil && record.hasCustomerKey && !record.customerCodeShown
    }

    /// Renders the customer code (CustomerCode.swift: the customer key with a check symbol)
    /// into `out` (at least 33 bytes) for the in-home display, once: the key store notes
    /// that it was shown before it is rendered, and every later call refuses
    /// (`customerCodeShown`). Returns the code's length.
    public mutating func revealCustomerCode(into out: inout MutableSpan<UInt8>) throws(MeterError) -> Int {
        if let e = storeState { throw e == .corrupt ? .keyStoreCorrupt : .notProvisioned }
        guard record.hasCustomerKey else { throw .noCustomerKey }
        guard !record.customerCodeShown else { throw .customerCodeShown }
        precondition(out.count >= CustomerCode.renderedBytes, "a customer code has 33 characters")
        var r = record
        r.customerCodeShown = true
        do { try store.save(r) } catch { throw .keyStore(error) }
        record = r
        let key = record.customerKey
        CustomerCode.render(key: key.span, into: &out)
        return CustomerCode.renderedBytes
    }
}
