"""FOCAL's behaviour-policy SAC step as pytorch_sac runs it, replayed on the exchange file of
tests/equivalence_sac_v2.rs (`behaviour_sac_step_matches_pytorch_sac`). Follows the copy FOCAL-ICLR
ships, LanqingLi1993/FOCAL-ICLR@9aff52c rlkit/torch/sac/pytorch_sac/:
- agent/sac.py `SACAgent.__init__` (16-57): log α a float64 tensor at log(init_temperature), its own
  Adam; one Adam over both critics; H̄ = −|A|;
- `update_critic` (77-97): a' ~ π(s') by rsample, target V = min(Q1'(s', a'), Q2'(s', a')) − α log π(a'|s'),
  target Q = r + not_done·γ·V, detached; loss MSE(Q1) + MSE(Q2), one optimiser step;
- `update_actor_and_alpha` (99-125): a ~ π(s) by rsample, loss mean(α log π − min(Q1, Q2)) under the
  stepped critics; then the temperature loss mean(α · (−log π − H̄).detach()), α = exp(log α);
- `update` (127-141): critic, actor and α when step % actor_update_frequency (1) == 0, the target
  critics θ' ← τθ + (1 − τ)θ' (utils.py 75-78 `soft_update_params`) when step % critic_target_update_frequency
  == 0, step the env step, which starts at num_seed_steps = 2000 (train.py 169-176);
- agent/actor.py `DiagGaussianActor.forward` (71-86): one trunk whose last layer gives [μ | raw log σ],
  log σ = lo + ½(hi − lo)(tanh(raw) + 1), `SquashedNormal` = Normal(μ, σ) through torch's
  TanhTransform, log π = log N(u; μ, σ) − Σ 2(log 2 − u − softplus(−2u)), summed over actions;
- agent/critic.py `DoubleQCritic` (9-30): Q(s, a) = MLP([s, a]), ReLU hidden layers.
Our policy keeps the mean and log σ rows of that last layer as two heads (`last_fc`,
`last_fc_log_std`); the script stacks them into one layer and splits its gradient-stepped rows back.
The noise ε of a' and of a is the file's, drawn in that order.

    .deps/venv/bin/python tools/reference_updates/pytorch_sac.py EXCHANGE.npz
"""
import sys

import torch
from torch.distributions import Normal
from torch.distributions.transforms import TanhTransform
from torch.nn import functional as F

from common import Exchange, freeze_targets, mlp, soft_update, under

LOG_STD_BOUNDS = (-5.0, 2.0)  # config/agent/sac.yaml log_std_bounds
SEED_STEPS = 2000  # config/train.yaml num_seed_steps: the first update's step count


def actor(p, obs, noise):
    """DiagGaussianActor(obs).rsample() with the file's ε, and its log-probability."""
    h = obs
    i = 0
    while f"policy.fc{i}.weight" in p:
        h = torch.relu(F.linear(h, p[f"policy.fc{i}.weight"], p[f"policy.fc{i}.bias"]))
        i += 1
    weight = torch.cat([p["policy.last_fc.weight"], p["policy.last_fc_log_std.weight"]], 0)
    bias = torch.cat([p["policy.last_fc.bias"], p["policy.last_fc_log_std.bias"]], 0)
    mu, log_std = F.linear(h, weight, bias).chunk(2, dim=-1)
    log_std = torch.tanh(log_std)
    lo, hi = LOG_STD_BOUNDS
    log_std = lo + 0.5 * (hi - lo) * (log_std + 1)
    base = Normal(mu, log_std.exp())
    x = mu + log_std.exp() * noise  # Normal.rsample: loc + ε·scale
    y = torch.tanh(x)
    log_prob = (base.log_prob(x) - TanhTransform().log_abs_det_jacobian(x, y)).sum(-1, keepdim=True)
    return y, log_prob


def main():
    ex = Exchange(sys.argv[1])
    action_dim = int(ex.meta("action_dim"))
    discount, tau = ex.meta("discount"), ex.meta("tau")
    policy_lr, qf_lr = ex.meta("policy_lr"), ex.meta("qf_lr")
    target_every = int(ex.meta("target_update_every"))
    target_entropy = -action_dim

    p = ex.init()
    freeze_targets(p)
    log_alpha = p["log_alpha"].detach().double().reshape(()).requires_grad_()  # torch.tensor(np.log(init_temperature)), 0-dim
    actor_optimizer = torch.optim.Adam(under(p, "policy"), lr=policy_lr, betas=(0.9, 0.999))
    critic_optimizer = torch.optim.Adam(under(p, "qf1") + under(p, "qf2"), lr=qf_lr, betas=(0.9, 0.999))
    log_alpha_optimizer = torch.optim.Adam([log_alpha], lr=policy_lr, betas=(0.9, 0.999))

    def critic(prefix, obs, action):
        return mlp(p, prefix + "qf1", torch.cat([obs, action], -1)), mlp(p, prefix + "qf2", torch.cat([obs, action], -1))

    for k in range(ex.steps):
        step = SEED_STEPS + k
        x = ex.inputs(k)
        rows = lambda t: t.reshape(-1, t.shape[-1])  # noqa: E731
        obs, action, reward, next_obs = rows(x["obs"]), rows(x["actions"]), rows(x["rewards"]), rows(x["next_obs"])
        not_done = 1.0 - rows(x["terminals"])
        alpha = log_alpha.exp()

        # update_critic
        next_action, log_prob = actor(p, next_obs, x["next_noise"])
        target_q1, target_q2 = critic("target_", next_obs, next_action)
        target_v = torch.min(target_q1, target_q2) - alpha.detach() * log_prob
        target_q = (reward + (not_done * discount * target_v)).detach()
        current_q1, current_q2 = critic("", obs, action)
        critic_loss = F.mse_loss(current_q1, target_q) + F.mse_loss(current_q2, target_q)
        critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_optimizer.step()

        # update_actor_and_alpha
        new_action, log_prob = actor(p, obs, x["policy_noise"])
        actor_q1, actor_q2 = critic("", obs, new_action)
        actor_loss = (alpha.detach() * log_prob - torch.min(actor_q1, actor_q2)).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_optimizer.step()
        log_alpha_optimizer.zero_grad()
        alpha_loss = (log_alpha.exp() * (-log_prob - target_entropy).detach()).mean()
        alpha_loss.backward()
        log_alpha_optimizer.step()

        if step % target_every == 0:
            soft_update(p, ("qf1", "qf2"), tau)

        params = dict(p)
        params["log_alpha"] = log_alpha.detach().float().reshape(1)
        ex.compare(k, {"qf_loss": critic_loss, "policy_loss": actor_loss, "mean_alpha": log_alpha.exp()}, params)
    ex.finish()


if __name__ == "__main__":
    main()
