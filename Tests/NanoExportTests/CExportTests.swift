import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// The C export compiled with gcc (`-std=c99 -Wall -Wextra -Werror -Wconversion -pedantic`) computes
/// exactly what `IntegerMLP` computes, and the integer model keeps the float model's accuracy.
@Suite struct CExportTests {
    static let provenance = Provenance(recipe: "stages:\n  - quantize: {bits: 8}  # a */ comment /* with ??/ trigraphs\r\n  - x\n",
                                       sourceSHA256: String(repeating: "cd", count: 32), metrics: ["accuracy": 0.96])

    static let compilerFlags = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-Wsign-conversion",
                                "-Wshadow", "-Wstrict-prototypes", "-Wfloat-equal", "-O2"]

    struct Sample {
        var label: Int
        var features: [Float]
    }

    static func samples(_ file: String) throws -> [Sample] {
        try EvaluationData.labeledTexts(file).enumerated().map { i, row in
            Sample(label: try #require(Int(row.label)), features: try EvaluationData.features(row.text, file: file, line: i + 1))
        }
    }

    static func digits() throws -> (mlp: MLPClassifier, calibration: [[Float]], test: [Sample]) {
        let folder = RepositoryPaths.fixture("models/digits-mlp")
        guard let mlp = try ModelLoader.load(path: folder).model.as(MLPClassifier.self) else {
            throw CExportError.unsupportedModel(family: "fixture", reason: "digits-mlp is not an MLP")
        }
        return (mlp, try samples(folder + "/calibration.tsv").map(\.features), try samples(folder + "/test.tsv"))
    }

    /// `rows` as a C header of exact float bit patterns (`<name>_bits`, `<NAME>_ROWS`).
    static func dataHeader(_ rows: [[Float]]) -> String {
        let values = rows.flatMap { $0 }.map { "0x" + String($0.bitPattern, radix: 16) + "u" }
        return """
        #include <stdint.h>
        #define TEST_ROWS \(rows.count)
        static const uint32_t test_bits[\(values.count)] = {
        \(CSyntax.arrayBody(values, perLine: 8))
        };

        """
    }

    /// Prints, per row, the prediction of `_predict` then the int8 logits of `_quantize_input` + `_logits`.
    static let mainSource = """
    #include <stdio.h>
    #include <string.h>
    #include "model.h"
    #include "data.h"

    int main(void)
    {
        float features[NANOFORGE_MODEL_INPUTS];
        int8_t input_q[NANOFORGE_MODEL_INPUTS];
        int8_t logits_q[NANOFORGE_MODEL_CLASSES];
        int r;
        int c;
        for (r = 0; r < TEST_ROWS; ++r) {
            memcpy(features, &test_bits[r * NANOFORGE_MODEL_INPUTS], sizeof features);
            printf("%d", nanoforge_model_predict(features));
            nanoforge_model_quantize_input(features, input_q);
            nanoforge_model_logits(input_q, logits_q);
            for (c = 0; c < NANOFORGE_MODEL_CLASSES; ++c) {
                printf(" %d", (int)logits_q[c]);
            }
            printf("\\n");
        }
        return 0;
    }

    """

    /// Exports `source`, compiles it with a driver over `rows`, runs it: per row the C prediction and int8 logits.
    static func runCompiled(_ source: ExportSource, calibration: [[Float]], rows: [[Float]], activations: CExporter.ActivationLayout = .smallest)
        throws -> (summary: CExportSummary, predictions: [Int], logits: [[Int8]], header: String) {
        try withTemporaryDirectory { folder in
            let summary = try CExporter.export(source, calibration: calibration, to: folder, activations: activations)
            try mainSource.write(toFile: folder + "/main.c", atomically: true, encoding: .utf8)
            try dataHeader(rows).write(toFile: folder + "/data.h", atomically: true, encoding: .utf8)
            let binary = folder + "/model-test"
            let compile = try CommandRunner.run("/usr/bin/env", ["gcc"] + compilerFlags
                + [folder + "/main.c", folder + "/model.c", "-o", binary])
            #expect(compile.status == 0, "gcc failed:\n\(compile.stderr)")
            guard compile.status == 0 else { return (summary, [], [], "") }
            let run = try CommandRunner.run(binary, [])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Int($0) } }
            let header = try String(contentsOfFile: folder + "/model.h", encoding: .utf8)
            return (summary, lines.map { $0.first ?? -1 }, lines.map { $0.dropFirst().map { Int8($0) } }, header)
        }
    }

    static func floatPredictions(_ mlp: MLPClassifier, _ rows: [[Float]]) -> [Int] {
        let width = rows[0].count
        let logits = mlp(Variable(Tensor(shape: [rows.count, width], scalars: rows.flatMap { $0 })), tape: Tape(recording: false)).value
        return logits.maxWithIndices(axis: 1).indices
    }

    // MARK: The bundled digits MLP

    @Test func digitsMLPCompiledMatchesSwiftAndKeepsAccuracy() throws {
        let (mlp, calibration, test) = try Self.digits()
        let integer = try IntegerMLP(calibrating: mlp, features: calibration)
        let source = ExportSource(model: .mlp(mlp), provenance: Self.provenance)
        let rows = test.map(\.features)
        let compiled = try Self.runCompiled(source, calibration: calibration, rows: rows)
        try #require(compiled.predictions.count == test.count, "one line per test row")

        let swiftPredictions = rows.map { integer.predict($0) }
        let swiftLogits = rows.map { integer.logits(integer.quantizeInput($0)) }
        let agree = zip(compiled.predictions, swiftPredictions).filter { $0 == $1 }.count
        let sameLogits = zip(compiled.logits, swiftLogits).filter { $0 == $1 }.count
        let agreement = Double(agree) / Double(test.count)
        print("C export, digits MLP: C vs Swift predictions agree on \(agree)/\(test.count) (\(100 * agreement) %), int8 logits identical on \(sameLogits)/\(test.count)")
        #expect(agreement >= 0.995)   // measured 359/359
        #expect(sameLogits == test.count, "the C program and IntegerMLP do the same integer operations")

        let labels = test.map(\.label)
        let floatAccuracy = Double(zip(Self.floatPredictions(mlp, rows), labels).filter { $0 == $1 }.count) / Double(test.count)
        let intAccuracy = Double(zip(swiftPredictions, labels).filter { $0 == $1 }.count) / Double(test.count)
        print("C export, digits MLP: float accuracy \(100 * floatAccuracy) %, int8 accuracy \(100 * intAccuracy) % on \(test.count) test rows")
        // Measured: float 98.05 %, int8 98.05 % (352/359 each).
        #expect(abs(floatAccuracy - intAccuracy) <= 0.02)

        let s = compiled.summary
        print("C export, digits MLP: flash \(s.flashBytes) bytes (weights \(s.weightBytes), biases \(s.biasBytes), multipliers \(s.multiplierBytes), shifts \(s.shiftBytes)), RAM \(s.ramBytes) bytes")
        // 64→128→10: 9,472 weights; 138 channels × (4 + 4 + 1); scratch buffers 64 (input, logits) + 128 (hidden).
        #expect(s.weightBytes == 9472 && s.biasBytes == 552 && s.multiplierBytes == 552 && s.shiftBytes == 138)
        #expect(s.flashBytes == 10714 && s.ramBytes == 192)
        #expect(compiled.header.contains("Flash: 10714 bytes") && compiled.header.contains("RAM: 192 bytes"))
        for (key, _) in Self.provenance.keyValues { #expect(compiled.header.contains(key)) }
        #expect(compiled.header.contains("*\\/ comment /\\* with ?\\?/"))
        #expect(integer.layers.allSatisfy { $0.weightSource == .requantized })
    }

    // MARK: Other shapes, packed weights

    /// Three layers (odd activation count through the scratch buffers) and one layer (input straight
    /// to logits); a packed int8 per-channel layer keeps its codes, an int4 one is re-quantized.
    @Test(arguments: [[24, 12], [Int]()]) func tinyMLPCompiledMatchesSwift(_ hidden: [Int]) throws {
        var rng = RandomGenerator(seed: 3 + UInt64(hidden.count))
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 20, hidden: hidden, classes: 7), rng: &rng)
        var schemes: [String: QuantizationScheme] = ["layers.0": QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)]
        if !hidden.isEmpty { schemes["layers.1"] = QuantizationScheme(bits: 4, symmetric: true, granularity: .group(4)) }
        let quantized = try ONNXTinyModelTests.quantize(.mlp(mlp), schemes)
        let calibration = (0..<64).map { _ in rng.normal(shape: [20]).scalars }
        let rows = (0..<50).map { _ in rng.normal(shape: [20], std: 1.5).scalars } + [[Float](repeating: 100, count: 20)]
        let source = ExportSource(model: .mlp(mlp), quantized: quantized, provenance: Self.provenance)
        let integer = try CExporter.integerModel(source, calibration: calibration)
        #expect(integer.layers[0].weightSource == .packed)
        #expect(integer.layers[0].weights.map(Int32.init) == quantized["layers.0"]?.codes())
        if !hidden.isEmpty { #expect(integer.layers[1].weightSource == .requantized) }

        let compiled = try Self.runCompiled(source, calibration: calibration, rows: rows)
        #expect(compiled.predictions == rows.map { integer.predict($0) })
        #expect(compiled.logits == rows.map { integer.logits(integer.quantizeInput($0)) })
        #expect(compiled.summary.notes.count == (hidden.isEmpty ? 0 : 1))

        // On the calibration rows (nothing clipped) the integer logits track the float ones.
        let out = integer.layers[integer.layers.count - 1].output
        let floatLogits = mlp(Variable(Tensor(shape: [calibration.count, 20], scalars: calibration.flatMap { $0 })),
                              tape: Tape(recording: false)).value.scalars
        let intLogits = calibration.flatMap { integer.dequantizedLogits($0) }
        let worst = zip(floatLogits, intLogits).map { abs($0 - $1) }.max() ?? 0
        // Measured 1.49 output steps ([24, 12]) and 1.21 ([]).
        print("C export, tiny MLP \(hidden): max |float − int8 logit| \(worst) = \(worst / out.scale) output steps")
        #expect(worst < 3 * out.scale, "max |Δ logit| \(worst), output scale \(out.scale)")
    }

    // MARK: Refusals

    @Test(arguments: [Activation.gelu, .tanh]) func otherActivationsAreRefused(_ activation: Activation) throws {
        var rng = RandomGenerator(seed: 1)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 4, hidden: [3], classes: 2, activation: activation), rng: &rng)
        let source = ExportSource(model: .mlp(mlp), provenance: Self.provenance)
        #expect(throws: CExportError.unsupportedActivation(activation)) {
            try CExporter.export(source, calibration: [[0, 1, 0, 1]], to: "/nonexistent-folder")
        }
        #expect(CExportError.unsupportedActivation(activation).description.contains(activation.rawValue))
    }

    @Test func otherFamiliesBadCalibrationAndPrefixAreRefused() throws {
        var rng = RandomGenerator(seed: 2)
        let decoder = GPTDecoder(GPTDecoder.Configuration(vocabularySize: 10, contextLength: 4, width: 8, layers: 1, heads: 2), rng: &rng)
        #expect {
            try CExporter.export(ExportSource(model: .decoder(decoder), provenance: Self.provenance), calibration: [[0]], to: "/nonexistent-folder")
        } throws: { error in
            if case CExportError.unsupportedModel(family: "decoder", _) = error { return true }
            return false
        }
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 4, hidden: [3], classes: 2), rng: &rng)
        let source = ExportSource(model: .mlp(mlp), provenance: Self.provenance)
        for rows in [[], [[0, 1, 0]], [[0, 1, .nan, 0]]] as [[[Float]]] {
            #expect {
                try CExporter.integerModel(source, calibration: rows)
            } throws: { error in
                if case CExportError.invalidCalibration = error { return true }
                return false
            }
        }
        let model = try CExporter.integerModel(source, calibration: [[0, 1, 0, 1]])
        #expect(throws: CExportError.invalidPrefix("1model")) {
            try CExporter.render(model, provenance: Self.provenance, prefix: "1model")
        }
    }
}
