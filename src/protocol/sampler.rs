//! The batched sampler: several envs stepped together, so a learner runs one batched policy
//! forward per step for all of them, and the env steps themselves run on a thread pool.
//!
//! Every env is independent and owns its generator, so what the envs return does not depend on
//! the number of threads: a run is reproducible for a given seed at any thread count.

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::envs::{Env, Step};

pub struct VecEnvs {
    envs: Vec<Box<dyn Env>>,
    /// `None`: step on the calling thread (one thread, or envs too cheap to be worth a hand-off).
    pool: Option<rayon::ThreadPool>,
    obs_dim: usize,
    action_dim: usize,
    /// Per env: its row in the last `step`'s action matrix, if it was stepped.
    action_rows: Vec<Option<usize>>,
    results: Vec<Option<Result<Step, crate::envs::EnvError>>>,
}

impl VecEnvs {
    /// `n` envs from `make`, stepped on `threads` threads.
    pub fn new(n: usize, threads: usize, mut make: impl FnMut() -> Result<Box<dyn Env>>) -> Result<VecEnvs> {
        let envs: Vec<Box<dyn Env>> = (0..n).map(|_| make()).collect::<Result<_>>()?;
        let first = envs.first().context("a sampler needs at least one env")?;
        let (obs_dim, action_dim) = (first.observation_dim(), first.action_space().dim());
        let pool = (threads > 1 && n > 1)
            .then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("sampler-{i}")).build())
            .transpose()?;
        Ok(VecEnvs { action_rows: vec![None; n], results: (0..n).map(|_| None).collect(), envs, pool, obs_dim, action_dim })
    }

    pub fn len(&self) -> usize {
        self.envs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    pub fn env(&self, slot: usize) -> &dyn Env {
        self.envs[slot].as_ref()
    }

    pub fn env_mut(&mut self, slot: usize) -> &mut dyn Env {
        self.envs[slot].as_mut()
    }

    /// The observations of `slots`, one float32 row each, appended to `out` (cleared first): the
    /// input matrix of one batched forward.
    pub fn observations(&self, slots: &[usize], out: &mut Vec<f32>) {
        out.clear();
        for &slot in slots {
            out.extend(self.envs[slot].observation().iter().map(|&v| v as f32));
        }
    }

    /// Steps env `slots[k]` with row k of `actions` (`[slots.len(), action_dim]`, row-major), all
    /// at once; `steps[k]` is its result.
    pub fn step(&mut self, slots: &[usize], actions: &[f64], steps: &mut Vec<Step>) -> Result<()> {
        assert_eq!(actions.len(), slots.len() * self.action_dim, "one action row per stepped env");
        self.action_rows.iter_mut().for_each(|row| *row = None);
        for (row, &slot) in slots.iter().enumerate() {
            self.action_rows[slot] = Some(row);
        }
        let action_dim = self.action_dim;
        let step_one = |(env, (row, result)): (&mut Box<dyn Env>, (&Option<usize>, &mut Option<Result<Step, _>>))| {
            *result = row.map(|r| env.step(&actions[r * action_dim..(r + 1) * action_dim]));
        };
        match &self.pool {
            Some(pool) => pool.install(|| self.envs.par_iter_mut().zip(self.action_rows.par_iter().zip(self.results.par_iter_mut())).for_each(step_one)),
            None => self.envs.iter_mut().zip(self.action_rows.iter().zip(self.results.iter_mut())).for_each(step_one),
        }
        steps.clear();
        for &slot in slots {
            let result = self.results[slot].take().expect("every listed env was stepped");
            steps.push(result.with_context(|| format!("{} (sampler env {slot})", self.envs[slot].name()))?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs::{registry, EnvOptions};

    fn cheetahs(threads: usize) -> VecEnvs {
        let entry = registry::lookup("cheetah-vel").unwrap();
        let tasks = entry.tasks(&EnvOptions::default(), 0).unwrap();
        let mut index = 0;
        let mut envs = VecEnvs::new(4, threads, || {
            let mut env = entry.make(&EnvOptions::default())?;
            env.set_task(&tasks.train[index])?;
            env.seed(index as u32);
            index += 1;
            Ok(env)
        })
        .unwrap();
        for slot in 0..envs.len() {
            envs.env_mut(slot).reset().unwrap();
        }
        envs
    }

    /// Stepping a subset on a pool gives, env by env, what stepping each alone gives.
    #[test]
    fn threaded_steps_equal_sequential_ones_and_skip_unlisted_envs() {
        let (mut pooled, mut alone) = (cheetahs(2), cheetahs(1));
        let slots = [3, 0, 2];
        let actions: Vec<f64> = (0..slots.len() * 6).map(|i| ((i as f64) * 0.37).sin()).collect();
        let mut steps = Vec::new();
        for _ in 0..5 {
            pooled.step(&slots, &actions, &mut steps).unwrap();
        }
        for (k, &slot) in slots.iter().enumerate() {
            let mut last = None;
            for _ in 0..5 {
                last = Some(alone.env_mut(slot).step(&actions[k * 6..(k + 1) * 6]).unwrap());
            }
            assert_eq!(steps[k], last.unwrap(), "slot {slot}");
            assert_eq!(pooled.env(slot).observation(), alone.env(slot).observation(), "slot {slot}");
        }
        // Env 1 was never stepped: still at its reset observation.
        assert_eq!(pooled.env(1).observation(), cheetahs(1).env(1).observation());
        let mut rows = Vec::new();
        pooled.observations(&[2, 0], &mut rows);
        assert_eq!(rows.len(), 2 * pooled.obs_dim());
        assert_eq!(rows[0], pooled.env(2).observation()[0] as f32);
    }

    #[test]
    fn an_env_error_names_the_env_and_its_slot() {
        let mut envs = cheetahs(1);
        let mut actions = vec![0.0; 6];
        actions[2] = f64::NAN;
        let err = envs.step(&[1], &actions, &mut Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("cheetah-vel (sampler env 1)"), "{err:#}");
    }
}
