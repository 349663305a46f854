#!/usr/bin/env python3
"""PyTorch versions of the zoo models (docs/zoo.md), to measure gengraph against.

    python tools/peers/torch_ref.py --model vae --mode eager --steps 200 --threads 2 --json
    python tools/peers/torch_ref.py --model vae --epochs 10 --eval --json

Modules carry gengraph's tensor names, so a gengraph checkpoint.safetensors loads into
them with load_state_dict(strict=True) (--load), and --save x.safetensors writes a
state_dict that `gengraph train MODEL --init x.safetensors` starts from.

A step is one optimiser update of every network; for wgan and wgan-gp that is five critic
updates, each on its own real batch, then one generator update. realnvp, ddpm and cyclegan
live in torch_families.py.
"""
import argparse
import functools
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx  # noqa: E402
import torch_families  # noqa: E402

LATENT_GAN = 100
CLASSES = 10


def bce_sum_per_image(logits, target):
    """Stable BCE-with-logits summed over each image's pixels, averaged over the batch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1).mean()


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def with_label(features, labels):
    return torch.cat([features, F.one_hot(labels, CLASSES).to(features.dtype)], dim=1)


def dcgan_initialise(module):
    """N(0, 0.02) weights and zero biases; batch norm scale N(1, 0.02), shift 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class SingleObjective(nn.Module):
    """A model trained by minimising `objective(x, y)` with Adam, lr 1e-3."""

    batches_per_step = 1

    def build_optimizers(self):
        self.adam = torch.optim.Adam(self.parameters(), lr=1e-3)

    def train_step(self, batches):
        (x, y), = batches
        self.adam.zero_grad(set_to_none=True)
        loss = self.objective(x, y)
        loss.backward()
        self.adam.step()
        return loss.detach()


# ------------------------------------------------------------------ autoencoders, data in [0, 1]

class Autoencoder(SingleObjective):
    """ae; dae with `noise` (its encoder sees clamp(x + noise N(0,1), 0, 1)); sae with an L1 `sparsity` on a relu code."""

    def __init__(self, noise=0.0, sparsity=0.0):
        super().__init__()
        self.noise, self.sparsity = noise, sparsity
        self.enc1, self.enc2 = nn.Linear(784, 256), nn.Linear(256, 32)
        self.dec1, self.dec2 = nn.Linear(32, 256), nn.Linear(256, 784)

    def objective(self, x, y):
        clean = x.flatten(1)
        seen = (clean + self.noise * torch.randn_like(clean)).clamp(0, 1) if self.noise else clean
        code = self.enc2(F.relu(self.enc1(seen)))
        if self.sparsity:
            code = F.relu(code)
        loss = bce_sum_per_image(self.dec2(F.relu(self.dec1(code))), clean)
        if self.sparsity:
            loss = loss + self.sparsity * code.abs().sum(1).mean()
        return loss


class ConvAutoencoder(SingleObjective):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.code, self.expand = nn.Linear(32 * 7 * 7, 32), nn.Linear(32, 32 * 7 * 7)
        self.t1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
        self.t2 = nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1)

    def objective(self, x, y):
        code = self.code(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1))
        grid = F.relu(self.expand(code)).reshape(-1, 32, 7, 7)
        return bce_sum_per_image(self.t2(F.relu(self.t1(grid))), x)


class VAE(SingleObjective):
    """vae; cvae (conditional = True) joins the one-hot label to the encoder's input and to z."""

    latent = 20

    def __init__(self, conditional=False):
        super().__init__()
        self.conditional = conditional
        extra = CLASSES if conditional else 0
        self.enc = nn.Linear(784 + extra, 400)
        self.mu, self.logvar = nn.Linear(400, self.latent), nn.Linear(400, self.latent)
        self.dec1, self.dec2 = nn.Linear(self.latent + extra, 400), nn.Linear(400, 784)

    def condition(self, t, y):
        return with_label(t, y) if self.conditional else t

    def encode(self, x, y):
        hidden = F.relu(self.enc(self.condition(x.flatten(1), y)))
        return self.mu(hidden), self.logvar(hidden)

    def decode(self, z, y):
        return self.dec2(F.relu(self.dec1(self.condition(z, y))))

    def neg_elbo(self, x, y):
        """Per image, in nats, with one draw of eps."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        reconstruction = F.binary_cross_entropy_with_logits(self.decode(z, y), x.flatten(1), reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return reconstruction + kl

    def objective(self, x, y):
        return self.neg_elbo(x, y).mean()

    def neg_log_px_iw(self, x, y, k):
        """Per image: -log of the mean of k importance weights p(x, z) / q(z | x)."""
        mu, logvar = self.encode(x, y)
        std = torch.exp(0.5 * logvar)
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        log_weights = []
        for _ in range(k):
            eps = torch.randn_like(mu)
            z = mu + std * eps
            log_px_z = -F.binary_cross_entropy_with_logits(self.decode(z, y), x.flatten(1), reduction="none").sum(1)
            log_pz = (-0.5 * z.square() - half_log_2pi).sum(1)
            log_qz = (-0.5 * eps.square() - half_log_2pi - 0.5 * logvar).sum(1)
            log_weights.append(log_px_z + log_pz - log_qz)
        return math.log(k) - torch.logsumexp(torch.stack(log_weights), dim=0)

    def generate(self, n, y):
        return torch.sigmoid(self.decode(torch.randn(n, self.latent), y)).reshape(n, 1, 28, 28)


# ------------------------------------------------------------------ GANs, data in [-1, 1]

class MLPGenerator(nn.Module):
    def __init__(self, conditional):
        super().__init__()
        self.conditional = conditional
        self.l1 = nn.Linear(LATENT_GAN + (CLASSES if conditional else 0), 256)
        self.l2, self.l3 = nn.Linear(256, 512), nn.Linear(512, 784)

    def forward(self, z, y=None):
        h = with_label(z, y) if self.conditional else z
        return torch.tanh(self.l3(lrelu(self.l2(lrelu(self.l1(h)))))).reshape(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self, conditional):
        super().__init__()
        self.conditional = conditional
        self.l1 = nn.Linear(784 + (CLASSES if conditional else 0), 512)
        self.l2, self.l3 = nn.Linear(512, 256), nn.Linear(256, 1)

    def forward(self, x, y=None):
        h = with_label(x.flatten(1), y) if self.conditional else x.flatten(1)
        return self.l3(lrelu(self.l2(lrelu(self.l1(h))))).reshape(-1)


class DCGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.bn0 = nn.Linear(LATENT_GAN, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7)
        self.t1, self.bn1 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64)
        self.t2 = nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1)
        dcgan_initialise(self)

    def forward(self, z, y=None):
        h = F.relu(self.bn0(self.fc(z))).reshape(-1, 128, 7, 7)
        return torch.tanh(self.t2(F.relu(self.bn1(self.t1(h)))))


class DCDiscriminator(nn.Module):
    """dcgan's discriminator; without batch norm, the wgan critic."""

    def __init__(self, batch_norm):
        super().__init__()
        self.c1 = nn.Conv2d(1, 64, 4, stride=2, padding=1)
        self.c2 = nn.Conv2d(64, 128, 4, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(128) if batch_norm else nn.Identity()
        self.fc = nn.Linear(128 * 7 * 7, 1)
        dcgan_initialise(self)

    def forward(self, x, y=None):
        return self.fc(lrelu(self.bn(self.c2(lrelu(self.c1(x))))).flatten(1)).reshape(-1)


class GAN(nn.Module):
    """gan, cgan and dcgan: non-saturating losses, one discriminator update then one generator
    update on the same batch and the same noise. The step reports d_loss."""

    batches_per_step = 1

    def __init__(self, convolutional=False, conditional=False):
        super().__init__()
        self.conditional = conditional
        if convolutional:
            self.G, self.D = DCGenerator(), DCDiscriminator(batch_norm=True)
        else:
            self.G, self.D = MLPGenerator(conditional), MLPDiscriminator(conditional)

    def build_optimizers(self):
        self.d_adam = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.g_adam = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def train_step(self, batches):
        (x, y), = batches
        y = y if self.conditional else None
        fake = self.G(torch.randn(x.shape[0], LATENT_GAN), y)
        real_target, fake_target = torch.ones(x.shape[0]), torch.zeros(x.shape[0])
        self.d_adam.zero_grad(set_to_none=True)
        d_loss = (F.binary_cross_entropy_with_logits(self.D(x, y), real_target)
                  + F.binary_cross_entropy_with_logits(self.D(fake.detach(), y), fake_target))
        d_loss.backward()
        self.d_adam.step()
        self.g_adam.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(self.D(fake, y), real_target).backward()
        self.g_adam.step()
        return d_loss.detach()

    def generate(self, n, y):
        return self.G(torch.randn(n, LATENT_GAN), y)


class WGAN(nn.Module):
    """wgan (weight clipping, RMSProp) and wgan-gp (gradient penalty 10, Adam): five critic
    updates on five real batches, then a generator update on fresh noise. Reports the last critic loss."""

    batches_per_step = 5

    def __init__(self, penalty):
        super().__init__()
        self.penalty = penalty
        self.G, self.D = DCGenerator(), DCDiscriminator(batch_norm=False)

    def build_optimizers(self):
        if self.penalty:
            self.d_opt = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.5, 0.9))
            self.g_opt = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.5, 0.9))
        else:
            self.d_opt = torch.optim.RMSprop(self.D.parameters(), lr=5e-5, alpha=0.99, eps=1e-8)
            self.g_opt = torch.optim.RMSprop(self.G.parameters(), lr=5e-5, alpha=0.99, eps=1e-8)

    def critic_loss(self, x):
        fake = self.G(torch.randn(x.shape[0], LATENT_GAN)).detach()
        loss = self.D(fake).mean() - self.D(x).mean()
        if self.penalty:
            a = torch.rand(x.shape[0], 1, 1, 1)
            mixed = (a * x + (1 - a) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(self.D(mixed).sum(), mixed, create_graph=True)
            loss = loss + 10 * (grad.flatten(1).norm(dim=1) - 1).square().mean()
        return loss

    def train_step(self, batches):
        for x, _ in batches:
            self.d_opt.zero_grad(set_to_none=True)
            critic = self.critic_loss(x)
            critic.backward()
            self.d_opt.step()
            if not self.penalty:
                with torch.no_grad():
                    for p in self.D.parameters():
                        p.clamp_(-0.01, 0.01)
        self.g_opt.zero_grad(set_to_none=True)
        (-self.D(self.G(torch.randn(batches[0][0].shape[0], LATENT_GAN))).mean()).backward()
        self.g_opt.step()
        return critic.detach()

    def generate(self, n, y):
        return self.G(torch.randn(n, LATENT_GAN))


# ------------------------------------------------------------------ PixelCNN, binarised data

class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel only sees pixels before the centre in raster order
    (type A), or before and at the centre (type B). The mask is a registered buffer."""

    def __init__(self, kind, in_channels, out_channels, kernel):
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        centre = kernel // 2
        mask = torch.zeros(kernel, kernel)
        mask[:centre] = 1
        mask[centre, :centre + (1 if kind == "B" else 0)] = 1
        self.register_buffer("mask", mask.expand_as(self.weight).clone())

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class PixelCNN(SingleObjective):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([MaskedConv2d("A", 1, 32, 7)]
                                    + [MaskedConv2d("B", 32, 32, 3) for _ in range(4)]
                                    + [MaskedConv2d("B", 32, 32, 1)])
        self.out = nn.Conv2d(32, 1, 1)

    def logits(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.out(x)

    def objective(self, x, y):
        return bce_sum_per_image(self.logits(x), x)

    def generate(self, n, y):
        canvas = torch.zeros(n, 1, 28, 28)
        for row in range(28):
            for col in range(28):
                canvas[:, :, row, col] = torch.bernoulli(torch.sigmoid(self.logits(canvas)[:, :, row, col]))
        return canvas


# ------------------------------------------------------------------ the judge

class Classifier(SingleObjective):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, CLASSES)

    def features(self, x):
        h = F.max_pool2d(F.relu(self.c1(x)), 2)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x):
        return self.fc2(self.features(x))

    def objective(self, x, y):
        return F.cross_entropy(self(x), y)


# ------------------------------------------------------------------ the zoo

# name: (constructor, pixel encoding, default batch)
MODELS = {
    "ae": (Autoencoder, "unit", 128),
    "dae": (lambda: Autoencoder(noise=0.3), "unit", 128),
    "sae": (lambda: Autoencoder(sparsity=1e-3), "unit", 128),
    "conv-ae": (ConvAutoencoder, "unit", 128),
    "vae": (VAE, "unit", 128),
    "cvae": (lambda: VAE(conditional=True), "unit", 128),
    "gan": (GAN, "symmetric", 128),
    "cgan": (lambda: GAN(conditional=True), "symmetric", 128),
    "dcgan": (lambda: GAN(convolutional=True), "symmetric", 64),
    "wgan": (lambda: WGAN(penalty=False), "symmetric", 64),
    "wgan-gp": (lambda: WGAN(penalty=True), "symmetric", 64),
    "pixelcnn": (PixelCNN, "binary", 64),
    "classifier": (Classifier, "unit", 128),
    "realnvp": (torch_families.RealNVP, "byte", 64),
    "ddpm": (torch_families.DDPM, "symmetric", 128),
    "cyclegan": (torch_families.CycleGAN, "symmetric", 32),
}
# Models whose loss on a given batch involves no random draw.
DETERMINISTIC = {"ae", "sae", "conv-ae", "pixelcnn", "classifier"}
CONDITIONAL = {"cvae", "cgan"}
# Flags of one model each: flag -> (model, default).
MODEL_FLAGS = {"temperature": ("realnvp", 1.0), "dequant": ("realnvp", 1),
               "sampler": ("ddpm", "ddim"), "sample_steps": ("ddpm", 50)}


def build(name):
    """The model `name` with fresh parameters (torch's global generator draws them)."""
    return MODELS[name][0]()


def encode(images, encoding):
    """uint8 N x 28 x 28 -> float N x 1 x 28 x 28 in the model's pixel range."""
    if encoding == "byte":
        return torch.from_numpy(images).float().unsqueeze(1)
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    if encoding == "symmetric":
        return 2 * x - 1
    if encoding == "binary":
        return (x > 0.5).float()
    return x


def shuffled_batches(x, y, batch, seed):
    """Endless batches: a fresh seeded permutation each epoch, the last partial batch dropped."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0] - batch + 1, batch):
            pick = order[start:start + batch]
            yield x[pick], y[pick]


@torch.no_grad()
def test_metric(name, model, x, y, iw):
    """(metric name, value) over the test split, in evaluation mode."""
    if name in ("gan", "cgan", "dcgan", "wgan", "wgan-gp"):
        raise SystemExit(f"{name} has no test metric here: --save-samples and `gengraph judge` score its samples")
    model.eval()
    total = 0.0
    for start in range(0, x.shape[0], 500):
        xb, yb = x[start:start + 500], y[start:start + 500]
        if name == "classifier":
            total += (model(xb).argmax(1) == yb).sum().item()
        elif iw:
            total += model.neg_log_px_iw(xb, yb, iw).sum().item()
        elif name in ("vae", "cvae"):
            total += model.neg_elbo(xb, yb).sum().item()
        else:
            total += model.objective(xb, yb).item() * xb.shape[0]
    model.train()
    if iw:
        return f"test_neg_log_px_iw{iw}_nats", total / x.shape[0]
    key = {"classifier": "test_accuracy", "vae": "test_neg_elbo_nats", "cvae": "test_neg_elbo_nats",
           "pixelcnn": "test_nll_nats"}.get(name, "test_loss")
    return key, total / x.shape[0]


def load_state(model, path):
    """A state_dict file (.safetensors or torch.save) into `model`, every tensor accounted for."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu")
    model.load_state_dict(state, strict=True)


def save_state(model, path):
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file(state, path)
    else:
        torch.save(state, path)


def parse_arguments():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=list(MODELS))
    ap.add_argument("--mode", default="eager", choices=["eager", "compile"],
                    help="compile: torch.compile the whole train step (forward, backward, optimiser)")
    ap.add_argument("--steps", type=int, default=200, help="timed steps, after the warm-up")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (they absorb compilation)")
    ap.add_argument("--epochs", type=float, default=0, help="train this many epochs instead (warm-up included)")
    ap.add_argument("--batch", type=int, help="default: the model's batch in docs/zoo.md")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=idx.FASHION_MNIST, help="directory of the four IDX files")
    ap.add_argument("--train-limit", type=int, metavar="N", help="train on the first N training images (file order)")
    ap.add_argument("--test-limit", type=int, metavar="N", help="evaluate (cyclegan: translate) the first N test images")
    ap.add_argument("--eval", action="store_true", help="report the test metric of docs/zoo.md")
    ap.add_argument("--iw", type=int, default=0, metavar="K", help="vae/cvae: importance-weighted -log p(x) with K samples")
    ap.add_argument("--save-samples", metavar="FILE.npy", help="write samples, float32 N x 1 x 28 x 28 in the data's range")
    ap.add_argument("--n-samples", type=int, default=64, help="not cyclegan: it translates every test image of both domains")
    ap.add_argument("--temperature", type=float, help="realnvp: the latent's scale when sampling (default 1)")
    ap.add_argument("--dequant", type=int, metavar="K", help="realnvp: --eval averages K dequantisation draws (default 1)")
    ap.add_argument("--sampler", choices=["ddim", "ddpm"], help="ddpm: DDIM (eta 0, default) or ancestral over all T steps")
    ap.add_argument("--sample-steps", type=int, help="ddpm: DDIM's number of steps, 1..1000 (default 50)")
    ap.add_argument("--load", metavar="FILE", help="start from this state_dict (.safetensors: a gengraph checkpoint too)")
    ap.add_argument("--save", metavar="FILE", help="write the state_dict at the end (.safetensors or torch.save)")
    ap.add_argument("--fixed-batch-loss", action="store_true",
                    help="report the loss of the final parameters on the first --batch training images in file order")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    for flag in ("steps", "warmup", "threads", "n_samples"):
        if getattr(a, flag) < (0 if flag == "warmup" else 1):
            ap.error(f"--{flag.replace('_', '-')} is too small: {getattr(a, flag)}")
    if a.batch is not None and a.batch < 1:
        ap.error(f"--batch must be at least 1, got {a.batch}")
    if a.epochs < 0 or a.iw < 0:
        ap.error("--epochs and --iw must not be negative")
    if a.iw and a.model not in ("vae", "cvae"):
        ap.error("--iw applies to vae and cvae")
    if a.fixed_batch_loss and a.model not in DETERMINISTIC:
        ap.error(f"--fixed-batch-loss needs a model without noise in its loss: {', '.join(sorted(DETERMINISTIC))}")
    for flag in ("train_limit", "test_limit"):
        if getattr(a, flag) is not None and getattr(a, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(a, flag)}")
    if a.sampler == "ddpm" and a.sample_steps is not None:
        ap.error("--sample-steps is DDIM's: the ddpm sampler runs all 1000 steps")
    for flag, (model, default) in MODEL_FLAGS.items():
        if getattr(a, flag) is None:
            setattr(a, flag, default)
        elif a.model != model:
            ap.error(f"--{flag.replace('_', '-')} applies to {model}")
    if not (math.isfinite(a.temperature) and a.temperature >= 0):
        ap.error(f"--temperature must be finite and not negative, got {a.temperature}")
    if a.dequant < 1:
        ap.error(f"--dequant must be at least 1, got {a.dequant}")
    if not 1 <= a.sample_steps <= torch_families.DIFFUSION_STEPS:
        ap.error(f"--sample-steps must be in 1..{torch_families.DIFFUSION_STEPS}, got {a.sample_steps}")
    return a


def main():
    a = parse_arguments()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    _, encoding, default_batch = MODELS[a.model]
    batch = a.batch or default_batch
    images, labels = idx.load(a.data, "train")
    x, y = encode(images, encoding), torch.from_numpy(labels)
    if a.train_limit is not None:
        x, y = x[:a.train_limit], y[:a.train_limit]
    if x.shape[0] < batch:
        raise SystemExit(f"--batch {batch} is larger than the {x.shape[0]} training images")

    model = build(a.model)
    if a.load:
        load_state(model, a.load)
    model.build_optimizers()
    step = model.train_step
    compiled = "no"
    if a.mode == "compile":
        step = torch.compile(step)
        compiled = "whole train step (forward, backward, optimiser)"

    if hasattr(model, "batches"):
        stream, batches_per_epoch = model.batches(x, y, batch, a.seed)
    else:
        stream, batches_per_epoch = shuffled_batches(x, y, batch, a.seed), x.shape[0] // batch
    per_step = model.batches_per_step
    if a.epochs:
        total = max(1, int(a.epochs * batches_per_epoch / per_step))
        warmup, timed = min(a.warmup, total - 1), total - min(a.warmup, total - 1)
    else:
        warmup, timed = a.warmup, a.steps

    start = time.perf_counter()
    losses = []
    for _ in range(warmup):
        losses.append(step([next(stream) for _ in range(per_step)]).item())
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(timed):
        batches = [next(stream) for _ in range(per_step)]
        start = time.perf_counter()
        losses.append(step(batches).item())
        times.append(time.perf_counter() - start)

    median = statistics.median(times)
    out = {"impl": "torch", "version": torch.__version__, "mode": a.mode, "compiled": compiled,
           "model": a.model, "batch": batch, "threads": a.threads, "steps": timed,
           "step_ms_median": 1e3 * median, "step_ms_min": 1e3 * min(times),
           "samples_per_s": batch * per_step / median, "compile_s": compile_s,
           "loss_first": losses[0], "loss_last": losses[-1],
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    @functools.cache
    def test_split():
        test_images, test_labels = idx.load(a.data, "test")
        return encode(test_images[:a.test_limit], encoding), torch.from_numpy(test_labels[:a.test_limit])

    if a.eval and hasattr(model, "evaluate"):
        out.update(model.evaluate(a, *test_split()))
    elif a.eval or a.iw:
        key, value = test_metric(a.model, model, *test_split(), a.iw)
        out[key] = value
    if a.fixed_batch_loss:
        with torch.no_grad():
            out["fixed_batch_loss"] = model.objective(x[:batch], y[:batch]).item()
    if a.save_samples:
        if not hasattr(model, "generate") and not hasattr(model, "write_samples"):
            raise SystemExit(f"{a.model} does not generate samples")
        model.eval()
        with torch.no_grad():
            if hasattr(model, "write_samples"):
                model.write_samples(a, test_split)
            else:
                labels = torch.arange(a.n_samples) % CLASSES if a.model in CONDITIONAL else None
                np.save(a.save_samples, model.generate(a.n_samples, labels).float().numpy())
        model.train()
    if a.save:
        save_state(model, a.save)
    print(json.dumps(out) if a.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
