/// Layers: built-ins that declare parameters named `<layer>.weight`, `<layer>.bias`
/// (PyTorch layouts), initialised by the model's `init` scheme.
extension Builtin {
    static let layers: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        let x = ParameterSpec("x"), stride = ParameterSpec("stride", .value(.integer(1))), pad = ParameterSpec("pad", .value(.integer(0)))
        let conv = [x, ParameterSpec("channels"), ParameterSpec("kernel"), stride, pad]

        table["dense"] = Builtin([x, ParameterSpec("units")], isLayer: true) { a, c in
            let (w, b) = c.initScheme.weightAndBias
            return .tensor(try a.tensor("x").dense(a.integer("units", atLeast: 1), name: c.layerName, weightInit: w, biasInit: b))
        }
        let masks: [String: ConvMask?] = ["conv": nil, "masked_conv_a": .a, "masked_conv_b": .b]
        for (name, mask) in masks {
            table[name] = Builtin(conv, isLayer: true) { a, c in
                let (w, b) = c.initScheme.weightAndBias
                return .tensor(try a.tensor("x").conv2d(a.integer("channels", atLeast: 1), kernel: a.integer("kernel", atLeast: 1), stride: a.integer("stride", atLeast: 1),
                                                        padding: a.integer("pad", atLeast: 0), name: c.layerName, mask: mask,
                                                        weightInit: w, biasInit: b))
            }
        }
        table["conv_transpose"] = Builtin(conv + [ParameterSpec("out_pad", .value(.integer(0)))], isLayer: true) { a, c in
            let (w, b) = c.initScheme.weightAndBias
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
        return table
    }()
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
