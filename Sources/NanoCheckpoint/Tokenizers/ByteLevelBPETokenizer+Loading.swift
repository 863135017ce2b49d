import Foundation
import NanoModels

extension ByteLevelBPETokenizer {
    /// The tokenizer of a model file or folder: a `.gguf` file's metadata, a `tokenizer.json`, or
    /// the `tokenizer.json` inside a folder.
    public init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BPETokenizerError.unreadable(file: path, reason: "no such file")
        }
        if isDirectory.boolValue {
            try self.init(tokenizerJSON: URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json").path)
        } else if path.lowercased().hasSuffix(".gguf") {
            try self.init(gguf: try GGUFFile.read(path: path))
        } else {
            try self.init(tokenizerJSON: path)
        }
    }
}
