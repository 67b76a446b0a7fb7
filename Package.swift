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

// The host build of MeterCrypto on x86-64 is scheduled for current server cores, for its
// Keccak rounds (docs/keccak.md): -mtune changes instruction scheduling and selection only
// (SHLD for the rotations, fewer spills), not the instruction set, so the code still runs on
// any x86-64. It takes the SHAKE128 squeeze from about 1.0x to about 0.93x of OpenSSL's time.
#if arch(x86_64)
    let hostTuning: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mtune=sapphirerapids"])]
#else
    let hostTuning: [SwiftSetting] = []
#endif

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
        .library(name: "AggregatorAPI", targets: ["AggregatorAPI"]),
        .library(name: "AggregatorStore", targets: ["AggregatorStore"]),
        .library(name: "AggregatorService", targets: ["AggregatorService"]),
        .library(name: "ServiceClient", targets: ["ServiceClient"]),
        .library(name: "Customer", targets: ["Customer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // The aggregator service (Sources/AggregatorStore, AggregatorService, ServiceClient) only.
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        // Already in the graph through postgres-nio: HPKE and Ed25519 for customer grants.
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
    ],
    targets: [
        // C: the meter's hardware contract (meter_hal.h only: all the firmware sees of a board)
        // and the simulated board that implements it (meter_sim.h, hal/sim/*.c), which only
        // MeterSimulator's SimulatedBoard imports.
        .systemLibrary(name: "MeterHAL", path: "hal/include"),
        .target(name: "CSimulatedBoard", dependencies: ["MeterHAL"], path: "hal/sim", publicHeadersPath: "include"),
        // GMP, one module per layer: the firmware's mpn shim (caller-owned limbs, no allocation)
        // and the allocating mpz shim that only the host's BigNum imports.
        .systemLibrary(
            name: "CGMP", path: "Sources/CGMP", pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"])]),
        .systemLibrary(
            name: "CGMPZ", path: "Sources/CGMPZ", pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"])]),

        // Firmware, host build.
        // -O even in debug builds: the tests sign SLH-DSA (hundreds of thousands of Keccak
        // calls per signature), which takes seconds unoptimised.
        .target(
            name: "MeterCrypto", dependencies: ["CGMP"], path: "firmware/MeterCrypto",
            swiftSettings: optimizedInDebug + hostTuning),
        .target(
            name: "MeterFirmware", dependencies: ["MeterCrypto", "MeterHAL"],
            path: "firmware/MeterFirmware"),
        // Firmware, Embedded builds: one image per scheme (same sources, one module each).
        .target(name: "FirmwareLWRPSA", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),
        .target(name: "FirmwarePaillier", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),
        .target(name: "FirmwareDMCFE", dependencies: ["CGMP", "MeterHAL"], swiftSettings: embedded),

        // Host side.
        .target(name: "BigNum", dependencies: ["CGMPZ"]),
        .target(name: "Aggregation", dependencies: ["MeterCrypto", "BigNum"]),
        // The customer's side: the code, opening sealed detail, the curve (`metering customer`).
        .target(
            name: "Customer",
            dependencies: [
                "Aggregation", "MeterCrypto", "AggregatorAPI", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The provisioning authority: factory keys, enrolment checks, SLH-DSA signed statements.
        .target(
            name: "Provisioning", dependencies: ["MeterCrypto", "Aggregation", "BigNum"],
            swiftSettings: optimizedInDebug),
        .target(
            name: "MeterSimulator",
            dependencies: [
                "MeterFirmware", "CSimulatedBoard", "Aggregation", "MeterCrypto", "BigNum", "Provisioning",
            ]),
        // The cost report (`metering cost`). CAllocationCounter replaces malloc for the whole
        // process, so only executables depend on it (through HeapCounter), never a library.
        .target(name: "CostProbes", path: "Sources/CostProbes"),
        .target(name: "CAllocationCounter", path: "Sources/CAllocationCounter"),
        .target(
            name: "CostReport",
            dependencies: [
                "MeterSimulator", "MeterFirmware", "MeterCrypto", "Aggregation", "BigNum", "CostProbes",
                "Provisioning",
            ]),
        .target(name: "HeapCounter", dependencies: ["CostReport", "CAllocationCounter"]),

        // The aggregator (data concentrator) as a service: storage behind one protocol
        // (SQLite through GRDB, PostgreSQL through PostgresNIO), the HTTP service
        // (Hummingbird, TLS, Prometheus metrics), and the meters' side over HTTP.
        .target(name: "AggregatorAPI"),
        .target(
            name: "AggregatorStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "AggregatorService",
            dependencies: [
                "AggregatorAPI", "AggregatorStore", "Aggregation", "MeterCrypto", "BigNum", "Customer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("openapi.yaml"), .copy("Web")]),
        .target(
            name: "ServiceClient",
            dependencies: [
                "AggregatorAPI", "MeterSimulator", "Aggregation", "MeterCrypto", "MeterFirmware", "Provisioning",
                "Customer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .executableTarget(
            name: "metering",
            dependencies: [
                "MeterSimulator", "Aggregation", "BigNum", "CostReport", "HeapCounter",
                "AggregatorService", "ServiceClient", "Customer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "MeterCryptoTests", dependencies: ["MeterCrypto", "MeterSimulator", "TestSupport"],
            resources: [.copy("Vectors")]),
        .testTarget(
            name: "MeterFirmwareTests",
            dependencies: [
                "MeterFirmware", "MeterSimulator", "MeterHAL", "Aggregation", "BigNum", "Provisioning", "TestSupport",
                "Customer",
            ]),
        .testTarget(
            name: "AggregationTests",
            dependencies: ["Aggregation", "MeterSimulator", "MeterCrypto", "BigNum", "Provisioning", "TestSupport"]),
        .testTarget(
            name: "MeterSimulatorTests",
            dependencies: [
                "MeterSimulator", "MeterFirmware", "MeterCrypto", "Aggregation", "Provisioning", "TestSupport",
            ],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "CostReportTests", dependencies: ["CostReport", "HeapCounter", "MeterCrypto", "MeterFirmware"]),
        .testTarget(name: "BigNumTests", dependencies: ["BigNum", "MeterSimulator", "TestSupport"]),
        .testTarget(
            name: "AggregatorStoreTests", dependencies: ["AggregatorStore", "TestSupport"]),
        .testTarget(
            name: "AggregatorServiceTests",
            dependencies: [
                "AggregatorAPI", "AggregatorService", "AggregatorStore", "ServiceClient", "Aggregation",
                "MeterSimulator",
                "MeterCrypto", "Provisioning", "TestSupport", "Customer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "ProvisioningTests",
            dependencies: [
                "Provisioning", "Aggregation", "MeterCrypto", "MeterSimulator", "MeterFirmware", "TestSupport",
                "CostReport",
            ]),
    ]
)
