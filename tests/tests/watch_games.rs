//! `refute watch` acting on chain, against a real Anvil devnet and the real
//! MiniLM-L6: providers post claims with `refute claim --defend`, two of
//! them dishonest (one runs a perturbed copy of the model, one flips a bit
//! deep in its trace). The watcher re-executes every claim, challenges the
//! two wrong ones and wins both games, though it is killed with SIGKILL
//! again and again while they are played; the honest claim is never
//! challenged and finalizes after its window. Further tests: 50 claims with
//! 10 wrong, an RPC outage and a reorg mid-game, and unrunnable claims.

use std::future::IntoFuture;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::ext::AnvilApi;
use bisection::contracts::DisputeGame;
use refute_e2e::Background;
use refute_e2e::net::{FINALIZED, Net, REJECTED, WINDOW, address, wait_until};
use serde_json::Value;

/// Outages and reorgs each test survives.
const FAULT_ROUNDS: u32 = 3;

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
    wait_until(120, "the watcher recorded every job", &log, || {
        every_job_judged(&net)
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

/// Whether no job waits any more: each is judged (or skipped). A job stays
/// `queued` until its game, if any, is over.
fn every_job_judged(net: &Net) -> bool {
    jobs(net)
        .iter()
        .all(|(_, state, _)| state != "queued" && state != "to_reexecute")
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

/// Two wrong claims played while the watcher's node goes away, three times
/// for a while (its RPC connection refused and cut): the watcher retries, replays the
/// games from the chain once its node is back, and wins both.
#[test]
fn a_watcher_wins_through_an_rpc_outage_mid_game() {
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let cheaters = two_wrong_claims(&net, &log);
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

    // The outages: after every second challenger move, 5 s without its node.
    for round in 0..FAULT_ROUNDS {
        let at = 2 + 2 * round;
        wait_until(180, "the watcher's next moves", &log, || {
            net.challenger_moves() >= at
        });
        assert!(
            (0..2).all(|id| net.status(id) != REJECTED),
            "the games outlast outage {round}"
        );
        relay.off();
        let cut_at = net.challenger_moves();
        std::thread::sleep(Duration::from_secs(5));
        assert_eq!(
            net.challenger_moves(),
            cut_at,
            "no challenger move while the watcher's node is away"
        );
        relay.on();
        eprintln!("outage {round} of 5 s after {cut_at} challenger moves");
    }

    both_rejected(&net, cheaters, &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("transport error; retrying") || text.contains("retried after the next block"),
        "the outage was noticed and retried"
    );
}

/// Two wrong claims (a flipped bit, a swapped model), each defended by its
/// claimant's `refute claim --defend`, once both are posted.
fn two_wrong_claims(net: &Net, log: &Path) -> Vec<(String, Background)> {
    let cheaters = ["flip-bit", "swap-model"]
        .iter()
        .enumerate()
        .map(|(i, cheat)| {
            let key = net.funded();
            let p = net.claim(&key, &format!("Faulty answer {i}."), Some(cheat), log);
            (key, p)
        })
        .collect();
    wait_until(180, "two claims posted", log, || net.claim_count() == 2);
    cheaters
}

/// Waits for both claims of [`two_wrong_claims`] to be rejected, and for
/// their defences to end reporting the challenger's win.
fn both_rejected(net: &Net, cheaters: Vec<(String, Background)>, log: &Path) {
    wait_until(300, "both wrong claims rejected", log, || {
        (0..2).all(|id| net.status(id) == REJECTED)
    });
    for (key, p) in cheaters {
        let (status, out) = p.wait(120);
        assert!(status.success(), "{key} exited with {status}");
        let report: Value = serde_json::from_str(&out).expect("claim --json");
        let outcome = report["outcome"].as_str().expect("outcome");
        assert!(outcome.contains("Challenger won"), "{outcome}");
    }
}

/// Reorgs mid-game, three times: the chain is reverted to a snapshot taken
/// after the watcher's latest moves, dropping the moves of both sides since. Both the
/// watcher and the claimants notice their moves are gone, replay the games
/// from the chain as it now is, and play on; the watcher wins both.
#[test]
fn a_watcher_wins_through_a_reorg_that_drops_moves_mid_game() {
    let Some(net) = Net::start() else {
        return;
    };
    let log = net.sandbox.home().join("test.log");
    let cheaters = two_wrong_claims(&net, &log);
    let _watcher = net.watch(&net.funded(), &log);
    let p = net.provider();
    let mut after_reorg = 0;
    for round in 0..FAULT_ROUNDS {
        let at = 2 + 2 * round;
        wait_until(180, "the watcher's next moves", &log, || {
            net.challenger_moves() >= at
        });
        let snapshot = net.rt.block_on(p.anvil_snapshot()).expect("evm_snapshot");
        let at_snapshot = net.challenger_moves();
        wait_until(180, "moves after the snapshot", &log, || {
            net.challenger_moves() >= at_snapshot + 2
        });
        let before_reorg = net.challenger_moves();
        assert!(
            (0..2).all(|id| net.status(id) != REJECTED),
            "the games outlast the snapshot's moves"
        );
        let reverted = net
            .rt
            .block_on(p.anvil_revert(snapshot))
            .expect("evm_revert");
        assert!(reverted, "evm_revert found the snapshot");
        after_reorg = net.challenger_moves();
        assert!(
            after_reorg < before_reorg,
            "the reorg dropped challenger moves ({before_reorg} before, {after_reorg} after)"
        );
        eprintln!("reorg {round} dropped challenger moves: {before_reorg} -> {after_reorg}");
    }
    both_rejected(&net, cheaters, &log);
    assert!(
        net.challenger_moves() > after_reorg,
        "the watcher moved again after the reorg"
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
    wait_until(60, "every job recorded", &log, || every_job_judged(&net));
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
