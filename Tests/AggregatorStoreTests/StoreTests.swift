import AggregatorStore
import Foundation
import TestSupport
import Testing

/// The two backends the same suite runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }
}

/// A store of `backend` on fresh tables; `body` gets it, then it is removed. The PostgreSQL
/// case fails (does not pass silently) when no server URL is set.
func withStore(
    _ backend: Backend,
    _ body: (any AggregatorStore, _ reopen: () async throws -> any AggregatorStore) async throws
        -> Void
) async throws {
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("aggregator.sqlite").path
        let store = try await openStore(path)
        var opened: [any AggregatorStore] = [store]
        try await body(store) {
            let again = try await openStore("sqlite:" + path)
            opened.append(again)
            return again
        }
        for s in opened { await s.close() }
    case .postgresql:
        let base: String
        switch TestPostgres.availability {
        case .url(let url): base = url
        case .skippedOnPurpose: return
        case .missing(let message):
            Issue.record(Comment(rawValue: message))
            return
        }
        let url = TestPostgres.url(base, schema: TestPostgres.freshSchema("store"))
        let store = try await openStore(url)
        var opened: [any AggregatorStore] = [store]
        do {
            try await body(store) {
                let again = try await openStore(url)
                opened.append(again)
                return again
            }
        } catch {
            try? await (store as! PostgresStore).dropSchema()
            for s in opened { await s.close() }
            throw error
        }
        try await (store as! PostgresStore).dropSchema()
        for s in opened { await s.close() }
    }
}

func group(_ id: UInt32, meters: Int = 3) -> GroupRecord {
    var keys: [UInt32: [UInt8]] = [:]
    for m in 1...UInt32(meters) { keys[m] = [UInt8](repeating: UInt8(m), count: 32) }
    return GroupRecord(
        group: id, scheme: 1, epoch: 7, parameterID: 3, keyMode: 0, maxReading: 5000, frameKeys: keys, currentLabel: 0,
        lookback: 96)
}

func frame(_ meter: UInt32, _ label: UInt64, _ salt: UInt8 = 0) -> [UInt8] {
    [0x01, 0x02, salt] + withUnsafeBytes(of: meter.bigEndian, Array.init)
        + withUnsafeBytes(of: label.bigEndian, Array.init)
}

@Suite("Aggregator store (SQLite and PostgreSQL)")
struct StoreTests {
    @Test("migrations apply once and again as a no-op", arguments: Backend.allCases)
    func migrations(_ backend: Backend) async throws {
        try await withStore(backend) { store, reopen in
            try await store.migrate()
            let again = try await reopen()
            let applied: [Int]
            if let s = again as? SQLiteStore {
                applied = try await s.appliedMigrations()
            } else {
                applied = try await (again as! PostgresStore).appliedMigrations()
            }
            #expect(applied == Schema.migrations.map(\.version))
        }
    }

    @Test("a group reads back as stored; a second one with the same id is refused", arguments: Backend.allCases)
    func groups(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            var g = group(5)
            g.authorityKey = [0xAA, 0, 0xBB]
            try await store.insertGroup(g)
            try await store.insertGroup(group(2, meters: 2))
            #expect(try await store.groups() == [group(2, meters: 2), g])
            await #expect(throws: StoreError.groupExists(5)) { try await store.insertGroup(group(5, meters: 4)) }
            let signed = SignedGroupRecord(
                body: [1, 2, 3], signature: [4, 5], rosterKeys: [1: [9, 9], 2: [8], 3: [7, 7, 7]])
            try await store.updateSignedGroup(group: 5, signed: signed)
            g.signed = signed
            #expect(try await store.groups().last == g)
            await #expect(throws: StoreError.unknownGroup(6)) {
                try await store.updateSignedGroup(group: 6, signed: signed)
            }
        }
    }

    @Test("a Paillier group's hand-over and its encrypted sums read back as stored", arguments: Backend.allCases)
    func paillierGroup(_ backend: Backend) async throws {
        try await withStore(backend) { store, reopen in
            var g = group(9)
            g.scheme = 2
            g.paillier = PaillierGroupRecord(
                modulus: [0xC5, 1, 2, 3], authorityKey: [7, 7], layout: SignedBytes(body: [1, 2], signature: [3]),
                keyStatements: [
                    1: SignedBytes(body: [4], signature: [5, 6]), 2: SignedBytes(body: [], signature: [8]),
                ])
            try await store.insertGroup(g)
            try await store.insertGroup(group(3))
            var commit = StoreCommit(group: 9)
            commit.sums = [
                LabelSum(label: 0, sum: 0, meters: 3, ciphertext: [0xFF, 0, 1]),
                LabelSum(label: 1, sum: 0, meters: 3, ciphertext: [2]),
            ]
            try await store.commit(commit)
            var lwr = StoreCommit(group: 3)
            lwr.sums = [LabelSum(label: 0, sum: 42, meters: 3)]
            try await store.commit(lwr)
            let again = try await reopen()
            #expect(try await again.groups() == [group(3), g])
            #expect(try await again.sums(group: 9, labels: 0...5) == commit.sums)
            #expect(try await again.sums(group: 3, labels: 0...5) == lwr.sums)
            if let postgres = again as? PostgresStore {
                #expect(try await postgres.readingPartitions() == ["readings_default", "readings_g3", "readings_g9"])
            }
        }
    }

    @Test("one commit stores setup frames, readings, sums, alarms and the label", arguments: Backend.allCases)
    func commitAndRead(_ backend: Backend) async throws {
        try await withStore(backend) { store, reopen in
            try await store.insertGroup(group(1))
            var c = StoreCommit(group: 1)
            c.setupFrames = [[1], [2, 2]]
            c.readings = [
                StoredReading(meter: 2, label: 4, frame: frame(2, 4)),
                StoredReading(meter: 1, label: 4, frame: frame(1, 4)),
                StoredReading(meter: 1, label: 3, frame: frame(1, 3)),
            ]
            c.sums = [LabelSum(label: 4, sum: 12_345, meters: 3)]
            c.alarms = [StoredAlarm(meter: 3, label: 4, kind: "labelReused", frame: frame(3, 4, 9))]
            c.currentLabel = 4
            try await store.commit(c)
            var more = StoreCommit(group: 1)
            more.setupFrames = [[3, 3, 3]]
            more.sums = [LabelSum(label: 4, sum: 12_345, meters: 3), LabelSum(label: 5, sum: 1, meters: 3)]
            more.alarms = c.alarms  // the same alarm again is kept once
            try await store.commit(more)

            let reopened = try await reopen()
            #expect(try await reopened.setupFrames(group: 1) == [[1], [2, 2], [3, 3, 3]])
            #expect(
                try await reopened.readings(group: 1, fromLabel: 0) == [
                    StoredReading(meter: 1, label: 3, frame: frame(1, 3)),
                    StoredReading(meter: 1, label: 4, frame: frame(1, 4)),
                    StoredReading(meter: 2, label: 4, frame: frame(2, 4)),
                ])
            #expect(try await reopened.readings(group: 1, fromLabel: 4).count == 2)
            #expect(
                try await reopened.sums(group: 1, labels: 0...10) == [
                    LabelSum(label: 4, sum: 12_345, meters: 3), LabelSum(label: 5, sum: 1, meters: 3),
                ])
            #expect(try await reopened.sums(group: 1, labels: 5...5).count == 1)
            #expect(try await reopened.alarms(group: 1) == c.alarms)
            #expect(try await reopened.groups().first?.currentLabel == 4)
            let found = try await reopened.storedFrames(
                group: 1, keys: [ReadingKey(meter: 1, label: 4), ReadingKey(meter: 3, label: 4)])
            #expect(found == [ReadingKey(meter: 1, label: 4): frame(1, 4)])
            #expect(
                try await reopened.statistics(group: 1)
                    == GroupStatistics(readings: 3, metersReporting: 2, labelsComplete: 2, newestLabel: 4, alarms: 1))
        }
    }

    @Test("a commit with one taken key stores none of its rows", arguments: Backend.allCases)
    func conflictIsAtomic(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            try await store.insertGroup(group(1))
            var first = StoreCommit(group: 1)
            first.readings = [StoredReading(meter: 1, label: 0, frame: frame(1, 0))]
            try await store.commit(first)
            var second = StoreCommit(group: 1)
            second.setupFrames = [[7]]
            second.readings = [
                StoredReading(meter: 2, label: 0, frame: frame(2, 0)),
                StoredReading(meter: 1, label: 0, frame: frame(1, 0, 1)),
            ]
            second.sums = [LabelSum(label: 0, sum: 3, meters: 2)]
            second.currentLabel = 9
            await #expect {
                try await store.commit(second)
            } throws: { error in
                if case .conflict = error as? StoreError { return true }
                return false
            }
            #expect(try await store.readings(group: 1, fromLabel: 0) == first.readings)
            #expect(try await store.setupFrames(group: 1).isEmpty)
            #expect(try await store.sums(group: 1, labels: 0...100).isEmpty)
            #expect(try await store.groups().first?.currentLabel == 0)
        }
    }

    @Test("values outside the schema and unknown groups are refused, nothing written", arguments: Backend.allCases)
    func refusals(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            try await store.insertGroup(group(1))
            var c = StoreCommit(group: 1)
            c.readings = [
                StoredReading(meter: 1, label: 0, frame: frame(1, 0)),
                StoredReading(meter: 1, label: 1 << 63, frame: frame(1, 1)),
            ]
            await #expect(throws: StoreError.invalidValue("label \(UInt64(1) << 63) ≥ 2^63")) {
                try await store.commit(c)
            }
            var unknown = StoreCommit(group: 2)
            unknown.readings = [StoredReading(meter: 1, label: 0, frame: frame(1, 0))]
            await #expect(throws: StoreError.unknownGroup(2)) { try await store.commit(unknown) }
            #expect(try await store.readings(group: 1, fromLabel: 0).isEmpty)
            #expect(try await store.readings(group: 2, fromLabel: 0).isEmpty)
        }
    }

    @Test("groups are independent: one group's rows never show in another's", arguments: Backend.allCases)
    func groupsAreIndependent(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            try await store.insertGroup(group(1))
            try await store.insertGroup(group(2))
            for g: UInt32 in [1, 2] {
                var c = StoreCommit(group: g)
                c.readings = [StoredReading(meter: 1, label: 0, frame: frame(1, 0, UInt8(g)))]
                c.sums = [LabelSum(label: 0, sum: UInt64(g), meters: 1)]
                try await store.commit(c)
            }
            #expect(
                try await store.readings(group: 2, fromLabel: 0) == [
                    StoredReading(meter: 1, label: 0, frame: frame(1, 0, 2))
                ])
            #expect(try await store.sums(group: 1, labels: 0...0) == [LabelSum(label: 0, sum: 1, meters: 1)])
        }
    }

    @Test(
        "one meter's readings over a label range: exactly its stored frames of the range, nothing outside it",
        arguments: Backend.allCases)
    func meterLabelRange(_ backend: Backend) async throws {
        try await withStore(backend) { store, reopen in
            try await store.insertGroup(group(1))
            try await store.insertGroup(group(2))
            // Group 1: meters 1 ... 3 at labels 10 ... 40, meter 2 silent at 17 and 30; group 2: meter 2 too.
            var c = StoreCommit(group: 1)
            for label: UInt64 in 10...40 {
                for meter: UInt32 in 1...3 where !(meter == 2 && (label == 17 || label == 30)) {
                    c.readings.append(StoredReading(meter: meter, label: label, frame: frame(meter, label)))
                }
            }
            try await store.commit(c)
            var other = StoreCommit(group: 2)
            other.readings = (0...50).map { StoredReading(meter: 2, label: $0, frame: frame(2, $0, 2)) }
            try await store.commit(other)
            let again = try await reopen()
            func stored(_ meter: UInt32, _ labels: ClosedRange<UInt64>) -> [StoredReading] {
                c.readings.filter { $0.meter == meter && labels.contains($0.label) }.sorted { $0.label < $1.label }
            }
            for (meter, labels) in [
                (UInt32(2), UInt64(15)...35), (2, 17...17), (2, 30...31), (1, 10...40), (3, 0...9), (3, 0...10),
                (1, 40...1000), (2, 0...UInt64(Int64.max)), (4, 10...40),
            ] {
                let got = try await again.readings(group: 1, meter: meter, labels: labels)
                #expect(got == stored(meter, labels), "meter \(meter), labels \(labels)")
            }
            #expect(try await again.readings(group: 1, meter: 2, labels: 15...35).count == 19)
            #expect(try await again.readings(group: 2, meter: 2, labels: 45...60).map(\.label) == Array(45...50))
            #expect(try await again.readings(group: 3, meter: 2, labels: 0...50).isEmpty)
            // A group without readings: nothing, at once, even over every label.
            #expect(try await again.readings(group: 3, meter: 2, labels: 0...UInt64(Int64.max)).isEmpty)
            await #expect(throws: StoreError.invalidValue("label \(UInt64(1) << 63) ≥ 2^63")) {
                try await again.readings(group: 1, meter: 2, labels: 0...(1 << 63))
            }
            // The whole group's readings still come back as before.
            #expect(try await again.readings(group: 1, fromLabel: 40).count == 3)
        }
    }

    @Test("openStore refuses locations it cannot open")
    func badLocations() async throws {
        await #expect(throws: StoreError.badURL("mysql://x")) { _ = try await openStore("mysql://x") }
        await #expect(throws: StoreError.badURL("postgres://")) { _ = try await openStore("postgres://") }
        await #expect {
            _ = try await openStore("/proc/no-such-dir/x.sqlite")
        } throws: { error in
            if case .unavailable = error as? StoreError { return true }
            return false
        }
    }

    @Test("a PostgreSQL URL where no server answers fails with a clear message")
    func postgresDown() async throws {
        // Port 1 on loopback: nothing listens there.
        await #expect {
            _ = try await openStore("postgres://metering@127.0.0.1:1/none")
        } throws: { error in
            guard case .unavailable(let message) = error as? StoreError else { return false }
            return !message.isEmpty
        }
    }
}
