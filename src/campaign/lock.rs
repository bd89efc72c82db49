//! Run and dataset locks that a dead holder cannot keep, on any node.
//!
//! A lock is the file `<dir>.lock` next to the folder it guards, created exclusively, holding one
//! JSON line: the holder's host, pid and Slurm job (if any), its lease in seconds and the time it
//! last renewed the lock. The holder renews it every tenth of the lease while it works. Another
//! process takes the lock over when the holder is a dead process on its own host, or when the
//! lease has run out (no renewal for `lease_s` seconds: the holder was killed, preempted or its
//! node died), whichever host wrote it. A lock in the older `host:pid` form counts as renewed at
//! the file's modification time, with the default lease.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The lease a holder promises unless told otherwise: 10 minutes without a renewal and the lock
/// is free.
pub const DEFAULT_LEASE_S: u64 = 600;

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// `$SLURM_JOB_ID` (and array task) of the holder, for the reader.
    #[serde(default)]
    pub slurm_job: Option<String>,
    pub lease_s: u64,
    /// Seconds since the Unix epoch of the last renewal.
    pub renewed: u64,
}

impl Holder {
    fn me(lease_s: u64) -> Holder {
        let slurm_job = std::env::var("SLURM_ARRAY_JOB_ID")
            .ok()
            .zip(std::env::var("SLURM_ARRAY_TASK_ID").ok())
            .map(|(job, task)| format!("{job}_{task}"))
            .or_else(|| std::env::var("SLURM_JOB_ID").ok());
        Holder { host: host(), pid: std::process::id(), slurm_job, lease_s, renewed: now() }
    }

    /// Reads a lock file's text: the JSON line, or the older `host:pid` form (renewed at
    /// `mtime`, the default lease).
    pub fn parse(text: &str, mtime: u64) -> Option<Holder> {
        if let Ok(holder) = serde_json::from_str(text.trim()) {
            return Some(holder);
        }
        let (host, pid) = text.trim().split_once(':')?;
        Some(Holder { host: host.to_string(), pid: pid.parse().ok()?, slurm_job: None, lease_s: DEFAULT_LEASE_S, renewed: mtime })
    }

    /// Seconds since the holder last renewed the lock (0 if its clock is ahead of ours).
    pub fn silent_for(&self, now: u64) -> u64 {
        now.saturating_sub(self.renewed)
    }

    /// Whether the lock may be taken from this holder at time `now`: its lease ran out, or it is
    /// a process of this host that no longer exists.
    pub fn is_stale(&self, now: u64) -> bool {
        self.silent_for(now) > self.lease_s || (self.host == host() && !Path::new(&format!("/proc/{}", self.pid)).exists())
    }

    /// "node-b:4242 (Slurm job 17_3), renewed 12 s ago, lease 600 s", for messages.
    pub fn describe(&self, now: u64) -> String {
        let job = self.slurm_job.as_ref().map(|j| format!(" (Slurm job {j})")).unwrap_or_default();
        format!("{}:{}{job}, renewed {} s ago, lease {} s", self.host, self.pid, self.silent_for(now), self.lease_s)
    }

    fn same_process(&self, other: &Holder) -> bool {
        (&self.host, self.pid) == (&other.host, other.pid)
    }
}

/// This machine's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "localhost".into(), |h| h.trim().to_string())
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn mtime(path: &Path) -> u64 {
    std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs())
}

/// The holder named by the lock file at `path`, if there is one.
pub fn read(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(Holder::parse(&text, mtime(path)).unwrap_or(Holder { host: format!("unreadable lock {text:?}"), pid: 0, slurm_job: None, lease_s: DEFAULT_LEASE_S, renewed: mtime(path) }))
}

/// Writes `holder` to a file of its own beside `path` and returns that file's path, so that the
/// lock itself only ever appears whole (by link or rename): a reader never sees a half-written
/// lock.
fn write_beside(path: &Path, holder: &Holder, purpose: &str) -> Result<PathBuf> {
    // Unique per call: threads of one process (a campaign's runners) may write beside one lock.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("lock.{purpose}.{}.{}.{call}", holder.host, holder.pid));
    std::fs::write(&tmp, serde_json::to_string(holder)?).with_context(|| format!("cannot write {}", tmp.display()))?;
    Ok(tmp)
}

/// A held lock: renewed with [`RunLock::renew_if_due`], removed on drop.
pub struct RunLock {
    path: PathBuf,
    me: Holder,
    renewed_at: Instant,
}

impl RunLock {
    /// Renews the lease when a tenth of it has passed. `Ok(false)` if the lock is no longer this
    /// process's (another took it over after the lease ran out): the caller must stop.
    pub fn renew_if_due(&mut self) -> Result<bool> {
        let every = Duration::from_secs(self.me.lease_s).div_f64(10.0).max(Duration::from_millis(200));
        if self.renewed_at.elapsed() < every {
            return Ok(true);
        }
        match read(&self.path) {
            Some(holder) if holder.same_process(&self.me) => {}
            _ => return Ok(false),
        }
        self.me.renewed = now();
        let tmp = write_beside(&self.path, &self.me, "renew")?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("cannot renew {}", self.path.display()))?;
        self.renewed_at = Instant::now();
        Ok(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if read(&self.path).is_some_and(|h| h.same_process(&self.me)) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The lock file of the folder `dir` (`<dir>.lock`).
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.with_extension("lock")
}

/// Takes the lock of the folder `dir` with a lease of `lease_s` seconds, or returns its live
/// holder. A stale lock ([`Holder::is_stale`]) is taken over.
pub fn acquire(dir: &Path, lease_s: u64) -> Result<Result<RunLock, Holder>> {
    let path = lock_path(dir);
    std::fs::create_dir_all(path.parent().expect("a folder inside the campaign"))?;
    let me = Holder::me(lease_s.max(1));
    let written = write_beside(&path, &me, "new")?;
    let linked = link_unless_held(&written, &path, &me);
    let _ = std::fs::remove_file(&written);
    Ok(linked?.map(|()| RunLock { path, me, renewed_at: Instant::now() }))
}

/// Links the lock file `written` in as `path` (an exclusive create that never shows a
/// half-written lock), taking over a stale lock on the way, or returns the live holder.
fn link_unless_held(written: &Path, path: &Path, me: &Holder) -> Result<Result<(), Holder>> {
    for _ in 0..3 {
        match std::fs::hard_link(written, path) {
            Ok(()) => return Ok(Ok(())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let Some(holder) = read(path) else { continue };
                if !holder.is_stale(now()) {
                    return Ok(Err(holder));
                }
                // Move the stale file aside under a name of our own, so that of two processes
                // taking over at once only one removes it; put back a lock that was renewed or
                // replaced in between.
                let aside = path.with_extension(format!("lock.stale.{}.{}", me.host, me.pid));
                if std::fs::rename(path, &aside).is_err() {
                    continue;
                }
                let moved = std::fs::read_to_string(&aside).ok().and_then(|t| Holder::parse(&t, mtime(&aside)));
                if moved.as_ref() != Some(&holder) && moved.is_some() {
                    let _ = std::fs::hard_link(&aside, path);
                }
                tracing::warn!("{}: taking over a stale lock from {}", path.display(), holder.describe(now()));
                let _ = std::fs::remove_file(&aside);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok(Err(read(path).unwrap_or(Holder { host: "another process".into(), pid: 0, slurm_job: None, lease_s: me.lease_s, renewed: now() })))
}

/// Writes a lock file as `holder` would have (tests and tools: a lock left by a process on
/// another node).
pub fn write_as(dir: &Path, holder: &Holder) -> Result<()> {
    let path = lock_path(dir);
    std::fs::create_dir_all(path.parent().expect("a folder inside the campaign"))?;
    let tmp = write_beside(&path, holder, "as")?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(renewed: u64, lease_s: u64) -> Holder {
        Holder { host: "node-b.cluster".into(), pid: 4242, slurm_job: Some("17_3".into()), lease_s, renewed }
    }

    #[test]
    fn a_lock_from_another_host_is_taken_over_only_after_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("seed0");
        // Renewed just now with a 60 s lease: alive, whatever its host.
        write_as(&run, &other(now(), 60)).unwrap();
        let holder = acquire(&run, 60).unwrap().err().expect("a live holder keeps its lock");
        assert_eq!((holder.host.as_str(), holder.pid), ("node-b.cluster", 4242));
        assert!(holder.describe(now()).contains("Slurm job 17_3"));
        // Silent for 61 s of a 60 s lease: taken over, and the new lock names this process.
        write_as(&run, &other(now() - 61, 60)).unwrap();
        let mut lock = acquire(&run, 30).unwrap().expect("a stale lock is taken over");
        let mine = read(&lock_path(&run)).unwrap();
        assert_eq!((mine.host, mine.pid, mine.lease_s), (host(), std::process::id(), 30));
        // A second process finds it held; once another takes it over, the holder learns it lost it.
        assert!(acquire(&run, 30).unwrap().is_err());
        lock.renewed_at -= Duration::from_secs(10);
        assert!(lock.renew_if_due().unwrap(), "still ours: renewed");
        write_as(&run, &other(now(), 60)).unwrap();
        lock.renewed_at -= Duration::from_secs(10);
        assert!(!lock.renew_if_due().unwrap(), "taken over: the holder must stop");
        drop(lock);
        assert!(lock_path(&run).exists(), "dropping a lost lock leaves the new holder's");
    }

    #[test]
    fn a_dead_process_of_this_host_loses_its_lock_at_once_and_the_old_form_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("seed1");
        let dead = Holder { host: host(), pid: u32::MAX - 1, slurm_job: None, lease_s: 600, renewed: now() };
        write_as(&run, &dead).unwrap();
        let lock = acquire(&run, 600).unwrap().expect("a dead local holder's lock is taken over");
        drop(lock);
        assert!(!lock_path(&run).exists(), "released on drop");
        // The older `host:pid` form: this live process holds it.
        std::fs::write(lock_path(&run), format!("{}:{}", host(), std::process::id())).unwrap();
        let holder = acquire(&run, 600).unwrap().err().expect("a live local holder keeps it");
        assert_eq!(holder.lease_s, DEFAULT_LEASE_S);
    }

    #[test]
    fn a_reader_never_sees_a_half_written_lock() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("seed2");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (run, stop) = (run.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    write_as(&run, &other(now(), 60)).unwrap();
                    let _ = std::fs::remove_file(lock_path(&run));
                    if let Ok(lock) = acquire(&run, 60).unwrap() {
                        drop(lock);
                    }
                }
            })
        };
        let start = Instant::now();
        let mut seen = 0;
        while start.elapsed() < Duration::from_millis(500) {
            if let Some(holder) = read(&lock_path(&run)) {
                assert!(holder.pid != 0, "read a lock while it was written: {holder:?}");
                seen += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.join().unwrap();
        assert!(seen > 100, "the reader saw the lock {seen} times");
    }

    #[test]
    fn threads_of_one_process_contend_for_a_lock_without_errors() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("dataset");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let run = run.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        // Held or refused, never an error.
                        drop(acquire(&run, 60).unwrap());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!(!lock_path(&run).exists(), "every holder released it");
    }
}
