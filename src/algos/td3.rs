//! TD3 (Fujimoto, van Hoof & Meger 2018) conditioned on a task variable z: a deterministic
//! tanh actor, twin critics, target policy smoothing with clipped noise, and actor and target
//! updates delayed to every `policy_delay`-th critic step. MCAT (papers/004 §3.4) trains it with z
//! from its context encoder, held fixed; self-imitation (Oh et al. 2018) is an optional extra term
//! on the agent's own transitions whose return beat the critic's estimate.
//!
//! Networks are the SAC core's rlkit [`Mlp`]s and its checkpointable [`Adam`]; the replay buffers
//! are the shared per-task ones.

use std::collections::HashMap;

use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::sac::{mean_square, scalar, standard_normal};
use crate::nn::{load_vars_state, soft_update, variables_under as params, vars_state, Adam, Mlp};

#[derive(Debug, Clone)]
pub struct Td3Settings {
    pub obs_dim: i64,
    pub action_dim: i64,
    /// Width of the task variable z (0: plain TD3).
    pub z_dim: i64,
    pub hidden: Vec<i64>,
    pub discount: f64,
    /// Target networks' soft-update step τ.
    pub tau: f64,
    pub actor_lr: f64,
    pub critic_lr: f64,
    /// σ of the target policy smoothing noise, and the bound c it is clipped to.
    pub policy_noise: f64,
    pub noise_clip: f64,
    /// Critic steps per actor (and target) step.
    pub policy_delay: usize,
    /// Self-imitation's weight; `None` turns it off.
    pub sil_weight: Option<f64>,
}

/// Transitions for one step, `[n, ·]` each; `z` is the task variable of each row and `next_z`
/// that of its next state (no gradient flows into whatever produced them) and `returns` the discounted return from the row on, which
/// self-imitation needs.
pub struct Td3Batch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub rewards: Tensor,
    pub next_obs: Tensor,
    pub terminals: Tensor,
    pub z: Tensor,
    pub next_z: Tensor,
    pub returns: Option<Tensor>,
}

/// One step's losses; the actor's is the last computed one (it is not updated every step).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Td3Losses {
    pub critic_loss: f64,
    pub actor_loss: f64,
    /// The self-imitation terms (value + policy), 0 without SIL.
    pub sil_loss: f64,
}

/// Target policy smoothing: `clip(a' + clip(σ·ε, -c, c), -1, 1)` with ε standard normal.
pub fn smoothed_target_action(target_action: &Tensor, noise: &Tensor, policy_noise: f64, noise_clip: f64) -> Tensor {
    (target_action + (noise * policy_noise).clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)
}

/// The clipped double-Q target `y = r + γ·(1 - d)·min(Q1'(s', ã), Q2'(s', ã))`.
pub fn td3_target(rewards: &Tensor, terminals: &Tensor, next_q1: &Tensor, next_q2: &Tensor, discount: f64) -> Tensor {
    rewards + (1.0 - terminals) * discount * next_q1.minimum(next_q2)
}

/// Self-imitation (Oh et al. 2018, Eq. 2-4) for a deterministic actor: the critic is pulled up
/// towards returns R above its estimate, `½·E[(R - Q)₊²]`, and the actor towards the stored action
/// with weight `(R - Q)₊` (the Gaussian log-likelihood of a fixed-σ policy: `½‖π(s) - a‖²`).
/// Returns (value loss, policy loss).
pub fn sil_losses(returns: &Tensor, q: &Tensor, policy_action: &Tensor, stored_action: &Tensor) -> (Tensor, Tensor) {
    let advantage = (returns - q).clamp_min(0.0);
    let value = advantage.square().mean(Kind::Float) * 0.5;
    let distance = (policy_action - stored_action).square().sum_dim_intlist(-1, true, Kind::Float) * 0.5;
    let policy = (advantage.detach() * distance).mean(Kind::Float);
    (value, policy)
}

pub struct Td3 {
    pub settings: Td3Settings,
    pub device: Device,
    pub vars: nn::VarStore,
    actor: Mlp,
    target_actor: Mlp,
    qf1: Mlp,
    qf2: Mlp,
    target_qf1: Mlp,
    target_qf2: Mlp,
    actor_optimizer: Adam,
    critic_optimizer: Adam,
    /// (target, source) parameter lists for the soft updates.
    targets: Vec<(Vec<Tensor>, Vec<Tensor>)>,
    critic_steps: usize,
    last_actor_loss: f64,
}

impl Td3 {
    /// Networks from torch's generator (seed it first); targets start as copies.
    pub fn new(settings: Td3Settings, device: Device) -> Self {
        let vars = nn::VarStore::new(device);
        let root = vars.root();
        let s = &settings;
        let actor_input = s.obs_dim + s.z_dim;
        let q_input = s.obs_dim + s.action_dim + s.z_dim;
        let actor = Mlp::new(&(&root / "actor"), actor_input, &s.hidden, s.action_dim, 3e-3);
        let target_actor = Mlp::new(&(&root / "target_actor"), actor_input, &s.hidden, s.action_dim, 3e-3);
        let qf1 = Mlp::new(&(&root / "qf1"), q_input, &s.hidden, 1, 3e-3);
        let qf2 = Mlp::new(&(&root / "qf2"), q_input, &s.hidden, 1, 3e-3);
        let target_qf1 = Mlp::new(&(&root / "target_qf1"), q_input, &s.hidden, 1, 3e-3);
        let target_qf2 = Mlp::new(&(&root / "target_qf2"), q_input, &s.hidden, 1, 3e-3);
        let targets: Vec<(Vec<Tensor>, Vec<Tensor>)> = ["actor", "qf1", "qf2"].iter().map(|n| (params(&vars, &format!("target_{n}")), params(&vars, n))).collect();
        for (target, source) in &targets {
            target.iter().for_each(|t| drop(t.shallow_clone().set_requires_grad(false)));
            soft_update(target, source, 1.0);
        }
        let critics = [params(&vars, "qf1"), params(&vars, "qf2")].into_iter().flatten().collect();
        Td3 {
            actor_optimizer: Adam::new(params(&vars, "actor"), s.actor_lr),
            critic_optimizer: Adam::new(critics, s.critic_lr),
            settings,
            device,
            vars,
            actor,
            target_actor,
            qf1,
            qf2,
            target_qf1,
            target_qf2,
            targets,
            critic_steps: 0,
            last_actor_loss: 0.0,
        }
    }

    /// π(s, z) = tanh(MLP(s, z)), `[n, action_dim]`.
    pub fn actor(&self, obs: &Tensor, z: &Tensor) -> Tensor {
        self.actor.forward(&Tensor::cat(&[obs, z], 1)).tanh()
    }

    fn q(net: &Mlp, obs: &Tensor, actions: &Tensor, z: &Tensor) -> Tensor {
        net.forward(&Tensor::cat(&[obs, actions, z], 1))
    }

    /// The critics' regression target for a batch, with the target actor's smoothed action.
    pub fn target(&self, batch: &Td3Batch, rng: &mut ChaCha8Rng) -> Tensor {
        let s = &self.settings;
        tch::no_grad(|| {
            let next_action = self.target_actor.forward(&Tensor::cat(&[&batch.next_obs, &batch.next_z], 1)).tanh();
            let noise = standard_normal(rng, next_action.size()[0], s.action_dim, self.device);
            let smoothed = smoothed_target_action(&next_action, &noise, s.policy_noise, s.noise_clip);
            let next_q1 = Self::q(&self.target_qf1, &batch.next_obs, &smoothed, &batch.next_z);
            let next_q2 = Self::q(&self.target_qf2, &batch.next_obs, &smoothed, &batch.next_z);
            td3_target(&batch.rewards, &batch.terminals, &next_q1, &next_q2, s.discount)
        })
    }

    /// One critic step, and every `policy_delay`-th step one actor step and the target updates.
    pub fn train_step(&mut self, batch: &Td3Batch, rng: &mut ChaCha8Rng) -> Td3Losses {
        let y = self.target(batch, rng);
        let q1 = Self::q(&self.qf1, &batch.obs, &batch.actions, &batch.z);
        let q2 = Self::q(&self.qf2, &batch.obs, &batch.actions, &batch.z);
        let critic_loss = mean_square(&(&q1 - &y)) + mean_square(&(&q2 - &y));
        let sil = self.settings.sil_weight.zip(batch.returns.as_ref());
        let mut sil_loss = Tensor::zeros([], (Kind::Float, self.device));
        let mut critic_objective = critic_loss.shallow_clone();
        if let Some((weight, returns)) = sil {
            let (v1, _) = sil_losses(returns, &q1, &batch.actions, &batch.actions);
            let (v2, _) = sil_losses(returns, &q2, &batch.actions, &batch.actions);
            sil_loss = &v1 + &v2;
            critic_objective = critic_objective + &sil_loss * weight;
        }
        self.critic_optimizer.zero_grad();
        critic_objective.backward();
        self.critic_optimizer.step();
        self.critic_steps += 1;

        if self.critic_steps % self.settings.policy_delay.max(1) == 0 {
            let action = self.actor(&batch.obs, &batch.z);
            let mut actor_loss = -Self::q(&self.qf1, &batch.obs, &action, &batch.z).mean(Kind::Float);
            self.last_actor_loss = scalar(&actor_loss);
            if let Some((weight, returns)) = sil {
                let q = tch::no_grad(|| Self::q(&self.qf1, &batch.obs, &batch.actions, &batch.z));
                let (_, imitation) = sil_losses(returns, &q, &action, &batch.actions);
                sil_loss = sil_loss + &imitation;
                actor_loss = actor_loss + imitation * weight;
            }
            self.actor_optimizer.zero_grad();
            actor_loss.backward();
            self.actor_optimizer.step();
            for (target, source) in &self.targets {
                soft_update(target, source, self.settings.tau);
            }
        }
        Td3Losses { critic_loss: scalar(&critic_loss), actor_loss: self.last_actor_loss, sil_loss: scalar(&sil_loss) }
    }

    /// Every variable, the optimisers' moments and the step counter, named for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = vars_state(&self.vars);
        named.extend(self.actor_optimizer.state("adam.actor"));
        named.extend(self.critic_optimizer.state("adam.critic"));
        named.push(("td3.critic_steps".into(), Tensor::from(self.critic_steps as i64)));
        named.push(("td3.last_actor_loss".into(), Tensor::from(self.last_actor_loss)));
        named
    }

    pub fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        load_vars_state(&self.vars, saved)?;
        self.actor_optimizer.load_state("adam.actor", saved)?;
        self.critic_optimizer.load_state("adam.critic", saved)?;
        let get = |name: &str| saved.get(name).ok_or_else(|| name.to_owned());
        self.critic_steps = get("td3.critic_steps")?.int64_value(&[]) as usize;
        self.last_actor_loss = get("td3.last_actor_loss")?.double_value(&[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tensor(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).view(shape)
    }

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.reshape([-1])).unwrap()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert!(a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6), "{a:?} != {b:?}");
    }

    #[test]
    fn target_smoothing_clips_the_noise_then_the_action() {
        // σ = 0.2, c = 0.5: noise 2 → 0.4; noise -5 → -1 clipped to -0.5; noise 1 → 0.2.
        let action = tensor(&[0.9, 0.0, -0.2], &[1, 3]);
        let noise = tensor(&[2.0, -5.0, 1.0], &[1, 3]);
        // 0.9 + 0.4 = 1.3 → 1 (action bound); 0 - 0.5; -0.2 + 0.2.
        close(&values(&smoothed_target_action(&action, &noise, 0.2, 0.5)), &[1.0, -0.5, 0.0]);
    }

    #[test]
    fn target_takes_the_smaller_critic_and_stops_at_terminals() {
        let rewards = tensor(&[1.0, 1.0, -2.0], &[3, 1]);
        let terminals = tensor(&[0.0, 1.0, 0.0], &[3, 1]);
        let q1 = tensor(&[1.0, 5.0, 10.0], &[3, 1]);
        let q2 = tensor(&[3.0, 2.0, 4.0], &[3, 1]);
        // 1 + 0.9·min(1, 3); 1 (terminal); -2 + 0.9·min(10, 4).
        close(&values(&td3_target(&rewards, &terminals, &q1, &q2, 0.9)), &[1.9, 1.0, 1.6]);
    }

    #[test]
    fn self_imitation_only_pulls_towards_returns_above_the_critic() {
        let returns = tensor(&[3.0, 0.0], &[2, 1]);
        let q = tensor(&[1.0, 2.0], &[2, 1]);
        let policy = tensor(&[0.5, 0.0, 1.0, 1.0], &[2, 2]);
        let stored = tensor(&[0.0, 1.0, 0.0, 0.0], &[2, 2]);
        let (value, imitation) = sil_losses(&returns, &q, &policy, &stored);
        // (R - Q)₊ = (2, 0): value ½·mean(4, 0) = 1; policy mean(2·½·(0.25 + 1), 0) = 0.625.
        close(&values(&value), &[1.0]);
        close(&values(&imitation), &[0.625]);
    }

    fn tiny(sil: Option<f64>) -> Td3 {
        tch::manual_seed(0);
        let settings = Td3Settings {
            obs_dim: 2, action_dim: 1, z_dim: 1, hidden: vec![8], discount: 0.9, tau: 0.5, actor_lr: 1e-2, critic_lr: 1e-2,
            policy_noise: 0.2, noise_clip: 0.5, policy_delay: 2, sil_weight: sil,
        };
        Td3::new(settings, Device::Cpu)
    }

    fn batch() -> Td3Batch {
        Td3Batch {
            obs: tensor(&[0.1, 0.2, -0.3, 0.4], &[2, 2]),
            actions: tensor(&[0.5, -0.5], &[2, 1]),
            rewards: tensor(&[1.0, 0.0], &[2, 1]),
            next_obs: tensor(&[0.2, 0.2, -0.2, 0.3], &[2, 2]),
            terminals: tensor(&[0.0, 1.0], &[2, 1]),
            z: tensor(&[1.0, -1.0], &[2, 1]),
            next_z: tensor(&[0.5, 2.0], &[2, 1]),
            returns: Some(tensor(&[5.0, 5.0], &[2, 1])),
        }
    }

    #[test]
    fn the_network_target_is_the_formula_on_the_target_networks() {
        let td3 = tiny(None);
        let b = batch();
        let y = td3.target(&b, &mut ChaCha8Rng::seed_from_u64(1));
        let noise = standard_normal(&mut ChaCha8Rng::seed_from_u64(1), 2, 1, Device::Cpu);
        let next = td3.target_actor.forward(&Tensor::cat(&[&b.next_obs, &b.next_z], 1)).tanh();
        let smoothed = smoothed_target_action(&next, &noise, 0.2, 0.5);
        let q1 = Td3::q(&td3.target_qf1, &b.next_obs, &smoothed, &b.next_z);
        let q2 = Td3::q(&td3.target_qf2, &b.next_obs, &smoothed, &b.next_z);
        close(&values(&y), &values(&td3_target(&b.rewards, &b.terminals, &q1, &q2, 0.9)));
        // Row 2 is terminal: its target is its reward.
        assert_eq!(values(&y)[1], 0.0);
    }

    #[test]
    fn actor_and_targets_move_only_every_policy_delay_steps() {
        let mut td3 = tiny(Some(1.0));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let snapshot = |td3: &Td3, prefix: &str| params(&td3.vars, prefix).iter().map(values).collect::<Vec<_>>();
        let (actor, target, critic) = (snapshot(&td3, "actor"), snapshot(&td3, "target_qf1"), snapshot(&td3, "qf1"));
        let first = td3.train_step(&batch(), &mut rng);
        assert_ne!(snapshot(&td3, "qf1"), critic, "critics step every time");
        assert_eq!((snapshot(&td3, "actor"), snapshot(&td3, "target_qf1")), (actor.clone(), target.clone()), "no actor step on step 1");
        assert!(first.sil_loss > 0.0, "returns of 5 lie above the fresh critics");
        td3.train_step(&batch(), &mut rng);
        assert_ne!(snapshot(&td3, "actor"), actor);
        assert_ne!(snapshot(&td3, "target_qf1"), target);
    }
}
