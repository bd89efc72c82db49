//! PEARL's SAC step (`Sac::train_step` with a context encoder) against oyster's `_take_step`,
//! restated in tools/reference_updates/pearl.py: five steps from the same weights, batches and
//! noise, every loss and parameter compared after each (tests/exchange/mod.rs).

mod exchange;

use exchange::{meta_batch, uniform, Exchange};
use metarl::algos::sac::{standard_normal, ContextSettings, Sac, SacSettings, TaskVariable};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

const STEPS: usize = 5;

#[test]
fn pearl_sac_step_matches_oysters_take_step() {
    tch::manual_seed(0);
    let (obs_dim, action_dim, latent, tasks, b, context_rows) = (3, 2, 2, 3, 8, 6);
    let settings = SacSettings {
        obs_dim, action_dim, z_dim: latent, net_size: 16, discount: 0.99, reward_scale: 5.0, soft_target_tau: 0.005,
        policy_lr: 3e-4, qf_lr: 3e-4, vf_lr: 3e-4, policy_reg_weight: 1e-3,
    };
    let context = ContextSettings { input_dim: obs_dim + action_dim + 1, hidden: vec![16, 16], lr: 3e-4, kl_lambda: 0.1 };
    let mut ex = Exchange::new("pearl");
    for (name, value) in [("latent", latent as f64), ("reward_scale", settings.reward_scale), ("discount", settings.discount), ("soft_target_tau", settings.soft_target_tau),
        ("kl_lambda", context.kl_lambda), ("policy_reg_weight", settings.policy_reg_weight), ("policy_lr", settings.policy_lr), ("qf_lr", settings.qf_lr),
        ("vf_lr", settings.vf_lr), ("context_lr", context.lr)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    let width = context.input_dim;
    let mut sac = Sac::new(settings, Device::Cpu, Some(context));
    // rlkit's last layers start at ±3e-3, where Q1 and Q2 are near 0 and one of them is the
    // smaller on every row; with Q1's scaled up, min(Q1, Q2) picks each on some rows.
    tch::no_grad(|| {
        for (name, var) in sac.vars.variables() {
            if name.starts_with("qf1.last_fc") {
                let _ = var.shallow_clone().g_mul_scalar_(300.0);
            }
        }
    });
    ex.put_vars("init", &sac.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for step in 0..STEPS {
        let batch = meta_batch(&mut rng, tasks, b, obs_dim, action_dim);
        let context = uniform(&mut rng, &[tasks, context_rows, width]);
        // The step draws z's noise, then the policy's: the same draws from a copy of the stream.
        let mut probe = rng.clone();
        let z_noise = standard_normal(&mut probe, tasks, latent, Device::Cpu);
        let policy_noise = standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu);
        let losses = sac.train_step(&batch, TaskVariable::Context(context.shallow_clone()), &mut rng);
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the step drew other noise than z's and the policy's");

        let inputs: [(&str, &Tensor); 8] = [("obs", &batch.obs), ("actions", &batch.actions), ("rewards", &batch.rewards), ("next_obs", &batch.next_obs),
            ("terminals", &batch.terminals), ("context", &context), ("z_noise", &z_noise), ("policy_noise", &policy_noise)];
        for (name, t) in inputs {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        for (name, value) in [("qf_loss", losses.qf_loss), ("vf_loss", losses.vf_loss), ("policy_loss", losses.policy_loss), ("kl_divergence", losses.kl_divergence)] {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        ex.put_vars(&format!("step{step}/param"), &sac.vars);
    }
    ex.check();
}
