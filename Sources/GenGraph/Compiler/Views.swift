/// How every node of a program is reached at run time before fusion decides
/// anything: reshape, permute, broadcast and slice are strided windows onto
/// another node (their root), constants are stride-0 scalars, and every other
/// node is a value of its own.
struct ViewInfo {
    enum Kind: Equatable {
        case value            // computed by a kernel or fed: owns its storage
        case constant(Float)  // no storage: every element is the value
        case view             // a window onto `root`
    }

    let kind: Kind
    /// The node whose storage this reads (itself for values).
    let root: Int
    let offset: Int
    let strides: [Int]

    var isConstant: Bool { if case .constant = kind { return true }; return false }

    /// Strided windows for every node of `program`. A reshape of a
    /// non-contiguous window cannot be a window; it becomes a value (the
    /// fusion pass gives it a copy kernel).
    static func analyse(_ program: Program) -> [ViewInfo] {
        var info: [ViewInfo] = []
        info.reserveCapacity(program.nodes.count)
        for (id, node) in program.nodes.enumerated() {
            let shape = node.shape
            func own() -> ViewInfo { ViewInfo(kind: .value, root: id, offset: 0, strides: shape.contiguousStrides) }
            guard let first = node.inputs.first else {
                if case .constant(let v) = node.op {
                    info.append(ViewInfo(kind: .constant(v), root: id, offset: 0, strides: [Int](repeating: 0, count: shape.rank)))
                } else {
                    info.append(own())
                }
                continue
            }
            let x = info[first], xs = program.nodes[first].shape
            if case .constant(let v) = x.kind {
                switch node.op {
                case .reshape, .permute, .broadcast, .slice:
                    info.append(ViewInfo(kind: .constant(v), root: id, offset: 0, strides: [Int](repeating: 0, count: shape.rank)))
                    continue
                default: break
                }
            }
            let kind: Kind = .view
            switch node.op {
            case .reshape:
                if let strides = reshapedStrides(from: xs, x.strides, to: shape) {
                    info.append(ViewInfo(kind: kind, root: x.root, offset: x.offset, strides: strides))
                } else {
                    info.append(own())
                }
            case .permute(let perm):
                info.append(ViewInfo(kind: kind, root: x.root, offset: x.offset, strides: perm.map { x.strides[$0] }))
            case .broadcast:
                let strides = xs.dims.indices.map { xs[$0] == shape[$0] ? x.strides[$0] : 0 }
                info.append(ViewInfo(kind: kind, root: x.root, offset: x.offset, strides: strides))
            case .slice(let start, _):
                let offset = x.offset + zip(start, x.strides).reduce(0) { $0 + $1.0 * $1.1 }
                info.append(ViewInfo(kind: kind, root: x.root, offset: offset, strides: x.strides))
            default:
                info.append(own())
            }
        }
        return info
    }

    /// Strides that read `source` (with `strides`) as `target` without a copy,
    /// or nil. Works whenever the source is contiguous, and for the common
    /// cases of splitting or merging axes that are themselves contiguous.
    static func reshapedStrides(from source: Shape, _ strides: [Int], to target: Shape) -> [Int]? {
        // Drop size-1 axes, then match groups of source axes to groups of target axes with equal products.
        let src = source.dims.indices.filter { source[$0] != 1 }.map { (source[$0], strides[$0]) }
        var result = [Int](repeating: 0, count: target.rank)
        var i = 0
        var t = 0
        while t < target.rank {
            if target[t] == 1 { t += 1; continue }
            // Collect target axes until their product matches a product of source axes.
            var tProduct = target[t], sProduct = i < src.count ? src[i].0 : 0
            var tEnd = t + 1, sEnd = i + 1
            while tProduct != sProduct {
                if tProduct < sProduct {
                    guard tEnd < target.rank else { return nil }
                    tProduct *= target[tEnd]; tEnd += 1
                } else {
                    guard sEnd < src.count else { return nil }
                    sProduct *= src[sEnd].0; sEnd += 1
                }
            }
            // The source group must be contiguous within itself.
            for k in i..<(sEnd - 1) where src[k].1 != src[k + 1].1 * src[k + 1].0 { return nil }
            var step = src[sEnd - 1].1
            for a in stride(from: tEnd - 1, through: t, by: -1) {
                result[a] = target[a] == 1 ? 0 : step
                step *= target[a]
            }
            i = sEnd
            t = tEnd
        }
        return i == src.count ? result : nil
    }

    /// The value node `i` reads in its own element order (a reshape of it at offset 0 with
    /// contiguous strides and as many elements), or nil: a fused kernel whose space refines both
    /// shapes reads such a view from the value's register (`refines`).
    static func reshapedValue(_ i: Int, _ views: [ViewInfo], _ nodes: [Node]) -> Int? {
        let v = views[i]
        guard v.kind == .view, v.offset == 0, views[v.root].kind == .value, nodes[v.root].shape.count == nodes[i].shape.count,
              v.strides == nodes[i].shape.contiguousStrides else { return nil }
        return v.root
    }
}

/// Whether `fine` splits the axes of `coarse` (each axis of `coarse` is a run of axes of `fine`):
/// an iteration over `fine` then visits `coarse`'s elements in order, and any strides over
/// `coarse` can be written over `fine` (`ViewInfo.reshapedStrides`).
func refines(_ fine: Shape, _ coarse: Shape) -> Bool {
    guard fine.count == coarse.count, fine.count > 0 else { return fine == coarse }
    func bounds(_ s: Shape) -> Set<Int> {
        var product = 1
        return Set(s.dims.map { product *= $0; return product })
    }
    return bounds(coarse).isSubset(of: bounds(fine))
}
