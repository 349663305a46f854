import CZlib

/// An 8-bit greyscale or RGB image, rows top to bottom, that encodes to PNG.
public struct PNGImage: Equatable {
    /// How a pixel's bytes are laid out.
    public enum Color: Equatable {
        /// One byte per pixel.
        case grey
        /// Three bytes per pixel: red, green, blue.
        case rgb

        /// Bytes per pixel.
        public var channels: Int { self == .grey ? 1 : 3 }

        /// The PNG IHDR colour type byte.
        var pngColorType: UInt8 { self == .grey ? 0 : 2 }
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Pixel layout.
    public let color: Color
    /// Row-major pixel bytes, channels interleaved; `width * height * color.channels` of them.
    public let pixels: [UInt8]

    /// An image from its pixel bytes; throws if their count does not match the size.
    public init(width: Int, height: Int, color: Color = .grey, pixels: [UInt8]) throws {
        // PNG stores dimensions as positive 31-bit integers.
        guard (1...Int(Int32.max)).contains(width), (1...Int(Int32.max)).contains(height) else {
            throw OutputError.invalidArgument(path: nil, reason: "PNG size \(width)x\(height) must be positive")
        }
        guard pixels.count == width * height * color.channels else {
            throw OutputError.invalidArgument(
                path: nil, reason: "\(width)x\(height) \(color) image needs \(width * height * color.channels) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.color = color
        self.pixels = pixels
    }

    /// The PNG file contents. `path` only names the destination in errors.
    public func encoded(path: String = "<png>") throws -> [UInt8] {
        var ihdr = [UInt8]()
        appendBigEndian(UInt32(width), to: &ihdr)
        appendBigEndian(UInt32(height), to: &ihdr)
        // Bit depth 8, colour type, compression 0 (deflate), filter method 0, no interlace.
        ihdr += [8, color.pngColorType, 0, 0, 0]

        let filtered = filteredScanlines()
        var compressedSize = compressBound(uLong(filtered.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let code = compress2(&compressed, &compressedSize, filtered, uLong(filtered.count), Z_BEST_COMPRESSION)
        guard code == Z_OK else { throw OutputError.compressionFailed(path: path, zlibCode: code) }
        compressed.removeSubrange(Int(compressedSize)...)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        appendChunk("IHDR", ihdr, to: &png)
        appendChunk("IDAT", compressed, to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Writes the PNG to `path` atomically (temporary file, then rename).
    public func write(to path: String) throws {
        try OutputFile.writeAtomically(try encoded(path: path), to: path)
    }

    /// Each row prefixed by its filter type byte. Per row, the filter whose output has the
    /// smallest sum of absolute signed bytes is kept (the heuristic the PNG specification
    /// suggests): it tends to produce the most zlib-friendly runs at negligible cost.
    private func filteredScanlines() -> [UInt8] {
        let bpp = color.channels
        let rowBytes = width * bpp
        var out = [UInt8]()
        out.reserveCapacity(height * (rowBytes + 1))
        let zeroRow = [UInt8](repeating: 0, count: rowBytes)
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        var best = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<height {
            let row = pixels[(y * rowBytes)..<((y + 1) * rowBytes)]
            let prior = y == 0 ? zeroRow[...] : pixels[((y - 1) * rowBytes)..<(y * rowBytes)]
            var bestType: UInt8 = 0
            var bestCost = Int.max
            for type: UInt8 in 0...4 {
                var cost = 0
                for i in 0..<rowBytes {
                    let x = row[row.startIndex + i]
                    let a = i >= bpp ? row[row.startIndex + i - bpp] : 0
                    let b = prior[prior.startIndex + i]
                    let c = i >= bpp ? prior[prior.startIndex + i - bpp] : 0
                    let predictor: UInt8
                    switch type {
                    case 0: predictor = 0
                    case 1: predictor = a
                    case 2: predictor = b
                    case 3: predictor = UInt8((Int(a) + Int(b)) / 2)
                    default: predictor = paethPredictor(a, b, c)
                    }
                    let value = x &- predictor
                    candidate[i] = value
                    cost += Int(Int8(bitPattern: value).magnitude)
                }
                if cost < bestCost {
                    bestCost = cost
                    bestType = type
                    swap(&best, &candidate)
                }
            }
            out.append(bestType)
            out += best
        }
        return out
    }
}

/// The PNG Paeth predictor: whichever of left, above, upper-left is closest to left + above - upper-left.
private func paethPredictor(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
    let p = Int(a) + Int(b) - Int(c)
    let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
    if pa <= pb && pa <= pc { return a }
    return pb <= pc ? b : c
}

private func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

/// Appends length, type, data and the CRC-32 of type and data, as every PNG chunk is laid out.
private func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
    appendBigEndian(UInt32(data.count), to: &png)
    let typeAndData = Array(type.utf8) + data
    png += typeAndData
    let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
    appendBigEndian(UInt32(crc), to: &png)
}

/// Lays out a batch of N x C x H x W float images (C = 1 or 3) as one grid picture with
/// borders, mapping `range` linearly to 0...255. Values outside the range are clamped
/// (so infinities show as black or white); NaN pixels are drawn magenta, which turns a
/// greyscale grid into RGB, so a diverging run is obvious at a glance.
public struct ImageGrid {
    /// The value range mapped to 0...255, e.g. `0...1` or `-1...1`.
    public var range: ClosedRange<Float>
    /// Images per row; nil means the smallest square that fits (8 for 64 images).
    public var columns: Int?
    /// Border width in output pixels, around and between tiles.
    public var border: Int
    /// Grey level of the border and of unused tiles; mid-grey separates tiles on both black and white backgrounds.
    public var borderLevel: UInt8
    /// Each image pixel becomes a `scale` x `scale` block (nearest neighbour).
    public var scale: Int

    /// The colour NaN pixels are drawn in.
    public static let nanColor: [UInt8] = [255, 0, 255]

    /// A grid layout; see the properties for the meaning of each argument.
    public init(range: ClosedRange<Float> = 0...1, columns: Int? = nil, border: Int = 2, borderLevel: UInt8 = 128, scale: Int = 1) {
        self.range = range
        self.columns = columns
        self.border = border
        self.borderLevel = borderLevel
        self.scale = scale
    }

    /// Renders `values` (row-major, of `shape` N x C x H x W) into one image. `path` only names the destination in errors.
    public func image(_ values: [Float], shape: [Int], path: String? = nil) throws -> PNGImage {
        func fail(_ reason: String) -> OutputError { .invalidArgument(path: path, reason: reason) }
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }), shape[1] == 1 || shape[1] == 3 else {
            throw fail("image grid needs shape N x C x H x W with C = 1 or 3, got \(shape)")
        }
        let (n, channels, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard values.count == n * channels * h * w else {
            throw fail("image grid of shape \(shape) needs \(n * channels * h * w) values, got \(values.count)")
        }
        guard range.lowerBound.isFinite, range.upperBound.isFinite, range.lowerBound < range.upperBound else {
            throw fail("image value range \(range) must be finite and non-empty")
        }
        guard border >= 0, scale >= 1 else { throw fail("border \(border) must be >= 0 and scale \(scale) >= 1") }
        let cols = try columns.map { c -> Int in
            guard c >= 1 else { throw fail("grid columns \(c) must be >= 1") }
            return min(c, n)
        } ?? smallestSquareSide(n)
        let rows = (n + cols - 1) / cols
        let tileW = w * scale, tileH = h * scale
        let width = cols * tileW + (cols + 1) * border
        let height = rows * tileH + (rows + 1) * border

        let color: PNGImage.Color = channels == 3 || values.contains(where: \.isNaN) ? .rgb : .grey
        let outChannels = color.channels
        var pixels = [UInt8](repeating: borderLevel, count: width * height * outChannels)
        let lo = range.lowerBound, span = range.upperBound - range.lowerBound
        let plane = h * w
        for index in 0..<n {
            let originX = border + (index % cols) * (tileW + border)
            let originY = border + (index / cols) * (tileH + border)
            let base = index * channels * plane
            for y in 0..<tileH {
                let sourceRow = (y / scale) * w
                let outRow = ((originY + y) * width + originX) * outChannels
                for x in 0..<tileW {
                    let source = base + sourceRow + x / scale
                    let out = outRow + x * outChannels
                    // A NaN in any channel marks the whole pixel.
                    if (0..<channels).contains(where: { values[source + $0 * plane].isNaN }) {
                        for k in 0..<outChannels { pixels[out + k] = Self.nanColor[k] }
                        continue
                    }
                    for k in 0..<outChannels {
                        let v = values[source + (channels == 1 ? 0 : k) * plane]
                        let level = ((v - lo) / span * 255).rounded()
                        pixels[out + k] = UInt8(min(max(level, 0), 255))
                    }
                }
            }
        }
        return try PNGImage(width: width, height: height, color: color, pixels: pixels)
    }

    /// Renders `values` (N x C x H x W) and writes the PNG to `path` atomically.
    public func write(_ values: [Float], shape: [Int], to path: String) throws {
        try image(values, shape: shape, path: path).write(to: path)
    }
}

/// The smallest c with c * c >= n.
private func smallestSquareSide(_ n: Int) -> Int {
    var c = Int(Double(n).squareRoot())
    while c * c < n { c += 1 }
    return max(c, 1)
}
