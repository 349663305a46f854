#!/usr/bin/env python3
"""JAX versions of the zoo's vae and gan (docs/zoo.md), each whole train step one jax.jit.

    python tools/peers/jax_ref.py --model vae --steps 200 --json

Prints the JSON fields of torch_ref.py. Adam is spelled out here (no optax) so that the
update compiles into the same program as the forward and backward passes. Batches are drawn
with replacement from a seeded generator; XLA uses every core (there is no --threads).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx  # noqa: E402


def linear(key, fan_in, fan_out):
    """PyTorch's nn.Linear initialisation: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = fan_in ** -0.5
    kw, kb = jax.random.split(key)
    return {"w": jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
            "b": jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound)}


def apply(layer, x):
    return x @ layer["w"] + layer["b"]


def bce_logits(logits, target):
    return jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits)))


def lrelu(x):
    return jnp.where(x >= 0, x, 0.2 * x)


def mlp(key, widths):
    return [linear(k, a, b) for k, a, b in zip(jax.random.split(key, len(widths) - 1), widths[:-1], widths[1:])]


class Adam:
    """Adam with bias correction, eps 1e-8; its moments live beside the parameters they update."""

    def __init__(self, lr, b1=0.9, b2=0.999):
        self.lr, self.b1, self.b2 = lr, b1, b2

    def init(self, params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return {"m": zeros, "v": zeros}

    def update(self, params, grads, moments, t):
        m = jax.tree_util.tree_map(lambda m, g: self.b1 * m + (1 - self.b1) * g, moments["m"], grads)
        v = jax.tree_util.tree_map(lambda v, g: self.b2 * v + (1 - self.b2) * g * g, moments["v"], grads)
        scale_m, scale_v = 1 / (1 - self.b1 ** t), 1 / (1 - self.b2 ** t)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - self.lr * (m * scale_m) / (jnp.sqrt(v * scale_v) + 1e-8), params, m, v)
        return params, {"m": m, "v": v}


def vae():
    """Parameters, optimiser state and the jitted step of the vae; the step returns the mean negative ELBO."""
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    params = {"enc": linear(keys[0], 784, 400), "mu": linear(keys[1], 400, 20), "logvar": linear(keys[2], 400, 20),
              "dec1": linear(keys[3], 20, 400), "dec2": linear(keys[4], 400, 784)}
    adam = Adam(1e-3)

    def loss(p, x, key):
        hidden = jax.nn.relu(apply(p["enc"], x))
        mu, logvar = apply(p["mu"], hidden), apply(p["logvar"], hidden)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
        logits = apply(p["dec2"], jax.nn.relu(apply(p["dec1"], z)))
        kl = -0.5 * jnp.sum(1 + logvar - mu * mu - jnp.exp(logvar), axis=1)
        return jnp.mean(jnp.sum(bce_logits(logits, x), axis=1) + kl)

    @jax.jit
    def step(state, x, key, t):
        p, moments = state
        value, grads = jax.value_and_grad(loss)(p, x, key)
        return adam.update(p, grads, moments, t), value

    return (params, adam.init(params)), step


def gan():
    """The MLP GAN: a discriminator update, then a generator update on the same batch and noise; returns d_loss."""
    kg, kd = jax.random.split(jax.random.PRNGKey(0))
    params = {"G": mlp(kg, [100, 256, 512, 784]), "D": mlp(kd, [784, 512, 256, 1])}
    adam = Adam(2e-4, b1=0.5)

    def generate(g, z):
        return jnp.tanh(apply(g[2], lrelu(apply(g[1], lrelu(apply(g[0], z))))))

    def discriminate(d, x):
        return apply(d[2], lrelu(apply(d[1], lrelu(apply(d[0], x)))))[:, 0]

    @jax.jit
    def step(state, x, key, t):
        p, moments = state
        z = jax.random.normal(key, (x.shape[0], 100))

        def d_loss(d):
            fake = generate(p["G"], z)
            return jnp.mean(bce_logits(discriminate(d, x), 1.0)) + jnp.mean(bce_logits(discriminate(d, fake), 0.0))

        def g_loss(g, d):
            return jnp.mean(bce_logits(discriminate(d, generate(g, z)), 1.0))

        d_value, d_grads = jax.value_and_grad(d_loss)(p["D"])
        d, d_moments = adam.update(p["D"], d_grads, moments["D"], t)
        g_grads = jax.grad(g_loss)(p["G"], d)
        g, g_moments = adam.update(p["G"], g_grads, moments["G"], t)
        return ({"G": g, "D": d}, {"G": g_moments, "D": d_moments}), d_value

    return (params, {"G": adam.init(params["G"]), "D": adam.init(params["D"])}), step


# name: (builder, pixels from [0, 1] to the model's range)
MODELS = {"vae": (vae, lambda x: x), "gan": (gan, lambda x: 2 * x - 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=list(MODELS))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=idx.FASHION_MNIST)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.steps < 1 or a.warmup < 1 or a.batch < 1:
        ap.error("--steps, --warmup and --batch must be at least 1")

    builder, to_range = MODELS[a.model]
    state, step = builder()
    images, _ = idx.load(a.data, "train")
    pixels = to_range(images.reshape(images.shape[0], 784).astype(np.float32) / 255)
    draw = np.random.default_rng(a.seed)
    key = jax.random.PRNGKey(a.seed)

    def run(t):
        nonlocal state, key
        key, sub = jax.random.split(key)
        state, value = step(state, jnp.asarray(pixels[draw.integers(0, pixels.shape[0], a.batch)]), sub, float(t))
        return value.block_until_ready()

    start = time.perf_counter()
    first = float(run(1))
    for t in range(2, a.warmup + 1):
        run(t)
    compile_s = time.perf_counter() - start
    times, last = [], first
    for t in range(a.warmup + 1, a.warmup + a.steps + 1):
        start = time.perf_counter()
        last = float(run(t))
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    out = {"impl": "jax", "version": jax.__version__, "mode": "jit", "compiled": "whole train step",
           "model": a.model, "batch": a.batch, "threads": os.cpu_count(), "steps": a.steps,
           "step_ms_median": 1e3 * median, "step_ms_min": 1e3 * min(times), "samples_per_s": a.batch / median,
           "compile_s": compile_s, "loss_first": first, "loss_last": last,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(out) if a.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
