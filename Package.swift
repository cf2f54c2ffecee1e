// swift-tools-version: 6.1
import PackageDescription

/// Strict settings shared by every Swift target (see README "Development").
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "sous",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sous", targets: ["sous"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already in the graph through Hummingbird; the local cloud answers TLS with it (boto3's CRT speaks only TLS).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.2"),
    ],
    targets: [
        // C libraries: system-library targets with typed shims (one Swift file wraps each).
        .systemLibrary(
            name: "CSousCurl", path: "Sources/CSousCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .systemLibrary(
            name: "CSousOpenSSL", path: "Sources/CSousOpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]),
        .systemLibrary(
            name: "CSousYAML", path: "Sources/CSousYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),

        // Leaves. SousBasics: JSON/XML text, stat and folder walk, write loop (imported by any module).
        .target(name: "SousBasics", swiftSettings: strict),
        .target(name: "SousYAML", dependencies: ["CSousYAML"], swiftSettings: strict),
        // Our own C: the 16-lane MD5 kernel (AVX-512 intrinsics, chosen at run time), which Swift cannot express.
        .target(name: "CSousMD5", path: "Sources/CSousMD5", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "SousCrypto", dependencies: ["CSousOpenSSL", "CSousMD5"], swiftSettings: strict),
        .target(name: "SousHTTP", dependencies: ["CSousCurl", "SousBasics"], swiftSettings: strict),
        // The containers' formats: stream parsers, prompt templates, generation parameters (no model).
        // Default flags: in release its parsers run as fast with -O as they did with SousLLM's -Ounchecked.
        .target(name: "SousStreaming", swiftSettings: strict),
        // The Llama runtime. Optimised in debug builds too: the tests and the local cloud run real models
        // through it, and unoptimised Swift is ~100x slower at its loops.
        .target(
            name: "SousLLM", dependencies: ["SousStreaming"],
            swiftSettings: strict + [
                .unsafeFlags(["-Ounchecked"], .when(configuration: .release)), .unsafeFlags(["-O"], .when(configuration: .debug)),
            ]),

        // Clients and engine.
        .target(name: "SousRecipe", dependencies: ["SousYAML", "SousBasics"], swiftSettings: strict),
        .target(name: "SousEngine", dependencies: ["SousRecipe", "SousCrypto", "SousBasics"], swiftSettings: strict + [.define("SOUS_FAULT_INJECTION", .when(configuration: .debug))]),
        .target(name: "SousAWS", dependencies: ["SousHTTP", "SousCrypto", "SousBasics"], swiftSettings: strict),
        .target(name: "SousHub", dependencies: ["SousHTTP", "SousCrypto", "SousBasics"], swiftSettings: strict),

        // The local cloud: S3 + SageMaker + SageMaker Runtime on loopback, endpoints served by SousLLM.
        .target(
            name: "SousLocalCloud",
            dependencies: [
                "SousAWS", "SousLLM", "SousHub", "SousHTTP", "SousCrypto", "SousBasics",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),

        // Benchmarks: the measurements `sous bench` runs for scripts/bench-*.sh, and their synthetic inputs.
        .target(name: "SousBench", dependencies: ["SousAWS", "SousStreaming", "SousLLM"], swiftSettings: strict),

        // Step kinds and commands.
        .target(
            name: "SousSteps",
            dependencies: [
                "SousEngine", "SousRecipe", "SousAWS", "SousHub", "SousStreaming", "SousCrypto", "SousHTTP", "SousBasics",
            ],
            swiftSettings: strict),
        .target(
            name: "SousCLI",
            dependencies: [
                "SousSteps", "SousEngine", "SousRecipe", "SousYAML", "SousAWS", "SousHub", "SousHTTP", "SousCrypto",
                "SousStreaming", "SousLLM", "SousLocalCloud", "SousBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "sous", dependencies: ["SousCLI"], swiftSettings: strict),

        // Tests.
        .target(
            name: "SousTestSupport", dependencies: ["SousStreaming"], path: "Tests/SousTestSupport", swiftSettings: strict),
        .testTarget(name: "SousBasicsTests", dependencies: ["SousBasics"], swiftSettings: strict),
        .testTarget(name: "SousYAMLTests", dependencies: ["SousYAML"], swiftSettings: strict),
        .testTarget(name: "SousCryptoTests", dependencies: ["SousCrypto", "SousTestSupport"], swiftSettings: strict),
        .testTarget(name: "SousHTTPTests", dependencies: ["SousHTTP", "SousTestSupport"], swiftSettings: strict),
        .testTarget(name: "SousStreamingTests", dependencies: ["SousStreaming", "SousTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SousLLMTests", dependencies: ["SousLLM", "SousStreaming", "SousTestSupport"], swiftSettings: strict),
        .testTarget(name: "SousRecipeTests", dependencies: ["SousRecipe", "SousTestSupport"], swiftSettings: strict),
        .testTarget(name: "SousEngineTests", dependencies: ["SousEngine", "SousTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SousAWSTests", dependencies: ["SousAWS", "SousStreaming", "SousTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SousBenchTests", dependencies: ["SousBench", "SousAWS", "SousStreaming", "SousTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "SousHubTests", dependencies: ["SousHub", "SousTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SousLocalCloudTests", dependencies: ["SousLocalCloud", "SousLLM", "SousAWS", "SousBasics", "SousTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SousCLITests", dependencies: ["SousCLI", "SousSteps", "SousStreaming", "SousTestSupport"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
