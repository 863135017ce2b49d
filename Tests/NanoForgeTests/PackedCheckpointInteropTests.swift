import Foundation
import Testing
import NanoCheckpoint
import NanoForge
@testable import NanoQuant
import NanoTensor
import TestSupport

/// The numpy script documented in docs/formats.md ("Packed quantized weights") dequantizes a
/// packed file we wrote to exactly our `QuantizedTensor.dequantized()`, bit for bit; and
/// `nanoforge inspect` reports the packed layers.
@Suite struct PackedCheckpointInteropTests {
    struct ScriptMissing: Error, CustomStringConvertible {
        let description: String
    }

    /// The Python code between the `packed-dequantize-script` markers, without the code fence.
    static func documentedScript() throws -> String {
        let doc = try String(contentsOfFile: RepositoryPaths.root + "/docs/formats.md", encoding: .utf8)
        guard let begin = doc.range(of: "<!-- packed-dequantize-script:begin -->"),
              let end = doc.range(of: "<!-- packed-dequantize-script:end -->"), begin.upperBound < end.lowerBound else {
            throw ScriptMissing(description: "docs/formats.md lacks the packed-dequantize-script markers")
        }
        let lines = doc[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        return lines.filter { !$0.hasPrefix("```") }.joined(separator: "\n")
    }

    @Test func documentedScriptIsShort() throws {
        let lines = try Self.documentedScript().split(separator: "\n").count
        #expect(lines <= 30, "\(lines) lines")
    }

    @Test func documentedScriptDequantizesBitExactly() throws {
        try PythonRunner.require(modules: ["numpy", "safetensors"])
        try withTemporaryDirectory { dir in
            let written = try PackedFixture.write(into: dir)
            let harness = """

                import sys
                result = {k: [list(v.shape), str(v.dtype), v.astype("<f4").tobytes().hex()] for k, v in dequantize(sys.argv[1]).items()}
                print(json.dumps(result))
                """
            let output = try PythonRunner.run(try Self.documentedScript() + harness, arguments: [written.path])
            let decoded = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [Any]]
            let python = try #require(decoded)
            #expect(Set(python.keys) == Set(written.quantized.keys))
            for (name, q) in written.quantized {
                let entry = try #require(python[name])
                #expect(entry[0] as? [Int] == q.shape, "\(name)")
                #expect(entry[1] as? String == "float32", "\(name)")
                let ours = q.dequantized().scalars.map { v in
                    withUnsafeBytes(of: v.bitPattern.littleEndian) { $0.map { String(format: "%02x", $0) }.joined() }
                }.joined()
                #expect(entry[2] as? String == ours, "\(name): \(q.scheme)")
            }
        }
    }

    @Test func inspectListsStoredTensorsAndQuantizedLayers() throws {
        try withTemporaryDirectory { dir in
            let written = try PackedFixture.write(into: dir)
            let json = try CommandRunner.nanoforge(["inspect", "--json", written.path])
            #expect(json.status == 0, "\(json.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["parameters"] as? Int == written.model.parameterCount)      // logical weights, not packed bytes
            let tensors = try #require(object["tensors"] as? [[String: Any]])
            let dtypes = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as! String, $0["dtype"] as! String) })
            #expect(dtypes["layers.0.weight.qweight"] == "I8" && dtypes["layers.1.weight.scales"] == "F16")
            let quantized = try #require(object["quantized"] as? [[String: Any]])
            #expect(quantized.count == 4)
            let second = try #require(quantized.first { $0["layer"] as? String == "layers.1" })
            #expect(second["bits"] as? Int == 4 && second["granularity"] as? String == "group" && second["group_size"] as? Int == 32)
            // 4 bits per code + one F16 scale per 32 weights = 4.5.
            #expect(second["bits_per_weight"] as? Double == 4.5)

            let table = try CommandRunner.nanoforge(["inspect", written.path])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("quantized layers.1 [32, 64]: int4 sym group32, scales float16, 4.50 bits/weight"), "\(table.stdout)")
            #expect(table.stdout.contains("parameters: \(written.model.parameterCount) "), "\(table.stdout)")
        }
    }
}
