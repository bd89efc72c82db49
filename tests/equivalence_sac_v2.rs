//! Oracle SAC's step (`SacV2::train_step`: twin critics, per-task learned α) against garage's
//! MTSAC (`SAC.optimize_policy` + `_update_targets`, `MTSAC._get_log_alpha`), restated in
//! tools/reference_updates/sac_v2.py: six steps from the same weights, batches and noise, every
//! loss and parameter (α's included) compared after each (tests/exchange/mod.rs). Three of four
//! train tasks per batch, a different three each step, so every task's α is stepped with and
//! without a gradient.

mod exchange;

use exchange::{meta_batch, uniform, Exchange};
use metarl::algos::sac::standard_normal;
use metarl::algos::sac_v2::{SacV2, SacV2Settings};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

const STEPS: usize = 6;

/// The learner's variables (its checkpoint's `net.` entries) under `prefix/`.
fn put_vars(ex: &mut Exchange, prefix: &str, sac: &SacV2) {
    let mut named: Vec<(String, Tensor)> = sac.state().into_iter().filter_map(|(n, t)| n.strip_prefix("net.").map(|v| (v.to_owned(), t))).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in named {
        ex.put(format!("{prefix}/{name}"), &t);
    }
}

#[test]
fn sac_v2_step_matches_garage_mtsac() {
    tch::manual_seed(0);
    let (obs_dim, action_dim, z_dim, num_tasks, tasks, b) = (3, 2, 2, 4, 3, 8);
    let settings = SacV2Settings {
        obs_dim, action_dim, z_dim, hidden: vec![16, 16], discount: 0.99, reward_scale: 2.0, tau: 0.05, policy_lr: 3e-3, qf_lr: 1e-3, num_tasks,
    };
    let mut ex = Exchange::new("sac_v2");
    for (name, value) in [("obs_dim", obs_dim as f64), ("action_dim", action_dim as f64), ("num_tasks", num_tasks as f64), ("discount", settings.discount),
        ("reward_scale", settings.reward_scale), ("tau", settings.tau), ("policy_lr", settings.policy_lr), ("qf_lr", settings.qf_lr)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    let mut sac = SacV2::new(settings, Device::Cpu);
    // rlkit's last-layer init (±1e-3, ±3e-3) leaves the policy's mean and every Q ≈ 0 whatever
    // the input, so a fault in how actions enter the critics would hardly show: scale the mean
    // head and the Q networks' last layers up (targets alike, so they stay copies). The checkpoint
    // tensors share the learner's storage.
    tch::no_grad(|| {
        for (name, var) in sac.state() {
            if name.starts_with("net.") && name.contains(".last_fc.") {
                let _ = var.shallow_clone().g_mul_scalar_(300.0);
            }
        }
    });
    put_vars(&mut ex, "init", &sac);

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for step in 0..STEPS {
        let batch = meta_batch(&mut rng, tasks, b, obs_dim, action_dim);
        let z = uniform(&mut rng, &[tasks, z_dim]);
        // Tasks {0..4} less one, rotating, in a rotating order.
        let task_ids: Vec<usize> = (0..tasks as usize).map(|i| (step + 1 + i) % num_tasks as usize).collect();
        // The step draws the next-action noise (critic target), then the policy's.
        let mut probe = rng.clone();
        let next_noise = standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu);
        let policy_noise = standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu);
        let losses = sac.train_step(&batch, &z, &task_ids, &mut rng);
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the step drew other noise than the next action's and the policy's");

        let ids = Tensor::from_slice(&task_ids.iter().map(|&t| t as i64).collect::<Vec<_>>());
        let inputs: [(&str, &Tensor); 9] = [("obs", &batch.obs), ("actions", &batch.actions), ("rewards", &batch.rewards), ("next_obs", &batch.next_obs),
            ("terminals", &batch.terminals), ("z", &z), ("task_ids", &ids), ("next_noise", &next_noise), ("policy_noise", &policy_noise)];
        for (name, t) in inputs {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        let alpha = losses.alpha.expect("SAC v2 reports α");
        for (name, value) in [("qf_loss", losses.qf_loss), ("policy_loss", losses.policy_loss), ("mean_alpha", alpha)] {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        put_vars(&mut ex, &format!("step{step}/param"), &sac);
    }
    ex.check();
}
