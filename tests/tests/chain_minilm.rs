//! Disputes over a real model on a real Anvil node, played by the on-chain
//! client: MiniLM-L6 (installed by `scripts/setup`) embeds a sentence; a
//! liar flips one bit of one micro-step in a middle layer. A lying claim is
//! challenged and loses (the claim is rejected, its bond goes to the
//! challenger); an honest claim attacked by a lying challenger is defended
//! and finalizes after the window. Both print move counts and gas.

use alloy::primitives::U256;
use bisection::Error;
use bisection::chain::{Player, Responder, play};
use bisection::contracts::DeployConfig;
use bisection::game::rules::{Action, Role};
use bisection::machine::{Fault, MachineTrace};
use refute_e2e::Devnet;
use trace_vm::format::models_dir;
use trace_vm::models::{Compiled, Encoder};
use trace_vm::ops::micro::Site;

const ETHER: u64 = 1_000_000_000_000_000_000;
const WINDOW: u64 = 3_600;

fn config() -> DeployConfig {
    DeployConfig {
        min_bond: U256::from(ETHER),
        challenge_window: WINDOW,
        arity_log2: 4,
        clock: 3_600,
    }
}

/// The installed MiniLM, or `None` after a loud message; under `CI=true` a
/// missing model is a failure.
fn minilm() -> Option<Encoder> {
    let dir = models_dir().join("minilm-l6");
    if !dir.is_dir() {
        let msg = format!(
            "model `minilm-l6` is not installed in {}; run scripts/setup",
            models_dir().display()
        );
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{msg}");
        eprintln!("\n*** SKIPPED: {msg} ***\n");
        return None;
    }
    Some(Encoder::open(&dir).expect("open minilm-l6"))
}

/// Where the liar lies, in the middle layer's map ops (element programs
/// over every element of the op's output), at the last step of the middle
/// element; everything after it follows from the lie.
#[derive(Clone, Copy, Debug)]
enum Lie {
    /// The map with the shortest micro list among those of several steps
    /// (a per-token map: 7 elements of 3 steps at 7 tokens).
    ShortestList,
    /// The map with the longest element program (GELU's erf: 48 steps over
    /// 7 x 1536 elements, a micro list of 516,096 entries), the most
    /// expensive lie in a map. A lie in an FFN matmul (7 x 1536 elements of
    /// 385 steps) would list eight times as many states.
    LongestProgram,
}

fn lie(compiled: &Compiled, at: Lie) -> (Fault, u64) {
    let p = &compiled.program;
    let mid = p.layers().len() / 2;
    let maps = p.layers()[mid]
        .ops
        .clone()
        .filter(|&i| p.ops()[i].op.kind() == trace_vm::ops::OpKind::Map)
        .map(|i| {
            let node = &p.ops()[i];
            let descs: Vec<_> = node
                .inputs
                .iter()
                .map(|&t| (p.tensor(t).dtype, p.tensor(t).shape.as_slice()))
                .collect();
            (i, Site::new(&node.op, &descs).expect("site"))
        })
        .filter(|(_, s)| s.step_count() > 1);
    let (op, site) = match at {
        Lie::ShortestList => maps.min_by_key(|(_, s)| s.out_len() * s.step_count()),
        Lie::LongestProgram => maps.max_by_key(|(_, s)| s.step_count()),
    }
    .expect("the middle layer has a map op of several steps");
    let fault = Fault {
        op,
        element: site.out_len() as u64 / 2,
        step: site.step_count() as u64 - 1,
        xor: 1 << 22,
    };
    (fault, (site.out_len() * site.step_count()) as u64)
}

/// A run of the sentence `ids`, lying at `fault` if given.
fn run(enc: &Encoder, compiled: &Compiled, ids: &[u32], fault: Option<Fault>) -> MachineTrace {
    let inputs = enc.inputs(ids, ids.len()).expect("inputs");
    MachineTrace::run(
        compiled.program.clone(),
        compiled.weights.clone(),
        inputs,
        fault,
    )
    .expect("run")
}

struct Outcome {
    devnet: Devnet,
    claimant: Responder,
    watcher: Responder,
    claim_id: u64,
    game_id: u64,
    winner: Role,
}

/// Posts a claim (the liar's when `liar_defends`, else the honest one),
/// challenges it with the other run, and plays the game to its end.
async fn dispute(liar_defends: bool, at: Lie) -> Option<Outcome> {
    let enc = minilm()?;
    let sentence = "Refute checks inference.";
    let ids = enc.tokenize(sentence).expect("tokenize");
    let compiled = enc.compile(ids.len()).expect("compile");
    let (fault, micro) = lie(&compiled, at);
    let honest = run(&enc, &compiled, &ids, None);
    let liar = run(&enc, &compiled, &ids, Some(fault));
    assert_ne!(
        honest.claim().trace_root,
        liar.claim().trace_root,
        "the lie reaches the trace"
    );
    let (claimant_trace, mut challenger_trace) = if liar_defends {
        (liar, honest)
    } else {
        (honest, liar)
    };
    let post = claimant_trace.post().clone();
    let claim = claimant_trace.claim().clone();
    challenger_trace.dispute(&claim);

    let devnet = Devnet::start(config()).await;
    let claimant = devnet.account().await;
    let watcher = devnet.account().await;
    let bond = U256::from(ETHER);
    claimant
        .register(&claim, "minilm-l6")
        .await
        .expect("register");
    let (claim_id, posted) = claimant.post_claim(&post, bond).await.expect("postClaim");
    let (game_id, challenged) = watcher
        .challenge(claim_id, &claim, bond)
        .await
        .expect("challenge");
    let mut defender = Player::join(claimant.clone(), game_id, Role::Defender, claimant_trace)
        .await
        .expect("join as defender");
    let mut challenger = Player::join(watcher.clone(), game_id, Role::Challenger, challenger_trace)
        .await
        .expect("join as challenger");
    let report = play(&mut defender, &mut challenger)
        .await
        .expect("the game is played to its end");
    eprintln!(
        "MiniLM, {} tokens, lie {fault:?} (micro list {micro} entries), sizes {:?}, liar defends: {liar_defends}",
        ids.len(),
        claim.sizes
    );
    eprintln!(
        "  {:?} wins game {game_id}; moves defender {}, challenger {}; gas postClaim {}, challenge {}",
        report.winner, report.moves[0], report.moves[1], posted.gas, challenged.gas
    );
    for (call, g) in &report.gas {
        eprintln!(
            "  {call:>7}: {} moves, {} gas in all, max {}",
            g.count, g.total, g.max
        );
    }
    assert!(report.moves[0] > 0 && report.moves[1] > 0, "{report:?}");
    assert!(
        report.gas.contains_key("step"),
        "the game ended by a one-step, not a timeout: {report:?}"
    );

    // A move after the end is refused in simulation, and never sent.
    let err = watcher
        .act(
            game_id,
            challenger.mirror().game(),
            &Action::<bisection::machine::State>::Timeout,
        )
        .await
        .expect_err("a timeout of a finished game");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("game {game_id}")) && msg.contains("GameOver"),
        "{msg}"
    );
    Some(Outcome {
        devnet,
        claimant,
        watcher,
        claim_id,
        game_id,
        winner: report.winner,
    })
}

async fn status(r: &Responder, claim_id: u64) -> u8 {
    r.node()
        .claims()
        .getClaim(U256::from(claim_id))
        .call()
        .await
        .expect("getClaim")
        .status as u8
}

/// Withdraws `r`'s credit, which must be `expected`, and checks that it
/// reached the account (less the withdrawal's fee).
async fn withdraw(devnet: &Devnet, r: &Responder, expected: U256) {
    let me = r.node().sender();
    assert_eq!(r.node().credit().await.expect("credit"), expected);
    let before = devnet.balance(me).await;
    let (amount, sent) = r.withdraw().await.expect("withdraw");
    assert_eq!(amount, expected);
    assert_eq!(devnet.balance(me).await, before + amount - sent.fee);
    assert_eq!(r.node().credit().await.expect("credit"), U256::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_claim_is_challenged_and_loses_its_bond() {
    let Some(o) = dispute(true, Lie::LongestProgram).await else {
        return;
    };
    assert_eq!(o.winner, Role::Challenger);
    let s = o.watcher.settle(o.game_id).await.expect("settle");
    assert!(s.challenger_won);
    assert_eq!(s.payee, o.watcher.node().sender());
    // The challenger's bond back, and the claimant's.
    assert_eq!(s.paid, U256::from(2 * ETHER));
    assert_eq!(status(&o.watcher, o.claim_id).await, 3, "Rejected");
    withdraw(&o.devnet, &o.watcher, U256::from(2 * ETHER)).await;
    assert_eq!(
        o.claimant.node().credit().await.expect("credit"),
        U256::ZERO
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_claim_is_defended_and_finalizes() {
    let Some(o) = dispute(false, Lie::ShortestList).await else {
        return;
    };
    assert_eq!(o.winner, Role::Defender);
    let s = o.claimant.settle(o.game_id).await.expect("settle");
    assert!(!s.challenger_won);
    assert_eq!(s.payee, o.claimant.node().sender());
    assert_eq!(s.paid, U256::from(ETHER), "the challenger's bond");
    let early = o
        .claimant
        .finalize(o.claim_id)
        .await
        .expect_err("finalize inside the window");
    assert!(early.to_string().contains("ChallengeWindowOpen"), "{early}");
    o.devnet.advance(WINDOW).await;
    o.claimant.finalize(o.claim_id).await.expect("finalize");
    assert_eq!(status(&o.claimant, o.claim_id).await, 2, "Finalized");
    // The claimant's bond back, and the challenger's.
    withdraw(&o.devnet, &o.claimant, U256::from(2 * ETHER)).await;
    assert_eq!(o.watcher.node().credit().await.expect("credit"), U256::ZERO);
}
