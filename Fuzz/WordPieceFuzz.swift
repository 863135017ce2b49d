// libFuzzer target: BERT basic tokenization + WordPiece on arbitrary (lossily decoded) UTF-8.
import Foundation
import NanoModels

let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "##ing", ".", ",",
                  "un", "##able", "é", "##é", "中", "a", "##a", "##b", "b"]
let tokenizer = try! WordPieceTokenizer(vocabulary: vocabulary, source: "fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWordPiece(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    _ = tokenizer.tokenize(text)
    let ids = tokenizer.encode(text, maxLength: 64)
    precondition(ids.count <= 64 && ids.allSatisfy { $0 >= 0 && $0 < vocabulary.count })
    return 0
}
