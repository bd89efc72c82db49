//! The SAC-v2 core's step (`SacV2::train_step`: twin critics, learned α) against the two codebases
//! it follows, each restated in tools/reference_updates/: garage's MTSAC (`SAC.optimize_policy` +
//! `_update_targets`, `MTSAC._get_log_alpha`; oracle SAC) in sac_v2.py and pytorch_sac
//! (`SACAgent.update`; FOCAL's behaviour policies) in pytorch_sac.py. Six steps from the same
//! weights, batches and noise, every loss and parameter (α's included) compared after each
//! (tests/exchange/mod.rs). MTSAC's batches hold three of four train tasks, a different three each
//! step, so every task's α is stepped with and without a gradient; pytorch_sac's one task steps
//! its target critics every second update.

mod exchange;

use exchange::{meta_batch, one_at_a_time, uniform, Exchange};
use metarl::algos::sac::standard_normal;
use metarl::algos::sac_v2::{SacV2, SacV2Convention, SacV2Settings};
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

/// Six steps of `sac` replayed by `reference`: `tasks` task rows of `b` transitions per batch,
/// step k's rows drawn from train tasks (k + 1 + i) mod `num_tasks`.
fn replay(reference: &'static str, mut sac: SacV2, tasks: i64, b: i64) {
    let SacV2Settings { obs_dim, action_dim, z_dim, num_tasks, .. } = sac.settings;
    let s = sac.settings.clone();
    let mut ex = Exchange::new(reference);
    for (name, value) in [("obs_dim", obs_dim as f64), ("action_dim", action_dim as f64), ("num_tasks", num_tasks as f64), ("discount", s.discount),
        ("reward_scale", s.reward_scale), ("tau", s.tau), ("policy_lr", s.policy_lr), ("qf_lr", s.qf_lr), ("target_update_every", s.target_update_every as f64)]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    put_vars(&mut ex, "init", &sac);

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for step in 0..STEPS {
        let batch = meta_batch(&mut rng, tasks, b, obs_dim, action_dim);
        let z = uniform(&mut rng, &[tasks, z_dim]);
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

#[test]
fn sac_v2_step_matches_garage_mtsac() {
    let _one = one_at_a_time();
    tch::manual_seed(0);
    let settings = SacV2Settings { reward_scale: 2.0, tau: 0.05, policy_lr: 3e-3, qf_lr: 1e-3, ..SacV2Settings::garage(3, 2, 2, vec![16, 16], 4) };
    let sac = SacV2::new(settings, Device::Cpu);
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
    replay("sac_v2", sac, 3, 8);
}

#[test]
fn behaviour_sac_step_matches_pytorch_sac() {
    let _one = one_at_a_time();
    tch::manual_seed(0);
    let settings = SacV2Settings {
        reward_scale: 1.0, tau: 0.05, policy_lr: 3e-3, qf_lr: 1e-3, initial_alpha: 0.1, target_update_every: 2, convention: SacV2Convention::PytorchSac,
        ..SacV2Settings::garage(3, 2, 0, vec![16, 16], 1)
    };
    replay("pytorch_sac", SacV2::new(settings, Device::Cpu), 1, 24);
}
