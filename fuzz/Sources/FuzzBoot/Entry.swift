// libFuzzer's entry (in a file of its own: a module of one file would be compiled as a main
// file whose top-level code takes the `<Product>_main` symbol).
import FuzzSupport

@_cdecl("FuzzBoot_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
