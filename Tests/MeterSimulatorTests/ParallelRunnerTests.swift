import MeterSimulator
import Synchronization
import Testing

/// A failure the runner must hand back unchanged.
struct IndexFailed: Error, Equatable {
    let index: Int
}

@Suite("Simulator toolkit: the parallel runner")
struct ParallelRunnerTests {
    @Test("every index runs exactly once and the results come back in index order", arguments: [1, 2, 3, 8])
    func orderAndCoverage(threads: Int) throws {
        let runs = Mutex([Int](repeating: 0, count: 97))
        let squares = ParallelRunner(threads: threads).map(97) { i in
            runs.withLock { $0[i] += 1 }
            return i * i
        }
        #expect(squares == (0..<97).map { $0 * $0 })
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 97))
    }

    @Test("no indices, or fewer than threads", arguments: [0, 1, 3])
    func small(count: Int) {
        #expect(ParallelRunner(threads: 8).map(count) { $0 } == Array(0..<count))
    }

    @Test("strided: worker t takes t, t + threads, …; each worker makes its state once")
    func strided() throws {
        let made = Mutex(0)
        let seen = try ParallelRunner(threads: 3).map(
            10,
            worker: { (t: Int) throws(IndexFailed) -> (worker: Int, visited: [Int]) in
                made.withLock { $0 += 1 }
                return (t, [])
            }
        ) { (state: inout (worker: Int, visited: [Int]), i: Int) throws(IndexFailed) -> (Int, [Int]) in
            state.visited.append(i)
            return (state.worker, state.visited)
        }
        #expect(made.withLock { $0 } == 3)
        for (i, (worker, visited)) in seen.enumerated() {
            #expect(worker == i % 3)
            // The worker has visited its earlier indices, in order, before this one.
            #expect(visited == Array(stride(from: i % 3, through: i, by: 3)))
        }
    }

    @Test("error policy: the lowest failing index's error, every index below it run", arguments: [1, 2, 4, 7])
    func lowestFailure(threads: Int) {
        let ran = Mutex(Set<Int>())
        let failing: Set<Int> = [13, 29, 30, 64]
        #expect(throws: IndexFailed(index: 13)) {
            try ParallelRunner(threads: threads).forEach(80) { (i: Int) throws(IndexFailed) in
                ran.withLock { _ = $0.insert(i) }
                if failing.contains(i) { throw IndexFailed(index: i) }
            }
        }
        #expect(ran.withLock { $0 }.isSuperset(of: Set(0...13)))
    }

    @Test("progress: one call per index, one at a time, done counting up to the total")
    func progress() {
        let calls = Mutex([Int]())
        ParallelRunner(threads: 4).forEach(
            25,
            progress: { done, total in
                #expect(total == 25)
                calls.withLock { $0.append(done) }
            }
        ) { _ in }
        #expect(calls.withLock { $0 } == Array(1...25))
    }
}
