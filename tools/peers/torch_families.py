"""The zoo's flow, diffusion and translation models (docs/zoo.md, last section) in PyTorch:
realnvp, ddpm and cyclegan. torch_ref.py drives them like every other zoo model.

Besides what the driver asks of every model (batches_per_step, build_optimizers, train_step),
each has `evaluate` (its test metrics) and `write_samples`; cyclegan also has `batches`, its
own unpaired data order. Constant tensors (coupling masks, the noise schedule) are
non-persistent buffers, so a state_dict holds the learned parameters only.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SIDE = 28
PIXELS = SIDE * SIDE
# Images per forward pass when evaluating or sampling: bounds memory, changes no result.
CHUNK = 500
# Evaluation noise comes from its own generator with this seed, whatever --seed trained the
# model, so that two models are scored on the same draws.
EVAL_SEED = 0


def descend(optimizer, loss, clip_norm=None):
    """One optimiser update on `loss`, its gradient's global norm clipped to clip_norm if given."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], clip_norm)
    optimizer.step()


def in_chunks(n, draw):
    """`draw(k)` for k of at most CHUNK images at a time, joined into one float32 array of n."""
    parts = [draw(min(CHUNK, n - start)) for start in range(0, n, CHUNK)]
    return torch.cat(parts).float().numpy()


# ------------------------------------------------------------------ realnvp

LOGIT_MARGIN = 0.05  # the logit transform's a: pixels map into [a, 1 - a] before the logit


def checkerboard(parity):
    """1 x 1 x 28 x 28, 1 where (row + column) % 2 == parity."""
    index = torch.arange(SIDE)
    return ((index[:, None] + index[None, :]) % 2 == parity).float().reshape(1, 1, SIDE, SIDE)


def dequantise(pixels, generator=None):
    """Pixel bytes (as floats, 0..255) plus U(0, 1) noise, over 256: a point in [0, 1)."""
    return (pixels + torch.rand(pixels.shape, generator=generator, dtype=pixels.dtype)) / 256


class AffineCoupling(nn.Module):
    """Keeps the pixels where the mask is 1 and scales and shifts the others by amounts that
    a small conv net computes from the kept ones, which makes it invertible in closed form."""

    def __init__(self, parity):
        super().__init__()
        self.register_buffer("mask", checkerboard(parity), persistent=False)
        self.conv1 = nn.Conv2d(2, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 2, 3, padding=1)
        # Zero output: every coupling starts as the identity.
        nn.init.zeros_(self.conv3.weight)
        nn.init.zeros_(self.conv3.bias)
        self.scale = nn.Parameter(torch.ones(1))

    def log_scale_and_shift(self, y):
        """Reads only y * mask (and the mask), so forward and inverse compute the same values."""
        mask = self.mask.expand(y.shape[0], 1, SIDE, SIDE)
        h = self.conv3(F.relu(self.conv2(F.relu(self.conv1(torch.cat([y * mask, mask], 1))))))
        return torch.tanh(h[:, :1]) * self.scale, h[:, 1:]

    def forward(self, y):
        """(transformed y, log-determinant per image)."""
        log_s, t = self.log_scale_and_shift(y)
        free = 1 - self.mask
        return y * self.mask + free * (y * torch.exp(log_s) + t), (free * log_s).flatten(1).sum(1)

    def inverse(self, y):
        log_s, t = self.log_scale_and_shift(y)
        free = 1 - self.mask
        return y * self.mask + free * (y - t) * torch.exp(-log_s)


class RealNVP(nn.Module):
    """Trained on pixel bytes (the `byte` encoding): each step draws its own dequantisation."""

    batches_per_step = 1

    def __init__(self, layers=8):
        super().__init__()
        self.couplings = nn.ModuleList(AffineCoupling(i % 2) for i in range(layers))

    def build_optimizers(self):
        self.adam = torch.optim.Adam(self.parameters(), lr=1e-3)

    def to_latent(self, x):
        """x in [0, 1) -> (z, log |det dz/dx| per image), the logit transform included."""
        p = LOGIT_MARGIN + (1 - 2 * LOGIT_MARGIN) * x
        y = torch.log(p) - torch.log1p(-p)
        log_det = (math.log(1 - 2 * LOGIT_MARGIN) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        for coupling in self.couplings:
            y, coupling_log_det = coupling(y)
            log_det = log_det + coupling_log_det
        return y, log_det

    def from_latent(self, z):
        """The inverse of to_latent, unclamped."""
        for coupling in reversed(self.couplings):
            z = coupling.inverse(z)
        return (torch.sigmoid(z) - LOGIT_MARGIN) / (1 - 2 * LOGIT_MARGIN)

    def nll(self, x):
        """-log p(x) per image, in nats, for dequantised x in [0, 1)."""
        z, log_det = self.to_latent(x)
        log_prior = -0.5 * (z.square() + math.log(2 * math.pi)).flatten(1).sum(1)
        return -(log_prior + log_det)

    def train_step(self, batches):
        (pixels, _), = batches
        loss = self.nll(dequantise(pixels)).mean()
        descend(self.adam, loss, clip_norm=100.0)
        return loss.detach()

    @torch.no_grad()
    def evaluate(self, options, pixels, labels):
        """Test bits per dimension; with --dequant K the mean over K dequantisation draws."""
        generator = torch.Generator().manual_seed(EVAL_SEED)
        total = 0.0
        for _ in range(options.dequant):
            for start in range(0, pixels.shape[0], CHUNK):
                total += self.nll(dequantise(pixels[start:start + CHUNK], generator)).sum().item()
        nats = total / (options.dequant * pixels.shape[0])
        return {"test_bpd": nats / (PIXELS * math.log(2)) + 8}

    @torch.no_grad()
    def sample(self, n, temperature):
        z = temperature * torch.randn(n, 1, SIDE, SIDE)
        return self.from_latent(z).clamp(0, 1)

    def write_samples(self, options, test_split):
        np.save(options.save_samples, in_chunks(options.n_samples, lambda k: self.sample(k, options.temperature)))


# ------------------------------------------------------------------ ddpm

DIFFUSION_STEPS = 1000
TIME_FEATURES = 64


def sinusoidal(t, width=TIME_FEATURES):
    """[sin(t f_i), cos(t f_i)] with f_i = 10000^(-i / (width/2)), i = 0 .. width/2 - 1."""
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies
    return torch.cat([angles.sin(), angles.cos()], 1)


def upsample(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ResBlock(nn.Module):
    """Two GroupNorm-silu-conv stages, the time embedding added per channel between them."""

    def __init__(self, ci, co):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, ci), nn.Conv2d(ci, co, 3, padding=1)
        self.time = nn.Linear(128, co)
        self.norm2, self.conv2 = nn.GroupNorm(8, co), nn.Conv2d(co, co, 3, padding=1)
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else None

    def forward(self, x, time):
        """`time` is silu of the time embedding, N x 128."""
        h = self.conv1(F.silu(self.norm1(x))) + self.time(time)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (x if self.skip is None else self.skip(x))


class SelfAttention(nn.Module):
    """One head over every position of the feature map, added back to its input."""

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.q, self.k, self.v = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        n, c, height, width = x.shape
        h = self.norm(x)
        q = self.q(h).flatten(2).transpose(1, 2)  # n, positions, c
        k = self.k(h).flatten(2)                  # n, c, positions
        v = self.v(h).flatten(2).transpose(1, 2)  # n, positions, c
        weights = torch.softmax(q @ k / math.sqrt(c), dim=-1)  # n, query, key
        return x + self.out((weights @ v).transpose(1, 2).reshape(n, c, height, width))


class DDPM(nn.Module):
    """The noise-predicting U-Net and its two samplers. Schedules are indexed by t = 0..T,
    with beta_0 = 0 and abar_0 = 1 (no noise), so that DDIM's last step needs no special case."""

    batches_per_step = 1

    def __init__(self):
        super().__init__()
        self.time1, self.time2 = nn.Linear(TIME_FEATURES, 128), nn.Linear(128, 128)
        self.conv_in = nn.Conv2d(1, 32, 3, padding=1)
        self.res1 = ResBlock(32, 32)
        self.down1 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.res2 = ResBlock(64, 64)
        self.down2 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
        self.mid1, self.attn, self.mid2 = ResBlock(64, 64), SelfAttention(64), ResBlock(64, 64)
        self.up1 = nn.Conv2d(64, 64, 3, padding=1)
        self.res3 = ResBlock(128, 64)
        self.up2 = nn.Conv2d(64, 32, 3, padding=1)
        self.res4 = ResBlock(64, 32)
        self.norm_out, self.conv_out = nn.GroupNorm(8, 32), nn.Conv2d(32, 1, 3, padding=1)
        betas = torch.cat([torch.zeros(1, dtype=torch.float64),
                           torch.linspace(1e-4, 0.02, DIFFUSION_STEPS, dtype=torch.float64)])
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alpha_bars", torch.cumprod(1 - betas, 0).float(), persistent=False)

    def build_optimizers(self):
        self.adam = torch.optim.Adam(self.parameters(), lr=2e-4)

    def eps(self, x, t):
        """The predicted noise of x_t at the integer steps t (N)."""
        time = F.silu(self.time2(F.silu(self.time1(sinusoidal(t)))))
        s1 = self.res1(self.conv_in(x), time)
        s2 = self.res2(self.down1(s1), time)
        h = self.mid2(self.attn(self.mid1(self.down2(s2), time)), time)
        h = self.res3(torch.cat([self.up1(upsample(h)), s2], 1), time)
        h = self.res4(torch.cat([self.up2(upsample(h)), s1], 1), time)
        return self.conv_out(F.silu(self.norm_out(h)))

    def noised(self, x0, t, noise):
        alpha_bar = self.alpha_bars[t].view(-1, 1, 1, 1)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def squared_errors(self, x0, generator=None):
        """(eps - eps(x_t, t))^2 per element, t uniform in 1..T and eps ~ N(0, I) for each image."""
        t = torch.randint(1, DIFFUSION_STEPS + 1, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        return (self.eps(self.noised(x0, t, noise), t) - noise).square()

    def train_step(self, batches):
        (x0, _), = batches
        loss = self.squared_errors(x0).mean()
        descend(self.adam, loss)
        return loss.detach()

    @torch.no_grad()
    def evaluate(self, options, x0, labels):
        generator = torch.Generator().manual_seed(EVAL_SEED)
        total = sum(self.squared_errors(x0[s:s + CHUNK], generator).sum().item() for s in range(0, x0.shape[0], CHUNK))
        return {"test_loss": total / x0.numel()}

    @staticmethod
    def ddim_times(steps):
        """floor(k T / steps) for k = steps .. 0: T first, 0 (the clean image) last."""
        return [k * DIFFUSION_STEPS // steps for k in range(steps, -1, -1)]

    @torch.no_grad()
    def sample_ddim(self, n, steps):
        """Deterministic (eta = 0): each step estimates x_0, then re-noises it to the next time with the same eps."""
        x = torch.randn(n, 1, SIDE, SIDE)
        times = self.ddim_times(steps)
        for t, earlier in zip(times, times[1:]):
            alpha_bar, alpha_bar_earlier = self.alpha_bars[t], self.alpha_bars[earlier]
            eps = self.eps(x, torch.full((n,), t))
            x0 = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
            x = alpha_bar_earlier.sqrt() * x0 + (1 - alpha_bar_earlier).sqrt() * eps
        return x.clamp(-1, 1)

    @torch.no_grad()
    def sample_ddpm(self, n):
        """Ancestral sampling over all T steps with sigma_t^2 = beta_t; no noise on the last step."""
        x = torch.randn(n, 1, SIDE, SIDE)
        for t in range(DIFFUSION_STEPS, 0, -1):
            beta, alpha_bar = self.betas[t], self.alpha_bars[t]
            eps = self.eps(x, torch.full((n,), t))
            x = (x - beta / (1 - alpha_bar).sqrt() * eps) / (1 - beta).sqrt()
            if t > 1:
                x = x + beta.sqrt() * torch.randn_like(x)
        return x.clamp(-1, 1)

    def write_samples(self, options, test_split):
        draw = self.sample_ddpm if options.sampler == "ddpm" else (lambda k: self.sample_ddim(k, options.sample_steps))
        np.save(options.save_samples, in_chunks(options.n_samples, draw))


# ------------------------------------------------------------------ cyclegan

DOMAIN_A, DOMAIN_B = 7, 9  # sneakers, ankle boots
CYCLE_WEIGHT, IDENTITY_WEIGHT = 10.0, 5.0
POOL_SIZE = 50


def instance_norm(x):
    """Per sample and channel, eps 1e-5, no affine parameters and no running statistics."""
    return F.instance_norm(x, eps=1e-5)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def least_squares(prediction, target):
    return (prediction - target).square().mean()


def normal_initialise(module):
    """Every conv and transposed conv: weight N(0, 0.02), bias 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            nn.init.zeros_(layer.bias)


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + instance_norm(self.conv2(F.relu(instance_norm(self.conv1(x)))))


class Translator(nn.Module):
    """A generator: one domain's images in, the other's out, both in [-1, 1]."""

    def __init__(self, blocks=3):
        super().__init__()
        self.conv_in = nn.Conv2d(1, 32, 7, padding=3)
        self.down = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.res = nn.ModuleList(ResidualBlock(64) for _ in range(blocks))
        self.up = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.conv_out = nn.Conv2d(32, 1, 7, padding=3)

    def forward(self, x):
        h = F.relu(instance_norm(self.down(F.relu(instance_norm(self.conv_in(x))))))
        for block in self.res:
            h = block(h)
        return torch.tanh(self.conv_out(F.relu(instance_norm(self.up(h)))))


class PatchDiscriminator(nn.Module):
    """One logit for each of 7 x 7 overlapping patches."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 64, 4, stride=2, padding=1)
        self.c2 = nn.Conv2d(64, 128, 4, stride=2, padding=1)
        self.c3 = nn.Conv2d(128, 1, 3, padding=1)

    def forward(self, x):
        return self.c3(lrelu(instance_norm(self.c2(lrelu(self.c1(x))))))


class HistoryPool:
    """The discriminators see generated images from a history of the last POOL_SIZE, not only
    the newest batch (Shrivastava et al. 2017, as CycleGAN uses it). Until the pool is full each
    image goes in and is returned; afterwards, half the time an image swaps places with a random
    stored one, which is returned instead."""

    def __init__(self, capacity=POOL_SIZE):
        self.capacity, self.images = capacity, []

    def draw(self, batch):
        returned = []
        for image in batch.detach():
            if len(self.images) < self.capacity:
                self.images.append(image)
                returned.append(image)
            elif torch.rand(()) < 0.5:
                slot = int(torch.randint(self.capacity, ()))
                returned.append(self.images[slot])
                self.images[slot] = image
            else:
                returned.append(image)
        return torch.stack(returned)


def translated_path(path):
    """Where --save-samples F.npy puts the b -> a translations: F.ba.npy."""
    return (path[:-len(".npy")] if path.endswith(".npy") else path) + ".ba.npy"


class CycleGAN(nn.Module):
    """A step is one generator update (both generators), then one update of both discriminators
    on the same batches, their fakes drawn through the history pools. It reports the
    generators' objective."""

    batches_per_step = 1

    def __init__(self):
        super().__init__()
        self.G_AB, self.G_BA = Translator(), Translator()
        self.D_A, self.D_B = PatchDiscriminator(), PatchDiscriminator()
        normal_initialise(self)
        self.pool_a, self.pool_b = HistoryPool(), HistoryPool()

    def build_optimizers(self):
        generators = list(self.G_AB.parameters()) + list(self.G_BA.parameters())
        discriminators = list(self.D_A.parameters()) + list(self.D_B.parameters())
        self.g_adam = torch.optim.Adam(generators, lr=2e-4, betas=(0.5, 0.999))
        self.d_adam = torch.optim.Adam(discriminators, lr=2e-4, betas=(0.5, 0.999))

    @staticmethod
    def domains(x, labels):
        return x[labels == DOMAIN_A], x[labels == DOMAIN_B]

    def test_domains(self, x, labels):
        a, b = self.domains(x, labels)
        if a.shape[0] == 0 or b.shape[0] == 0:
            raise SystemExit(f"cyclegan: the test images hold {a.shape[0]} of class {DOMAIN_A} and "
                             f"{b.shape[0]} of class {DOMAIN_B}; it needs both")
        return a, b

    def batches(self, x, labels, batch, seed):
        """(endless (a, b) batches, steps per epoch): each domain in its own fresh order every
        epoch, an epoch as long as the smaller domain allows."""
        a, b = self.domains(x, labels)
        if min(a.shape[0], b.shape[0]) < batch:
            raise SystemExit(f"cyclegan: the training images hold {a.shape[0]} of class {DOMAIN_A} and "
                             f"{b.shape[0]} of class {DOMAIN_B}, fewer than the batch of {batch}")
        per_epoch = min(a.shape[0], b.shape[0]) // batch
        generator = torch.Generator().manual_seed(seed)

        def stream():
            while True:
                order_a = torch.randperm(a.shape[0], generator=generator)
                order_b = torch.randperm(b.shape[0], generator=generator)
                for start in range(0, per_epoch * batch, batch):
                    yield a[order_a[start:start + batch]], b[order_b[start:start + batch]]
        return stream(), per_epoch

    def generator_objective(self, a, b):
        fake_b, fake_a = self.G_AB(a), self.G_BA(b)
        adversarial = least_squares(self.D_B(fake_b), 1.0) + least_squares(self.D_A(fake_a), 1.0)
        cycle = (self.G_BA(fake_b) - a).abs().mean() + (self.G_AB(fake_a) - b).abs().mean()
        identity = (self.G_BA(a) - a).abs().mean() + (self.G_AB(b) - b).abs().mean()
        return adversarial + CYCLE_WEIGHT * cycle + IDENTITY_WEIGHT * identity, fake_a, fake_b

    def train_step(self, batches):
        (a, b), = batches
        # The discriminators' gradients are not needed for the generators' update.
        self.D_A.requires_grad_(False)
        self.D_B.requires_grad_(False)
        g_loss, fake_a, fake_b = self.generator_objective(a, b)
        descend(self.g_adam, g_loss)
        self.D_A.requires_grad_(True)
        self.D_B.requires_grad_(True)
        old_a, old_b = self.pool_a.draw(fake_a), self.pool_b.draw(fake_b)
        d_loss = (0.5 * (least_squares(self.D_A(a), 1.0) + least_squares(self.D_A(old_a), 0.0))
                  + 0.5 * (least_squares(self.D_B(b), 1.0) + least_squares(self.D_B(old_b), 0.0)))
        descend(self.d_adam, d_loss)
        return g_loss.detach()

    @torch.no_grad()
    def translate(self, generator, x):
        return torch.cat([generator(x[s:s + CHUNK]) for s in range(0, x.shape[0], CHUNK)])

    @torch.no_grad()
    def evaluate(self, options, x, labels):
        """Mean absolute error per pixel, in the data's [-1, 1] units, of a -> b -> a and b -> a -> b."""
        a, b = self.test_domains(x, labels)
        return {"test_cycle_l1_aba": (self.translate(self.G_BA, self.translate(self.G_AB, a)) - a).abs().mean().item(),
                "test_cycle_l1_bab": (self.translate(self.G_AB, self.translate(self.G_BA, b)) - b).abs().mean().item()}

    def write_samples(self, options, test_split):
        """Every test image of each domain translated, in file order: a -> b in F.npy, b -> a in F.ba.npy."""
        a, b = self.test_domains(*test_split())
        np.save(options.save_samples, self.translate(self.G_AB, a).float().numpy())
        np.save(translated_path(options.save_samples), self.translate(self.G_BA, b).float().numpy())
