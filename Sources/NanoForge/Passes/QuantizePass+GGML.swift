import NanoCheckpoint
import NanoQuant
import NanoTensor
import Yams

/// The `quantize` pass with `ggml_type`: the selected weights are held in a ggml block format
/// (`state.ggmlQuantized`), chosen by ggml's own round to nearest (method rtn) or by GPTQ on the
/// block grid (method gptq, `GPTQ+GGML.swift`); the model evaluates exactly the decoded blocks.
extension QuantizePass {
    /// The ggml types `ggml_type` accepts, as recipes spell them (lower case; any case is read).
    static let ggmlTypeNames: [String] = GGUFBlockEncoder.encodable.map { $0.name.lowercased() }

    /// The integer-grid fields a ggml type replaces: each is refused beside `ggml_type`.
    static let fieldsReplacedByGGMLType = ["bits", "symmetric", "granularity", "group_size", "scale_format", "observer",
                                           "percentile", "activations"]

    /// Reads `ggml_type`, `fallback_type` and `importance`, and checks that no integer-grid field is beside them.
    static func decodeGGML(_ map: RecipeMapping, into pass: inout QuantizePass) throws {
        guard let typeNode = map.optional("ggml_type") else {
            if let key = ["fallback_type", "importance"].first(where: map.contains), let value = map.optional(key) {
                throw RecipeError.conflict(value.location, problem: "'\(key)' applies only with 'ggml_type'",
                                           hint: "set ggml_type (one of \(ggmlTypeNames.joined(separator: ", "))) or remove '\(key)'")
            }
            return
        }
        if let node = map.optional("importance") {
            pass.importance = try node.choice(Importance.self)
        }
        let type = try ggmlType(typeNode, allowed: GGUFBlockEncoder.encodable)
        if let key = fieldsReplacedByGGMLType.first(where: map.contains), let value = map.optional(key) {
            throw RecipeError.conflict(value.location, problem: "'\(key)' does not apply with ggml_type \(type.name.lowercased()): the type fixes the grid",
                                       hint: "remove '\(key)', or remove 'ggml_type' to use nanoforge's integer grids")
        }
        pass.ggmlType = type
        if let fallbackNode = map.optional("fallback_type") {
            pass.fallbackType = try ggmlType(fallbackNode, allowed: GGMLTypeFallback.blockOf32Types)
        }
    }

    /// A ggml type name, in any case, among `allowed`; an unknown name is an `invalidChoice`
    /// naming the field and listing the allowed names.
    private static func ggmlType(_ node: RecipeNode, allowed: [GGUFTensorType]) throws -> GGUFTensorType {
        let names = allowed.map { $0.name.lowercased() }
        let found = try node.string()
        guard let type = allowed.first(where: { $0.name.lowercased() == found.lowercased() }) else {
            throw RecipeError.invalidChoice(node.location, allowed: names, found: found,
                                            suggestion: NameSuggestion.nearest(to: found.lowercased(), in: names))
        }
        return type
    }

    func encodeGGML() -> Node {
        RecipeEncoding.mapping { e in
            e.set("method", method)
            e.set("ggml_type", ggmlType!.name.lowercased())
            if let fallbackType { e.set("fallback_type", fallbackType.name.lowercased()) }
            if importance != .none { e.set("importance", importance) }
            if let gptq {
                e.set("damping", gptq.damping)
                e.set("block_size", gptq.blockSize)
                e.set("act_order", gptq.actOrder)
            }
            SelectionFields.encode(selector, into: &e)
        }
    }

    /// Quantizes every selected weight into `type` (or its fallback where the rows are not whole
    /// blocks of it); embedding tables, which have no calibration inputs, always get ggml's RTN.
    func runGGML(_ type: GGUFTensorType, on state: CompressionState, context: PassContext) throws -> String {
        let label = context.label
        let weights = try context.selectedWeights(selector, in: state)
        // Every weight's type first, so a width no type fits fails before calibration runs.
        var types: [String: GGUFTensorType] = [:]
        for entry in weights {
            let shape = entry.weight.value.shape
            guard shape.count == 2, let chosen = GGMLTypeFallback.type(forColumns: shape[1], preferred: type, fallback: fallbackType) else {
                let fallback = fallbackType ?? GGMLTypeFallback.llamaCppDefault(for: type)
                throw context.failure("layer \(entry.name): rows of \(entry.weight.value.shape.last ?? 0) values are not whole blocks of \(type.name) (\(type.blockSize))"
                                      + (fallback.map { " nor of its fallback \($0.name) (\($0.blockSize))" } ?? ""), at: ".ggml_type")
            }
            types[entry.name] = chosen
        }
        var hessians: [String: HessianAccumulator] = [:]
        if let settings = gptq {
            hessians = try context.hessians(for: weights.filter { $0.linear != nil }.map(\.name), in: state)
            context.log("\(label): Hessians from \(context.calibration.count) calibration inputs (damping \(settings.damping), block \(settings.blockSize), act_order \(settings.actOrder))")
        }
        var importanceMatrix = ImportanceMatrix()
        if gptq == nil, importance == .calibration {
            importanceMatrix = try context.importanceMatrix(for: weights.filter { $0.linear != nil }.map(\.name), in: state)
            context.log("\(label): importance matrix from \(context.calibration.count) calibration inputs")
        }
        var fallbacks: [(name: String, type: GGUFTensorType)] = []
        for (i, entry) in weights.enumerated() {
            let (name, w, chosen) = (entry.name, entry.weight.value, types[entry.name]!)
            let q: GGMLQuantizedTensor
            do {
                if let settings = gptq, let h = hessians.removeValue(forKey: name) {
                    let config = GPTQ.GGMLConfiguration(type: chosen, dampingFraction: settings.damping,
                                                        blockSize: settings.blockSize, activationOrder: settings.actOrder,
                                                        importanceWeightedBlocks: importance == .calibration)
                    q = try GPTQ.quantize(w, hessian: h, configuration: config)
                } else {
                    q = try GGMLQuantizedTensor.roundToNearest(w, as: chosen, importance: importanceMatrix.importance(for: name))
                }
            } catch {
                throw context.failure("layer \(name): \(error)")
            }
            let dq = q.dequantized()
            state.weightErrors[name] = PassContext.relativeError(w, dq)
            entry.weight.value = dq
            state.ggmlQuantized[name] = q
            state.quantized[name] = nil
            if chosen != type {
                state.ggmlFallbacks[name] = type
                fallbacks.append((name, chosen))
                context.log("\(label): \(name): rows of \(w.shape[1]) are not whole \(type.name) blocks (\(type.blockSize)): \(chosen.name) instead")
            } else {
                state.ggmlFallbacks[name] = nil
            }
            if (i + 1) % 12 == 0 || i + 1 == weights.count { context.log("\(label): \(i + 1)/\(weights.count) layers") }
        }
        var summary = "\(method.rawValue)\(importance == .calibration ? " (importance matrix)" : "") \(type.name) on \(weights.count) layers"
        if !fallbacks.isEmpty {
            let byType = Dictionary(grouping: fallbacks, by: \.type).sorted { $0.key.name < $1.key.name }
            summary += byType.count == 1 ? " (\(fallbacks.count) fell back to \(byType[0].key.name))"
                : " (\(fallbacks.count) fell back: " + byType.map { "\($0.value.count) to \($0.key.name)" }.joined(separator: ", ") + ")"
        }
        return summary
    }
}
