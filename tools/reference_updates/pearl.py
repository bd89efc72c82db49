"""PEARL's gradient step as oyster runs it, replayed on the exchange file of
tests/equivalence_pearl.rs. Follows katerakelly/oyster@44e20fd:
- rlkit/torch/sac/sac.py `PEARLSoftActorCritic._take_step` (lines 178-255): Q and V predictions,
  the KL backward with retain_graph (205-209), the Q loss that also trains the encoder (211-223),
  V towards min Q − log π under the stepped critics (226-234), the soft target update (176, 234),
  the policy loss with the mean and log σ penalties (238-255);
- rlkit/torch/sac/agent.py `_product_of_gaussians` (10-17), `compute_kl_div` (115-121),
  `infer_posterior` / `sample_z` (123-145), `forward` (157-173): z repeated per row and detached
  for the policy;
- rlkit/torch/sac/policies.py `TanhGaussianPolicy.forward` and rlkit/torch/distributions.py
  `TanhNormal`: a = tanh(μ + σε), log π = log N(u; μ, σ) − log(1 − a² + 1e-6), log σ ∈ [−20, 2].
The noise ε of z and of the policy is the file's, so both sides draw the same sample.
`take_step` is the step given z and its KL, so contrastive.py (TCL/CoCOA) reuses it with its
extra encoder loss; `main` replays tests/equivalence_pearl.rs.

    .deps/venv/bin/python tools/reference_updates/pearl.py EXCHANGE.npz
"""
import sys

import torch
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F

from common import Exchange, adam, freeze_targets, mlp, policy_heads, soft_update

LOG_SIG_MIN, LOG_SIG_MAX = -20.0, 2.0


def tanh_gaussian_policy(p, x, noise):
    """rlkit TanhGaussianPolicy with reparameterize=True, return_log_prob=True."""
    mean, log_std = policy_heads(p, x)
    log_std = torch.clamp(log_std, LOG_SIG_MIN, LOG_SIG_MAX)
    std = torch.exp(log_std)
    pre_tanh = mean + std * noise
    action = torch.tanh(pre_tanh)
    log_prob = (Normal(mean, std).log_prob(pre_tanh) - torch.log(1 - action * action + 1e-6)).sum(dim=1, keepdim=True)
    return action, mean, log_std, log_prob


def infer_posterior(p, context, latent, z_noise):
    """agent.py: per-transition Gaussian factors, their product per task, z = μ + σ·ε, and the KL sum."""
    tasks = context.shape[0]
    params = mlp(p, "context_encoder", context.view(-1, context.shape[-1])).view(tasks, -1, 2 * latent)
    mu, sigma_squared = params[..., :latent], F.softplus(params[..., latent:])
    means, variances = [], []
    for m, s in zip(torch.unbind(mu), torch.unbind(sigma_squared)):
        s = torch.clamp(s, min=1e-7)
        var = 1.0 / torch.sum(torch.reciprocal(s), dim=0)
        means.append(var * torch.sum(m / s, dim=0))
        variances.append(var)
    z_means, z_vars = torch.stack(means), torch.stack(variances)
    z = z_means + torch.sqrt(z_vars) * z_noise  # Normal(μ, √σ²).rsample() with the file's ε
    prior = Normal(torch.zeros(latent), torch.ones(latent))
    kl = torch.sum(torch.stack([kl_divergence(Normal(m, torch.sqrt(v)), prior) for m, v in zip(torch.unbind(z_means), torch.unbind(z_vars))]))
    return z, kl


def settings(ex):
    """The coefficients `take_step` reads, from the exchange file's meta/."""
    names = ("latent", "reward_scale", "discount", "soft_target_tau", "kl_lambda", "policy_reg_weight")
    m = {name: ex.meta(name) for name in names}
    m["latent"] = int(m["latent"])
    return m


def optimizers(ex, p):
    """oyster's five Adam optimisers (sac.py `PEARLSoftActorCritic.__init__`); target_vf is not trained."""
    freeze_targets(p)
    return {
        "policy": adam(p, "policy", ex.meta("policy_lr")),
        "qf1": adam(p, "qf1", ex.meta("qf_lr")),
        "qf2": adam(p, "qf2", ex.meta("qf_lr")),
        "vf": adam(p, "vf", ex.meta("vf_lr")),
        "context": adam(p, "context_encoder", ex.meta("context_lr")),
    }


def take_step(p, opt, m, x, z, kl_div, encoder_loss=None):
    """One `_take_step` on the step's batch `x` given z `[tasks, latent]` (with its graph into the
    encoder) and the KL sum. `encoder_loss` (TCL/CoCOA) joins the encoder's backward pass, so the
    context optimiser steps on the gradient of KL + Q loss + it. Returns the losses."""
    reward_scale, discount, tau = m["reward_scale"], m["discount"], m["soft_target_tau"]
    kl_lambda, reg = m["kl_lambda"], m["policy_reg_weight"]
    tasks, b = x["obs"].shape[:2]
    flat = lambda t: t.reshape(tasks * b, -1)  # noqa: E731
    obs, actions, rewards, next_obs, terms = (flat(x[k]) for k in ("obs", "actions", "rewards", "next_obs", "terminals"))

    task_z = torch.cat([zi.repeat(b, 1) for zi in z], dim=0)
    new_actions, policy_mean, policy_log_std, log_pi = tanh_gaussian_policy(p, torch.cat([obs, task_z.detach()], dim=1), x["policy_noise"])

    q1_pred = mlp(p, "qf1", torch.cat([obs, actions, task_z], dim=1))
    q2_pred = mlp(p, "qf2", torch.cat([obs, actions, task_z], dim=1))
    v_pred = mlp(p, "vf", torch.cat([obs, task_z.detach()], dim=1))
    with torch.no_grad():
        target_v_values = mlp(p, "target_vf", torch.cat([next_obs, task_z], dim=1))

    opt["context"].zero_grad()
    kl_loss = kl_lambda * kl_div
    if encoder_loss is not None:
        kl_loss = kl_loss + encoder_loss
    kl_loss.backward(retain_graph=True)
    opt["qf1"].zero_grad()
    opt["qf2"].zero_grad()
    q_target = rewards * reward_scale + (1.0 - terms) * discount * target_v_values
    qf_loss = torch.mean((q1_pred - q_target) ** 2) + torch.mean((q2_pred - q_target) ** 2)
    qf_loss.backward()
    opt["qf1"].step()
    opt["qf2"].step()
    opt["context"].step()

    def min_q(a):
        z_detached = task_z.detach()
        return torch.min(mlp(p, "qf1", torch.cat([obs, a, z_detached], dim=1)), mlp(p, "qf2", torch.cat([obs, a, z_detached], dim=1)))

    min_q_new_actions = min_q(new_actions)
    vf_loss = torch.mean((v_pred - (min_q_new_actions - log_pi).detach()) ** 2)
    opt["vf"].zero_grad()
    vf_loss.backward()
    opt["vf"].step()
    soft_update(p, ("vf",), tau)  # ptu.soft_update_from_to

    policy_loss = (log_pi - min_q_new_actions).mean()
    policy_loss = policy_loss + reg * (policy_mean**2).mean() + reg * (policy_log_std**2).mean()
    opt["policy"].zero_grad()
    policy_loss.backward()
    opt["policy"].step()
    return {"qf_loss": qf_loss, "vf_loss": vf_loss, "policy_loss": policy_loss, "kl_divergence": kl_div}


def main():
    ex = Exchange(sys.argv[1])
    m = settings(ex)
    p = ex.init()
    opt = optimizers(ex, p)
    for step in range(ex.steps):
        x = ex.inputs(step)
        z, kl_div = infer_posterior(p, x["context"], m["latent"], x["z_noise"])
        ex.compare(step, take_step(p, opt, m, x, z, kl_div), p)
    ex.finish()


if __name__ == "__main__":
    main()
