import Foundation

extension ModelLoader {
    /// The end-of-sequence token ids a language model declares: GGUF's `tokenizer.ggml.eos_token_id`
    /// (and `tokenizer.ggml.eot_token_id`), or `eos_token_id` (a number or a list) in the
    /// `config.json` / `generation_config.json` of a Hugging Face folder. Empty when none is given
    /// (a nanoforge output folder states it in its tokenizer: `ByteLevelBPETokenizer.eosID`).
    public static func endOfSequenceTokens(path: String) throws -> Set<Int> {
        if try isGGUF(path) {
            let file = try GGUFFile.read(path: path)
            return Set(["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"].compactMap { file[$0]?.integer })
        }
        let (weights, configPath) = try locateWeights(path)
        let folder = (weights as NSString).deletingLastPathComponent
        var ids = Set<Int>()
        for file in [configPath, (folder as NSString).appendingPathComponent("generation_config.json")].compactMap({ $0 }) {
            guard let data = FileManager.default.contents(atPath: file), let json = try? JSONParser.parse([UInt8](data)),
                  let eos = json["eos_token_id"] else { continue }
            if let id = eos.int { ids.insert(id) }
            ids.formUnion(eos.array?.compactMap(\.int) ?? [])
        }
        return ids
    }
}
