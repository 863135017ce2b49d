import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor

/// `nanoforge demo --chargpt`: trains the character-level GPT decoder (`CharLMTraining`) on a text
/// and prints its held-out perplexity; `--save` writes it (its config carries the character
/// vocabulary) with the text split into `train.txt` (the first 90 %) and `heldout.txt` (the last
/// 10 %, what the validation loss is measured on): the teacher of Recipes/chargpt-distill.yaml.
struct CharGPTDemo: ParsableArguments {
    @Flag(help: "Train the character-level GPT instead of the digits classifier.")
    var chargpt = false

    @Option(help: "With --chargpt: the training text.")
    var text = ".cache/data/pydoc-topics.txt"

    @Option(help: "With --chargpt: transformer blocks.")
    var layers = 4

    @Option(help: "With --chargpt: model width.")
    var width = 256

    @Option(help: "With --chargpt: attention heads.")
    var heads = 4

    @Option(help: "With --chargpt: context length (characters).")
    var context = 64

    @Option(help: "With --chargpt: windows per step.")
    var batchSize = 32

    @Option(help: "With --chargpt: optimizer steps.")
    var steps = 600

    @Option(help: "With --chargpt: peak learning rate.")
    var learningRate: Float = 3e-3

    func run(seed: UInt64, save: String?) throws {
        guard let corpus = try? String(contentsOfFile: text, encoding: .utf8), !corpus.isEmpty else {
            throw ValidationError("cannot read the text \(text) (run `make setup` for .cache/data/pydoc-topics.txt)")
        }
        var o = CharLMTraining.Options()
        (o.layers, o.width, o.heads, o.contextLength, o.batchSize, o.steps, o.learningRate, o.seed) =
            (layers, width, heads, context, batchSize, steps, learningRate, seed)
        o.warmupSteps = min(50, steps / 10)
        let start = ContinuousClock.now
        let (model, result) = CharLMTraining.run(text: corpus, options: o) { step, loss in
            if step % 50 == 49 || step == 0 { print("step \(step + 1)/\(o.steps)  loss \(String(format: "%.4f", loss))") }
        }
        let seconds = (ContinuousClock.now - start).seconds
        print("GPT \(layers)×\(width), \(heads) heads, context \(context), \(result.vocabularySize) characters, \(model.parameterCount) parameters")
        print("trained \(steps) steps × \(batchSize) windows in \(String(format: "%.1f", seconds)) s; held-out loss \(String(format: "%.4f", result.validationLoss)) nats (perplexity \(String(format: "%.3f", exp(result.validationLoss)))), unigram entropy \(String(format: "%.4f", result.unigramEntropy))")
        if let save {
            try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true)
            let config = ModelSpec.decoder(model.configuration).nativeJSON.serialized
            let tensors = model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }
            try SafetensorsWriter.write(TensorStore(tensors: tensors, metadata: ["nanoforge.config": config]), to: save + "/model.safetensors")
            try AtomicFile.write(Data((config + "\n").utf8), to: save + "/config.json")
            // The same cut as CharLMTraining's validation split (every character is in the vocabulary).
            let scalars = Array(corpus.unicodeScalars), cut = Int(Double(scalars.count) * (1 - o.validationFraction))
            func string(_ part: ArraySlice<Unicode.Scalar>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: part); return String(v) }
            try AtomicFile.write(Data(string(scalars[..<cut]).utf8), to: save + "/train.txt")
            try AtomicFile.write(Data(string(scalars[cut...]).utf8), to: save + "/heldout.txt")
            print("saved the model, train.txt and heldout.txt to \(save)/")
        }
    }
}
