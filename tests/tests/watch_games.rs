//! `refute watch` acting on chain, against a real Anvil devnet and the real
//! MiniLM-L6: providers post claims with `refute claim --defend`, two of
//! them dishonest (one runs a perturbed copy of the model, one flips a bit
//! deep in its trace). The watcher re-executes every claim, challenges the
//! two wrong ones and wins both games, though it is killed with SIGKILL
//! again and again while they are played; the honest claim is never
//! challenged and finalizes after its window.

use std::future::IntoFuture;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use bisection::contracts::{Claims, DisputeGame};
use bisection::deployment::Deployment;
use refute_e2e::{Background, Sandbox, free_port, installed_model, refute_bin, stdout_ok};
use serde_json::Value;

/// The devnet's default challenge window, in seconds.
const WINDOW: u64 = 600;

/// Claim statuses (`IClaims.Status`).
const FINALIZED: u8 = 2;
const REJECTED: u8 = 3;

struct Net {
    sandbox: Sandbox,
    deployment: Deployment,
    rt: tokio::runtime::Runtime,
}

impl Net {
    /// A devnet in a fresh state directory whose models are MiniLM-L6 alone
    /// (the watcher indexes every installed model when it starts).
    fn start() -> Option<Self> {
        let minilm = installed_model("minilm-l6")?;
        let sandbox = Sandbox::new();
        let models = sandbox.home().join("models");
        std::fs::create_dir_all(&models).expect("models directory");
        std::os::unix::fs::symlink(&minilm, models.join("minilm-l6")).expect("symlink");
        let port = free_port().to_string();
        stdout_ok(&sandbox.refute(&["devnet", "up", "--port", &port]));
        let deployment = Deployment::load(&sandbox.home().join("devnet/deployment.json"))
            .expect("`devnet up` wrote the deployment record");
        // Multi-threaded: defences spawned on it play while the test waits.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        Some(Self {
            sandbox,
            deployment,
            rt,
        })
    }

    /// A new account holding 1000 ether: its private key.
    fn funded(&self) -> String {
        let signer = PrivateKeySigner::random();
        let ether = U256::from(10u64).pow(U256::from(21u64));
        self.rt
            .block_on(self.provider().anvil_set_balance(signer.address(), ether))
            .expect("anvil_setBalance");
        format!("0x{}", alloy::hex::encode(signer.to_bytes()))
    }

    fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.deployment.rpc_url.parse().expect("URL"))
            .erased()
    }

    /// `refute ARGS` in the background as the account `key` (for `claim`
    /// and `watch`), stderr appended to `log`.
    fn spawn(&self, key: &str, args: &[&str], log: &Path) -> Background {
        let child = Command::new(refute_bin())
            .current_dir(refute_e2e::workspace_root())
            .arg("--home")
            .arg(self.sandbox.home())
            .args(args)
            .env("REFUTE_ACCOUNT_KEY", key)
            .env("REFUTE_WATCH_ACCOUNT_KEY", key)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(log)
                    .expect("log file opens"),
            )
            .spawn()
            .expect("refute starts");
        Background(child)
    }

    fn claim(&self, key: &str, prompt: &str, cheat: Option<&str>, log: &Path) -> Background {
        let mut args = vec![
            "claim",
            "--model",
            "minilm-l6",
            "--prompt",
            prompt,
            "--defend",
            "--poll-interval-ms",
            "200",
            "--json",
        ];
        if let Some(c) = cheat {
            args.extend(["--cheat", c]);
        }
        self.spawn(key, &args, log)
    }

    fn watch(&self, key: &str, log: &Path) -> Background {
        let db = self.sandbox.home().join("watch.db");
        let args = [
            "watch",
            "--confirmations",
            "0",
            "--poll-interval-ms",
            "200",
            "--db",
            db.to_str().expect("UTF-8 path"),
        ];
        self.spawn(key, &args, log)
    }

    fn claims(&self) -> Claims::ClaimsInstance<DynProvider> {
        Claims::new(self.deployment.contracts.claims, self.provider())
    }

    fn claim_count(&self) -> u64 {
        self.rt
            .block_on(self.claims().claimCount().call().into_future())
            .expect("claimCount")
            .to()
    }

    fn status(&self, id: u64) -> u8 {
        self.rt
            .block_on(self.claims().getClaim(U256::from(id)).call().into_future())
            .expect("getClaim")
            .status
    }

    fn claimant(&self, id: u64) -> Address {
        self.rt
            .block_on(self.claims().getClaim(U256::from(id)).call().into_future())
            .expect("getClaim")
            .claimant
    }

    /// Moves the challenger (the watcher) made in every game so far.
    fn challenger_moves(&self) -> u32 {
        let game = DisputeGame::new(self.deployment.contracts.dispute_game, self.provider());
        self.rt.block_on(async {
            let n: u64 = game.gameCount().call().await.expect("gameCount").to();
            let mut total = 0;
            for id in 0..n {
                let g = game.getGame(U256::from(id)).call().await.expect("getGame");
                total += g.challengerMoves;
            }
            total
        })
    }

    fn balance(&self, who: Address) -> U256 {
        self.rt
            .block_on(self.provider().get_balance(who).into_future())
            .expect("eth_getBalance")
    }

    fn advance(&self, secs: u64) {
        let p = self.provider();
        self.rt.block_on(async {
            p.anvil_increase_time(secs).await.expect("evm_increaseTime");
            p.evm_mine(None).await.expect("evm_mine");
        });
    }
}

fn address(key: &str) -> Address {
    key.parse::<PrivateKeySigner>().expect("key").address()
}

/// Waits until `done` holds, for at most `secs`, showing `log` on failure.
fn wait_until(secs: u64, what: &str, log: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s\nlog:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kill rounds: 10 by default; `REFUTE_KILL_ROUNDS` changes it.
fn kill_rounds() -> u32 {
    std::env::var("REFUTE_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[test]
fn wrong_claims_lose_to_a_watcher_killed_mid_game_and_an_honest_one_finalizes() {
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let (honest_key, watcher_key) = (net.funded(), net.funded());
    let honest = net.claim(&honest_key, "Refute checks inference.", None, &log);
    // Six wrong claims: enough challenger moves for every kill to land mid-game.
    let cheaters: Vec<(String, Background)> = (0..6)
        .map(|i| {
            let key = net.funded();
            let cheat = if i % 2 == 0 { "flip-bit" } else { "swap-model" };
            let prompt = format!("Wrong answer number {i}.");
            let p = net.claim(&key, &prompt, Some(cheat), &log);
            (key, p)
        })
        .collect();
    wait_until(240, "seven claims posted", &log, || net.claim_count() == 7);
    let id_of = |key: &str| {
        (0..7)
            .find(|&i| net.claimant(i) == address(key))
            .expect("each provider posted one claim")
    };
    let honest_id = id_of(&honest_key);
    let wrong: Vec<u64> = cheaters.iter().map(|(key, _)| id_of(key)).collect();
    let watcher_start = net.balance(address(&watcher_key));

    // Kill the watcher as soon as it has moved since it (re)started: every
    // round proves a restart resumed the games.
    let mut watcher = net.watch(&watcher_key, &log);
    let over = || wrong.iter().all(|&id| net.status(id) == REJECTED);
    let mut resumed = 0;
    while resumed < kill_rounds() {
        let before = net.challenger_moves();
        wait_until(
            180,
            "a challenger move after the watcher (re)started",
            &log,
            || net.challenger_moves() > before || over(),
        );
        assert!(
            !over(),
            "the games ended after {resumed} kills: they must outlast {} restarts",
            kill_rounds()
        );
        resumed += u32::from(before > 0);
        // Anywhere from right after the move to into the next ones.
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..100)));
        watcher.kill_9();
        eprintln!(
            "kill -9 of the watcher after {} challenger moves",
            net.challenger_moves()
        );
        watcher = net.watch(&watcher_key, &log);
    }
    wait_until(300, "every wrong claim rejected", &log, over);
    eprintln!(
        "{resumed} restarts resumed the games; {} challenger moves in all; every wrong claim rejected",
        net.challenger_moves()
    );

    // The cheaters' defences end with their claims rejected.
    for (key, p) in cheaters {
        let (status, out) = p.wait(120);
        assert!(status.success(), "{key} exited with {status}");
        let report: Value = serde_json::from_str(&out).expect("claim --json");
        let outcome = report["outcome"].as_str().expect("outcome");
        assert!(
            outcome.contains("Challenger won") && outcome.ends_with("rejected"),
            "{outcome}"
        );
    }

    // The honest claim was never challenged; after its window it finalizes.
    assert_eq!(net.status(honest_id), 1, "still pending inside its window");
    net.advance(WINDOW + 1);
    let (status, out) = honest.wait(120);
    assert!(status.success(), "honest provider exited with {status}");
    let report: Value = serde_json::from_str(&out).expect("claim --json");
    assert_eq!(report["outcome"], "our claim, finalized", "{report}");
    assert_eq!(net.status(honest_id), FINALIZED);

    // The watcher was paid the claimants' bonds and its own back.
    wait_until(60, "the watcher withdrew its winnings", &log, || {
        net.balance(address(&watcher_key)) > watcher_start
    });
    wait_until(60, "the watcher recorded every job", &log, || {
        jobs(&net)
            .iter()
            .all(|(_, state, _)| state != "to_reexecute")
    });
    drop(watcher);
    let jobs = jobs(&net);
    for (claim, state, detail) in &jobs {
        if *claim == honest_id {
            assert_eq!(state, "agreed", "{detail}");
        } else {
            assert_eq!(state, "mismatch", "{detail}");
            assert!(detail.contains("Challenger won"), "{detail}");
        }
    }
    assert_eq!(jobs.len(), 7);
}

/// The watcher's jobs: claim, state, detail.
fn jobs(net: &Net) -> Vec<(u64, String, String)> {
    let db = rusqlite::Connection::open(net.sandbox.home().join("watch.db")).expect("db");
    db.prepare("SELECT claim, state, COALESCE(detail, '') FROM jobs ORDER BY claim")
        .expect("jobs")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("jobs")
        .collect::<Result<_, _>>()
        .expect("jobs")
}

/// 50 claims posted at once, 10 of them wrong (5 from a perturbed model, 5
/// with a flipped bit): the watcher challenges exactly the 10 wrong ones and
/// wins all 10 games, played concurrently against their claimants.
#[test]
fn of_fifty_claims_the_ten_wrong_ones_are_challenged_and_lose_and_no_honest_one_is() {
    use watcher::provider::{Cheat, answer};
    use watcher::stage::ChainStage;
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let model = trace_vm::models::open(&trace_vm::format::models_dir(), "minilm-l6")
        .expect("minilm-l6 opens");
    // Claims repeat a few answers: the posts differ only by their ids.
    let honest: Vec<_> = [
        "The sky is blue.",
        "Two plus two.",
        "Claims are cheap.",
        "Watchers watch.",
    ]
    .iter()
    .map(|p| answer(&model, p, 0, None).expect("honest answer"))
    .collect();
    let flipped = answer(&model, "A flipped bit.", 0, Some(Cheat::FlipBit)).expect("flip");
    let swapped = answer(&model, "A swapped model.", 0, Some(Cheat::SwapModel)).expect("swap");
    let connect = |key: &str| {
        let node = bisection::chain::Node::connect(
            &net.deployment.rpc_url,
            key.parse().expect("key"),
            net.deployment.contracts.clone(),
            bisection::chain::Retry::default(),
        )
        .expect("connect");
        bisection::chain::Responder::new(node)
    };
    let (provider, cheater) = (connect(&net.funded()), connect(&net.funded()));
    let mut wrong = Vec::new();
    net.rt.block_on(async {
        let bond = provider.min_bond().await.expect("minBond");
        provider
            .register(&honest[0].post.claim, "minilm-l6")
            .await
            .expect("register");
        for i in 0..50 {
            let (who, a, is_wrong) = match i % 10 {
                0 => (&cheater, &flipped, true),
                5 => (&cheater, &swapped, true),
                _ => (&provider, &honest[i % 4], false),
            };
            who.register(&a.post.claim, "minilm-l6")
                .await
                .expect("register");
            let (id, _) = who.post_claim(&a.post, bond).await.expect("postClaim");
            if is_wrong {
                wrong.push((id, a.trace.clone()));
            }
        }
    });
    assert_eq!(wrong.len(), 10);
    eprintln!("50 claims posted; watcher log {}", log.display());

    // The cheater defends its ten claims, each game in its own task.
    let defences: Vec<_> = wrong
        .iter()
        .map(|(id, trace)| {
            let stage = ChainStage::new(cheater.clone(), U256::ZERO, Duration::from_millis(200));
            let (id, trace) = (*id, trace.clone());
            net.rt.spawn(async move { stage.defend(id, trace).await })
        })
        .collect();
    let started = Instant::now();
    let watcher = net.spawn(
        &net.funded(),
        &[
            "watch",
            "--confirmations",
            "0",
            "--poll-interval-ms",
            "200",
            "--workers",
            "12",
            "--db",
            net.sandbox.home().join("watch.db").to_str().expect("UTF-8"),
        ],
        &log,
    );
    let rejected = || {
        wrong
            .iter()
            .filter(|(id, _)| net.status(*id) == REJECTED)
            .count()
    };
    wait_until(900, "the ten wrong claims rejected", &log, || {
        rejected() == 10
    });
    eprintln!(
        "10 wrong claims of 50 rejected after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for d in defences {
        let verdict = net
            .rt
            .block_on(d)
            .expect("defence task")
            .expect("the defence ends");
        assert!(
            verdict.detail.contains("Challenger won"),
            "{}",
            verdict.detail
        );
    }
    drop(watcher);
    let game = DisputeGame::new(net.deployment.contracts.dispute_game, net.provider());
    let games: u64 = net
        .rt
        .block_on(game.gameCount().call().into_future())
        .expect("gameCount")
        .to();
    assert_eq!(
        games, 10,
        "one game per wrong claim, none against an honest one"
    );
    for id in 0..50 {
        let wrong_one = wrong.iter().any(|(w, _)| *w == id);
        assert_eq!(
            net.status(id),
            if wrong_one { REJECTED } else { 1 },
            "claim {id}"
        );
    }
}

/// Two wrong claims played while the watcher's node goes away for a while
/// (its RPC connection refused and cut): the watcher retries, replays the
/// games from the chain once its node is back, and wins both.
#[test]
fn a_watcher_wins_through_an_rpc_outage_mid_game() {
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let cheaters: Vec<(String, Background)> = ["flip-bit", "swap-model"]
        .iter()
        .enumerate()
        .map(|(i, cheat)| {
            let key = net.funded();
            let p = net.claim(&key, &format!("Faulty answer {i}."), Some(cheat), &log);
            (key, p)
        })
        .collect();
    wait_until(180, "two claims posted", &log, || net.claim_count() == 2);
    let anvil_port: u16 = net
        .deployment
        .rpc_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the devnet URL has a port");
    let mut relay = refute_e2e::Relay::new(anvil_port);
    let relayed = format!("http://127.0.0.1:{}", relay.port);
    let watcher_key = net.funded();
    let db = net.sandbox.home().join("watch.db");
    let _watcher = net.spawn(
        &watcher_key,
        &[
            "watch",
            "--rpc-url",
            &relayed,
            "--confirmations",
            "0",
            "--poll-interval-ms",
            "200",
            "--db",
            db.to_str().expect("UTF-8"),
        ],
        &log,
    );
    let over = || (0..2).all(|id| net.status(id) == REJECTED);

    // The outage: after the watcher's first moves, 5 s without its node.
    wait_until(180, "the watcher's first moves", &log, || {
        net.challenger_moves() >= 2
    });
    relay.off();
    let cut_at = net.challenger_moves();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        net.challenger_moves(),
        cut_at,
        "no challenger move while the watcher's node is away"
    );
    relay.on();
    eprintln!("outage of 5 s after {cut_at} challenger moves");

    wait_until(300, "both wrong claims rejected", &log, over);
    for (key, p) in cheaters {
        let (status, out) = p.wait(120);
        assert!(status.success(), "{key} exited with {status}");
        let report: Value = serde_json::from_str(&out).expect("claim --json");
        let outcome = report["outcome"].as_str().expect("outcome");
        assert!(outcome.contains("Challenger won"), "{outcome}");
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("transport error; retrying") || text.contains("retried after the next block"),
        "the outage was noticed and retried"
    );
}

/// Claims the watcher cannot re-execute are skipped with their reason and
/// never stop it: a model it does not have installed, and an input that
/// does not fit the registered program (garbage tensors in a valid
/// encoding). A wrong claim posted after them is still challenged and won.
#[test]
fn unrunnable_claims_are_skipped_with_a_reason_and_the_watcher_goes_on() {
    use bisection::machine::{ClaimPost, encode_state};
    use watcher::provider::answer;
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let model = trace_vm::models::open(&trace_vm::format::models_dir(), "minilm-l6")
        .expect("minilm-l6 opens");
    let good = answer(&model, "A fine sentence.", 0, None).expect("answer");
    // Garbage input: one byte tensor in place of the token ids and mask,
    // opened by a trace of two entries under the real model's id.
    let garbage = {
        // As long as the prompt, so the watcher derives the registered program.
        let n = good.prompt_ids.len();
        let t =
            trace_vm::tensor::Tensor::from_bytes(trace_vm::commit::DType::U8, &[n], vec![b'x'; n])
                .expect("a byte tensor");
        let input = encode_state(&[(0, &t)]);
        let output = good.post.output.clone();
        let root = |b: &[u8]| bisection::machine::state_root("x", b).expect("valid encoding");
        let tree = bisection::game::tree::Tree::new(&[root(&input), root(&output)]);
        let mut claim = good.post.claim.clone();
        claim.trace_root = tree.root();
        claim.sizes = vec![2, 2];
        ClaimPost::new(claim, input, output, tree.proof(0), tree.proof(1))
    };
    // Another model: the real program hash with weights nobody has.
    let mut stranger = good.post.clone();
    stranger.claim.weights_root = [7; 32];
    let wrong = answer(
        &model,
        "A wrong sentence.",
        0,
        Some(watcher::provider::Cheat::FlipBit),
    )
    .expect("answer");
    let node = bisection::chain::Node::connect(
        &net.deployment.rpc_url,
        net.funded().parse().expect("key"),
        net.deployment.contracts.clone(),
        bisection::chain::Retry::default(),
    )
    .expect("connect");
    let poster = bisection::chain::Responder::new(node);
    let ids: Vec<u64> = net.rt.block_on(async {
        let bond = poster.min_bond().await.expect("minBond");
        let mut ids = Vec::new();
        for (name, post) in [
            ("garbage", &garbage),
            ("stranger", &stranger),
            ("wrong", &wrong.post),
        ] {
            poster.register(&post.claim, name).await.expect("register");
            ids.push(poster.post_claim(post, bond).await.expect("postClaim").0);
        }
        ids
    });
    let defence = {
        let stage =
            watcher::stage::ChainStage::new(poster.clone(), U256::ZERO, Duration::from_millis(200));
        let trace = wrong.trace.clone();
        let id = ids[2];
        net.rt.spawn(async move { stage.defend(id, trace).await })
    };
    let _watcher = net.watch(&net.funded(), &log);
    wait_until(180, "the wrong claim rejected", &log, || {
        net.status(ids[2]) == REJECTED
    });
    let verdict = net.rt.block_on(defence).expect("task").expect("defence");
    assert!(
        verdict.detail.contains("Challenger won"),
        "{}",
        verdict.detail
    );
    wait_until(60, "every job recorded", &log, || {
        jobs(&net)
            .iter()
            .all(|(_, state, _)| state != "queued" && state != "to_reexecute")
    });
    let jobs = jobs(&net);
    let job = |id: u64| {
        jobs.iter()
            .find(|j| j.0 == id)
            .cloned()
            .expect("a job per claim")
    };
    let (_, state, detail) = job(ids[0]);
    assert_eq!(state, "skipped", "{detail}");
    assert!(
        detail.contains("input state holds 1 tensors, the program takes 2"),
        "{detail}"
    );
    let (_, state, detail) = job(ids[1]);
    assert_eq!(state, "model_not_installed", "{detail}");
    assert!(detail.contains("weights"), "{detail}");
    assert_eq!(job(ids[2]).1, "mismatch");
    for id in &ids[..2] {
        assert_eq!(net.status(*id), 1, "claim {id} was left alone");
    }
}
