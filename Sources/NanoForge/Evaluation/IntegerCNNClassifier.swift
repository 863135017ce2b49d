import NanoModels
import NanoQuant
import NanoTensor

/// A Keras graph's full-integer int8 model as evaluation sees a classifier: each row's logits
/// are the dequantized int8 logits `IntegerCNN` computes, which the C export computes bit for
/// bit. It holds no trainable parameters (the pipeline keeps the folded float graph for those).
final class IntegerCNNClassifier: ClassLogitsModel {
    let integer: IntegerCNN

    init(_ integer: IntegerCNN) { self.integer = integer }

    var featureCount: Int { integer.inputCount }
    var classCount: Int { integer.classCount }

    func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {}

    func classLogits(_ x: Variable, tape: Tape) -> Variable {
        let n = x.value.shape[0], width = featureCount, classes = classCount
        precondition(x.value.count == n * width, "IntegerCNNClassifier: expected rows of \(width) features")
        var out = [Float](repeating: 0, count: n * classes)
        let scalars = x.value.scalars
        for r in 0..<n {
            let logits = integer.dequantizedLogits(Array(scalars[r * width..<(r + 1) * width]))
            for c in 0..<classes { out[r * classes + c] = logits[c] }
        }
        return Variable(Tensor(shape: [n, classes], scalars: out))
    }
}
