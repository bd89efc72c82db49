"""Shared by the restatements of the authors' updates that tests/update_equivalence_*.rs replay
(the Rust side is tests/exchange/mod.rs, which documents the file's keys).

A restatement loads the exchange file, builds its networks from `init/`, runs the authors' update
on each step's inputs and checks every loss and every parameter after each step against the Rust
learner's, within float32 tolerance: |ours - theirs| <= ATOL + RTOL * |theirs| elementwise.
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

# float32 through a few Adam steps: the two sides sum in different orders, so results differ in
# the last bits; Adam divides by √v, so a parameter moves by at most lr per step either way and
# a sign flip in a vanishing gradient is bounded by it too. A term of the update left out moves
# parameters by orders of magnitude more than this (the tests show it).
RTOL = 1e-4
ATOL = 1e-5


class Exchange:
    def __init__(self, path):
        with np.load(path) as f:
            self.arrays = {k: f[k] for k in f.files}
        self.steps = 1 + max(int(k.split("/")[0][4:]) for k in self.arrays if k.startswith("step"))
        self.failures = []
        self.rows = []

    def meta(self, name):
        return float(self.arrays[f"meta/{name}"].reshape(-1)[0])

    def tensor(self, key):
        return torch.from_numpy(self.arrays[key].copy())

    def init(self, prefix=""):
        """Leaf tensors with gradients, keyed by the learner's variable names under `prefix`."""
        start = f"init/{prefix}"
        return {k[len("init/"):]: self.tensor(k).requires_grad_() for k in self.arrays if k.startswith(start)}

    def inputs(self, step):
        start = f"step{step}/in/"
        return {k[len(start):]: self.tensor(k) for k in self.arrays if k.startswith(start)}

    def compare(self, step, losses, params):
        """Step `step`'s losses (name -> float or tensor) and parameters (name -> tensor) against ours."""
        worst = 0.0
        for kind, values in (("loss", losses), ("param", params)):
            for name, theirs in values.items():
                key = f"step{step}/{kind}/{name}"
                if key not in self.arrays:
                    self.failures.append(f"step {step}: the Rust side did not write {key}")
                    continue
                theirs = torch.as_tensor(theirs).detach().double().reshape(-1)
                ours = torch.from_numpy(self.arrays[key]).double().reshape(-1)
                if ours.shape != theirs.shape:
                    self.failures.append(f"step {step}: {kind} {name} has shape {tuple(ours.shape)}, the reference {tuple(theirs.shape)}")
                    continue
                excess = (ours - theirs).abs() - (ATOL + RTOL * theirs.abs())
                deviation = float((ours - theirs).abs().max()) if ours.numel() else 0.0
                worst = max(worst, deviation)
                if ours.numel() and float(excess.max()) > 0:
                    i = int(excess.argmax())
                    self.failures.append(f"step {step}: {kind} {name}[{i}] is {float(ours[i]):.8g} here, {float(theirs[i]):.8g} in the reference")
        self.rows.append((step, len(losses), len(params), worst))

    def finish(self):
        print(f"{'step':>4} {'losses':>6} {'params':>6} {'max |ours - reference|':>24}   (tolerance {ATOL} + {RTOL}·|reference|)")
        for step, n_losses, n_params, worst in self.rows:
            print(f"{step:>4} {n_losses:>6} {n_params:>6} {worst:>24.3e}")
        if self.failures:
            print(f"{len(self.failures)} mismatches; the first:")
            for line in self.failures[:10]:
                print("  " + line)
            sys.exit(1)
        print("every loss and parameter matches")


def mlp(params, prefix, x, hidden_activation=torch.relu):
    """rlkit's Mlp/FlattenMlp (rlkit/torch/networks.py): hidden layers fc0, fc1, ... then last_fc."""
    i = 0
    while f"{prefix}.fc{i}.weight" in params:
        x = hidden_activation(F.linear(x, params[f"{prefix}.fc{i}.weight"], params[f"{prefix}.fc{i}.bias"]))
        i += 1
    return F.linear(x, params[f"{prefix}.last_fc.weight"], params[f"{prefix}.last_fc.bias"])


def under(params, prefix):
    return [p for name, p in sorted(params.items()) if name.startswith(prefix + ".")]


def adam(params, prefix, lr):
    return torch.optim.Adam(under(params, prefix), lr=lr)


def policy_heads(params, x, prefix="policy"):
    """rlkit's TanhGaussianPolicy trunk: the mean and the unclamped log σ heads on the ReLU features."""
    h = x
    i = 0
    while f"{prefix}.fc{i}.weight" in params:
        h = torch.relu(F.linear(h, params[f"{prefix}.fc{i}.weight"], params[f"{prefix}.fc{i}.bias"]))
        i += 1
    mean = F.linear(h, params[f"{prefix}.last_fc.weight"], params[f"{prefix}.last_fc.bias"])
    return mean, F.linear(h, params[f"{prefix}.last_fc_log_std.weight"], params[f"{prefix}.last_fc_log_std.bias"])


def q_layer_state_z_action(weight, obs_dim, action_dim):
    """Our Q networks' first-layer columns [s | a | z] in the order [s | z | a] of references that
    condition on z by appending it to the state (garage's MTSAC, the MCAT authors' TD3)."""
    return torch.cat([weight[:, :obs_dim], weight[:, obs_dim + action_dim:], weight[:, obs_dim:obs_dim + action_dim]], dim=1)


def q_layer_state_action_z(weight, obs_dim, action_dim):
    """[s | z | a] columns back in our order [s | a | z]."""
    z_dim = weight.shape[1] - obs_dim - action_dim
    return torch.cat([weight[:, :obs_dim], weight[:, obs_dim + z_dim:], weight[:, obs_dim:obs_dim + z_dim]], dim=1)


def freeze_targets(params):
    """Target networks (`target_*`) take no gradient."""
    for name in [n for n in params if n.startswith("target_")]:
        params[name].requires_grad_(False)


def soft_update(params, nets, tau):
    """θ' ← (1 − τ)θ' + τθ for every parameter of `nets`, θ' its `target_` twin (rlkit
    `soft_update_from_to`, garage `_update_targets`, pytorch_sac `soft_update_params`, TD3's loop:
    the same sums, bit for bit)."""
    with torch.no_grad():
        for name in [n for n in params if n.split(".")[0] in nets]:
            target = params["target_" + name]
            target.copy_(target * (1.0 - tau) + params[name] * tau)


CRITICS = ("qf1", "qf2", "target_qf1", "target_qf2")


def critics_in_reference_order(params, obs_dim, action_dim):
    """The twin critics' (and their targets') first layers in the column order [s | z | a]."""
    with torch.no_grad():
        for net in CRITICS:
            key = f"{net}.fc0.weight"
            params[key] = q_layer_state_z_action(params[key], obs_dim, action_dim).detach().requires_grad_()


def critics_in_our_order(params, obs_dim, action_dim):
    """A copy of `params` with the critics' first layers back in our order [s | a | z]."""
    ours = dict(params)
    for net in CRITICS:
        key = f"{net}.fc0.weight"
        ours[key] = q_layer_state_action_z(params[key].detach(), obs_dim, action_dim)
    return ours
