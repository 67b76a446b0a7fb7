// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that the root package's `swift build` and
// `swift test` never build the benchmark harness and its dependencies.
// Run from this directory: `swift package benchmark` (see Benchmarks/Cost/Cost.swift and
// Benchmarks/Paillier/Paillier.swift).
let package = Package(
    name: "PrivateMeteringBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "PrivateMetering", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        // The harness's malloc interposer, read directly by the allocation checks (BenchmarkSupport).
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.5.0"),
    ],
    targets: [
        // Shared by the benchmark targets: thread CPU metric, the zero-allocation check.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
                .product(name: "MeterSimulator", package: "PrivateMetering"),
            ],
            path: "Benchmarks/BenchmarkSupport"),
        // `metering cost`'s measurements (every CostCatalog configuration, phases, zero-allocation thresholds).
        .executableTarget(
            name: "Cost",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkSupport",
                .product(name: "CostReport", package: "PrivateMetering"),
            ],
            path: "Benchmarks/Cost",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Paillier",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkSupport",
                .product(name: "Aggregation", package: "PrivateMetering"),
                .product(name: "BigNum", package: "PrivateMetering"),
                .product(name: "MeterSimulator", package: "PrivateMetering"),
            ],
            path: "Benchmarks/Paillier",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),

        // The firmware's SHAKE128 against OpenSSL's (EVP, through COpenSSLSHAKE), in one run.
        .target(
            name: "COpenSSLSHAKE", path: "Benchmarks/COpenSSLSHAKE", linkerSettings: [.linkedLibrary("crypto")]),
        .executableTarget(
            name: "Keccak",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkSupport", "COpenSSLSHAKE",
                .product(name: "MeterCrypto", package: "PrivateMetering"),
            ],
            path: "Benchmarks/Keccak",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
