import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// The TFLite export against LiteRT's own outputs, without LiteRT: scripts/fixtures/make_tflite_goldens.sh
/// exported two small models (the random CNN of `CNNExportTests.tinyGraph`, every integer kernel
/// and a Dense layer; the bundled digits MLP) into Fixtures/tflite, with nanoforge's integer
/// reference on a few inputs, and ran each file in LiteRT (ai-edge-litert 2.3.0: reference
/// kernels, optimized builtin kernels, XNNPACK), keeping LiteRT's outputs. Here the same models
/// are exported again: the bytes must be those LiteRT ran, and the integer reference must give
/// LiteRT's reference-kernel logits exactly.
@Suite(.serialized) struct TFLiteExportTests {
    static let folder = RepositoryPaths.fixture("tflite")
    /// Fixed, so the bytes do not change with nanoforge's version.
    static let provenance = Provenance(recipe: "", sourceSHA256: String(repeating: "0", count: 64), version: "fixture")

    struct Fixture {
        var name: String
        var model: TFLiteExporter.IntegerModel
        var rows: [[Float]]
    }

    static func fixtures() throws -> [Fixture] {
        let graph = CNNExportTests.tinyGraph(seed: 5)
        let width = 11 * 9 * 3
        let cnn = try IntegerCNN.calibrated(graph, features: CNNExportTests.rows(24, width: width, seed: 6), file: "tiny.h5").model
        let (mlp, calibration, test) = try CExportTests.digits()
        return [Fixture(name: "tiny-cnn", model: .cnn(cnn, softmax: true), rows: CNNExportTests.rows(12, width: width, seed: 7)),
                Fixture(name: "digits-mlp", model: .mlp(try IntegerMLP(calibrating: mlp, features: calibration)),
                        rows: test.prefix(40).map(\.features))]
    }

    /// What scripts/fixtures/make_tflite_goldens.sh runs (NANOFORGE_WRITE_TFLITE_FIXTURES=1) before LiteRT.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["NANOFORGE_WRITE_TFLITE_FIXTURES"] == "1"))
    func writeFixtures() throws {
        try FileManager.default.createDirectory(atPath: Self.folder, withIntermediateDirectories: true)
        for f in try Self.fixtures() {
            try TFLiteExporter.write(f.model, provenance: Self.provenance, to: "\(Self.folder)/\(f.name).tflite")
            try TFLiteExporter.writeReference(f.model, images: f.rows, to: "\(Self.folder)/\(f.name)-reference.tsv")
        }
    }

    /// Rows of comma-separated int8 columns after a `#` header line.
    static func table(_ path: String) throws -> (header: String, rows: [[[Int]]]) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        return (String(lines[0]), lines.dropFirst().map { $0.split(separator: "\t").map { $0.split(separator: ",").map { Int($0)! } } })
    }

    /// LiteRT's outputs by column name (`ref_logits`, `xnnpack_probabilities`, …), per input.
    static func litert(_ name: String) throws -> [String: [[Int]]] {
        let (header, rows) = try table("\(folder)/\(name)-litert.tsv")
        let columns = header.components(separatedBy: "columns: ")[1].split(separator: " ").map(String.init)
        return Dictionary(uniqueKeysWithValues: columns.enumerated().map { c, key in (key, rows.map { $0[c] }) })
    }

    @Test func reexportIsTheFileLiteRTRan() throws {
        for f in try Self.fixtures() {
            let (bytes, notes) = try TFLiteExporter.serialize(f.model, provenance: Self.provenance)
            let committed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Self.folder)/\(f.name).tflite")))
            #expect(bytes == committed, "\(f.name): nanoforge no longer writes the file LiteRT ran (rerun scripts/fixtures/make_tflite_goldens.sh)")
            print("TFLite export, \(f.name): \(bytes.count) bytes; notes: \(notes)")
        }
    }

    /// The integer reference equals LiteRT's reference kernels on every input, logits byte for
    /// byte; LiteRT's softmax is within one step (of 1/256) of the float softmax of those logits.
    /// Optimized kernels and XNNPACK round otherwise (measured bounds below).
    @Test func integerReferenceEqualsLiteRTReferenceKernels() throws {
        // Largest |nanoforge − LiteRT| logits difference measured when the goldens were made.
        let measured: [String: [String: Int]] = ["tiny-cnn": ["builtin": 1, "xnnpack": 1], "digits-mlp": ["builtin": 0, "xnnpack": 0]]
        for f in try Self.fixtures() {
            let (_, reference) = try Self.table("\(Self.folder)/\(f.name)-reference.tsv")
            let golden = try Self.litert(f.name)
            #expect(reference.count == f.rows.count)
            for (i, row) in reference.enumerated() {
                let input = row[0].map { Int8($0) }
                #expect(input == f.model.quantizeInput(f.rows[i]), "\(f.name) input \(i): the committed input codes")
                let logits = f.model.logits(input).map(Int.init)
                #expect(logits == row[1], "\(f.name) input \(i): the committed integer reference")
                #expect(logits == golden["ref_logits"]?[i], "\(f.name) input \(i): LiteRT's reference kernels")
                for kernels in ["builtin", "xnnpack"] {
                    let theirs = try #require(golden["\(kernels)_logits"]?[i])
                    let delta = zip(logits, theirs).map { abs($0 - $1) }.max() ?? 0
                    #expect(delta <= measured[f.name]![kernels]!, "\(f.name) input \(i): \(kernels) differs by \(delta) steps")
                }
                let probabilities = try #require(golden["ref_probabilities"]?[i])
                let expected = Self.softmaxCodes(logits, f.model.logitsGrid)
                #expect(zip(probabilities, expected).allSatisfy { abs($0 - $1) <= 1 }, "\(f.name) input \(i): softmax \(probabilities) vs \(expected)")
            }
        }
    }

    /// The float softmax of int8 logits on TFLite's int8 softmax grid (scale 1/256, zero point −128).
    static func softmaxCodes(_ logits: [Int], _ grid: QuantizationParameters) -> [Int] {
        let x = logits.map { Double($0 - Int(grid.zeroPoint)) * Double(grid.scale) }
        let e = x.map { Foundation.exp($0 - x.max()!) }
        let sum = e.reduce(0, +)
        return e.map { min(max(Int(($0 / sum * 256).rounded(.toNearestOrEven)) - 128, -128), 127) }
    }

    /// The file read back by `TFLiteFileReader`: schema version 3, the operators nanoforge's
    /// integer CNN needs with both builtin code fields, int8 input and outputs, per-channel
    /// weights along 0 (CONV_2D) and 3 (DEPTHWISE_CONV_2D), int32 biases on sIn·sW, the softmax grid.
    @Test func fileStructure() throws {
        let f = try Self.fixtures()[0]
        guard case .cnn(let cnn, _) = f.model else { Issue.record("the first fixture is the CNN"); return }
        let file = TFLiteFileReader(bytes: try TFLiteExporter.serialize(f.model, provenance: Self.provenance).bytes)
        #expect(file.identifier == "TFL3" && file.version == 3)
        // ADD 0, CONV_2D 3, DEPTHWISE_CONV_2D 4, MAX_POOL_2D 17, RELU 19, RESHAPE 22, SOFTMAX 25.
        #expect(file.operatorCodes.map(\.builtin) == [3, 4, 0, 17, 19, 22, 25])
        #expect(file.operatorCodes.allSatisfy { Int32($0.deprecated) == $0.builtin })
        #expect(file.operatorCodes.map(\.version) == [3, 3, 2, 2, 2, 1, 2])
        // conv, depthwise, separable (depthwise + pointwise), shortcut, add, pool, relu, GAP (+ reshape),
        // dense (reshape, 1×1 conv, reshape), softmax.
        #expect(file.operators.map(\.builtinCode) == [3, 4, 4, 3, 3, 0, 17, 19, 4, 22, 22, 3, 22, 25])
        let tensors = file.tensors, buffers = file.buffers
        #expect(buffers[0].data.isEmpty)
        #expect(buffers.allSatisfy { $0.data.isEmpty || $0.start % 16 == 0 })
        let input = tensors[Int(file.inputs[0])]
        #expect(file.inputs.count == 1 && input.type == 9 && input.shape == [1, 11, 9, 3])
        #expect(input.scales == [cnn.inputGrid.scale] && input.zeroPoints == [Int64(cnn.inputGrid.zeroPoint)])
        #expect(file.outputs.count == 2)
        let (probabilities, logits) = (tensors[Int(file.outputs[0])], tensors[Int(file.outputs[1])])
        #expect(probabilities.type == 9 && probabilities.shape == [1, 5] && probabilities.scales == [1.0 / 256] && probabilities.zeroPoints == [-128])
        #expect(logits.name == "dense" && logits.scales == [cnn.outputGrid.scale] && logits.zeroPoints == [Int64(cnn.outputGrid.zeroPoint)])

        let convolutions = cnn.operations.compactMap { op -> IntegerCNN.Convolution? in
            if case .convolution(let c) = op.kind { return c } else { return nil }
        }
        let convolutionOperators = file.operators.filter { $0.builtinCode == 3 || $0.builtinCode == 4 }
            .filter { !tensors[Int($0.inputs[1])].name.hasSuffix("/ones") }
        #expect(convolutionOperators.count == convolutions.count)
        for (op, c) in zip(convolutionOperators, convolutions) {
            let (x, filter, bias) = (tensors[Int(op.inputs[0])], tensors[Int(op.inputs[1])], tensors[Int(op.inputs[2])])
            #expect(filter.type == 9 && filter.scales == c.weightScales && filter.zeroPoints.allSatisfy { $0 == 0 })
            #expect(filter.quantizedDimension == (op.builtinCode == 4 ? 3 : 0))
            #expect(filter.shape.reduce(1, *) == Int32(c.weights.count))
            #expect(bias.type == 2 && bias.shape == [Int32(c.bias.count)])
            #expect(bias.scales == c.weightScales.map { Float(Double(x.scales[0]) * Double($0)) })
            let data = buffers[Int(bias.buffer)].data
            #expect((0..<c.bias.count).map { k in Int32(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[4 * k + $1]) << (8 * UInt32($1)) }) } == c.bias)
            if op.builtinCode == 3 {
                #expect(buffers[Int(filter.buffer)].data.map { Int8(bitPattern: $0) } == c.weights, "CONV_2D weights are OHWI as nanoforge keeps them")
            }
        }
        // The depthwise layer's DepthwiseConv2DOptions: VALID (1), stride w 1, h 2, multiplier 2, and
        // its ReLU6 clamp as the fused activation with that clamp on its grid: NONE (0, absent),
        // RELU (1) or RELU6 (3); on a grid that starts at 0 and ends below 6, all three clamp alike.
        let depthwise = try #require(file.operators.firstIndex { $0.builtinCode == 4 })
        let options = try #require(file.options(ofOperator: depthwise))
        #expect(file.operators[depthwise].optionsType == 2)
        #expect(file.field(options, 0).map(file.u8) == 1 && file.field(options, 1).map(file.i32) == 1 && file.field(options, 2).map(file.i32) == 2)
        #expect(file.field(options, 3).map(file.i32) == 2)
        let fused = file.field(options, 4).map(file.u8) ?? 0
        guard case .convolution(let dw) = cnn.operations[1].kind else { Issue.record("operation 1 is the depthwise layer"); return }
        let activation = try #require(TFLiteGraph.Activation(rawValue: Int8(fused)))
        #expect(TFLiteExporter.activationRange(activation, cnn.tensors[cnn.operations[1].output].grid) == (dw.activationMinimum, dw.activationMaximum))
        // Provenance in Model.metadata (6): the four nanoforge.* names.
        let metadata = file.tables(file.root, 6).compactMap { file.string($0, 0) }
        #expect(metadata == ["nanoforge.recipe", "nanoforge.source_sha256", "nanoforge.version", "nanoforge.metrics"])
    }

    @Test func unsupportedModelsAreRefused() throws {
        var rng = RandomGenerator(seed: 2)
        let decoder = GPTDecoder(GPTDecoder.Configuration(vocabularySize: 10, contextLength: 4, width: 8, layers: 1, heads: 2), rng: &rng)
        #expect {
            try TFLiteExporter.export(ExportSource(model: .decoder(decoder), provenance: Self.provenance), calibration: [[0]], to: "/nonexistent/model.tflite")
        } throws: { error in
            guard case ExportError.unsupportedFormat("tflite", let reason) = error else { return false }
            return reason.contains("only MLP classifiers and Keras convolutional graphs")
        }
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 4, hidden: [3], classes: 2), rng: &rng)
        #expect {
            try TFLiteExporter.export(ExportSource(model: .mlp(mlp), provenance: Self.provenance), calibration: [], to: "/nonexistent/model.tflite")
        } throws: { error in
            guard case ExportError.unsupportedFormat("tflite", let reason) = error else { return false }
            return reason.contains("calibration")
        }
        // A clamp TFLite has no fused activation for: ReLU on a grid whose zero point is below −128 cannot happen, so a hand-made one.
        #expect(throws: ExportError.self) {
            try TFLiteExporter.fusedActivation(minimum: -100, maximum: 100, grid: QuantizationParameters(scale: 0.1, zeroPoint: 0), layer: "odd")
        }
        #expect(try TFLiteExporter.fusedActivation(minimum: 0, maximum: 60, grid: QuantizationParameters(scale: 0.1, zeroPoint: 0), layer: "relu6") == .relu6)
    }
}
