//! `refute dispute list | show | replay | export` on a real dispute: a lying
//! MiniLM-L6 claim (one flipped bit in a short map op of the middle layer)
//! is challenged, played to its one-step on Anvil and settled; the built
//! `refute` binary must then tell the same story as the game itself (the
//! winner, the moves per side, the faulted op and element, the flipped bit,
//! the gas), from the chain and from an exported file alike, and fail with
//! clear messages on an unknown game, a garbage file and a foreign export.

use std::path::Path;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use bisection::deployment::Deployment;
use bisection::game::rules::Role;
use refute_e2e::dispute::{ETHER, Lie, play_minilm};
use refute_e2e::{Sandbox, free_port, stderr_err, stdout_ok};
use serde_json::Value;

/// `refute --deployment RECORD ARGS` in `sandbox`.
/// A failure must be a message, never a panic.
fn refute(sandbox: &Sandbox, record: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--deployment", record.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    let out = sandbox.refute(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "refute {args:?} panicked:\n{stderr}"
    );
    out
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn bits(word: &Value) -> u32 {
    let hex = word["hex"].as_str().expect("a word's hex");
    u32::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex bits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_is_listed_shown_replayed_and_exported() {
    let Some(o) = play_minilm(true, Lie::ShortestList).await else {
        return;
    };
    assert_eq!(o.winner(), Role::Challenger);
    let settled = o.watcher.settle(o.game_id).await.expect("settle");
    let (fault, _) = o.fault;
    let game = o.game_id.to_string();

    let sandbox = Sandbox::new();
    let record = sandbox.home().join("deployment.json");
    Deployment {
        chain_id: o.devnet.provider().get_chain_id().await.expect("chain id"),
        rpc_url: o.devnet.anvil.rpc_url.clone(),
        deploy_block: 0,
        deployer: Address::ZERO,
        contracts: o.devnet.contracts.clone(),
    }
    .save(&record)
    .expect("write the deployment record");

    // list: the game, its claim, model, winner, moves per side, settled.
    let listed = json(&stdout_ok(&refute(
        &sandbox,
        &record,
        &["dispute", "list", "--json"],
    )));
    let games = listed.as_array().expect("an array of games");
    assert_eq!(games.len(), 1, "{listed}");
    let g = &games[0];
    assert_eq!(g["game_id"], o.game_id);
    assert_eq!(g["claim_id"], o.claim_id);
    assert_eq!(g["model_name"], "minilm-l6");
    assert_eq!(g["winner"], "challenger");
    assert_eq!(g["chain"]["defender_moves"], o.report.moves[0]);
    assert_eq!(g["chain"]["challenger_moves"], o.report.moves[1]);
    assert_eq!(g["settled"], true);
    let text = stdout_ok(&refute(&sandbox, &record, &["dispute", "list"]));
    eprintln!("$ refute dispute list\n{text}");
    assert!(
        text.contains("minilm-l6") && text.contains("challenger won"),
        "{text}"
    );
    let other = format!("{}", o.claim_id + 1);
    let none = json(&stdout_ok(&refute(
        &sandbox,
        &record,
        &["dispute", "list", "--claim", &other, "--json"],
    )));
    assert_eq!(none, Value::Array(vec![]), "no game on another claim");

    // show: the last level, a root per level, the disputed step of the two above.
    let shown = json(&stdout_ok(&refute(
        &sandbox,
        &record,
        &["dispute", "show", &game, "--json"],
    )));
    assert_eq!(shown["chain"]["level"], 2);
    assert_eq!(shown["roots"].as_array().map(Vec::len), Some(3));
    assert_eq!(shown["path"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        shown["roots"][0],
        format!("{}", alloy::primitives::B256::from(o.claim.trace_root))
    );
    assert_eq!(shown["winner"], "challenger");
    assert_eq!(
        shown["challenger_bond"],
        format!("{:#x}", U256::from(ETHER))
    );
    let text = stdout_ok(&refute(&sandbox, &record, &["dispute", "show", &game]));
    eprintln!("$ refute dispute show {game}\n{text}");
    assert!(
        text.contains("challenger won") && text.contains("root 2"),
        "{text}"
    );

    // replay --json: the game as the players saw it, and the one-step decoded.
    let from_chain = stdout_ok(&refute(
        &sandbox,
        &record,
        &["dispute", "replay", &game, "--json"],
    ));
    let r = json(&from_chain);
    assert_eq!(r["winner"], "challenger");
    assert_eq!(r["contract_winner"], "challenger");
    assert_eq!(r["by_timeout"], false);
    assert_eq!(r["moves_per_side"][0], o.report.moves[0]);
    assert_eq!(r["moves_per_side"][1], o.report.moves[1]);
    let moves = r["moves"].as_array().expect("moves");
    for (role, n) in [
        ("defender", o.report.moves[0]),
        ("challenger", o.report.moves[1]),
    ] {
        let made = moves.iter().filter(|m| m["side"] == role).count();
        assert_eq!(made as u32, n, "{role}'s moves");
    }
    assert!(
        moves
            .iter()
            .all(|m| m["gas"].as_u64().is_some_and(|g| g > 0)),
        "gas per move"
    );
    for (call, stat) in &o.report.gas {
        assert_eq!(r["gas"][call]["total"], stat.total, "gas of {call}");
        assert_eq!(r["gas"][call]["count"], stat.count, "count of {call}");
    }
    assert_eq!(moves.last().map(|m| &m["kind"]), Some(&Value::from("step")));
    assert!(
        moves
            .iter()
            .filter(|m| m["kind"] == "pick")
            .all(|m| m["why"]
                .as_str()
                .is_some_and(|w| w.contains("first child whose hash differs"))),
        "every pick says why"
    );
    let step = &r["one_step"];
    assert_eq!(step["op"], fault.op as u64, "{step}");
    assert_eq!(step["op_kind"], "map");
    assert_eq!(step["right"], false);
    let prim = &step["primitive"];
    assert_eq!(prim["element"], fault.element);
    assert_eq!(prim["step"], fault.step);
    assert_eq!(
        bits(&prim["claimed"]) ^ bits(&prim["reference"]),
        fault.xor,
        "the defender's result is the reference's with the flipped bit: {prim}"
    );
    assert_eq!(r["settlement"]["paid"], format!("{:#x}", settled.paid));
    assert_eq!(r["settlement"]["challenger_won"], true);

    // The text a developer reads.
    let text = stdout_ok(&refute(&sandbox, &record, &["dispute", "replay", &game]));
    eprintln!("$ refute dispute replay {game}\n{text}");
    for needle in [
        "boundary states",
        "op sub-trace",
        "micro list",
        &format!("op         {} (map)", fault.op),
        &format!("element {}, step {}", fault.element, fault.step),
        &format!("differ in  {:#010x}", fault.xor),
        "Result: challenger wins by the one-step",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }

    // export, then replay from the file: the same replay, without the node.
    let export = stdout_ok(&refute(&sandbox, &record, &["dispute", "export", &game]));
    let file = sandbox.home().join("game.json");
    std::fs::write(&file, &export).expect("write the export");
    let file_arg = file.to_str().expect("a UTF-8 path");
    let from_file = stdout_ok(&refute(
        &sandbox,
        &record,
        &["dispute", "replay", &game, "--json", "--from", file_arg],
    ));
    assert_eq!(
        from_file, from_chain,
        "replay from the file equals replay from the chain"
    );

    // Errors name the thing and the fix, never a panic.
    let err = stderr_err(&refute(&sandbox, &record, &["dispute", "replay", "99"]));
    assert!(
        err.contains("game 99 does not exist") && err.contains("refute dispute list"),
        "{err}"
    );
    let garbage = sandbox.home().join("garbage.json");
    std::fs::write(&garbage, "{\"hello\": 1}").expect("write");
    let garbage_arg = garbage.to_str().expect("a UTF-8 path");
    let err = stderr_err(&refute(
        &sandbox,
        &record,
        &["dispute", "replay", &game, "--from", garbage_arg],
    ));
    assert!(
        err.contains("garbage.json is not a dispute export")
            && err.contains("refute dispute export"),
        "{err}"
    );
    let mut foreign = json(&export);
    foreign["chain_id"] = Value::from(1u64);
    let foreign_file = sandbox.home().join("foreign.json");
    std::fs::write(&foreign_file, foreign.to_string()).expect("write");
    let foreign_arg = foreign_file.to_str().expect("a UTF-8 path");
    let err = stderr_err(&refute(
        &sandbox,
        &record,
        &["dispute", "replay", &game, "--from", foreign_arg],
    ));
    assert!(
        err.contains("from chain 1") && err.contains("--any-deployment"),
        "{err}"
    );
    let down = format!("http://127.0.0.1:{}", free_port());
    let err = stderr_err(&refute(
        &sandbox,
        &record,
        &["dispute", "show", &game, "--rpc-url", &down],
    ));
    assert!(
        err.contains("is the node") && err.contains("running"),
        "{err}"
    );
}
