//! A devnet (`refute devnet up`) in a fresh state directory, with the
//! helpers the end-to-end tests of the daemons share: funded accounts,
//! `refute` processes as those accounts, and reads of the contracts.

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

use crate::{Background, Sandbox, free_port, installed_model, refute_bin, stdout_ok};

/// The devnet's default challenge window, in seconds.
pub const WINDOW: u64 = 600;

/// Claim status `Finalized` (`IClaims.Status`).
pub const FINALIZED: u8 = 2;
/// Claim status `Rejected` (`IClaims.Status`).
pub const REJECTED: u8 = 3;

/// A devnet whose only installed model is MiniLM-L6.
pub struct Net {
    /// Its state directory (`--home`).
    pub sandbox: Sandbox,
    /// The deployment `devnet up` recorded.
    pub deployment: Deployment,
    /// A runtime for the test's own chain reads and in-process players.
    pub rt: tokio::runtime::Runtime,
}

impl Net {
    /// A devnet in a fresh state directory whose models are MiniLM-L6 alone
    /// (the watcher indexes every installed model when it starts).
    pub fn start() -> Option<Self> {
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
    pub fn funded(&self) -> String {
        let signer = PrivateKeySigner::random();
        let ether = U256::from(10u64).pow(U256::from(21u64));
        self.rt
            .block_on(self.provider().anvil_set_balance(signer.address(), ether))
            .expect("anvil_setBalance");
        format!("0x{}", alloy::hex::encode(signer.to_bytes()))
    }

    /// A read-only connection to the devnet.
    pub fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.deployment.rpc_url.parse().expect("URL"))
            .erased()
    }

    /// `refute ARGS` in the background as the account `key` (for `claim`
    /// and `watch`), stderr appended to `log`.
    pub fn spawn(&self, key: &str, args: &[&str], log: &Path) -> Background {
        let child = Command::new(refute_bin())
            .current_dir(crate::workspace_root())
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

    /// `refute claim --defend --json` of `prompt` on MiniLM-L6 as `key`,
    /// lying as `cheat` says.
    pub fn claim(&self, key: &str, prompt: &str, cheat: Option<&str>, log: &Path) -> Background {
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

    /// `refute watch` as `key`, on `<home>/watch.db`, acting at once.
    pub fn watch(&self, key: &str, log: &Path) -> Background {
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

    /// The `Claims` contract.
    pub fn claims(&self) -> Claims::ClaimsInstance<DynProvider> {
        Claims::new(self.deployment.contracts.claims, self.provider())
    }

    /// `Claims.claimCount`.
    pub fn claim_count(&self) -> u64 {
        self.rt
            .block_on(self.claims().claimCount().call().into_future())
            .expect("claimCount")
            .to()
    }

    /// Claim `id`'s status (`IClaims.Status`).
    pub fn status(&self, id: u64) -> u8 {
        self.rt
            .block_on(self.claims().getClaim(U256::from(id)).call().into_future())
            .expect("getClaim")
            .status
    }

    /// Who posted claim `id`.
    pub fn claimant(&self, id: u64) -> Address {
        self.rt
            .block_on(self.claims().getClaim(U256::from(id)).call().into_future())
            .expect("getClaim")
            .claimant
    }

    /// Moves the challenger (the watcher) made in every game so far.
    pub fn challenger_moves(&self) -> u32 {
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

    /// `who`'s balance.
    pub fn balance(&self, who: Address) -> U256 {
        self.rt
            .block_on(self.provider().get_balance(who).into_future())
            .expect("eth_getBalance")
    }

    /// Moves the chain's clock `secs` on and mines a block.
    pub fn advance(&self, secs: u64) {
        let p = self.provider();
        self.rt.block_on(async {
            p.anvil_increase_time(secs).await.expect("evm_increaseTime");
            p.evm_mine(None).await.expect("evm_mine");
        });
    }
}

/// The address of private key `key`.
pub fn address(key: &str) -> Address {
    key.parse::<PrivateKeySigner>().expect("key").address()
}

/// Waits until `done` holds, for at most `secs`, showing `log` on failure.
pub fn wait_until(secs: u64, what: &str, log: &Path, mut done: impl FnMut() -> bool) {
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
