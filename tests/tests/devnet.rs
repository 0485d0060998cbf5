//! `refute devnet up | status | down` against a real Anvil node.

use std::net::{Ipv4Addr, TcpListener};

use refute_e2e::{Sandbox, free_port, stderr_err, stdout_ok};
use serde_json::Value;

#[test]
fn up_deploys_status_reports_down_stops() {
    let sandbox = Sandbox::new();
    let port = free_port().to_string();

    let up: Value = serde_json::from_str(&stdout_ok(
        &sandbox.refute(&["devnet", "up", "--port", &port, "--json"]),
    ))
    .expect("`devnet up --json` prints the deployment record");
    assert_eq!(up["chain_id"], 31337);
    assert_eq!(up["rpc_url"], format!("http://127.0.0.1:{port}"));
    let registry = up["contracts"]["model_registry"].as_str().unwrap();
    assert!(
        registry.starts_with("0x") && registry.len() == 42,
        "{registry}"
    );

    // The record on disk is what every other command reads by default.
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(sandbox.home().join("devnet/deployment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(on_disk, up);

    let status: Value =
        serde_json::from_str(&stdout_ok(&sandbox.refute(&["devnet", "status", "--json"]))).unwrap();
    assert_eq!(status["running"], true);
    assert!(status["block"].as_u64().unwrap() >= up["deploy_block"].as_u64().unwrap());
    assert_eq!(status["deployment"], up);

    let down = stdout_ok(&sandbox.refute(&["devnet", "down"]));
    assert!(down.contains("devnet stopped"), "{down}");
    let status: Value =
        serde_json::from_str(&stdout_ok(&sandbox.refute(&["devnet", "status", "--json"]))).unwrap();
    assert_eq!(status["running"], false);
    assert!(!sandbox.home().join("devnet/deployment.json").exists());

    // Stopping twice is not an error, and says so.
    let again = stdout_ok(&sandbox.refute(&["devnet", "down"]));
    assert!(again.contains("no devnet was running"), "{again}");
}

#[test]
fn starting_twice_names_the_running_devnet() {
    let sandbox = Sandbox::new();
    let port = free_port().to_string();
    stdout_ok(&sandbox.refute(&["devnet", "up", "--port", &port]));

    let err = stderr_err(&sandbox.refute(&["devnet", "up", "--port", &port]));
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("refute devnet down"), "{err}");
}

#[test]
fn a_taken_port_is_reported_with_the_fix() {
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    let err = stderr_err(&sandbox.refute(&["devnet", "up", "--port", &port]));
    assert!(err.contains(&format!("port {port}")), "{err}");
    assert!(err.contains("--port"), "{err}");
    assert!(!sandbox.home().join("devnet/deployment.json").exists());
}

#[test]
fn status_without_a_devnet_says_how_to_start_one() {
    let sandbox = Sandbox::new();
    let out = stdout_ok(&sandbox.refute(&["devnet", "status"]));
    assert!(out.contains("refute devnet up"), "{out}");
}
