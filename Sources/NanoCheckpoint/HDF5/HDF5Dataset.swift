import CHDF5
import Foundation

/// An open dataset whose shape, element type and size were checked against the file when it was
/// opened, before any of its data is read.
struct HDF5Dataset: HDF5Object {
    let file: HDF5File
    let handle: HDF5Handle
    let site: HDF5Site
    /// The name errors give this dataset (the tensor it becomes).
    let tensor: String
    let shape: [Int]
    let dtype: DType
    /// Bytes the data takes in memory: elements × `dtype.size`.
    let byteCount: Int

    init(file: HDF5File, handle: HDF5Handle, site: HDF5Site, tensor: String) throws {
        self.file = file; self.handle = handle; self.site = site; self.tensor = tensor
        func invalid(_ reason: String) -> CheckpointError { .invalidTensor(file: file.path, tensor: tensor, reason: reason) }

        let space = try site.handle(H5Dget_space(handle.id), .dataspace, "cannot read the dataspace of '\(tensor)'")
        shape = try Self.extent(of: space.id, site: site, invalid: invalid)
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw invalid("shape \(shape) has more elements than fit in memory") }
            count = product
        }

        let fileType = try site.handle(H5Dget_type(handle.id), .datatype, "cannot read the datatype of '\(tensor)'")
        switch try HDF5Datatype.classify(fileType.id, site: site) {
        case .tensor(let t): dtype = t
        case .unsupported(let description):
            throw CheckpointError.unsupportedDType(file: file.path, tensor: tensor, dtype: description)
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes <= HDF5Limits.maxDatasetBytes else {
            throw invalid("shape \(shape) of \(dtype.rawValue) declares more than the \(HDF5Limits.maxDatasetBytes >> 30) GiB nanoforge reads")
        }
        byteCount = bytes

        let creation = try site.handle(H5Dget_create_plist(handle.id), .propertyList, "cannot read the properties of '\(tensor)'")
        let filters = try site.check(H5Pget_nfilters(creation.id), "cannot read the filters of '\(tensor)'")
        let (limit, limitOverflow) = file.byteCount.multipliedReportingOverflow(by: HDF5Limits.uncompressedExpansion)
        if filters == 0 && !limitOverflow && bytes > limit {
            throw invalid("shape \(shape) of \(dtype.rawValue) declares \(bytes) bytes, absurd for an uncompressed dataset in a file of \(file.byteCount) bytes")
        }
        if H5Pget_layout(creation.id) == H5D_CHUNKED {
            var chunk = [hsize_t](repeating: 0, count: max(shape.count, 1))
            let rank = try site.check(H5Pget_chunk(creation.id, Int32(chunk.count), &chunk), "cannot read the chunk shape of '\(tensor)'")
            var chunkBytes = H5Tget_size(fileType.id)
            for d in chunk.prefix(Int(rank)) {
                let (product, overflow) = chunkBytes.multipliedReportingOverflow(by: Int(clamping: d))
                chunkBytes = overflow ? .max : product
            }
            guard chunkBytes <= max(HDF5Limits.maxChunkBytes, bytes) else {
                throw invalid("chunks of \(chunkBytes) bytes, more than the dataset (\(bytes) bytes) or \(HDF5Limits.maxChunkBytes >> 20) MiB")
            }
        }
    }

    /// The dimensions of a scalar or simple dataspace.
    private static func extent(of space: hid_t, site: HDF5Site, invalid: (String) -> CheckpointError) throws -> [Int] {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR: return []
        case H5S_SIMPLE:
            let rank = try site.check(H5Sget_simple_extent_ndims(space), "cannot read the rank")
            guard rank <= H5S_MAX_RANK else { throw invalid("rank \(rank) exceeds HDF5's limit of \(H5S_MAX_RANK)") }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            try site.check(H5Sget_simple_extent_dims(space, &dims, nil), "cannot read the dimensions")
            return try dims.map { d in
                guard d <= hsize_t(Int.max) else { throw invalid("dimension \(d) does not fit in memory") }
                return Int(d)
            }
        case H5S_NULL: throw invalid("the dataset has a null dataspace (no shape, no data)")
        default: throw invalid("the dataspace has no valid extent")
        }
    }

    /// The data, little-endian, exactly `byteCount` bytes.
    func read() throws -> Data {
        guard byteCount > 0 else { return Data() }
        let memoryType = try HDF5Datatype.make(dtype, site: site)
        var data = Data(count: byteCount)
        let status = data.withUnsafeMutableBytes { raw in
            H5Dread(handle.id, memoryType.id, nf_H5S_ALL(), nf_H5S_ALL(), nf_H5P_DEFAULT(), raw.baseAddress)
        }
        try site.check(status, "cannot read the data of '\(tensor)'")
        return data
    }
}

extension HDF5Group {
    /// Writes `tensor` as dataset `name` in this group: its dtype's little-endian HDF5 type, its
    /// shape (a scalar dataspace for shape []), gzip-compressed in chunks of at most 1 MiB when
    /// `gzipLevel` is given (empty and scalar tensors are stored contiguous).
    func createDataset(_ name: String, from tensor: StoredTensor, gzipLevel: Int?) throws {
        let child = site.child(name)
        let rank = tensor.shape.count
        let space: HDF5Handle
        if rank == 0 {
            space = try child.handle(H5Screate(H5S_SCALAR), .dataspace, "cannot create the dataspace")
        } else {
            let dims = tensor.shape.map { hsize_t($0) }
            space = try child.handle(H5Screate_simple(Int32(rank), dims, nil), .dataspace, "cannot create the dataspace")
        }
        let type = try HDF5Datatype.make(tensor.dtype, site: child)
        let properties = try child.handle(H5Pcreate(nf_H5P_DATASET_CREATE()), .propertyList, "cannot create dataset properties")
        try child.check(H5Pset_obj_track_times(properties.id, false), "cannot turn off time stamps")
        if let level = gzipLevel, rank > 0, tensor.elementCount > 0 {
            let chunk = Self.chunkShape(tensor.shape, elementSize: tensor.dtype.size).map { hsize_t($0) }
            try child.check(H5Pset_chunk(properties.id, Int32(rank), chunk), "cannot set the chunk shape")
            try child.check(H5Pset_deflate(properties.id, UInt32(level)), "cannot enable gzip (deflate) compression")
        }
        let link = try child.utf8NameProperties()
        let id = H5Dcreate2(handle.id, name, type.id, space.id, link.id, properties.id, nf_H5P_DEFAULT())
        let dataset = try child.handle(id, .dataset, "cannot create the dataset")
        guard tensor.byteCount > 0 else { return }
        let status = tensor.data.withUnsafeBytes { raw in
            H5Dwrite(dataset.id, type.id, nf_H5S_ALL(), nf_H5S_ALL(), nf_H5P_DEFAULT(), raw.baseAddress)
        }
        try child.check(status, "cannot write the data")
    }

    /// The tensor's shape, the largest dimension halved (rounding up) until a chunk holds at most
    /// `targetBytes`.
    static func chunkShape(_ shape: [Int], elementSize: Int, targetBytes: Int = 1 << 20) -> [Int] {
        var chunk = shape.map { max($0, 1) }
        while chunk.reduce(elementSize, *) > targetBytes,
              let i = chunk.indices.max(by: { chunk[$0] < chunk[$1] }), chunk[i] > 1 {
            chunk[i] = (chunk[i] + 1) / 2
        }
        return chunk
    }
}
