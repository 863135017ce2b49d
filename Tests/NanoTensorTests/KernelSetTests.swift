import Foundation
import NanoTensor
import Testing

/// `KernelSet`: detection against the kernel's own view of the CPU (/proc/cpuinfo), and
/// `NANOFORGE_KERNELS` parsing with its errors.
@Suite struct KernelSetTests {
    /// The flags Linux reports for the first CPU.
    static func cpuFlags() -> Set<String>? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        return Set(line.split(separator: ":", maxSplits: 1).last!.split(separator: " ").map(String.init))
    }

    @Test(.enabled(if: cpuFlags() != nil, "no /proc/cpuinfo on this OS"))
    func detectionAgreesWithTheOperatingSystem() throws {
        let flags = try #require(Self.cpuFlags())
        #expect(flags.contains("avx2") && flags.contains("fma"))
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"].allSatisfy(flags.contains)
        #expect(KernelSet.avx512VNNI.supported == avx512, "flags: \(flags.filter { $0.contains("avx") }.sorted())")
        #expect(KernelSet.avxVNNI.supported == flags.contains("avx_vnni"))
        #expect(KernelSet.avx2.supported)
        #expect(KernelSet.detected == (avx512 ? .avx512VNNI : flags.contains("avx_vnni") ? .avxVNNI : .avx2))
        print("kernel sets on this CPU: \(KernelSet.available.map(\.name)); skipped (CPU lacks them): \(KernelSet.unavailable.map(\.name))")
    }

    @Test func namesParse() throws {
        #expect(try KernelSet(named: nil) == KernelSet.detected)
        #expect(try KernelSet(named: "") == KernelSet.detected)
        #expect(try KernelSet(named: "avx2") == .avx2)
        #expect(try KernelSet(named: " AVX2 ") == .avx2)
        for set in KernelSet.available { #expect(try KernelSet(named: set.name) == set) }
        #expect(throws: KernelSetError.unknown(value: "avx512", known: ["avx2", "avx512-vnni", "avx-vnni"])) { try KernelSet(named: "avx512") }
        #expect("\(KernelSetError.unknown(value: "sse", known: ["avx2"]))".contains("NANOFORGE_KERNELS=sse: no such kernel set"))
    }

    @Test(.enabled(if: !KernelSet.unavailable.isEmpty, "every kernel set is available on this CPU"))
    func aSetTheCPULacksIsRefused() throws {
        for set in KernelSet.unavailable {
            #expect(throws: KernelSetError.unsupported(set: set, available: KernelSet.available.map(\.name))) { try KernelSet(named: set.name) }
        }
    }

    @Test func selectSetsCurrent() throws {
        let saved = KernelSet.current
        defer { KernelSet.current = saved }
        #expect(try KernelSet.select(environment: ["NANOFORGE_KERNELS": "avx2"]) == .avx2)
        #expect(KernelSet.current == .avx2)
        #expect(try KernelSet.select(environment: [:]) == KernelSet.detected)
        #expect(KernelSet.current == KernelSet.detected)
        #expect(throws: KernelSetError.self) { try KernelSet.select(environment: ["NANOFORGE_KERNELS": "nope"]) }
    }
}
