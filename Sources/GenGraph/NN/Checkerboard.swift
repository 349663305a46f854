/// A checkerboard mask (RealNVP's coupling masks) built from constants, concat,
/// broadcast and reshape: no op of its own, and the fused plan computes it in
/// the kernels that read it.
extension Graph {
    /// `shape` (rank >= 2) holding 1 where the last two indices (row + column) have `parity`
    /// (0: even, 1: odd), else 0; the same pattern for every leading index.
    public func checkerboard(_ shape: Shape, parity: Int = 0) throws -> Tensor {
        guard shape.rank >= 2 else { throw GraphError(op: "checkerboard", "needs at least two axes (rows, columns), got \(shape)") }
        guard parity == 0 || parity == 1 else { throw GraphError(op: "checkerboard", "parity must be 0 or 1, got \(parity)") }
        _ = try shape.checkedCount(op: "checkerboard")
        let (rows, columns) = (shape[shape.rank - 2], shape[shape.rank - 1])
        // The 2 x 2 cell: `on` where row + column has the parity.
        let on = try constant(1, [1, 1]), off = try constant(0, [1, 1])
        let (even, odd) = parity == 0 ? (on, off) : (off, on)
        let cell = try concat([concat([even, odd], axis: 1), concat([odd, even], axis: 1)], axis: 0)
        let (cellRows, cellColumns) = ((rows + 1) / 2, (columns + 1) / 2)
        let tiled = try cell.reshape([1, 2, 1, 2]).expand(to: [cellRows, 2, cellColumns, 2]).reshape([2 * cellRows, 2 * cellColumns])
        let plane = try tiled.slice(start: [0, 0], end: [rows, columns])
        return try plane.reshape(Shape([Int](repeating: 1, count: shape.rank - 2) + [rows, columns])).expand(to: shape)
    }
}
