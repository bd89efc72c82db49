//! MCAT's context encoder C, forward model F (`ContextModels::model_step`, Eq. 1 + Eq. 2) and
//! action translator H (`ContextModels::translator_step`, Eq. 3 through the fixed F) against the
//! authors' modules and training loops (guoyijie/MCAT, "Table 1 Replicate"), restated in
//! tools/reference_updates/mcat.py: five steps from the same weights, normalisation statistics and
//! batches, every loss and parameter compared after each (tests/exchange/mod.rs). Neither step
//! takes a random stream or draws from torch's generator: the batches are the only inputs, so
//! there is no noise to share.

mod exchange;

use exchange::{uniform, Exchange};
use metarl::algos::mcat::{translation_targets, ContextModels, McatSettings, TranslatorLoss};
use metarl::protocol::buffer::{Batch, Trajectory};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 5;
const TASKS: usize = 3;


/// The authors' shapes at a small width. The L2 penalty's weight is raised from their 1 so that
/// its term moves the parameters well past the tolerance.
fn settings() -> McatSettings {
    McatSettings {
        obs_dim: 3,
        action_dim: 2,
        z_dim: 4,
        history: 3,
        context_hidden: vec![16, 12, 8],
        forward_hidden: vec![16, 16, 16],
        translator_embedding: 8,
        translator_hidden: vec![16, 16],
        model_lr: 1e-3,
        translator_lr: 1e-3,
        margin: 0.6,
        contrastive_weight: 0.5,
        squared_hinge: true,
        weight_decay: 30.0,
        translator_loss: TranslatorLoss::L1,
    }
}

/// The settings, and the normalisation statistics as mean and deviation per stream.
fn put_settings(ex: &mut Exchange, s: &McatSettings, models: &ContextModels) {
    for (name, value) in [("obs_dim", s.obs_dim as f64), ("action_dim", s.action_dim as f64), ("z_dim", s.z_dim as f64), ("history", s.history as f64),
        ("model_lr", s.model_lr), ("translator_lr", s.translator_lr), ("margin", s.margin), ("contrastive_weight", s.contrastive_weight),
        ("weight_decay", s.weight_decay), ("tasks", TASKS as f64)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    let norm = &models.normalization;
    for (name, stats) in [("obs", &norm.obs), ("actions", &norm.actions), ("delta", &norm.delta), ("context_actions", &norm.context_actions)] {
        let (mean, std) = stats.moments();
        let column = |v: Vec<f64>| Tensor::from_slice(&v.into_iter().map(|x| x as f32).collect::<Vec<_>>());
        ex.put(format!("meta/norm_{name}_mean"), &column(mean));
        ex.put(format!("meta/norm_{name}_std"), &column(std));
    }
}

/// Episodes whose states, actions and changes of state have means and spreads far from 0 and 1,
/// so that normalising by them matters.
fn observed_episodes(models: &mut ContextModels, rng: &mut ChaCha8Rng) {
    let s = &models.settings;
    let (obs_dim, action_dim) = (s.obs_dim as usize, s.action_dim as usize);
    for _ in 0..3 {
        let steps = 12;
        let draw = |rng: &mut ChaCha8Rng, n: usize, scale: f64, offset: f64| (0..n).map(|i| offset + (i % 3) as f64 + scale * rng.gen_range(-1.0..1.0)).collect::<Vec<f64>>();
        let obs = draw(rng, steps * obs_dim, 3.0, 2.0);
        let next_obs = obs.iter().map(|o| o + 0.5 + 0.2 * rng.gen_range(-1.0..1.0)).collect();
        let episode = Trajectory {
            obs,
            actions: draw(rng, steps * action_dim, 0.4, -0.3),
            next_obs,
            rewards: vec![0.0; steps],
            context_rewards: vec![0.0; steps],
            terminals: vec![false; steps],
            success: None,
        };
        models.observe(&episode);
    }
}

/// `n` segments of `length` rows (uniform draws everywhere, also where the mask is 0, so a mask
/// left out shows) and their mask as `sample_segments` gives it: up to `lead` rows before the
/// trajectory's start, the row at `anchor` always real, up to `length − anchor − 1` rows past its end.
fn segments(rng: &mut ChaCha8Rng, n: i64, length: i64, anchor: i64, lead: i64, s: &McatSettings) -> (Batch, Tensor) {
    let rewards = uniform(rng, &[n, length, 1]);
    let batch = Batch {
        obs: uniform(rng, &[n, length, s.obs_dim]),
        actions: uniform(rng, &[n, length, s.action_dim]),
        sparse_rewards: rewards.copy(),
        rewards,
        next_obs: uniform(rng, &[n, length, s.obs_dim]),
        terminals: Tensor::zeros([n, length, 1], (Kind::Float, Device::Cpu)),
    };
    let mut mask = vec![0.0f32; (n * length) as usize];
    for k in 0..n {
        let start = anchor - rng.gen_range(0..=lead);
        let end = anchor + 1 + rng.gen_range(0..length - anchor);
        for i in start..end {
            mask[(k * length + i) as usize] = 1.0;
        }
    }
    (batch, Tensor::from_slice(&mask).view([n, length]))
}

fn put_segments(ex: &mut Exchange, prefix: &str, batch: &Batch, mask: &Tensor) {
    for (name, t) in [("obs", &batch.obs), ("actions", &batch.actions), ("next_obs", &batch.next_obs), ("mask", mask)] {
        ex.put(format!("{prefix}{name}"), t);
    }
}

/// Task i's state changes shifted by i (rows `[tasks·per_task, ..]`, task by task), so C has
/// something to tell the tasks apart by.
fn shift_by_task(mut batch: Batch, per_task: i64) -> Batch {
    let size = batch.next_obs.size();
    let task = Tensor::arange(TASKS as i64, (Kind::Float, Device::Cpu)).repeat_interleave_self_int(per_task, 0, None);
    let shape: Vec<i64> = std::iter::once(size[0]).chain(std::iter::repeat(1).take(size.len() - 1)).collect();
    batch.next_obs = &batch.next_obs + task.view(shape.as_slice());
    batch
}

/// Segments of K history rows + M = 3 future rows, `per_task` for each task, task by task.
fn model_batch(rng: &mut ChaCha8Rng, per_task: i64, s: &McatSettings) -> (Batch, Tensor) {
    let k = s.history as i64;
    segments(rng, TASKS as i64 * per_task, k + 3, k, k, s)
}

/// One translator step's inputs, in the protocol's order (src/protocol/mcat.rs `update`): each
/// task's history segments for its feature z⁽ⁱ⁾, then source rows task by task, each row with
/// another task as its target.
struct TranslatorInputs {
    feature_segments: Vec<(Batch, Tensor)>,
    batch: Batch,
    sources: Tensor,
    targets: Tensor,
}

fn translator_inputs(rng: &mut ChaCha8Rng, s: &McatSettings) -> TranslatorInputs {
    let (k, rows_per_task) = (s.history as i64, 8usize);
    let feature_segments = (0..TASKS)
        .map(|task| {
            let (history, mask) = segments(rng, 5, k, k - 1, k - 1, s);
            (Batch { next_obs: &history.next_obs + task as f64, ..history }, mask)
        })
        .collect();
    let n = (TASKS * rows_per_task) as i64;
    let rewards = uniform(rng, &[n, 1]);
    let batch = Batch {
        obs: uniform(rng, &[n, s.obs_dim]),
        actions: uniform(rng, &[n, s.action_dim]),
        sparse_rewards: rewards.copy(),
        rewards,
        next_obs: uniform(rng, &[n, s.obs_dim]),
        terminals: Tensor::zeros([n, 1], (Kind::Float, Device::Cpu)),
    };
    let sources: Vec<usize> = (0..TASKS).flat_map(|j| std::iter::repeat(j).take(rows_per_task)).collect();
    let targets = translation_targets(&sources, TASKS, rng);
    let index = |rows: &[usize]| Tensor::from_slice(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>());
    TranslatorInputs { feature_segments, batch, sources: index(&sources), targets: index(&targets) }
}

/// The features z⁽ⁱ⁾ (`task_feature`), then `translator_step` with each row's source and target.
fn translator_step(models: &mut ContextModels, x: &TranslatorInputs) -> f64 {
    let features = Tensor::stack(&x.feature_segments.iter().map(|(history, mask)| models.task_feature(history, mask)).collect::<Vec<_>>(), 0);
    models.translator_step(&x.batch, &features.index_select(0, &x.sources), &features.index_select(0, &x.targets))
}

/// Models with `s`'s settings and fresh optimisers, their normalisation statistics from a few
/// episodes, their weights from 40 C/F steps on task-shifted segments at a larger rate and
/// margin, then 10 H steps at a larger rate: F then
/// depends on the action and on z, Eq. 2 has pushed the tasks' contexts apart and H's actions
/// reach where tanh bends, so every term of the steps under test matters.
fn warmed_up(s: &McatSettings, seed: i64, rng: &mut ChaCha8Rng) -> ContextModels {
    tch::manual_seed(seed);
    let faster = McatSettings { model_lr: 1e-2, translator_lr: 1e-2, margin: 1.0, contrastive_weight: 1.0, ..s.clone() };
    let mut warm = ContextModels::new(faster, Device::Cpu);
    observed_episodes(&mut warm, rng);
    for _ in 0..40 {
        let (batch, mask) = model_batch(rng, 4, s);
        warm.model_step(&shift_by_task(batch, 4), &mask, TASKS);
    }
    for _ in 0..10 {
        let x = translator_inputs(rng, s);
        translator_step(&mut warm, &x);
    }
    let mut models = ContextModels::new(s.clone(), Device::Cpu);
    let fresh: HashMap<String, Tensor> = models.state().into_iter().collect();
    let saved: HashMap<String, Tensor> = warm.state().into_iter().filter(|(name, _)| !name.starts_with("adam.")).chain(fresh.into_iter().filter(|(name, _)| name.starts_with("adam."))).collect();
    models.load_state(&saved).unwrap();
    models
}

#[test]
fn mcat_model_step_matches_the_authors_models() {
    let _turn = exchange::one_at_a_time();
    let s = settings();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut models = warmed_up(&s, 0, &mut rng);
    let mut ex = Exchange::new("mcat");
    put_settings(&mut ex, &s, &models);
    ex.put_scalar("meta/check_translator", 0.0);
    ex.put_vars("init", &models.vars);

    for step in 0..STEPS {
        let (batch, mask) = model_batch(&mut rng, 4, &s);
        let batch = shift_by_task(batch, 4);
        let losses = models.model_step(&batch, &mask, TASKS);
        put_segments(&mut ex, &format!("step{step}/in/"), &batch, &mask);
        ex.put_scalar(format!("step{step}/loss/forward_loss"), losses.forward_loss);
        ex.put_scalar(format!("step{step}/loss/contrastive_loss"), losses.contrastive_loss);
        ex.put_vars(&format!("step{step}/param"), &models.vars);
    }
    ex.check();
}

#[test]
fn mcat_translator_step_matches_the_authors_models() {
    let _turn = exchange::one_at_a_time();
    let s = settings();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut models = warmed_up(&s, 1, &mut rng);
    let mut ex = Exchange::new("mcat");
    put_settings(&mut ex, &s, &models);
    ex.put_scalar("meta/check_translator", 1.0);
    ex.put_vars("init", &models.vars);

    for step in 0..STEPS {
        let x = translator_inputs(&mut rng, &s);
        let loss = translator_step(&mut models, &x);
        for (task, (history, mask)) in x.feature_segments.iter().enumerate() {
            put_segments(&mut ex, &format!("step{step}/in/feature{task}_"), history, mask);
        }
        for (name, t) in [("obs", &x.batch.obs), ("actions", &x.batch.actions), ("next_obs", &x.batch.next_obs), ("sources", &x.sources), ("targets", &x.targets)] {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        ex.put_scalar(format!("step{step}/loss/translator_loss"), loss);
        ex.put_vars(&format!("step{step}/param"), &models.vars);
    }
    ex.check();
}
