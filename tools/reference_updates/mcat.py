"""MCAT's context encoder C, forward model F and action translator H, trained in the structure of
the authors' loops (with our losses where they differ: see below), replayed on the exchange file
of tests/equivalence_mcat.rs
(`meta/check_translator` 0: `ContextModels::model_step`; 1: `ContextModels::translator_step`).

Follows guoyijie/MCAT@9ab4651, folder "Table 1 Replicate":
- C (`ContextModel`, models.py 20-54): an MLP over the K history transitions flattened into one
  row, ReLU hidden layers, linear output z;
- F (`ContextForwardModel.forward`, models.py 91-112): input cat[s, a, z] (line 95), a mean head
  and a log-scale head on the same hidden features (97-99); the mean predicts the change of state;
- Eq. 1 (`get_forward_loss`, single_transfer.py 382-413, rows from `_preprocess_inputs` 607-629 and
  `process_paths` 293-348): each of the M future transitions of a segment is predicted from the
  TRUE previous state and action (teacher forcing) with the z of the K transitions before the
  segment's first step, tiled over the M steps (617-620); steps past the trajectory's end are
  dropped by `future_bool` (622-628), our mask;
- C/F step (`train_context_forward`, single_transfer.py 416-458; multi-task pair choice in
  cycle_transfer_action.py 352-374): Eq. 1 plus the weighted contrastive loss (448-455), ONE Adam
  over the parameters of C and F together (single_transfer.py 240), zero_grad/backward/step
  (456-458);
- H step (`train_transfer_agent_bisimilar`, cycle_transfer_action.py 392-444, with
  `MultiPairAxmodel`, models.py 115-154): the task features are means of C's contexts, detached
  (411-422); ã = tanh(H(s, a, z_src, z_tgt)) (424, models.py 143); F at (s, ã, z_tgt) (426); the
  loss against the source transition's change of state (427-433); backward through the fixed F
  (F gets gradients but only `optimizer_g`, H's, steps: 442-444, single_transfer.py 238).

Where our update differs from the authors' code (no config switch selects the authors' form; the
learner follows papers/004 Eq. 1-3 as DESIGN.md names it). This script restates OURS at these
points, so the test checks our update is what the paper's equations say, computed as our
docstrings state; the authors' form is given for each:
1. C's input: ours (s, a, s'−s) per history transition, zeroed where the mask is 0, flattened
   transition by transition. Authors: K state changes then K actions (`state_diff` True,
   train_transfer_action.py 193-196, 295), no absolute state, actions normalised.
2. No input/output normalisation here. Authors: F reads normalised s and a and predicts the
   normalised change of state (models.py 92-101, single_transfer.py 556-605, 400).
3. Log-scale bounds: ours log σ hard-clamped to [-10, 2] (src/algos/mcat.rs LOG_STD_MIN/MAX; zero
   gradient outside). Authors: log σ² soft-bounded to [-10, 0.5] (log σ in [-5, 0.25]) by softplus
   (models.py 76-77, 106-107), plus reg_loss 0.01·(Σ max − Σ min) (single_transfer.py 411), a
   constant since the bounds are plain tensors, not parameters.
4. Eq. 1's reduction: ours Σ over state dims and over the M steps of the full Gaussian NLL (with
   ½ log 2π), mean over segments. Authors: mean over rows (256 bootstrap draws of valid
   (segment, step) pairs) and over state dims of (Δ − μ)²/σ² + log σ² = 2·(NLL − ½ log 2π) per
   dim (single_transfer.py 407-409), for two batches a and b summed (447). Ours is M·|s|/4 times
   theirs per segment, so the same contrastive weight weighs Eq. 2 that much less next to Eq. 1
   here (42.5× for M = 10 on the 17-d cheetah).
5. Authors add an L2 penalty Σ_l decay_l·‖W_l‖ (norm, not squared; biases included; decays
   2.5e-5 … 1e-4; models.py 42-47, 80-89, single_transfer.py 402, 412); ours has none.
6. Eq. 2: ours the paper's hinge max(0, m − d); authors square it, max(0, m − d)²
   (single_transfer.py 452). Their margin is fixed at 1.0 (451), ours `margin`. Their distance,
   F.pairwise_distance, is ‖a − b + 1e-6‖; ours √(‖a − b‖² + 1e-12) in the hinge and ‖a − b‖² exactly for positive pairs. Pairs: authors
   draw per step one task pair, the same task with probability ½ (all 256 row pairs positive)
   or two different tasks (all negative) (cycle_transfer_action.py 353-360; single_transfer.py
   fixes both to task 1, positives only, 442-444); ours, every step, each task's first half of
   segments against its second half (positive) and against the previous task's second half
   (negative), the mean over both.
7. Eq. 3: ours the paper's Gaussian NLL of the source's next state under F(· | s, ã, z_tgt),
   Σ over dims, mean over rows, so H's gradient also flows through F's log σ head (H is also
   rewarded for actions at which F is more or less certain), not only through its mean.
   Authors: L1 between the normalised source change of state and F's MEAN only (nn.L1Loss, mean
   over rows and dims; cycle_transfer_action.py 433, single_transfer.py 524), no variance.
8. H's targets: ours per row, a task other than the source (`translation_targets`), features
   computed once per iteration from `feature_segments` segments. Authors: one (source, target)
   pair per step drawn WITH replacement (source = target possible; cycle_transfer_action.py 400),
   features from that step's 256 context windows. H's Adam: ours one, at `translator_lr`;
   authors' also lists an unused back_model (no gradients, so no effect) and, in
   single_transfer.py 474-486, is rebuilt every round at 3e-4 / 5e-5 / 1e-5 (moments reset).
9. Networks: ours rlkit MLPs with ReLU for C, F and H, F's two heads as one last layer split in
   halves, H on cat[s, a, z_src, z_tgt]. Authors: C 256-128-64 ReLU, F 4×200 swish with two heads,
   H with a 128-unit embedding per input then 512-256-256 (models.py 115-154).

The Rust side starts both checks from weights after 40 faster C/F steps on task-shifted data (and,
for H, 10 faster H steps) with fresh optimisers, so F depends on a and z, the task features are
apart and H's tanh bends; it prints the share of negative pairs inside the margin (both branches
of Eq. 2's hinge in play) and the spread of the features and of ã.

    .deps/venv/bin/python tools/reference_updates/mcat.py EXCHANGE.npz
"""
import math
import sys

import torch

from common import Exchange, adam, mlp, under

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0  # ours; the authors' bounds are in the docstring, point 3
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def context(p, obs, actions, next_obs, mask):
    """C over K history transitions [n, K, ·] (point 1: our input rows)."""
    rows = torch.cat([obs, actions, next_obs - obs], dim=-1) * mask.unsqueeze(-1)
    return mlp(p, "context_encoder", rows.flatten(1))


def forward_model(p, obs, actions, z):
    """F's mean (s plus the predicted change) and log σ (point 3: our hard bounds)."""
    out = mlp(p, "forward_model", torch.cat([obs, actions, z], dim=-1))
    delta, log_std = out.chunk(2, dim=-1)
    return obs + delta, torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)


def nll(x, mean, log_std):
    """−log N(x; μ, σ²) summed over the state dims."""
    return (0.5 * ((x - mean) / log_std.exp()) ** 2 + log_std + HALF_LOG_2PI).sum(dim=-1)


def model_losses(p, x, tasks, k, margin):
    obs, actions, next_obs, mask = x["obs"], x["actions"], x["next_obs"], x["mask"]
    z = context(p, obs[:, :k], actions[:, :k], next_obs[:, :k], mask[:, :k])
    m = obs.shape[1] - k
    # Eq. 1, teacher forced: step t+m from the true s_{t+m-1}, a_{t+m-1} and the segment's z.
    mean, log_std = forward_model(p, obs[:, k:], actions[:, k:], z.unsqueeze(1).expand(-1, m, -1))
    forward_loss = (nll(next_obs[:, k:], mean, log_std) * mask[:, k:]).sum(dim=1).mean()  # point 4

    # Eq. 2 (point 6): first half of each task's segments vs its second half, and vs the previous
    # task's second half.
    by_task = z.view(tasks, -1, z.shape[-1])
    half = by_task.shape[1] // 2
    first, second = by_task[:, :half], by_task[:, half:2 * half]
    z1 = [first.reshape(-1, z.shape[-1])]
    z2 = [second.reshape(-1, z.shape[-1])]
    same = [torch.ones(tasks * half)]
    if tasks > 1:
        z1.append(first.reshape(-1, z.shape[-1]))
        z2.append(torch.roll(second, 1, dims=0).reshape(-1, z.shape[-1]))
        same.append(torch.zeros(tasks * half))
    z1, z2, same = torch.cat(z1), torch.cat(z2), torch.cat(same)
    squared = ((z1 - z2) ** 2).sum(dim=-1)
    distance = torch.sqrt(squared + 1e-12)
    apart = torch.clamp(margin - distance, min=0.0)
    contrastive = (same * squared + (1.0 - same) * apart).mean()
    active = float(((1.0 - same) * (margin > distance).float()).sum() / (1.0 - same).sum()) if tasks > 1 else 0.0
    return forward_loss, contrastive, active


def check_model_step(ex):
    tasks, k = int(ex.meta("tasks")), int(ex.meta("history"))
    margin, weight = ex.meta("margin"), ex.meta("contrastive_weight")
    p = ex.init()
    # One Adam over C and F (single_transfer.py 240); H is not in it.
    optimizer = torch.optim.Adam(under(p, "context_encoder") + under(p, "forward_model"), lr=ex.meta("model_lr"))
    notes = []
    for step in range(ex.steps):
        x = ex.inputs(step)
        forward_loss, contrastive, active = model_losses(p, x, tasks, k, margin)
        optimizer.zero_grad()
        (forward_loss + weight * contrastive).backward()
        optimizer.step()
        notes.append(f"{active:.2f}")
        ex.compare(step, {"forward_loss": forward_loss, "contrastive_loss": contrastive}, p)
    print("share of negative pairs inside the margin, per step: " + ", ".join(notes))


def check_translator_step(ex):
    tasks, k = int(ex.meta("tasks")), int(ex.meta("history"))
    p = ex.init()
    optimizer = adam(p, "translator", ex.meta("translator_lr"))
    spread, largest = [], []
    for step in range(ex.steps):
        x = ex.inputs(step)
        with torch.no_grad():  # the features are detached means of C's contexts (411-422)
            features = torch.stack([
                context(p, x[f"feature{i}_obs"], x[f"feature{i}_actions"], x[f"feature{i}_next_obs"], x[f"feature{i}_mask"]).mean(dim=0)
                for i in range(tasks)
            ])
            assert x["feature0_obs"].shape[1] == k
            spread.append(f"{float(torch.pdist(features).min()):.3f}")
        sources, targets = x["sources"].long(), x["targets"].long()
        assert bool((sources != targets).all()), "our translation targets are other tasks than the source"
        z_source, z_target = features[sources], features[targets]
        obs, actions = x["obs"], x["actions"]
        translated = torch.tanh(mlp(p, "translator", torch.cat([obs, actions, z_source, z_target], dim=-1)))
        mean, log_std = forward_model(p, obs, translated, z_target)
        loss = nll(x["next_obs"], mean, log_std).mean()  # point 7
        largest.append(f"{float(translated.detach().abs().median()):.2f}/{float((translated.detach().abs() > 0.99).float().mean()):.2f}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ex.compare(step, {"translator_loss": loss}, p)
    print("closest pair of task features, per step: " + ", ".join(spread))
    print("median |translated action| / share above 0.99, per step: " + ", ".join(largest))


def main():
    ex = Exchange(sys.argv[1])
    if ex.meta("check_translator"):
        check_translator_step(ex)
    else:
        check_model_step(ex)
    ex.finish()


if __name__ == "__main__":
    main()
