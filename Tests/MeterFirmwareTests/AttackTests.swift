import MeterSimulator
import Testing

/// Every attack of `Attacks.all` (docs/attacks.md) against the real firmware: each must be
/// refused.
@Suite("Attacks of a malicious aggregator")
struct AttackTests {
    @Test("the attack is refused", arguments: Attacks.all.map(\.id))
    func refused(id: String) throws {
        let attack = try #require(Attacks.named(id))
        let outcome = try attack.run()
        #expect(outcome.outcome == .refused, "\(id): \(outcome.detail)")
    }

    @Test("attack ids are unique and every attack says what it tries")
    func registry() {
        let ids = Attacks.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(Attacks.all.allSatisfy { !$0.tries.isEmpty && !$0.scheme.isEmpty })
    }
}
