//! A dispute over a real model played on a real Anvil node: MiniLM-L6
//! (installed by `scripts/setup`) embeds a sentence, a liar flips one bit of
//! one micro-step of a map op in the middle layer, a claim is posted and
//! challenged, and the on-chain client plays the game to its end. Shared by
//! the chain tests and the `refute dispute` tests.

use alloy::primitives::U256;
use bisection::chain::{GameReport, Player, Responder, Sent, play};
use bisection::contracts::DeployConfig;
use bisection::game::rules::Role;
use bisection::machine::{Claim, Fault, MachineTrace};
use trace_vm::format::models_dir;
use trace_vm::models::{Compiled, Encoder};
use trace_vm::ops::micro::Site;

use crate::Devnet;

/// One ether, in wei.
pub const ETHER: u64 = 1_000_000_000_000_000_000;
/// The deployment's challenge window, in seconds.
pub const WINDOW: u64 = 3_600;

/// The deployment the disputes run on: 16-ary dissection, an hour per side.
pub fn config() -> DeployConfig {
    DeployConfig {
        min_bond: U256::from(ETHER),
        challenge_window: WINDOW,
        arity_log2: 4,
        clock: 3_600,
    }
}

/// The installed MiniLM, or `None` after a loud message; under `CI=true` a
/// missing model is a failure.
pub fn minilm() -> Option<Encoder> {
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
pub enum Lie {
    /// The map with the shortest micro list among those of several steps
    /// (a per-token map: 7 elements of 3 steps at 7 tokens).
    ShortestList,
    /// The map with the longest element program (GELU's erf: 48 steps over
    /// 7 x 1536 elements, a micro list of 516,096 entries), the most
    /// expensive lie in a map. A lie in an FFN matmul (7 x 1536 elements of
    /// 385 steps) would list eight times as many states.
    LongestProgram,
}

/// The fault of lie `at` in `compiled`, and the faulted op's micro list length.
pub fn lie(compiled: &Compiled, at: Lie) -> (Fault, u64) {
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
pub fn run(enc: &Encoder, compiled: &Compiled, ids: &[u32], fault: Option<Fault>) -> MachineTrace {
    let inputs = enc.inputs(ids, ids.len()).expect("inputs");
    MachineTrace::run(
        compiled.program.clone(),
        compiled.weights.clone(),
        inputs,
        fault,
    )
    .expect("run")
}

/// A dispute played to its end.
pub struct Played {
    /// The node and contracts.
    pub devnet: Devnet,
    /// The claimant's account (the game's defender).
    pub claimant: Responder,
    /// The challenger's account.
    pub watcher: Responder,
    /// The claim.
    pub claim_id: u64,
    /// Its fields.
    pub claim: Claim,
    /// The game.
    pub game_id: u64,
    /// The lie, and the faulted op's micro list length.
    pub fault: (Fault, u64),
    /// Tokens of the sentence.
    pub tokens: usize,
    /// How the game ended, as the players saw it.
    pub report: GameReport,
    /// The posting transaction.
    pub posted: Sent,
    /// The challenge transaction.
    pub challenged: Sent,
    /// The challenger, after the game.
    pub challenger: Player,
}

impl Played {
    /// The winner.
    pub fn winner(&self) -> Role {
        self.report.winner
    }
}

/// Posts a claim (the liar's when `liar_defends`, else the honest one),
/// challenges it with the other run, and plays the game to its end; `None`
/// when MiniLM is not installed (after a loud message).
pub async fn play_minilm(liar_defends: bool, at: Lie) -> Option<Played> {
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
    Some(Played {
        devnet,
        claimant,
        watcher,
        claim_id,
        claim,
        game_id,
        fault: (fault, micro),
        tokens: ids.len(),
        report,
        posted,
        challenged,
        challenger,
    })
}
