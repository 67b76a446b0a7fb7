import MeterSimulator
import Testing

@Suite("Simulator toolkit: the seeded generator and the clocks")
struct SeededGeneratorTests {
    /// The reference SplitMix64 (Vigna, splitmix64.c) from seed 0 and seed 42; the values
    /// were printed by a Python transcription of the reference (arbitrary-precision
    /// integers masked to 64 bits), not by this code.
    @Test("SplitMix64's reference outputs")
    func referenceOutputs() {
        var zero = SeededGenerator(seed: 0)
        #expect(
            (0..<3).map { _ in zero.next() } == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var answer = SeededGenerator(seed: 42)
        #expect(
            (0..<3).map { _ in answer.next() } == [0xBDD7_3226_2FEB_6E95, 0x28EF_E333_B266_F103, 0x4752_6757_130F_9F52])
    }

    @Test("the same seed gives the same stream; another seed another")
    func determinism() {
        var a = SeededGenerator(seed: 7)
        var b = SeededGenerator(seed: 7)
        var c = SeededGenerator(seed: 8)
        let x = (0..<64).map { _ in a.next() }
        #expect(x == (0..<64).map { _ in b.next() })
        #expect(x != (0..<64).map { _ in c.next() })
        var d = SeededGenerator(seed: 7)
        var e = SeededGenerator(seed: 7)
        #expect(d.bytes(33) == e.bytes(33))
    }

    @Test("bytes are the low bytes of the outputs")
    func bytes() {
        var a = SeededGenerator(seed: 99)
        var b = SeededGenerator(seed: 99)
        #expect(a.bytes(5) == (0..<5).map { _ in UInt8(truncatingIfNeeded: b.next()) })
    }

    @Test("the thread CPU clock never goes backwards")
    func clock() {
        var last = threadCPUNanoseconds()
        for _ in 0..<1000 {
            let now = threadCPUNanoseconds()
            #expect(now >= last)
            last = now
        }
        #expect(threadCPUSeconds() >= 0)
    }
}
