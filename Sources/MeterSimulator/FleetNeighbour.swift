import Aggregation
import Foundation
import MeterCrypto
import MeterFirmware

/// LWR-PSA over the neighbour graph in the fleet (docs/spec/dropout.md): meters silent at a
/// label are off over its boundary (they never encrypt it); the aggregator closes the label,
/// the reporting neighbours of the silent meters answer one recovery request each, and the
/// label's sum is the sum of the meters that reported. Notices about a silent meter wait at
/// the aggregator until that meter is heard from again; its confirmations go back to the
/// neighbours that answered, which gives their budget back.
extension Fleet {
    /// The plan the authority signs: the configured one, or k and t for n and the dropout bound.
    func neighbourPlan() -> NeighbourGraphPlan {
        if let plan = configuration.graphPlan { return plan }
        let delta = max(NeighbourGraphAnalysis.defaultSilentFraction, configuration.dropoutPercent / 100)
        return NeighbourGraphAnalysis.plan(meters: UInt32(meters.count), silentFraction: delta)
    }

    /// The meters silent at `label`: ⌊P·n/100⌋ of them, drawn from the seed and the label.
    public func silentMeters(at label: UInt64) -> Set<Int> {
        if let silentAt = configuration.silentAt { return silentAt(label) }
        let n = meters.count
        let count = Int((configuration.dropoutPercent * Double(n) / 100).rounded(.down))
        guard count > 0 else { return [] }
        var rng = SeededGenerator(seed: configuration.seed ^ (label &+ 1) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(0..<n)
        for i in 0..<count { order.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        return Set(order.prefix(count))
    }

    /// One label over the neighbour graph.
    func runNeighbourLabel(_ label: UInt64) throws -> LabelResult {
        guard let aggregator = neighbourAggregator else { throw AggregationError.keySetupIncomplete }
        let n = meters.count
        let silent = silentMeters(at: label)
        let steps = Int(900 / configuration.sampleSeconds)
        let sampleTicks = configuration.sampleSeconds * 1000
        let interval = try runner.map(n) {
            (i: Int) throws -> (sent: [[UInt8]], reading: UInt64?, boundary: Double, next: Double) in
            let meter = self.meters[i]
            var reading: UInt64? = nil
            var boundary = 0.0
            for step in 1...steps {
                if step == steps && silent.contains(i) {
                    // Off over the boundary: back after it, the label never encrypted.
                    meter.advance(ticks: sampleTicks)
                    try meter.reboot()
                    _ = meter.firmware.poll()
                    continue
                }
                meter.advance(ticks: sampleTicks)
                let t0 = threadCPUSeconds()
                let event = meter.firmware.poll()
                if step == steps { boundary = threadCPUSeconds() - t0 }
                if case .readingSent(let l, let x) = event, l == label { reading = x }
            }
            let sent = meter.takeSent()
            let t0 = threadCPUSeconds()
            meter.firmware.idle()
            return (sent, reading, boundary, threadCPUSeconds() - t0)
        }
        let precompute = pendingPrecompute
        pendingPrecompute = interval.map(\.next)
        let boundary = interval.map(\.boundary)
        let frames = interval.map(\.sent)
        let readings = interval.map(\.reading)
        var t0 = threadCPUSeconds()
        var collect = 0.0
        try aggregator.advance(to: label)
        var truth: UInt64 = 0
        lastCiphertexts = [:]
        lastReadings = [:]
        for (i, meterFrames) in frames.enumerated() {
            for frame in meterFrames where frame.count > 1 && frame[1] == FrameType.reading.rawValue {
                let receipt = try aggregator.accept(frame)
                try meters[i].deliver(receipt.ack)
                if let h = try? Frame.parseHeader(frame.span), h.label == label {
                    lastCiphertexts[meters[i].id] = BigEndian.load64(Array(frame[Frame.payloadRange(h)]).span, at: 0)
                }
            }
            if let x = readings[i] {
                truth += x
                lastReadings[meters[i].id] = x
                if signedTariff != nil { billedReadings[meters[i].id, default: [:]][label] = x }
            }
            try takeBills(meterFrames, meter: i)
        }
        collect += threadCPUSeconds() - t0
        // The meters take their acks; the ones heard from again get the notices that waited.
        let byID = Dictionary(uniqueKeysWithValues: meters.enumerated().map { ($1.id, $0) })
        var confirmations: [[UInt8]] = []
        for (i, meter) in meters.enumerated() where !silent.contains(i) {
            // One frame per poll: the reading's ack, and a bill's ack at the period's end.
            repeat { _ = meter.firmware.poll() } while meter.board.inboxPending > 0
            for notice in queuedNotices.removeValue(forKey: meter.id) ?? [] { _ = try meter.handle(notice) }
            confirmations += meter.takeSent().filter { $0.count > 1 && $0[1] == FrameType.silenceConfirm.rawValue }
        }
        for frame in confirmations {
            let relayed = try aggregator.relay(frame)
            guard let i = byID[relayed.meter] else { continue }
            relayedConfirmations.append(relayed)
            _ = try meters[i].handle(relayed.frame)
            _ = meters[i].takeSent()
        }
        // Close the label; each reporting neighbour of a silent meter answers once.
        t0 = threadCPUSeconds()
        let requests = try aggregator.close(label: label)
        collect += threadCPUSeconds() - t0
        for request in requests {
            guard let i = byID[request.meter] else { continue }
            _ = try meters[i].handle(request.frame)
            for frame in meters[i].takeSent() where frame.count > 1 {
                if frame[1] == FrameType.recovery.rawValue {
                    t0 = threadCPUSeconds()
                    try aggregator.acceptRecovery(frame)
                    collect += threadCPUSeconds() - t0
                } else if frame[1] == FrameType.silenceNotice.rawValue {
                    let relayed = try aggregator.relay(frame)
                    queuedNotices[relayed.meter, default: []].append(relayed.frame)
                }
            }
        }
        t0 = threadCPUSeconds()
        let result = try? aggregator.sum(label: label)
        let decrypt = threadCPUSeconds() - t0
        var r = LabelResult(
            label: label, decryptedSum: result?.sum ?? 0, trueSum: result == nil ? UInt64.max : truth,
            precomputeSeconds: precompute, boundarySeconds: boundary, collectSeconds: collect,
            decryptSeconds: decrypt)
        r.reporting = result?.reporting ?? aggregator.reported(label).count
        r.silent = silent.count
        r.recoveryMessages = result?.recoveryAnswers ?? 0
        return r
    }
}
