import Aggregation
import BigNum
import MeterCrypto
import MeterFirmware

extension Fleet {
    /// Paillier setup: the supplier's key (given, or generated from the seed), the group
    /// layout checked, the key delivered to every meter over the radio (signed by the
    /// provisioning authority, relayed by the aggregator), then each meter precomputes its
    /// first randomizer while idle.
    func runPaillierSetup(progress: @escaping ParallelRunner.Progress) throws -> SetupReport {
        let start = monotonicSeconds()
        let privateKey: PaillierPrivateKey
        if let given = configuration.paillierKey {
            privateKey = given
        } else {
            // Reproducible from the seed, for demos and tests only.
            var generator = SeededGenerator(seed: configuration.seed)
            privateKey = try PaillierPrivateKey.generate(bits: configuration.paillierKeyBits, using: &generator)
        }
        let keySeconds = monotonicSeconds() - start

        // The authority signs the layout (checked with every live one), then the key for each
        // meter's groups from it, under the layout's epoch; the aggregator relays them.
        let layout = try GroupLayout(
            signed: authority.signLayout(groups: [configuration.group: Set(members.meters)], epoch: epoch),
            authorityKey: authority.publicKey)
        var t0 = threadCPUSeconds()
        let aggregator = try PaillierAggregator(
            members: members, publicKey: privateKey.publicKey, layout: layout, currentLabel: 0,
            authorityKey: authority.publicKey)
        var aggregatorCPU = threadCPUSeconds() - t0
        let cpu = MeterCPU(meters: meters.count)
        try SignedSetup.deliverPaillierKey(
            meters: meters, publicKey: privateKey.publicKey, aggregator: aggregator, authority: authority,
            layoutEpoch: epoch, runner: runner, cpu: cpu, progress: progress)

        t0 = threadCPUSeconds()
        let supplier = PaillierSupplier(privateKey: privateKey, layout: layout)
        paillierAggregator = aggregator
        self.supplier = supplier
        pipeline = GroupSumPipeline(aggregator: aggregator, decryptor: supplier)
        aggregatorCPU += threadCPUSeconds() - t0

        // The meters precompute the randomizer of their first label while idle.
        precomputeFirstLabel()
        var setup = SetupReport(
            wallSeconds: monotonicSeconds() - start, meterCPUSeconds: cpu.perMeter, aggregatorCPUSeconds: aggregatorCPU)
        setup.supplierKeySeconds = keySeconds
        return setup
    }
}
