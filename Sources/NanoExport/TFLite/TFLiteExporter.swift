import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant

/// Exports nanoforge's full-integer models as TFLite flatbuffers (`model.tflite`) that LiteRT's
/// builtin int8 kernels run: the integer CNN of a Keras graph (`IntegerCNN`, what the C export
/// computes) and the integer MLP of an MLP classifier (`IntegerMLP`), with exactly their int8
/// weights, int32 biases and int8 activation grids. See docs/formats.md, "TFLite".
///
/// The subgraph has one int8 input (the integer model's input grid) and two int8 outputs:
/// 0, the softmax probabilities on TFLite's int8 softmax grid (scale 1/256, zero point −128),
/// when the model ends in a softmax; and last, the int8 logits the integer reference computes
/// (`IntegerCNN.logits`, `IntegerMLP.logits`). The softmax is LiteRT's own; nanoforge's
/// integer models stop at the logits.
public enum TFLiteExporter {
    /// The integer model a TFLite export writes.
    public enum IntegerModel: Sendable {
        case cnn(IntegerCNN, softmax: Bool)
        case mlp(IntegerMLP)

        public var inputGrid: QuantizationParameters {
            switch self {
            case .cnn(let m, _): return m.inputGrid
            case .mlp(let m): return m.input
            }
        }
        public var logitsGrid: QuantizationParameters {
            switch self {
            case .cnn(let m, _): return m.outputGrid
            case .mlp(let m): return m.layers[m.layers.count - 1].output
            }
        }
        public var inputCount: Int {
            switch self {
            case .cnn(let m, _): return m.inputCount
            case .mlp(let m): return m.inputs
            }
        }
        public func quantizeInput(_ features: [Float]) -> [Int8] {
            switch self {
            case .cnn(let m, _): return m.quantizeInput(features)
            case .mlp(let m): return m.quantizeInput(features)
            }
        }
        /// The int8 logits of a quantized input: the TFLite file's last output.
        public func logits(_ inputQ: [Int8]) -> [Int8] {
            switch self {
            case .cnn(let m, _): return m.logits(inputQ)
            case .mlp(let m): return m.logits(inputQ)
            }
        }
    }

    /// TFLite's int8 softmax output grid: scale 1/256, zero point −128 (required by its kernel).
    public static let softmaxGrid = QuantizationParameters(scale: 1.0 / 256, zeroPoint: -128)

    /// The integer model of `source`: the recipe's integer CNN as it is, else a Keras graph or an
    /// MLP classifier quantized with activation ranges from `calibration` rows.
    public static func integerModel(_ source: ExportSource, calibration: [[Float]], file: String?) throws
        -> (model: IntegerModel, notes: [String]) {
        let graph = source.model.as(KerasGraphModel.self)
        let softmax = graph.map(endsInSoftmax) ?? false
        if let integer = source.integerCNN {
            return (.cnn(integer, softmax: softmax), ["the int8 model of the recipe's quantize stage, as its report measured it"])
        }
        if let graph {
            guard !calibration.isEmpty else {
                throw ExportError.unsupportedFormat("tflite", reason: "needs calibration inputs for the activation ranges (--calibration FILE, or the recipe's data.calibration)")
            }
            let (model, percentile, _) = try IntegerCNN.calibrated(graph, features: calibration, file: file ?? graph.configuration.name)
            return (.cnn(model, softmax: softmax), ["activation ranges: " + (percentile.map { "percentile \($0)" } ?? "min/max")])
        }
        guard source.model.as(MLPClassifier.self) != nil else {
            throw ExportError.unsupportedFormat("tflite", reason: "only MLP classifiers and Keras convolutional graphs have an integer TFLite export, not \(source.model.architecture.name)")
        }
        guard !calibration.isEmpty else {
            throw ExportError.unsupportedFormat("tflite", reason: "needs calibration inputs for the activation ranges (--calibration FILE, or the recipe's data.calibration)")
        }
        return (.mlp(try CExporter.integerModel(source, calibration: calibration)), [])
    }

    /// Whether the Keras graph's output layer applies a softmax (which `IntegerCNN` leaves out).
    static func endsInSoftmax(_ graph: KerasGraphModel) -> Bool {
        graph.configuration.layer(graph.configuration.output)?.activation == .softmax
    }

    /// The TFLite subgraph of `model`, with `provenance` in the model's metadata.
    static func graph(_ model: IntegerModel, provenance: Provenance) throws -> (graph: TFLiteGraph, notes: [String]) {
        var g: TFLiteGraph, notes: [String] = []
        let logits: Int32, softmax: Bool
        switch model {
        case let .cnn(m, s): (g, logits, notes) = try cnnGraph(m); softmax = s
        case .mlp(let m): (g, logits) = try mlpGraph(m); softmax = true
        }
        if softmax {
            let probabilities = g.add(.init(name: "probabilities", shape: g.tensors[Int(logits)].shape, type: .int8, data: nil,
                                            quantization: quantization(softmaxGrid)))
            g.operators.append(.init(code: .softmax, inputs: [logits], outputs: [probabilities], options: .softmax(beta: 1)))
            g.outputs = [probabilities, logits]
        } else {
            g.outputs = [logits]
        }
        g.description = "nanoforge \(provenance.version): full-integer int8"
        g.metadata = provenance.keyValues.map { (name: $0.key, value: Array($0.value.utf8)) }
        return (g, notes)
    }

    /// The `.tflite` bytes of `model`, and notes on anything LiteRT computes differently.
    public static func serialize(_ model: IntegerModel, provenance: Provenance) throws -> (bytes: [UInt8], notes: [String]) {
        let (g, notes) = try graph(model, provenance: provenance)
        return (g.serialized(), notes)
    }

    /// Writes `model.tflite` for `model` atomically; returns its size in bytes and the notes.
    @discardableResult
    public static func write(_ model: IntegerModel, provenance: Provenance, to path: String) throws -> (bytes: Int, notes: [String]) {
        let (bytes, notes) = try serialize(model, provenance: provenance)
        try AtomicFile.write(Data(bytes), to: path)
        return (bytes.count, notes)
    }

    /// Writes `source` as `model.tflite` to `path`; returns notes for the user. With `evaluation`
    /// rows and a `reference` path, also writes what the integer reference computes on each row
    /// (`writeReference`), for comparing with LiteRT.
    @discardableResult
    public static func export(_ source: ExportSource, calibration: [[Float]], to path: String, file: String? = nil,
                              evaluation: [[Float]]? = nil, reference: String? = nil) throws -> [String] {
        let (model, notes) = try integerModel(source, calibration: calibration, file: file)
        let (bytes, graphNotes) = try write(model, provenance: source.provenance, to: path)
        var all = notes + graphNotes + ["model.tflite: \(bytes) bytes, int8 input (scale \(model.inputGrid.scale), zero point \(model.inputGrid.zeroPoint))"]
        if let reference {
            guard let evaluation, !evaluation.isEmpty else {
                throw ExportError.unsupportedFormat("tflite", reason: "a reference file needs evaluation inputs (--evaluate FILE)")
            }
            try writeReference(model, images: evaluation, to: reference)
            all.append("integer reference outputs of \(evaluation.count) inputs written to \(reference)")
        }
        return all
    }

    /// A TSV of the integer reference on `images`: a header line with the input and logits grids,
    /// then per image its int8 input codes and int8 logits (comma-separated), tab between.
    public static func writeReference(_ model: IntegerModel, images: [[Float]], to path: String) throws {
        var text = "# nanoforge integer reference: input_scale=\(model.inputGrid.scale) input_zero_point=\(model.inputGrid.zeroPoint)"
            + " logits_scale=\(model.logitsGrid.scale) logits_zero_point=\(model.logitsGrid.zeroPoint)\n"
        for (i, image) in images.enumerated() {
            guard image.count == model.inputCount else {
                throw ExportError.unsupportedFormat("tflite", reason: "evaluation row \(i + 1) has \(image.count) values, the model takes \(model.inputCount)")
            }
            let q = model.quantizeInput(image)
            text += q.map(String.init).joined(separator: ",") + "\t" + model.logits(q).map(String.init).joined(separator: ",") + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
