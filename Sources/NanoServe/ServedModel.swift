import Foundation
import NanoModels
import NanoRuntime

/// A sentence encoder behind `/v1/embeddings`, its requests batched across clients.
public final class ServedEncoder: @unchecked Sendable {
    public let name: String
    public let encoder: RuntimeEncoder
    let batcher: EmbeddingBatcher
    let admission: AdmissionLimit

    /// `window` and `maxBatch` shape the cross-client batches (`EmbeddingBatcher`).
    public init(name: String, encoder: RuntimeEncoder, maxConcurrency: Int = 64,
                window: Duration = .milliseconds(2), maxBatch: Int = 32) {
        self.name = name; self.encoder = encoder
        batcher = EmbeddingBatcher(encoder: encoder, name: name, window: window, maxBatch: maxBatch)
        admission = AdmissionLimit(name: name, limit: maxConcurrency)
    }

    /// Forward passes so far, collections, and the most requests one collection served.
    public var batchStatistics: (batches: Int, collections: Int, mostRequestsInOneCollection: Int) { batcher.currentStatistics }
}

/// A Llama-family decoder behind `/v1/completions` and `/v1/chat/completions`: its completions
/// batched across clients (`DecoderQueue`), at most `maxConcurrency` running or waiting.
public final class ServedDecoder: @unchecked Sendable {
    public let name: String
    public let model: LlamaModel
    public let codec: any TokenCodec
    /// Tokens that end a completion (the model's end-of-sequence and end-of-turn ids).
    public let stopTokens: Set<Int>
    let queue: DecoderQueue

    public init(name: String, model: LlamaModel, codec: any TokenCodec, stopTokens: Set<Int>, maxConcurrency: Int = 64) {
        self.name = name; self.model = model; self.codec = codec
        self.stopTokens = stopTokens.union([codec.endOfSequence].compactMap { $0 })
        queue = DecoderQueue(name: name, limit: maxConcurrency)
    }

    var contextLength: Int { model.configuration.contextLength }
    var vocabularySize: Int { model.configuration.vocabularySize }

    /// Runs `request` in the batch loop; the stream ends after `.finished` (or early when the consumer leaves).
    func generate(_ request: GenerationRequest) throws -> AsyncStream<GenerationEvent> {
        let generation = TextGeneration(model: model, codec: codec, stopTokens: stopTokens)
        return try queue.submitGeneration(request, on: generation)
    }
}

/// One model a server answers for, by name.
public enum ServedModel: Sendable {
    case encoder(ServedEncoder)
    case decoder(ServedDecoder)

    public var name: String {
        switch self {
        case .encoder(let e): return e.name
        case .decoder(let d): return d.name
        }
    }

    public var isEncoder: Bool { if case .encoder = self { return true }; return false }

    /// "an embedding model" / "a completion model", for error messages.
    var kindDescription: String {
        switch self {
        case .encoder: return "an embedding model"
        case .decoder: return "a completion model"
        }
    }
}
