// Which meters report to which groups, and the differencing check: the supplier learns
// every group's sum per label, and any linear combination of those sums. If some
// combination equals one meter's reading (e.g. group {1,2,3} minus group {2,3}), that
// meter has no privacy. The check refuses such layouts.
//
// Meter i is revealed exactly when its indicator vector e_i lies in the row space of the
// membership matrix M (rows: groups, columns: meters) over the rationals. Computed exactly
// with integers (fraction-free Gauss–Jordan elimination on BigInt, rows divided by their
// content), never with floating point:
//   * meters with identical membership are merged into one column: no combination can
//     separate them, so only a meter whose membership pattern is unique can be revealed;
//   * after elimination to reduced row-echelon form, e_c is in the row space exactly when
//     some row's only nonzero entry is in column c (the coefficient of a row in any
//     combination equals the combination's value at the row's pivot column);
//   * the elimination also runs on an appended identity matrix, so such a row tells which
//     groups combine to the meter (named in the error).

import BigNum
import MeterCrypto

/// A validated assignment of meters to groups: no combination of group sums reveals a
/// single meter. Only a valid layout can be constructed.
public struct GroupLayout: Sendable, Equatable {
    /// Group id → its meters, in increasing order.
    public let groups: [UInt32: [UInt32]]
    /// The epoch of the signed layout it came from (0: built locally, never signed).
    public private(set) var epoch: UInt32 = 0

    /// Checks the layout; throws `AggregationError.layoutIsolatesMeter` naming the first
    /// (lowest-id) meter some combination of group sums reveals, and the groups combined,
    /// or `invalidGroup` for an empty group.
    public init(groups: [UInt32: Set<UInt32>]) throws(AggregationError) {
        guard !groups.isEmpty else { throw .invalidGroup("a layout needs at least one group") }
        for (id, meters) in groups where meters.isEmpty { throw .invalidGroup("group \(id) has no meters") }
        if let (meter, combined) = Self.firstRevealedMeter(groups) {
            throw .layoutIsolatesMeter(meter: meter, groups: combined)
        }
        self.groups = groups.mapValues { $0.sorted() }
    }

    /// One group of `meters` (valid when it has at least two).
    public init(group: UInt32, meters: [UInt32]) throws(AggregationError) {
        try self.init(groups: [group: Set(meters)])
    }

    /// The meters of `group`, or nil if the layout has no such group.
    public func meters(of group: UInt32) -> [UInt32]? { groups[group] }

    /// The groups `meter` reports to, in increasing order.
    public func groups(of meter: UInt32) -> [UInt32] {
        groups.filter { $0.value.contains(meter) }.keys.sorted()
    }

    /// Every meter revealed by some combination of group sums, with the groups combined
    /// (empty for a valid layout). Exact: see the file's comment.
    public static func revealedMeters(_ groups: [UInt32: Set<UInt32>]) -> [(meter: UInt32, groups: [UInt32])] {
        let groupIDs = groups.keys.sorted()
        // Columns: distinct membership patterns; a pattern shared by two meters never isolates.
        var patterns: [[UInt32]: [UInt32]] = [:]
        for meter in Set(groups.values.flatMap { $0 }) {
            patterns[groupIDs.filter { groups[$0]!.contains(meter) }, default: []].append(meter)
        }
        let columns = patterns.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let g = groupIDs.count
        let width = columns.count + g  // [M | I]
        var rows: [[BigInt]] = groupIDs.enumerated().map { (r, id) in
            var row = [BigInt](repeating: BigInt(), count: width)
            for (c, pattern) in columns.enumerated() where pattern.contains(id) { row[c] = BigInt(1) }
            row[columns.count + r] = BigInt(1)
            return row
        }
        // Fraction-free Gauss–Jordan on the first `columns.count` columns.
        var pivotRow = 0
        for col in 0..<columns.count where pivotRow < g {
            guard let found = (pivotRow..<g).first(where: { !rows[$0][col].isZero }) else { continue }
            rows.swapAt(pivotRow, found)
            let pivot = rows[pivotRow][col]
            for r in 0..<g where r != pivotRow && !rows[r][col].isZero {
                let factor = rows[r][col]
                for c in 0..<width {
                    rows[r][c] = rows[r][c] * pivot - factor * rows[pivotRow][c]
                }
                normalize(&rows[r])
            }
            pivotRow += 1
        }
        var revealed: [(meter: UInt32, groups: [UInt32])] = []
        for row in rows {
            let support = (0..<columns.count).filter { !row[$0].isZero }
            guard support.count == 1, let meters = patterns[columns[support[0]]], meters.count == 1 else {
                continue
            }
            let combined = (0..<g).filter { !row[columns.count + $0].isZero }.map { groupIDs[$0] }
            revealed.append((meters[0], combined))
        }
        return revealed.sorted { $0.meter < $1.meter }
    }

    static func firstRevealedMeter(_ groups: [UInt32: Set<UInt32>]) -> (UInt32, [UInt32])? {
        revealedMeters(groups).first.map { ($0.meter, $0.groups) }
    }

    /// Divides a row by the gcd of its entries (keeps the integers small; the support,
    /// which is all the check reads, does not change).
    static func normalize(_ row: inout [BigInt]) {
        var content = BigInt()
        for v in row where !v.isZero {
            content = BigInt.gcd(content, v)
            if content == BigInt(1) { return }
        }
        guard !content.isZero else { return }
        for i in row.indices where !row[i].isZero { row[i] = row[i] / content }
    }
}

// MARK: - signed layouts

extension GroupLayout {
    /// The statement body of a layout (kind `layout`): after the header, group count u32,
    /// then per group (increasing ids) id u32 | meter count u32 | meter ids u32 (increasing).
    public static func body(groups: [UInt32: Set<UInt32>], epoch: UInt32) -> [UInt8] {
        var b = SignedStatement.header(kind: .layout, epoch: epoch, subject: 0, group: 0)
        func u32(_ v: UInt32) { b += (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) } }
        u32(UInt32(groups.count))
        for id in groups.keys.sorted() {
            u32(id)
            u32(UInt32(groups[id]!.count))
            for meter in groups[id]!.sorted() { u32(meter) }
        }
        return b
    }

    /// The layout a signed statement describes: it must verify under `authorityKey`, and the
    /// layout must pass the differencing check.
    public init(signed: SignedStatement, authorityKey: [UInt8]) throws(AggregationError) {
        guard signed.kind == .layout, signed.verifies(authorityKey: authorityKey) else {
            throw .unsignedStatement("the layout is not signed by the authority")
        }
        let b = signed.body
        var i = Statement.headerBytes
        func u32() throws(AggregationError) -> UInt32 {
            guard i + 4 <= b.count else { throw .invalidGroup("truncated layout") }
            defer { i += 4 }
            return BigEndian.load32(b.span, at: i)
        }
        var groups: [UInt32: Set<UInt32>] = [:]
        for _ in 0..<Int(try u32()) {
            let id = try u32()
            var meters = Set<UInt32>()
            for _ in 0..<Int(try u32()) { meters.insert(try u32()) }
            groups[id] = meters
        }
        guard i == b.count else { throw .invalidGroup("trailing bytes in the layout") }
        try self.init(groups: groups)
        epoch = signed.epoch
    }

    /// Checks layouts that can be live at once (during a transition) as one: each group of
    /// each layout is a row, so no combination of sums across them reveals a single meter.
    /// Throws `layoutIsolatesMeter` naming the meter and the groups (as "epoch.group" rows
    /// in `groups`: the index of the row in the order given).
    public static func checkLiveTogether(_ layouts: [[UInt32: Set<UInt32>]]) throws(AggregationError) {
        var rows: [UInt32: Set<UInt32>] = [:]
        for layout in layouts {
            for id in layout.keys.sorted() { rows[UInt32(rows.count)] = layout[id]! }
        }
        if let (meter, combined) = firstRevealedMeter(rows) {
            throw .layoutIsolatesMeter(meter: meter, groups: combined)
        }
    }
}
