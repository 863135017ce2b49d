// libFuzzer target: recipe decoding (Yams parsing, anchor refusal, typed options) on arbitrary
// text. Every input must decode or throw a RecipeError.
import Foundation
import NanoForge

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipe(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    _ = try? Recipe(yaml: text, file: "fuzz.yaml")
    return 0
}
