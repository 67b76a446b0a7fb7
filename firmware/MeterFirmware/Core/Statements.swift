// Signed statements on the meter: the authority's word, relayed by an aggregator in
// `statement` chunks (layout in MeterCrypto/Statement.swift). The body is held in RAM, the
// signature is verified as it streams in (SLH-DSA, never held whole), and only a statement
// that verifies under the authority's key from the factory, is newer than what the meter
// holds and names this meter or the group it enrolled for takes effect.

#if !hasFeature(Embedded)
    import MeterCrypto
#endif

extension Meter where Scheme: ~Copyable {
    /// One chunk of a statement (`epoch` from the frame's label, already authenticated as
    /// coming from an aggregator of that group and epoch). Returns an event once the
    /// statement took effect.
    mutating func receiveStatementChunk(
        _ header: FrameHeader, epoch: UInt32, _ payload: Span<UInt8>
    ) throws(MeterError) -> MeterEvent? {
        let chunk = Int(truncatingIfNeeded: header.label & 0xFFFF_FFFF)
        if chunk == 0 {
            resetStatement()
            guard payload.count >= 2 else { throw .statementRejected(.malformed) }
            let length = Int(BigEndian.load16(payload, at: 0))
            guard length >= Statement.headerBytes, length <= Statement.maxBodyBytes, payload.count == 2 + length else {
                throw .statementRejected(.malformed)
            }
            let body = payload.extracting(2..<payload.count)
            guard StatementKind(rawValue: body[0]) != nil, body[1] == Statement.version, body[2] == 0, body[3] == 0,
                BigEndian.load32(body, at: 4) == epoch
            else { throw .statementRejected(.malformed) }
            // Cheap checks first: a replayed or foreign statement costs no verification.
            try precheckStatement(body)
            for k in 0..<length { statementBody[k] = body[k] }
            statementLength = length
            statementEpoch = epoch
            statementGroup = header.group
            statementNextChunk = 1
            statementVerifier = SLHDSAVerifier(
                parameters: Statement.signatureParameters, publicKey: record.authorityKey.span,
                context: Statement.context)
            return nil
        }
        guard statementNextChunk > 0, chunk == statementNextChunk, epoch == statementEpoch,
            header.group == statementGroup, statementVerifier != nil
        else {
            resetStatement()
            throw .statementRejected(.outOfOrder)
        }
        guard payload.count <= statementVerifier!.bytesRemaining else {
            resetStatement()
            throw .statementRejected(.badSignature)
        }
        // The body is read from a copy: reading one stored property while mutating another
        // made the compiler copy the whole Meter onto the stack.
        let body = statementBody
        statementVerifier!.absorb(signature: payload, message: body.span.extracting(0..<statementLength))
        guard statementVerifier!.bytesRemaining == 0 else {
            statementNextChunk += 1
            return nil
        }
        let valid = statementVerifier!.finish()
        statementVerifier = nil
        statementNextChunk = 0
        guard valid else { throw .statementRejected(.badSignature) }
        // The statement is the authority's: check it against the meter's state again
        // (nothing changed since chunk 0 but the order of statements) and apply it.
        guard let kind = StatementKind(rawValue: statementBody[0]) else { throw .statementRejected(.malformed) }
        return try Scheme.applyStatement(&self, kind: kind)
    }

    /// Drops a statement in progress.
    mutating func resetStatement() {
        statementVerifier = nil
        statementNextChunk = 0
        statementLength = 0
    }

    /// The checks of a statement's header against the meter's state, before its signature:
    /// kinds the meter's scheme acts on, its subject, and an epoch newer than the one it holds.
    // `mutating` only so that `self` is passed by address (see `LWRScheme.computePad`).
    mutating func precheckStatement(_ body: Span<UInt8>) throws(MeterError) {
        guard let kind = StatementKind(rawValue: body[0]) else { throw .statementRejected(.malformed) }
        try Scheme.precheckStatement(&self, kind: kind, body)
    }
}
