import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// `nanoforge demo`: the bundled end-to-end job; `--chargpt` the character-level GPT instead.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train the MLP classifier on the bundled digits data and print its held-out accuracy (--chargpt: the character-level GPT on a text, with its held-out perplexity).")

    @OptionGroup var chargpt: CharGPTDemo

    @Option(help: "The digits CSV that `make setup` extracts.")
    var data = ".cache/data/digits.csv"

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Also save the trained model (model.safetensors, config.json) and its data as `label<TAB>features` files (calibration.tsv: the first 256 training rows, test.tsv: the held-out rows) into this folder: how Fixtures/models/digits-mlp is made.")
    var save: String?

    func run() throws {
        if chargpt.chargpt { return try chargpt.run(seed: seed, save: save) }
        let dataset: DigitsDataset
        do { dataset = try DigitsDataset.load(csv: data) } catch let error as DataError {
            throw ValidationError(error.description)
        }
        var options = DigitsTraining.Options()
        options.seed = seed
        let start = ContinuousClock.now
        let (model, result) = DigitsTraining.run(dataset, options: options) { epoch, loss in
            if epoch % 10 == 9 || epoch == 0 { print("epoch \(epoch + 1)/\(options.epochs)  loss \(String(format: "%.4f", loss))") }
        }
        let seconds = (ContinuousClock.now - start).seconds
        print("MLP \(model.configuration.inputs)→\(model.configuration.hidden.map(String.init).joined(separator: "→"))→\(model.configuration.classes), \(model.parameterCount) parameters")
        print("trained on \(result.trainCount) digits in \(String(format: "%.1f", seconds)) s; held-out accuracy \(String(format: "%.2f", result.testAccuracy * 100)) % on \(result.testCount) digits")
        if let save {
            let (train, test) = dataset.split(heldOutFraction: options.heldOutFraction, seed: options.seed)
            try Self.save(model, calibration: train.subset(Array(0..<min(256, train.count))), test: test, to: save)
            print("saved the model and its data to \(save)/")
        }
    }

    /// Writes the classifier as a native checkpoint with its config, and the data as TSV.
    static func save(_ model: MLPClassifier, calibration: DigitsDataset, test: DigitsDataset, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = ModelSpec.mlp(model.configuration).nativeJSON.serialized
        let tensors = model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }
        try SafetensorsWriter.write(TensorStore(tensors: tensors, metadata: ["nanoforge.config": config]), to: folder + "/model.safetensors")
        try AtomicFile.write(Data((config + "\n").utf8), to: folder + "/config.json")
        try AtomicFile.write(Data(tsv(calibration).utf8), to: folder + "/calibration.tsv")
        try AtomicFile.write(Data(tsv(test).utf8), to: folder + "/test.tsv")
    }

    /// `label<TAB>features`, the features space-separated as the model sees them (pixel / 16,
    /// exact in decimal).
    static func tsv(_ data: DigitsDataset) -> String {
        let width = data.features.shape[1]
        var out = ""
        for row in 0..<data.count {
            let values = data.features.scalars[(row * width)..<((row + 1) * width)].map { $0 == 0 ? "0" : "\($0)" }
            out += "\(data.labels[row])\t" + values.joined(separator: " ") + "\n"
        }
        return out
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
