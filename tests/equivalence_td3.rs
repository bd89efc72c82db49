//! MCAT's TD3 step (`Td3::train_step`) against the TD3 the MCAT authors train (their
//! "Table 1 Replicate/TD3.py", Fujimoto's), restated in tools/reference_updates/td3.py: six steps
//! with policy delay 2, so three critic-only steps and three with the actor and target updates,
//! from the same weights, batches and smoothing noise, every loss and parameter compared after
//! each (tests/exchange/mod.rs). Run twice: plain, and with self-imitation's terms (td3.rs
//! `sil_losses`, as MCAT's config turns on by default).

mod exchange;

use exchange::{uniform, Exchange};
use metarl::algos::sac::standard_normal;
use metarl::algos::td3::{Td3, Td3Batch, Td3Settings};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 6;

fn run(sil_weight: Option<f64>) {
    tch::manual_seed(1);
    let (obs_dim, action_dim, z_dim, n) = (3, 2, 2, 16);
    // σ 0.4 and c 0.5 clip the smoothing noise where |ε| > 1.25 (a fifth of the draws).
    let settings = Td3Settings {
        obs_dim, action_dim, z_dim, hidden: vec![16, 16], discount: 0.99, tau: 0.05, actor_lr: 3e-4, critic_lr: 3e-4,
        policy_noise: 0.4, noise_clip: 0.5, policy_delay: 2, sil_weight,
    };
    let mut ex = Exchange::new("td3");
    for (name, value) in [("obs_dim", obs_dim as f64), ("action_dim", action_dim as f64), ("discount", settings.discount), ("tau", settings.tau),
        ("actor_lr", settings.actor_lr), ("critic_lr", settings.critic_lr), ("policy_noise", settings.policy_noise), ("noise_clip", settings.noise_clip),
        ("policy_delay", settings.policy_delay as f64), ("sil_weight", sil_weight.unwrap_or(0.0))]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    let td3 = Td3::new(settings, Device::Cpu);
    // rlkit's last-layer init (±3e-3) leaves tanh(actor) near 0, so the smoothed target action
    // would never reach the bound ±1, and Q ≈ 0 whatever the action, so the target action would
    // hardly matter: scale every last layer up (a network and its target copy alike).
    tch::no_grad(|| {
        for (name, var) in td3.vars.variables() {
            if name.contains(".last_fc.") {
                let _ = var.shallow_clone().g_mul_scalar_(300.0);
            }
        }
    });
    let mut td3 = td3;
    ex.put_vars("init", &td3.vars);

    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for step in 0..STEPS {
        let batch = Td3Batch {
            obs: uniform(&mut rng, &[n, obs_dim]),
            actions: uniform(&mut rng, &[n, action_dim]),
            rewards: uniform(&mut rng, &[n, 1]),
            next_obs: uniform(&mut rng, &[n, obs_dim]),
            terminals: uniform(&mut rng, &[n, 1]).gt(0.6).to_kind(Kind::Float),
            z: uniform(&mut rng, &[n, z_dim]),
            next_z: uniform(&mut rng, &[n, z_dim]),
            // Returns around the fresh critics' ≈ 0: about half above, half below.
            returns: sil_weight.map(|_| uniform(&mut rng, &[n, 1])),
        };
        // The step draws the target smoothing noise, nothing else.
        let mut probe = rng.clone();
        let noise = standard_normal(&mut probe, n, action_dim, Device::Cpu);
        let losses = td3.train_step(&batch, &mut rng);
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the step drew other noise than the target smoothing's");

        let mut inputs: Vec<(&str, &Tensor)> = vec![("obs", &batch.obs), ("actions", &batch.actions), ("rewards", &batch.rewards), ("next_obs", &batch.next_obs),
            ("terminals", &batch.terminals), ("z", &batch.z), ("next_z", &batch.next_z), ("noise", &noise)];
        if let Some(returns) = &batch.returns {
            inputs.push(("returns", returns));
        }
        for (name, t) in inputs {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        for (name, value) in [("critic_loss", losses.critic_loss), ("actor_loss", losses.actor_loss), ("sil_loss", losses.sil_loss)] {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        ex.put_vars(&format!("step{step}/param"), &td3.vars);
    }
    ex.check();
}

#[test]
fn td3_step_matches_mcat_authors_td3() {
    run(None);
    run(Some(0.5));
}
