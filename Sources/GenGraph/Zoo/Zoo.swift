/// Every model of `../shared/spec/zoo.md`, by name.
public enum Zoo {
    public static let models: [ModelDefinition] = [
        ModelDefinition(name: "ae", summary: "autoencoder 784-256-32-256-784, BCE", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.ae()),
        ModelDefinition(name: "dae", summary: "denoising autoencoder (Gaussian noise 0.3)", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.ae(noise: 0.3)),
        ModelDefinition(name: "sae", summary: "sparse autoencoder (L1 1e-3 on a relu code)", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.ae(sparsity: 1e-3)),
        ModelDefinition(name: "conv-ae", summary: "convolutional autoencoder", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.convAE),
        ModelDefinition(name: "vae", summary: "variational autoencoder, latent 20 (the reference workload)", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.vae(classes: 0)),
        ModelDefinition(name: "cvae", summary: "conditional VAE (one-hot label on encoder and decoder)", defaultBatch: 128,
                        encoding: .unitInterval, build: AutoencoderZoo.vae(classes: 10)),
        ModelDefinition(name: "gan", summary: "MLP GAN, non-saturating loss", defaultBatch: 128,
                        encoding: .symmetric, build: GANZoo.gan(conditional: false, convolutional: false)),
        ModelDefinition(name: "cgan", summary: "conditional MLP GAN", defaultBatch: 128,
                        encoding: .symmetric, build: GANZoo.gan(conditional: true, convolutional: false)),
        ModelDefinition(name: "dcgan", summary: "DCGAN (transposed convs, batch norm)", defaultBatch: 64,
                        encoding: .symmetric, build: GANZoo.gan(conditional: false, convolutional: true)),
        ModelDefinition(name: "wgan", summary: "Wasserstein GAN, weight clipping, RMSProp, n_critic 5", defaultBatch: 64,
                        encoding: .symmetric, build: GANZoo.wgan(gradientPenalty: false)),
        ModelDefinition(name: "wgan-gp", summary: "Wasserstein GAN with gradient penalty, Adam, n_critic 5", defaultBatch: 64,
                        encoding: .symmetric, build: GANZoo.wgan(gradientPenalty: true)),
        ModelDefinition(name: "pixelcnn", summary: "PixelCNN, masked convs A/B, binarised data", defaultBatch: 64,
                        encoding: .binarized, build: PixelCNNZoo.build),
        ModelDefinition(name: "classifier", summary: "CNN classifier (the judge for generated samples)", defaultBatch: 128,
                        encoding: .unitInterval, build: ClassifierZoo.build),
    ]

    public static func model(named name: String) -> ModelDefinition? { models.first { $0.name == name } }
}
