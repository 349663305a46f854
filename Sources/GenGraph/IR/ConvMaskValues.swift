/// PixelCNN's causal mask: 1 where a weight may see the pixel, 0 elsewhere.
func convMaskValues(_ kind: ConvMask, _ shape: Shape) -> [Float] {
    let kh = shape[2], kw = shape[3], plane = kh * kw
    return (0..<shape.count).map { i in
        let p = i % plane, row = p / kw, col = p % kw
        let before = row < kh / 2 || (row == kh / 2 && col < kw / 2)
        let centre = row == kh / 2 && col == kw / 2
        return before || (centre && kind == .b) ? 1 : 0
    }
}
