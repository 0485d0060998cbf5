//! The bounded worker pool that handles claims, and the seam to the stage
//! that re-executes them and plays their games.
//!
//! Every recorded claim gets a job in the database's work queue. A job checks
//! the configured model subset, resolves the claim's model among the installed
//! ones (by the weights root it was registered with: one model has a program
//! per input shape, so a model id names weights and one program), and then
//! either hands the claim to the [`Stage`] or, without one, marks it
//! `to_reexecute` so that a watcher with a stage picks it up later.
//! Jobs run concurrently on a `JoinSet`, at most `workers` at a time (a
//! `Semaphore`); their results are written by the caller, the store's only
//! writer.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::B256;
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::models::{LocalModel, LocalModels};
use crate::store::{ClaimRecord, JobState, Store};
use crate::{Error, Result};

/// What the stage did with one claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Re-executed (and, on a mismatch, challenged and played).
    Judged(Verdict),
    /// Cannot be re-executed, for the reason given; left alone.
    Skipped(String),
}

/// A re-executed claim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Whether our trace root equals the claim's.
    pub matches: bool,
    /// What happened, for the job's record (e.g. the game and its winner).
    pub detail: String,
    /// Time spent re-executing.
    pub elapsed: Duration,
    /// Gas spent on transactions (challenge, moves, settlement, withdrawal).
    pub gas_spent: u64,
    /// Wei of bonds won and claimed.
    pub bonds_claimed_wei: f64,
}

/// A boxed future, so that the stage can be a trait object.
pub type StageFuture<'a> = Pin<Box<dyn Future<Output = Result<Handled>> + Send + 'a>>;

/// The re-execution, challenge and game-driving stage: THE seam the game
/// client implements. The daemon calls it once per claim whose model is
/// installed; without one, the watcher only monitors (claims are marked
/// `to_reexecute` and wait for a watcher that has a stage).
pub trait Stage: Send + Sync {
    /// Re-executes `claim` with `model`, challenges it if our result differs,
    /// plays the game that follows to the end and claims the bonds won. A
    /// failure leaves the job waiting: it is handled again later, and must
    /// pick up where it stopped (a challenge already sent is not repeated).
    fn handle<'a>(&'a self, claim: &'a ClaimRecord, model: &'a LocalModel) -> StageFuture<'a>;
}

/// A job's result.
#[derive(Debug)]
struct Outcome {
    state: JobState,
    detail: String,
    verdict: Option<Verdict>,
}

struct Shared {
    models_dir: PathBuf,
    filter: Option<BTreeSet<B256>>,
    index: OnceCell<LocalModels>,
    stage: Option<Arc<dyn Stage>>,
    permits: Semaphore,
}

/// The worker pool.
pub struct Pool {
    shared: Arc<Shared>,
    workers: usize,
    running: JoinSet<(ClaimRecord, Result<Outcome>)>,
    /// Running jobs by task, to know which claim a panicked task held.
    in_flight: BTreeMap<tokio::task::Id, (u64, B256)>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl Pool {
    /// A pool of `workers`. `models` is the installed-model index when the
    /// caller has it; otherwise `models_dir` is scanned the first time a claim
    /// needs it.
    pub fn new(
        workers: usize,
        filter: Option<BTreeSet<B256>>,
        models_dir: PathBuf,
        models: Option<LocalModels>,
        stage: Option<Arc<dyn Stage>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                models_dir,
                filter,
                index: OnceCell::new_with(models),
                stage,
                permits: Semaphore::new(workers),
            }),
            workers,
            running: JoinSet::new(),
            in_flight: BTreeMap::new(),
        }
    }

    /// Starts jobs for waiting claims not already running; returns how many.
    /// At most four times the pool's size are started at once, so a backlog
    /// stays in the database rather than in memory.
    pub fn dispatch(&mut self, store: &Store) -> Result<usize> {
        let mut states = vec![JobState::Queued];
        if self.shared.stage.is_some() {
            states.push(JobState::ToReexecute);
        }
        let room = (self.workers * 4).saturating_sub(self.in_flight.len());
        if room == 0 {
            return Ok(0);
        }
        let mut started = 0;
        for claim in store.jobs_in(&states, room + self.in_flight.len())? {
            let key = (claim.id, claim.block_hash);
            if self.in_flight.values().any(|k| *k == key) {
                continue;
            }
            let shared = self.shared.clone();
            let task = self.running.spawn(async move {
                let outcome = run_job(&shared, &claim).await;
                (claim, outcome)
            });
            self.in_flight.insert(task.id(), key);
            started += 1;
            if started == room {
                break;
            }
        }
        Ok(started)
    }

    /// Whether no job is running.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Records the jobs that finished, without waiting; returns how many.
    pub fn collect(&mut self, store: &Store, metrics: &Metrics) -> Result<usize> {
        let mut recorded = 0;
        while let Some(done) = self.running.try_join_next_with_id() {
            self.record(done, store, metrics)?;
            recorded += 1;
        }
        Ok(recorded)
    }

    /// Waits for the next job to finish and records it (pending forever when
    /// none runs, so it can sit in a `select!`).
    pub async fn next(&mut self, store: &Store, metrics: &Metrics) -> Result<()> {
        match self.running.join_next_with_id().await {
            Some(done) => self.record(done, store, metrics),
            None => std::future::pending().await,
        }
    }

    /// Waits for every running job and records it.
    pub async fn drain(&mut self, store: &Store, metrics: &Metrics) -> Result<()> {
        while let Some(done) = self.running.join_next_with_id().await {
            self.record(done, store, metrics)?;
        }
        Ok(())
    }

    fn record(
        &mut self,
        done: Result<(tokio::task::Id, (ClaimRecord, Result<Outcome>)), tokio::task::JoinError>,
        store: &Store,
        metrics: &Metrics,
    ) -> Result<()> {
        let (claim, outcome) = match done {
            Ok((task, done)) => {
                self.in_flight.remove(&task);
                done
            }
            Err(e) => {
                // The claim stays in its state and is retried by the next dispatch.
                let claim = self.in_flight.remove(&e.id()).map(|(id, _)| id);
                tracing::error!(target: "refute::watch", ?claim, error = %e, "a claim job panicked");
                return Ok(());
            }
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(target: "refute::watch", claim = claim.id, error = %e, "claim job failed; retried after the next block");
                return Ok(());
            }
        };
        if let Some(v) = &outcome.verdict {
            metrics.reexecuted.inc();
            if !v.matches {
                metrics.mismatches.inc();
            }
            metrics.execution_seconds.observe(v.elapsed.as_secs_f64());
            metrics.gas_spent.inc_by(v.gas_spent);
            metrics.bonds_claimed_wei.add(v.bonds_claimed_wei);
        }
        if store.set_job(&claim, outcome.state, &outcome.detail)? {
            tracing::info!(target: "refute::watch", claim = claim.id, model = %claim.model, state = outcome.state.name(), detail = %outcome.detail, "claim handled");
        } else {
            tracing::info!(target: "refute::watch", claim = claim.id, "claim was reorged out while it was handled; result dropped");
        }
        Ok(())
    }
}

async fn run_job(shared: &Shared, claim: &ClaimRecord) -> Result<Outcome> {
    let outcome = |state, detail: String| Outcome {
        state,
        detail,
        verdict: None,
    };
    // The semaphore is never closed: acquiring only waits for a free worker.
    let _permit = shared.permits.acquire().await.map_err(|e| Error::Stage {
        claim: claim.id,
        reason: e.to_string(),
    })?;
    if let Some(filter) = &shared.filter
        && !filter.contains(&claim.model)
    {
        return Ok(outcome(
            JobState::Ignored,
            "model not in the configured subset".into(),
        ));
    }
    let index = shared
        .index
        .get_or_init(|| async {
            let dir = shared.models_dir.clone();
            let scanned = tokio::task::spawn_blocking(move || LocalModels::scan(&dir)).await;
            scanned.unwrap_or_else(|e| {
                tracing::error!(target: "refute::watch", error = %e, "scanning the installed models failed");
                LocalModels::default()
            })
        })
        .await;
    let Some(model) = claim.weights_root.and_then(|w| index.get(&w)) else {
        return Ok(outcome(
            JobState::ModelNotInstalled,
            format!(
                "no model installed in {} has model {}'s weights",
                shared.models_dir.display(),
                claim.model,
            ),
        ));
    };
    let Some(stage) = &shared.stage else {
        return Ok(outcome(
            JobState::ToReexecute,
            format!("model {}", model.name),
        ));
    };
    Ok(match stage.handle(claim, model).await? {
        Handled::Skipped(reason) => {
            tracing::warn!(target: "refute::watch", claim = claim.id, model = %model.name, %reason, "claim skipped");
            outcome(JobState::Skipped, reason)
        }
        Handled::Judged(verdict) => Outcome {
            state: if verdict.matches {
                JobState::Agreed
            } else {
                JobState::Mismatch
            },
            detail: format!("model {}: {}", model.name, verdict.detail),
            verdict: Some(verdict),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, Origin};
    use crate::store::{Identity, Range};
    use alloy::primitives::{Address, U256};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A stage that disagrees with claims whose trace root starts with 0xba,
    /// skips those starting with 0x5c, and records how many claims it ran
    /// at once.
    #[derive(Default)]
    struct Judge {
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Stage for Judge {
        fn handle<'a>(&'a self, claim: &'a ClaimRecord, _model: &'a LocalModel) -> StageFuture<'a> {
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                if claim.trace_root[0] == 0x5c {
                    return Ok(Handled::Skipped("unrunnable".into()));
                }
                Ok(Handled::Judged(Verdict {
                    matches: claim.trace_root[0] != 0xba,
                    detail: String::new(),
                    elapsed: Duration::from_millis(20),
                    gas_spent: 1_000,
                    bonds_claimed_wei: 0.0,
                }))
            })
        }
    }

    fn origin(log_index: u64) -> Origin {
        Origin {
            block: 1,
            block_hash: B256::repeat_byte(1),
            log_index,
            tx: B256::repeat_byte(2),
        }
    }

    /// Model `0xm…` is registered with weights root `0xe…`, its low nibble.
    fn model(m: u8) -> (Origin, Event) {
        let event = Event::ModelRegistered {
            id: B256::repeat_byte(m),
            weights_root: B256::repeat_byte(0xe0 | (m & 0x0f)),
            arch_hash: B256::ZERO,
            name: format!("m{m:x}"),
            registrant: Address::ZERO,
        };
        (origin(100 + u64::from(m)), event)
    }

    fn claim(id: u64, model: u8, root: u8) -> (Origin, Event) {
        let origin = origin(id);
        let event = Event::ClaimPosted {
            id,
            model: B256::repeat_byte(model),
            input_hash: B256::ZERO,
            output_hash: B256::ZERO,
            trace_root: B256::repeat_byte(root),
            level_sizes: vec![2],
            claimant: Address::ZERO,
            bond: U256::from(1u64),
            deadline: 0,
        };
        (origin, event)
    }

    #[tokio::test]
    async fn jobs_go_through_the_filter_the_index_and_the_stage_two_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity {
            chain_id: 1,
            claims: Address::ZERO,
        };
        let mut store = Store::open(&dir.path().join("w.db"), &identity).unwrap();
        // Models 0xa1 (installed) and 0xa2 (not installed) are watched; 0xa3 is not.
        let events = vec![
            model(0xa1),
            model(0xa2),
            model(0xa3),
            claim(0, 0xa1, 0x11),
            claim(1, 0xa1, 0xba),
            claim(2, 0xa1, 0x12),
            claim(3, 0xa1, 0x13),
            claim(4, 0xa2, 0x11),
            claim(5, 0xa3, 0x11),
            claim(6, 0xa1, 0x5c),
        ];
        let range = Range {
            from: 1,
            to: 1,
            blocks: vec![(1, B256::repeat_byte(1))],
            events,
        };
        store.apply(&range, None, 10, |_| Ok(())).unwrap();

        let installed = LocalModel {
            name: "m".into(),
            path: "m".into(),
        };
        // Installed by weights root: model 0xa1's.
        let models = LocalModels::from_models([(B256::repeat_byte(0xe1), installed)]);
        let filter = [0xa1, 0xa2].map(B256::repeat_byte).into_iter().collect();
        let judge = Arc::new(Judge::default());
        let mut pool = Pool::new(
            2,
            Some(filter),
            "models".into(),
            Some(models),
            Some(judge.clone()),
        );
        let metrics = Metrics::new();
        assert_eq!(pool.dispatch(&store).unwrap(), 7);
        // Running jobs are not started twice.
        assert_eq!(pool.dispatch(&store).unwrap(), 0);
        pool.drain(&store, &metrics).await.unwrap();

        let jobs = store.census().unwrap().jobs;
        let expected = [
            ("agreed", 3),
            ("mismatch", 1),
            ("model_not_installed", 1),
            ("ignored", 1),
            ("skipped", 1),
        ];
        assert_eq!(
            jobs,
            expected
                .map(|(k, v)| (k.to_string(), v))
                .into_iter()
                .collect()
        );
        assert_eq!(
            judge.peak.load(Ordering::SeqCst),
            2,
            "at most `workers` at once"
        );
        assert_eq!(metrics.reexecuted.get(), 4);
        assert_eq!(metrics.mismatches.get(), 1);
        assert_eq!(metrics.gas_spent.get(), 4_000);
        assert_eq!(metrics.execution_seconds.get_sample_count(), 4);
        // Nothing is left to do.
        assert_eq!(pool.dispatch(&store).unwrap(), 0);
    }
}
