// swift-tools-version: 6.1
import PackageDescription

// The firmware sources (firmware/MeterCrypto, firmware/MeterFirmware) build twice:
// as normal targets for the host (tests, simulator, aggregator; every scheme) and, through
// the symlinks in Sources/Firmware<Scheme>, as one Embedded Swift image per scheme with
// -no-allocations: the core, the scheme's own folders and its entry point
// (firmware/Images/<Scheme>), so a heap allocation in any image breaks `swift build`, and
// each image holds only its own scheme's code.
let embedded: [SwiftSetting] = [
    .enableExperimentalFeature("Embedded"),
    .unsafeFlags(["-no-allocations"]),
]

// Hash-heavy host code (SLH-DSA signing in the tests) is optimised in debug builds too.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "PrivateMetering",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "metering", targets: ["metering"]),
        .library(name: "MeterCrypto", targets: ["MeterCrypto"]),
        .library(name: "MeterFirmware", targets: ["MeterFirmware"]),
        .library(name: "Aggregation", targets: ["Aggregation"]),
        .library(name: "BigNum", targets: ["BigNum"]),
        .library(name: "MeterSimulator", targets: ["MeterSimulator"]),
        .library(name: "CostReport", targets: ["CostReport"]),
        .library(name: "Provisioning", targets: ["Provisioning"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2")
    ],
    targets: [
        // C: the meter's hardware contract and the simulated board.
        .target(name: "MeterHAL", path: "hal", sources: ["sim"], publicHeadersPath: "include"),
        .systemLibrary(
            name: "CGMP", path: "Sources/CGMP", pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"])]),

        // Firmware, host build.
        // -O even in debug builds: the tests sign SLH-DSA (hundreds of thousands of Keccak
        // calls per signature), which takes seconds unoptimised.
        .target(
            name: "MeterCrypto", dependencies: ["CGMP"], path: "firmware/MeterCrypto",
            swiftSettings: optimizedInDebug),
        .target(
            name: "MeterFirmware", dependencies: ["MeterCrypto", "MeterHAL"],
            path: "firmware/MeterFirmware"),
        // Firmware, Embedded builds: one image per scheme (same sources, one module each).
        .target(name: "FirmwareLWRPSA", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),
        .target(name: "FirmwarePaillier", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),
        .target(name: "FirmwareDMCFE", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),

        // Host side.
        .target(name: "BigNum", dependencies: ["CGMP"]),
        .target(name: "Aggregation", dependencies: ["MeterCrypto", "BigNum"]),
        // The provisioning authority: factory keys, enrolment checks, SLH-DSA signed statements.
        .target(
            name: "Provisioning", dependencies: ["MeterCrypto", "Aggregation", "BigNum"],
            swiftSettings: optimizedInDebug),
        .target(
            name: "MeterSimulator",
            dependencies: ["MeterFirmware", "MeterHAL", "Aggregation", "MeterCrypto", "BigNum", "Provisioning"]),
        // The cost report (`metering cost`). CAllocationCounter replaces malloc for the whole
        // process, so only executables depend on it (through HeapCounter), never a library.
        .target(name: "CostProbes", path: "Sources/CostProbes"),
        .target(name: "CAllocationCounter", path: "Sources/CAllocationCounter"),
        .target(
            name: "CostReport",
            dependencies: [
                "MeterSimulator", "MeterFirmware", "MeterCrypto", "MeterHAL", "Aggregation", "BigNum", "CostProbes",
                "Provisioning",
            ]),
        .target(name: "HeapCounter", dependencies: ["CostReport", "CAllocationCounter"]),
        .executableTarget(
            name: "metering",
            dependencies: [
                "MeterSimulator", "Aggregation", "BigNum", "CostReport", "HeapCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "MeterCryptoTests", dependencies: ["MeterCrypto", "TestSupport"],
            resources: [.copy("Vectors")]),
        .testTarget(
            name: "MeterFirmwareTests",
            dependencies: [
                "MeterFirmware", "MeterSimulator", "MeterHAL", "Aggregation", "BigNum", "Provisioning", "TestSupport",
            ]),
        .testTarget(
            name: "AggregationTests",
            dependencies: ["Aggregation", "MeterSimulator", "MeterCrypto", "BigNum", "Provisioning", "TestSupport"]),
        .testTarget(name: "CostReportTests", dependencies: ["CostReport", "HeapCounter", "MeterCrypto", "MeterFirmware"]),
        .testTarget(name: "BigNumTests", dependencies: ["BigNum", "TestSupport"]),
        .testTarget(
            name: "ProvisioningTests",
            dependencies: [
                "Provisioning", "Aggregation", "MeterCrypto", "MeterSimulator", "MeterFirmware", "TestSupport", "CostReport",
            ]),
    ]
)
