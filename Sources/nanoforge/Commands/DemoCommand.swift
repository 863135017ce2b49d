import ArgumentParser
import Foundation
import NanoModels
import NanoTensor

/// `nanoforge demo`: the bundled end-to-end job.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train the MLP classifier on the bundled digits data and print its held-out accuracy.")

    @Option(help: "The digits CSV that `make setup` extracts.")
    var data = ".cache/data/digits.csv"

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func run() throws {
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
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
