// Bills without the curve (LWR-PSA and DMCFE meters; docs/spec/billing.md): under a
// tariff the provisioning authority signed for its group and a billing period, the meter
// totals its stored readings per tariff class and, when the period is over, sends only
// those totals, sealed and authenticated for the supplier. The aggregator relays the bill
// and cannot read it; the supplier never sees a 15-minute value. Shared by the firmware
// (which seals) and the host (which opens), so both read one layout.
//
// Frame (type `bill`, label = the period's last label): the 24-byte header, then
//   24  tariff epoch  u32   the group epoch the tariff statement was signed for
//   28  supplier      u32   the supplier the tariff names (whose key seals the bill)
//   32  first label   u64   the billing period, as signed
//   40  last label    u64
//   48  nonce         12
//   60  ciphertext    40    of: format u8 (1) | class count u8 | 0 u16 | labels metered u32 |
//                           4 × Wh per class u64 (classes past the count are 0)
//  100  GCM tag       16
//  116  frame tag     16    KMAC128 under the frame key, for the aggregator
// 132 bytes.
//
//   bill key   KMAC128(frame secret, "PM-BILL-KEY-v1", supplier u32 ‖ meter u32), 32 bytes:
//              bytes 0 ..< 16 the AES-128-GCM key, 16 ..< 32 the nonce key. The authority,
//              which holds every meter's frame secret, gives a supplier the bill keys of its
//              meters (as it gives an aggregator frame keys, which it derives with another
//              customization): the aggregator holds neither.
//   nonce      KMAC128(nonce key, "PM-BILL-NONCE-v1", frame bytes 0 ..< 48 ‖ plaintext)[12]
//              (synthetic, as in SIV): the same bill always seals to the same bytes, so a
//              resend after a reboot is byte-identical, and two different plaintexts never
//              share a nonce under one key, whatever the flash did in between.
//   AAD        frame bytes 0 ..< 48: header, tariff epoch, supplier and period.
//
// The GCM tag authenticates the bill as the meter's to the supplier (only the meter, the
// authority and that supplier hold the key). It is a MAC, not a signature: the supplier
// could make such a bill itself. A customer who disputes a bill recomputes it from their
// own detail frames (CustomerDetail.swift), which the supplier cannot forge.

/// Layout, keys and sealing of a meter's bill.
public enum MeterBill {
    public static let format: UInt8 = 1
    /// The most tariff classes a bill carries (the meter refuses tariffs with more).
    public static let maxClasses = 4
    /// The shortest billing period a meter takes: one day of 15-minute labels, as for the
    /// Paillier aggregator's bills (`PaillierRelease`).
    public static let minimumPeriodLabels: UInt64 = 96
    /// Tariff epoch, supplier, first and last label: in clear, authenticated.
    public static let publicBytes = 24
    public static let nonceBytes = AESGCM.nonceBytes
    public static let plaintextBytes = 8 + 8 * maxClasses
    public static let payloadBytes = publicBytes + nonceBytes + plaintextBytes + AESGCM.tagBytes
    public static let frameBytes = Frame.size(payloadLength: payloadBytes)
    /// The GCM AAD: the header and the public fields.
    public static let aadBytes = Frame.headerBytes + publicBytes
    /// Bytes of a bill key: the AES-128 key, then the nonce key.
    public static let keyBytes = 32

    /// The bill key of (`meter`, `supplier`) from the meter's frame secret.
    public static func key(
        frameSecret: Span<UInt8>, supplier: UInt32, meter: UInt32, into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == keyBytes, "a bill key has 32 bytes")
        var mac = KMAC128(key: frameSecret, customization: "PM-BILL-KEY-v1")
        mac.absorb(bigEndian: supplier)
        mac.absorb(bigEndian: meter)
        mac.finalize(into: &out)
    }

    /// The synthetic nonce of a bill whose header and public fields are `aad` (48 bytes).
    public static func nonce(
        billKey: Span<UInt8>, aad: Span<UInt8>, plaintext: Span<UInt8>, into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == nonceBytes && billKey.count == keyBytes, "bill nonce sizes")
        var mac = KMAC128(key: billKey.extracting(16..<32), customization: "PM-BILL-NONCE-v1")
        mac.absorb(aad)
        mac.absorb(plaintext)
        var full = InlineArray<16, UInt8>(repeating: 0)
        var span = full.mutableSpan
        mac.finalize(into: &span)
        for k in 0..<nonceBytes { out[k] = full[k] }
    }

    /// Writes the bill's plaintext: `totals` per class (count ≤ `maxClasses`).
    public static func encodePlaintext(
        classCount: Int, meteredLabels: UInt32, totals: Span<UInt64>, into out: inout MutableSpan<UInt8>
    ) {
        precondition(
            out.count == plaintextBytes && classCount <= maxClasses && totals.count >= classCount, "bill sizes")
        out[0] = format
        out[1] = UInt8(classCount)
        out[2] = 0
        out[3] = 0
        BigEndian.store(meteredLabels, at: 4, in: &out)
        for c in 0..<maxClasses { BigEndian.store(c < classCount ? totals[c] : 0, at: 8 + 8 * c, in: &out) }
    }

    /// Writes `header` (type `bill`), the public fields and the sealed `plaintext` into
    /// `frame`; the caller adds the frame tag (`Frame.seal`, which rewrites the same header).
    public static func seal(
        _ header: FrameHeader, billKey: Span<UInt8>, tariffEpoch: UInt32, supplier: UInt32,
        period: ClosedRange<UInt64>, plaintext: Span<UInt8>, frame: inout MutableSpan<UInt8>
    ) {
        precondition(header.type == .bill && header.payloadLength == payloadBytes, "a bill frame header")
        precondition(plaintext.count == plaintextBytes && frame.count >= frameBytes, "bill buffer sizes")
        Frame.writeHeader(header, into: &frame)
        BigEndian.store(tariffEpoch, at: Frame.headerBytes, in: &frame)
        BigEndian.store(supplier, at: Frame.headerBytes + 4, in: &frame)
        BigEndian.store(period.lowerBound, at: Frame.headerBytes + 8, in: &frame)
        BigEndian.store(period.upperBound, at: Frame.headerBytes + 16, in: &frame)
        var aad = InlineArray<48, UInt8>(repeating: 0)
        for k in 0..<aadBytes { aad[k] = frame[k] }
        var iv = InlineArray<12, UInt8>(repeating: 0)
        var nonceSpan = iv.mutableSpan
        nonce(billKey: billKey, aad: aad.span, plaintext: plaintext, into: &nonceSpan)
        for k in 0..<nonceBytes { frame[aadBytes + k] = iv[k] }
        let gcm = AESGCM(key: billKey.extracting(0..<16))
        var sealed = InlineArray<40, UInt8>(repeating: 0)
        var ciphertext = sealed.mutableSpan
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        gcm.seal(nonce: iv.span, aad: aad.span, plaintext: plaintext, ciphertext: &ciphertext, tag: &tagSpan)
        let start = aadBytes + nonceBytes
        for k in 0..<plaintextBytes { frame[start + k] = sealed[k] }
        for k in 0..<AESGCM.tagBytes { frame[start + plaintextBytes + k] = tag[k] }
    }

    #if !hasFeature(Embedded)
        // Opening is the supplier's side: not in the meter's image.

        /// What an authentic bill says.
        public struct Contents: Sendable, Equatable {
            public var header: FrameHeader
            public var tariffEpoch: UInt32
            public var supplier: UInt32
            public var period: ClosedRange<UInt64>
            public var meteredLabels: UInt32
            /// Wh per tariff class, `classCount` entries.
            public var totals: [UInt64]
        }

        /// Opens a bill frame under `billKey` (the GCM tag over header, public fields and
        /// ciphertext; the frame tag is the aggregator's business, not checked here).
        public static func open(_ frame: Span<UInt8>, billKey: Span<UInt8>) throws(MeterBillError) -> Contents {
            let header: FrameHeader
            do { header = try Frame.parseHeader(frame) } catch { throw .malformed(error) }
            guard header.type == .bill else { throw .notBill(header.type) }
            guard header.payloadLength == payloadBytes else {
                throw .malformed(.badPayloadSize(type: header.type, size: header.payloadLength))
            }
            guard billKey.count == keyBytes else { throw .notAuthentic }
            let p = Frame.headerBytes
            let first = BigEndian.load64(frame, at: p + 8)
            let last = BigEndian.load64(frame, at: p + 16)
            guard first <= last, last == header.label else { throw .notAuthentic }
            var plain = InlineArray<40, UInt8>(repeating: 0)
            var plainSpan = plain.mutableSpan
            let start = aadBytes + nonceBytes
            let gcm = AESGCM(key: billKey.extracting(0..<16))
            guard
                gcm.open(
                    nonce: frame.extracting(aadBytes..<start), aad: frame.extracting(0..<aadBytes),
                    ciphertext: frame.extracting(start..<(start + plaintextBytes)),
                    tag: frame.extracting((start + plaintextBytes)..<(start + plaintextBytes + AESGCM.tagBytes)),
                    plaintext: &plainSpan)
            else { throw .notAuthentic }
            guard plain[0] == format else { throw .unknownFormat(plain[0]) }
            let count = Int(plain[1])
            guard count >= 1, count <= maxClasses, plain[2] == 0, plain[3] == 0 else { throw .unknownFormat(plain[0]) }
            var totals: [UInt64] = []
            for c in 0..<count { totals.append(BigEndian.load64(plain.span, at: 8 + 8 * c)) }
            return Contents(
                header: header, tariffEpoch: BigEndian.load32(frame, at: p),
                supplier: BigEndian.load32(frame, at: p + 4),
                period: first...last, meteredLabels: BigEndian.load32(plain.span, at: 4), totals: totals)
        }
    #endif
}

/// Why a bill frame did not open.
public enum MeterBillError: Error, Equatable, Sendable {
    /// Not a well-formed frame, or a payload of the wrong size.
    case malformed(FrameError)
    /// A frame of another type.
    case notBill(FrameType)
    /// The GCM tag does not verify: another meter's or supplier's key, or anything in the
    /// header, the public fields or the ciphertext changed.
    case notAuthentic
    /// An authentic plaintext of a format this code does not read.
    case unknownFormat(UInt8)
}
