/// Layers: built-ins that declare parameters named `<layer>.weight`, `<layer>.bias`
/// (PyTorch layouts), initialised by the model's `init` scheme or, given `init=v`,
/// to the constant v; and `param`, a bare learned tensor named `<layer>`.
extension Builtin {
    static let layers: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        let x = ParameterSpec("x"), stride = ParameterSpec("stride", .value(.integer(1))), pad = ParameterSpec("pad", .value(.integer(0)))
        let initValue = ParameterSpec("init", .optional, keywordOnly: true)
        let conv = [x, ParameterSpec("channels"), ParameterSpec("kernel"), stride, pad, initValue]

        table["dense"] = Builtin([x, ParameterSpec("units"), initValue], isLayer: true) { a, c in
            let (w, b) = try c.weightAndBias(a)
            return .tensor(try a.tensor("x").dense(a.integer("units", atLeast: 1), name: c.layerName, weightInit: w, biasInit: b))
        }
        let masks: [String: ConvMask?] = ["conv": nil, "masked_conv_a": .a, "masked_conv_b": .b]
        for (name, mask) in masks {
            table[name] = Builtin(conv, isLayer: true) { a, c in
                let (w, b) = try c.weightAndBias(a)
                return .tensor(try a.tensor("x").conv2d(a.integer("channels", atLeast: 1), kernel: a.integer("kernel", atLeast: 1), stride: a.integer("stride", atLeast: 1),
                                                        padding: a.integer("pad", atLeast: 0), name: c.layerName, mask: mask,
                                                        weightInit: w, biasInit: b))
            }
        }
        table["conv_transpose"] = Builtin(conv + [ParameterSpec("out_pad", .value(.integer(0)))], isLayer: true) { a, c in
            let (w, b) = try c.weightAndBias(a)
            return .tensor(try a.tensor("x").convTranspose2d(a.integer("channels", atLeast: 1), kernel: a.integer("kernel", atLeast: 1), stride: a.integer("stride", atLeast: 1),
                                                             padding: a.integer("pad", atLeast: 0), outputPadding: a.integer("out_pad", atLeast: 0),
                                                             name: c.layerName, weightInit: w, biasInit: b))
        }
        let bn = [x, ParameterSpec("momentum", .value(.real(0.1))), ParameterSpec("eps", .value(.real(1e-5)))]
        table["batch_norm"] = Builtin(bn, isLayer: true) { a, c in
            // Eval mode (running statistics) whenever the graph samples rather than trains.
            .tensor(try a.tensor("x").batchNorm(name: c.layerName, training: c.training, momentum: a.float("momentum", .probability),
                                                epsilon: a.float("eps", .positive), gammaInit: c.initScheme.gamma))
        }
        table["param"] = Builtin([ParameterSpec("shape"), ParameterSpec("init", .value(.integer(0)), keywordOnly: true)], isLayer: true) { a, c in
            .tensor(try c.graph.parameter(c.layerName, a.shape("shape"), initializer: .constant(a.float("init"))))
        }
        return table
    }()
}

extension CallContext {
    /// A layer's weight and bias initialisers: the constant of its `init=` argument when given, else the model's scheme.
    func weightAndBias(_ a: Arguments) throws -> (Initializer?, Initializer?) {
        guard a.has("init") else { return initScheme.weightAndBias }
        let value = Initializer.constant(try a.float("init"))
        return (value, value)
    }
}

extension InitScheme {
    /// Weight and bias initialisers; nil means the layer's PyTorch default.
    var weightAndBias: (Initializer?, Initializer?) {
        switch self {
        case .torch: return (nil, nil)
        case .dcgan: return (.normal(mean: 0, std: 0.02), .zeros)
        }
    }

    var gamma: Initializer {
        switch self {
        case .torch: return .ones
        case .dcgan: return .normal(mean: 1, std: 0.02)
        }
    }
}
