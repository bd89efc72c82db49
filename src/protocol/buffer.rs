//! oyster's `MultiTaskReplayBuffer`: one ring buffer of transitions per task, sampled uniformly.
//! PEARL keeps two: the RL buffer, and the encoder buffer whose task entries are cleared each
//! iteration so the context comes from recent data.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

/// One transition as the learner stores it (float32, as oyster's buffers).
pub struct Transition<'a> {
    pub obs: &'a [f64],
    pub action: &'a [f64],
    pub reward: f64,
    pub sparse_reward: f64,
    pub next_obs: &'a [f64],
    pub terminal: bool,
}

/// A sampled batch, each `[n, width]`.
pub struct Batch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub rewards: Tensor,
    pub sparse_rewards: Tensor,
    pub next_obs: Tensor,
    pub terminals: Tensor,
}

#[derive(Clone)]
pub struct TaskBuffer {
    obs_dim: usize,
    action_dim: usize,
    capacity: usize,
    /// Rows of `obs | action | reward | sparse_reward | next_obs | terminal`.
    rows: Vec<f32>,
    next: usize,
    len: usize,
}

impl TaskBuffer {
    fn width(&self) -> usize {
        2 * self.obs_dim + self.action_dim + 3
    }

    pub fn new(obs_dim: usize, action_dim: usize, capacity: usize) -> Self {
        TaskBuffer { obs_dim, action_dim, capacity, rows: Vec::new(), next: 0, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        (self.next, self.len) = (0, 0);
    }

    pub fn push(&mut self, t: &Transition) {
        let row = t.obs.iter().chain(t.action).copied()
            .chain([t.reward, t.sparse_reward])
            .chain(t.next_obs.iter().copied())
            .chain([if t.terminal { 1.0 } else { 0.0 }])
            .map(|v| v as f32);
        let width = self.width();
        if self.rows.len() < self.capacity * width {
            self.rows.extend(row);
        } else {
            self.rows[self.next * width..(self.next + 1) * width].iter_mut().zip(row).for_each(|(slot, v)| *slot = v);
        }
        self.next = (self.next + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// `n` transitions drawn uniformly with replacement (`np.random.randint(0, size, n)`).
    pub fn sample(&self, n: usize, rng: &mut ChaCha8Rng) -> Batch {
        assert!(self.len > 0, "sampling an empty buffer");
        let width = self.width();
        let mut picked = Vec::with_capacity(n * width);
        for _ in 0..n {
            let i = rng.gen_range(0..self.len);
            picked.extend_from_slice(&self.rows[i * width..(i + 1) * width]);
        }
        let all = Tensor::from_slice(&picked).view([n as i64, width as i64]);
        let (o, a) = (self.obs_dim as i64, self.action_dim as i64);
        Batch {
            obs: all.narrow(1, 0, o),
            actions: all.narrow(1, o, a),
            rewards: all.narrow(1, o + a, 1),
            sparse_rewards: all.narrow(1, o + a + 1, 1),
            next_obs: all.narrow(1, o + a + 2, o),
            terminals: all.narrow(1, 2 * o + a + 2, 1),
        }
    }

    /// The stored rows and the ring position, for a checkpoint.
    pub fn to_tensor(&self) -> (Tensor, [i64; 2]) {
        (Tensor::from_slice(&self.rows), [self.next as i64, self.len as i64])
    }

    pub fn restore(&mut self, rows: &Tensor, position: [i64; 2]) {
        self.rows = Vec::<f32>::try_from(rows).expect("a float32 buffer tensor");
        (self.next, self.len) = (position[0] as usize, position[1] as usize);
    }
}

/// Per-task buffers, indexed like the train task list.
#[derive(Clone)]
pub struct MultiTaskBuffer {
    pub tasks: Vec<TaskBuffer>,
}

impl MultiTaskBuffer {
    pub fn new(n_tasks: usize, obs_dim: usize, action_dim: usize, capacity: usize) -> Self {
        MultiTaskBuffer { tasks: vec![TaskBuffer::new(obs_dim, action_dim, capacity); n_tasks] }
    }

    /// One batch per task in `indices`, stacked to `[tasks, n, width]`.
    pub fn sample_stacked(&self, indices: &[usize], n: usize, rng: &mut ChaCha8Rng) -> Batch {
        let batches: Vec<Batch> = indices.iter().map(|&i| self.tasks[i].sample(n, rng)).collect();
        let stack = |f: fn(&Batch) -> &Tensor| Tensor::stack(&batches.iter().map(f).collect::<Vec<_>>(), 0);
        Batch {
            obs: stack(|b| &b.obs),
            actions: stack(|b| &b.actions),
            rewards: stack(|b| &b.rewards),
            sparse_rewards: stack(|b| &b.sparse_rewards),
            next_obs: stack(|b| &b.next_obs),
            terminals: stack(|b| &b.terminals),
        }
    }

    pub fn save(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(i, b)| {
                let (rows, position) = b.to_tensor();
                [(format!("{prefix}.{i}.rows"), rows), (format!("{prefix}.{i}.position"), Tensor::from_slice(&position))]
            })
            .collect()
    }

    pub fn restore(&mut self, prefix: &str, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        for (i, buffer) in self.tasks.iter_mut().enumerate() {
            let get = |what: &str| saved.get(&format!("{prefix}.{i}.{what}")).ok_or(format!("{prefix}.{i}.{what}"));
            let position = Vec::<i64>::try_from(get("position")?).map_err(|e| e.to_string())?;
            buffer.restore(get("rows")?, [position[0], position[1]]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ring_buffer_overwrites_the_oldest_and_samples_columns_in_place() {
        let mut buffer = TaskBuffer::new(2, 1, 3);
        for k in 0..5 {
            let v = k as f64;
            buffer.push(&Transition { obs: &[v, v], action: &[-v], reward: 10.0 * v, sparse_reward: 0.0, next_obs: &[v + 1.0, v + 1.0], terminal: k == 4 });
        }
        assert_eq!(buffer.len(), 3);
        let batch = buffer.sample(64, &mut ChaCha8Rng::seed_from_u64(0));
        let obs = Vec::<f32>::try_from(batch.obs.select(1, 0)).unwrap();
        assert!(obs.iter().all(|&o| (2.0..=4.0).contains(&o)), "only the 3 newest remain: {obs:?}");
        let rewards = Vec::<f32>::try_from(batch.rewards.squeeze()).unwrap();
        let actions = Vec::<f32>::try_from(batch.actions.squeeze()).unwrap();
        let terminals = Vec::<f32>::try_from(batch.terminals.squeeze()).unwrap();
        for ((o, r), (a, t)) in obs.iter().zip(&rewards).zip(actions.iter().zip(&terminals)) {
            assert_eq!((*r, *a, *t), (10.0 * o, -o, if *o == 4.0 { 1.0 } else { 0.0 }));
        }
    }
}
