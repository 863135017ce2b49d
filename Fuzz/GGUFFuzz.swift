// libFuzzer target: the GGUF reader (header, metadata, tensor table) on arbitrary bytes.
import Foundation
import NanoCheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    _ = try? GGUFFile(data: Data(bytes: bytes, count: count), source: "fuzz")
    return 0
}
