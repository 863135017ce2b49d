import Foundation
import Testing
import NanoForge
import NanoModels
import TestSupport

@Suite struct EvaluationDataTests {
    func withFile<T>(_ text: String, _ body: (String) throws -> T) throws -> T {
        try withTemporaryDirectory { (folder: String) throws in
            let path = folder + "/data.tsv"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return try body(path)
        }
    }

    @Test func sentencesSkipBlankLinesAndKeepTheFirstN() throws {
        try withFile("one\n\n  \ntwo\r\nthree\nfour\n") { (path: String) throws in
            #expect(try EvaluationData.sentences(path) == ["one", "two", "three", "four"])
            #expect(try EvaluationData.sentences(path, limit: 2) == ["one", "two"])
            #expect(try EvaluationData.sentences(path, limit: 10).count == 4)
        }
    }

    @Test func pairsAndLabeledTexts() throws {
        try withFile("q1\tt1\nq2\tt2\n") { (path: String) throws in
            #expect(try EvaluationData.pairs(path) == [.init(query: "q1", target: "t1"), .init(query: "q2", target: "t2")])
            #expect(try EvaluationData.labeledTexts(path, limit: 1) == [.init(label: "q1", text: "t1")])
        }
    }

    @Test func scoredPairs() throws {
        try withFile("a\tb\t4.5\nc\td\t0\n") { (path: String) throws in
            #expect(try EvaluationData.scoredPairs(path) == [.init(a: "a", b: "b", score: 4.5), .init(a: "c", b: "d", score: 0)])
        }
    }

    @Test func aWrongFieldCountNamesFileAndLine() throws {
        try withFile("q1\tt1\n\nonly one field\n") { (path: String) throws in
            #expect(throws: DataError.malformed(file: path, line: 3,
                                                reason: "expected 2 tab-separated fields (query<TAB>target), found 1")) {
                try EvaluationData.pairs(path)
            }
        }
    }

    @Test func anEmptyFieldAndABadScoreAreErrors() throws {
        try withFile("q1\t \n") { (path: String) throws in
            #expect(throws: DataError.malformed(file: path, line: 1, reason: "field 2 of label<TAB>text is empty")) {
                try EvaluationData.labeledTexts(path)
            }
        }
        try withFile("a\tb\t1\nc\td\tvery\n") { (path: String) throws in
            #expect(throws: DataError.malformed(file: path, line: 2, reason: "score 'very' is not a finite number")) {
                try EvaluationData.scoredPairs(path)
            }
        }
    }

    @Test func missingEmptyAndNonUTF8Files() throws {
        #expect(throws: DataError.unreadable(file: "/nonexistent/x.txt", reason: "no such file")) {
            try EvaluationData.sentences("/nonexistent/x.txt")
        }
        try withFile("\n  \n") { (path: String) throws in
            #expect(throws: DataError.empty(file: path)) { try EvaluationData.sentences(path) }
        }
        try withTemporaryDirectory { (folder: String) throws in
            let path = folder + "/latin1.txt"
            try Data([0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: path))
            #expect(throws: DataError.unreadable(file: path, reason: "not UTF-8 text")) { try EvaluationData.sentences(path) }
        }
    }

    @Test func aLimitBelowOneIsAnError() throws {
        try withFile("x\n") { (path: String) throws in
            #expect(throws: DataError.unreadable(file: path, reason: "limit must be at least 1, got 0")) {
                try EvaluationData.sentences(path, limit: 0)
            }
        }
    }

    @Test func numericFeatures() throws {
        #expect(try EvaluationData.features("1, 2.5 -3", file: "f", line: 1) == [1, 2.5, -3])
        #expect(throws: DataError.malformed(file: "f", line: 7, reason: "'x' is not a finite number")) {
            try EvaluationData.features("1 x", file: "f", line: 7)
        }
    }
}
