import Aggregation
import BigNum
import Foundation
import MeterCrypto
import MeterFirmware

extension Fleet {
    /// Paillier setup: the supplier's key (given, or generated from the seed), the group
    /// layout checked, the key delivered to every meter over the radio (signed by the
    /// provisioning authority, relayed by the aggregator), then each meter precomputes its
    /// first randomizer while idle.
    func runPaillierSetup(progress: (Int, Int) -> Void) throws -> SetupReport {
        let start = monotonicSeconds()
        let privateKey: PaillierPrivateKey
        if let given = configuration.paillierKey {
            privateKey = given
        } else {
            // Reproducible from the seed, for demos and tests only.
            var generator = ReproducibleGenerator(seed: configuration.seed)
            privateKey = try PaillierPrivateKey.generate(bits: configuration.paillierKeyBits, using: &generator)
        }
        let keySeconds = monotonicSeconds() - start

        // The authority signs the layout (checked with every live one), then the key and each
        // meter's groups from it, under the layout's epoch.
        let layout = try GroupLayout(
            signed: authority.signLayout(groups: [configuration.group: Set(members.meters)], epoch: epoch),
            authorityKey: authority.publicKey)
        let statements = try meters.map { meter in
            try authority.signPaillierKey(meter: meter.id, publicKey: privateKey.publicKey, layoutEpoch: epoch)
        }
        var t0 = threadCPUSeconds()
        let aggregator = try PaillierAggregator(
            members: members, publicKey: privateKey.publicKey, layout: layout, currentLabel: 0,
            authorityKey: authority.publicKey)
        let frames = zip(meters, statements).map { meter, statement in
            aggregator.keyStatementFrames(statement, meter: meter.id)
        }
        var aggregatorCPU = threadCPUSeconds() - t0

        let n = meters.count
        let cpu = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
        defer { cpu.deallocate() }
        cpu.initialize(repeating: 0)
        let failures = UnsafeMutableBufferPointer<String?>.allocate(capacity: n)
        defer { failures.deallocate() }
        failures.initialize(repeating: nil)
        let done = ManagedCounter()
        let report = NSLock()
        forEachMeter { i in
            let t0 = threadCPUSeconds()
            do {
                var event = MeterEvent.none
                for frame in frames[i] { event = try self.meters[i].handle(frame) }
                if event != .statementAccepted(.paillierKey) { failures[i] = "the key statement answered \(event)" }
            } catch {
                failures[i] = "\(error)"
            }
            cpu[i] = threadCPUSeconds() - t0
            _ = self.meters[i].takeSent()  // the setupComplete status
            let finished = done.increment()
            report.lock()
            progress(finished, n)
            report.unlock()
        }
        try checkFailures(failures)

        t0 = threadCPUSeconds()
        let supplier = PaillierSupplier(privateKey: privateKey, layout: layout)
        paillierAggregator = aggregator
        self.supplier = supplier
        pipeline = GroupSumPipeline(aggregator: aggregator, decryptor: supplier)
        aggregatorCPU += threadCPUSeconds() - t0

        // The meters precompute the randomizer of their first label while idle.
        forEachMeter { i in
            let t0 = threadCPUSeconds()
            self.meters[i].firmware.idle()
            self.pendingPrecompute[i] = threadCPUSeconds() - t0
        }
        var setup = SetupReport(
            wallSeconds: monotonicSeconds() - start, meterCPUSeconds: Array(cpu), aggregatorCPUSeconds: aggregatorCPU)
        setup.supplierKeySeconds = keySeconds
        return setup
    }
}
