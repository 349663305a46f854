/// Elementwise math, reductions, losses, random draws and constants.
extension Builtin {
    static let math: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        for f in UnaryFunction.allCases {
            table[f.rawValue] = Builtin([ParameterSpec("x")]) { a, _ in .tensor(try a.graph.add(.unary(f), [a.tensor("x")])) }
        }
        let slope = ParameterSpec("slope", .value(.real(0.2)))
        table["leaky_relu"] = Builtin([ParameterSpec("x"), slope]) { a, _ in .tensor(try a.tensor("x").leakyRelu(a.float("slope"))) }
        // docs/zoo.md's name for LeakyReLU(0.2).
        table["lrelu"] = table["leaky_relu"]
        table["clamp"] = Builtin([ParameterSpec("x"), ParameterSpec("min"), ParameterSpec("max")]) { a, _ in
            .tensor(try a.tensor("x").clamp(a.float("min"), a.float("max")))
        }
        table["stop_gradient"] = Builtin([ParameterSpec("x")]) { a, _ in .tensor(try a.tensor("x").stopGradient()) }

        let pair = [ParameterSpec("a"), ParameterSpec("b")]
        let binaries: [String: (Tensor, Tensor) throws -> Tensor] = [
            "pow": { try $0.pow($1) }, "maximum": { try $0.maximum($1) }, "minimum": { try $0.minimum($1) },
            "less": { try $0.less($1) }, "less_equal": { try $0.lessEqual($1) },
            "greater": { try $0.greater($1) }, "greater_equal": { try $0.greaterEqual($1) },
            "equal": { try $0.equal($1) }, "not_equal": { try $0.notEqual($1) },
            "matmul": { try $0.matmul($1) },
            "bce_logits": { try bceWithLogits($0, $1) },
            "mse": { try meanSquaredError($0, $1) },
            "l1": { try meanAbsoluteError($0, $1) },
        ]
        for (name, f) in binaries {
            table[name] = Builtin(pair) { a, _ in .tensor(try f(a.tensor("a"), a.tensor("b"))) }
        }
        table["select"] = Builtin([ParameterSpec("condition")] + pair) { a, _ in
            .tensor(try select(a.tensor("condition"), a.tensor("a"), a.tensor("b")))
        }
        table["cross_entropy"] = Builtin([ParameterSpec("logits"), ParameterSpec("labels")]) { a, _ in
            .tensor(try crossEntropy(logits: a.tensor("logits"), labels: a.tensor("labels")))
        }
        table["correct"] = Builtin([ParameterSpec("logits"), ParameterSpec("labels")]) { a, _ in
            .tensor(try correctPredictions(logits: a.tensor("logits"), labels: a.tensor("labels")))
        }
        table["per_sample_mean"] = Builtin([ParameterSpec("x")]) { a, _ in .tensor(try perSampleMean(a.tensor("x"))) }
        table["softmax"] = Builtin([ParameterSpec("x"), ParameterSpec("axis", .value(.integer(-1)))]) { a, _ in
            .tensor(try a.tensor("x").softmax(axes: a.axes("axis") ?? [-1]))
        }
        table["sinusoidal"] = Builtin([ParameterSpec("t"), ParameterSpec("dim")]) { a, _ in
            .tensor(try a.tensor("t").sinusoidalEmbedding(dim: a.integer("dim", atLeast: 2)))
        }

        let reductions: [String: (Tensor, [Int]?) throws -> Tensor] = [
            "sum": { try $0.sum(axes: $1) }, "mean": { try $0.mean(axes: $1) }, "max": { try $0.max(axes: $1) },
            "logsumexp": { try $0.logSumExp(axes: $1) }, "variance": { try $0.variance(axes: $1) },
        ]
        for (name, f) in reductions {
            table[name] = Builtin([ParameterSpec("x"), ParameterSpec("axis", .optional)]) { a, _ in
                .tensor(try f(a.tensor("x"), a.axes("axis")))
            }
        }

        let shape = [ParameterSpec("shape")]
        table["normal"] = Builtin(shape) { a, _ in .tensor(try a.graph.randomNormal(a.shape("shape"))) }
        table["uniform"] = Builtin(shape) { a, _ in .tensor(try a.graph.randomUniform(a.shape("shape"))) }
        table["zeros"] = Builtin(shape) { a, _ in .tensor(try a.graph.constant(0, a.shape("shape"))) }
        table["ones"] = Builtin(shape) { a, _ in .tensor(try a.graph.constant(1, a.shape("shape"))) }
        table["full"] = Builtin(shape + [ParameterSpec("value")]) { a, _ in
            .tensor(try a.graph.constant(a.float("value"), a.shape("shape")))
        }
        table["gradient"] = Builtin([ParameterSpec("of"), ParameterSpec("wrt")]) { a, _ in
            .tensor(try a.graph.gradients(of: a.tensor("of"), withRespectTo: [a.tensor("wrt")])[0])
        }
        return table
    }()
}
