//! The watcher's settings: a TOML file, `REFUTE_WATCH_*` environment variables
//! and command-line flags, merged in that order (flags win) into one typed
//! [`WatchConfig`].
//!
//! Each source is read into a [`ConfigLayer`] (every field optional) so that a
//! bad value is reported with the key as it was written where it came from.
//! The account key is a secret: it is read from the environment only, never
//! from the file, and never logged (its `Debug` prints the address).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use serde::Deserialize;

use crate::{Error, Result};

/// Prefix of the environment variables the watcher reads.
pub const ENV_PREFIX: &str = "REFUTE_WATCH_";
/// The only place the account key may come from.
pub const ACCOUNT_KEY_ENV: &str = "REFUTE_WATCH_ACCOUNT_KEY";

/// Settings from one source; `None` leaves the value to a lower layer.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// JSON-RPC endpoint; defaults to the deployment record's.
    pub rpc_url: Option<String>,
    /// Deployment record (contract addresses, chain id, deploy block).
    pub deployment: Option<PathBuf>,
    /// Blocks below the head that count as final.
    pub confirmations: Option<u64>,
    /// Milliseconds between polls of the head once caught up.
    pub poll_interval_ms: Option<u64>,
    /// Only these model ids are re-executed (all installed ones when absent).
    pub models: Option<Vec<String>>,
    /// Claims handled at once by the worker pool.
    pub workers: Option<usize>,
    /// Address of the Prometheus endpoint; none when absent.
    pub metrics_addr: Option<String>,
    /// SQLite database file.
    pub db: Option<PathBuf>,
    /// Most blocks read by one `eth_getLogs`.
    pub max_block_range: Option<u64>,
    /// Blocks below the cursor whose hashes are kept to detect reorgs.
    pub reorg_horizon: Option<u64>,
    /// Attempts per RPC call before a step gives up.
    pub rpc_max_retries: Option<u32>,
}

/// Where a layer came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The TOML file.
    File,
    /// `REFUTE_WATCH_*` variables.
    Env,
    /// Command-line flags.
    Flags,
    /// Built-in defaults.
    Default,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::File => "the config file",
            Source::Env => "the environment",
            Source::Flags => "a flag",
            Source::Default => "the defaults",
        }
    }

    /// How `key` is spelled in this source.
    fn spell(self, key: &str) -> String {
        match self {
            Source::Env => format!("{ENV_PREFIX}{}", key.to_uppercase()),
            Source::Flags => format!("--{}", key.replace('_', "-")),
            Source::File | Source::Default => key.to_string(),
        }
    }
}

impl ConfigLayer {
    /// Reads a TOML file. An `account_key` in it is refused: secrets come from
    /// the environment only.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|reason| Error::ConfigParse {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses TOML text; the error names the offending key.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        if table.contains_key("account_key") {
            return Err(format!(
                "`account_key` must not be written in a file; set {ACCOUNT_KEY_ENV} in the environment instead"
            ));
        }
        table.try_into().map_err(|e: toml::de::Error| e.to_string())
    }

    /// Reads `REFUTE_WATCH_*` variables from `vars`. An unknown one is an
    /// error (a typo would otherwise be silently ignored); the account key is
    /// returned apart.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Option<String>)> {
        let mut layer = Self::default();
        let mut key = None;
        for (name, value) in vars {
            let Some(field) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let bad = |reason: String| Error::ConfigValue {
                key: name.clone(),
                source_name: Source::Env.name(),
                reason,
            };
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("`{v}` is not a whole number")))
            };
            match field {
                "ACCOUNT_KEY" => key = Some(value),
                "RPC_URL" => layer.rpc_url = Some(value),
                "DEPLOYMENT" => layer.deployment = Some(value.into()),
                "CONFIRMATIONS" => layer.confirmations = Some(number(&value)?),
                "POLL_INTERVAL_MS" => layer.poll_interval_ms = Some(number(&value)?),
                "MODELS" => {
                    layer.models = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                    )
                }
                "WORKERS" => layer.workers = Some(number(&value)? as usize),
                "METRICS_ADDR" => layer.metrics_addr = Some(value),
                "DB" => layer.db = Some(value.into()),
                "MAX_BLOCK_RANGE" => layer.max_block_range = Some(number(&value)?),
                "REORG_HORIZON" => layer.reorg_horizon = Some(number(&value)?),
                "RPC_MAX_RETRIES" => {
                    layer.rpc_max_retries =
                        Some(u32::try_from(number(&value)?).map_err(|_| bad("too large".into()))?)
                }
                _ => {
                    return Err(bad(
                        "unknown variable; see `refute watch --help` for the settings".into(),
                    ));
                }
            }
        }
        Ok((layer, key))
    }
}

/// Defaults that depend on where the command runs.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The deployment record `refute devnet up` writes.
    pub deployment: PathBuf,
    /// The database file in the state directory.
    pub db: PathBuf,
    /// Where models are installed.
    pub models_dir: PathBuf,
    /// Claims handled at once when no layer sets `workers` ([`WORKERS`]
    /// for a watcher).
    pub workers: usize,
}

/// The account the watcher acts as. `Debug` shows the address only.
#[derive(Clone)]
pub struct Account(PrivateKeySigner);

impl Account {
    /// The account's address.
    pub fn address(&self) -> Address {
        self.0.address()
    }

    /// The signer, for the stage that sends transactions.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.0
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({})", self.address())
    }
}

/// The merged, validated settings.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// JSON-RPC endpoint; `None` uses the deployment record's.
    pub rpc_url: Option<String>,
    /// Deployment record.
    pub deployment: PathBuf,
    /// Blocks below the head that count as final (0 follows the head).
    pub confirmations: u64,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// Model ids to re-execute; `None` means every installed model.
    pub models: Option<BTreeSet<B256>>,
    /// Size of the worker pool.
    pub workers: usize,
    /// Prometheus endpoint, if any.
    pub metrics_addr: Option<SocketAddr>,
    /// SQLite database file.
    pub db: PathBuf,
    /// Most blocks per `eth_getLogs`.
    pub max_block_range: u64,
    /// Blocks whose hashes are kept below the cursor.
    pub reorg_horizon: u64,
    /// Attempts per RPC call.
    pub rpc_max_retries: u32,
    /// Where installed models are looked up.
    pub models_dir: PathBuf,
    /// The account, when a key was given.
    pub account: Option<Account>,
}

/// Settings with a built-in default.
const CONFIRMATIONS: u64 = 2;
const POLL_INTERVAL_MS: u64 = 2_000;
/// The watcher's default number of claims handled at once.
pub const WORKERS: usize = 4;
const MAX_BLOCK_RANGE: u64 = 1_000;
const REORG_HORIZON: u64 = 256;
const RPC_MAX_RETRIES: u32 = 8;

impl WatchConfig {
    /// Merges `layers` (lowest precedence first, each with its source) over
    /// `defaults` and validates the result.
    pub fn resolve(
        defaults: Defaults,
        layers: &[(Source, &ConfigLayer)],
        account_key: Option<&str>,
    ) -> Result<Self> {
        // The winning value of a field, with the source it came from.
        macro_rules! pick {
            ($field:ident) => {
                layers
                    .iter()
                    .rev()
                    .find_map(|(src, l)| l.$field.clone().map(|v| (*src, v)))
            };
        }
        fn bad(src: Source, key: &str, reason: impl Into<String>) -> Error {
            Error::ConfigValue {
                key: src.spell(key),
                source_name: src.name(),
                reason: reason.into(),
            }
        }
        fn ranged<T: PartialOrd + std::fmt::Display + Copy>(
            value: Option<(Source, T)>,
            default: T,
            key: &str,
            min: T,
            max: T,
        ) -> Result<T> {
            let (src, v) = value.unwrap_or((Source::Default, default));
            if v < min || v > max {
                return Err(bad(
                    src,
                    key,
                    format!("{v} is out of range; use {min} to {max}"),
                ));
            }
            Ok(v)
        }

        let rpc_url = match pick!(rpc_url) {
            Some((src, url)) => {
                url.parse::<alloy::transports::http::reqwest::Url>()
                    .map_err(|e| {
                        bad(
                            src,
                            "rpc_url",
                            format!("`{url}` is not a URL ({e}); write e.g. http://127.0.0.1:8545"),
                        )
                    })?;
                Some(url)
            }
            None => None,
        };
        let confirmations = ranged(
            pick!(confirmations),
            CONFIRMATIONS,
            "confirmations",
            0,
            10_000,
        )?;
        let poll_ms = ranged(
            pick!(poll_interval_ms),
            POLL_INTERVAL_MS,
            "poll_interval_ms",
            10,
            3_600_000,
        )?;
        let workers = ranged(pick!(workers), defaults.workers, "workers", 1, 1_024)?;
        let max_block_range = ranged(
            pick!(max_block_range),
            MAX_BLOCK_RANGE,
            "max_block_range",
            1,
            100_000,
        )?;
        let reorg_horizon = ranged(
            pick!(reorg_horizon),
            REORG_HORIZON,
            "reorg_horizon",
            1,
            1_000_000,
        )?;
        let rpc_max_retries = ranged(
            pick!(rpc_max_retries),
            RPC_MAX_RETRIES,
            "rpc_max_retries",
            1,
            100,
        )?;
        let models = match pick!(models) {
            Some((src, ids)) => {
                let parsed = ids
                    .iter()
                    .map(|id| {
                        id.parse::<B256>().map_err(|_| {
                            bad(src, "models", format!("`{id}` is not a model id; write the 0x-prefixed 32-byte commitment `refute model list` shows"))
                        })
                    })
                    .collect::<Result<BTreeSet<_>>>()?;
                if parsed.is_empty() {
                    return Err(bad(
                        src,
                        "models",
                        "the list is empty; leave it out to re-execute every installed model",
                    ));
                }
                Some(parsed)
            }
            None => None,
        };
        let metrics_addr = match pick!(metrics_addr) {
            Some((src, addr)) => Some(addr.parse::<SocketAddr>().map_err(|_| {
                bad(
                    src,
                    "metrics_addr",
                    format!("`{addr}` is not an address; write IP:PORT, e.g. 127.0.0.1:9464"),
                )
            })?),
            None => None,
        };
        let account = account_key
            .map(|key| {
                key.trim()
                    .parse::<PrivateKeySigner>()
                    .map(Account)
                    .map_err(|_| Error::ConfigValue {
                        key: ACCOUNT_KEY_ENV.into(),
                        source_name: Source::Env.name(),
                        // The value itself is never echoed.
                        reason: "not a 32-byte hex private key".into(),
                    })
            })
            .transpose()?;
        Ok(Self {
            rpc_url,
            deployment: pick!(deployment).map_or(defaults.deployment, |(_, p)| p),
            confirmations,
            poll_interval: Duration::from_millis(poll_ms),
            models,
            workers,
            metrics_addr,
            db: pick!(db).map_or(defaults.db, |(_, p)| p),
            max_block_range,
            reorg_horizon,
            rpc_max_retries,
            models_dir: defaults.models_dir,
            account,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            deployment: "dep.json".into(),
            db: "watch.db".into(),
            models_dir: "models".into(),
            workers: WORKERS,
        }
    }

    #[test]
    fn flags_win_over_env_over_file_over_defaults() {
        let file =
            ConfigLayer::from_toml("confirmations = 5\nworkers = 3\ndb = \"file.db\"\n").unwrap();
        let env = vec![
            ("REFUTE_WATCH_CONFIRMATIONS".to_string(), "7".to_string()),
            ("REFUTE_WATCH_DB".to_string(), "env.db".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let (env, key) = ConfigLayer::from_env(env).unwrap();
        assert_eq!(key, None);
        let flags = ConfigLayer {
            db: Some("flag.db".into()),
            ..Default::default()
        };
        let layers = [
            (Source::File, &file),
            (Source::Env, &env),
            (Source::Flags, &flags),
        ];
        let cfg = WatchConfig::resolve(defaults(), &layers, None).unwrap();
        assert_eq!(cfg.confirmations, 7);
        assert_eq!(cfg.workers, 3);
        assert_eq!(cfg.db, PathBuf::from("flag.db"));
        assert_eq!(cfg.deployment, PathBuf::from("dep.json"));
        assert_eq!(cfg.max_block_range, MAX_BLOCK_RANGE);
        assert!(cfg.metrics_addr.is_none());
    }

    #[test]
    fn errors_name_the_key_as_written_in_its_source() {
        let flags = ConfigLayer {
            workers: Some(0),
            ..Default::default()
        };
        let err = WatchConfig::resolve(defaults(), &[(Source::Flags, &flags)], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--workers") && err.contains("1 to 1024"),
            "{err}"
        );

        let (env, _) = ConfigLayer::from_env([(
            "REFUTE_WATCH_METRICS_ADDR".to_string(),
            "localhost".to_string(),
        )])
        .unwrap();
        let err = WatchConfig::resolve(defaults(), &[(Source::Env, &env)], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REFUTE_WATCH_METRICS_ADDR") && err.contains("IP:PORT"),
            "{err}"
        );

        let err =
            ConfigLayer::from_env([("REFUTE_WATCH_CONFIRMATION".to_string(), "1".to_string())])
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("REFUTE_WATCH_CONFIRMATION") && err.contains("unknown"),
            "{err}"
        );

        let err = ConfigLayer::from_toml("confirmation = 3").unwrap_err();
        assert!(err.contains("confirmation"), "{err}");

        let file = ConfigLayer::from_toml("models = [\"0x12\"]").unwrap();
        let err = WatchConfig::resolve(defaults(), &[(Source::File, &file)], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`models`") && err.contains("0x12"), "{err}");
    }

    #[test]
    fn the_account_key_stays_secret() {
        let err = ConfigLayer::from_toml("account_key = \"0x01\"").unwrap_err();
        assert!(err.contains(ACCOUNT_KEY_ENV), "{err}");

        let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let cfg = WatchConfig::resolve(defaults(), &[], Some(key)).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("ac0974bec39a17e36ba4"), "{shown}");
        assert!(shown.contains("0xf39F"), "{shown}");

        let err = WatchConfig::resolve(defaults(), &[], Some("0xnot-a-key-but-secret"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(ACCOUNT_KEY_ENV) && !err.contains("not-a-key-but-secret"),
            "{err}"
        );
    }
}
