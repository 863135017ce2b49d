import NanoModels
import NanoTensor

/// `classification`: `label<TAB>text` train and test files; reports accuracy and macro-F1 on the
/// test file.
///
/// - Sentence encoder: nearest centroid. Each label's centroid is the mean of its train
///   embeddings, L2-normalised; a test sentence gets the label of the centroid with the highest
///   cosine (ties go to the label first in sorted order). The encoder is not trained.
/// - Classifier: argmax of the logits of the text's numeric features. Labels are class indices
///   `0..<classes`; the train file is only checked to be readable, since the classifier has
///   been trained already.
public enum ClassificationEvaluation {
    public static func evaluate(_ model: EvaluatedModel, train: String, test: String, batchSize: Int = 32) throws -> [MetricKey: Double] {
        let (predicted, actual): ([String], [String])
        if let encoder = model.embedder {
            (predicted, actual) = try nearestCentroid(encoder, train: train, test: test, batchSize: batchSize)
        } else if let classifier = model.classifier {
            (predicted, actual) = try argmax(classifier, train: train, test: test, batchSize: batchSize)
        } else {
            throw EvaluationError.unsupported(task: "classification", model: model.kindName,
                                              hint: "it needs a sentence encoder or a classifier")
        }
        return [.accuracy: Metrics.accuracy(predicted: predicted, actual: actual),
                .macroF1: Metrics.macroF1(predicted: predicted, actual: actual)]
    }

    /// Predicted and true labels of the test file by nearest train centroid.
    static func nearestCentroid(_ encoder: any SentenceEmbedding, train: String, test: String,
                                batchSize: Int) throws -> (predicted: [String], actual: [String]) {
        let trainSet = try EvaluationData.labeledTexts(train)
        let testSet = try EvaluationData.labeledTexts(test)
        let labels = Array(Set(trainSet.map(\.label))).sorted()
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let trainEmbeddings = encoder.encode(trainSet.map(\.text), batchSize: batchSize, progress: nil)
        let width = trainEmbeddings.shape[1]
        var sums = [Float](repeating: 0, count: labels.count * width)
        for (row, example) in trainSet.enumerated() {
            guard let c = index[example.label] else { continue }
            for j in 0..<width { sums[c * width + j] += trainEmbeddings.scalars[row * width + j] }
        }
        // Scaling by 1/count does not change a direction, so normalising the sums gives the
        // normalised centroids.
        let centroids = Metrics.normalizedRows(Tensor(shape: [labels.count, width], scalars: sums))
        let testEmbeddings = Metrics.normalizedRows(encoder.encode(testSet.map(\.text), batchSize: batchSize, progress: nil))
        // scores: [test, labels]
        let scores = Tensor.matmul(testEmbeddings, centroids, transposeB: true)
        let predicted = (0..<testSet.count).map { labels[argmax(scores.scalars, row: $0, width: labels.count)] }
        return (predicted, testSet.map(\.label))
    }

    /// Predicted and true class indices (as strings) of the test file by the classifier's argmax.
    static func argmax(_ classifier: any ClassLogitsModel, train: String, test: String,
                       batchSize: Int) throws -> (predicted: [String], actual: [String]) {
        _ = try EvaluationData.labeledTexts(train)
        let classes = classifier.classCount
        var features: [[Float]] = [], actual: [String] = []
        // Line numbers for messages come from a second, numbered pass over the same records.
        let numbered = try EvaluationData.records(test, limit: nil) { line, number in (line, number) }
        for (line, number) in numbered {
            let f = try EvaluationData.fields(line, count: 2, file: test, line: number, layout: "label<TAB>text")
            guard let label = Int(f[0]), (0..<classes).contains(label) else {
                throw EvaluationError.dataMismatch(file: test, line: number, expected: "a class index 0..<\(classes)", found: "'\(f[0])'")
            }
            features.append(try EvaluatedModel.checkedFeatures(f[1], classifier: classifier, file: test, line: number))
            actual.append(String(label))
        }
        let logits = EvaluatedModel.logits(classifier, features: features, batchSize: batchSize)
        return ((0..<features.count).map { String(argmax(logits.scalars, row: $0, width: classes)) }, actual)
    }

    /// Index of the largest of `width` values in row `row`; the first one on ties.
    static func argmax(_ values: [Float], row: Int, width: Int) -> Int {
        var best = 0
        for j in 1..<max(1, width) where values[row * width + j] > values[row * width + best] { best = j }
        return best
    }
}
