// The customer's detail: each 15-minute reading and its 1-minute values, sealed by the meter
// with AES-128-GCM under a key only the meter and its customer hold, sent as its own frame
// type for the aggregator to store and never read. Shared by the firmware (which seals)
// and the host and browser (which open). docs/spec/customer-detail.md is the spec.
//
// Frame (type customerDetail, frames.md): the 24-byte header as for every frame, payload
// = the customer verifier v (16, in clear) ‖ ciphertext of the 42-byte plaintext ‖ GCM tag
// (16), then the frame tag (KMAC128 under the frame key, for the aggregator, which checks it
// before it stores the frame). 114 bytes.
//
//   GCM key    the customer key K (16 bytes, drawn by the meter at provisioning)
//   nonce      frame type u8 (0x06) | 0 u8 | 0 u16 | label u64      (12 bytes)
//   AAD        frame bytes 0 ..< 40: the header (version, type, scheme, group, meter,
//              label, payload length) and v
//   plaintext  format u8 (2) | 0 u8 | minute mask u16 | reading u64 (Wh) |
//              15 × minute u16 (average W over that minute, saturating at 65 535)
//
// The customer's login secret w = AES-128_K("PM-CUSTOMER-ID-1") (one block, never a GCM
// counter block of a detail frame, whose first byte is the type 0x06, nor H = E_K(0)); the
// verifier v = SHAKE128("PM-CUSTOMER-VERIFIER-v1" ‖ w), first 16 bytes. The customer shows
// the service w; the service keeps v and serves the frames that carry it. Neither gives K.
//
// The nonce never repeats under a key: a meter seals one detail frame per label, only
// after the label's reading frame is in its outbox (the label counter is past it), and no
// label is ever encrypted twice (DESIGN.md, "Key store and outbox").

/// Layout and sealing of customer-detail frames.
public enum CustomerDetail {
    /// 2: the frame carries the customer verifier (format 1 had none).
    public static let format: UInt8 = 2
    /// 1-minute values per frame (a 15-minute label).
    public static let minuteSlots = 15
    public static let plaintextBytes = 12 + 2 * minuteSlots
    /// The customer verifier v, in clear after the header.
    public static let verifierBytes = 16
    /// Bytes of the customer's login secret w.
    public static let loginSecretBytes = 16
    public static let payloadBytes = verifierBytes + plaintextBytes + AESGCM.tagBytes
    public static let frameBytes = Frame.size(payloadLength: payloadBytes)
    public static let keyBytes = AESGCM.keyBytes
    /// Where v sits in a frame.
    public static let verifierRange = Frame.headerBytes..<(Frame.headerBytes + verifierBytes)
    /// The GCM AAD: header and v.
    public static let aadBytes = Frame.headerBytes + verifierBytes
    /// The customer's login secret w = AES-128_K("PM-CUSTOMER-ID-1") with `cipher` keyed
    /// under K (16 bytes into `out`).
    public static func loginSecret(cipher gcm: AESGCM, into out: inout MutableSpan<UInt8>) {
        precondition(out.count == loginSecretBytes, "a login secret has 16 bytes")
        // The block "PM-CUSTOMER-ID-1" (ASCII), then three zero blocks (encrypt4 takes four).
        let block: InlineArray<16, UInt8> = [
            0x50, 0x4D, 0x2D, 0x43, 0x55, 0x53, 0x54, 0x4F, 0x4D, 0x45, 0x52, 0x2D, 0x49, 0x44, 0x2D, 0x31,
        ]
        var blocks = InlineArray<64, UInt8>(repeating: 0)
        for k in 0..<16 { blocks[k] = block[k] }
        var span = blocks.mutableSpan
        gcm.core.cipher.encrypt4(&span)
        for k in 0..<16 { out[k] = blocks[k] }
        for k in 0..<64 { blocks[k] = 0 }
    }

    /// The customer verifier v = SHAKE128("PM-CUSTOMER-VERIFIER-v1" ‖ w), first 16 bytes.
    public static func verifier(loginSecret w: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        precondition(w.count == loginSecretBytes && out.count == verifierBytes, "verifier sizes")
        var xof = XOF(.shake128)
        xof.absorb("PM-CUSTOMER-VERIFIER-v1")
        xof.absorb(w)
        xof.squeeze(into: &out)
    }

    /// The GCM nonce of the detail frame for `label`.
    public static func nonce(type: FrameType = .customerDetail, label: UInt64, into out: inout MutableSpan<UInt8>) {
        precondition(out.count == AESGCM.nonceBytes, "a GCM nonce has 12 bytes")
        out[0] = type.rawValue
        out[1] = 0
        out[2] = 0
        out[3] = 0
        BigEndian.store(label, at: 4, in: &out)
    }

    /// Writes `header`, the customer verifier and the sealed `plaintext` (ciphertext ‖ GCM
    /// tag) into `frame`; the caller adds the frame tag (`Frame.seal`, which rewrites the
    /// same header).
    public static func seal(
        _ header: FrameHeader, customerKey: Span<UInt8>, plaintext: Span<UInt8>, frame: inout MutableSpan<UInt8>
    ) {
        let gcm = AESGCM(key: customerKey)
        var w = InlineArray<16, UInt8>(repeating: 0)
        var wSpan = w.mutableSpan
        loginSecret(cipher: gcm, into: &wSpan)
        var v = InlineArray<16, UInt8>(repeating: 0)
        var vSpan = v.mutableSpan
        verifier(loginSecret: w.span, into: &vSpan)
        seal(header, cipher: gcm, verifier: v.span, plaintext: plaintext, frame: &frame)
    }

    /// `seal(_:customerKey:plaintext:frame:)` with the customer key's AES-GCM already keyed
    /// (round keys and H) and its verifier computed: the meter does both once, not at
    /// every label.
    public static func seal(
        _ header: FrameHeader, cipher gcm: AESGCM, verifier v: Span<UInt8>, plaintext: Span<UInt8>,
        frame: inout MutableSpan<UInt8>
    ) {
        precondition(header.type == .customerDetail && header.payloadLength == payloadBytes, "a detail frame header")
        precondition(plaintext.count == plaintextBytes && frame.count >= frameBytes, "detail buffer sizes")
        precondition(v.count == verifierBytes, "a customer verifier has 16 bytes")
        Frame.writeHeader(header, into: &frame)
        for k in 0..<verifierBytes { frame[Frame.headerBytes + k] = v[k] }
        var nonceBytes = InlineArray<12, UInt8>(repeating: 0)
        var nonceSpan = nonceBytes.mutableSpan
        nonce(type: header.type, label: header.label, into: &nonceSpan)
        var sealed = InlineArray<42, UInt8>(repeating: 0)
        var ciphertext = sealed.mutableSpan
        var aad = InlineArray<40, UInt8>(repeating: 0)
        for k in 0..<aadBytes { aad[k] = frame[k] }
        var tag = InlineArray<16, UInt8>(repeating: 0)
        var tagSpan = tag.mutableSpan
        gcm.seal(nonce: nonceBytes.span, aad: aad.span, plaintext: plaintext, ciphertext: &ciphertext, tag: &tagSpan)
        for k in 0..<plaintextBytes { frame[aadBytes + k] = sealed[k] }
        for k in 0..<AESGCM.tagBytes { frame[aadBytes + plaintextBytes + k] = tag[k] }
    }

    /// Writes the plaintext of one label's detail into `out` (42 bytes).
    public static func encodePlaintext(
        reading: UInt64, minuteMask: UInt16, minutes: Span<UInt16>, into out: inout MutableSpan<UInt8>
    ) {
        precondition(out.count == plaintextBytes && minutes.count == minuteSlots, "detail plaintext sizes")
        out[0] = format
        out[1] = 0
        BigEndian.store(minuteMask, at: 2, in: &out)
        BigEndian.store(reading, at: 4, in: &out)
        for m in 0..<minuteSlots { BigEndian.store(minutes[m], at: 12 + 2 * m, in: &out) }
    }

    #if !hasFeature(Embedded)
        // Opening is the customer's side (host, browser): not in the meter's image.

        /// Opens a detail frame (header checked, GCM tag verified under `customerKey` over the
        /// header, v and the ciphertext) into `plaintext` (42 bytes). The frame tag is the
        /// aggregator's business, not checked here.
        public static func open(
            _ frame: Span<UInt8>, customerKey: Span<UInt8>, plaintext: inout MutableSpan<UInt8>
        ) throws(CustomerDetailError) -> FrameHeader {
            let header: FrameHeader
            do { header = try Frame.parseHeader(frame) } catch { throw .malformed(error) }
            guard header.type == .customerDetail else { throw .notDetail(header.type) }
            guard header.payloadLength == payloadBytes else {
                throw .malformed(.badPayloadSize(type: header.type, size: header.payloadLength))
            }
            precondition(plaintext.count == plaintextBytes, "a detail plaintext has 42 bytes")
            var nonceBytes = InlineArray<12, UInt8>(repeating: 0)
            var nonceSpan = nonceBytes.mutableSpan
            nonce(type: header.type, label: header.label, into: &nonceSpan)
            let gcm = AESGCM(key: customerKey)
            let start = aadBytes
            guard
                gcm.open(
                    nonce: nonceBytes.span, aad: frame.extracting(0..<start),
                    ciphertext: frame.extracting(start..<(start + plaintextBytes)),
                    tag: frame.extracting((start + plaintextBytes)..<(start + plaintextBytes + AESGCM.tagBytes)),
                    plaintext: &plaintext)
            else { throw .notAuthentic }
            guard plaintext[0] == format, plaintext[1] == 0 else { throw .unknownFormat(plaintext[0]) }
            return header
        }
    #endif
}

/// Why a customer-detail frame did not open.
public enum CustomerDetailError: Error, Equatable, Sendable {
    /// Not a well-formed frame, or a payload of the wrong size.
    case malformed(FrameError)
    /// A frame of another type.
    case notDetail(FrameType)
    /// The GCM tag does not verify: another key (another meter's, a wrong code), or
    /// anything in the header or the ciphertext changed.
    case notAuthentic
    /// An authentic plaintext of a format this code does not read.
    case unknownFormat(UInt8)
}
