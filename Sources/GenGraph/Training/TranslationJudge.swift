/// Scores a model's translations with the judge classifier (docs/zoo.md's `cyclegan`
/// metrics): for each direction, how often the classifier sees the target class in the
/// translated test images of the source domain, and FD-FMNIST between the translations and
/// the real test images of the target domain.
extension Translator {
    public func judged(by judge: Judge, on test: MNISTSplit) throws -> [(name: String, value: Double)] {
        try definition.translations.flatMap { t -> [(name: String, value: Double)] in
            let target = try domain(t.target).label
            let translated = try translate(try images(of: t.source, in: test), from: t.source)
            let judged = try judge.featuresAndClasses(translated, range: definition.encoding.range)
            let hits = judged.classes.filter { $0 == target }.count
            let real = try judge.statistics(of: test.selecting(label: target))
            let fd = try frechetDistance(try FeatureStatistics(features: judged.features, dimension: judged.dimension), real)
            let direction = "\(t.source)_to_\(t.target)"
            return [("target_class_rate_" + direction, Double(hits) / Double(judged.classes.count)), ("fd_fmnist_" + direction, fd)]
        }
    }
}
