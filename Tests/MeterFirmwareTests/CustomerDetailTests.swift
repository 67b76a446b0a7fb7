import Aggregation
import Customer
import Foundation
import MeterCrypto
import MeterFirmware
import MeterSimulator
import Provisioning
import TestSupport
import Testing

/// Issue 14, item 1: every meter seals each reading and its 1-minute values for its customer
/// (AES-128-GCM under a key it drew and shows once); the aggregator stores the frames and
/// cannot read them; the customer opens them with the code.
@Suite("Customer detail (sealed for the customer)")
struct CustomerDetailTests {
    static func fleet(_ scheme: SchemeID, meters: Int, labels: Int) throws -> (Fleet, MemoryDetailStore) {
        var config = FleetConfiguration()
        config.meters = meters
        config.scheme = scheme
        config.paillierKeyBits = 2048
        config.threads = 2
        config.maxReading = 5000
        let fleet = try Fleet(config, labels: labels)
        let store = MemoryDetailStore()
        fleet.detailStore = store
        _ = try fleet.runKeySetup()
        for label in 0..<labels { #expect(try fleet.runLabel(UInt64(label)).exact) }
        return (fleet, store)
    }

    @Test("a meter's sealed detail opens with its own code, equal to its readings, and not with another meter's")
    func ownCodeOnly() throws {
        let labels = 6
        let (fleet, store) = try Self.fleet(.lwrPSA, meters: 3, labels: labels)
        #expect(fleet.detailRefused == 0 && store.conflicts == 0)
        #expect(store.all.count == 3 * labels)
        let codes = try fleet.meters.map { try $0.revealCustomerCode() }
        for (i, meter) in fleet.meters.enumerated() {
            let own = try CustomerCurve(meter: meter.id, key: CustomerKey(code: codes[i]), source: store)
            #expect(own.refused.isEmpty)
            #expect(own.readings.map(\.label) == (0..<UInt64(labels)).map { $0 })
            #expect(own.readings.map(\.wattHours) == Array(fleet.expectedReadings(meter: i).prefix(labels)))
            for r in own.readings {
                // Every minute measured whole (the meters booted at tick 0); their energy
                // adds up to the reading (each minute's W rounded down: within 15 / 60 Wh
                // per minute, and the sub-Wh remainder carried between intervals).
                #expect(r.minuteWatts.allSatisfy { $0 != nil })
                let minuteWh = Double(r.minuteWatts.reduce(0) { $0 + Int($1!) }) / 60
                #expect(abs(minuteWh - Double(r.wattHours)) < 2, "label \(r.label)")
            }
            let other = try CustomerCurve(
                meter: meter.id, key: CustomerKey(code: codes[(i + 1) % 3]), source: store)
            #expect(other.readings.isEmpty)
            #expect(other.refused.count == labels && other.refused.allSatisfy { $0.error == .notAuthentic })
        }
    }

    @Test("every scheme's image seals the detail the same way", arguments: [SchemeID.paillier, .dmcfe])
    func otherSchemes(scheme: SchemeID) throws {
        let (fleet, store) = try Self.fleet(scheme, meters: 2, labels: 2)
        for (i, meter) in fleet.meters.enumerated() {
            let curve = try CustomerCurve(
                meter: meter.id, key: CustomerKey(code: meter.revealCustomerCode()), source: store)
            #expect(curve.readings.map(\.wattHours) == Array(fleet.expectedReadings(meter: i).prefix(2)))
            #expect(store.sealedDetail(meter: meter.id, labels: nil).allSatisfy { $0.frame[2] == scheme.rawValue })
        }
    }

    @Test("the code is shown once, also across reboots; a new provisioning draws a new key")
    func shownOnce() throws {
        let authority = ProvisioningAuthority(seed: 5)
        let meter = try SimulatedMeter(
            factory: authority.manufacture(meter: 9), seed: 9, profile: [500_000], sampleSeconds: 60)
        #expect(meter.firmware.customerCodeAvailable)
        let code = try meter.revealCustomerCode()
        let key = try CustomerKey(code: code)
        #expect(key.bytes == (0..<16).map { meter.firmware.storedRecord!.customerKey[$0] })
        #expect(throws: MeterError.customerCodeShown) { _ = try meter.revealCustomerCode() }
        try meter.reboot()
        #expect(!meter.firmware.customerCodeAvailable)
        #expect(throws: MeterError.customerCodeShown) { _ = try meter.revealCustomerCode() }
        #expect(meter.firmware.storedRecord!.hasCustomerKey)
        try meter.provisionFirmware()
        let second = try meter.revealCustomerCode()
        #expect(second != code)
    }

    @Test("a new provisioning keys the detail cipher again: the next detail opens with the new code only")
    func rekeyedAfterProvisioning() throws {
        let authority = ProvisioningAuthority(seed: 12)
        let first = try SimulatedGroup(authority: authority, meters: 2)
        _ = try first.setUpLWR(maxReading: 1000)
        let m = first.meters[0]
        func detail(_ frames: [[UInt8]], _ members: GroupMembers) throws -> SealedDetail {
            try CustomerDetailIntake(members: members).accept(
                #require(frames.first { frameType($0) == .customerDetail }))
        }
        let oldKey = try CustomerKey(code: m.revealCustomerCode())
        let before = try detail(SimulatedGroup.runInterval(m), first.members)
        #expect((try? DetailReading(opening: before, key: oldKey, meter: m.id)) != nil)
        // New customer keys without a reboot: the meter keyed its cipher for the old one.
        for meter in first.meters { try meter.provisionFirmware() }
        let second = try SimulatedGroup(authority: authority, scheme: .lwrPSA, meters: first.meters)
        _ = try second.setUpLWR(maxReading: 1000)
        let newKey = try CustomerKey(code: m.revealCustomerCode())
        let after = try detail(SimulatedGroup.runInterval(m), second.members)
        #expect((try? DetailReading(opening: after, key: newKey, meter: m.id)) != nil)
        #expect((try? DetailReading(opening: after, key: oldKey, meter: m.id)) == nil)
    }

    @Test("a meter without a key store shows no code")
    func unprovisioned() throws {
        let authority = ProvisioningAuthority(seed: 6)
        let meter = try SimulatedMeter(
            factory: authority.manufacture(meter: 1), seed: 1, profile: [500_000], sampleSeconds: 60,
            provision: false)
        #expect(throws: MeterError.notProvisioned) { _ = try meter.revealCustomerCode() }
    }

    @Test("sealed detail is kept until its reading's ack, re-sent byte for byte after a reboot, never sealed twice")
    func keptUntilAcknowledged() throws {
        let bench = try TestBench(meters: 2)
        let aggregator = try bench.completeSetup()
        let m = bench.meters[0]
        _ = m.takeSent()
        var first: [UInt64: [UInt8]] = [:]
        for _ in 0..<3 {
            for _ in 0..<15 {
                m.advance(ticks: 60_000)
                _ = m.firmware.poll()
            }
            for f in m.takeSent() where frameType(f) == .customerDetail {
                let label = try Frame.parseHeader(f.span).label
                if first[label] == nil { first[label] = f }
                #expect(first[label] == f)
            }
        }
        #expect(first.count == 3)
        #expect(m.firmware.pendingDetail == 3)
        #expect(try m.pendingDetailFrames() == first.keys.sorted().map { first[$0]! })
        try m.reboot()
        _ = m.firmware.poll()
        let resent = m.takeSent().filter { frameType($0) == .customerDetail }
        #expect(resent == first.keys.sorted().map { first[$0]! })
        // The readings' acks let the detail go.
        let intake = FrameIntake(members: bench.members)
        for label in first.keys.sorted() {
            _ = try m.handle(intake.acknowledgement(to: m.id, label: label))
        }
        #expect(m.firmware.pendingDetail == 0 && m.firmware.pendingReadings == 0)
        _ = aggregator
    }

    @Test("the aggregator's intake stores authentic detail frames and refuses the rest")
    func intake() throws {
        let bench = try TestBench(meters: 2)
        _ = try bench.completeSetup()
        let sent = bench.runInterval()
        let intake = CustomerDetailIntake(members: bench.members)
        let detail = try #require(sent[0].first { frameType($0) == .customerDetail })
        let reading = try #require(sent[0].first { frameType($0) == .reading })
        #expect(detail.count == CustomerDetail.frameBytes)
        let stored = try intake.accept(detail)
        #expect(stored.frame == detail && stored.meter == 1 && stored.label == 0)
        #expect(throws: AggregationError.unexpectedType(.reading)) { _ = try intake.accept(reading) }
        var tampered = detail
        tampered[30] ^= 1
        #expect(throws: AggregationError.badTag(meter: 1)) { _ = try intake.accept(tampered) }
        let store = MemoryDetailStore()
        store.store(stored)
        store.store(stored)
        #expect(store.all.count == 1 && store.conflicts == 0)
    }

    @Test("sealed detail JSON lines round-trip")
    func jsonLines() throws {
        let path = NSTemporaryDirectory() + "detail-\(UInt64.random(in: 0...UInt64.max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try JSONLinesDetailFile(path: path, truncate: true)
        let a = SealedDetail(meter: 3, group: 1, label: 7, frame: [1, 2, 3, 0xFF])
        let b = SealedDetail(meter: 4, group: 1, label: 2, frame: [9])
        try file.store(a)
        try file.store(b)
        let read = try JSONLinesDetailFile(path: path)
        #expect(try read.all() == [a, b])
        #expect(try read.sealedDetail(meter: 3, labels: 0...10) == [a])
        #expect(try read.sealedDetail(meter: 3, labels: 8...10).isEmpty)
    }
}
