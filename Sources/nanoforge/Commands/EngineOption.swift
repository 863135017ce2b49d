import ArgumentParser
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoRuntime

/// `--engine` of `embed` and `eval`: which implementation computes the embeddings.
enum EngineOption: String, ExpressibleByArgument, CaseIterable {
    /// The packed runtime when the model stores packed layers, else the fp32 model.
    case auto
    /// The packed runtime (NanoRuntime), whatever the checkpoint.
    case runtime
    /// The fp32 model (`PackedModel` dequantizes packed layers).
    case dense

    static let help = ArgumentHelp("Engine: auto (the packed int8/int4 runtime for models with packed layers, else fp32), runtime, dense.")

    /// The sentence encoder at `path` on this engine, and the evaluation form of it.
    func load(_ path: String, maxLength: Int = 256) throws -> EvaluatedModel {
        let useRuntime = self == .runtime || (self == .auto && RuntimeEncoder.holdsPackedLayers(path: path))
        guard useRuntime else { return .sentenceEncoder(try SentenceEncoder.load(path: path, maxLength: maxLength)) }
        let encoder = try RuntimeEncoder.load(path: path, maxLength: maxLength)
        return .sentenceEmbedding(encoder, .bert(encoder.configuration))
    }
}
