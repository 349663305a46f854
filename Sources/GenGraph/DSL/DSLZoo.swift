/// The zoo of `docs/zoo.md` written in the graph DSL; the `.gg`
/// files in `DSL/Zoo/` are compiled into the library.
public enum DSLZoo {
    /// Model names, in docs/zoo.md's order.
    public static let names = ["ae", "dae", "sae", "conv-ae", "vae", "cvae", "gan", "cgan", "dcgan", "wgan", "wgan-gp", "pixelcnn", "classifier", "realnvp", "ddpm", "cyclegan"]

    private static let files: [String: [UInt8]] = [
        "ae": PackageResources.ae_gg, "dae": PackageResources.dae_gg, "sae": PackageResources.sae_gg,
        "conv-ae": PackageResources.conv_ae_gg, "vae": PackageResources.vae_gg, "cvae": PackageResources.cvae_gg,
        "gan": PackageResources.gan_gg, "cgan": PackageResources.cgan_gg, "dcgan": PackageResources.dcgan_gg,
        "wgan": PackageResources.wgan_gg, "wgan-gp": PackageResources.wgan_gp_gg,
        "pixelcnn": PackageResources.pixelcnn_gg, "classifier": PackageResources.classifier_gg,
        "realnvp": PackageResources.realnvp_gg, "ddpm": PackageResources.ddpm_gg,
        "cyclegan": PackageResources.cyclegan_gg,
    ]

    /// The `.gg` text of a zoo model.
    public static func source(named name: String) -> String? {
        files[name].map { String(decoding: $0, as: UTF8.self) }
    }

    /// A zoo model parsed (its file named `<name>.gg` in errors), or nil for an unknown name.
    public static func model(named name: String) throws -> ModelSource? {
        guard let text = source(named: name) else { return nil }
        return try ModelSource.parse(text, file: name + ".gg")
    }

    /// A zoo model's definition with `overrides` applied, or nil for an unknown name.
    public static func definition(named name: String, overrides: [String: String] = [:]) throws -> ModelDefinition? {
        try model(named: name)?.definition(overrides: overrides)
    }
}
