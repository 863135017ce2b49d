import Foundation
import CSIMDIntrinsics

/// Which compiled variant of the hot kernels runs: one x86-64-v3 binary carries each set, and
/// `detected` is the best the CPU (and the OS's saved register state) supports, read once from
/// CPUID/XGETBV. A set the CPU lacks is never run: `init(named:)` refuses it, and every kernel
/// that takes a set falls back to `avx2` for a set that is not `supported`.
///
/// The choice is made at the edge (the CLI reads `NANOFORGE_KERNELS` once and stores it in
/// `current`); kernels that keep state (the runtime's GEMMs) take their set when they are built,
/// so tests can run every path side by side.
public enum KernelSet: String, CaseIterable, Sendable, CustomStringConvertible {
    /// AVX2 + FMA (x86-64-v3): the baseline, every machine that runs the build.
    case avx2 = "avx2"
    /// AVX-512 F/BW/VL + VNNI: `vpdpbusd` on 512-bit vectors (Zen 4/5, Ice Lake and later).
    case avx512VNNI = "avx512-vnni"
    /// AVX-VNNI: VEX `vpdpbusd` on 256-bit vectors (Alder Lake, Zen 5 also has it).
    case avxVNNI = "avx-vnni"

    /// The environment variable that forces a set (`NANOFORGE_KERNELS=avx2`).
    public static let environmentVariable = "NANOFORGE_KERNELS"

    /// The set's name as `NANOFORGE_KERNELS`, `bench` and reports spell it.
    public var name: String { rawValue }
    public var description: String { rawValue }

    /// Whether this CPU and OS can run the set.
    public var supported: Bool { Self.available.contains(self) }

    /// Whether kernels may use AVX-512 (zmm) code under this set: only `avx512VNNI`, and only
    /// where the CPU supports it.
    public var avx512: Bool { self == .avx512VNNI && supported }

    /// Every set this machine can run, baseline first.
    public static let available: [KernelSet] = {
        let features = Int32(nf_cpu_features())
        var sets: [KernelSet] = [.avx2]  // the binary needs x86-64-v3 to run at all
        if features & NF_CPU_AVX512_VNNI != 0 { sets.append(.avx512VNNI) }
        if features & NF_CPU_AVX_VNNI != 0 { sets.append(.avxVNNI) }
        return sets
    }()

    /// The sets this machine cannot run (tests name them as skipped).
    public static var unavailable: [KernelSet] { allCases.filter { !$0.supported } }

    /// The fastest set the machine supports: AVX-512 VNNI, else AVX-VNNI, else AVX2.
    public static let detected: KernelSet = available.contains(.avx512VNNI) ? .avx512VNNI
        : available.contains(.avxVNNI) ? .avxVNNI : .avx2

    /// The process's choice: `detected` unless the CLI set it from `NANOFORGE_KERNELS`
    /// (`select(environment:)`). Kernels built without an explicit set use it.
    public nonisolated(unsafe) static var current: KernelSet = detected

    /// The set a `NANOFORGE_KERNELS` value names; nil or empty means `detected`.
    public init(named value: String?) throws(KernelSetError) {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { self = Self.detected; return }
        guard let set = KernelSet(rawValue: value.lowercased()) else {
            throw .unknown(value: value, known: Self.allCases.map(\.name))
        }
        guard set.supported else { throw .unsupported(set: set, available: Self.available.map(\.name)) }
        self = set
    }

    /// Reads `NANOFORGE_KERNELS` from `environment` and makes it `current`; returns it.
    @discardableResult
    public static func select(environment: [String: String]) throws(KernelSetError) -> KernelSet {
        let set = try KernelSet(named: environment[environmentVariable])
        current = set
        return set
    }
}

/// A `NANOFORGE_KERNELS` value that names no set, or one this CPU cannot run.
public enum KernelSetError: Error, CustomStringConvertible, Equatable {
    case unknown(value: String, known: [String])
    case unsupported(set: KernelSet, available: [String])

    public var description: String {
        switch self {
        case .unknown(let value, let known):
            return "\(KernelSet.environmentVariable)=\(value): no such kernel set (known: \(known.joined(separator: ", ")))"
        case .unsupported(let set, let available):
            return "\(KernelSet.environmentVariable)=\(set.name): this CPU cannot run it (it can run: \(available.joined(separator: ", ")))"
        }
    }
}
