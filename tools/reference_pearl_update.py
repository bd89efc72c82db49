"""PEARL's gradient step written in eager PyTorch the way the reference runs it (oyster
`PEARLSoftActorCritic._take_step` and `PEARLAgent.infer_posterior`): numpy replay buffers sampled
per task, the context encoder over [tasks, n, width], the product of Gaussians and the z draws
per task in Python loops, the KL backward on its own, then twin Q, V and policy updates with Adam
and the soft target update.

Serves `metarl bench train --reference`: started with the sizes as one JSON argument, it answers
each `step` line on stdin with the seconds one gradient step took (one number per line), so the
Rust bench can alternate its steps with these.

    .deps/venv/bin/python tools/reference_pearl_update.py '{"obs_dim": 20, ...}'
"""

import json
import sys
import time

import numpy as np
import torch
from torch import nn

BUFFER_ROWS = 2000


class Mlp(nn.Module):
    """rlkit's FlattenMlp: ReLU hidden layers, a linear output, inputs concatenated."""

    def __init__(self, input_size, hidden, output_size):
        super().__init__()
        sizes = [input_size] + list(hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.last = nn.Linear(sizes[-1], output_size)

    def forward(self, *inputs):
        h = torch.cat(inputs, dim=1)
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return self.last(h)


class TanhGaussianPolicy(nn.Module):
    def __init__(self, input_size, hidden, action_dim):
        super().__init__()
        self.trunk = Mlp(input_size, hidden[:-1], hidden[-1])
        self.mean = nn.Linear(hidden[-1], action_dim)
        self.log_std = nn.Linear(hidden[-1], action_dim)

    def forward(self, obs):
        h = torch.relu(self.trunk(obs))
        mean, log_std = self.mean(h), self.log_std(h).clamp(-20, 2)
        std = log_std.exp()
        pre_tanh = mean + std * torch.randn_like(mean)
        action = torch.tanh(pre_tanh)
        normal = torch.distributions.Normal(mean, std)
        log_prob = (normal.log_prob(pre_tanh) - torch.log(1 - action * action + 1e-6)).sum(dim=1, keepdim=True)
        return action, mean, log_std, log_prob


class PearlUpdate:
    def __init__(self, s):
        self.s = s
        self.device = torch.device(s["device"])
        rng = np.random.RandomState(0)
        shape = (s["meta_batch"], BUFFER_ROWS)
        self.obs = rng.uniform(-1, 1, shape + (s["obs_dim"],)).astype(np.float32)
        self.actions = rng.uniform(-1, 1, shape + (s["action_dim"],)).astype(np.float32)
        self.rewards = rng.uniform(-1, 1, shape + (1,)).astype(np.float32)
        self.next_obs = rng.uniform(-1, 1, shape + (s["obs_dim"],)).astype(np.float32)
        self.terminals = np.zeros(shape + (1,), np.float32)
        hidden = [s["net_size"]] * 3
        obs_dim, action_dim, latent = s["obs_dim"], s["action_dim"], s["latent_size"]
        to = lambda m: m.to(self.device)  # noqa: E731
        self.encoder = to(Mlp(s["context_width"], s["encoder_hidden"], 2 * latent))
        self.policy = to(TanhGaussianPolicy(obs_dim + latent, hidden, action_dim))
        self.qf1 = to(Mlp(obs_dim + action_dim + latent, hidden, 1))
        self.qf2 = to(Mlp(obs_dim + action_dim + latent, hidden, 1))
        self.vf = to(Mlp(obs_dim + latent, hidden, 1))
        self.target_vf = to(Mlp(obs_dim + latent, hidden, 1))
        self.target_vf.load_state_dict(self.vf.state_dict())
        adam = lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr)  # noqa: E731
        self.policy_optimizer = adam(self.policy, s["policy_lr"])
        self.qf1_optimizer = adam(self.qf1, s["qf_lr"])
        self.qf2_optimizer = adam(self.qf2, s["qf_lr"])
        self.vf_optimizer = adam(self.vf, s["vf_lr"])
        self.context_optimizer = adam(self.encoder, s["context_lr"])

    def sample(self, n):
        """`n` random rows per task, as torch tensors on the device (oyster `sample_sac`)."""
        rows = [np.random.randint(0, BUFFER_ROWS, n) for _ in range(self.s["meta_batch"])]
        take = lambda a: torch.from_numpy(np.stack([a[k][r] for k, r in enumerate(rows)])).to(self.device)  # noqa: E731
        return take(self.obs), take(self.actions), take(self.rewards), take(self.next_obs), take(self.terminals)

    def infer_posterior(self, context):
        tasks, n, width = context.shape
        params = self.encoder(context.view(tasks * n, width)).view(tasks, n, -1)
        latent = self.s["latent_size"]
        mu, sigma_squared = params[..., :latent], nn.functional.softplus(params[..., latent:])
        means, variances = [], []
        for m, s2 in zip(torch.unbind(mu), torch.unbind(sigma_squared)):
            s2 = torch.clamp(s2, min=1e-7)
            var = 1.0 / torch.sum(torch.reciprocal(s2), dim=0)
            means.append(var * torch.sum(m / s2, dim=0))
            variances.append(var)
        z_means, z_vars = torch.stack(means), torch.stack(variances)
        posteriors = [torch.distributions.Normal(m, torch.sqrt(v)) for m, v in zip(torch.unbind(z_means), torch.unbind(z_vars))]
        z = torch.stack([d.rsample() for d in posteriors])
        prior = torch.distributions.Normal(torch.zeros(latent, device=self.device), torch.ones(latent, device=self.device))
        kl = torch.sum(torch.stack([torch.distributions.kl.kl_divergence(d, prior) for d in posteriors]))
        return z, kl

    def step(self):
        s = self.s
        obs, actions, rewards, next_obs, terminals = self.sample(s["batch_size"])
        c_obs, c_actions, c_rewards, c_next_obs, _ = self.sample(s["embedding_batch_size"])
        parts = [c_obs, c_actions, c_rewards] + ([c_next_obs] if s["use_next_obs_in_context"] else [])
        context = torch.cat(parts, dim=2)
        tasks, b = obs.shape[:2]
        flat = lambda t: t.reshape(tasks * b, -1)  # noqa: E731
        obs, actions, rewards, next_obs, terminals = map(flat, (obs, actions, rewards, next_obs, terminals))

        z, kl = self.infer_posterior(context)
        task_z = torch.cat([zi.repeat(b, 1) for zi in z])
        new_actions, policy_mean, policy_log_std, log_pi = self.policy(torch.cat([obs, task_z.detach()], dim=1))
        q1_pred = self.qf1(obs, actions, task_z)
        q2_pred = self.qf2(obs, actions, task_z)
        v_pred = self.vf(obs, task_z.detach())
        with torch.no_grad():
            target_v = self.target_vf(next_obs, task_z)

        self.context_optimizer.zero_grad()
        (s["kl_lambda"] * kl).backward(retain_graph=True)
        self.qf1_optimizer.zero_grad()
        self.qf2_optimizer.zero_grad()
        q_target = rewards * s["reward_scale"] + (1.0 - terminals) * s["discount"] * target_v
        qf_loss = torch.mean((q1_pred - q_target) ** 2) + torch.mean((q2_pred - q_target) ** 2)
        qf_loss.backward()
        self.qf1_optimizer.step()
        self.qf2_optimizer.step()
        self.context_optimizer.step()

        z_fixed = task_z.detach()
        min_q_new = torch.min(self.qf1(obs, new_actions, z_fixed), self.qf2(obs, new_actions, z_fixed))
        vf_loss = torch.mean((v_pred - (min_q_new - log_pi).detach()) ** 2)
        self.vf_optimizer.zero_grad()
        vf_loss.backward()
        self.vf_optimizer.step()
        with torch.no_grad():
            for target, source in zip(self.target_vf.parameters(), self.vf.parameters()):
                target.mul_(1.0 - s["soft_target_tau"]).add_(source, alpha=s["soft_target_tau"])

        reg = s["policy_reg_weight"]
        policy_loss = (log_pi - min_q_new).mean() + reg * (policy_mean**2).mean() + reg * (policy_log_std**2).mean()
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()
        return qf_loss.item()


def main():
    settings = json.loads(sys.argv[1])
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(settings["threads"])
    update = PearlUpdate(settings)
    cuda = update.device.type == "cuda"
    for line in sys.stdin:
        if line.strip() != "step":
            raise SystemExit(f"expected `step`, got {line!r}")
        start = time.perf_counter()
        update.step()
        if cuda:
            torch.cuda.synchronize()
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main()
