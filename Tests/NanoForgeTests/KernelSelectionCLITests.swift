import Foundation
import NanoTensor
import TestSupport
import Testing

/// `NANOFORGE_KERNELS` at the CLI's edge: read once before any command runs; an unknown name or a
/// set this CPU cannot run is refused with exit 64 and a message naming the variable.
@Suite struct KernelSelectionCLITests {
    static func run(_ value: String?) throws -> CommandRunner.Result {
        var environment = ProcessInfo.processInfo.environment
        environment[KernelSet.environmentVariable] = value
        return try CommandRunner.run(CommandRunner.executable, ["--help"], environment: environment)
    }

    @Test func validNamesRun() throws {
        for value in [nil, "avx2"] + KernelSet.available.map(\.name) {
            let result = try Self.run(value)
            #expect(result.status == 0, "\(value ?? "unset"): \(result.stderr)")
        }
    }

    @Test func unknownNameIsRefused() throws {
        let result = try Self.run("avx1024")
        #expect(result.status == 64)
        #expect(result.stderr.contains("NANOFORGE_KERNELS=avx1024: no such kernel set (known: avx2, avx512-vnni, avx-vnni)"), "\(result.stderr)")
    }

    @Test(.enabled(if: !KernelSet.unavailable.isEmpty, "every kernel set is available on this CPU"))
    func aSetTheCPULacksIsRefused() throws {
        for set in KernelSet.unavailable {
            let result = try Self.run(set.name)
            #expect(result.status == 64, "\(set)")
            #expect(result.stderr.contains("NANOFORGE_KERNELS=\(set.name): this CPU cannot run it"), "\(result.stderr)")
        }
    }
}
