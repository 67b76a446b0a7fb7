/// PUT /v1/groups/{g}/tariff: the authority's signed tariff for an LWR-PSA group's meters
/// (statement kind 4, docs/spec/billing.md).
public typealias MeterTariffBody = SignedStatementBody

/// GET /v1/groups/{g}/meter-bills: the sealed bills the group's meters made, as received
/// (the service cannot open them; the supplier does, with its bill keys).
public struct MeterBillsResponse: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var meter: UInt32
        /// The billing period's last label (the frame's label).
        public var last_label: UInt64
        /// The whole bill frame, hex.
        public var frame: String

        public init(meter: UInt32, last_label: UInt64, frame: String) {
            self.meter = meter
            self.last_label = last_label
            self.frame = frame
        }
    }
    public var group: UInt32
    public var bills: [Entry]

    public init(group: UInt32, bills: [Entry]) {
        self.group = group
        self.bills = bills
    }
}
