/// Estimated work of one node run on its own: FLOPs and bytes read and written.
struct NodeCost {
    let flops: Int
    let bytesRead: Int
    let bytesWritten: Int

    init(_ node: Node, _ nodes: [Node]) {
        let out = node.shape.count
        let inputs = node.inputs.map { nodes[$0].shape }
        switch node.op {
        case .matmul(let ta, _):
            let a = inputs[0]
            let k = ta ? a[a.rank - 2] : a[a.rank - 1]
            flops = 2 * out * k
        case .conv2d:
            let w = inputs[1]
            flops = 2 * out * w[1] * w[2] * w[3]
        case .convTranspose2d:
            let x = inputs[0], w = inputs[1]
            flops = 2 * x.count * w[1] * w[2] * w[3]
        case .conv2dFilterGrad:
            let dy = inputs[1]
            flops = 2 * dy.count * node.shape[1] * node.shape[2] * node.shape[3]
        case .maxPool2d(let p): flops = out * p.kernel * p.kernel
        case .maxPool2dGrad(let p): flops = inputs[1].count * p.kernel * p.kernel
        case .reduce: flops = inputs[0].count
        case .unary, .leakyRelu, .clamp, .binary, .select, .randomUniform, .randomNormal: flops = out
        default: flops = 0
        }
        if node.op.category == .leaf || node.op.isView {
            (bytesRead, bytesWritten) = (0, 0)
        } else {
            bytesRead = inputs.reduce(0) { $0 + $1.count } * 4
            bytesWritten = out * 4
        }
    }
}
