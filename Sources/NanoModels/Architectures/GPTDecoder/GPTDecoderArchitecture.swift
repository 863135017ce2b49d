import NanoTensor

/// nanoforge's own GPT/Llama-style decoder (the character-level foundation run), read from its
/// native `gpt_decoder` config; next-character logits over the vocabulary the config carries.
public enum GPTDecoderArchitecture: ModelArchitecture {
    public typealias Configuration = GPTDecoder.Configuration
    public typealias Model = GPTDecoder

    public static let name = "gpt_decoder"
    public static let tasks: [ModelTask] = [.nextTokenLogits]
    public static let inputAdapter = InputAdapterKind.characters

    public static func configuration(of model: GPTDecoder) -> Configuration { model.configuration }

    public static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> GPTDecoder {
        GPTDecoder(c, rng: &rng)
    }

    public static func summary(_ c: Configuration) -> String {
        "gpt_decoder: \(c.layers) layers, width \(c.width), \(c.heads) heads, ff \(c.feedForwardWidth), vocab \(c.vocabularySize)"
    }
}

extension ModelSpec {
    /// A decoder's spec.
    public static func decoder(_ c: GPTDecoder.Configuration) -> ModelSpec { ModelSpec(GPTDecoderArchitecture.self, c) }
}

extension LoadedModel {
    /// A built decoder.
    public static func decoder(_ model: GPTDecoder) -> LoadedModel { LoadedModel(GPTDecoderArchitecture.self, model) }
}

extension GPTDecoder: NextTokenLogitsModel {
    public var vocabularySize: Int { configuration.vocabularySize }
    public var contextLength: Int { configuration.contextLength }
    public var vocabularyCharacters: String? { configuration.characters }
    public func nextTokenLogits(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        self(tokens, batch: batch, length: length, tape: tape)
    }
}
