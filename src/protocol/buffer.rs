//! oyster's `MultiTaskReplayBuffer`: one ring buffer of transitions per task, sampled uniformly.
//! PEARL keeps two: the RL buffer, and the encoder buffer whose task entries are cleared each
//! iteration so the context comes from recent data.
//!
//! Each buffer also remembers where its trajectories begin and end (papers/001 Alg. 2 line 1:
//! trajectory-level encoder buffers), so TCL and CoCOA crop their windows from inside one
//! trajectory (§C.3).

use std::collections::VecDeque;
use std::ops::Range;

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

/// One trajectory, column by column (row t of `obs` is `obs[t * obs_dim..]`): a sampler appends
/// each step's values in place, so a step allocates nothing once the columns have grown.
#[derive(Debug, Clone, Default)]
pub struct Trajectory {
    pub obs: Vec<f64>,
    pub actions: Vec<f64>,
    pub rewards: Vec<f64>,
    /// What a context sees, stored in a buffer's sparse-reward column: the sparse reward where
    /// the run asks for it and the env has one, else the reward.
    pub context_rewards: Vec<f64>,
    pub next_obs: Vec<f64>,
    pub terminals: Vec<bool>,
    /// Success at any step, where the env defines it.
    pub success: Option<bool>,
}

impl Trajectory {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    pub fn total_reward(&self) -> f64 {
        self.rewards.iter().sum()
    }

    /// The transitions as a buffer stores them: the context reward in the sparse slot.
    pub fn transitions(&self) -> impl Iterator<Item = Transition<'_>> {
        let (obs_dim, action_dim) = (self.obs.len() / self.len().max(1), self.actions.len() / self.len().max(1));
        (0..self.len()).map(move |t| Transition {
            obs: &self.obs[t * obs_dim..(t + 1) * obs_dim],
            action: &self.actions[t * action_dim..(t + 1) * action_dim],
            reward: self.rewards[t],
            sparse_reward: self.context_rewards[t],
            next_obs: &self.next_obs[t * obs_dim..(t + 1) * obs_dim],
            terminal: self.terminals[t],
        })
    }

    /// The states visited, `s_0 … s_T`, as rows.
    pub fn states(&self) -> Vec<&[f64]> {
        let mut states: Vec<&[f64]> = self.transitions().map(|t| t.obs).collect();
        states.extend(self.transitions().last().map(|t| t.next_obs));
        states
    }
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

impl Batch {
    /// A meta-batch `[tasks, b, ·]` as rows `[tasks·b, ·]` on `device`, with `tasks` and `b`.
    pub fn task_rows(&self, device: tch::Device) -> (Batch, i64, i64) {
        let size = self.obs.size();
        let (tasks, b) = (size[0], size[1]);
        (self.map(|t| t.to_device(device).view([tasks * b, -1])), tasks, b)
    }

    /// Every column through `f` (a narrowing, a reshape, a move to a device).
    pub fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Batch {
        Batch {
            obs: f(&self.obs),
            actions: f(&self.actions),
            rewards: f(&self.rewards),
            sparse_rewards: f(&self.sparse_rewards),
            next_obs: f(&self.next_obs),
            terminals: f(&self.terminals),
        }
    }
}

/// Two windows cropped from one trajectory for each task of a meta-batch (a query and its key),
/// `[tasks, window, ·]`; a trajectory shorter than the window fills only its first rows, and
/// `mask` (`[tasks, window, 1]`, 1 for a real transition) says which. Rows are drawn from distinct
/// trajectories while the task has unused ones; `shared_trajectory` (`[tasks, tasks]`, true where
/// two different rows cropped the same trajectory) is set only when some had to share.
pub struct WindowPair {
    pub queries: Batch,
    pub keys: Batch,
    pub mask: Tensor,
    pub shared_trajectory: Option<Tensor>,
}

/// The fewest transitions a trajectory needs to give two different windows.
pub const MIN_CROPPABLE_LENGTH: usize = 3;

#[derive(Clone)]
pub struct TaskBuffer {
    obs_dim: usize,
    action_dim: usize,
    capacity: usize,
    /// Rows of `obs | action | reward | sparse_reward | next_obs | terminal`.
    rows: Vec<f32>,
    /// Rows pushed since the last clear; row `i` lives in slot `i % capacity` while `i` is one of
    /// the newest `capacity`.
    pushed: usize,
    /// Finished trajectories still wholly in the buffer, oldest first, as ranges of row numbers.
    trajectories: VecDeque<Range<usize>>,
    /// First row of the trajectory being stored.
    open_start: usize,
}

impl TaskBuffer {
    fn width(&self) -> usize {
        2 * self.obs_dim + self.action_dim + 3
    }

    pub fn new(obs_dim: usize, action_dim: usize, capacity: usize) -> Self {
        TaskBuffer { obs_dim, action_dim, capacity, rows: Vec::new(), pushed: 0, trajectories: VecDeque::new(), open_start: 0 }
    }

    pub fn len(&self) -> usize {
        self.pushed.min(self.capacity)
    }

    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.trajectories.clear();
        (self.pushed, self.open_start) = (0, 0);
    }

    /// The oldest row number still stored.
    fn oldest(&self) -> usize {
        self.pushed.saturating_sub(self.capacity)
    }

    /// Close the trajectory of the rows pushed since the last call.
    pub fn end_trajectory(&mut self) {
        let start = self.open_start.max(self.oldest());
        if self.pushed > start {
            self.trajectories.push_back(start..self.pushed);
        }
        self.open_start = self.pushed;
    }

    /// The finished trajectories still stored, as ranges of row numbers.
    pub fn trajectories(&self) -> impl Iterator<Item = &Range<usize>> {
        self.trajectories.iter()
    }

    pub fn push(&mut self, t: &Transition) {
        let row = t.obs.iter().chain(t.action).copied()
            .chain([t.reward, t.sparse_reward])
            .chain(t.next_obs.iter().copied())
            .chain([if t.terminal { 1.0 } else { 0.0 }])
            .map(|v| v as f32);
        let width = self.width();
        let slot = self.pushed % self.capacity;
        if self.rows.len() < self.capacity * width {
            self.rows.extend(row);
        } else {
            self.rows[slot * width..(slot + 1) * width].iter_mut().zip(row).for_each(|(cell, v)| *cell = v);
        }
        self.pushed += 1;
        // A trajectory that lost its first row to the ring is gone.
        while self.trajectories.front().is_some_and(|t| t.start < self.oldest()) {
            self.trajectories.pop_front();
        }
    }

    /// Row number `i`'s stored values.
    fn row(&self, i: usize) -> &[f32] {
        let (width, slot) = (self.width(), i % self.capacity);
        &self.rows[slot * width..(slot + 1) * width]
    }

    /// `n` transitions drawn uniformly with replacement (`np.random.randint(0, size, n)`).
    pub fn sample(&self, n: usize, rng: &mut ChaCha8Rng) -> Batch {
        assert!(!self.is_empty(), "sampling an empty buffer");
        let width = self.width();
        let mut picked = Vec::with_capacity(n * width);
        for _ in 0..n {
            let slot = rng.gen_range(0..self.len());
            picked.extend_from_slice(&self.rows[slot * width..(slot + 1) * width]);
        }
        self.split(Tensor::from_slice(&picked).view([n as i64, width as i64]))
    }

    /// The stored trajectories two different windows can be cropped from (at least
    /// [`MIN_CROPPABLE_LENGTH`] transitions), as positions among [`Self::trajectories`].
    fn croppable(&self) -> Vec<usize> {
        (0..self.trajectories.len()).filter(|&i| self.trajectories[i].len() >= MIN_CROPPABLE_LENGTH).collect()
    }

    /// papers/001 §C.3 window crop of stored trajectory `which` (a position among
    /// [`Self::trajectories`]): the query and its positive key, `real` consecutive transitions each,
    /// starting at two different steps of `[0, T − real)` (§C.3's `randint(0, T − W)`; §4.2.1: the
    /// starts differ), with `real = min(window, T − 2)` so a trajectory shorter than the window
    /// (early termination) still gives two different windows. Rows `[window, width]` each,
    /// zero-padded after `real`.
    pub fn crop_window_pair(&self, which: usize, window: usize, rng: &mut ChaCha8Rng) -> (Tensor, Tensor, usize) {
        let trajectory = self.trajectories[which].clone();
        assert!(trajectory.len() >= MIN_CROPPABLE_LENGTH, "cropping two windows from a trajectory of {} transitions", trajectory.len());
        let real = window.min(trajectory.len() - 2);
        let bound = trajectory.len() - real;
        let query_start = rng.gen_range(0..bound);
        // Uniform over the other starts.
        let key_start = (query_start + rng.gen_range(1..bound)) % bound;
        let crop = |start: usize| {
            let mut rows = Vec::with_capacity(window * self.width());
            (trajectory.start + start..trajectory.start + start + real).for_each(|i| rows.extend_from_slice(self.row(i)));
            rows.resize(window * self.width(), 0.0);
            Tensor::from_slice(&rows).view([window as i64, self.width() as i64])
        };
        (crop(query_start), crop(key_start), real)
    }

    /// MCAT's segments (papers/004 §3.2): `n` transitions drawn uniformly among those of the
    /// stored trajectories; for each, the `before` transitions preceding it in its trajectory and
    /// the `after` ones starting at it, as rows `[n, before + after, width]`, zero outside the
    /// trajectory, and the mask `[n, before + after]` (1 for a real row).
    pub fn sample_segments(&self, n: usize, before: usize, after: usize, rng: &mut ChaCha8Rng) -> (Tensor, Tensor) {
        let ends: Vec<usize> = self.trajectories.iter().scan(0, |total, t| {
            *total += t.len();
            Some(*total)
        }).collect();
        let total = *ends.last().expect("sampling segments from a buffer with no finished trajectory");
        let (width, length) = (self.width(), before + after);
        let (mut rows, mut mask) = (vec![0.0f32; n * length * width], vec![0.0f32; n * length]);
        for k in 0..n {
            let draw = rng.gen_range(0..total);
            let which = ends.partition_point(|&end| end <= draw);
            let trajectory = &self.trajectories[which];
            let at = trajectory.end - (ends[which] - draw);
            for (offset, i) in (at as i64 - before as i64..(at + after) as i64).enumerate() {
                if i >= trajectory.start as i64 && i < trajectory.end as i64 {
                    let cell = (k * length + offset) * width;
                    rows[cell..cell + width].copy_from_slice(self.row(i as usize));
                    mask[k * length + offset] = 1.0;
                }
            }
        }
        let (n, length) = (n as i64, length as i64);
        (Tensor::from_slice(&rows).view([n, length, width as i64]), Tensor::from_slice(&mask).view([n, length]))
    }

    /// Named columns of `[.., width]` rows.
    fn split(&self, all: Tensor) -> Batch {
        let (o, a) = (self.obs_dim as i64, self.action_dim as i64);
        Batch {
            obs: all.narrow(-1, 0, o),
            actions: all.narrow(-1, o, a),
            rewards: all.narrow(-1, o + a, 1),
            sparse_rewards: all.narrow(-1, o + a + 1, 1),
            next_obs: all.narrow(-1, o + a + 2, o),
            terminals: all.narrow(-1, 2 * o + a + 2, 1),
        }
    }

    /// For a checkpoint: the stored rows; the row count and open trajectory's start; the
    /// finished trajectories as `[start, end]` pairs.
    pub fn to_tensors(&self) -> [Tensor; 3] {
        let bounds: Vec<i64> = self.trajectories.iter().flat_map(|t| [t.start as i64, t.end as i64]).collect();
        [Tensor::from_slice(&self.rows), Tensor::from_slice(&[self.pushed as i64, self.open_start as i64]), Tensor::from_slice(&bounds)]
    }

    pub fn restore(&mut self, rows: &Tensor, position: &Tensor, trajectories: &Tensor) -> Result<(), String> {
        let ints = |t: &Tensor| Vec::<i64>::try_from(t).map_err(|e| e.to_string());
        self.rows = Vec::<f32>::try_from(rows).map_err(|e| e.to_string())?;
        let position = ints(position)?;
        (self.pushed, self.open_start) = (position[0] as usize, position[1] as usize);
        self.trajectories = ints(trajectories)?.chunks(2).map(|p| p[0] as usize..p[1] as usize).collect();
        Ok(())
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

    /// For each task in `indices`, a query and a key window of `window` transitions cropped from
    /// one of its trajectories (TCL/CoCOA); N = `indices.len()` query-key pairs. Each row draws
    /// uniformly among its task's croppable trajectories that no earlier row of the step drew, so
    /// a repeated task still gives negatives from other trajectories (papers/001 §4.2.1: negatives
    /// are windows of different trajectories); only a task repeated more often than it has
    /// trajectories shares one, and `shared_trajectory` marks those pairs.
    pub fn sample_window_pairs(&self, indices: &[usize], window: usize, rng: &mut ChaCha8Rng) -> WindowPair {
        let (mut queries, mut keys, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        let mut drawn: Vec<(usize, usize)> = Vec::with_capacity(indices.len());
        for &i in indices {
            let croppable = self.tasks[i].croppable();
            assert!(!croppable.is_empty(), "task {i}'s encoder buffer holds no trajectory of {MIN_CROPPABLE_LENGTH} or more transitions to crop two windows from");
            let unused: Vec<usize> = croppable.iter().copied().filter(|&t| !drawn.contains(&(i, t))).collect();
            let pool = if unused.is_empty() { &croppable } else { &unused };
            let which = pool[rng.gen_range(0..pool.len())];
            drawn.push((i, which));
            let (query, key, real) = self.tasks[i].crop_window_pair(which, window, rng);
            queries.push(query);
            keys.push(key);
            mask.extend((0..window).map(|row| if row < real { 1.0f32 } else { 0.0 }));
        }
        let n = indices.len();
        let shared: Vec<bool> = (0..n * n).map(|k| k / n != k % n && drawn[k / n] == drawn[k % n]).collect();
        let task = &self.tasks[indices[0]];
        WindowPair {
            queries: task.split(Tensor::stack(&queries, 0)),
            keys: task.split(Tensor::stack(&keys, 0)),
            mask: Tensor::from_slice(&mask).view([n as i64, window as i64, 1]),
            shared_trajectory: shared.contains(&true).then(|| Tensor::from_slice(&shared).view([n as i64, n as i64])),
        }
    }

    /// [`TaskBuffer::sample_segments`] for each task in `indices`, `n` per task, task by task:
    /// columns `[tasks·n, before + after, ·]` and the mask `[tasks·n, before + after]`.
    pub fn sample_segments(&self, indices: &[usize], n: usize, before: usize, after: usize, rng: &mut ChaCha8Rng) -> (Batch, Tensor) {
        let (rows, masks): (Vec<Tensor>, Vec<Tensor>) = indices.iter().map(|&i| self.tasks[i].sample_segments(n, before, after, rng)).unzip();
        (self.tasks[indices[0]].split(Tensor::cat(&rows, 0)), Tensor::cat(&masks, 0))
    }

    pub fn save(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(i, b)| {
                let [rows, position, trajectories] = b.to_tensors();
                [(format!("{prefix}.{i}.rows"), rows), (format!("{prefix}.{i}.position"), position), (format!("{prefix}.{i}.trajectories"), trajectories)]
            })
            .collect()
    }

    pub fn restore(&mut self, prefix: &str, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        for (i, buffer) in self.tasks.iter_mut().enumerate() {
            let get = |what: &str| saved.get(&format!("{prefix}.{i}.{what}")).ok_or(format!("{prefix}.{i}.{what}"));
            buffer.restore(get("rows")?, get("position")?, get("trajectories")?)?;
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

    /// Trajectory `id` of `len` steps: obs = (id, step), so every row says where it came from.
    fn push_trajectory(buffer: &mut TaskBuffer, id: usize, len: usize) {
        for step in 0..len {
            let (id, step) = (id as f64, step as f64);
            buffer.push(&Transition { obs: &[id, step], action: &[0.0], reward: 0.0, sparse_reward: 0.0, next_obs: &[id, step + 1.0], terminal: false });
        }
        buffer.end_trajectory();
    }

    #[test]
    fn segments_hold_the_history_and_future_of_one_trajectory() {
        let mut buffer = TaskBuffer::new(2, 1, 100);
        for (id, len) in [4, 2, 6].into_iter().enumerate() {
            push_trajectory(&mut buffer, id + 1, len);
        }
        let (rows, mask) = buffer.sample_segments(300, 3, 2, &mut ChaCha8Rng::seed_from_u64(5));
        let obs = Vec::<f32>::try_from(rows.narrow(2, 0, 2).reshape([-1])).unwrap();
        let mask = Vec::<f32>::try_from(mask.reshape([-1])).unwrap();
        let mut drawn = std::collections::HashMap::new();
        for (segment, real) in obs.chunks(10).zip(mask.chunks(5)) {
            // Row 3 (`before`) is the drawn transition: always real.
            let (id, step) = (segment[6], segment[7]);
            let len = [0.0, 4.0, 2.0, 6.0][id as usize];
            *drawn.entry(id as usize).or_insert(0) += 1;
            for r in 0..5 {
                let t = step + r as f32 - 3.0;
                let inside = t >= 0.0 && t < len;
                assert_eq!(real[r], if inside { 1.0 } else { 0.0 }, "segment {segment:?} row {r}");
                let expected = if inside { [id, t] } else { [0.0, 0.0] };
                assert_eq!(segment[2 * r..2 * r + 2], expected, "segment {segment:?} row {r}");
            }
        }
        // Transitions are drawn uniformly: trajectories in proportion 4 : 2 : 6.
        let share = |id| drawn[&id] as f64 / 300.0;
        assert!((share(1) - 4.0 / 12.0).abs() < 0.08 && (share(2) - 2.0 / 12.0).abs() < 0.08 && (share(3) - 0.5).abs() < 0.08, "{drawn:?}");
    }

    /// The stored trajectory lengths, by id, of [`windows_buffer`].
    const WINDOW_LENGTHS: [usize; 6] = [0, 7, 3, 12, 5, 9];

    /// Capacity 30 with 7 + 3 + 12 + 5 + 9 = 36 rows pushed: the ring overwrote trajectory 1.
    fn windows_buffer() -> MultiTaskBuffer {
        let mut buffer = TaskBuffer::new(2, 1, 30);
        for (id, &len) in WINDOW_LENGTHS[1..].iter().enumerate() {
            push_trajectory(&mut buffer, id + 1, len);
        }
        let kept: Vec<usize> = buffer.trajectories().map(|t| t.len()).collect();
        assert_eq!(kept, vec![3, 12, 5, 9], "the trajectory the ring overwrote is forgotten");
        let mut multi = MultiTaskBuffer::new(2, 2, 1, 30);
        multi.tasks[1] = buffer;
        multi
    }

    /// (trajectory id, first step, real rows) of each window of `windows`.
    fn window_origins(windows: &Batch, mask: &Tensor, window: usize) -> Vec<(usize, usize, usize)> {
        let obs = Vec::<f32>::try_from(windows.obs.reshape([-1])).unwrap();
        let mask = Vec::<f32>::try_from(mask.view([-1])).unwrap();
        obs.chunks(2 * window)
            .enumerate()
            .map(|(w, rows)| {
                let real = mask[window * w..window * (w + 1)].iter().filter(|&&m| m == 1.0).count();
                let (id, start) = (rows[0] as usize, rows[1] as usize);
                for r in 0..window {
                    let (row_id, step) = (rows[2 * r], rows[2 * r + 1]);
                    if r < real {
                        assert_eq!(row_id as usize, id, "a window crossed from trajectory {id} into {row_id}");
                        assert_eq!(step as usize, start + r, "consecutive steps");
                    } else {
                        assert_eq!((row_id, step), (0.0, 0.0), "padding is zero");
                    }
                }
                (id, start, real)
            })
            .collect()
    }

    #[test]
    fn windows_are_cropped_inside_one_trajectory_at_two_different_starts() {
        let multi = windows_buffer();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let pair = multi.sample_window_pairs(&[1, 1, 1], 4, &mut rng);
            assert!(pair.shared_trajectory.is_none(), "three rows, four trajectories: none shared");
            let queries = window_origins(&pair.queries, &pair.mask, 4);
            let keys = window_origins(&pair.keys, &pair.mask, 4);
            for ((id, query_start, real), (key_id, key_start, _)) in queries.iter().zip(&keys) {
                let len = WINDOW_LENGTHS[*id];
                assert_eq!(*real, len.min(4 + 2) - 2, "W = 4, or T − 2 for a shorter trajectory (T = {len})");
                assert_eq!(id, key_id, "a query and its key come from one trajectory");
                assert_ne!(query_start, key_start, "a query and its key start at different steps");
                // §C.3: start = randint(0, T − W).
                assert!(query_start + real < len && key_start + real < len, "start in [0, T − W)");
                seen.insert(*id);
            }
            let ids: std::collections::HashSet<usize> = queries.iter().map(|q| q.0).collect();
            assert_eq!(ids.len(), 3, "one task three times: three different trajectories, so the negatives are other trajectories");
        }
        assert_eq!(seen, [2, 3, 4, 5].into_iter().collect(), "every stored trajectory is drawn, the overwritten one never");
    }

    #[test]
    fn a_task_repeated_beyond_its_trajectories_shares_one_and_says_which_pairs() {
        let multi = windows_buffer();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for _ in 0..50 {
            let pair = multi.sample_window_pairs(&[1, 1, 1, 1, 1], 4, &mut rng);
            let ids: Vec<usize> = window_origins(&pair.queries, &pair.mask, 4).iter().map(|q| q.0).collect();
            assert_eq!(ids[..4].iter().collect::<std::collections::HashSet<_>>().len(), 4, "the first four rows take the four trajectories");
            let shared = Vec::<bool>::try_from(pair.shared_trajectory.expect("five rows, four trajectories").view([-1])).unwrap();
            for (k, &flag) in shared.iter().enumerate() {
                let (a, b) = (k / 5, k % 5);
                assert_eq!(flag, a != b && ids[a] == ids[b], "pair ({a}, {b}) of trajectories {ids:?}");
            }
        }
    }

    #[test]
    fn trajectories_too_short_for_two_windows_are_never_cropped() {
        let mut buffer = TaskBuffer::new(2, 1, 100);
        for (id, len) in [2, 1, 3, 2].into_iter().enumerate() {
            push_trajectory(&mut buffer, id + 1, len);
        }
        let mut multi = MultiTaskBuffer::new(1, 2, 1, 100);
        multi.tasks[0] = buffer;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20 {
            let pair = multi.sample_window_pairs(&[0], 8, &mut rng);
            let (query, key) = (window_origins(&pair.queries, &pair.mask, 8)[0], window_origins(&pair.keys, &pair.mask, 8)[0]);
            // Only trajectory 3 (three steps) can give two windows: one step each, at steps 0 and 1.
            assert_eq!((query.0, query.2, key.0, key.2), (3, 1, 3, 1));
            assert_ne!(query.1, key.1);
        }
    }
}
