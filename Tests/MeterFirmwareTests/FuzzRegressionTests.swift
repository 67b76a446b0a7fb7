import Aggregation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import Testing

// Findings 9 and 10 of issue 9, found by the fuzzing harnesses (docs/fuzzing.md); their
// inputs are fuzz/regressions/, which scripts/fuzz.sh runs first. Each failed (trapped)
// on the code before the fix.

@Suite("Fuzzing regressions (issue 9, findings 9 and 10)")
struct FuzzRegressionTests {
    @Test("finding 9: a downlink longer than the meter's inbox does not block the ones behind it")
    func longDownlinkDoesNotBlockTheRadio() throws {
        let bench = try TestBench(meters: 2)
        let aggregator = try bench.completeSetup()
        let reading = bench.runInterval()[0].filter { frameType($0) == .reading }
        let meter = bench.meters[0]
        #expect(meter.firmware.pendingReadings == 1)
        let ack = try aggregator.acceptAndAcknowledge(reading[0]).ack
        // Longer than the inbox (1064 bytes), shorter than the radio's MTU (2048): no key needed.
        try meter.deliver([UInt8](repeating: 0, count: 1100))
        _ = meter.firmware.poll()
        let event = try meter.handle(ack)
        #expect(event == .acknowledged(label: 0))
        #expect(meter.firmware.pendingReadings == 0)
    }

    @Test("finding 10: a checksum-valid outbox entry for label 2^64 − 1 does not trap the meter at boot")
    func outboxLabelMaxDoesNotTrapBoot() async {
        await #expect(processExitsWith: .success) {
            let meter = try SimulatedMeter(
                factory: ProvisioningAuthority(seed: 1).manufacture(meter: 1), seed: 1, profile: [1_000_000],
                sampleSeconds: 60)
            // Written through the outbox's own code: checksum and syndrome are valid.
            var outbox = try Outbox(board: meter.firmware.board, firstSector: meter.firmware.layout.outboxSector)
            try outbox.load()
            let frame = [UInt8](repeating: 0, count: 48)
            _ = try outbox.append(label: .max, frame: frame.span)
            try meter.reboot()
            _ = meter.firmware.poll()
        }
    }

    @Test("finding 10: the aggregator's window moved to label 2^64 − 1 is a typed error, not a trap")
    func advanceToMaxDoesNotTrap() {
        var labels = LabelCollection<UInt64>(current: 0)
        #expect(throws: AggregationError.labelOutOfRange(.max)) { try labels.advance(to: .max) }
        #expect(labels.window == 0...1)
    }
}
