import CHDF5
import Foundation

/// An open HDF5 identifier that is closed, with the function matching its kind, when the last
/// reference goes away, or earlier by `close()` where the caller needs the close's outcome (a
/// file's final flush can fail).
final class HDF5Handle {
    enum Kind: String {
        case file, group, dataset, dataspace, datatype, attribute, propertyList = "property list", object
    }

    let id: hid_t
    let kind: Kind
    private var isOpen = true

    /// Takes ownership of `id`, which must be valid (non-negative).
    init(_ id: hid_t, kind: Kind) {
        precondition(id >= 0, "HDF5Handle: invalid \(kind.rawValue) identifier \(id)")
        self.id = id
        self.kind = kind
    }

    /// Closes now and returns HDF5's status (negative on failure); later calls do nothing.
    @discardableResult
    func close() -> herr_t {
        guard isOpen else { return 0 }
        isOpen = false
        switch kind {
        case .file: return H5Fclose(id)
        case .group: return H5Gclose(id)
        case .dataset: return H5Dclose(id)
        case .dataspace: return H5Sclose(id)
        case .datatype: return H5Tclose(id)
        case .attribute: return H5Aclose(id)
        case .propertyList: return H5Pclose(id)
        case .object: return H5Oclose(id)
        }
    }

    deinit { close() }
}

/// Where an HDF5 call happened, for error messages: the file on disk and the object's path in it.
/// Every failing call becomes `CheckpointError.hdf5(file:object:reason:)` with HDF5's own
/// explanation taken from its error stack.
struct HDF5Site {
    let file: String
    let object: String

    func child(_ name: String) -> HDF5Site {
        HDF5Site(file: file, object: object == "/" ? "/" + name : object + "/" + name)
    }

    func error(_ what: String) -> CheckpointError {
        let detail = HDF5Library.takeErrorMessage()
        return .hdf5(file: file, object: object, reason: detail.isEmpty ? what : "\(what): \(detail)")
    }

    /// Properties for creating a link (`forAttribute: false`) or an attribute whose name is
    /// flagged UTF-8, so h5py and other readers decode non-ASCII names correctly.
    func utf8NameProperties(forAttribute: Bool = false) throws -> HDF5Handle {
        let properties = try handle(H5Pcreate(forAttribute ? nf_H5P_ATTRIBUTE_CREATE() : nf_H5P_LINK_CREATE()), .propertyList,
                                    "cannot create name properties")
        try check(H5Pset_char_encoding(properties.id, H5T_CSET_UTF8), "cannot set the name encoding to UTF-8")
        return properties
    }

    /// Returns `status`, or throws when HDF5 reported failure (a negative value).
    @discardableResult
    func check<T: BinaryInteger>(_ status: T, _ what: @autoclosure () -> String) throws -> T {
        guard status >= 0 else { throw error(what()) }
        return status
    }

    /// Wraps a new identifier of `kind`, or throws when the call that produced it failed.
    func handle(_ id: hid_t, _ kind: HDF5Handle.Kind, _ what: @autoclosure () -> String) throws -> HDF5Handle {
        guard id >= 0 else { throw error(what()) }
        return HDF5Handle(id, kind: kind)
    }
}

/// Process-level HDF5 concerns: silencing the library's own error printing and reading its error
/// stack into our messages.
enum HDF5Library {
    /// Turns off HDF5's automatic printing of its error stack to stderr. The setting belongs to the
    /// calling thread's default error stack (the Debian build is thread-safe, which makes error
    /// stacks per thread), so every entry point (`HDF5File.open`, `.create`) calls this first.
    static func silenceErrorPrinting() {
        _ = H5Eset_auto2(nf_H5E_DEFAULT(), nil, nil)
    }

    /// HDF5's explanation of the last failure on this thread, outermost and innermost entries of
    /// its error stack ("unable to open file: truncated file: eof = …"), and clears the stack.
    static func takeErrorMessage() -> String {
        var descriptions: [String] = []
        let walker: H5E_walk2_t = { _, entry, context in
            guard let entry, let context, let desc = entry.pointee.desc else { return 0 }
            context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: desc))
            return 0
        }
        withUnsafeMutablePointer(to: &descriptions) { pointer in
            _ = H5Ewalk2(nf_H5E_DEFAULT(), H5E_WALK_DOWNWARD, walker, pointer)
        }
        _ = H5Eclear2(nf_H5E_DEFAULT())
        let cleaned = descriptions.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " .\n")) }.filter { !$0.isEmpty }
        guard let first = cleaned.first, let last = cleaned.last else { return "" }
        return first == last ? first : "\(first): \(last)"
    }
}
