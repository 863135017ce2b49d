import CHDF5

/// Something in an HDF5 file that carries attributes: a group or a dataset.
protocol HDF5Object {
    var file: HDF5File { get }
    var handle: HDF5Handle { get }
    var site: HDF5Site { get }
}

/// An open group: its members, and the groups and datasets below it.
struct HDF5Group: HDF5Object {
    let file: HDF5File
    let handle: HDF5Handle
    let site: HDF5Site

    /// A link in a group, with what it points to.
    struct Member: Equatable {
        enum Kind: Equatable { case group, dataset, namedDatatype, softLink, externalLink, other }
        let name: String
        let kind: Kind
        /// The object's address in the file, for hard links (to notice a group reached twice).
        let address: UInt64?
    }

    /// The group's links, in creation order where the group records it, else in name order.
    func members() throws -> [Member] {
        var info = H5G_info_t()
        try site.check(H5Gget_info(handle.id, &info), "cannot read the group's link count")
        let index = try tracksCreationOrder() ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
        var members: [Member] = []
        for i in 0..<info.nlinks {
            let name = try memberName(at: i, index: index)
            var link = H5L_info_t()
            try site.check(H5Lget_info_by_idx(handle.id, ".", index, H5_ITER_INC, i, &link, nf_H5P_DEFAULT()),
                           "cannot read link '\(name)'")
            switch link.type {
            case H5L_TYPE_HARD:
                var object = H5O_info_t()
                try site.child(name).check(
                    H5Oget_info_by_idx2(handle.id, ".", index, H5_ITER_INC, i, &object, UInt32(H5O_INFO_BASIC), nf_H5P_DEFAULT()),
                    "cannot read the object's header")
                let kind: Member.Kind
                switch object.type {
                case H5O_TYPE_GROUP: kind = .group
                case H5O_TYPE_DATASET: kind = .dataset
                case H5O_TYPE_NAMED_DATATYPE: kind = .namedDatatype
                default: kind = .other
                }
                members.append(Member(name: name, kind: kind, address: UInt64(object.addr)))
            case H5L_TYPE_SOFT: members.append(Member(name: name, kind: .softLink, address: nil))
            case H5L_TYPE_EXTERNAL: members.append(Member(name: name, kind: .externalLink, address: nil))
            default: members.append(Member(name: name, kind: .other, address: nil))
            }
        }
        return members
    }

    private func tracksCreationOrder() throws -> Bool {
        let properties = try site.handle(H5Gget_create_plist(handle.id), .propertyList, "cannot read the group's properties")
        var flags: UInt32 = 0
        try site.check(H5Pget_link_creation_order(properties.id, &flags), "cannot read the group's link order")
        return flags & UInt32(H5P_CRT_ORDER_INDEXED) != 0
    }

    private func memberName(at i: hsize_t, index: H5_index_t) throws -> String {
        let length = H5Lget_name_by_idx(handle.id, ".", index, H5_ITER_INC, i, nil, 0, nf_H5P_DEFAULT())
        guard length >= 0, length < 1 << 16 else { throw site.error("cannot read the name of link \(i)") }
        var buffer = [CChar](repeating: 0, count: length + 1)
        try site.check(H5Lget_name_by_idx(handle.id, ".", index, H5_ITER_INC, i, &buffer, length + 1, nf_H5P_DEFAULT()),
                       "cannot read the name of link \(i)")
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether a link `name` (one path component) exists in this group.
    func contains(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && H5Lexists(handle.id, name, nf_H5P_DEFAULT()) > 0
    }

    /// Whether `name` exists here and is a group.
    func containsGroup(_ name: String) -> Bool {
        guard contains(name) else { return false }
        var object = H5O_info_t()
        guard H5Oget_info_by_name2(handle.id, name, &object, UInt32(H5O_INFO_BASIC), nf_H5P_DEFAULT()) >= 0 else {
            _ = HDF5Library.takeErrorMessage()
            return false
        }
        return object.type == H5O_TYPE_GROUP
    }

    /// The group at `path` (relative, components separated by "/").
    func group(_ path: String) throws -> HDF5Group {
        let child = site.child(path)
        let id = H5Gopen2(handle.id, path, nf_H5P_DEFAULT())
        return HDF5Group(file: file, handle: try child.handle(id, .group, "cannot open the group"), site: child)
    }

    /// The dataset at `path` (relative, components separated by "/"), checked against the file:
    /// `tensor` is the name errors give it.
    func dataset(_ path: String, tensor: String) throws -> HDF5Dataset {
        let child = site.child(path)
        let id = H5Dopen2(handle.id, path, nf_H5P_DEFAULT())
        return try HDF5Dataset(file: file, handle: try child.handle(id, .dataset, "cannot open the dataset"), site: child, tensor: tensor)
    }

    /// Creates a group `name` that records link creation order.
    func createGroup(_ name: String) throws -> HDF5Group {
        let child = site.child(name)
        let properties = try child.handle(H5Pcreate(nf_H5P_GROUP_CREATE()), .propertyList, "cannot create group properties")
        try child.check(H5Pset_link_creation_order(properties.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
                        "cannot enable link creation order")
        try child.check(H5Pset_obj_track_times(properties.id, false), "cannot turn off time stamps")
        let link = try child.utf8NameProperties()
        let id = H5Gcreate2(handle.id, name, link.id, properties.id, nf_H5P_DEFAULT())
        return HDF5Group(file: file, handle: try child.handle(id, .group, "cannot create the group"), site: child)
    }
}
