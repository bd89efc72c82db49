//! PEARL's context encoder learns task identity from the SAC critic's loss alone: on fixed data
//! of four point-robot goals, the posterior means of the tasks start together and end apart.

use metarl::algos::sac::{ContextSettings, Sac, SacSettings, TaskVariable};
use metarl::protocol::buffer::{MultiTaskBuffer, Transition};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

const GOALS: [[f64; 2]; 4] = [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]];

/// Largest distance between two tasks' posterior means.
fn spread(sac: &Sac, buffer: &MultiTaskBuffer, rng: &mut ChaCha8Rng) -> f64 {
    let c = buffer.sample_stacked(&[0, 1, 2, 3], 64, rng);
    let (mean, _) = tch::no_grad(|| sac.encoder.as_ref().unwrap().posterior(&Tensor::cat(&[&c.obs, &c.actions, &c.rewards], 2)));
    let mean = Vec::<f32>::try_from(mean.view([-1])).unwrap();
    let point = |t: usize| [mean[2 * t] as f64, mean[2 * t + 1] as f64];
    (0..4).flat_map(|a| (0..4).map(move |b| (a, b))).map(|(a, b)| (point(a)[0] - point(b)[0]).hypot(point(a)[1] - point(b)[1])).fold(0.0, f64::max)
}

#[test]
fn posterior_means_separate_the_tasks() {
    tch::manual_seed(0);
    let settings = SacSettings {
        obs_dim: 2, action_dim: 2, z_dim: 2, net_size: 64, discount: 0.9, reward_scale: 5.0, soft_target_tau: 0.005,
        policy_lr: 1e-3, qf_lr: 1e-3, vf_lr: 1e-3, policy_reg_weight: 1e-3,
    };
    let mut sac = Sac::new(settings, Device::Cpu, Some(ContextSettings { input_dim: 5, hidden: vec![64, 64], lr: 1e-3, kl_lambda: 0.1 }));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut buffer = MultiTaskBuffer::new(4, 2, 2, 2000);
    for (task, goal) in GOALS.iter().enumerate() {
        for _ in 0..2000 {
            let obs = [rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)];
            let action: [f64; 2] = [rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)];
            let next_obs = [obs[0] + 0.1 * action[0], obs[1] + 0.1 * action[1]];
            let reward = -(next_obs[0] - goal[0]).hypot(next_obs[1] - goal[1]);
            buffer.tasks[task].push(&Transition { obs: &obs, action: &action, reward, sparse_reward: reward, next_obs: &next_obs, terminal: false });
        }
    }
    let before = spread(&sac, &buffer, &mut rng);
    for _ in 0..2500 {
        let tasks: Vec<usize> = (0..4).map(|_| rng.gen_range(0..4)).collect();
        let batch = buffer.sample_stacked(&tasks, 64, &mut rng);
        let c = buffer.sample_stacked(&tasks, 64, &mut rng);
        let losses = sac.train_step(&batch, TaskVariable::Context(Tensor::cat(&[&c.obs, &c.actions, &c.rewards], 2)), &mut rng);
        assert!(losses.first_non_finite().is_none(), "{losses:?}");
    }
    let after = spread(&sac, &buffer, &mut rng);
    println!("largest distance between task posterior means: {before:.4} before, {after:.4} after");
    assert!(before < 0.05 && after > 1.0, "the encoder did not separate the tasks: {before} → {after}");
}
