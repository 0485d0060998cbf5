//! `refute demo`, the README's main command, on a real devnet with the real
//! MiniLM-L6: the honest claim finalizes, the model swapper and the bit
//! flipper are challenged and lose their games and bonds, and the watcher
//! ends richer. The account is read from `--json`.

use refute_e2e::net::Net;
use refute_e2e::stdout_ok;
use serde_json::Value;

/// A signed wei amount as `signed` prints it ("+123", "-45").
fn wei(v: &Value) -> i128 {
    v.as_str()
        .and_then(|s| s.strip_prefix('+').unwrap_or(s).parse().ok())
        .unwrap_or_else(|| panic!("a signed wei amount: {v}"))
}

#[test]
fn the_demo_catches_both_cheaters_and_finalizes_the_honest_claim() {
    let Some(net) = Net::start() else {
        return;
    };
    let out = stdout_ok(&net.sandbox.refute(&["demo", "--json"]));
    let account: Value = serde_json::from_str(&out).expect("demo --json prints the account");
    let claims = account["claims"].as_array().expect("claims");
    let bond: i128 = net
        .rt
        .block_on(async { net.claims().minBond().call().await })
        .expect("minBond")
        .to();
    assert_eq!(claims.len(), 3, "{account}");
    for claim in claims {
        let provider = claim["provider"].as_str().expect("provider");
        let outcome = claim["outcome"].as_str().expect("outcome");
        let games = claim["games"].as_array().expect("games");
        let balance = wei(&claim["balance_change_wei"]);
        if provider == "honest" {
            assert_eq!(outcome, "our claim, finalized", "{claim}");
            assert!(games.is_empty(), "the honest claim was challenged: {claim}");
            assert!(
                -bond < balance && balance < 0,
                "its bond came back, gas was spent: {claim}"
            );
        } else {
            assert!(outcome.contains("Challenger won"), "{provider}: {claim}");
            assert!(balance <= -bond, "it lost its bond: {claim}");
            assert_eq!(games.len(), 1, "{claim}");
            assert_eq!(games[0]["winner"], "challenger", "{claim}");
            assert!(
                games[0]["challenger_moves"].as_u64().expect("moves") > 0,
                "{claim}"
            );
            assert_eq!(
                net.status(claim["claim_id"].as_u64().expect("claim_id")),
                refute_e2e::net::REJECTED
            );
        }
    }
    assert!(
        wei(&account["watcher_balance_change_wei"]) > 0,
        "the watcher won the cheaters' bonds: {account}"
    );
}
