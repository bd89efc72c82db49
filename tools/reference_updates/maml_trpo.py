"""MAML's inner step and MAML-TRPO's outer step as garage runs them, replayed on the exchange
files of tests/equivalence_onpolicy.rs (`meta/mode` 0: the inner step, 1: the outer step).
Follows rlworkgroup/garage@2d59480 (torch MAML), all paths under src/garage/:
- torch/algos/maml.py `_process_samples` (369-395): returns = discount_cumsum of the rewards per
  path, a baseline predicted on the padded observations; `_obtain_samples` (182-220) and `_adapt`
  (222-241): θ' = θ - α∇L(θ) with the graph kept while more steps follow;
  torch/optimizers/differentiable_sgd.py `step` (28-52): `param.add(param.grad, alpha=-lr)`;
- torch/algos/vpg.py `_compute_loss` (298-325), `_compute_advantage` (352-382),
  `_compute_loss_with_adv` (327-350) and `_compute_objective` (437-458): advantages by
  torch/_functions.py `compute_advantages` (46-106, GAE as a convolution of the deltas with
  [1, γλ, (γλ)², …] over the padded episode, baselines zero past the end) on the valid steps
  (`filter_valids`, 140-153), centred; the loss -mean(log π(a|s)·Â); `_compute_kl_constraint`
  (384-409): mean KL(π_old ‖ π) with π_old under no_grad;
- torch/algos/maml.py `_train_once` (100-151), `_meta_optimize` (243-252), `_compute_meta_loss`
  (254-289), `_compute_kl_constraint` (291-329): per task θ' re-derived from θ through the inner
  step (graph kept for the gradient and the constraint, not for the line search's losses),
  π_old = the task's θ' recorded at sampling (`all_params`); both averaged over the tasks;
- torch/optimizers/conjugate_gradient_optimizer.py: `_build_hessian_vector_product` (18-66,
  Pearlmutter: ∇KL built once with its graph, then ∂(∇KL·v)/∂θ + reg·v), `_conjugate_gradient`
  (69-100), `step` (141-181: NaNs of the direction zeroed, β = √(2δ/(sᵀAs + 1e-8)), 1 if NaN),
  `_backtracking_line_search` (223-260: fractions 0.8^k for k < 15, accept when the loss falls
  and KL ≤ δ, otherwise restore θ);
- torch/modules/gaussian_mlp_module.py (157-192): tanh MLP mean, state-independent log σ clamped
  below at log(1e-6), Independent(Normal) over the action dimensions;
- np/baselines/linear_feature_baseline.py (43-93): features [o, o², t/100, (t/100)², (t/100)³, 1]
  with o clipped to ±10, ridge least squares with the ridge raised tenfold while NaN.

Where ours differs from garage this restates ours: the first three are documented choices
(README, "MAML-TRPO and RL²-PPO"), the fourth a defect of garage's:
- the outer loss. garage's line search evaluates its VPG loss -mean(log π_θ'(a|s)·Â)
  (maml.py 246-247 → vpg.py 437-458); ours evaluates TRPO's likelihood-ratio surrogate
  -mean(π_θ'(a|s)/π_θ'old(a|s)·Â) (ProMP's TRPO-MAML). The two have the same gradient at θ, so
  the CG right-hand side here is garage's (the gradient of its VPG meta-objective,
  maml.py 123-126), and the losses of the line search are the surrogate's. Where garage's own loss
  would have accepted another fraction, the report says so (it does not fail the test).
- advantage centring. garage's torch VPG divides by the unbiased variance (vpg.py 374-377:
  `(adv - mean) / (var + 1e-8)`); ours by the population standard deviation + 1e-8.
- the baseline. garage's torch MAML predicts with its inner algorithm's value function
  (maml.py 384-392; the launchers pass a GaussianMLPValueFunction); ours fits garage's
  LinearFeatureBaseline on each batch (as ProMP and garage's TF samplers), restated here.
- more than one inner step. garage's DifferentiableSGD skips a parameter whose `.grad` is None
  (differentiable_sgd.py 41-43); after a first step the parameters are non-leaf tensors, whose
  `.grad` autograd never fills, so garage's later inner steps leave θ' as the first step left it
  (checked on this venv's torch by replaying `_adapt` twice on a module; garage issue #1269 and
  PR #1283 fixed an earlier failure of the same case). Ours takes every step (Finn et al. 2017,
  Eq. 1 repeated; ProMP); the inner test's last task takes two, restated as ours.
The outer test runs in float64 (`meta/double`; the Rust side converts its float32 weights): ten CG
iterations are far from converged and in float32 the direction depends on rounding. It uses
full-length episodes: garage's KL averages over the padded observations
too (maml.py 322-323 passes the padded `observations`), which only matters for short episodes.

    .deps/venv/bin/python tools/reference_updates/maml_trpo.py EXCHANGE.npz
"""
import sys

import numpy as np
import torch
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn import functional as F

from common import Exchange

MIN_LOG_STD = float(np.log(1e-6))


def names_in_order(params):
    """θ as the policy lists it: fc0.weight, fc0.bias, …, last layer, log_std."""
    depth = sum(1 for n in params if n.startswith("policy.fc") and n.endswith(".weight"))
    names = [f"policy.fc{i}.{kind}" for i in range(depth) for kind in ("weight", "bias")]
    return names + ["policy.log_std"]


def policy(theta, obs):
    """GaussianMLPPolicy: tanh hidden layers, linear mean, log σ clamped at log(1e-6)."""
    h = obs
    layers = (len(theta) - 1) // 2
    for i in range(layers):
        h = F.linear(h, theta[2 * i], theta[2 * i + 1])
        if i + 1 < layers:
            h = torch.tanh(h)
    std = theta[-1].clamp(min=MIN_LOG_STD).exp()
    return Independent(Normal(h, std.expand_as(h)), 1)


def discount_cumsum(x, discount):
    out = np.zeros_like(x)
    running = 0.0
    for t in range(len(x) - 1, -1, -1):
        running = x[t] + discount * running
        out[t] = running
    return out


class LinearFeatureBaseline:
    """garage np/baselines/linear_feature_baseline.py."""

    def __init__(self, reg_coeff=1e-5):
        self.coeffs, self.reg_coeff = None, reg_coeff

    @staticmethod
    def features(obs):
        obs = np.clip(obs, -10, 10)
        al = np.arange(len(obs)).reshape(-1, 1) / 100.0
        return np.concatenate([obs, obs**2, al, al**2, al**3, np.ones((len(obs), 1))], axis=1)

    def fit(self, observations, returns):
        featmat = np.concatenate([self.features(o) for o in observations])
        returns = np.concatenate(returns)
        reg = self.reg_coeff
        for _ in range(5):
            self.coeffs = np.linalg.lstsq(featmat.T @ featmat + reg * np.identity(featmat.shape[1]), featmat.T @ returns, rcond=-1)[0]
            if not np.any(np.isnan(self.coeffs)):
                break
            reg *= 10

    def predict(self, obs):
        return self.features(obs) @ self.coeffs


def compute_advantages(discount, gae_lambda, max_episode_length, baselines, rewards):
    """garage torch/_functions.py: deltas convolved with [1, γλ, (γλ)², …], per padded row."""
    adv_filter = torch.full((1, 1, 1, max_episode_length - 1), discount * gae_lambda, dtype=rewards.dtype)
    adv_filter = torch.cumprod(F.pad(adv_filter, (1, 0), value=1), dim=-1)
    deltas = rewards + discount * F.pad(baselines, (0, 1))[:, 1:] - baselines
    deltas = F.pad(deltas, (0, max_episode_length - 1)).unsqueeze(0).unsqueeze(0)
    return F.conv2d(deltas, adv_filter, stride=1).reshape(rewards.shape)


def process_samples(x, prefix, discount, gae_lambda, horizon, dtype=torch.float32):
    """`_process_samples` then `VPG._compute_loss`'s inputs: flat valid (obs, actions, Â)."""
    obs, actions, rewards = (x[prefix + k].to(dtype) for k in ("obs", "actions", "rewards"))
    lengths = x[prefix + "lengths"]
    lengths = [int(n) for n in lengths]
    paths_obs = [obs[i, :n].double().numpy() for i, n in enumerate(lengths)]
    returns = [discount_cumsum(rewards[i, :n].double().numpy(), discount) for i, n in enumerate(lengths)]
    baseline = LinearFeatureBaseline()
    baseline.fit(paths_obs, returns)
    baselines = torch.zeros(rewards.shape, dtype=dtype)
    for i, n in enumerate(lengths):
        baselines[i, :n] = torch.from_numpy(baseline.predict(paths_obs[i]))
    advantages = compute_advantages(discount, gae_lambda, horizon, baselines, rewards)
    flat = torch.cat([advantages[i, :n] for i, n in enumerate(lengths)])
    # Ours (documented): population standard deviation. garage: (flat - mean) / (flat.var() + 1e-8).
    flat = (flat - flat.mean()) / (flat.std(unbiased=False) + 1e-8)
    valid = lambda t: torch.cat([t[i, :n] for i, n in enumerate(lengths)])  # noqa: E731
    return valid(obs), valid(actions), flat


def vpg_loss(theta, batch):
    obs, actions, advantages = batch
    return -(policy(theta, obs).log_prob(actions) * advantages).mean()


def adapt(theta, batches, inner_lr, set_grad):
    """`_adapt` once per batch with DifferentiableSGD; the graph is kept while `set_grad`."""
    for j, batch in enumerate(batches):
        keep = set_grad or j < len(batches) - 1
        loss = vpg_loss(theta, batch)
        grads = torch.autograd.grad(loss, theta, create_graph=keep)
        with torch.set_grad_enabled(keep):
            theta = [p - inner_lr * g for p, g in zip(theta, grads)]
    if not set_grad:
        theta = [p.detach() for p in theta]
    return theta


def inner_steps(ex, names, theta):
    inner_lr, discount, lam, horizon = ex.meta("inner_lr"), ex.meta("discount"), ex.meta("gae_lambda"), int(ex.meta("max_episode_length"))
    for step in range(ex.steps):
        x = ex.inputs(step)
        count = sum(1 for k in x if k.endswith("_lengths"))
        batches = [process_samples(x, f"batch{j}_", discount, lam, horizon) for j in range(count)]
        # `_obtain_samples`: a grad is kept for every inner step but the last.
        adapted = adapt(theta, batches, inner_lr, set_grad=False)
        losses = {f"advantages{j}": b[2] for j, b in enumerate(batches)}
        ex.compare(step, losses, dict(zip(names, adapted)))


def conjugate_gradient(f_ax, b, cg_iters, residual_tol=1e-10):
    p, r, x = b.clone(), b.clone(), torch.zeros_like(b)
    rdotr = torch.dot(r, r)
    for _ in range(cg_iters):
        z = f_ax(p)
        v = rdotr / torch.dot(p, z)
        x += v * p
        r -= v * z
        newrdotr = torch.dot(r, r)
        p = r + newrdotr / rdotr * p
        rdotr = newrdotr
        if rdotr < residual_tol:
            break
    return x


def hessian_vector_product(f, params, reg_coeff):
    f_grads = torch.autograd.grad(f, params, create_graph=True)

    def evaluate(vector):
        pieces = torch.split(vector, [p.numel() for p in params])
        product = torch.sum(torch.stack([torch.sum(g * v.view_as(g)) for g, v in zip(f_grads, pieces)]))
        hvp = torch.autograd.grad(product, params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hvp]) + reg_coeff * vector

    return evaluate


def outer_steps(ex, names, theta):
    inner_lr, discount, lam, horizon = ex.meta("inner_lr"), ex.meta("discount"), ex.meta("gae_lambda"), int(ex.meta("max_episode_length"))
    max_kl, cg_iters, reg = ex.meta("max_kl"), int(ex.meta("cg_iters")), ex.meta("hvp_reg")
    dtype = torch.float64 if ex.meta("double") == 1 else torch.float32
    ratios = ex.meta("backtrack_ratio") ** np.arange(int(ex.meta("max_backtracks")))
    for step in range(ex.steps):
        x = ex.inputs(step)
        n_tasks = sum(1 for k in x if k.endswith("_adapt_lengths"))
        samples = [tuple(process_samples(x, f"task{t}_{kind}_", discount, lam, horizon, dtype) for kind in ("adapt", "valid")) for t in range(n_tasks)]
        # `_obtain_samples`: each task's θ' at sampling time is π_old of the outer step.
        old_params = [adapt(theta, [a], inner_lr, set_grad=False) for a, _ in samples]
        old = [(policy(p, v[0]), policy(p, v[0]).log_prob(v[1])) for p, (_, v) in zip(old_params, samples)]

        def meta_loss(form, set_grad):
            losses = []
            for (a, v), (old_dist, old_log_prob) in zip(samples, old):
                adapted = adapt(theta, [a], inner_lr, set_grad)
                with torch.set_grad_enabled(set_grad):
                    if form == "vpg":  # garage's
                        losses.append(vpg_loss(adapted, v))
                    else:  # ours (documented): the likelihood-ratio surrogate
                        ratio = torch.exp(policy(adapted, v[0]).log_prob(v[1]) - old_log_prob)
                        losses.append(-(ratio * v[2]).mean())
            return torch.stack(losses).mean()

        def kl_constraint(set_grad=True):
            kls = []
            for (a, v), (old_dist, _) in zip(samples, old):
                adapted = adapt(theta, [a], inner_lr, set_grad)
                with torch.set_grad_enabled(set_grad):
                    kls.append(kl_divergence(old_dist, policy(adapted, v[0])).mean())
            return torch.stack(kls).mean()

        # `_train_once`: the gradient of the meta-objective, then the CG optimizer's step.
        loss_grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(meta_loss("vpg", True), theta)])
        f_ax = hessian_vector_product(kl_constraint(), theta, reg)
        step_dir = conjugate_gradient(f_ax, loss_grad, cg_iters)
        step_dir[step_dir.ne(step_dir)] = 0.0
        step_size = np.sqrt(2.0 * max_kl * (1.0 / (torch.dot(step_dir, f_ax(step_dir)) + 1e-8)).item())
        if np.isnan(step_size):
            step_size = 1.0
        descent = torch.split(step_size * step_dir.detach(), [p.numel() for p in theta])

        def set_theta(values):
            with torch.no_grad():
                for p, v in zip(theta, values):
                    p.copy_(v.view_as(p))

        def line_search(form):
            """`_backtracking_line_search`; the inner step inside each loss still takes its gradient."""
            prev = [p.detach().clone() for p in theta]
            loss_before = meta_loss(form, False)
            for ratio in ratios:
                set_theta([s - ratio * d.view_as(s) for s, d in zip(prev, descent)])
                loss, kl = meta_loss(form, False), kl_constraint(False)
                if loss < loss_before and kl <= max_kl:
                    break
            if torch.isnan(loss) or torch.isnan(kl) or loss >= loss_before or kl >= max_kl:
                set_theta(prev)
                return prev, float(loss_before), float(loss_before), 0.0, 0.0
            return prev, float(loss_before), float(loss), float(kl), float(ratio)

        prev, _, _, _, garage_fraction = line_search("vpg")
        set_theta(prev)
        _, loss_before, loss_after, kl_after, fraction = line_search("surrogate")
        print(f"step {step}: β = {step_size:.4g}, |s| = {float(step_dir.norm()):.4g}, the line search keeps {fraction:.4g} of the step")
        if garage_fraction != fraction:
            print(f"note: step {step}: garage's VPG loss in the line search would accept the fraction {garage_fraction:.4g}, the surrogate accepts {fraction:.4g}")
        full_step = step_size * step_dir if fraction > 0 else torch.zeros_like(step_dir)
        losses = {"loss_before": loss_before, "loss_after": loss_after, "kl_after": kl_after, "step_fraction": fraction, "step_size": step_size, "cg_direction": step_dir, "full_step": full_step}
        for t, (a, v) in enumerate(samples):
            losses[f"task{t}_adapt_advantages"], losses[f"task{t}_valid_advantages"] = a[2], v[2]
        ex.compare(step, losses, dict(zip(names, theta)))


def main():
    ex = Exchange(sys.argv[1])
    params = ex.init()
    names = names_in_order(params)
    assert sorted(names) == sorted(params), f"unexpected variables {sorted(params)}"
    if ex.meta("double") == 1:
        theta = [params[n].detach().double().requires_grad_() for n in names]
    else:
        theta = [params[n] for n in names]
    if ex.meta("mode") == 0:
        inner_steps(ex, names, theta)
    else:
        outer_steps(ex, names, theta)
    ex.finish()


if __name__ == "__main__":
    main()
