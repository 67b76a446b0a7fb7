// swift-tools-version: 6.1
import PackageDescription

// libFuzzer harnesses for the surfaces an aggregator controls (docs/fuzzing.md; run them with
// scripts/fuzz.sh). A package of its own, like Benchmarks/, so that the root package's
// `swift build` and `swift test` never build them and the sanitizer flags never reach the
// normal targets.
//
// It does not depend on the root package: a package cannot set compiler flags on another
// package's targets, and the flags must be on the project's modules only. Instead the
// project's sources are compiled a second time here through the symlinks in Modules/
// (the same trick as Sources/Firmware<Scheme> in the root package):
// - firmware and aggregator modules: libFuzzer coverage + AddressSanitizer, and
//   -enable-testing so the harnesses can `@testable import` them (to re-seal flash records
//   and to compare internal state before and after a rejected input);
// - the simulator, the provisioning authority, BigNum and the simulated board (C):
//   AddressSanitizer only, so their code
//   does not count as coverage;
// - the harnesses: AddressSanitizer; their link adds libFuzzer.
// Build: `swift build -c release` in this directory (scripts/fuzz.sh does it).
let fuzzed: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-enable-testing"])]
// The firmware: edge coverage without libFuzzer's comparison tracing (trace-cmp), whose hooks
// in the key store's and outbox's per-bit syndrome loops took 30 % of the downlink harness's
// time; the magic values they would find come from the valid templates the harnesses mutate.
let fuzzedFirmware: [SwiftSetting] = [
    .unsafeFlags(["-sanitize=address", "-sanitize-coverage=edge,inline-8bit-counters,pc-table", "-enable-testing"])
]
let checked: [SwiftSetting] = [.unsafeFlags(["-sanitize=address"])]
let checkedTestable: [SwiftSetting] = [.unsafeFlags(["-sanitize=address", "-enable-testing"])]
let harnessLink: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

/// A harness: an executable target linked with libFuzzer.
func harness(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "FuzzSupport", "MeterFirmware", "MeterCrypto", "MeterSimulator", "Aggregation", "BigNum",
            "Provisioning",
        ],
        swiftSettings: checked, linkerSettings: harnessLink)
}

let package = Package(
    name: "PrivateMeteringFuzz",
    platforms: [.macOS(.v15)],
    targets: [
        .systemLibrary(
            name: "CGMP", path: "Modules/CGMP", pkgConfig: "gmp", providers: [.apt(["libgmp-dev"])]),
        .systemLibrary(
            name: "CGMPZ", path: "Modules/CGMPZ", pkgConfig: "gmp", providers: [.apt(["libgmp-dev"])]),
        // The meter's contract (meter_hal.h) and the simulated board that implements it.
        .systemLibrary(name: "MeterHAL", path: "Modules/MeterHAL/include"),
        .target(
            name: "CSimulatedBoard", dependencies: ["MeterHAL"], path: "Modules/MeterHAL/sim",
            publicHeadersPath: "include", cSettings: [.unsafeFlags(["-fsanitize=address"])]),
        .target(
            name: "MeterCrypto", dependencies: ["CGMP"], path: "Modules/MeterCrypto", swiftSettings: fuzzedFirmware),
        .target(
            name: "MeterFirmware", dependencies: ["MeterCrypto", "MeterHAL"], path: "Modules/MeterFirmware",
            swiftSettings: fuzzedFirmware),
        .target(name: "BigNum", dependencies: ["CGMPZ"], path: "Modules/BigNum", swiftSettings: checked),
        .target(
            name: "Aggregation", dependencies: ["MeterCrypto", "BigNum"], path: "Modules/Aggregation",
            swiftSettings: fuzzed),
        .target(
            name: "Provisioning", dependencies: ["MeterCrypto", "Aggregation", "BigNum"], path: "Modules/Provisioning",
            swiftSettings: checked),
        .target(
            name: "MeterSimulator",
            dependencies: ["MeterFirmware", "CSimulatedBoard", "Aggregation", "MeterCrypto", "BigNum", "Provisioning"],
            path: "Modules/MeterSimulator", swiftSettings: checkedTestable),

        // The libFuzzer entry glue, the input reader and the simulated groups the harnesses share.
        .target(name: "CFuzzDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CFuzzDriver", "MeterCrypto", "MeterFirmware", "MeterSimulator", "Provisioning"],
            swiftSettings: checked),
        // (a) the meter's downlink, in every phase of every scheme.
        harness("FuzzMeterDownlink"),
        // (b) boot from arbitrary flash: key store, outboxes, expanded key, DMCFE seeds.
        harness("FuzzBoot"),
        // (c) the aggregator's frame intake (LWR-PSA, Paillier, DMCFE pipelines, key setup).
        harness("FuzzFrameIntake"),
    ]
)
