//! FOCAL's offline gradient step against FOCAL-ICLR's `_take_step`, restated in
//! tools/reference_updates/focal.py: the SAC core with BRAC (dual critic, its gradient penalty,
//! α's dual step, the value penalty) and the deterministic encoder's metric loss, five steps from
//! the same weights, batches and noise, every loss and parameter compared after each
//! (tests/exchange/mod.rs). A smaller test checks the dual critic's step alone in both penalty
//! forms.

mod exchange;

use exchange::{meta_batch, uniform, Exchange};
use metarl::algos::brac::{Brac, BracSettings, CriticBatch, PenaltyForm};
use metarl::algos::focal::{metric_loss, MetricLoss, SameTaskTerm, TaskEncoder};
use metarl::algos::sac::{standard_normal, Sac, SacSettings, TaskVariable};
use metarl::nn::{variables_under, Adam};
use metarl::protocol::buffer::Batch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 5;

/// BRAC's interpolation mixes: one uniform [0, 1) per row, as `Brac::gradient_penalty` draws them.
fn mixes(rng: &mut ChaCha8Rng, rows: i64) -> Tensor {
    let values: Vec<f32> = (0..rows).map(|_| rng.gen_range(0.0f32..1.0)).collect();
    Tensor::from_slice(&values).view([rows, 1])
}

/// The dual critic's last layer scaled up so that the penalty bites on part of the batch: it is
/// zero for a slope ≤ 1, and rlkit's 3e-3 last-layer init keeps both |c| and ‖∇ã c‖ below 1.
fn widen_the_critics_output(vars: &VarStore, form: PenaltyForm) {
    match form {
        PenaltyForm::Output => scale_last_layer(vars, "dual_critic", 1000.0, Some(0.9)),
        PenaltyForm::InputGradient => scale_last_layer(vars, "dual_critic", 3000.0, None),
    }
}

/// `prefix.last_fc.weight` times `factor`, its bias set to `bias` where given.
fn scale_last_layer(vars: &VarStore, prefix: &str, factor: f64, bias: Option<f64>) {
    tch::no_grad(|| {
        for (name, var) in vars.variables() {
            if name == format!("{prefix}.last_fc.weight") {
                let _ = var.shallow_clone().g_mul_scalar_(factor);
            } else if let (true, Some(b)) = (name == format!("{prefix}.last_fc.bias"), bias) {
                let _ = var.shallow_clone().fill_(b);
            }
        }
    });
}

/// α's raw variable starts above alpha_max, so the losses first read it clamped; a step of α's
/// dual ascent (alpha_lr · (D̂ − target)) is large enough to cross the bound within five steps.
fn brac_settings(penalty_form: PenaltyForm, value_penalty: bool) -> BracSettings {
    BracSettings { value_penalty, alpha_init: 2.0, alpha_max: 1.9, alpha_lr: 0.5, target_divergence: 0.05, dual_critic_lr: 1e-3, gradient_penalty: 5.0, penalty_form }
}

fn put_brac_meta(ex: &mut Exchange, s: &BracSettings) {
    let form = match s.penalty_form {
        PenaltyForm::Output => 0.0,
        PenaltyForm::InputGradient => 1.0,
    };
    for (name, value) in [("penalty_form", form), ("value_penalty", f64::from(u8::from(s.value_penalty))), ("alpha_max", s.alpha_max), ("alpha_lr", s.alpha_lr),
        ("target_divergence", s.target_divergence), ("dual_critic_lr", s.dual_critic_lr), ("gradient_penalty", s.gradient_penalty)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
}

/// `Brac::critic_step` alone (rlkit/torch/brac/divergences.py `dual_critic_loss`) on fresh
/// uniform batches, in FOCAL-ICLR's penalty form and in BRAC's (google-research) input-gradient form.
#[test]
fn brac_dual_critic_step_matches_divergences_py() {
    let _turn = exchange::one_at_a_time();
    for form in [PenaltyForm::Output, PenaltyForm::InputGradient] {
        tch::manual_seed(1);
        let (obs_dim, action_dim, latent, rows) = (3, 2, 2, 24);
        let vars = VarStore::new(Device::Cpu);
        let settings = brac_settings(form, false);
        let mut brac = Brac::new(&vars, obs_dim + action_dim + latent, &[16, 16, 16], settings.clone());
        widen_the_critics_output(&vars, form);
        let mut ex = Exchange::new("focal");
        ex.put_scalar("meta/mode", 0.0);
        put_brac_meta(&mut ex, &settings);
        ex.put_vars("init", &vars);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for step in 0..STEPS {
            let obs = uniform(&mut rng, &[rows, obs_dim]);
            let policy_actions = uniform(&mut rng, &[rows, action_dim]);
            let data_actions = uniform(&mut rng, &[rows, action_dim]);
            let z = uniform(&mut rng, &[rows, latent]);
            let mut probe = rng.clone();
            let mix = mixes(&mut probe, rows);
            let loss = brac.critic_step(&CriticBatch { obs: &obs, policy_actions: &policy_actions, data_actions: &data_actions, z: &z }, &mut rng);
            assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the critic step drew other noise than its mixes");
            for (name, t) in [("obs", &obs), ("policy_actions", &policy_actions), ("data_actions", &data_actions), ("z", &z), ("mix", &mix)] {
                ex.put(format!("step{step}/in/{name}"), t);
            }
            ex.put_scalar(format!("step{step}/loss/dual_critic_loss"), loss);
            ex.put_vars(&format!("step{step}/param"), &vars);
        }
        ex.check();
    }
}

/// One FOCAL gradient step as src/protocol/offline/train.rs `OfflineTrainer::gradient_step`
/// composes it (default, decoupled: `allow_backward_z` and `encoder_step_before_bellman` off): the
/// encoder embeds the contexts, its weighted metric loss is backpropagated, the SAC + BRAC step runs
/// on z detached with the dual critic's extra batches, then the encoder's optimiser steps.
/// (`gradient_step` samples from the datasets itself; the lines below are its body on given data.)
#[test]
fn focal_step_matches_focal_iclr() {
    let _turn = exchange::one_at_a_time();
    tch::manual_seed(0);
    let (obs_dim, action_dim, latent, b, context_rows) = (3, 2, 2, 8, 6);
    // Tasks drawn with replacement (FOCAL-ICLR `mb_replace`): same-task and different-task pairs.
    let indices = [0usize, 1, 0, 2];
    let tasks = indices.len() as i64;
    let settings = SacSettings {
        obs_dim, action_dim, z_dim: latent, net_size: 16, discount: 0.99, reward_scale: 5.0, soft_target_tau: 0.005,
        policy_lr: 3e-4, qf_lr: 3e-4, vf_lr: 3e-4, policy_reg_weight: 1e-3,
    };
    let brac = brac_settings(PenaltyForm::Output, true);
    let (context_lr, z_loss_weight, dual_critic_steps) = (3e-4, 10.0, 3);
    let metric = MetricLoss::InversePower { power: 2.0, beta: 1.0, epsilon: 0.1 };
    let width = obs_dim + action_dim + 1;

    let mut sac = Sac::new(settings.clone(), Device::Cpu, None).with_behaviour_regularisation(brac.clone());
    let encoder = TaskEncoder::new(&(sac.vars.root() / "context_encoder"), false, width, &[16, 16], latent);
    let mut encoder_optimizer = Adam::new(variables_under(&sac.vars, "context_encoder"), context_lr);
    widen_the_critics_output(&sac.vars, PenaltyForm::Output);
    // Embeddings well inside tanh's curve: at rlkit's 3e-3 init z is nearly linear in the last
    // bias, whose metric-loss gradient then vanishes to rounding noise that Adam scales to ±lr.
    scale_last_layer(&sac.vars, "context_encoder", 300.0, None);

    let mut ex = Exchange::new("focal");
    ex.put_scalar("meta/mode", 1.0);
    put_brac_meta(&mut ex, &brac);
    for (name, value) in [("latent", latent as f64), ("reward_scale", settings.reward_scale), ("discount", settings.discount), ("soft_target_tau", settings.soft_target_tau),
        ("policy_reg_weight", settings.policy_reg_weight), ("policy_lr", settings.policy_lr), ("qf_lr", settings.qf_lr), ("vf_lr", settings.vf_lr),
        ("context_lr", context_lr), ("z_loss_weight", z_loss_weight),
        // Two differences from FOCAL-ICLR, reported as findings and restated here as ours so the
        // rest of the step stays pinned (the authors' forms: 1e-3 and 0.0; each fails this test).
        // FOCAL-ICLR's z_loss divides each pair sum by its count + 1e-3 (sac.py:239); ours
        // (src/algos/focal.rs `metric_loss`) by the count: the metric loss is off by 1e-3/count
        // relative (parameters move alike, Adam drops the scale).
        ("pair_count_epsilon", 0.0),
        // The policy's gradient of α·D̂: under torch 1.2 FOCAL-ICLR backpropagates through the
        // pre-step D̂ graph with the stepped weights read in place (pre-step activations); ours
        // (src/algos/sac.rs) through the critic re-evaluated after its steps.
        ("stepped_critic_gradient", 1.0)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    ex.put("meta/indices", &Tensor::from_slice(&indices.map(|i| i as i64)));
    ex.put_vars("init", &sac.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for step in 0..STEPS {
        let context = uniform(&mut rng, &[tasks, context_rows, width]);
        let batch = meta_batch(&mut rng, tasks, b, obs_dim, action_dim);
        let fresh: Vec<Batch> = (1..dual_critic_steps).map(|_| meta_batch(&mut rng, tasks, b, obs_dim, action_dim)).collect();
        // The step draws the policy's noise, the critic step's mixes, then per extra batch the
        // policy's noise and that critic step's mixes.
        let mut probe = rng.clone();
        let policy_noise = standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu);
        let mut critic_noise = vec![mixes(&mut probe, tasks * b)];
        for _ in &fresh {
            critic_noise.push(standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu));
            critic_noise.push(mixes(&mut probe, tasks * b));
        }

        // train.rs gradient_step: encode, metric loss · weight backward, SAC on z detached, encoder step.
        let encoding = encoder.encode(&context, &Tensor::zeros([tasks, latent], (Kind::Float, Device::Cpu)));
        let metric_value = metric_loss(&encoding.z, &indices, SameTaskTerm::Distance, metric);
        encoder_optimizer.zero_grad();
        (&metric_value * z_loss_weight).backward();
        let losses = sac.train_step_with_critic_batches(&batch, TaskVariable::Given(encoding.z.detach()), &fresh, &mut rng);
        encoder_optimizer.step();
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the step drew other noise than the policy's and the critic's");

        let mut inputs: Vec<(String, &Tensor)> = vec![("context".into(), &context), ("policy_noise".into(), &policy_noise)];
        for (k, extra) in std::iter::once(&batch).chain(&fresh).enumerate() {
            for (name, t) in [("obs", &extra.obs), ("actions", &extra.actions), ("rewards", &extra.rewards), ("next_obs", &extra.next_obs), ("terminals", &extra.terminals)] {
                inputs.push((format!("batch{k}/{name}"), t));
            }
        }
        inputs.push(("mix0".into(), &critic_noise[0]));
        for k in 1..dual_critic_steps {
            inputs.push((format!("policy_noise{k}"), &critic_noise[2 * k - 1]));
            inputs.push((format!("mix{k}"), &critic_noise[2 * k]));
        }
        for (name, t) in inputs {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        for (name, value) in [("qf_loss", Some(losses.qf_loss)), ("vf_loss", Some(losses.vf_loss)), ("policy_loss", Some(losses.policy_loss)),
            ("dual_critic_loss", losses.dual_critic_loss), ("divergence", losses.divergence), ("alpha", losses.alpha), ("metric_loss", Some(metric_value.double_value(&[])))]
        {
            ex.put_scalar(format!("step{step}/loss/{name}"), value.expect("BRAC reports its losses"));
        }
        ex.put_vars(&format!("step{step}/param"), &sac.vars);
    }
    ex.check();
}
