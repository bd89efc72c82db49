"""TCL-PEARL's and CoCOA's gradient step, restated from the papers on oyster's PEARL step
(pearl.py `take_step`), replayed on the exchange file of tests/equivalence_contrastive.rs.

Source. The papers (../shared/papers/001 TCL, 000 CoCOA) give no code link. Public code by the TCL
authors exists only as development branches of a garage fork, Simon0xzx/garage (`bernie-dev`,
`simon_work_branch`): `src/garage/torch/algos/curl.py` (e.g. @bd8e0f0) and `tcl_pearl_v2.py`
(@d580940). Neither is the papers' algorithm: both sit on SAC v2 (learned entropy α, twin target
Q) rather than PEARL's SAC v1; curl.py contrasts per-transition encoder outputs (the raw variance
head, not the product posterior) and subtracts a column-broadcast maximum; tcl_pearl_v2.py takes
the contrastive step apart from PEARL's (its own backward and context optimiser step, lines
515-550), crops windows by random indices, and adds 1e-3 to the Bhattacharyya denominator
(`CURL.compute_logits`, 1060-1092). So the contrastive term is restated from the papers'
equations, as our Rust follows them:
- papers/001 Alg. 1 (lines 2-7): pairwise squared L2 distances of the means and of the standard
  deviations, scores = −(D_μ + D_σ) (Eq. 7), logits = scores − rowmax(scores), N-way cross-entropy
  with labels arange(N) (Eq. 8); papers/000 Eq. 4.3 is the same InfoNCE;
- papers/000 Eq. 4.2: sim = −Δμᵀ Σ⁻¹ Δμ with Σ = (Σq + Σk)/2 (diagonal); Table 5.2 ablation:
  sim = qᵀ W k on the means with W learned (Adam, as tcl_pearl_v2.py's `contrastive_optimizer`;
  W's initial values are the Rust side's U[0, 1), torch.rand as in both authors' files);
- papers/000 Eq. 4.1: a window's q(z|w) is the product of its transitions' Gaussian factors
  (oyster agent.py `_product_of_gaussians`, lines 10-17, σ² clamped at 1e-7);
- papers/000 §4.5: λ·KL(q ‖ N(0, I)) on the queries (CoCOA), summed over queries as oyster's
  `compute_kl_div` (agent.py 115-121);
- papers/001 Alg. 2 line 15 and papers/000 §4.6: the encoder steps on the gradient of the
  contrastive loss plus PEARL's Q loss and KL (one backward, one context-optimiser step); line 16
  / Eq. 4.4: φk ← m·φk + (1 − m)·φq after it, with m = 1 − τ (`key_encoder_tau`);
- papers/001 §4.3(2): with `query_windows`, PEARL's z is drawn from the query windows' posterior.
Restated from our Rust, where the papers say nothing: the logits are similarities divided by the
temperature (papers/001 Table 8 gives 1; the authors' tcl_pearl_v2.py divides likewise); padding
rows of a window shorter than its trajectory allows (`mask` 0) are left out of the product; keys
cropped from query i's own trajectory (`shared_trajectory`) leave its negatives (logit −∞).

    .deps/venv/bin/python tools/reference_updates/contrastive.py EXCHANGE.npz
"""
import sys

import torch
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F

from common import Exchange, mlp
from pearl import infer_posterior, optimizers, settings, take_step

WASSERSTEIN, BHATTACHARYYA, BILINEAR = 0, 1, 2


def window_posterior(p, prefix, windows, mask, latent):
    """q(z|w) `[n, latent]` mean and variance: the product of the unpadded rows' factors."""
    params = mlp(p, prefix, windows)
    mu, sigma_squared = params[..., :latent], torch.clamp(F.softplus(params[..., latent:]), min=1e-7)
    var = 1.0 / torch.sum(mask / sigma_squared, dim=1)
    return var * torch.sum(mask * mu / sigma_squared, dim=1), var


def pairwise_squared_l2(a, b):
    return torch.sum((a[:, None, :] - b[None, :, :]) ** 2, dim=-1)


def similarity(kind, q, k, w):
    (q_mean, q_var), (k_mean, k_var) = q, k
    if kind == WASSERSTEIN:
        return -(pairwise_squared_l2(q_mean, k_mean) + pairwise_squared_l2(torch.sqrt(q_var), torch.sqrt(k_var)))
    if kind == BHATTACHARYYA:
        sigma = (q_var[:, None, :] + k_var[None, :, :]) / 2
        return -torch.sum((q_mean[:, None, :] - k_mean[None, :, :]) ** 2 / sigma, dim=-1)
    return q_mean @ w @ k_mean.T


def kl_to_prior(mean, var):
    prior = Normal(torch.zeros(mean.shape[1]), torch.ones(mean.shape[1]))
    return torch.sum(torch.stack([kl_divergence(Normal(m, torch.sqrt(v)), prior) for m, v in zip(torch.unbind(mean), torch.unbind(var))]))


def contrastive_term(p, x, c):
    """scale·InfoNCE (+ λ·KL on the queries), the InfoNCE, the query KL and the queries' q(z|w)."""
    mask = x["mask"]
    q = window_posterior(p, "context_encoder", x["queries"], mask, c["latent"])
    with torch.no_grad():
        k = window_posterior(p, "key_encoder", x["keys"], mask, c["latent"])
    logits = similarity(c["similarity"], q, k, p.get("bilinear_w")) / c["temperature"]
    if "shared_trajectory" in x:
        logits = logits.masked_fill(x["shared_trajectory"] > 0.5, float("-inf"))
    logits = logits - torch.max(logits, dim=1, keepdim=True)[0]
    info_nce = F.cross_entropy(logits, torch.arange(logits.shape[0]))
    loss = c["loss_scale"] * info_nce
    query_kl = None
    if c["query_kl_lambda"] >= 0:
        query_kl = kl_to_prior(*q)
        loss = loss + c["query_kl_lambda"] * query_kl
    return loss, info_nce, query_kl, q


def main():
    ex = Exchange(sys.argv[1])
    m = settings(ex)
    c = {name: ex.meta(name) for name in ("loss_scale", "temperature", "key_encoder_tau", "query_kl_lambda", "bilinear_lr")}
    c["latent"], c["similarity"], query_windows = m["latent"], int(ex.meta("similarity")), ex.meta("query_windows") == 1.0
    p = ex.init()
    opt = optimizers(ex, p)
    for name in [n for n in p if n.startswith("key_encoder.")]:
        p[name].requires_grad_(False)
    w_optimizer = torch.optim.Adam([p["bilinear_w"]], lr=c["bilinear_lr"]) if "bilinear_w" in p else None
    tau = c["key_encoder_tau"]
    for step in range(ex.steps):
        x = ex.inputs(step)
        if w_optimizer is not None:
            w_optimizer.zero_grad()
        loss, info_nce, query_kl, (q_mean, q_var) = contrastive_term(p, x, c)
        if query_windows:
            z = q_mean + torch.sqrt(q_var) * x["z_noise"]
            kl_div = kl_to_prior(q_mean, q_var)
        else:
            z, kl_div = infer_posterior(p, x["context"], m["latent"], x["z_noise"])
        losses = take_step(p, opt, m, x, z, kl_div, encoder_loss=loss)
        if w_optimizer is not None:
            w_optimizer.step()
        with torch.no_grad():  # φk ← m·φk + (1 − m)·φq, m = 1 − τ
            for name in [n for n in p if n.startswith("key_encoder.")]:
                query = p["context_encoder." + name[len("key_encoder."):]]
                p[name].copy_((1.0 - tau) * p[name] + tau * query)
        losses["contrastive_loss"] = info_nce
        if query_kl is not None:
            losses["query_kl"] = query_kl
        ex.compare(step, losses, p)
    ex.finish()


if __name__ == "__main__":
    main()
