// libFuzzer's entry points (in a file of their own: a module of one file would be compiled
// as a main file whose top-level code takes the `<Product>_main` symbol).
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(fuzzBytes(data, size))
    return 0
}

@_cdecl("FuzzFrameIntake_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv) { data, size in testOneInput(data, size) }
}
