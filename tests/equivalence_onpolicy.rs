//! The on-policy learners' updates against garage, restated in torch:
//! - MAML's inner step (`MamlTrpo::adapt`) and MAML-TRPO's outer step (`MamlTrpo::meta_step`)
//!   against garage's torch `MAML._adapt` / `_meta_optimize` with `ConjugateGradientOptimizer`
//!   (tools/reference_updates/maml_trpo.py);
//! - RL²'s PPO update (`Rl2Ppo::update`) against garage's TF `RL2PPO` objective and
//!   `FirstOrderOptimizer` (tools/reference_updates/rl2_ppo.py).
//!
//! The batches are synthetic episodes (uniform observations, actions and rewards). Their
//! advantages are computed here as the protocol does (src/protocol/onpolicy/{maml,rl2}.rs, whose
//! batch builders are private): the linear feature baseline fitted on the episodes, GAE, and
//! standardisation, all with the production functions of `metarl::algos::onpolicy`; the reference
//! recomputes them from the raw episodes the authors' way and compares. Every loss and parameter
//! is compared after each step (tests/exchange/mod.rs).

mod exchange;

use exchange::{uniform, Exchange};
use metarl::algos::maml_trpo::{MamlSettings, MamlTrpo, StepBatch, TaskData};
use metarl::algos::onpolicy::{self, fit_and_advantages, flatten, standardize_episodes, LinearFeatureBaseline, PathObs, TrustRegion};
use metarl::algos::rl2_ppo::{Rl2Ppo, Rl2Settings, TrialBatch};
use metarl::nn::gaussian::shallow_copies;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 5;

/// Episodes of one task, padded to `horizon`: `obs` `[E, H, o]`, `actions` `[E, H, a]`,
/// `rewards` `[E, H]` (zeros past each length) and `lengths`.
struct Episodes {
    obs: Tensor,
    actions: Tensor,
    rewards: Tensor,
    lengths: Vec<i64>,
}

impl Episodes {
    fn draw(rng: &mut ChaCha8Rng, lengths: &[i64], horizon: i64, obs_dim: i64, action_dim: i64) -> Self {
        let e = lengths.len() as i64;
        let valid = Tensor::from_slice(&lengths.iter().flat_map(|&l| (0..horizon).map(move |t| (t < l) as i64 as f32)).collect::<Vec<_>>()).view([e, horizon]);
        let obs = uniform(rng, &[e, horizon, obs_dim]) * valid.unsqueeze(2);
        let actions = uniform(rng, &[e, horizon, action_dim]) * valid.unsqueeze(2);
        let rewards = uniform(rng, &[e, horizon]) * &valid;
        Episodes { obs, actions, rewards, lengths: lengths.to_vec() }
    }

    fn rows(t: &Tensor, i: usize, len: i64) -> Tensor {
        t.get(i as i64).narrow(0, 0, len)
    }

    fn obs_rows(&self, i: usize) -> Vec<f32> {
        Vec::<f32>::try_from(Self::rows(&self.obs, i, self.lengths[i]).reshape([-1])).unwrap()
    }

    fn rewards(&self, i: usize, bonus: f64) -> Vec<f64> {
        Vec::<f32>::try_from(Self::rows(&self.rewards, i, self.lengths[i]).contiguous()).unwrap().into_iter().map(|r| r as f64 + bonus).collect()
    }

    /// Each episode's advantages as `MamlRunner::batch` / `Rl2Runner::batch` compute them: the
    /// linear feature baseline fitted on these episodes, GAE(γ, λ), standardised over the batch
    /// if `center`. `bonus` is added to every reward (RL²'s entropy bonus).
    fn advantages(&self, discount: f64, lambda: f64, bonus: f64, center: bool) -> Vec<Vec<f64>> {
        let obs_dim = self.obs.size()[2] as usize;
        let obs: Vec<Vec<f32>> = (0..self.lengths.len()).map(|i| self.obs_rows(i)).collect();
        let rewards: Vec<Vec<f64>> = (0..self.lengths.len()).map(|i| self.rewards(i, bonus)).collect();
        let paths: Vec<PathObs> = obs.iter().map(|o| PathObs { obs: o, obs_dim }).collect();
        let slices: Vec<&[f64]> = rewards.iter().map(Vec::as_slice).collect();
        let mut advantages = fit_and_advantages(&mut LinearFeatureBaseline::default(), &paths, &slices, discount, lambda).unwrap();
        if center {
            standardize_episodes(&mut advantages);
        }
        advantages
    }

    /// The valid steps of every episode, in order, as MAML's batch (`MamlRunner::batch`), in
    /// `kind` (the protocol's is float32).
    fn step_batch(&self, discount: f64, lambda: f64, kind: Kind) -> StepBatch {
        let advantages = Tensor::from_slice(&self.advantages(discount, lambda, 0.0, true).concat()).to_kind(kind);
        let cat = |t: &Tensor| Tensor::cat(&(0..self.lengths.len()).map(|i| Self::rows(t, i, self.lengths[i])).collect::<Vec<_>>(), 0).to_kind(kind);
        StepBatch { obs: cat(&self.obs), actions: cat(&self.actions), advantages }
    }

    fn put(&self, ex: &mut Exchange, prefix: &str) {
        ex.put(format!("{prefix}obs"), &self.obs);
        ex.put(format!("{prefix}actions"), &self.actions);
        ex.put(format!("{prefix}rewards"), &self.rewards);
        ex.put(format!("{prefix}lengths"), &Tensor::from_slice(&self.lengths));
    }
}

fn maml_settings() -> MamlSettings {
    MamlSettings {
        obs_dim: 3,
        action_dim: 2,
        hidden: vec![16, 16],
        init_std: 1.0,
        inner_lr: 0.1,
        num_grad_updates: 1,
        region: TrustRegion { max_kl: 0.01, cg_iters: 10, backtrack_ratio: 0.8, max_backtracks: 15, hvp_reg: 1e-5 },
    }
}

/// The policy's parameter names in `parameters()` order: `fc0.weight, fc0.bias, …, log_std`.
fn policy_names(settings: &MamlSettings) -> Vec<String> {
    let mut names: Vec<String> = (0..=settings.hidden.len()).flat_map(|i| [format!("policy.fc{i}.weight"), format!("policy.fc{i}.bias")]).collect();
    names.push("policy.log_std".into());
    names
}

fn put_maml_meta(ex: &mut Exchange, s: &MamlSettings, discount: f64, lambda: f64, horizon: i64, mode: f64, kind: Kind) {
    let r = &s.region;
    for (name, value) in [("mode", mode), ("double", (kind == Kind::Double) as i64 as f64), ("inner_lr", s.inner_lr), ("discount", discount), ("gae_lambda", lambda), ("max_episode_length", horizon as f64),
        ("max_kl", r.max_kl), ("cg_iters", r.cg_iters as f64), ("backtrack_ratio", r.backtrack_ratio), ("max_backtracks", r.max_backtracks as f64), ("hvp_reg", r.hvp_reg)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
}

/// θ' for five tasks, one inner step each (two for the last), from the same θ: the adapted
/// parameters and each batch's advantages against garage's `_process_samples` + `_adapt`.
#[test]
fn maml_inner_step_matches_garage() {
    tch::manual_seed(0);
    let settings = maml_settings();
    let (discount, lambda, horizon) = (0.99, 0.97, 8);
    let maml = MamlTrpo::new(settings.clone(), Device::Cpu);
    let names = policy_names(&settings);
    let theta = shallow_copies(maml.policy.parameters());
    let mut ex = Exchange::new("maml_trpo");
    put_maml_meta(&mut ex, &settings, discount, lambda, horizon, 0.0, Kind::Float);
    ex.put_vars("init", &maml.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for step in 0..STEPS {
        let updates = if step == STEPS - 1 { 2 } else { 1 };
        let mut batches = Vec::new();
        for j in 0..updates {
            // Episodes that end early (the padding is zeros), as garage's padded batches.
            let lengths: Vec<i64> = (0..3).map(|_| rng.gen_range(4..=horizon)).collect();
            let episodes = Episodes::draw(&mut rng, &lengths, horizon, settings.obs_dim, settings.action_dim);
            episodes.put(&mut ex, &format!("step{step}/in/batch{j}_"));
            let batch = episodes.step_batch(discount, lambda, Kind::Float);
            ex.put(format!("step{step}/loss/advantages{j}"), &batch.advantages);
            batches.push(batch);
        }
        // With and without the graph (the outer step uses both): the same values.
        let adapted = maml.adapt(&theta, &batches, step % 2 == 0);
        for (name, p) in names.iter().zip(&adapted) {
            ex.put(format!("step{step}/param/{name}"), p);
        }
    }
    ex.check();
}

/// The search direction s = A⁻¹g and the largest step β at the current θ, as `meta_step` takes them.
fn search_direction(maml: &MamlTrpo, tasks: &[TaskData]) -> (Tensor, f64) {
    let theta = shallow_copies(maml.policy.parameters());
    let old = maml.adapted_policies(&theta, tasks);
    let (_, grad, hvp) = maml.outer_problem(&theta, tasks, &old);
    let (direction, beta) = onpolicy::search_direction(&grad, &hvp, &maml.settings.region);
    (direction.detach(), beta)
}

/// Five outer TRPO steps, each on a fresh meta-batch of three tasks (adaptation and post-update
/// episodes): the surrogate before and after, the CG direction, the maximal step, the fraction
/// the line search accepts, the KL after and θ, against garage's `MAML._train_once`.
#[test]
fn maml_trpo_outer_step_matches_garage() {
    tch::manual_seed(1);
    let settings = maml_settings();
    let (discount, lambda, horizon, tasks_per_step) = (0.99, 0.97, 8, 3);
    let mut maml = MamlTrpo::new(settings.clone(), Device::Cpu);
    // In double precision: ten CG iterations on the damped Fisher of a 400-parameter policy are
    // far from converged, and in float32 the direction they reach depends on the rounding of the
    // Hessian-vector products (a reference run in float32 and in float64 from the same file
    // disagree by 40%), so float32 would compare rounding, not the update. The initial weights
    // are float32 values, so both sides start from the same θ.
    maml.vars.double();
    let mut ex = Exchange::new("maml_trpo");
    put_maml_meta(&mut ex, &settings, discount, lambda, horizon, 1.0, Kind::Double);
    ex.put_vars("init", &maml.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut accepted = 0;
    for step in 0..STEPS {
        let mut tasks = Vec::new();
        for t in 0..tasks_per_step {
            // Full-length episodes: garage's KL averages over the padded observations too.
            let mut batch = |kind: &str| {
                let episodes = Episodes::draw(&mut rng, &[horizon; 3], horizon, settings.obs_dim, settings.action_dim);
                episodes.put(&mut ex, &format!("step{step}/in/task{t}_{kind}_"));
                let batch = episodes.step_batch(discount, lambda, Kind::Double);
                ex.put(format!("step{step}/loss/task{t}_{kind}_advantages"), &batch.advantages);
                batch
            };
            let adaptation = batch("adapt");
            let validation = batch("valid");
            tasks.push(TaskData { adaptation: vec![adaptation], validation });
        }
        let before = flatten(maml.policy.parameters()).detach().copy();
        let (direction, beta) = search_direction(&maml, &tasks);
        let outcome = maml.meta_step(&tasks);
        let after = flatten(maml.policy.parameters()).detach();
        // The full step meta_step took, β·s, from how far θ moved (zero if it was rejected): ties
        // the direction and β above to the step itself.
        let full_step = if outcome.step_fraction > 0.0 { (&before - &after) / outcome.step_fraction } else { before.zeros_like() };
        accepted += (outcome.step_fraction > 0.0) as usize;
        ex.put(format!("step{step}/loss/full_step"), &full_step);
        for (name, value) in [("loss_before", outcome.loss_before), ("loss_after", outcome.loss_after), ("kl_after", outcome.kl_after), ("step_fraction", outcome.step_fraction), ("step_size", beta)] {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        ex.put(format!("step{step}/loss/cg_direction"), &direction);
        ex.put_vars(&format!("step{step}/param"), &maml.vars);
    }
    ex.check();
    assert!(accepted >= 3, "the line search accepted only {accepted} of {STEPS} steps: the test would not exercise the step");
}

/// Five PPO updates, each on a fresh batch of eleven trials (minibatches of two, so six
/// minibatch steps per epoch, the last of one trial), two epochs each: the batch's advantages
/// and old log-probabilities, the losses and θ after each update, against garage's `RL2PPO`
/// (`NPO` with `pg_loss='surrogate_clip'`, `FirstOrderOptimizer`). The first three updates run
/// garage's `entropy_method='max'` (ML1's 0.02) on full trials, the last two no entropy bonus on
/// trials that end early (padding masked out). The minibatch order is the update's draw.
/// Where ours departs from garage (the entropy bonus frozen at the policy before the update,
/// advantages standardised over the whole batch) see tools/reference_updates/rl2_ppo.py.
#[test]
fn rl2_ppo_epoch_matches_garage() {
    tch::manual_seed(2);
    let (obs_dim, action_dim) = (2, 2);
    let settings = Rl2Settings { input_dim: obs_dim + action_dim + 2, action_dim, hidden: 16, init_std: 1.0, lr: 3e-3, clip: 0.2, epochs: 2, minibatch_trials: 2 };
    let (trials, horizon, discount, lambda, center_adv) = (11usize, 12i64, 0.99, 0.95, false);
    let mut ppo = Rl2Ppo::new(settings.clone(), Device::Cpu);
    let mut ex = Exchange::new("rl2_ppo");
    for (name, value) in [("lr", settings.lr), ("clip", settings.clip), ("epochs", settings.epochs as f64), ("minibatch_trials", settings.minibatch_trials as f64),
        ("discount", discount), ("gae_lambda", lambda), ("max_episode_length", horizon as f64), ("center_adv", center_adv as i64 as f64),
        // garage recomputes the entropy bonus with the current policy at every minibatch step;
        // ours adds the bonus of the policy before the update (src/protocol/onpolicy/rl2.rs
        // `batch`). The reference restates ours (0) and reports how far garage's would drift.
        ("live_entropy_bonus", 0.0)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    ex.put_vars("init", &ppo.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for step in 0..STEPS {
        let entropy_coeff = if step < 3 { 0.02 } else { 0.0 };
        let lengths: Vec<i64> = (0..trials).map(|_| if step < 3 { horizon } else { rng.gen_range(5..=horizon) }).collect();
        let episodes = Episodes::draw(&mut rng, &lengths, horizon, settings.input_dim, action_dim);
        episodes.put(&mut ex, &format!("step{step}/in/"));
        ex.put_scalar(format!("step{step}/in/entropy_coeff"), entropy_coeff);

        // `Rl2Runner::batch`: the entropy bonus of the policy before the update on every reward,
        // the baseline fitted on the trials' inputs, GAE over each trial, padding masked.
        let entropy = tch::no_grad(|| ppo.policy.entropy()).double_value(&[]);
        let advantages = episodes.advantages(discount, lambda, entropy_coeff * entropy, center_adv);
        let padded: Vec<f32> = advantages.iter().flat_map(|a| (0..horizon as usize).map(move |t| a.get(t).copied().unwrap_or(0.0) as f32)).collect();
        let mask: Vec<f32> = lengths.iter().flat_map(|&l| (0..horizon).map(move |t| (t < l) as i64 as f32)).collect();
        let (advantages, mask) = (Tensor::from_slice(&padded).view([trials as i64, horizon]), Tensor::from_slice(&mask).view([trials as i64, horizon]));
        let old_log_probs = tch::no_grad(|| ppo.policy.trials(&episodes.obs).log_prob(&episodes.actions));
        let batch = TrialBatch { inputs: episodes.obs.shallow_clone(), actions: episodes.actions.shallow_clone(), advantages, old_log_probs, mask };

        // The minibatch order: the update shuffles the trial indices once per epoch.
        let mut probe = rng.clone();
        let mut order: Vec<i64> = (0..trials as i64).collect();
        let mut orders = Vec::new();
        for _ in 0..settings.epochs {
            order.shuffle(&mut probe);
            orders.extend_from_slice(&order);
        }
        let losses = ppo.update(&batch, &mut rng);
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the update drew other randomness than one shuffle per epoch");

        ex.put(format!("step{step}/in/order"), &Tensor::from_slice(&orders).view([settings.epochs as i64, trials as i64]));
        ex.put(format!("step{step}/loss/advantages"), &batch.advantages);
        ex.put(format!("step{step}/loss/old_log_probs"), &batch.old_log_probs);
        for (name, value) in [("loss_before", losses.loss_before), ("loss_after", losses.loss_after), ("kl", losses.kl), ("entropy", losses.entropy)] {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        ex.put_vars(&format!("step{step}/param"), &ppo.vars);
    }
    ex.check();
}
