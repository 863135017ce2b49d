// libFuzzer target: the safetensors reader on arbitrary bytes. Any input must give a TensorStore
// or a CheckpointError, never a trap or an out-of-bounds read (AddressSanitizer watches).
import Foundation
import NanoCheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    if let store = try? SafetensorsReader.read(data: data, source: "fuzz") {
        // Touch every tensor's bytes the way a loader does.
        for tensor in store.tensors where tensor.elementCount <= 1 << 16 { _ = tensor.floatTensor() }
    }
    return 0
}
