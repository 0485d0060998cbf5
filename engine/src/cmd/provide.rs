//! `refute provide`: the inference provider's daemon. An HTTP API runs a
//! model on each request, posts the claim with a bond and answers with the
//! output, the claim id and the trace root; meanwhile a follower defends
//! every game opened against the account's claims and finalizes them after
//! their window. Its state is the chain plus a SQLite database, so a restart
//! resumes every defence.
//!
//! API (JSON):
//! - `POST /v1/claims` `{"model": "minilm-l6", "prompt": "…", "max_tokens": 16}`
//!   → the claim: `claim_id`, `model_id`, `trace_root`, `level_sizes`,
//!   `output`, `tx`, `gas`;
//! - `GET /v1/claims/{id}` → its status, window, bond and games;
//! - `GET /healthz` → the account and the chain's latest block.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::U256;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bisection::chain::Responder;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;
use trace_vm::models::{self, Model};
use watcher::daemon::{Daemon, Mode};
use watcher::provider::{self, Output};
use watcher::stage::ChainStage;

use super::model::{hex32, models_dir};
use super::watch::{FollowArgs, shutdown_on_signal};
use crate::account;
use crate::error::{Error, Result};
use crate::paths::Context;

/// Arguments of `refute provide`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The account is the private key in REFUTE_ACCOUNT_KEY. The follower's settings \
are those of `refute watch` (flags, REFUTE_WATCH_* variables, --config file); \
its database defaults to <home>/provide.db. Each claim holds a worker while \
its window is open, so --workers (default 64) bounds the claims defended at \
once: raise it to the number of claims posted per window. Re-executions run \
one per core whatever the number of workers.")]
pub struct ProvideArgs {
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Installed models to serve (names, comma-separated) [default: every one
    /// the VM can run].
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    serve: Vec<String>,
    /// Bond of each claim, in wei [default: the contract's minimum].
    #[arg(long, value_name = "WEI")]
    bond: Option<u128>,
    #[command(flatten)]
    follow: FollowArgs,
}

/// Claims defended at once unless configured: a defence mostly waits for
/// the other side or the window, and re-executions are bounded apart.
const WORKERS: usize = 64;

/// What the handlers share.
struct Api {
    models: BTreeMap<String, Arc<Model>>,
    responder: Responder,
    bond: U256,
    /// Posts one claim at a time: the account's nonces stay in order.
    posting: Mutex<()>,
}

/// A request for a claim.
#[derive(Debug, Deserialize)]
struct ClaimRequest {
    model: String,
    prompt: String,
    #[serde(default = "default_max_tokens")]
    max_tokens: usize,
}

fn default_max_tokens() -> usize {
    16
}

/// A posted claim.
#[derive(Debug, Serialize)]
struct Posted {
    claim_id: u64,
    model: String,
    model_id: String,
    trace_root: String,
    level_sizes: Vec<u64>,
    output: Output,
    tx: String,
    gas: u64,
    bond_wei: String,
}

/// A failed request: its status and message.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<bisection::Error> for ApiError {
    fn from(e: bisection::Error) -> Self {
        Self(StatusCode::BAD_GATEWAY, e.to_string())
    }
}

impl ProvideArgs {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self, ctx: &Context, deployment: Option<PathBuf>) -> Result<()> {
        let (key, signer) = account::key()?;
        let config = self.follow.config(
            ctx,
            deployment,
            ctx.home.join("provide.db"),
            WORKERS,
            Some(key),
        )?;
        let responder = account::connect(ctx, signer, config.rpc_url.as_deref())?;
        let bond = match self.bond {
            Some(b) => U256::from(b),
            None => responder.min_bond().await?,
        };
        let models = load_models(ctx, &self.serve)?;
        let stage =
            ChainStage::new(responder.clone(), bond, config.poll_interval).own_claims_only();
        let shutdown = shutdown_on_signal();
        let mut daemon = Daemon::start(config, Some(Arc::new(stage))).await?;
        let api = Arc::new(Api {
            models,
            responder,
            bond,
            posting: Mutex::new(()),
        });
        let app = Router::new()
            .route("/v1/claims", post(post_claim))
            .route("/v1/claims/{id}", get(claim_status))
            .route("/healthz", get(health))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Io {
                what: format!(
                    "the API address {} (pick a free one with --listen)",
                    self.listen
                ),
                source,
            })?;
        tracing::info!(target: "refute::engine", addr = %self.listen, account = %api.responder.node().sender(), models = ?api.models.keys().collect::<Vec<_>>(), "provider API listening");
        println!("listening on http://{}", self.listen);
        let mut stop = shutdown.clone();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        let (served, followed) = tokio::join!(server, daemon.run(Mode::Follow, shutdown, |_| {}));
        served.map_err(|source| Error::Io {
            what: "the provider API".into(),
            source,
        })?;
        followed?;
        Ok(())
    }
}

/// The served models, opened once.
fn load_models(ctx: &Context, names: &[String]) -> Result<BTreeMap<String, Arc<Model>>> {
    let dir = models_dir(ctx);
    let names: Vec<String> = if names.is_empty() {
        models::installed(&dir)
            .into_iter()
            .filter(|m| m.format != models::ModelFormat::Onnx)
            .map(|m| m.name)
            .collect()
    } else {
        names.to_vec()
    };
    names
        .into_iter()
        .map(|name| {
            let model = models::open(&dir, &name)?;
            Ok((name, Arc::new(model)))
        })
        .collect()
}

async fn post_claim(
    State(api): State<Arc<Api>>,
    Json(req): Json<ClaimRequest>,
) -> std::result::Result<Json<Posted>, ApiError> {
    let model = api.models.get(&req.model).cloned().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "model `{}` is not served here; served: {}",
                req.model,
                api.models.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let (prompt, max_tokens) = (req.prompt.clone(), req.max_tokens);
    let answer =
        tokio::task::spawn_blocking(move || provider::answer(&model, &prompt, max_tokens, None))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let post = &answer.post;
    let _turn = api.posting.lock().await;
    let model_id = api.responder.register(&post.claim, &req.model).await?;
    let (claim_id, sent) = api.responder.post_claim(post, api.bond).await?;
    tracing::info!(target: "refute::engine", claim = claim_id, model = %req.model, tx = %sent.tx, "claim posted");
    Ok(Json(Posted {
        claim_id,
        model: req.model,
        model_id: model_id.to_string(),
        trace_root: hex32(&post.claim.trace_root),
        level_sizes: post.claim.sizes.clone(),
        output: answer.output,
        tx: sent.tx.to_string(),
        gas: sent.gas,
        bond_wei: api.bond.to_string(),
    }))
}

async fn claim_status(
    State(api): State<Arc<Api>>,
    Path(id): Path<u64>,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let node = api.responder.node();
    let claims = node.claims();
    let not_found = || {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no claim {id} on this deployment"),
        )
    };
    let c = match node
        .read("getClaim", bisection::Target::Claim(id), || async {
            claims.getClaim(U256::from(id)).call().await
        })
        .await
    {
        Ok(c) => c,
        // The contract reverts with `UnknownClaim` for an id never posted.
        Err(bisection::Error::Rejected { .. }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    const STATUS: [&str; 5] = ["none", "pending", "finalized", "rejected", "unknown"];
    if c.status as u8 == 0 {
        return Err(not_found());
    }
    let mut games = Vec::new();
    for (game_id, challenger) in api.responder.games_on(id).await? {
        let settled = api.responder.is_settled(game_id).await?;
        games.push(json!({ "game_id": game_id, "challenger": challenger, "settled": settled }));
    }
    Ok(Json(json!({
        "claim_id": id,
        "status": STATUS[usize::from(c.status as u8).min(4)],
        "claimant": c.claimant,
        "bond_wei": c.bond.to_string(),
        "deadline": c.deadline,
        "open_games": c.openGames,
        "games": games,
    })))
}

async fn health(
    State(api): State<Arc<Api>>,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let now = api.responder.node().latest_time().await?;
    Ok(Json(json!({
        "account": api.responder.node().sender(),
        "latest_block_time": now,
        "models": api.models.keys().collect::<Vec<_>>(),
    })))
}
