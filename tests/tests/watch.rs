//! `refute watch` against a real Anvil devnet: claims recorded exactly once
//! across `kill -9`, reorgs above and below the confirmation depth, an RPC
//! outage, and the metrics endpoint.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{B256, Bytes, U256, keccak256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use bisection::contracts::{Claims, ModelRegistry};
use bisection::deployment::Deployment;
use bisection::game::tree::Tree;
use bisection::machine::{Claim, ClaimPost, encode_state, state_root};
use refute_e2e::{Relay, Sandbox, free_port, refute_bin, stdout_ok};
use serde_json::Value;
use trace_vm::commit::DType;
use trace_vm::tensor::Tensor;

/// Anvil's first development account (public knowledge): posts and challenges the claims.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The level sizes every synthetic claim carries.
const SIZES: [u64; 2] = [4, 16];

/// The post of a synthetic claim: its input state holds `input`'s bytes, its
/// output state the bytes `output`, and its trace of `SIZES[0]` entries opens
/// them at its first and last entries, as `postClaim` checks.
fn synthetic(input: &str) -> ClaimPost {
    let state = |id: u32, bytes: &[u8]| {
        let t = Tensor::from_bytes(DType::U8, &[bytes.len()], bytes.to_vec())
            .expect("bytes make a U8 tensor");
        encode_state(&[(id, &t)])
    };
    let (input, output) = (state(0, input.as_bytes()), state(1, b"output"));
    let root = |b: &[u8]| state_root("synthetic", b).expect("the encoding is valid");
    let mut entries = vec![root(&output); SIZES[0] as usize];
    entries[0] = root(&input);
    let trace = Tree::new(&entries);
    let claim = Claim {
        weights_root: [0; 32],
        arch_hash: [0; 32],
        input_hash: [0; 32],
        output_hash: [0; 32],
        trace_root: trace.root(),
        sizes: SIZES.to_vec(),
    };
    ClaimPost::new(
        claim,
        input,
        output,
        trace.proof(0),
        trace.proof(SIZES[0] - 1),
    )
}

/// The input hash the watcher records for [`synthetic`]`(input)`.
fn input_hash(input: &str) -> B256 {
    synthetic(input).claim.input_hash.into()
}

/// A devnet with the contracts deployed, and a client to post claims on it.
struct Devnet {
    sandbox: Sandbox,
    deployment: Deployment,
    rt: tokio::runtime::Runtime,
    anvil_port: u16,
    min_bond: U256,
}

impl Devnet {
    fn start() -> Self {
        let sandbox = Sandbox::new();
        let anvil_port = free_port();
        stdout_ok(&sandbox.refute(&["devnet", "up", "--port", &anvil_port.to_string()]));
        let deployment = Deployment::load(&sandbox.home().join("devnet/deployment.json"))
            .expect("`devnet up` wrote the deployment record");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        Self {
            sandbox,
            deployment,
            rt,
            anvil_port,
            // `refute devnet up`'s default minimum bond: 0.01 ether.
            min_bond: U256::from(10_000_000_000_000_000u64),
        }
    }

    /// A fresh client: its nonce filler reads the account's nonce anew, which a
    /// reverted chain needs (a cached nonce would be too high).
    fn client(&self) -> DynProvider {
        let signer: PrivateKeySigner = DEV_KEY.parse().expect("the development key parses");
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(
                self.deployment
                    .rpc_url
                    .parse()
                    .expect("the record's URL parses"),
            )
            .erased()
    }

    fn claims(&self) -> Claims::ClaimsInstance<DynProvider> {
        Claims::new(self.deployment.contracts.claims, self.client())
    }

    /// Registers a synthetic model (the follower only records claims) and returns its id.
    fn register_model(&self, tag: u8) -> B256 {
        let registry = ModelRegistry::new(self.deployment.contracts.model_registry, self.client());
        let (weights, arch) = (B256::repeat_byte(tag), B256::repeat_byte(tag ^ 0xff));
        self.rt.block_on(async {
            registry
                .register(weights, arch, format!("synthetic-{tag}"))
                .send()
                .await
                .expect("register is sent")
                .get_receipt()
                .await
                .expect("register is mined");
        });
        keccak256([weights.as_slice(), arch.as_slice()].concat())
    }

    /// Posts a claim whose input is `input`; returns the block hash it landed in.
    fn post_claim(&self, model: B256, input: &str) -> B256 {
        let post = synthetic(input);
        self.rt.block_on(async {
            let receipt = self
                .claims()
                .postClaim(
                    model,
                    Bytes::from(post.input),
                    Bytes::from(post.output),
                    post.claim.trace_root.into(),
                    SIZES.to_vec(),
                    post.input_proof.into_iter().map(B256::from).collect(),
                    post.output_proof.into_iter().map(B256::from).collect(),
                )
                .value(self.min_bond)
                .send()
                .await
                .expect("postClaim is sent")
                .get_receipt()
                .await
                .expect("postClaim is mined");
            assert!(receipt.status(), "postClaim reverted");
            receipt.block_hash.expect("a mined receipt names its block")
        })
    }

    /// Challenges claim `id` (posted by [`Devnet::post_claim`] with `input`).
    fn challenge(&self, id: u64, model: B256, input: &str) {
        let claim = synthetic(input).claim;
        self.rt.block_on(async {
            let receipt = self
                .claims()
                .challenge(
                    U256::from(id),
                    model,
                    claim.input_hash.into(),
                    claim.output_hash.into(),
                    claim.trace_root.into(),
                    SIZES.to_vec(),
                )
                .value(self.min_bond)
                .send()
                .await
                .expect("challenge is sent")
                .get_receipt()
                .await
                .expect("challenge is mined");
            assert!(receipt.status(), "challenge reverted");
        });
    }

    fn mine(&self, blocks: u64) {
        self.rt
            .block_on(self.client().anvil_mine(Some(blocks), None))
            .expect("anvil_mine works");
    }

    fn head(&self) -> u64 {
        self.rt
            .block_on(self.client().get_block_number())
            .expect("eth_blockNumber works")
    }

    fn snapshot(&self) -> U256 {
        self.rt
            .block_on(self.client().anvil_snapshot())
            .expect("evm_snapshot works")
    }

    fn revert_to(&self, id: U256) {
        let reverted = self
            .rt
            .block_on(self.client().anvil_revert(id))
            .expect("evm_revert works");
        assert!(reverted, "evm_revert found the snapshot");
    }

    fn db(&self) -> PathBuf {
        self.sandbox.home().join("watch.db")
    }

    /// `refute watch --once --json ARGS`; its stdout lines as JSON.
    fn watch_once(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["watch", "--once", "--json"];
        all.extend_from_slice(args);
        stdout_ok(&self.sandbox.refute(&all))
            .lines()
            .map(|l| serde_json::from_str(l).expect("each --json line is JSON"))
            .collect()
    }

    /// `refute watch ARGS` running in the background, stderr to `log`.
    fn spawn_watch(&self, args: &[&str], log: &Path) -> Running {
        let child = Command::new(refute_bin())
            .current_dir(refute_e2e::workspace_root())
            .arg("--home")
            .arg(self.sandbox.home())
            .arg("watch")
            .args(args)
            .stdout(Stdio::null())
            .stderr(
                File::options()
                    .create(true)
                    .append(true)
                    .open(log)
                    .expect("log file opens"),
            )
            .spawn()
            .expect("refute watch starts");
        Running(child)
    }
}

/// A background `refute watch`, killed if a failing test leaves it running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Claims in the database: (id, input hash, block hash), by id.
fn recorded_claims(db: &Path) -> Vec<(u64, B256, B256)> {
    let conn = rusqlite::Connection::open(db).expect("the watcher's database opens");
    let mut stmt = conn
        .prepare("SELECT id, input_hash, block_hash FROM claims ORDER BY id")
        .expect("the watcher's database reads");
    stmt.query_map([], |r| {
        let hash = |b: Vec<u8>| B256::from_slice(&b);
        Ok((r.get(0)?, hash(r.get(1)?), hash(r.get(2)?)))
    })
    .expect("the watcher's database reads")
    .collect::<Result<_, _>>()
    .expect("the watcher's database reads")
}

fn query_u64(db: &Path, sql: &str) -> u64 {
    let conn = rusqlite::Connection::open(db).expect("the watcher's database opens");
    conn.query_row(sql, [], |r| r.get(0))
        .expect("the watcher's database reads")
}

/// `GET /metrics`; `None` while the endpoint is not up.
fn scrape(port: u16) -> Option<String> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.0 200").then_some(text)
}

/// The value of the sample `series` (name with labels, as printed).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Sum of every sample of `name` whatever its labels.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Scrapes until `ok` holds, for at most `secs`; returns the last scrape.
fn wait_for_metrics(
    port: u16,
    secs: u64,
    what: &str,
    ok: impl Fn(&str) -> bool,
    log: &Path,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(text) = scrape(port)
            && ok(&text)
        {
            return text;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: not within {secs} s\nlast scrape:\n{}\nwatcher log:\n{}",
                scrape(port).unwrap_or_default(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGTERM and waits for a clean exit.
fn terminate(mut running: Running, log: &Path) {
    let child = &mut running.0;
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM is delivered");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("the watcher can be waited for") {
            assert!(
                status.success(),
                "the watcher exited with {status} on SIGTERM\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            return;
        }
        assert!(Instant::now() < deadline, "the watcher ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn claims_are_recorded_exactly_once_across_kill_9() {
    let net = Devnet::start();
    let model = net.register_model(1);
    let seed = fastrand::u64(..);
    eprintln!("kill timing seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let log = net.sandbox.home().join("watch.log");
    // One block per step and a short poll: the watcher is always mid-range.
    let args = [
        "--confirmations",
        "0",
        "--poll-interval-ms",
        "20",
        "--max-block-range",
        "1",
    ];

    let mut inputs = Vec::new();
    let mut post = |net: &Devnet, n: usize| {
        for _ in 0..n {
            let input = format!("input {}", inputs.len());
            net.post_claim(model, &input);
            inputs.push(input);
        }
    };
    post(&net, 4);
    let mut mid_range_kills = 0;
    for kill in 0..5 {
        // A backlog of claims and empty blocks, so that the kill lands while
        // the watcher is following (one block per step).
        post(&net, 3);
        net.mine(150);
        let mut running = net.spawn_watch(&args, &log);
        std::thread::sleep(Duration::from_millis(rng.u64(30..400)));
        running.0.kill().expect("SIGKILL is delivered");
        running.0.wait().expect("the killed watcher is reaped");
        let cursor = query_u64(&net.db(), "SELECT COALESCE(MAX(number), 0) FROM blocks");
        let head = net.head();
        eprintln!(
            "kill {kill}: cursor {cursor} of {head}, {} claims recorded",
            recorded_claims(&net.db()).len()
        );
        if cursor > 0 && cursor < head {
            mid_range_kills += 1;
        }
    }
    assert!(
        mid_range_kills > 0,
        "no kill landed while the watcher was following; the test did not test anything"
    );
    post(&net, 2);
    net.watch_once(&["--confirmations", "0"]);

    let recorded = recorded_claims(&net.db());
    let expected: Vec<(u64, B256)> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (i as u64, input_hash(input)))
        .collect();
    let got: Vec<(u64, B256)> = recorded
        .iter()
        .map(|(id, input, _)| (*id, *input))
        .collect();
    assert_eq!(got, expected, "every claim exactly once, in order");
    // One job per claim, and the synthetic model is not installed here.
    assert_eq!(
        query_u64(
            &net.db(),
            "SELECT COUNT(*) FROM jobs WHERE state = 'model_not_installed'"
        ),
        inputs.len() as u64
    );
    assert_eq!(
        query_u64(&net.db(), "SELECT MAX(number) FROM blocks"),
        net.head(),
        "the cursor is at the head"
    );
    let conn = rusqlite::Connection::open(net.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn reorgs_below_and_beyond_the_confirmation_depth() {
    let net = Devnet::start();
    let model = net.register_model(2);

    // Beyond the depth: claim A is recorded, then its block is replaced by one with B.
    let before_a = net.snapshot();
    net.post_claim(model, "A");
    net.mine(2);
    let lines = net.watch_once(&["--confirmations", "1"]);
    assert!(lines.iter().all(|l| l["event"] == "applied"), "{lines:?}");
    assert_eq!(recorded_claims(&net.db()).len(), 1);
    assert_eq!(recorded_claims(&net.db())[0].1, input_hash("A"));

    net.revert_to(before_a);
    let block_b = net.post_claim(model, "B");
    net.mine(3);
    let lines = net.watch_once(&["--confirmations", "1"]);
    assert_eq!(lines[0]["event"], "reorg", "{lines:?}");
    assert_eq!(lines[0]["removed"]["claims"], 1, "{lines:?}");
    assert!(
        lines[1..].iter().all(|l| l["event"] == "applied"),
        "{lines:?}"
    );
    assert_eq!(
        recorded_claims(&net.db()),
        vec![(0, input_hash("B"), block_b)],
        "A is gone, B is recorded from its block"
    );
    assert_eq!(query_u64(&net.db(), "SELECT COUNT(*) FROM jobs"), 1);

    // Within the depth: claim C is never safe before its block is replaced by one with D.
    let before_c = net.snapshot();
    net.post_claim(model, "C");
    net.mine(1);
    let lines = net.watch_once(&["--confirmations", "3"]);
    assert!(lines.iter().all(|l| l["event"] == "applied"), "{lines:?}");
    assert_eq!(recorded_claims(&net.db()).len(), 1, "C is not final yet");

    net.revert_to(before_c);
    let block_d = net.post_claim(model, "D");
    net.mine(4);
    let lines = net.watch_once(&["--confirmations", "3"]);
    assert!(
        lines.iter().all(|l| l["event"] == "applied"),
        "no reorg below the cursor: {lines:?}"
    );
    assert_eq!(
        recorded_claims(&net.db()),
        vec![(0, input_hash("B"), block_b), (1, input_hash("D"), block_d)]
    );
}

#[test]
fn an_rpc_outage_is_retried_counted_and_caught_up() {
    let net = Devnet::start();
    let model = net.register_model(3);
    for i in 0..3 {
        net.post_claim(model, &format!("before {i}"));
    }
    let mut relay = Relay::new(net.anvil_port);
    let metrics_port = free_port();
    let log = net.sandbox.home().join("watch.log");
    let rpc = format!("http://127.0.0.1:{}", relay.port);
    let maddr = format!("127.0.0.1:{metrics_port}");
    let child = net.spawn_watch(
        &[
            "--rpc-url",
            &rpc,
            "--confirmations",
            "0",
            "--poll-interval-ms",
            "100",
            "--metrics-addr",
            &maddr,
            "--rpc-max-retries",
            "50",
        ],
        &log,
    );
    let pending = "refute_watch_claims{status=\"pending\"}";
    wait_for_metrics(
        metrics_port,
        30,
        "3 claims before the outage",
        |t| metric(t, pending) == Some(3.0),
        &log,
    );

    relay.off();
    for i in 0..2 {
        net.post_claim(model, &format!("during {i}"));
    }
    std::thread::sleep(Duration::from_secs(3));
    let during = scrape(metrics_port).expect("the metrics endpoint does not depend on the node");
    assert_eq!(
        metric(&during, pending),
        Some(3.0),
        "nothing new was read while the node was away"
    );
    assert!(
        metric_sum(&during, "refute_watch_rpc_errors_total") >= 2.0,
        "failed attempts are counted:\n{during}"
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("RPC call failed; retrying"),
        "the retries are logged"
    );

    relay.on();
    let after = wait_for_metrics(
        metrics_port,
        30,
        "catch-up after the outage",
        |t| metric(t, pending) == Some(5.0),
        &log,
    );
    assert_eq!(metric(&after, "refute_watch_claims_seen_total"), Some(5.0));
    assert_eq!(metric(&after, "refute_watch_reorgs_total"), Some(0.0));
    terminate(child, &log);
    assert_eq!(recorded_claims(&net.db()).len(), 5);
}

#[test]
fn the_metrics_endpoint_reports_what_was_recorded() {
    let net = Devnet::start();
    let watched = net.register_model(4);
    let other = net.register_model(5);
    net.post_claim(watched, "x0");
    net.post_claim(watched, "x1");
    net.post_claim(other, "y0");
    net.challenge(1, watched, "x1");

    let metrics_port = free_port();
    let log = net.sandbox.home().join("watch.log");
    let maddr = format!("127.0.0.1:{metrics_port}");
    let models = format!("{watched}");
    let args = [
        "--confirmations",
        "0",
        "--poll-interval-ms",
        "100",
        "--metrics-addr",
        &maddr,
        "--models",
        &models,
    ];
    let child = net.spawn_watch(&args, &log);
    let head = net.head() as f64;
    let text = wait_for_metrics(
        metrics_port,
        30,
        "the watcher reaches the head and handles every claim",
        |t| {
            metric(t, "refute_watch_cursor_block") == Some(head)
                && metric(t, "refute_watch_jobs{state=\"queued\"}") == Some(0.0)
        },
        &log,
    );
    let expect = |series: &str, value: f64| {
        assert_eq!(metric(&text, series), Some(value), "{series}\n{text}");
    };
    expect("refute_watch_claims_seen_total", 3.0);
    expect("refute_watch_claims{status=\"pending\"}", 2.0);
    expect("refute_watch_claims{status=\"challenged\"}", 1.0);
    expect("refute_watch_games{state=\"open\"}", 1.0);
    expect("refute_watch_games{state=\"challenger_won\"}", 0.0);
    expect("refute_watch_moves_total{kind=\"challenged\"}", 1.0);
    // Three claimants' bonds and one challenger's, 0.01 ether each.
    expect("refute_watch_bonded_wei{side=\"claimant\"}", 3e16);
    expect("refute_watch_bonded_wei{side=\"challenger\"}", 1e16);
    // The unwatched model's claim is ignored; the watched one is not installed here.
    expect("refute_watch_jobs{state=\"ignored\"}", 1.0);
    expect("refute_watch_jobs{state=\"model_not_installed\"}", 2.0);
    expect("refute_watch_head_block", head);
    expect("refute_watch_lag_blocks", 0.0);
    assert_eq!(
        metric_sum(&text, "refute_watch_rpc_errors_total"),
        0.0,
        "{text}"
    );
    terminate(child, &log);

    // A restarted watcher counts afresh but reads the gauges from its database.
    let child = net.spawn_watch(&args, &log);
    let text = wait_for_metrics(
        metrics_port,
        30,
        "the restarted watcher serves metrics",
        |t| {
            metric(t, "refute_watch_head_block") == Some(head)
                && metric(t, "refute_watch_cursor_block") == Some(head)
        },
        &log,
    );
    assert_eq!(
        metric(&text, "refute_watch_claims_seen_total"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "refute_watch_claims{status=\"pending\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "refute_watch_games{state=\"open\"}"),
        Some(1.0),
        "{text}"
    );
    terminate(child, &log);
}
