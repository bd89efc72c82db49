"""MCAT's TD3 step as the MCAT authors train TD3, replayed on the exchange file of
tests/equivalence_td3.rs. Follows guoyijie/MCAT@9ab4651, "Table 1 Replicate/TD3.py" (Fujimoto's
sfujim/TD3 file, which MCAT's `train_td3.py` 108-114 builds with policy_noise·max_action,
noise_clip·max_action, policy_freq and calls once per environment step, 150-151):
- `Actor` (14-28): π(s) = max_action·tanh(MLP(s)), max_action 1 here (our actor is tanh(MLP));
- `Critic` (31-65): twin Q networks on [state, action], `Q1` for the actor;
- `TD3.__init__` (68-96): targets deep copies, one Adam over the actor, one over both critics;
- `TD3.train` (104-152): `total_it` counts calls (105); under no_grad the smoothing noise
  clip(σε, −c, c) (112-114), the target action clip(π'(s') + noise, −max, max) (116-118), the target
  r + (1 − d)·γ·min(Q1'(s', ã), Q2'(s', ã)) (121-123); the critic loss MSE(Q1, y) + MSE(Q2, y) and
  its step (126-134); every `policy_freq`-th call the actor loss −mean Q1(s, π(s)) and its step,
  then the soft updates θ' ← τθ + (1 − τ)θ' of the critics, then of the actor (137-152).
The noise ε (torch.randn_like(action) in the authors' code) is the file's.

MCAT conditions TD3 on the task variable z (papers/004 §3.4): the authors' `state` is [s, z] here
and their `next_state` [s', z'], z' the context of s' (C over the K transitions ending at it),
so their critic input is [s, z, a]; our Q networks read [s, a, z], and the script permutes the
first layer's columns into their order and back (Adam is elementwise, so the permutation commutes
with the step). Our networks are rlkit Mlps (fc0, fc1, last_fc) where theirs are l1-l3 / l1-l6:
the same layers and activations.

Self-imitation (meta sil_weight > 0). The authors' repository has no SIL code (TD3.py above is
their whole learner), so this part restates the formula: Oh et al. 2018 (ICML, "Self-Imitation
Learning") Eq. 2-4, L = E[−log π(a|s)·(R − V(s))₊] + β·½E[(R − V(s))₊²], adapted to TD3 as
src/algos/td3.rs documents (`sil_losses`, `train_step`): V is each critic Q_i(s, a) on the stored
action, so both critics get weight·½·mean((R − Q_i)₊²) in the critic loss; −log π of a fixed-σ
Gaussian around the deterministic action is ½‖π(s) − a‖² (up to a constant), weighted by the
advantage (R − Q1(s, a))₊ under the stepped critic, detached, and weight·mean of it joins the actor
loss on the actor's steps. It follows the paper, not Oh's A2C/PPO code (junhyukoh/
self-imitation-learning@13eb8a7 baselines/common/self_imitation.py `build_loss_op` 310-338), which
also clips the advantage to [0, 1] and −log π at 5, divides by max(#positive, 64) instead of the batch size, and
samples a separate prioritised buffer of good episodes: what is compared here is our adaptation
composed into the TD3 step, not a published SIL-TD3.

    .deps/venv/bin/python tools/reference_updates/td3.py EXCHANGE.npz
"""
import sys

import torch
from torch.nn import functional as F

from common import Exchange, critics_in_our_order, critics_in_reference_order, freeze_targets, mlp, soft_update, under

MAX_ACTION = 1.0


def main():
    ex = Exchange(sys.argv[1])
    obs_dim, action_dim = int(ex.meta("obs_dim")), int(ex.meta("action_dim"))
    discount, tau = ex.meta("discount"), ex.meta("tau")
    policy_noise, noise_clip, policy_freq = ex.meta("policy_noise") * MAX_ACTION, ex.meta("noise_clip") * MAX_ACTION, int(ex.meta("policy_delay"))
    sil_weight = ex.meta("sil_weight")

    p = ex.init()
    critics_in_reference_order(p, obs_dim, action_dim)
    freeze_targets(p)
    actor_optimizer = torch.optim.Adam(under(p, "actor"), lr=ex.meta("actor_lr"))
    critic_optimizer = torch.optim.Adam(under(p, "qf1") + under(p, "qf2"), lr=ex.meta("critic_lr"))

    def actor(net, state):
        return MAX_ACTION * torch.tanh(mlp(p, net, state))

    def critic(prefix, state, action):  # Critic.forward: (Q1, Q2) on [state, action]
        sa = torch.cat([state, action], 1)
        return mlp(p, prefix + "qf1", sa), mlp(p, prefix + "qf2", sa)

    total_it = 0
    actor_loss_value = 0.0  # what our step reports before the first actor step
    clipped = bounded = 0
    for step in range(ex.steps):
        x = ex.inputs(step)
        state = torch.cat([x["obs"], x["z"]], 1)
        next_state = torch.cat([x["next_obs"], x["next_z"]], 1)  # z of s_{t+1}: C over the K transitions ending at it
        action, reward, not_done = x["actions"], x["rewards"], 1.0 - x["terminals"]
        total_it += 1

        with torch.no_grad():
            noise = (x["noise"] * policy_noise).clamp(-noise_clip, noise_clip)
            unclipped = actor("target_actor", next_state) + noise
            next_action = unclipped.clamp(-MAX_ACTION, MAX_ACTION)
            clipped += int(((x["noise"] * policy_noise).abs() > noise_clip).sum())
            bounded += int((unclipped.abs() > MAX_ACTION).sum())
            target_q1, target_q2 = critic("target_", next_state, next_action)
            target_q = reward + not_done * discount * torch.min(target_q1, target_q2)

        current_q1, current_q2 = critic("", state, action)
        critic_loss = F.mse_loss(current_q1, target_q) + F.mse_loss(current_q2, target_q)
        critic_objective = critic_loss
        sil_loss = torch.zeros(())
        if sil_weight > 0:
            returns = x["returns"]
            sil_loss = 0.5 * ((returns - current_q1).clamp(min=0) ** 2).mean() + 0.5 * ((returns - current_q2).clamp(min=0) ** 2).mean()
            critic_objective = critic_loss + sil_weight * sil_loss

        critic_optimizer.zero_grad()
        critic_objective.backward()
        critic_optimizer.step()

        if total_it % policy_freq == 0:
            pi = actor("actor", state)
            actor_loss = -critic("", state, pi)[0].mean()
            actor_loss_value = actor_loss.item()
            if sil_weight > 0:
                with torch.no_grad():
                    advantage = (returns - critic("", state, action)[0]).clamp(min=0)
                imitation = (advantage * 0.5 * ((pi - action) ** 2).sum(dim=-1, keepdim=True)).mean()
                sil_loss = sil_loss + imitation
                actor_loss = actor_loss + sil_weight * imitation
            actor_optimizer.zero_grad()
            actor_loss.backward()
            actor_optimizer.step()
            soft_update(p, ("qf1", "qf2", "actor"), tau)

        ex.compare(step, {"critic_loss": critic_loss, "actor_loss": actor_loss_value, "sil_loss": sil_loss}, critics_in_our_order(p, obs_dim, action_dim))
    print(f"sil_weight {sil_weight}: smoothing noise clipped in {clipped}, target action bounded in {bounded} of {ex.steps * x['noise'].numel()} entries")
    ex.finish()


if __name__ == "__main__":
    main()
