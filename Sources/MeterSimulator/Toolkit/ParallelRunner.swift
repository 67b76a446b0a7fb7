// The simulator's one parallel runner: meters of a fleet, runs of a fault campaign.
import Dispatch
import Synchronization

/// Runs indices 0 ..< count on up to `threads` worker threads, strided: worker t takes
/// t, t + threads, t + 2·threads, … in order, so which worker sees which index is fixed by
/// the thread count alone. Each index is run by exactly one worker, once; the results come
/// back in index order, whatever the interleaving.
///
/// Error policy (the same for every caller): when an index throws, the workers stop taking
/// indices above it and finish the ones below; the error thrown is that of the lowest
/// failing index. Every index below it has run, so the error is the one a sequential run
/// would have stopped at, on any number of threads.
public struct ParallelRunner: Sendable {
    /// Worker threads (at least 1).
    public let threads: Int

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    /// One thread: indices in order on the calling thread.
    public static let sequential = ParallelRunner(threads: 1)

    /// Reports progress: (indices done, count), called one at a time from the worker that
    /// finished an index, so it may update a display without a lock of its own.
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    /// `body(i)` for every index; see the type for the error policy.
    public func forEach<E: Error>(
        _ count: Int, progress: Progress? = nil, _ body: (Int) throws(E) -> Void
    ) throws(E) {
        _ = try map(count, progress: progress, body)
    }

    /// `body(i)` for every index, the results in index order.
    public func map<T, E: Error>(
        _ count: Int, progress: Progress? = nil, _ body: (Int) throws(E) -> T
    ) throws(E) -> [T] {
        try map(count, worker: { (_: Int) throws(E) in () }, progress: progress) {
            (_: inout Void, i: Int) throws(E) -> T in try body(i)
        }
    }

    /// Like `map`, with state each worker makes once (`worker(t)`, t in 0 ..< threads used)
    /// and passes to every index it runs: a board to reuse, a fixture too dear to rebuild
    /// per index. The results come back in index order.
    public func map<Worker, T, E: Error>(
        _ count: Int, worker: (Int) throws(E) -> Worker, progress: Progress? = nil,
        _ body: (inout Worker, Int) throws(E) -> T
    ) throws(E) -> [T] {
        guard count > 0 else { return [] }
        let workers = min(threads, count)
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let lowestFailure = Atomic<Int>(Int.max)
        let failure = Mutex<(index: Int, error: E)?>(nil)
        let done = Mutex(0)
        func fail(_ index: Int, _ error: E) {
            lowestFailure.min(index, ordering: .relaxed)
            failure.withLock { first in
                if first.map({ index < $0.index }) ?? true { first = (index, error) }
            }
        }
        // Each index is written by exactly one worker, and read only after all returned.
        nonisolated(unsafe) let slots = results
        func run(_ t: Int) {
            var state: Worker
            do throws(E) { state = try worker(t) } catch {
                fail(t, error)
                return
            }
            var i = t
            while i < count && i < lowestFailure.load(ordering: .relaxed) {
                do throws(E) { slots[i] = try body(&state, i) } catch {
                    fail(i, error)
                    return
                }
                if let progress {
                    done.withLock { n in
                        n += 1
                        progress(n, count)
                    }
                }
                i += workers
            }
        }
        if workers == 1 {
            run(0)
        } else {
            // concurrentPerform returns only when every worker has: nothing escapes.
            withoutActuallyEscaping(run) { run in
                nonisolated(unsafe) let run = run
                DispatchQueue.concurrentPerform(iterations: workers) { t in run(t) }
            }
        }
        if let (_, error) = failure.withLock({ $0 }) { throw error }
        return results.map { $0! }
    }
}
