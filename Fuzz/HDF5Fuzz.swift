// libFuzzer target: the HDF5 checkpoint reader (native layout, and the Keras layouts it tells
// apart) on arbitrary bytes, opened from memory through HDF5's core driver. Any input must give a
// TensorStore or a CheckpointError, never a trap or an out-of-bounds access in our code
// (AddressSanitizer watches; libhdf5 itself is not instrumented, see docs/robustness.md).
import Foundation
import NanoCheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    if let store = try? HDF5CheckpointReader.read(data: data, source: "fuzz.h5") {
        // Touch every tensor's bytes the way a loader does.
        for tensor in store.tensors where tensor.elementCount <= 1 << 16 { _ = tensor.floatTensor() }
    }
    return 0
}
