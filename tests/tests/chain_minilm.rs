//! Disputes over a real model on a real Anvil node, played by the on-chain
//! client: MiniLM-L6 (installed by `scripts/setup`) embeds a sentence; a
//! liar flips one bit of one micro-step in a middle layer. A lying claim is
//! challenged and loses (the claim is rejected, its bond goes to the
//! challenger); an honest claim attacked by a lying challenger is defended
//! and finalizes after the window. Both print move counts and gas.

use alloy::primitives::U256;
use bisection::Error;
use bisection::chain::Responder;
use bisection::game::rules::{Action, Role};
use refute_e2e::Devnet;
use refute_e2e::dispute::{ETHER, Lie, Played, WINDOW, play_minilm};

/// Plays a dispute (the liar defends when `liar_defends`), prints what it
/// took, and checks that a move after the end is refused.
async fn dispute(liar_defends: bool, at: Lie) -> Option<Played> {
    let o = play_minilm(liar_defends, at).await?;
    let (fault, micro) = o.fault;
    let report = &o.report;
    let game_id = o.game_id;
    eprintln!(
        "MiniLM, {} tokens, lie {fault:?} (micro list {micro} entries), sizes {:?}, liar defends: {liar_defends}",
        o.tokens, o.claim.sizes
    );
    eprintln!(
        "  {:?} wins game {game_id}; moves defender {}, challenger {}; gas postClaim {}, challenge {}",
        report.winner, report.moves[0], report.moves[1], o.posted.gas, o.challenged.gas
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
    let err = o
        .watcher
        .act(
            game_id,
            o.challenger.mirror().game(),
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
    Some(o)
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
    assert_eq!(o.winner(), Role::Challenger);
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
    assert_eq!(o.winner(), Role::Defender);
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
