"""Checks of torch_families.py that need no data set:

    ~/.cache/gg-peers/torch/bin/python -m unittest discover -s tools/peers -p 'test_*.py'
"""
import math
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_families as fam  # noqa: E402


def randomise(module, std):
    """Every parameter drawn afresh, so that no coupling is the identity it starts as."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)


class RealNVPTests(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(1)
        self.flow = fam.RealNVP()
        randomise(self.flow, 0.1)

    def test_inverse_undoes_forward(self):
        x = fam.dequantise(torch.randint(0, 256, (16, 1, 28, 28)).float())
        with torch.no_grad():
            z, _ = self.flow.to_latent(x)
            back = self.flow.from_latent(z)
        self.assertGreater((z - torch.logit(0.05 + 0.9 * x)).abs().max().item(), 0.1, "the couplings do nothing")
        self.assertLess((back - x).abs().max().item(), 1e-4)

    def test_coupling_log_determinant_is_its_jacobians(self):
        """One coupling, as the whole flow's 784 x 784 Jacobian costs minutes on two cores."""
        coupling = fam.AffineCoupling(1)
        randomise(coupling, 0.2)
        y = torch.randn(1, 1, 28, 28)
        _, log_det = coupling(y)
        jacobian = torch.autograd.functional.jacobian(lambda v: coupling(v.reshape(1, 1, 28, 28))[0].flatten(),
                                                      y.flatten(), vectorize=True)
        sign, expected = torch.linalg.slogdet(jacobian.double())
        self.assertEqual(sign.item(), 1.0)
        self.assertGreater(abs(expected.item()), 1.0)
        self.assertAlmostEqual(log_det.item(), expected.item(), delta=1e-4 * abs(expected.item()))

    def test_logit_log_determinant_is_its_derivatives(self):
        """The logit transform is elementwise: its Jacobian is the diagonal that autograd gives."""
        flow = fam.RealNVP()  # every coupling the identity
        x = fam.dequantise(torch.randint(0, 256, (2, 1, 28, 28)).double()).requires_grad_(True)
        z, log_det = flow.double().to_latent(x)
        derivative, = torch.autograd.grad(z.sum(), x)
        self.assertTrue(torch.allclose(log_det, derivative.log().flatten(1).sum(1)))

    def test_masks_alternate_checkerboards(self):
        first, second = (c.mask[0, 0] for c in self.flow.couplings[:2])
        self.assertEqual(first[0, 0].item(), 1.0)  # row + column even
        self.assertEqual(first[0, 1].item(), 0.0)
        self.assertTrue(torch.equal(first + second, torch.ones(28, 28)))

    def test_fresh_flow_is_the_logit_transform(self):
        """Zero-initialised last convs: the untrained likelihood is the logit's alone."""
        flow = fam.RealNVP()
        x = fam.dequantise(torch.randint(0, 256, (4, 1, 28, 28)).float())
        p = 0.05 + 0.9 * x
        y = torch.log(p / (1 - p))
        by_hand = (0.5 * y.square() + 0.5 * math.log(2 * math.pi) - math.log(0.9) + torch.log(p * (1 - p))).flatten(1).sum(1)
        with torch.no_grad():
            self.assertTrue(torch.allclose(flow.nll(x), by_hand, rtol=1e-5))

    def test_state_dict_names(self):
        names = list(fam.RealNVP().state_dict())
        self.assertEqual(names[:7], ["couplings.0.scale"] + [f"couplings.0.conv{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")])
        self.assertEqual(len(names), 8 * 7)


class DDPMTests(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(2)
        self.model = fam.DDPM()
        self.x0 = torch.rand(3, 1, 28, 28) * 1.6 - 0.8

    def oracle(self, x, t):
        """The exact noise when every training image is x0."""
        alpha_bar = self.model.alpha_bars[t].view(-1, 1, 1, 1)
        return (x - alpha_bar.sqrt() * self.x0) / (1 - alpha_bar).sqrt()

    def test_schedule(self):
        self.assertEqual(self.model.alpha_bars[0].item(), 1.0)
        self.assertAlmostEqual(self.model.betas[1].item(), 1e-4, places=9)
        self.assertAlmostEqual(self.model.betas[1000].item(), 0.02, places=9)
        self.assertAlmostEqual(self.model.alpha_bars[2].item(), (1 - 1e-4) * (1 - (1e-4 + 0.0199 / 999)), places=7)

    def test_ddim_times(self):
        self.assertEqual(fam.DDPM.ddim_times(50), list(range(1000, -1, -20)))
        self.assertEqual(fam.DDPM.ddim_times(1000), list(range(1000, -1, -1)))
        times = fam.DDPM.ddim_times(999)
        self.assertEqual(len(set(times)), 1000)

    def test_samplers_recover_the_image_from_the_exact_noise(self):
        self.model.eps = self.oracle
        for name, sample in (("ddim", lambda: self.model.sample_ddim(3, 50)), ("ddpm", lambda: self.model.sample_ddpm(3))):
            self.assertLess((sample() - self.x0).abs().max().item(), 1e-4, name)

    def test_network_shapes_and_time_dependence(self):
        x = torch.randn(2, 1, 28, 28)
        with torch.no_grad():
            early, late = self.model.eps(x, torch.tensor([1, 1])), self.model.eps(x, torch.tensor([900, 900]))
        self.assertEqual(early.shape, x.shape)
        self.assertGreater((early - late).abs().max().item(), 0)

    def test_sinusoidal(self):
        e = fam.sinusoidal(torch.tensor([3]))
        self.assertEqual(e.shape, (1, 64))
        self.assertAlmostEqual(e[0, 0].item(), math.sin(3), places=6)
        self.assertAlmostEqual(e[0, 32].item(), math.cos(3), places=6)
        self.assertAlmostEqual(e[0, 1].item(), math.sin(3 * 10000 ** (-1 / 32)), places=6)

    def test_state_dict_names(self):
        names = list(self.model.state_dict())
        self.assertEqual(names[:4], ["time1.weight", "time1.bias", "time2.weight", "time2.bias"])
        self.assertIn("res3.skip.weight", names)
        self.assertNotIn("res1.skip.weight", names)
        self.assertIn("attn.q.weight", names)
        self.assertNotIn("betas", names)


class CycleGANTests(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(3)
        self.model = fam.CycleGAN()

    def test_shapes_and_initialisation(self):
        x = torch.rand(2, 1, 28, 28) * 2 - 1
        with torch.no_grad():
            self.assertEqual(self.model.G_AB(x).shape, x.shape)
            self.assertEqual(self.model.D_A(x).shape, (2, 1, 7, 7))
        weight = self.model.G_AB.res[0].conv1.weight
        self.assertAlmostEqual(weight.std().item(), 0.02, delta=0.002)
        self.assertEqual(self.model.D_B.c2.bias.abs().max().item(), 0.0)
        self.assertEqual({n.split(".")[0] for n in self.model.state_dict()}, {"G_AB", "G_BA", "D_A", "D_B"})

    def test_domain_batches(self):
        labels = torch.tensor([7, 9, 1] * 40)
        x = torch.arange(120, dtype=torch.float32).reshape(120, 1, 1, 1)
        stream, per_epoch = self.model.batches(x, labels, 8, seed=0)
        self.assertEqual(per_epoch, 5)
        seen = [next(stream) for _ in range(per_epoch)]
        a = torch.cat([pair[0] for pair in seen]).flatten().long()
        b = torch.cat([pair[1] for pair in seen]).flatten().long()
        self.assertTrue(torch.all(labels[a] == 7) and torch.all(labels[b] == 9))
        self.assertEqual(len(set(a.tolist())), 40)
        self.assertFalse(torch.equal(a // 3, b // 3), "the domains share one order")

    def test_history_pool(self):
        pool = fam.HistoryPool(capacity=4)
        first = torch.arange(4.0).reshape(4, 1)
        self.assertTrue(torch.equal(pool.draw(first), first))
        returned_old = 0
        for value in range(4, 404):
            stored = [v.item() for v in pool.images]
            out = pool.draw(torch.tensor([[float(value)]])).item()
            now = [v.item() for v in pool.images]
            if out == value:
                self.assertEqual(now, stored)
            else:
                returned_old += 1
                slot = stored.index(out)
                self.assertEqual(now, stored[:slot] + [value] + stored[slot + 1:])
        self.assertTrue(150 < returned_old < 250, returned_old)

    def test_translated_path(self):
        self.assertEqual(fam.translated_path("out/s.npy"), "out/s.ba.npy")
        self.assertEqual(fam.translated_path("out/s"), "out/s.ba.npy")

    def test_step_updates_all_four_networks(self):
        self.model.build_optimizers()
        a, b = torch.rand(2, 1, 28, 28) * 2 - 1, torch.rand(2, 1, 28, 28) * 2 - 1
        before = {k: v.clone() for k, v in self.model.state_dict().items()}
        loss = self.model.train_step([(a, b)])
        self.assertTrue(math.isfinite(loss.item()))
        changed = {k.split(".")[0] for k, v in self.model.state_dict().items() if not torch.equal(v, before[k])}
        self.assertEqual(changed, {"G_AB", "G_BA", "D_A", "D_B"})


if __name__ == "__main__":
    unittest.main()
