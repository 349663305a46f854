/// Shape and movement ops, shapes as lists, masks, pooling, one-hot, and autoregressive sampling.
extension Builtin {
    static let structure: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        let x = ParameterSpec("x")
        table["reshape"] = Builtin([x, ParameterSpec("shape")]) { a, _ in
            let dims = try a.integers("shape")
            guard dims.allSatisfy({ $0 >= 1 || $0 == -1 }) else {
                throw GraphError(op: "reshape", "sizes must be positive (or one -1), got \(Shape(dims))")
            }
            return .tensor(try a.tensor("x").reshape(Shape(dims)))
        }
        table["flatten"] = Builtin([x]) { a, _ in .tensor(try a.tensor("x").flatten()) }
        table["permute"] = Builtin([x, ParameterSpec("order")]) { a, _ in .tensor(try a.tensor("x").permute(a.integers("order"))) }
        table["transpose"] = Builtin([x]) { a, _ in .tensor(try a.tensor("x").transposed()) }
        table["slice"] = Builtin([x, ParameterSpec("axis"), ParameterSpec("start"), ParameterSpec("end")]) { a, _ in
            let (start, end) = (try a.integer("start"), try a.integer("end"))
            guard start <= end else { throw GraphError(op: "slice", "start \(start) is after end \(end)") }
            return .tensor(try a.tensor("x").slice(axis: a.integer("axis"), start..<end))
        }
        table["concat"] = Builtin([ParameterSpec("axis", .value(.integer(1)))], variadic: true) { a, _ in
            let parts = try a.rest.map { part in
                try Arguments.tensor(part, graph: a.graph)
                    ?? { throw Diagnostic("'concat' joins tensors, got \(part.value.kindDescription)", at: part.location) }()
            }
            return .tensor(try concat(parts, axis: a.integer("axis")))
        }
        table["shape"] = Builtin([x]) { a, _ in .list(try a.tensor("x").shape.dims.map { .integer($0) }) }
        table["checkerboard"] = Builtin([ParameterSpec("shape"), ParameterSpec("parity", .value(.integer(0)))]) { a, _ in
            .tensor(try a.graph.checkerboard(a.shape("shape"), parity: a.integer("parity")))
        }
        table["one_hot"] = Builtin([ParameterSpec("labels"), ParameterSpec("depth")]) { a, _ in
            .tensor(try a.tensor("labels").oneHot(depth: a.integer("depth", atLeast: 1)))
        }
        table["max_pool"] = Builtin([x, ParameterSpec("kernel"), ParameterSpec("stride", .optional), ParameterSpec("pad", .value(.integer(0)))]) { a, _ in
            let stride = a.has("stride") ? try a.integer("stride", atLeast: 1) : nil
            return .tensor(try a.tensor("x").maxPool2d(kernel: a.integer("kernel", atLeast: 1), stride: stride, padding: a.integer("pad", atLeast: 0)))
        }
        table["upsample"] = Builtin([x, ParameterSpec("factor", .value(.integer(2)))]) { a, _ in
            .tensor(try a.tensor("x").upsampled(by: a.integer("factor", atLeast: 1)))
        }
        table["autoregressive"] = Builtin([ParameterSpec("logits")]) { a, c in
            guard let canvas = c.canvas else {
                throw Diagnostic("'autoregressive' is only allowed as the result of a 'sample'", at: a.location)
            }
            let input = try c.graph.input(canvas.name, canvas.shape)
            guard case .tensor(let logits) = try c.apply(a.function("logits"), [.tensor(input)]) else {
                throw Diagnostic("'\(try a.function("logits"))' must return a tensor of pixel logits", at: a.location)
            }
            guard logits.shape == input.shape else {
                throw Diagnostic("pixel logits have shape \(logits.shape), the canvas \(input.shape)", at: a.location)
            }
            return .autoregressive(canvas: input, logits: logits, function: try a.function("logits"))
        }
        return table
    }()
}
