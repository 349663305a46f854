/// Per-sample normalisations: `group_norm`, a layer with PyTorch's `weight` and
/// `bias` (γ by the model's init scheme, as batch norm's; β zero), and
/// `instance_norm`, which has no parameters.
extension Builtin {
    static let normalization: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        let x = ParameterSpec("x"), eps = ParameterSpec("eps", .value(.real(1e-5)))
        table["group_norm"] = Builtin([x, ParameterSpec("groups"), eps], isLayer: true) { a, c in
            .tensor(try a.tensor("x").groupNorm(groups: a.integer("groups", atLeast: 1), name: c.layerName,
                                                epsilon: a.float("eps", .positive), weightInit: c.initScheme.gamma))
        }
        table["instance_norm"] = Builtin([x, eps]) { a, _ in
            .tensor(try a.tensor("x").instanceNorm(epsilon: a.float("eps", .positive)))
        }
        return table
    }()
}
