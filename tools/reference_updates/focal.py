"""FOCAL's offline gradient step as FOCAL-ICLR runs it, replayed on the exchange file of
tests/equivalence_focal.rs. Follows LanqingLi1993/FOCAL-ICLR@9aff52c:
- rlkit/torch/brac/divergences.py: `gradient_penalty.forward` (lines 30-43: ã = a_p + u·(a_b − a_p),
  slope = √(EPS + Σ c(s, ã)²), γ·mean(max(slope − 1, 0)²)), `dual_critic_loss` (55-57),
  `FDivergence.dual_estimate` (66-69), `KL._dual_estimate_with_logits` (93-95);
  rlkit/torch/brac/utils.py `soft_relu` (64-68), `clip_v2` (36-38);
- rlkit/torch/sac/sac.py `FOCALSoftActorCritic`: `get_alpha` (94-97), `_optimize_c` (201-222),
  `z_loss` (224-239), `_take_step` (241-383): D̂ from the dual critic before its steps (278-279),
  its first step on the batch (281-284) and `c_iter − 1` more on fresh batches (285-286), the
  value penalty on the target (290-295), the metric loss on the encoder alone (298-308), the Q
  loss on z detached (266-273, 311-326), V towards min Q − log π (328-341), the policy loss with
  α·D̂ (350-372), α's step on −α·(D̂ − target) (377-382);
- rlkit/torch/sac/agent.py `infer_posterior` / `sample_z` / `forward` (148-210) with the encoder
  of launch_experiment.py (57-62: `MlpEncoder` with `output_activation=torch.tanh`): z = the mean
  over the context of tanh(f(c)), repeated per row; rlkit/torch/networks.py `FlattenMlp` (104-111)
  concatenates (s, a, z) for Q and the dual critic; the policy is pearl.py's (rlkit/torch/sac/
  policies.py 81-143 and distributions.py `TanhNormal`, as oyster's).
- The input-gradient penalty form (switch `penalty_form` 1, ours `input-gradient`) is BRAC's own,
  google-research/google-research@0c1bbe5 behavior_regularized_offline_rl/brac/divergences.py
  (29-40): slope = √(EPS + ‖∇ã Σ c(s, ã)‖²), the rest as above.

Restated choices, none changing an update:
- torch 1.2 (FOCAL-ICLR's requrements.txt and environment.yaml pin torch==1.2.0) updates
  parameters through `p.data`, so the policy loss's backward runs through the D̂ graph built before
  the dual critic's steps, reading the critic's weights as they are after them but the activations
  saved before them (ReLU masks, the derivative of log softplus(c_p) at the pre-step logits). D̂
  is built here on `.data` aliases of the critic's weights, which reproduces that (torch ≥ 1.5
  would refuse the backward). Switch `stepped_critic_gradient` 1 restates ours instead
  (src/algos/sac.rs, `before + (after − after.detach())`): the value of D̂ before the critic's
  steps, the gradient of the critic re-evaluated after them. The two gradients differ (a few
  percent at rlkit's init); tests/equivalence_focal.rs says which it compares and why.
- z enters the RL part detached. FOCAL-ICLR passes it undetached into the policy, D̂ and the dual
  critic loss, but the encoder gradients these leave are zeroed by `context_optimizer.zero_grad()`
  (sac.py:299) before the metric loss's backward, or arrive after the context step and are zeroed
  at the next step's line 299: none reaches an update.
- The dual critic's extra steps use the z of the step's context: FOCAL-ICLR's `_optimize_c`
  re-encodes the same context with the same (not yet stepped) encoder, so the same values.
- `pair_count_epsilon` (meta): FOCAL-ICLR divides each pair sum by count + 1e-3 (sac.py:239),
  ours (src/algos/focal.rs `metric_loss`) by the count; the Rust side passes which it compares.

    .deps/venv/bin/python tools/reference_updates/focal.py EXCHANGE.npz
"""
import sys

import torch

from common import Exchange, adam, freeze_targets, mlp, soft_update
from pearl import tanh_gaussian_policy

EPS = 1e-8


def soft_relu(x):
    """log(1 + eˣ), utils.py's stable form."""
    return torch.log(1.0 + torch.exp(-torch.abs(x))) + torch.max(x, torch.zeros_like(x))


def critic(c, obs, actions, z):
    return mlp(c, "dual_critic", torch.cat([obs, actions, z], dim=1))


def dual_estimate(c, obs, a_p, a_b, z):
    """KL's dual estimate per row: −softplus(c_b) + log(softplus(c_p) + EPS) + 1."""
    return -soft_relu(critic(c, obs, a_b, z)) + torch.log(soft_relu(critic(c, obs, a_p, z)) + EPS) + 1.0


def gradient_penalty(c, obs, a_p, a_b, z, mix, gamma, input_gradient):
    """`mix` `[n, 1]` is the file's u ~ U[0, 1) per row (alpha[:, None] there)."""
    a_intpl = a_p + mix * (a_b - a_p)
    if input_gradient:
        a_intpl = a_intpl.detach().requires_grad_()  # tape.watch(a_intpl)
        grad = torch.autograd.grad(critic(c, obs, a_intpl, z).sum(), a_intpl, create_graph=True)[0]
        slope = torch.sqrt(EPS + torch.sum(grad**2, dim=-1))
    else:
        c_intpl = critic(c, obs, a_intpl, z)
        slope = torch.sqrt(EPS + torch.sum(c_intpl**2, dim=-1))
    return torch.mean(torch.max(slope - 1.0, torch.zeros_like(slope)) ** 2) * gamma


def dual_critic_loss(c, obs, a_p, a_b, z, mix, m):
    return -torch.mean(dual_estimate(c, obs, a_p, a_b, z)) + gradient_penalty(c, obs, a_p, a_b, z, mix, m["gradient_penalty"], m["input_gradient"])


def critic_step(p, c_optimizer, obs, a_p, a_b, z, mix, m):
    loss = dual_critic_loss(p, obs, a_p, a_b, z, mix, m)
    c_optimizer.zero_grad()
    loss.backward(retain_graph=True)
    c_optimizer.step()
    return loss


def z_loss(task_z, indices, b, count_epsilon, epsilon=1e-3):
    """sac.py `z_loss`: √(mean Δ² + ε) per same-task pair, 1/(mean Δ² + 100ε) per other pair."""
    pos, neg, pos_cnt, neg_cnt = 0.0, 0.0, 0, 0
    for i in range(len(indices)):
        for j in range(i + 1, len(indices)):
            d2 = torch.mean((task_z[i * b] - task_z[j * b]) ** 2)
            if indices[i] == indices[j]:
                pos = pos + torch.sqrt(d2 + epsilon)
                pos_cnt += 1
            else:
                neg = neg + 1 / (d2 + epsilon * 100)
                neg_cnt += 1
    return pos / (pos_cnt + count_epsilon) + neg / (neg_cnt + count_epsilon)


def brac_settings(ex):
    m = {name: ex.meta(name) for name in ("alpha_max", "alpha_lr", "target_divergence", "dual_critic_lr", "gradient_penalty")}
    m["input_gradient"] = ex.meta("penalty_form") == 1.0
    m["value_penalty"] = ex.meta("value_penalty") == 1.0
    return m


def dual_critic_only(ex, p, m):
    c_optimizer = adam(p, "dual_critic", m["dual_critic_lr"])
    for step in range(ex.steps):
        x = ex.inputs(step)
        loss = critic_step(p, c_optimizer, x["obs"], x["policy_actions"], x["data_actions"], x["z"], x["mix"], m)
        ex.compare(step, {"dual_critic_loss": loss}, p)


def focal_steps(ex, p, m):
    latent = int(ex.meta("latent"))
    reward_scale, discount, tau = ex.meta("reward_scale"), ex.meta("discount"), ex.meta("soft_target_tau")
    reg, z_loss_weight, count_epsilon = ex.meta("policy_reg_weight"), ex.meta("z_loss_weight"), ex.meta("pair_count_epsilon")
    stepped_critic_gradient = ex.meta("stepped_critic_gradient") == 1.0
    indices = [int(i) for i in ex.arrays["meta/indices"]]
    freeze_targets(p)
    policy_optimizer = adam(p, "policy", ex.meta("policy_lr"))
    qf1_optimizer, qf2_optimizer = adam(p, "qf1", ex.meta("qf_lr")), adam(p, "qf2", ex.meta("qf_lr"))
    vf_optimizer = adam(p, "vf", ex.meta("vf_lr"))
    c_optimizer = adam(p, "dual_critic", m["dual_critic_lr"])
    context_optimizer = adam(p, "context_encoder", ex.meta("context_lr"))
    alpha_var = p["brac_alpha"]

    def get_alpha():
        return torch.min(torch.max(alpha_var, torch.zeros_like(alpha_var)), m["alpha_max"] * torch.ones_like(alpha_var))

    for step in range(ex.steps):
        x = ex.inputs(step)
        tasks, b = x["batch0/obs"].shape[:2]
        c_iter = sum(1 for k in x if k.endswith("/obs"))
        flat = lambda t: t.reshape(tasks * b, -1)  # noqa: E731
        obs, actions, rewards, next_obs, terms = (flat(x[f"batch0/{k}"]) for k in ("obs", "actions", "rewards", "next_obs", "terminals"))

        # agent.forward: deterministic z per task, repeated per row; the policy's reparameterised sample.
        z = torch.tanh(mlp(p, "context_encoder", x["context"])).mean(dim=1)
        task_z = torch.cat([zi.repeat(b, 1) for zi in z], dim=0)
        z_rl = task_z.detach()
        new_actions, policy_mean, policy_log_std, log_pi = tanh_gaussian_policy(p, torch.cat([obs, z_rl], dim=1), x["policy_noise"])

        q1_pred = mlp(p, "qf1", torch.cat([obs, actions, z_rl], dim=1))
        q2_pred = mlp(p, "qf2", torch.cat([obs, actions, z_rl], dim=1))
        v_pred = mlp(p, "vf", torch.cat([obs, z_rl], dim=1))

        c_data = {name: t.data for name, t in p.items() if name.startswith("dual_critic.")}
        div_estimate = dual_estimate(c_data, obs, new_actions, actions, z_rl)
        c_loss = critic_step(p, c_optimizer, obs, new_actions, actions, z_rl, x["mix0"], m)
        for k in range(1, c_iter):  # _optimize_c on a fresh batch of the same tasks
            obs_k, actions_k = flat(x[f"batch{k}/obs"]), flat(x[f"batch{k}/actions"])
            new_actions_k = tanh_gaussian_policy(p, torch.cat([obs_k, z_rl], dim=1), x[f"policy_noise{k}"])[0]
            critic_step(p, c_optimizer, obs_k, new_actions_k, actions_k, z_rl, x[f"mix{k}"], m)

        with torch.no_grad():
            target_v_values = mlp(p, "target_vf", torch.cat([next_obs, z_rl], dim=1))
            if m["value_penalty"]:
                target_v_values = target_v_values - get_alpha() * div_estimate

        context_optimizer.zero_grad()
        metric = z_loss(task_z, indices, b, count_epsilon)
        (z_loss_weight * metric).backward(retain_graph=True)
        context_optimizer.step()

        qf1_optimizer.zero_grad()
        qf2_optimizer.zero_grad()
        q_target = rewards * reward_scale + (1.0 - terms) * discount * target_v_values
        qf_loss = torch.mean((q1_pred - q_target) ** 2) + torch.mean((q2_pred - q_target) ** 2)
        qf_loss.backward(retain_graph=True)
        qf1_optimizer.step()
        qf2_optimizer.step()
        min_q_new_actions = torch.min(mlp(p, "qf1", torch.cat([obs, new_actions, z_rl], dim=1)), mlp(p, "qf2", torch.cat([obs, new_actions, z_rl], dim=1)))

        vf_loss = torch.mean((v_pred - (min_q_new_actions - log_pi).detach()) ** 2)
        vf_optimizer.zero_grad()
        vf_loss.backward(retain_graph=True)
        vf_optimizer.step()
        soft_update(p, ("vf",), tau)  # ptu.soft_update_from_to

        div_for_policy = div_estimate
        if stepped_critic_gradient:  # ours: D̂'s value, the re-evaluated stepped critic's gradient
            after = dual_estimate({n: t.detach() for n, t in p.items() if n.startswith("dual_critic.")}, obs, new_actions, actions, z_rl)
            div_for_policy = div_estimate.detach() + (after - after.detach())
        policy_loss = (log_pi - min_q_new_actions + get_alpha().detach() * div_for_policy).mean()
        policy_loss = policy_loss + reg * (policy_mean**2).mean() + reg * (policy_log_std**2).mean()
        policy_optimizer.zero_grad()
        policy_loss.backward(retain_graph=True)
        policy_optimizer.step()

        a_loss = -torch.mean(alpha_var * (div_estimate - m["target_divergence"]).detach())
        alpha_var.grad = None
        a_loss.backward()
        with torch.no_grad():
            alpha_var -= m["alpha_lr"] * alpha_var.grad
            alpha_var.grad.zero_()

        losses = {"qf_loss": qf_loss, "vf_loss": vf_loss, "policy_loss": policy_loss, "dual_critic_loss": c_loss,
                  "divergence": torch.mean(div_estimate), "alpha": get_alpha(), "metric_loss": metric}
        ex.compare(step, losses, p)


def main():
    ex = Exchange(sys.argv[1])
    m = brac_settings(ex)
    p = ex.init()
    if ex.meta("mode") == 0.0:
        dual_critic_only(ex, p, m)
    else:
        focal_steps(ex, p, m)
    ex.finish()


if __name__ == "__main__":
    main()
