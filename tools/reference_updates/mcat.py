"""MCAT's context encoder C, forward model F and action translator H as the authors build and train
them, replayed on the exchange file of tests/equivalence_mcat.rs
(`meta/check_translator` 0: `ContextModels::model_step`; 1: `ContextModels::translator_step`).

Restates guoyijie/MCAT@9ab4651, folder "Table 1 Replicate", in the authors' own module structure:
- `normalize` (models.py 8-9): (x − mean) / (std + 1e-10), with the statistics the Rust side
  wrote (`meta/norm_*`; single_transfer.py `update_normalization` 556-564 computes them from every
  stored transition, src/algos/mcat.rs `RunningStats` as well).
- C, `ContextModel` (models.py 20-54): `nn.Sequential` of linear_00 … ReLU … linear_-1 over
  cat[normalize(cp_obs), normalize(cp_act)]; cp_obs holds the K changes of state with mean 0 and
  std 1 (`state_diff`, single_transfer.py 582-584), cp_act the K actions with their window
  statistics; windows before an episode's start are zeros (train_transfer_action.py 162-196).
- F, `ContextForwardModel` (models.py 56-112): swish layers over cat[normalize(s), normalize(a), z],
  a mu head and a logvar head, logvar softly bounded by softplus to [−10, 0.5] (104-105);
  `l2_reg` Σ decay·‖p‖ over every weight and bias, norms unsquared (80-89; C's 42-47).
- H, `MultiPairAxmodel` (models.py 115-154): 128-unit ReLU embeddings of state, action, source and
  target context, joined (action, state, source, target), 512-256-256-|a| with ReLU and tanh.
- Eq. 1 (`get_forward_loss`, single_transfer.py 382-413): per row, mean over the state dims of
  (mu − normalize(Δ))²·e^(−logvar) and of logvar, averaged over rows, plus the constant
  0.01·(Σ max_logvar − Σ min_logvar) and the L2 penalty; rows are the (segment, step) pairs that
  `future_bool` keeps, each with the context of the K transitions before its segment
  (`_preprocess_inputs` 607-629).
- C/F step (`train_context_forward` 416-458): batch a's loss + batch b's loss + the contrastive
  loss (1 − label)·d² + label·max(0, 1 − d)², d = F.pairwise_distance, times its weight; one Adam
  over C's and F's parameters (240).
- H step (`train_transfer_agent_bisimilar`, cycle_transfer_action.py 392-444): task features are
  detached means of C's contexts; ã = H(s, a, z_src, z_tgt); F at (s, ã, z_tgt); nn.L1Loss between
  F's mu and the source's normalised change of state; only H's Adam steps (F gets gradients only).

What the Rust side does differently, by design (each also in the README, MCAT):
1. Batches: the authors draw 256 segments per batch and bootstrap 256 (segment, step) rows from
   them, one batch a and one b, from a single task pair per step. Ours: every task's segments,
   split per task into halves a and b; every valid row once. The contrastive loss pairs segment k
   of half a with segment k of half b: same task with weight ½ (label 0), every pair of different
   tasks with weight ½ (label 1), the expectation of the authors' per-step draw of a same-task
   pair with probability ½ (cycle_transfer_action.py 353-360). This script computes that form.
2. H's pairs: the authors draw one (source, target) pair per step with replacement; ours gives each
   source row another task as its target (`translation_targets`); features from
   `feature_segments` segments instead of the step's 256 windows.
3. The distance of positive pairs, d², is ‖a − b + 1e-6‖² directly rather than the square of the
   rounded root.
4. Weight names: ours `context_encoder.fc{i}`/`last_fc`, `forward_model.fc{i}`/`last_fc` (both heads
   in one layer, mu rows first), `translator.{state,action,source,target}` and `translator.trunk`;
   the script maps them to the authors' modules and back.

    .deps/venv/bin/python tools/reference_updates/mcat.py EXCHANGE.npz
"""
import sys

import torch
from torch import nn
from torch.nn import functional as F

from common import Exchange


def normalize(x, mean, std):
    return (x - mean) / (std + 1e-10)


class SiLU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class ContextModel(nn.Module):
    def __init__(self, sizes, out, decays=(0.000025, 0.00005, 0.000075)):
        super().__init__()
        self.decays = decays
        self.layers = nn.Sequential()
        for i in range(len(sizes) - 1):
            self.layers.add_module("linear_%02d" % i, nn.Linear(sizes[i], sizes[i + 1]))
            self.layers.add_module("activation_%02d" % i, nn.ReLU())
        self.layers.add_module("linear_-1", nn.Linear(sizes[-1], out))

    def l2_reg(self):
        total = torch.tensor(0.0)
        for name, p in self.layers.named_parameters():
            total = total + torch.norm(p) * self.decays[int(float(name[7:9]))]
        return total

    def forward(self, cp_obs, cp_act, norm):
        return self.layers(torch.cat([normalize(cp_obs, 0.0, 1.0), normalize(cp_act, *norm["context_actions"])], dim=-1))


class ContextForwardModel(nn.Module):
    def __init__(self, sizes, out, decays=(0.000025, 0.00005, 0.000075, 0.000075, 0.0001)):
        super().__init__()
        self.decays = decays
        self.layers = nn.Sequential()
        for i in range(len(sizes) - 1):
            self.layers.add_module("linear_%02d" % i, nn.Linear(sizes[i], sizes[i + 1]))
            self.layers.add_module("activation_%02d" % i, SiLU())
        self.mu_layer = nn.Sequential(nn.Linear(sizes[-1], out))
        self.logvar_layer = nn.Sequential(nn.Linear(sizes[-1], out))
        self.max_logvar = torch.ones(1, out) / 2.0
        self.min_logvar = -torch.ones(1, out) * 10.0

    def l2_reg(self):
        total = torch.tensor(0.0)
        for name, p in self.layers.named_parameters():
            total = total + torch.norm(p) * self.decays[int(float(name[7:9]))]
        for p in list(self.mu_layer.parameters()) + list(self.logvar_layer.parameters()):
            total = total + torch.norm(p) * self.decays[-1]
        return total

    def forward(self, obs, act, cp, norm):
        h = self.layers(torch.cat([normalize(obs, *norm["obs"]), normalize(act, *norm["actions"]), cp], dim=-1))
        mu, logvar = self.mu_layer(h), self.logvar_layer(h)
        logvar = self.max_logvar - F.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mu, logvar


class MultiPairAxmodel(nn.Module):
    def __init__(self, obs_dim, action_dim, z_dim, width, trunk):
        super().__init__()
        self.state_fc = nn.Sequential(nn.Linear(obs_dim, width), nn.ReLU())
        self.action_fc = nn.Sequential(nn.Linear(action_dim, width), nn.ReLU())
        self.source_context_fc = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU())
        self.target_context_fc = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU())
        layers, sizes = [], [4 * width] + trunk
        for i in range(len(sizes) - 1):
            layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
        self.fc = nn.Sequential(*layers, nn.Linear(sizes[-1], action_dim), nn.Tanh())

    def forward(self, state, action, source, target):
        x = torch.cat([self.action_fc(action), self.state_fc(state), self.source_context_fc(source), self.target_context_fc(target)], dim=1)
        return self.fc(x)


def hidden_count(p, prefix):
    return sum(1 for k in p if k.startswith(prefix + ".fc") and k.endswith(".weight"))


def build(p, obs_dim, action_dim, z_dim, history):
    """The authors' three modules holding the exchange's weights, and the name map ours → theirs."""
    n_c, n_f = hidden_count(p, "context_encoder"), hidden_count(p, "forward_model")
    c_sizes = [history * (obs_dim + action_dim)] + [p[f"context_encoder.fc{i}.weight"].shape[0] for i in range(n_c)]
    f_sizes = [obs_dim + action_dim + z_dim] + [p[f"forward_model.fc{i}.weight"].shape[0] for i in range(n_f)]
    width = p["translator.state.weight"].shape[0]
    trunk = [p[f"translator.trunk.fc{i}.weight"].shape[0] for i in range(hidden_count(p, "translator.trunk"))]
    cp, mlp, model = ContextModel(c_sizes, z_dim), ContextForwardModel(f_sizes, obs_dim), MultiPairAxmodel(obs_dim, action_dim, z_dim, width, trunk)
    # ours → (module, parameter name, rows of ours it takes)
    names = {}
    for i in range(n_c):
        names[f"context_encoder.fc{i}"] = [(cp, f"layers.linear_{i:02d}", None)]
    names["context_encoder.last_fc"] = [(cp, "layers.linear_-1", None)]
    for i in range(n_f):
        names[f"forward_model.fc{i}"] = [(mlp, f"layers.linear_{i:02d}", None)]
    names["forward_model.last_fc"] = [(mlp, "mu_layer.0", slice(0, obs_dim)), (mlp, "logvar_layer.0", slice(obs_dim, 2 * obs_dim))]
    for ours, theirs in (("state", "state_fc"), ("action", "action_fc"), ("source", "source_context_fc"), ("target", "target_context_fc")):
        names[f"translator.{ours}"] = [(model, f"{theirs}.0", None)]
    for i in range(len(trunk) + 1):
        names["translator.trunk." + (f"fc{i}" if i < len(trunk) else "last_fc")] = [(model, f"fc.{2 * i}", None)]
    with torch.no_grad():
        for ours, targets in names.items():
            for module, name, rows in targets:
                for kind in ("weight", "bias"):
                    value = p[f"{ours}.{kind}"].detach()
                    module.get_parameter(f"{name}.{kind}").copy_(value if rows is None else value[rows])
    return cp, mlp, model, names


def ours(names, prefix=""):
    """Our parameter names and values, read back from the authors' modules."""
    out = {}
    for key, targets in names.items():
        if not key.startswith(prefix):
            continue
        for kind in ("weight", "bias"):
            out[f"{key}.{kind}"] = torch.cat([module.get_parameter(f"{name}.{kind}").detach() for module, name, _ in targets], dim=0)
    return out


def norm_stats(ex):
    return {name: (ex.tensor(f"meta/norm_{name}_mean"), ex.tensor(f"meta/norm_{name}_std")) for name in ("obs", "actions", "delta", "context_actions")}


def context(cp, obs, actions, next_obs, mask, norm):
    """C over K history transitions [n, K, ·]: cp_obs the K changes of state, cp_act the K actions,
    zeros where the window precedes the episode."""
    m = mask.unsqueeze(-1)
    return cp(((next_obs - obs) * m).flatten(1), (actions * m).flatten(1), norm)


def batch_loss(cp, mlp, z, obs, actions, next_obs, mask, norm, weight_decay):
    """`get_forward_loss` on one batch: its rows are the (segment, step) pairs the mask keeps, each
    with its segment's context (tiled over the M steps and filtered as `_preprocess_inputs`)."""
    m = obs.shape[1]
    keep = mask.reshape(-1) > 0
    rows = lambda t: t.reshape(-1, t.shape[-1])[keep]
    mu, logvar = mlp(rows(obs), rows(actions), rows(z.unsqueeze(1).expand(-1, m, -1)), norm)
    normalized_delta = normalize(rows(next_obs - obs), *norm["delta"])
    mu_loss = torch.mean(torch.mean(torch.square(mu - normalized_delta) * torch.exp(-logvar), dim=-1), dim=-1)
    var_loss = torch.mean(torch.mean(logvar, dim=-1), dim=-1)
    reg_loss = 0.01 * torch.sum(mlp.max_logvar) - 0.01 * torch.sum(mlp.min_logvar)
    l2_loss = cp.l2_reg() + mlp.l2_reg()
    return mu_loss + var_loss, mu_loss + var_loss + reg_loss + l2_loss * weight_decay


def check_model_step(ex):
    obs_dim, action_dim, z_dim, k = (int(ex.meta(n)) for n in ("obs_dim", "action_dim", "z_dim", "history"))
    tasks, margin, weight, decay = int(ex.meta("tasks")), ex.meta("margin"), ex.meta("contrastive_weight"), ex.meta("weight_decay")
    norm = norm_stats(ex)
    cp, mlp, _, names = build(ex.init(), obs_dim, action_dim, z_dim, k)
    optimizer = torch.optim.Adam([{"params": cp.parameters(), "lr": ex.meta("model_lr")}, {"params": mlp.parameters(), "lr": ex.meta("model_lr")}])
    notes = []
    for step in range(ex.steps):
        x = ex.inputs(step)
        z = context(cp, x["obs"][:, :k], x["actions"][:, :k], x["next_obs"][:, :k], x["mask"][:, :k], norm)
        per_task = z.shape[0] // tasks
        half = per_task // 2

        def halve(t, which):
            return t.reshape(tasks, per_task, *t.shape[1:])[:, which * half:(which + 1) * half].reshape(tasks * half, *t.shape[1:])

        forward_loss, loss = 0.0, 0.0
        for which in (0, 1):  # batches a and b
            f, l = batch_loss(cp, mlp, halve(z, which), *(halve(x[n][:, k:], which) for n in ("obs", "actions", "next_obs", "mask")), norm, decay)
            forward_loss, loss = forward_loss + f, loss + l
        a, b = halve(z, 0).reshape(tasks, half, -1), halve(z, 1).reshape(tasks, half, -1)
        same, other, inside = [], [], []
        for i in range(tasks):
            for j in range(tasks):
                d = F.pairwise_distance(a[i], b[j])
                if i == j:  # label 0
                    same.append(torch.pow(d, 2))
                else:  # label 1
                    other.append(torch.pow(torch.clamp(margin - d, min=0), 2))
                    inside.append((d < margin).float())
        contrastive = torch.cat(same).mean()
        if tasks > 1:
            contrastive = 0.5 * contrastive + 0.5 * torch.cat(other).mean()
        loss = loss + contrastive * weight
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        notes.append(f"{float(torch.cat(inside).mean()) if inside else 0.0:.2f}")
        ex.compare(step, {"forward_loss": forward_loss, "contrastive_loss": contrastive}, ours(names))
    print("share of cross-task pairs inside the margin, per step: " + ", ".join(notes))


def check_translator_step(ex):
    obs_dim, action_dim, z_dim, k = (int(ex.meta(n)) for n in ("obs_dim", "action_dim", "z_dim", "history"))
    tasks, norm = int(ex.meta("tasks")), norm_stats(ex)
    cp, mlp, model, names = build(ex.init(), obs_dim, action_dim, z_dim, k)
    optimizer_g = torch.optim.Adam(model.parameters(), lr=ex.meta("translator_lr"))
    spread, saturated = [], []
    for step in range(ex.steps):
        x = ex.inputs(step)
        features = torch.stack([
            context(cp, x[f"feature{i}_obs"], x[f"feature{i}_actions"], x[f"feature{i}_next_obs"], x[f"feature{i}_mask"], norm).detach().mean(dim=0)
            for i in range(tasks)
        ])
        spread.append(f"{float(torch.pdist(features).min()):.3f}")
        source, target = features[x["sources"].long()], features[x["targets"].long()]
        trans_action = model(x["obs"], x["actions"], source, target)
        out_mu, _ = mlp(x["obs"], trans_action, target, norm)
        normalized_delta = normalize(x["next_obs"] - x["obs"], *norm["delta"])
        loss_cycle = nn.L1Loss()(normalized_delta, out_mu)
        saturated.append(f"{float((trans_action.detach().abs() > 0.99).float().mean()):.2f}")
        optimizer_g.zero_grad()
        loss_cycle.backward()
        optimizer_g.step()
        ex.compare(step, {"translator_loss": loss_cycle}, ours(names))
    print("closest pair of task features, per step: " + ", ".join(spread))
    print("share of translated actions above 0.99 in size, per step: " + ", ".join(saturated))


def main():
    ex = Exchange(sys.argv[1])
    if ex.meta("check_translator"):
        check_translator_step(ex)
    else:
        check_model_step(ex)
    ex.finish()


if __name__ == "__main__":
    main()
