"""Oracle SAC's gradient step as garage's multi-task SAC (MTSAC) runs it, replayed on the exchange
file of tests/equivalence_sac_v2.rs. Follows rlworkgroup/garage@2d594803:
- src/garage/torch/algos/sac.py `optimize_policy` (449-505): the critics' losses, each critic
  stepped by its own Adam (472-480); the policy's sample and log π (482-486), its loss under the
  stepped critics (488-495); the temperature loss on that log π, detached (497-502); then
  `train_once` (251-256) calls `_update_targets` (440-447), θ' ← (1 − τ)θ' + τθ for both critics;
- `_critic_objective` (353-402): α from `_get_log_alpha` without gradient, a' ~ π(s'), target
  min(Q1'(s', a'), Q2'(s', a')) − α log π(a'|s'), q_target = r·scale + (1 − d)γ·target, MSE each;
- `_actor_objective` (317-351): mean(α log π(a|s) − min(Q1(s, a), Q2(s, a))), α detached;
- `_temperature_objective` (288-315): mean(−log α · (log π + H̄)), H̄ = −|A| (sac.py 175-179);
- src/garage/torch/algos/mtsac.py `_get_log_alpha` (153-190): each row's log α picked by its
  one-hot task id, `one_hots @ log_alpha`; log α starts at `initial_log_entropy` = 0 per task.
  The α optimiser is the one `MTSAC.to()` (220-238) builds, `Adam([log_alpha], lr=policy_lr)`:
  every garage launcher calls `mtsac.to()` (examples/torch/mtsac_metaworld_mt10.py:123, mt50:126,
  mt1_pick_place:103) and it replaces the constructor's `Adam([log_alpha] * num_tasks)`
  (mtsac.py 144-146), a list with the same tensor num_tasks times, which torch would step
  num_tasks times per step (run with GARAGE_CONSTRUCTOR_ALPHA_OPTIMIZER=1 to see it differ);
- src/garage/torch/distributions/tanh_normal.py (25-58, 92-112, 238-254) and
  torch/modules/gaussian_mlp_module.py (160-194, 464-573) for garage's TanhGaussianMLPPolicy: one
  trunk with a mean head and a log σ head, log σ clamped to [log e⁻²⁰, log e²], a = tanh(μ + σε),
  log π = log N(u; μ, σ) − Σ log(clip(1 − a², 0, 1) + 1e-6);
- torch/q_functions/continuous_mlp_q_function.py (33-43): Q(s, a) = MLP([s, a]).
The noise ε of a' and of a is the file's, drawn in garage's order (a' first), so both sides
sample the same actions.

Oracle SAC's task input is the task's vector z where MTSAC appends the one-hot id to the
observation: garage's observation here is [s, z] and its Q input [s, z, a]. Our Q networks read
[s, a, z]; the script permutes the first layer's columns into garage's order and back (Adam is
elementwise, so the permutation commutes with the step). Per-row α reads the file's task ids as
MTSAC reads the one-hot columns.

    .deps/venv/bin/python tools/reference_updates/sac_v2.py EXCHANGE.npz
"""
import math
import os
import sys

import torch
from torch.distributions import Independent, Normal
from torch.nn import functional as F

from common import Exchange, critics_in_our_order, critics_in_reference_order, freeze_targets, mlp, policy_heads, soft_update, under

# GaussianMLPBaseModule: min_std = e⁻²⁰, max_std = e², clamped in log space as float32 tensors.
LOG_STD_MIN = torch.Tensor([math.exp(-20.0)]).log().item()
LOG_STD_MAX = torch.Tensor([math.exp(2.0)]).log().item()


def tanh_gaussian(p, obs, noise):
    """TanhGaussianMLPPolicy(obs)[0].rsample_with_pre_tanh_value() and its log_prob, ε from the file."""
    mean, log_std = policy_heads(p, obs)
    log_std = log_std.clamp(min=LOG_STD_MIN, max=LOG_STD_MAX)
    std = log_std.exp()
    normal = Independent(Normal(mean, std), 1)
    pre_tanh = mean + std * noise  # Normal.rsample: loc + scale·ε
    value = torch.tanh(pre_tanh)
    one_minus = 1.0 - value**2
    with torch.no_grad():  # _clip_but_pass_gradient(x, 0, 1)
        clip = (1.0 - one_minus) * (one_minus > 1.0).float() + (0.0 - one_minus) * (one_minus < 0.0).float()
    log_pi = normal.log_prob(pre_tanh) - torch.sum(torch.log(one_minus + clip + 1e-6), dim=-1)
    return value, log_pi


def main():
    ex = Exchange(sys.argv[1])
    obs_dim, action_dim, num_tasks = int(ex.meta("obs_dim")), int(ex.meta("action_dim")), int(ex.meta("num_tasks"))
    discount, reward_scale, tau = ex.meta("discount"), ex.meta("reward_scale"), ex.meta("tau")
    policy_lr, qf_lr = ex.meta("policy_lr"), ex.meta("qf_lr")
    target_entropy = -float(action_dim)

    p = ex.init()
    critics_in_reference_order(p, obs_dim, action_dim)
    freeze_targets(p)
    log_alpha = p["log_alpha"]
    policy_optimizer = torch.optim.Adam(under(p, "policy"), lr=policy_lr)
    qf1_optimizer = torch.optim.Adam(under(p, "qf1"), lr=qf_lr)
    qf2_optimizer = torch.optim.Adam(under(p, "qf2"), lr=qf_lr)
    if os.environ.get("GARAGE_CONSTRUCTOR_ALPHA_OPTIMIZER") == "1":
        alpha_optimizer = torch.optim.Adam([log_alpha] * num_tasks, lr=policy_lr)  # mtsac.py 144-146, before .to()
    else:
        alpha_optimizer = torch.optim.Adam([log_alpha], lr=policy_lr)  # mtsac.py 237, after .to()

    def zero(optimizer):  # garage._functions.zero_optim_grads: grads to None
        for group in optimizer.param_groups:
            for param in group["params"]:
                param.grad = None

    for step in range(ex.steps):
        x = ex.inputs(step)
        tasks, b = x["obs"].shape[:2]
        rows = lambda t: t.reshape(tasks * b, -1)  # noqa: E731
        z = x["z"].repeat_interleave(b, dim=0)
        one_hots = F.one_hot(x["task_ids"].repeat_interleave(b), num_tasks).float()
        observation = torch.cat([rows(x["obs"]), z], dim=1)  # MTSAC's observation: state ‖ task
        next_observation = torch.cat([rows(x["next_obs"]), z], dim=1)
        action = rows(x["actions"])
        reward, terminal = rows(x["rewards"]).flatten(), rows(x["terminals"]).flatten()

        def get_log_alpha():  # MTSAC._get_log_alpha
            return torch.mm(one_hots, log_alpha.unsqueeze(0).t()).squeeze()

        def qf(net, obs, act):  # ContinuousMLPQFunction
            return mlp(p, net, torch.cat([obs, act], 1))

        # _critic_objective
        with torch.no_grad():
            alpha = get_log_alpha().exp()
        q1_pred, q2_pred = qf("qf1", observation, action), qf("qf2", observation, action)
        new_next_actions, new_log_pi = tanh_gaussian(p, next_observation, x["next_noise"])
        target_q_values = torch.min(qf("target_qf1", next_observation, new_next_actions), qf("target_qf2", next_observation, new_next_actions)).flatten() - alpha * new_log_pi
        with torch.no_grad():
            q_target = reward * reward_scale + (1.0 - terminal) * discount * target_q_values
        qf1_loss = F.mse_loss(q1_pred.flatten(), q_target)
        qf2_loss = F.mse_loss(q2_pred.flatten(), q_target)

        zero(qf1_optimizer)
        qf1_loss.backward()
        qf1_optimizer.step()
        zero(qf2_optimizer)
        qf2_loss.backward()
        qf2_optimizer.step()

        # the policy under the stepped critics (_actor_objective)
        new_actions, log_pi_new_actions = tanh_gaussian(p, observation, x["policy_noise"])
        with torch.no_grad():
            alpha = get_log_alpha().exp()
        min_q_new_actions = torch.min(qf("qf1", observation, new_actions), qf("qf2", observation, new_actions))
        policy_loss = ((alpha * log_pi_new_actions) - min_q_new_actions.flatten()).mean()
        zero(policy_optimizer)
        policy_loss.backward()
        policy_optimizer.step()

        # _temperature_objective
        alpha_loss = (-get_log_alpha() * (log_pi_new_actions.detach() + target_entropy)).mean()
        zero(alpha_optimizer)
        alpha_loss.backward()
        alpha_optimizer.step()

        # _update_targets
        soft_update(p, ("qf1", "qf2"), tau)

        ours = critics_in_our_order(p, obs_dim, action_dim)
        losses = {"qf_loss": qf1_loss + qf2_loss, "policy_loss": policy_loss, "mean_alpha": log_alpha.exp().mean()}
        ex.compare(step, losses, ours)
    ex.finish()


if __name__ == "__main__":
    main()
