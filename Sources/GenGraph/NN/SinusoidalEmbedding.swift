import Foundation

extension Graph {
    /// The largest index the embedding's frequencies count exactly: f32 holds every integer up to 2^24.
    static let maxExactInteger = 1 << 24
}

extension Tensor {
    /// Timesteps t (n) to (n, dim): [sin(t f_0) .. sin(t f_{h-1}), cos(t f_0) .. cos(t f_{h-1})]
    /// with h = dim / 2 and f_i = exp(-ln(10000) i / h), computed in f32 in the order PyTorch's
    /// reference (tools/peers/torch_families.py) computes it. The frequencies are one constant
    /// table, so a plan reads them rather than rebuilding them each step.
    public func sinusoidalEmbedding(dim: Int) throws -> Tensor {
        guard rank == 1 else { throw GraphError(op: "sinusoidal", "needs timesteps (n), got \(shape)") }
        guard dim >= 2, dim % 2 == 0, dim / 2 <= Graph.maxExactInteger else {
            throw GraphError(op: "sinusoidal", "dim \(dim) must be even, in 2...\(2 * Graph.maxExactInteger)")
        }
        _ = try Shape([shape[0], dim]).checkedCount(op: "sinusoidal")
        let half = dim / 2
        let scale = Float(-Foundation.log(10000.0))
        let frequencies = (0..<half).map { Foundation.exp(Float(Float($0) * scale) / Float(half)) }
        let table = try graph.constant(ConstantData(name: "sinusoidal_frequencies", values: frequencies), [1, half])
        let angles = try reshape([shape[0], 1]) * table
        return try concat([angles.sin(), angles.cos()], axis: 1)
    }
}
