import Foundation

/// The two texts of `bench llm-quant`, cut from what set-up provides (no network): calibration
/// (importance matrices, GPTQ Hessians) from CPython's documentation sentences, evaluation (KL,
/// perplexity) from the World English Bible. Different sources, so no evaluated sentence was seen
/// in calibration. Each is the first whole lines of its source up to a byte budget, so the same
/// set-up files give the same texts byte for byte.
enum LLMQuantTexts {
    /// Calibration: the first lines of pydoc-sentences.txt, at most this many bytes.
    static let calibrationBytes = 90_000
    /// Evaluation: the first World English Bible verses (second column), at most this many
    /// bytes, one verse a line (about 50,000 SmolLM2 tokens: 98 chunks of 512).
    static let evaluationBytes = 200_000

    /// Writes `calibration.txt` and `evaluation.txt` into `folder`; returns their paths.
    static func write(pydocSentences: String, bible: String, into folder: String) throws -> (calibration: String, evaluation: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let calibration = folder + "/calibration.txt", evaluation = folder + "/evaluation.txt"
        let sentences = try lines(pydocSentences)
        try prefix(sentences, bytes: calibrationBytes).write(toFile: calibration, atomically: true, encoding: .utf8)
        let verses = try lines(bible).map { line -> String in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            return columns.count > 1 ? String(columns[1]) : ""
        }.filter { !$0.isEmpty }
        guard !verses.isEmpty else { throw CLIErrors.BadInput("\(bible): no King James<TAB>World English lines") }
        try prefix(verses, bytes: evaluationBytes).write(toFile: evaluation, atomically: true, encoding: .utf8)
        return (calibration, evaluation)
    }

    static func lines(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIErrors.BadInput("\(path): cannot read (scripts/setup.sh provides it)")
        }
        return text.split(separator: "\n").map(String.init)
    }

    /// The first lines, each ending in a newline, whose total UTF-8 length stays within `bytes`.
    static func prefix(_ lines: [String], bytes: Int) -> String {
        var out = "", used = 0
        for line in lines {
            let size = line.utf8.count + 1
            if used + size > bytes { break }
            out += line + "\n"
            used += size
        }
        return out
    }
}
