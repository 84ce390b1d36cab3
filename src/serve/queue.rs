//! The server's jobs: a registry by id, a bounded queue, at most `jobs` running, each one a
//! [`crate::job::Job`] on a blocking thread, with its progress and result kept for polling.
//!
//! Admission takes a slot (`jobs + queue` of them) before the upload is read, so a full server
//! answers 503 at once; a slot is held until the job ends. Running takes one of `jobs`
//! permits. Deleting a job sets its cancellation flag (the job stops at its next stage) and
//! removes its folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::State;
use crate::job::{Job, JobOutput};

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Running,
    Done,
    Failed,
}

/// What `GET /api/jobs/{id}` says about a job.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub state: Phase,
    /// The job's current stage (`queued`, `decoding`, ..., `done`).
    pub stage: String,
    /// 0..=1.
    pub progress: f64,
    pub error: Option<String>,
    pub result: Option<serde_json::Value>,
}

/// One job of the server.
pub struct Entry {
    pub id: String,
    /// `RUN/job-ID/`: every file of the job, removed with it.
    pub dir: PathBuf,
    /// The mix's name as the client gave it: shown, never used as a path.
    pub mix_name: String,
    /// The job's input files and the names the client gave them (mix first).
    pub names: Vec<(PathBuf, String)>,
    /// The master's path (its folder and extension name the other outputs).
    pub master_file: Option<PathBuf>,
    /// Every file the job writes (served by file name: the report links to them).
    pub outputs: Vec<PathBuf>,
    pub created: SystemTime,
    pub cancel: AtomicBool,
    status: Mutex<Status>,
    finished: Mutex<Option<Instant>>,
}

impl Entry {
    pub fn new(
        id: String,
        dir: PathBuf,
        mix_name: String,
        names: Vec<(PathBuf, String)>,
        master_file: Option<PathBuf>,
        outputs: Vec<PathBuf>,
    ) -> Self {
        Self {
            id,
            dir,
            mix_name,
            names,
            master_file,
            outputs,
            created: SystemTime::now(),
            cancel: AtomicBool::new(false),
            status: Mutex::new(Status {
                state: Phase::Queued,
                stage: "queued".into(),
                progress: 0.0,
                error: None,
                result: None,
            }),
            finished: Mutex::new(None),
        }
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    fn set(&self, f: impl FnOnce(&mut Status)) {
        f(&mut lock(&self.status));
    }
}

/// A poisoned lock only means another thread panicked mid-update of a status: the data is
/// still a valid status, so go on with it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registry and the limits.
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<Entry>>>,
    slots: Arc<Semaphore>,
    running: Arc<Semaphore>,
    /// Uploads being checked (decoded) at once: as many as jobs, so memory stays bounded.
    pub validation: Arc<Semaphore>,
    /// Jobs on a blocking thread right now.
    active: AtomicUsize,
}

impl Jobs {
    pub fn new(jobs: usize, queue: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(jobs + queue)),
            running: Arc::new(Semaphore::new(jobs)),
            validation: Arc::new(Semaphore::new(jobs)),
            active: AtomicUsize::new(0),
        }
    }

    /// A place in the queue, or `None` when it is full (503).
    pub fn try_reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        lock(&self.map).get(id).cloned()
    }

    /// Every job, oldest first.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        let mut v: Vec<Arc<Entry>> = lock(&self.map).values().cloned().collect();
        v.sort_by_key(|e| e.created);
        v
    }

    /// Forgets a job, stops it at its next stage and removes its files. `false`: no such job.
    pub fn delete(&self, id: &str) -> bool {
        let Some(entry) = lock(&self.map).remove(id) else {
            return false;
        };
        entry.cancel.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_dir_all(&entry.dir);
        true
    }

    pub fn cancel_all(&self) {
        for e in lock(&self.map).values() {
            e.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Waits until no job runs, at most `timeout`.
    pub async fn wait_idle(&self, timeout: Duration) {
        let start = Instant::now();
        while self.active.load(Ordering::SeqCst) > 0 && start.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Registers `entry` and runs `job` when a worker is free; `slot` is held until it ends.
    /// `describe` turns the job's output into the result the API shows.
    pub fn start(
        state: &Arc<State>,
        entry: Arc<Entry>,
        job: Job,
        slot: OwnedSemaphorePermit,
        describe: fn(&Entry, &Job, &JobOutput) -> serde_json::Value,
    ) {
        lock(&state.jobs.map).insert(entry.id.clone(), entry.clone());
        let state = state.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let Ok(_run) = state.jobs.running.clone().acquire_owned().await else {
                return;
            };
            if entry.cancel.load(Ordering::Relaxed) {
                return;
            }
            entry.set(|s| {
                s.state = Phase::Running;
                s.stage = "starting".into();
            });
            state.jobs.active.fetch_add(1, Ordering::SeqCst);
            let e = entry.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let progress = |stage: &str, f: f64| {
                    e.set(|s| {
                        s.stage = stage.to_string();
                        s.progress = f.clamp(0.0, 1.0);
                    })
                };
                let out = job.run(&progress, &e.cancel);
                out.map(|o| describe(&e, &job, &o))
            })
            .await;
            state.jobs.active.fetch_sub(1, Ordering::SeqCst);
            *lock(&entry.finished) = Some(Instant::now());
            match outcome {
                Ok(Ok(result)) => entry.set(|s| {
                    s.state = Phase::Done;
                    s.stage = "done".into();
                    s.progress = 1.0;
                    s.result = Some(result);
                }),
                Ok(Err(err)) => {
                    let text = super::api::client_text(&entry, &err);
                    entry.set(|s| {
                        s.state = Phase::Failed;
                        s.stage = "failed".into();
                        s.error = Some(text);
                    });
                }
                Err(join) => entry.set(|s| {
                    s.state = Phase::Failed;
                    s.stage = "failed".into();
                    s.error = Some(format!("internal error: {join}"));
                }),
            }
            if entry.cancel.load(Ordering::Relaxed) && state.jobs.get(&entry.id).is_none() {
                // Deleted while running: anything written after the delete goes too.
                let _ = std::fs::remove_dir_all(&entry.dir);
            }
        });
    }
}

/// Removes finished jobs older than the time to live, every `ttl / 4` (at most a minute).
pub async fn sweep(state: Arc<State>) {
    let ttl = state.config.ttl;
    let every = (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::time::sleep(every).await;
        let expired: Vec<String> = lock(&state.jobs.map)
            .values()
            .filter(|e| lock(&e.finished).is_some_and(|t| t.elapsed() >= ttl))
            .map(|e| e.id.clone())
            .collect();
        for id in expired {
            state.jobs.delete(&id);
        }
    }
}
