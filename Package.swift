// swift-tools-version:6.1
import PackageDescription

// Numeric kernels need AVX2/FMA/F16C code generation: Swift's default x86-64 target is SSE2,
// where SIMD fused multiply-adds become library calls (see docs/architecture.md).
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=x86-64-v3", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "nanoforge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "nanoforge", targets: ["nanoforge"]),
        .library(name: "NanoTensor", targets: ["NanoTensor"]),
        .library(name: "NanoModels", targets: ["NanoModels"]),
        .library(name: "NanoCheckpoint", targets: ["NanoCheckpoint"]),
        .library(name: "NanoQuant", targets: ["NanoQuant"]),
        .library(name: "NanoForge", targets: ["NanoForge"]),
        .library(name: "NanoExport", targets: ["NanoExport"]),
        .library(name: "NanoRuntime", targets: ["NanoRuntime"]),
        .library(name: "NanoServe", targets: ["NanoServe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // `serve`'s HTTP server. No traits: they would add swift-configuration; only the
        // `Hummingbird` product is linked (no TLS, HTTP/2 or HTTP client in the build).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // Tensors, BLAS matmul, SIMD kernels, autodiff.
        .target(name: "NanoTensor", dependencies: ["CBLAS", "CSIMDIntrinsics"], swiftSettings: fastMath),
        // Layers, architectures and their contract, tokenizers, optimizers, losses.
        .target(name: "NanoModels", dependencies: ["NanoTensor"], swiftSettings: fastMath),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5"),
        // One-line AVX2 intrinsic wrappers (vpmaddwd) for NanoRuntime's Int8GEMM: no Swift SIMD
        // expression lowers to it (docs/architecture.md). The header needs AVX2 enabled, as fastMath.
        // Also CPU-feature detection and the AVX-512 / AVX-VNNI micro-kernels, each function with
        // its own target attribute (KernelSet, docs/architecture.md "CPU-feature dispatch").
        .target(name: "CSIMDIntrinsics", path: "Sources/CSIMDIntrinsics", cSettings: [.unsafeFlags(["-march=x86-64-v3"])]),
        // File formats (safetensors, HDF5, GGUF, JSON) and ModelLoader.
        .target(name: "NanoCheckpoint", dependencies: ["NanoTensor", "NanoModels", "CHDF5"], swiftSettings: fastMath),
        // Quantization numerics (grids, rounding, bit packing), the packed checkpoint format and the
        // full-integer CNN reference (IntegerCNN, built by `quantize`, written by the C export):
        // what the compressor, the exporters and the runtime share (docs/architecture.md "Layering").
        .target(name: "NanoQuant", dependencies: ["NanoTensor", "NanoModels", "NanoCheckpoint"], swiftSettings: fastMath),
        // Compression: recipes, passes and their algorithms (RTN, GPTQ, pruning, training), evaluation, the report.
        .target(name: "NanoForge",
                dependencies: ["NanoTensor", "NanoModels", "NanoCheckpoint", "NanoQuant", "NanoRuntime", .product(name: "Yams", package: "Yams")],
                swiftSettings: fastMath),
        // Deployable formats (ONNX, GGUF, C): built from a compressed model and its packed weights.
        .target(name: "NanoExport", dependencies: ["NanoTensor", "NanoModels", "NanoCheckpoint", "NanoQuant"],
                swiftSettings: fastMath),
        // Packed int8/int4 inference: kernels on the packed weights, BERT sentence encoder (docs/architecture.md).
        .target(name: "NanoRuntime", dependencies: ["CBLAS", "CSIMDIntrinsics", "NanoTensor", "NanoModels", "NanoCheckpoint", "NanoQuant"],
                swiftSettings: fastMath),
        // OpenAI-compatible HTTP server for encoders and decoders (`nanoforge serve`, docs/serve.md).
        .target(name: "NanoServe",
                dependencies: ["NanoTensor", "NanoModels", "NanoCheckpoint", "NanoQuant", "NanoRuntime",
                               .product(name: "Hummingbird", package: "hummingbird")],
                swiftSettings: fastMath),
        // The CLI: wires the pipeline to the exporters.
        .executableTarget(
            name: "nanoforge",
            dependencies: [
                "NanoTensor", "NanoModels", "NanoCheckpoint", "NanoQuant", "NanoForge", "NanoExport", "NanoRuntime", "NanoServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastMath),
        .target(name: "TestSupport", dependencies: ["NanoTensor"], path: "Tests/TestSupport"),
        .testTarget(name: "NanoTensorTests", dependencies: ["NanoTensor", "TestSupport"], swiftSettings: fastMath),
        .testTarget(name: "NanoModelsTests", dependencies: ["NanoModels", "NanoTensor", "TestSupport"], swiftSettings: fastMath),
        .testTarget(name: "NanoForgeTests", dependencies: ["NanoForge", "NanoQuant", "NanoCheckpoint", "NanoModels", "NanoTensor", "TestSupport"],
                    swiftSettings: fastMath),
        .testTarget(name: "NanoCheckpointTests", dependencies: ["NanoCheckpoint", "NanoModels", "NanoTensor", "TestSupport"],
                    swiftSettings: fastMath),
        .testTarget(name: "NanoExportTests",
                    dependencies: ["NanoExport", "NanoForge", "NanoQuant", "NanoCheckpoint", "NanoModels", "NanoRuntime", "NanoTensor", "TestSupport"],
                    swiftSettings: fastMath),
        .testTarget(name: "NanoRuntimeTests",
                    dependencies: ["NanoRuntime", "NanoForge", "NanoQuant", "NanoCheckpoint", "NanoModels", "NanoTensor", "TestSupport"],
                    swiftSettings: fastMath),
        .testTarget(name: "NanoServeTests",
                    dependencies: ["NanoServe", "NanoForge", .product(name: "Hummingbird", package: "hummingbird"), "NanoRuntime", "NanoQuant", "NanoCheckpoint", "NanoModels", "NanoTensor", "TestSupport"],
                    swiftSettings: fastMath),
    ],
    swiftLanguageModes: [.v5]
)
