import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// Q8_0 and Q4_0 against gguf-py's `gguf.quants` (a transcription of ggml's reference code):
/// our encoding equals its `quantize` byte for byte and our decoding equals its `dequantize` bit
/// for bit, on random data and on the edge cases of the rounding rules.
@Suite struct GGUFBlocksTests {
    /// 32 values per block: random normals at several scales, then edge-case blocks.
    static func samples() -> [Float] {
        var rng = RandomGenerator(seed: 7)
        var values: [Float] = []
        for scale: Float in [1, 1e-3, 300] {
            for _ in 0..<(32 * 40) { values.append(rng.nextNormal() * scale) }
        }
        values += [Float](repeating: 0, count: 32)                                    // d = 0
        values += (0..<32).map { Float($0 % 2 == 0 ? 1 : -1) * 2.5 }                   // ±max ties: first wins
        values += (0..<32).map { Float($0) - 16 }                                      // exact halves in Q4_0
        values += (0..<32).map { $0 == 5 ? -127 : Float($0) * 0.5 }                    // x/d exactly k + 0.5
        values += (0..<32).map { $0 == 0 ? 1e-8 : 0 }                                  // f16 scale underflows
        values += (0..<32).map { $0 == 31 ? 1e7 : 1 }                                  // f16 scale overflows to inf
        return values
    }

    static func bytes(_ values: [Float]) -> Data { values.withUnsafeBufferPointer { Data(buffer: $0) } }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    /// Python's encoding (hex) and decoding (Float32 bit patterns) of the float32 file at argv[1].
    static func python(_ values: [Float], type: String) throws -> (encoded: String, decodedBits: [UInt32]) {
        try PythonRunner.require(modules: ["numpy", "gguf"])
        return try withTemporaryDirectory { folder in
            let path = folder + "/values.f32"
            try bytes(values).write(to: URL(fileURLWithPath: path))
            let script = """
            import json, sys
            import numpy as np
            from gguf import quants, GGMLQuantizationType as T
            x = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, 32)
            t = getattr(T, sys.argv[2])
            with np.errstate(all="ignore"):
                q = quants.quantize(x, t)
                d = quants.dequantize(q, t).astype("<f4")
            print(json.dumps({"hex": q.tobytes().hex(), "bits": [int(b) for b in d.view("<u4").ravel()]}))
            """
            let out = try PythonRunner.run(script, arguments: [path, type])
            struct Reply: Decodable { let hex: String; let bits: [UInt32] }
            let reply = try JSONDecoder().decode(Reply.self, from: Data(out.utf8))
            return (reply.hex, reply.bits)
        }
    }

    static func decode(_ data: Data, _ type: GGUFTensorType, count: Int) -> [UInt32] {
        data.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: count) ?? [] }.map(\.bitPattern)
    }

    @Test func q8_0MatchesGGUFPy() throws {
        let values = Self.samples()
        let ours = GGUFBlocks.encodeQ8_0(values)
        #expect(ours.count == values.count / 32 * 34)
        let python = try Self.python(values, type: "Q8_0")
        #expect(Self.hex(ours) == python.encoded)
        #expect(Self.decode(ours, .q8_0, count: values.count) == python.decodedBits)
    }

    @Test func q4_0MatchesGGUFPy() throws {
        let values = Self.samples()
        let ours = GGUFBlocks.encodeQ4_0(values)
        #expect(ours.count == values.count / 32 * 18)
        let python = try Self.python(values, type: "Q4_0")
        #expect(Self.hex(ours) == python.encoded)
        #expect(Self.decode(ours, .q4_0, count: values.count) == python.decodedBits)
    }

    /// The layout by hand: scale first, low nibbles hold elements 0–15, high nibbles 16–31.
    @Test func q4_0NibbleLayout() {
        var values = [Float](repeating: 0, count: 32)
        values[0] = -8; values[16] = 7; values[1] = 1
        let block = [UInt8](GGUFBlocks.encodeQ4_0(values))
        // d = -8 / -8 = 1 → f16 0x3C00; codes: x0 → 0, x16 → 15, x1 → 9, others 8.
        #expect(block[0] == 0x00 && block[1] == 0x3C)
        #expect(block[2] == 0xF0)                 // low nibble element 0 (0), high element 16 (15)
        #expect(block[3] == 0x89)                 // low element 1 (9), high element 17 (8)
        #expect(block[4] == 0x88)
    }

    /// Q8_0 error is at most half a step plus the f16 rounding of d times the code: d · (1/2 + 127 · 2⁻¹¹).
    @Test(arguments: [Float(1), 1e-2, 1e3])
    func q8_0ErrorIsHalfAStep(scale: Float) {
        var rng = RandomGenerator(seed: 11)
        let values = (0..<(32 * 64)).map { _ in rng.nextNormal() * scale }
        let decoded = GGUFBlocks.encodeQ8_0(values).withUnsafeBytes { GGUFBlocks.decode($0, type: .q8_0, count: values.count)! }
        for b in 0..<64 {
            let block = values[(b * 32)..<(b * 32 + 32)]
            let d = block.map(abs).max()! / 127
            for i in block.indices { #expect(abs(values[i] - decoded[i]) <= d * (0.5 + 127 * 0x1p-11), "block \(b) element \(i)") }
        }
    }
}
