import MeterCrypto

/// What the aggregator answers to a reading frame.
public struct ReadingReceipt: Sendable {
    /// Meters that have now reported the frame's label; nil when the frame repeats a
    /// reading already collected, or arrived after its label left the window.
    public let reported: Int?
    /// The ack frame for the meter (downlink), sealed with its frame key.
    public let ack: [UInt8]
}

extension FrameIntake {
    /// The acknowledgement of `meter`'s reading for `label`: an empty ack frame.
    public func acknowledgement(to meter: UInt32, label: UInt64) -> [UInt8] {
        seal(.ack, to: meter, label: label, payload: [])
    }
}

extension GroupAggregator {
    /// Accepts a reading and returns the ack the meter waits for before it lets the
    /// reading go from its outbox. A retransmission of a reading already collected (the
    /// first ack may have been lost) and a reading too old for the window are
    /// acknowledged again and change nothing; every other rejection throws as `accept`
    /// does, with no ack: a frame that is not authentic gets no answer.
    public func acceptAndAcknowledge(_ frame: [UInt8]) throws(AggregationError) -> ReadingReceipt {
        let intake = FrameIntake(members: members)
        do {
            let reported = try accept(frame)
            let header = try Self.authenticHeader(frame)
            return ReadingReceipt(
                reported: reported, ack: intake.acknowledgement(to: header.meter, label: header.label))
        } catch .duplicate(let meter, let label) {
            return ReadingReceipt(reported: nil, ack: intake.acknowledgement(to: meter, label: label))
        } catch .labelOutsideWindow(let label, let accepted) where label < accepted.lowerBound {
            // `accept` checks the tag before the window: the frame is authentic.
            let header = try Self.authenticHeader(frame)
            return ReadingReceipt(reported: nil, ack: intake.acknowledgement(to: header.meter, label: label))
        }
    }

    static func authenticHeader(_ frame: [UInt8]) throws(AggregationError) -> FrameHeader {
        do { return try Frame.parseHeader(frame.span) } catch { throw .malformed(error) }
    }
}
