import Foundation
import NanoCheckpoint

/// `nanoforge inspect FILE.gguf`: the architecture and its hyper-parameters, each tensor's ggml
/// type and bits per weight, a per-type summary, the tokenizer, and the non-finite values found
/// by dequantizing every tensor nanoforge can read.
extension InspectCommand {
    /// Whether `path` is a file starting with the GGUF magic.
    static func isGGUF(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map { [UInt8]($0) == GGUFFile.magic } ?? false
    }

    func inspectGGUF(_ path: String) throws {
        let file = try GGUFFile.read(path: path)
        let summary = GGUFModelSummary(file)
        // Dequantizing every tensor proves the file decodes and finds NaN / ±Inf values.
        var nonFinite: [String: Int] = [:], unreadable: [GGUFTensorInfo] = []
        for info in file.tensors {
            guard info.type.isReadable else { unreadable.append(info); continue }
            let count = Self.nonFiniteCount(try file.float32Data(info.name))
            if count > 0 { nonFinite[info.name] = count }
        }
        if json { return try printGGUFJSON(file, summary, nonFinite: nonFinite, unreadable: unreadable) }

        print("\(path) (gguf v\(file.version), \(file.tensors.count) tensors, \(file.keys.count) metadata keys)")
        print("architecture: \(summary.architecture ?? "unknown (no general.architecture)")" + (summary.name.map { " (\($0))" } ?? ""))
        if !summary.hyperParameters.isEmpty {
            print("hyper-parameters: " + summary.hyperParameters.map { "\($0.label) \($0.value)" }.joined(separator: ", "))
        }
        let nameWidth = min(72, max(4, file.tensors.map(\.name.count).max() ?? 4))
        print(pad("name", nameWidth) + "  " + pad("type", 7) + "  " + pad("shape", 14) + "  bits/weight  bytes")
        for t in file.tensors {
            print(pad(t.name, nameWidth) + "  " + pad(t.type.name, 7) + "  "
                  + pad("[" + t.shape.map(String.init).joined(separator: ", ") + "]", 14) + "  "
                  + pad(String(format: "%.2f", t.type.bitsPerWeight), 11) + "  \(t.byteCount)")
        }
        print("types:")
        print("  " + pad("type", 7) + "  tensors  " + pad("parameters", 12) + "  " + pad("bytes", 12) + "  bits/weight")
        for total in summary.types {
            print("  " + pad(total.type.name, 7) + "  " + pad(String(total.tensors), 7) + "  " + pad(String(total.parameters), 12)
                  + "  " + pad(String(total.bytes), 12) + "  " + String(format: "%.2f", total.bitsPerWeight))
        }
        if let tok = summary.tokenizer {
            var parts = ["model \(tok.model ?? "?")", "pre-tokenizer \(tok.preTokenizer ?? "none")"]
            parts.append("vocabulary \(tok.vocabularySize.map(String.init) ?? "?")")
            parts.append("merges \(tok.mergeCount.map(String.init) ?? "none")")
            parts.append("bos \(tok.bosID.map(String.init) ?? "none")")
            parts.append("eos \(tok.eosID.map(String.init) ?? "none")")
            parts.append("chat template " + (tok.chatTemplateLength.map { "yes (\($0) characters)" } ?? "no"))
            print("tokenizer: " + parts.joined(separator: ", "))
        } else {
            print("tokenizer: none in the file")
        }
        for key in file.keys where !key.hasPrefix("tokenizer.ggml.") && key != "tokenizer.chat_template" {
            print("metadata \(key): \(Self.short(file.metadata[key]!))")
        }
        for info in unreadable {
            print("unsupported \(info.name): \(info.type.name) cannot be dequantized by nanoforge (it reads "
                  + GGUFTensorType.readable.map(\.name).joined(separator: ", ") + ")")
        }
        for t in file.tensors {
            if let count = nonFinite[t.name] { print("non-finite \(t.name): \(count) of \(t.elementCount) values are NaN or ±Inf") }
        }
        print("tensors: \(file.tensors.count)   parameters: \(summary.parameters) (\(String(format: "%.1f", Double(summary.parameters) / 1e6)) M)"
              + "   bytes: \(summary.bytes)   bits/weight: \(String(format: "%.2f", summary.bitsPerWeight))")
    }

    func printGGUFJSON(_ file: GGUFFile, _ summary: GGUFModelSummary, nonFinite: [String: Int], unreadable: [GGUFTensorInfo]) throws {
        var object: [String: Any] = [
            "file": file.path, "format": "gguf", "version": Int(file.version),
            "architecture": summary.architecture ?? NSNull(), "name": summary.name ?? NSNull(),
            "hyper_parameters": Dictionary(summary.hyperParameters.map { ($0.label, $0.value) }, uniquingKeysWith: { a, _ in a }),
            "parameters": summary.parameters, "bytes": summary.bytes, "bits_per_weight": summary.bitsPerWeight,
            "tensors": file.tensors.map { t -> [String: Any] in
                ["name": t.name, "type": t.type.name, "shape": t.shape, "bytes": t.byteCount,
                 "bits_per_weight": t.type.bitsPerWeight, "non_finite": nonFinite[t.name] ?? 0]
            },
            "types": summary.types.map { t -> [String: Any] in
                ["type": t.type.name, "tensors": t.tensors, "parameters": t.parameters, "bytes": t.bytes, "bits_per_weight": t.bitsPerWeight]
            },
            "unsupported": unreadable.map { ["tensor": $0.name, "type": $0.type.name] },
            "non_finite": nonFinite.values.reduce(0, +),
            "metadata": Dictionary(file.keys.filter { !$0.hasPrefix("tokenizer.ggml.") && $0 != "tokenizer.chat_template" }
                .map { ($0, Self.short(file.metadata[$0]!)) }, uniquingKeysWith: { a, _ in a }),
        ]
        if let tok = summary.tokenizer {
            object["tokenizer"] = [
                "model": tok.model ?? NSNull(), "pre": tok.preTokenizer ?? NSNull(), "vocabulary": tok.vocabularySize ?? NSNull(),
                "merges": tok.mergeCount ?? NSNull(), "bos_id": tok.bosID ?? NSNull(), "eos_id": tok.eosID ?? NSNull(),
                "chat_template": tok.chatTemplateLength != nil,
            ] as [String: Any]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// A metadata value in one short line: arrays longer than 8 as `[STRING × 49152]`.
    static func short(_ value: GGUFValue) -> String {
        if case .array(let type, let elements) = value, elements.count > 8 { return "[\(type) × \(elements.count)]" }
        let text = value.metadataText
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }

    /// NaN and ±Inf among little-endian Float32 bytes (exponent bits all ones).
    static func nonFiniteCount(_ data: Data) -> Int {
        data.withUnsafeBytes { raw in
            var n = 0
            for i in 0..<(raw.count / 4) where raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7f80_0000 == 0x7f80_0000 { n += 1 }
            return n
        }
    }
}
