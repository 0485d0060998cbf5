//! Prometheus metrics and the HTTP endpoint that serves them (`GET /metrics`).
//!
//! Counters count what this process saw since it started; the `refute_watch_claims`,
//! `refute_watch_games`, `refute_watch_jobs` and bond gauges are read from the
//! database after every committed range, so they are right after a restart too.

use std::net::SocketAddr;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::store::{CLAIM_STATUSES, Census, GAME_STATUSES, JobState};
use crate::{Error, Result};

/// Every metric the watcher exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Claims recorded.
    pub claims_seen: IntCounter,
    /// Claims re-executed by the stage.
    pub reexecuted: IntCounter,
    /// Re-executions whose trace root differed from the claim's.
    pub mismatches: IntCounter,
    /// Moves and lifecycle events seen on chain, by kind.
    pub moves: IntCounterVec,
    /// Gas the stage spent on transactions.
    pub gas_spent: IntCounter,
    /// Wei of bonds the stage claimed.
    pub bonds_claimed_wei: Gauge,
    /// RPC errors, by call and kind (`transport`, `node`, `other`).
    pub rpc_errors: IntCounterVec,
    /// Reorgs noticed.
    pub reorgs: IntCounter,
    /// Logs skipped because they did not decode.
    pub malformed_logs: IntCounter,
    /// Re-execution time, in seconds.
    pub execution_seconds: Histogram,
    /// Latest head block the node reported.
    pub head_block: IntGauge,
    /// Last block the store committed.
    pub cursor_block: IntGauge,
    /// Head minus cursor.
    pub lag_blocks: IntGauge,
    claims: GaugeVec,
    games: GaugeVec,
    jobs: GaugeVec,
    bonded_wei: GaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
            // Names are fixed and unique: registration cannot fail.
            r.register(Box::new(m.clone()))
                .expect("metric names are unique");
            m
        }
        let counter = |name: &str, help: &str| {
            reg(
                &registry,
                IntCounter::new(name, help).expect("valid metric"),
            )
        };
        let vec = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &registry,
                GaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let gauge = |name: &str, help: &str| {
            reg(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        Self {
            claims_seen: counter(
                "refute_watch_claims_seen_total",
                "Claims recorded by this process.",
            ),
            reexecuted: counter(
                "refute_watch_claims_reexecuted_total",
                "Claims re-executed.",
            ),
            mismatches: counter(
                "refute_watch_mismatches_total",
                "Re-executions whose trace root differed from the claim's.",
            ),
            moves: reg(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "refute_watch_moves_total",
                        "Moves and claim lifecycle events seen on chain.",
                    ),
                    &["kind"],
                )
                .expect("valid metric"),
            ),
            gas_spent: counter(
                "refute_watch_gas_spent_total",
                "Gas spent on the watcher's transactions.",
            ),
            bonds_claimed_wei: reg(
                &registry,
                Gauge::new(
                    "refute_watch_bonds_claimed_wei_total",
                    "Wei of bonds the watcher won and claimed.",
                )
                .expect("valid metric"),
            ),
            rpc_errors: reg(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "refute_watch_rpc_errors_total",
                        "Failed RPC attempts (each retry counts).",
                    ),
                    &["call", "kind"],
                )
                .expect("valid metric"),
            ),
            reorgs: counter(
                "refute_watch_reorgs_total",
                "Reorgs noticed below the cursor.",
            ),
            malformed_logs: counter(
                "refute_watch_malformed_logs_total",
                "Logs skipped because they did not decode.",
            ),
            execution_seconds: reg(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "refute_watch_execution_seconds",
                        "Time to re-execute a claim.",
                    )
                    .buckets(vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0]),
                )
                .expect("valid metric"),
            ),
            head_block: gauge("refute_watch_head_block", "Head block the node reported."),
            cursor_block: gauge(
                "refute_watch_cursor_block",
                "Last block committed to the database.",
            ),
            lag_blocks: gauge(
                "refute_watch_lag_blocks",
                "Head block minus the last committed block.",
            ),
            claims: vec(
                "refute_watch_claims",
                "Recorded claims by status.",
                &["status"],
            ),
            games: vec("refute_watch_games", "Recorded games by state.", &["state"]),
            jobs: vec(
                "refute_watch_jobs",
                "Claims in the work queue by state.",
                &["state"],
            ),
            bonded_wei: vec(
                "refute_watch_bonded_wei",
                "Wei at stake: claimants' bonds on open claims, challengers' bonds in unsettled games.",
                &["side"],
            ),
            registry,
        }
    }

    /// Sets the gauges read from the database.
    pub fn set_census(&self, census: &Census) {
        let set = |vec: &GaugeVec,
                   names: &mut dyn Iterator<Item = &str>,
                   counts: &std::collections::BTreeMap<String, u64>| {
            for name in names {
                vec.with_label_values(&[name])
                    .set(counts.get(name).copied().unwrap_or(0) as f64);
            }
        };
        set(
            &self.claims,
            &mut CLAIM_STATUSES.into_iter(),
            &census.claims,
        );
        set(&self.games, &mut GAME_STATUSES.into_iter(), &census.games);
        set(
            &self.jobs,
            &mut JobState::ALL.iter().map(|s| s.name()),
            &census.jobs,
        );
        self.bonded_wei
            .with_label_values(&["claimant"])
            .set(census.claim_bonds_wei);
        self.bonded_wei
            .with_label_values(&["challenger"])
            .set(census.challenge_bonds_wei);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on invalid metric families, which
        // `new` cannot build.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(target: "refute::watch", error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Binds `addr` and serves `GET /metrics` until the process ends. Returns
    /// the bound address (useful with port 0).
    pub async fn serve(&self, addr: SocketAddr) -> Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Metrics { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| Error::Metrics { addr, source })?;
        let metrics = self.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = metrics.render();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        body,
                    )
                }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(target: "refute::watch", error = %e, "metrics endpoint stopped");
            }
        });
        tracing::info!(target: "refute::watch", addr = %bound, "serving metrics at http://{bound}/metrics");
        Ok(bound)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_gauges_cover_every_status_even_empty_ones() {
        let m = Metrics::new();
        let mut census = Census::default();
        census.claims.insert("pending".into(), 3);
        census.games.insert("challenger_won".into(), 1);
        census.claim_bonds_wei = 3e16;
        m.set_census(&census);
        let text = m.render();
        assert!(
            text.contains("refute_watch_claims{status=\"pending\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("refute_watch_claims{status=\"rejected\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("refute_watch_games{state=\"challenger_won\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("refute_watch_bonded_wei{side=\"claimant\"} 30000000000000000"),
            "{text}"
        );
        assert!(
            text.contains("refute_watch_jobs{state=\"to_reexecute\"} 0"),
            "{text}"
        );
    }
}
