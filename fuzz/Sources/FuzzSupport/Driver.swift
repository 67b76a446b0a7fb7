// What every harness shares: libFuzzer's driver, invariant checks, and a reader that turns
// the fuzz input into fields.
import CFuzzDriver

/// The harness's function of one input, set by `runFuzzer`.
nonisolated(unsafe) var harnessBody: (([UInt8]) -> Void)? = nil

/// libFuzzer's entry for one input (also what libFuzzer's own tools look for).
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    harnessBody?(bytes)
    return 0
}

/// Runs libFuzzer with the process's arguments on `body` (call it from the harness's
/// `<Product>_main`: SwiftPM links executables with `--defsym main=<Product>_main`).
public func runFuzzer(
    argc: CInt, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ body: @escaping ([UInt8]) -> Void
) -> CInt {
    harnessBody = body
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in testOneInput(data, size) }
}

/// Stops the run with a crash report when a harness invariant does not hold (libFuzzer saves
/// the input).
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() { fatalError("fuzz invariant violated: \(message())", file: file, line: line) }
}

/// Reads fields from the fuzz input front to back; past the end every read is 0, so every
/// input is a valid program for the harness.
public struct FuzzInput {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isEmpty: Bool { offset >= bytes.count }
    public var remaining: Int { max(0, bytes.count - offset) }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    public mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }

    public mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }

    /// A value below `bound` (bound > 0).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "an empty range")
        return bound <= 256 ? Int(byte()) % bound : Int(u16()) % bound
    }

    /// Up to `count` bytes (fewer at the end of the input).
    public mutating func take(_ count: Int) -> [UInt8] {
        let n = min(max(0, count), remaining)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    /// A 64-bit value that is often an edge (0, 1, a small label, 2^32 − 1, 2^63, 2^64 − 1): the
    /// values arithmetic on labels and sizes gets wrong.
    public mutating func interestingU64() -> UInt64 {
        switch byte() % 8 {
        case 0: return 0
        case 1: return UInt64(byte())
        case 2: return .max
        case 3: return .max - UInt64(byte())
        case 4: return UInt64(UInt32.max) &+ UInt64(byte()) &- 128
        case 5: return 1 << 63
        default: return u64()
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Known findings the run steers around, from `FUZZ_TOLERATE` (comma-separated finding
/// numbers of issue 9, e.g. "9,10"). scripts/fuzz.sh sets it to the findings whose regression
/// input still crashes, so a long run explores past a bug that is already reported; once the
/// fix lands, the regression passes and the harness stops steering.
let toleratedFindings: Set<Int> = {
    guard let value = getenv("FUZZ_TOLERATE") else { return [] }
    return Set(String(cString: value).split(separator: ",").compactMap { Int($0) })
}()

public func tolerated(_ finding: Int) -> Bool { toleratedFindings.contains(finding) }

/// `FUZZ_TRACE=1`: harnesses print what each step did (to check seeds and regressions).
let tracing = getenv("FUZZ_TRACE") != nil

public func trace(_ message: @autoclosure () -> String) {
    if tracing { print(message()) }
}
