import Foundation
import Kernels

/// How u8 pixels become the Float values a model sees.
public enum PixelEncoding: Sendable {
    /// `u8 / 255`, in [0, 1].
    case unitInterval
    /// `2 * u8 / 255 - 1`, in [-1, 1].
    case symmetric
    /// 1 where `u8 / 255 > 0.5`, else 0.
    case binarized
    /// The byte itself, 0 ... 255, for models that dequantise it themselves (x = (u8 + v) / 256
    /// with v ~ U(0, 1), a flow's likelihood of continuous pixels); their samples are in [0, 1].
    case bytes

    /// The encoded value of every possible byte; a table lookup keeps conversion cheap and
    /// guarantees every code path encodes a byte identically.
    var table: [Float] {
        (0...255).map { byte -> Float in
            let unit = Float(byte) / 255
            switch self {
            case .unitInterval: return unit
            case .symmetric: return 2 * Float(byte) / 255 - 1
            case .binarized: return unit > 0.5 ? 1 : 0
            case .bytes: return Float(byte)
            }
        }
    }
}

/// One split of an MNIST-format dataset: `count` images of `rows` x `cols` u8 pixels and their labels.
public struct MNISTSplit: Sendable {
    /// Number of examples.
    public let count: Int
    /// Image height in pixels.
    public let rows: Int
    /// Image width in pixels.
    public let cols: Int
    /// All pixels, `count * rows * cols`, image by image, each row-major.
    public let pixels: [UInt8]
    /// One class label per image.
    public let labels: [UInt8]

    /// Pixels in one image (784 for MNIST).
    public var pixelsPerImage: Int { rows * cols }

    /// Loads an images file (IDX u8, 3-D) and a labels file (IDX u8, 1-D), raw or gzipped.
    ///
    /// - Parameters:
    ///   - classCount: when given, every label must lie in `0..<classCount`.
    ///   - limit: when given, keep only the first `limit` examples (the files are still fully checked).
    public init(imagesPath: String, labelsPath: String, classCount: Int? = nil, limit: Int? = nil) throws {
        let images = try IDXArray(contentsOf: imagesPath, dimensions: 3)
        let labels = try IDXArray(contentsOf: labelsPath, dimensions: 1)
        guard images.shape[0] == labels.shape[0] else {
            throw DataError.countMismatch(imagesPath: imagesPath, imageCount: images.shape[0],
                                          labelsPath: labelsPath, labelCount: labels.shape[0])
        }
        if let classCount, let index = labels.values.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError.labelOutOfRange(path: labelsPath, index: index, label: Int(labels.values[index]),
                                            classCount: classCount)
        }
        let count = min(images.shape[0], max(0, limit ?? images.shape[0]))
        self.count = count
        rows = images.shape[1]
        cols = images.shape[2]
        let pixelCount = count * images.shape[1] * images.shape[2]
        pixels = count == images.shape[0] ? images.values : Array(images.values[..<pixelCount])
        self.labels = count == labels.shape[0] ? labels.values : Array(labels.values[..<count])
    }

    /// All images as Floats, flattened to `count x pixelsPerImage`, row-major.
    public func images(_ encoding: PixelEncoding) -> [Float] {
        var images = [Float](repeating: 0, count: pixels.count)
        encode(rows: nil, table: encoding.table, into: &images)
        return images
    }

    /// Writes the images at `rows` (all of them, in order, when nil) through `table`, one after
    /// another, into the start of `images`, which must hold them (`gg_lookup_rows_u8_f32`).
    func encode(rows: ArraySlice<Int>?, table: [Float], into images: inout [Float]) {
        let count = rows?.count ?? self.count
        precondition(table.count == 256 && images.count >= count * pixelsPerImage, "encode: table or buffer too small")
        var ctx = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
        let status = pixels.withUnsafeBufferPointer { pixels in
            table.withUnsafeBufferPointer { table in
                images.withUnsafeMutableBufferPointer { images in
                    func run(_ indices: UnsafePointer<Int64>?) -> gg_status {
                        gg_lookup_rows_u8_f32(&ctx, images.baseAddress, pixels.baseAddress, Int64(self.count), indices,
                                              Int64(count), Int64(pixelsPerImage), table.baseAddress)
                    }
                    guard let rows else { return run(nil) }
                    return rows.map(Int64.init).withUnsafeBufferPointer { run($0.baseAddress) }
                }
            }
        }
        precondition(status == GG_OK, "encode: a row index outside the split")
    }

    /// The labels as Int32, the index type the kernels take.
    public var int32Labels: [Int32] { labels.map { Int32($0) } }
}

/// An MNIST-format dataset (MNIST, Fashion-MNIST, ...): the standard training and test splits.
public struct MNISTDataset: Sendable {
    /// Where Fashion-MNIST is installed on this project's machines.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist/"
    /// MNIST and Fashion-MNIST both have ten classes.
    public static let classCount = 10

    /// The 60000-example training split.
    public let train: MNISTSplit
    /// The 10000-example test split.
    public let test: MNISTSplit

    /// Loads `train-*` and `t10k-*` images and labels from `directory`, each either gzipped
    /// (`.gz`) or raw; `limit` keeps only the first `limit` examples of each split.
    public init(directory: String = MNISTDataset.defaultDirectory, limit: Int? = nil) throws {
        train = try Self.split(.train, directory: directory, limit: limit)
        test = try Self.split(.test, directory: directory, limit: limit)
    }

    /// Which standard split of an MNIST-format directory.
    public enum SplitName: String, Sendable {
        case train, test = "t10k"
    }

    /// One standard split of `directory` (the `train-*` or `t10k-*` files, raw or
    /// gzipped), optionally cut to its first `limit` examples.
    public static func split(_ name: SplitName, directory: String = defaultDirectory, limit: Int? = nil) throws -> MNISTSplit {
        try MNISTSplit(imagesPath: locate("\(name.rawValue)-images-idx3-ubyte", in: directory),
                       labelsPath: locate("\(name.rawValue)-labels-idx1-ubyte", in: directory),
                       classCount: classCount, limit: limit)
    }

    /// The path of `name` or `name.gz` in `directory`, preferring the raw file because it loads faster.
    static func locate(_ name: String, in directory: String) throws -> String {
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        for candidate in [base, base + ".gz"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw DataError.fileNotFound(path: base + "[.gz]")
    }
}
