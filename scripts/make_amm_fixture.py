#!/usr/bin/env python3
"""Dev-only: writes tests/data/amm_maskterial/, an AMM model directory in MaskTerial's published layout
(meta_data.json, loc.npy, cov.npy, model.pth saved by torch.save of a state_dict with spectral-norm buffers),
plus reference outputs computed the way MaskTerial's Python inference computes them. Needs Debian's
python3-torch, python3-numpy and python3-opencv. The product never runs this."""
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "data", "amm_maskterial")
SHARED = os.path.join(REPO, "..", "shared", "data")
ARCH = {"num_classes": 4, "input_dim": 3, "embedding_dim": 16, "depth": 4, "spec_coeff": 0.5,
        "n_power_iterations": 5, "spectral_normalization": True, "dropout_rate": 0.1}


class SoftSpectralLinear(torch.nn.Module):
    """Linear layer whose weight is divided by max(1, sigma / coeff), sigma by power iteration; the state
    dict has weight_orig, weight_u, weight_v and weight_sigma like MaskTerial's spectral_norm_fc."""

    def __init__(self, n_in, n_out, coeff, iterations):
        super().__init__()
        base = torch.nn.Linear(n_in, n_out)
        self.weight_orig = torch.nn.Parameter(base.weight.detach().clone())
        self.bias = torch.nn.Parameter(base.bias.detach().clone())
        self.register_buffer("weight_u", F.normalize(torch.randn(n_out), dim=0, eps=1e-12))
        self.register_buffer("weight_v", F.normalize(torch.randn(n_in), dim=0, eps=1e-12))
        self.register_buffer("weight_sigma", torch.ones(1))
        self.coeff, self.iterations = coeff, iterations

    def effective_weight(self):
        w = self.weight_orig
        if self.training:
            with torch.no_grad():
                for _ in range(self.iterations):
                    self.weight_v.copy_(F.normalize(w.t() @ self.weight_u, dim=0, eps=1e-12))
                    self.weight_u.copy_(F.normalize(w @ self.weight_v, dim=0, eps=1e-12))
        sigma = torch.dot(self.weight_u.clone(), w @ self.weight_v.clone())
        self.weight_sigma.copy_(sigma.detach())
        return w / torch.max(torch.ones(1), sigma / self.coeff)

    def forward(self, x):
        return F.linear(x, self.effective_weight(), self.bias)


class Net(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        c, it, e = a["spec_coeff"], a["n_power_iterations"], a["embedding_dim"]
        self.first = SoftSpectralLinear(a["input_dim"], e, c, it)
        self.residuals = torch.nn.ModuleList([SoftSpectralLinear(e, e, c, it) for _ in range(a["depth"])])
        self.dropout = torch.nn.Dropout(a["dropout_rate"])
        self.last = torch.nn.Linear(e, a["num_classes"])

    def embed(self, x, dropout=False):
        z = self.first(x)
        for layer in self.residuals:
            h = F.elu(layer(z))
            z = z + (self.dropout(h) if dropout else h)
        return z

    def forward(self, x):
        return self.last(self.embed(x, dropout=True))


def contrast_like_maskterial(image_u8):
    """Background: per-channel histogram mode in [20, 230], mean of values within mode +- 5, rounded to
    half; contrast = uint8 image / half background - 1, which torch computes in half precision."""
    img = torch.tensor(image_u8, dtype=torch.uint8)
    f = img.float()
    bg = torch.zeros(3)
    for c in range(3):
        hist = torch.histc(f[:, :, c], bins=256, min=0, max=255)
        mode = int(torch.argmax(hist[20:231])) + 20
        lo, hi = max(20, mode - 5), min(230, mode + 5)
        sel = (f[:, :, c] >= lo) & (f[:, :, c] <= hi)
        bg[c] = f[:, :, c][sel].mean()
    bg = bg.half()
    return img / bg - 1, bg


def main():
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    centres = np.array([[0, 0, 0], [-0.09, -0.145, -0.13], [-0.17, -0.27, -0.24], [-0.24, -0.37, -0.33]])
    spreads = np.array([0.012, 0.015, 0.018, 0.02])
    x = np.concatenate([rng.normal(c, s, size=(3000, 3)) for c, s in zip(centres, spreads)]).astype(np.float32)
    y = np.repeat(np.arange(4), 3000)
    mean, std = x.mean(axis=0), x.std(axis=0)
    xn = torch.tensor((x - mean) / std)
    yt = torch.tensor(y)

    net = Net(ARCH)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(300):
        net.train()
        idx = torch.randint(0, len(yt), (2000,))
        loss = F.cross_entropy(net(xn[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        emb = net.embed(xn)
    loc = torch.stack([emb[yt == k].mean(0) for k in range(4)])
    cov = torch.stack([torch.cov(emb[yt == k].T) for k in range(4)])

    os.makedirs(OUT, exist_ok=True)
    meta = {"train_config": {"model_arch": ARCH, "train_params": {"num_iterations": 300}},
            "train_mean": mean.tolist(), "train_std": std.tolist()}
    with open(os.path.join(OUT, "meta_data.json"), "w") as f:
        json.dump(meta, f, indent=4)
    np.save(os.path.join(OUT, "loc.npy"), loc.numpy())
    np.save(os.path.join(OUT, "cov.npy"), cov.numpy())
    torch.save(net.state_dict(), os.path.join(OUT, "model.pth"))

    # Inference as MaskTerial's AMM head: standardise, embed, Mahalanobis to every class (cov + 1e-5 I).
    chol = torch.linalg.cholesky(cov + 1e-5 * torch.eye(16))
    inv_chol = torch.linalg.inv(chol)

    def classify(contrast):
        z = (contrast - torch.tensor(mean)) / torch.tensor(std)
        with torch.no_grad():
            e = net.embed(z.reshape(-1, 3).float())
        diff = e[:, None, :] - loc
        d = torch.sqrt((torch.einsum("kji,nki->nkj", inv_chol, diff) ** 2).sum(-1))
        dmin, cls = d.min(-1)
        cls[dmin > 10] = 0
        return cls, d, e

    probe = np.concatenate([x[::60], rng.uniform(-0.6, 0.6, size=(100, 3)).astype(np.float32)])
    cls, dist, emb_probe = classify(torch.tensor(probe))
    reference = {"threshold": 10, "contrasts": probe.tolist(), "classes": cls.tolist(),
                 "distances": dist.tolist(), "embeddings": emb_probe[:10].tolist()}

    image_name = "GrapheneH/" + sorted(os.listdir(os.path.join(SHARED, "maskterial-demo/images/GrapheneH")))[0]
    image = cv2.imread(os.path.join(SHARED, "maskterial-demo/images", image_name))
    contrast, bg = contrast_like_maskterial(image)
    image_cls, _, _ = classify(contrast.float())
    class_map = image_cls.reshape(image.shape[:2]).numpy().astype(np.uint8)
    cv2.imwrite(os.path.join(OUT, "reference_class_map.png"), class_map)
    reference["image"] = image_name
    reference["background_bgr"] = bg.float().tolist()
    reference["class_pixels"] = np.bincount(class_map.ravel(), minlength=4).tolist()
    with open(os.path.join(OUT, "reference_outputs.json"), "w") as f:
        json.dump(reference, f)
    print("wrote", OUT, reference["class_pixels"], reference["background_bgr"])


if __name__ == "__main__":
    sys.exit(main())
