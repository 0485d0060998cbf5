//! `refute provide` on a real Anvil devnet with the real MiniLM-L6: its
//! HTTP API answers requests with posted claims (and clear errors for bad
//! ones); a lying challenger disputes an honest claim, the provider is
//! killed with SIGKILL mid-game and restarted, resumes its defence and
//! wins; after the window it finalizes the claim and withdraws its winnings.

use std::time::Duration;

use alloy::primitives::U256;
use bisection::chain::{Node, Player, Responder, Retry};
use bisection::contracts::DisputeGame;
use bisection::game::rules::Role;
use refute_e2e::Background;
use refute_e2e::net::{FINALIZED, Net, WINDOW, address, wait_until};
use serde_json::{Value, json};
use watcher::provider::{Cheat, answer};

/// The provider's API on `port`.
struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(port: u16) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            agent,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `GET path`: the status and the JSON body; `None` while nothing listens.
    fn get(&self, path: &str) -> Option<(u16, Value)> {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        let body = r.body_mut().read_json().expect("a JSON body");
        Some((r.status().as_u16(), body))
    }

    /// `POST path` with a JSON body: the status and the JSON body.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_json(body)
            .expect("the API answers");
        let body = r.body_mut().read_json().expect("a JSON body");
        (r.status().as_u16(), body)
    }
}

fn provide(net: &Net, key: &str, port: u16, log: &std::path::Path) -> Background {
    let listen = format!("127.0.0.1:{port}");
    net.spawn(
        key,
        &[
            "provide",
            "--listen",
            &listen,
            "--serve",
            "minilm-l6",
            "--confirmations",
            "0",
            "--poll-interval-ms",
            "200",
        ],
        log,
    )
}

#[test]
fn a_provider_serves_claims_and_defends_them_through_a_restart() {
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let key = net.funded();
    let port = refute_e2e::free_port();
    let api = Api::new(port);
    let mut provider = provide(&net, &key, port, &log);
    wait_until(120, "the provider's API answers", &log, || {
        api.get("/healthz").is_some()
    });
    let (status, health) = api.get("/healthz").expect("healthz");
    assert_eq!(status, 200, "{health}");
    let account: alloy::primitives::Address = health["account"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("the account's address");
    assert_eq!(account, address(&key));
    assert_eq!(health["models"], json!(["minilm-l6"]));

    // Bad requests get an error that names the fix, and nothing is posted.
    let (status, err) = api.post(
        "/v1/claims",
        &json!({ "model": "llama-70b", "prompt": "Hi." }),
    );
    assert_eq!(status, 404, "{err}");
    let message = err["error"].as_str().expect("an error message");
    assert!(
        message.contains("llama-70b") && message.contains("served: minilm-l6"),
        "{message}"
    );
    let (status, err) = api.get("/v1/claims/7").expect("status");
    assert_eq!(status, 404, "{err}");
    assert_eq!(net.claim_count(), 0);

    // A request: the claim is posted, with the output and trace root the
    // model gives for the prompt.
    let prompt = "Refute checks inference.";
    let (status, posted) = api.post(
        "/v1/claims",
        &json!({ "model": "minilm-l6", "prompt": prompt }),
    );
    assert_eq!(status, 200, "{posted}");
    let claim_id = posted["claim_id"].as_u64().expect("claim_id");
    assert_eq!(net.claimant(claim_id), address(&key));
    let model = trace_vm::models::open(&trace_vm::format::models_dir(), "minilm-l6")
        .expect("minilm-l6 opens");
    let honest = answer(&model, prompt, 16, None).expect("honest answer");
    assert_eq!(
        posted["trace_root"],
        format!(
            "0x{}",
            alloy::hex::encode(honest.post.claim.trace_root.as_slice())
        )
    );
    let (status, pending) = api.get(&format!("/v1/claims/{claim_id}")).expect("status");
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["games"], json!([]));

    // A liar challenges the honest claim and plays its wrong trace.
    let challenger = Responder::new(
        Node::connect(
            &net.deployment.rpc_url,
            net.funded().parse().expect("key"),
            net.deployment.contracts.clone(),
            Retry::default(),
        )
        .expect("connect"),
    );
    let mut lie = answer(&model, prompt, 16, Some(Cheat::FlipBit)).expect("a lying trace");
    lie.trace.dispute(&honest.post.claim);
    let mut player = net.rt.block_on(async {
        let bond = challenger.min_bond().await.expect("minBond");
        let (game_id, _) = challenger
            .challenge(claim_id, &honest.post.claim, bond)
            .await
            .expect("challenge");
        Player::join(challenger, game_id, Role::Challenger, lie.trace)
            .await
            .expect("join")
    });
    let liar = net
        .rt
        .spawn(async move { player.play_out(Duration::from_millis(200)).await });
    let game = DisputeGame::new(net.deployment.contracts.dispute_game, net.provider());
    let defender_moves = || {
        net.rt
            .block_on(async { game.getGame(U256::ZERO).call().await })
            .expect("getGame")
            .defenderMoves
    };

    // Killed mid-game, restarted: the provider resumes its defence.
    wait_until(180, "the provider's first moves", &log, || {
        defender_moves() >= 2
    });
    provider.kill_9();
    let at_kill = defender_moves();
    eprintln!("kill -9 of the provider after {at_kill} defender moves");
    provider = provide(&net, &key, port, &log);
    let winner = net
        .rt
        .block_on(liar)
        .expect("the liar's task")
        .expect("the game ends");
    assert_eq!(winner, Role::Defender, "the honest provider won");
    assert!(defender_moves() > at_kill, "the restarted provider moved");
    let (_, after) = api.get(&format!("/v1/claims/{claim_id}")).expect("status");
    assert_eq!(after["games"][0]["game_id"], 0, "{after}");

    // After its window the provider finalizes the claim and takes its
    // bond and the liar's.
    let before = net.balance(address(&key));
    net.advance(WINDOW + 1);
    wait_until(120, "the claim finalized", &log, || {
        net.status(claim_id) == FINALIZED
    });
    wait_until(60, "the provider withdrew", &log, || {
        net.balance(address(&key)) > before
    });
    let (_, done) = api.get(&format!("/v1/claims/{claim_id}")).expect("status");
    assert_eq!(done["status"], "finalized", "{done}");
    assert_eq!(done["games"][0]["settled"], true, "{done}");
    drop(provider);
}
