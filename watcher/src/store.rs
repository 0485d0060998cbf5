//! The watcher's state in an embedded SQLite database.
//!
//! Every processed block range is applied in ONE transaction together with the
//! cursor (the hashes of the processed blocks), so a process killed at any
//! moment leaves either all of a range's effects or none of them, and a restart
//! resumes after the last committed block without losing or repeating events.
//! Every row carries the block it came from: a reorg deletes the rows above the
//! fork point in one transaction, and the statuses are recomputed from the
//! remaining events, so applying and reverting go through the same rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, U256};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::events::{Event, Origin};
use crate::{Error, Result};

/// The schema, one migration per version; `PRAGMA user_version` is the number
/// of migrations applied. Append, never edit: databases in the field ran the
/// old ones.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash BLOB NOT NULL);
     CREATE TABLE models (
         id BLOB PRIMARY KEY, weights_root BLOB NOT NULL, arch_hash BLOB NOT NULL,
         name TEXT NOT NULL, registrant BLOB NOT NULL, block INTEGER NOT NULL);
     CREATE TABLE claims (
         id INTEGER PRIMARY KEY, model BLOB NOT NULL, input_hash BLOB NOT NULL,
         output_hash BLOB NOT NULL, trace_root BLOB NOT NULL, level_sizes TEXT NOT NULL,
         claimant BLOB NOT NULL, bond TEXT NOT NULL, deadline INTEGER NOT NULL,
         status TEXT NOT NULL, block INTEGER NOT NULL, block_hash BLOB NOT NULL, tx BLOB NOT NULL);
     CREATE TABLE games (
         id INTEGER PRIMARY KEY, claim INTEGER, defender BLOB NOT NULL, challenger BLOB NOT NULL,
         bond TEXT, status TEXT NOT NULL, settled INTEGER NOT NULL, our_side TEXT,
         block INTEGER NOT NULL);
     CREATE TABLE moves (
         block INTEGER NOT NULL, log_index INTEGER NOT NULL, kind TEXT NOT NULL,
         game INTEGER, claim INTEGER, level INTEGER, outcome TEXT, tx BLOB NOT NULL,
         PRIMARY KEY (block, log_index));
     CREATE INDEX moves_game ON moves (game);
     CREATE INDEX moves_claim ON moves (claim);
     CREATE TABLE jobs (
         claim INTEGER PRIMARY KEY, block_hash BLOB NOT NULL, state TEXT NOT NULL,
         detail TEXT, block INTEGER NOT NULL);
     CREATE INDEX jobs_state ON jobs (state);",
];

/// The state of a claim's job in the work queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobState {
    /// Recorded, not looked at yet.
    Queued,
    /// Its model is outside the configured subset.
    Ignored,
    /// Its model is not installed here: recorded only.
    ModelNotInstalled,
    /// Its model is installed: waiting for the re-execution stage.
    ToReexecute,
    /// Re-executed; the claim's trace root matched ours.
    Agreed,
    /// Re-executed; the claim's trace root differs from ours.
    Mismatch,
    /// Cannot be re-executed (the detail says why): left alone.
    Skipped,
}

impl JobState {
    /// Every state, for gauges.
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Ignored,
        JobState::ModelNotInstalled,
        JobState::ToReexecute,
        JobState::Agreed,
        JobState::Mismatch,
        JobState::Skipped,
    ];

    /// The name stored in the database and shown in metrics.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Ignored => "ignored",
            JobState::ModelNotInstalled => "model_not_installed",
            JobState::ToReexecute => "to_reexecute",
            JobState::Agreed => "agreed",
            JobState::Mismatch => "mismatch",
            JobState::Skipped => "skipped",
        }
    }
}

/// Claim statuses as recorded (`status` column).
pub const CLAIM_STATUSES: [&str; 4] = ["pending", "challenged", "finalized", "rejected"];
/// Game statuses as recorded (`status` column).
pub const GAME_STATUSES: [&str; 3] = ["open", "defender_won", "challenger_won"];

/// A claim as the worker pool sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// Claim id.
    pub id: u64,
    /// Model id.
    pub model: B256,
    /// keccak256 of the input.
    pub input_hash: B256,
    /// keccak256 of the output.
    pub output_hash: B256,
    /// Claimed trace root.
    pub trace_root: B256,
    /// Who posted it.
    pub claimant: Address,
    /// End of its challenge window.
    pub deadline: u64,
    /// Block it was seen in.
    pub block: u64,
    /// That block's hash (a reorged claim with the same id has another).
    pub block_hash: B256,
    /// Its transaction (input and output are in its calldata).
    pub tx: B256,
    /// Its model's weights root, from the registration (`None` if the
    /// registration was not recorded).
    pub weights_root: Option<B256>,
}

/// One processed block range, ready to be committed.
#[derive(Debug, Default)]
pub struct Range {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Hashes of the processed blocks to keep (those within the horizon).
    pub blocks: Vec<(u64, B256)>,
    /// Decoded events in chain order.
    pub events: Vec<(Origin, Event)>,
}

/// What a committed range or a revert changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    /// Models registered.
    pub models: u64,
    /// Claims.
    pub claims: u64,
    /// Games.
    pub games: u64,
    /// Moves and lifecycle events (challenges, resolutions, settlements, finalizations).
    pub moves: u64,
}

/// Totals that the contracts also count, to check nothing was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Claims recorded.
    pub claims: u64,
    /// Games recorded.
    pub games: u64,
    /// Models recorded.
    pub models: u64,
}

/// Counts by status, for gauges and summaries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Census {
    /// Claims by status.
    pub claims: BTreeMap<String, u64>,
    /// Games by status.
    pub games: BTreeMap<String, u64>,
    /// Jobs by state.
    pub jobs: BTreeMap<String, u64>,
    /// Wei bonded by claimants on claims still pending or challenged.
    pub claim_bonds_wei: f64,
    /// Wei bonded by challengers in games not yet settled.
    pub challenge_bonds_wei: f64,
}

/// Which deployment a database follows; a database is never reused for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Chain id.
    pub chain_id: u64,
    /// The claims contract.
    pub claims: Address,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain {} claims contract {}", self.chain_id, self.claims)
    }
}

/// The watcher's database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn h(b: &B256) -> &[u8] {
    b.as_slice()
}

fn b256(bytes: Vec<u8>) -> B256 {
    // Columns holding hashes are only ever written from 32-byte values.
    B256::try_from(bytes.as_slice()).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and
    /// checks it follows `identity`.
    pub fn open(path: &Path, identity: &Identity) -> Result<Self> {
        let err = |source| Error::Store {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::StoreDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(err)?;
        // WAL: readers never block the writer, and a commit is one fsync'd append.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let supported = MIGRATIONS.len() as u32;
        if version > supported {
            return Err(Error::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as u32 + 1)
                .map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(target: "refute::watch", db = %path.display(), version = i + 1, "database schema migrated");
        }
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        store.check_identity(identity)?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |source| Error::Store {
            path: self.path.clone(),
            source,
        }
    }

    fn check_identity(&self, identity: &Identity) -> Result<()> {
        let wanted = identity.to_string();
        let recorded: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        match recorded {
            Some(recorded) if recorded != wanted => Err(Error::OtherDeployment {
                path: self.path.clone(),
                recorded,
                configured: wanted,
            }),
            Some(_) => Ok(()),
            None => {
                self.conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('identity', ?1)",
                        [&wanted],
                    )
                    .map_err(self.err())?;
                Ok(())
            }
        }
    }

    /// The last processed block, if any.
    pub fn cursor(&self) -> Result<Option<(u64, B256)>> {
        self.conn
            .query_row(
                "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, u64>(0)?, b256(r.get(1)?))),
            )
            .optional()
            .map_err(self.err())
    }

    /// Kept block hashes, newest first.
    pub fn kept_blocks(&self) -> Result<Vec<(u64, B256)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT number, hash FROM blocks ORDER BY number DESC")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, u64>(0)?, b256(r.get(1)?))))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Commits `range` and the cursor in one transaction. `check` sees the
    /// totals after the range is applied and before the commit: an error from
    /// it rolls everything back. Block hashes older than `horizon` blocks
    /// below the range's end are pruned (the last one is always kept).
    pub fn apply(
        &mut self,
        range: &Range,
        ours: Option<Address>,
        horizon: u64,
        check: impl FnOnce(Totals) -> Result<()>,
    ) -> Result<Changes> {
        let path = self.path.clone();
        let err = |source| Error::Store {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let changes = apply_events(&tx, &range.events, ours).map_err(err)?;
        for (number, hash) in &range.blocks {
            tx.execute(
                "INSERT OR REPLACE INTO blocks (number, hash) VALUES (?1, ?2)",
                params![number, h(hash)],
            )
            .map_err(err)?;
        }
        tx.execute(
            "DELETE FROM blocks WHERE number < ?1",
            [range.to.saturating_sub(horizon)],
        )
        .map_err(err)?;
        check(totals(&tx).map_err(err)?)?;
        tx.commit().map_err(err)?;
        Ok(changes)
    }

    /// Deletes everything recorded above block `fork` (the last block both
    /// chains share) and recomputes the statuses, in one transaction.
    pub fn revert_above(&mut self, fork: u64) -> Result<Changes> {
        let path = self.path.clone();
        let err = |source| Error::Store {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let count = |table: &str| -> rusqlite::Result<u64> {
            tx.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE block > ?1"),
                [fork],
                |r| r.get(0),
            )
        };
        let changes = Changes {
            models: count("models").map_err(err)?,
            claims: count("claims").map_err(err)?,
            games: count("games").map_err(err)?,
            moves: count("moves").map_err(err)?,
        };
        // Claims and games whose status a removed event set.
        let touched_claims: Vec<u64> = collect(
            &tx,
            "SELECT claim FROM moves WHERE block > ?1 AND claim IS NOT NULL
             UNION SELECT claim FROM games WHERE block > ?1 AND claim IS NOT NULL",
            fork,
        )
        .map_err(err)?;
        let touched_games: Vec<u64> = collect(
            &tx,
            "SELECT game FROM moves WHERE block > ?1 AND game IS NOT NULL",
            fork,
        )
        .map_err(err)?;
        for table in ["models", "claims", "games", "moves", "jobs"] {
            tx.execute(&format!("DELETE FROM {table} WHERE block > ?1"), [fork])
                .map_err(err)?;
        }
        tx.execute("DELETE FROM blocks WHERE number > ?1", [fork])
            .map_err(err)?;
        refresh(&tx, &touched_claims, &touched_games).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(changes)
    }

    /// Counts by status for the gauges.
    pub fn census(&self) -> Result<Census> {
        let group = |sql: &str| -> rusqlite::Result<BTreeMap<String, u64>> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            rows.collect()
        };
        let sum = |sql: &str| -> rusqlite::Result<f64> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut total = 0.0;
            for bond in rows {
                total += bond?.parse::<U256>().map_or(0.0, f64::from);
            }
            Ok(total)
        };
        Ok(Census {
            claims: group("SELECT status, COUNT(*) FROM claims GROUP BY status")
                .map_err(self.err())?,
            games: group("SELECT status, COUNT(*) FROM games GROUP BY status")
                .map_err(self.err())?,
            jobs: group("SELECT state, COUNT(*) FROM jobs GROUP BY state").map_err(self.err())?,
            claim_bonds_wei: sum(
                "SELECT bond FROM claims WHERE status IN ('pending', 'challenged')",
            )
            .map_err(self.err())?,
            challenge_bonds_wei: sum(
                "SELECT bond FROM games WHERE settled = 0 AND bond IS NOT NULL",
            )
            .map_err(self.err())?,
        })
    }

    /// Claims whose job is in one of `states`, oldest first, at most `limit`.
    pub fn jobs_in(&self, states: &[JobState], limit: usize) -> Result<Vec<ClaimRecord>> {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.name())).collect();
        let sql = format!(
            "SELECT c.id, c.model, c.input_hash, c.output_hash, c.trace_root, c.claimant,
                    c.deadline, c.block, c.block_hash, c.tx, m.weights_root
             FROM jobs j JOIN claims c ON c.id = j.claim AND c.block_hash = j.block_hash
                  LEFT JOIN models m ON m.id = c.model
             WHERE j.state IN ({}) ORDER BY c.id LIMIT ?1",
            names.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([limit as u64], |r| {
                Ok(ClaimRecord {
                    id: r.get(0)?,
                    model: b256(r.get(1)?),
                    input_hash: b256(r.get(2)?),
                    output_hash: b256(r.get(3)?),
                    trace_root: b256(r.get(4)?),
                    claimant: Address::from_slice(&r.get::<_, Vec<u8>>(5)?),
                    deadline: r.get(6)?,
                    block: r.get(7)?,
                    block_hash: b256(r.get(8)?),
                    tx: b256(r.get(9)?),
                    weights_root: r.get::<_, Option<Vec<u8>>>(10)?.map(b256),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every job: claim id, state and detail, by claim.
    pub fn jobs(&self) -> Result<Vec<(u64, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT claim, state, COALESCE(detail, '') FROM jobs ORDER BY claim")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Records a job's new state. A claim a reorg replaced in the meantime
    /// (same id, other block) is left alone: returns whether a row changed.
    pub fn set_job(&self, claim: &ClaimRecord, state: JobState, detail: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE jobs SET state = ?1, detail = ?2 WHERE claim = ?3 AND block_hash = ?4",
                params![state.name(), detail, claim.id, h(&claim.block_hash)],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }
}

fn collect(tx: &Transaction<'_>, sql: &str, fork: u64) -> rusqlite::Result<Vec<u64>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([fork], |r| r.get(0))?;
    rows.collect()
}

fn totals(tx: &Transaction<'_>) -> rusqlite::Result<Totals> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
    };
    Ok(Totals {
        claims: count("claims")?,
        games: count("games")?,
        models: count("models")?,
    })
}

fn apply_events(
    tx: &Transaction<'_>,
    events: &[(Origin, Event)],
    ours: Option<Address>,
) -> rusqlite::Result<Changes> {
    let mut changes = Changes::default();
    let mut claims = Vec::new();
    let mut games = Vec::new();
    let mut record_move = |o: &Origin,
                           kind: &str,
                           game: Option<u64>,
                           claim: Option<u64>,
                           level: Option<u8>,
                           outcome: Option<&str>|
     -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO moves (block, log_index, kind, game, claim, level, outcome, tx)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                o.block,
                o.log_index,
                kind,
                game,
                claim,
                level,
                outcome,
                h(&o.tx)
            ],
        )?;
        claims.extend(claim);
        games.extend(game);
        changes.moves += 1;
        Ok(())
    };
    let winner = |challenger_won: bool| {
        if challenger_won {
            "challenger_won"
        } else {
            "defender_won"
        }
    };
    for (o, event) in events {
        match event {
            Event::ModelRegistered {
                id,
                weights_root,
                arch_hash,
                name,
                registrant,
            } => {
                tx.execute(
                    "INSERT INTO models (id, weights_root, arch_hash, name, registrant, block)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        h(id),
                        h(weights_root),
                        h(arch_hash),
                        name,
                        registrant.as_slice(),
                        o.block
                    ],
                )?;
                changes.models += 1;
            }
            Event::ClaimPosted {
                id,
                model,
                input_hash,
                output_hash,
                trace_root,
                level_sizes,
                claimant,
                bond,
                deadline,
            } => {
                let sizes: Vec<String> = level_sizes.iter().map(u64::to_string).collect();
                tx.execute(
                    "INSERT INTO claims (id, model, input_hash, output_hash, trace_root, level_sizes,
                        claimant, bond, deadline, status, block, block_hash, tx)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?12)",
                    params![
                        id,
                        h(model),
                        h(input_hash),
                        h(output_hash),
                        h(trace_root),
                        sizes.join(","),
                        claimant.as_slice(),
                        bond.to_string(),
                        deadline,
                        o.block,
                        h(&o.block_hash),
                        h(&o.tx)
                    ],
                )?;
                tx.execute(
                    "INSERT INTO jobs (claim, block_hash, state, block) VALUES (?1, ?2, 'queued', ?3)",
                    params![id, h(&o.block_hash), o.block],
                )?;
                changes.claims += 1;
            }
            Event::GameCreated {
                id,
                defender,
                challenger,
            } => {
                let side = ours.and_then(|me| {
                    if me == *defender {
                        Some("defender")
                    } else if me == *challenger {
                        Some("challenger")
                    } else {
                        None
                    }
                });
                tx.execute(
                    "INSERT INTO games (id, defender, challenger, status, settled, our_side, block)
                     VALUES (?1, ?2, ?3, 'open', 0, ?4, ?5)",
                    params![
                        id,
                        defender.as_slice(),
                        challenger.as_slice(),
                        side,
                        o.block
                    ],
                )?;
                changes.games += 1;
            }
            Event::Challenged { claim, game, bond } => {
                tx.execute(
                    "UPDATE games SET claim = ?1, bond = ?2 WHERE id = ?3",
                    params![claim, bond.to_string(), game],
                )?;
                record_move(o, "challenged", Some(*game), Some(*claim), None, None)?;
            }
            Event::Move { game, kind, level } => {
                record_move(o, kind, Some(*game), None, Some(*level), None)?;
            }
            Event::GameResolved {
                game,
                challenger_won,
            } => record_move(
                o,
                "resolved",
                Some(*game),
                None,
                None,
                Some(winner(*challenger_won)),
            )?,
            Event::ChallengeSettled {
                claim,
                game,
                challenger_won,
            } => record_move(
                o,
                "settled",
                Some(*game),
                Some(*claim),
                None,
                Some(winner(*challenger_won)),
            )?,
            Event::ClaimFinalized { claim } => {
                record_move(o, "finalized", None, Some(*claim), None, None)?
            }
        }
    }
    refresh(tx, &claims, &games)?;
    Ok(changes)
}

/// Recomputes the status of the given claims and games from the recorded
/// events: the one rule both applying and reverting use.
fn refresh(tx: &Transaction<'_>, claims: &[u64], games: &[u64]) -> rusqlite::Result<()> {
    let mut game_stmt = tx.prepare(
        "UPDATE games SET
            status = COALESCE((SELECT outcome FROM moves WHERE game = ?1 AND kind = 'resolved'), 'open'),
            settled = EXISTS (SELECT 1 FROM moves WHERE game = ?1 AND kind = 'settled')
         WHERE id = ?1",
    )?;
    for game in games {
        game_stmt.execute([game])?;
    }
    let mut claim_stmt = tx.prepare(
        "UPDATE claims SET status = CASE
            WHEN EXISTS (SELECT 1 FROM moves WHERE claim = ?1 AND kind = 'finalized') THEN 'finalized'
            WHEN EXISTS (SELECT 1 FROM moves WHERE claim = ?1 AND kind = 'settled'
                         AND outcome = 'challenger_won') THEN 'rejected'
            WHEN EXISTS (SELECT 1 FROM games WHERE claim = ?1) THEN 'challenged'
            ELSE 'pending' END
         WHERE id = ?1",
    )?;
    for claim in claims {
        claim_stmt.execute([claim])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            chain_id: 31337,
            claims: Address::repeat_byte(4),
        }
    }

    fn origin(block: u64, log_index: u64) -> Origin {
        Origin {
            block,
            block_hash: B256::repeat_byte(block as u8),
            log_index,
            tx: B256::repeat_byte(0xee),
        }
    }

    fn claim(id: u64) -> Event {
        Event::ClaimPosted {
            id,
            model: B256::repeat_byte(0xaa),
            input_hash: B256::repeat_byte(1),
            output_hash: B256::repeat_byte(2),
            trace_root: B256::repeat_byte(3),
            level_sizes: vec![4, 9],
            claimant: Address::repeat_byte(5),
            bond: U256::from(10u64).pow(U256::from(16u64)),
            deadline: 1_000,
        }
    }

    fn range(from: u64, to: u64, events: Vec<(Origin, Event)>) -> Range {
        Range {
            from,
            to,
            blocks: (from..=to)
                .map(|n| (n, B256::repeat_byte(n as u8)))
                .collect(),
            events,
        }
    }

    #[test]
    fn statuses_follow_events_and_a_revert_restores_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db"), &identity()).unwrap();
        let me = Address::repeat_byte(6);
        store
            .apply(
                &range(
                    1,
                    2,
                    vec![(origin(1, 0), claim(0)), (origin(2, 0), claim(1))],
                ),
                Some(me),
                100,
                |_| Ok(()),
            )
            .unwrap();
        let game = Event::GameCreated {
            id: 0,
            defender: Address::repeat_byte(5),
            challenger: me,
        };
        let challenged = Event::Challenged {
            claim: 1,
            game: 0,
            bond: U256::from(7u64),
        };
        store
            .apply(
                &range(3, 3, vec![(origin(3, 0), game), (origin(3, 1), challenged)]),
                Some(me),
                100,
                |_| Ok(()),
            )
            .unwrap();
        let resolved = Event::GameResolved {
            game: 0,
            challenger_won: true,
        };
        let settled = Event::ChallengeSettled {
            claim: 1,
            game: 0,
            challenger_won: true,
        };
        store
            .apply(
                &range(
                    4,
                    5,
                    vec![(origin(4, 0), resolved), (origin(5, 0), settled)],
                ),
                Some(me),
                100,
                |_| Ok(()),
            )
            .unwrap();
        let census = store.census().unwrap();
        assert_eq!(census.claims.get("rejected"), Some(&1));
        assert_eq!(census.claims.get("pending"), Some(&1));
        assert_eq!(census.games.get("challenger_won"), Some(&1));
        let side: String = store
            .conn
            .query_row("SELECT our_side FROM games WHERE id = 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(side, "challenger");

        // Dropping blocks 4 and 5 reopens the game and un-rejects the claim.
        let removed = store.revert_above(3).unwrap();
        assert_eq!(
            removed,
            Changes {
                moves: 2,
                ..Default::default()
            }
        );
        let census = store.census().unwrap();
        assert_eq!(census.claims.get("challenged"), Some(&1));
        assert_eq!(census.games.get("open"), Some(&1));
        assert_eq!(store.cursor().unwrap(), Some((3, B256::repeat_byte(3))));

        // Dropping block 2 removes claim 1, its job, and leaves the game without a claim.
        let removed = store.revert_above(1).unwrap();
        assert_eq!(removed.claims, 1);
        assert_eq!(removed.games, 1);
        let census = store.census().unwrap();
        assert_eq!(census.claims.get("pending"), Some(&1));
        assert_eq!(census.claims.len(), 1);
        assert_eq!(census.jobs.get("queued"), Some(&1));
        assert!(census.games.is_empty());
    }

    #[test]
    fn a_failed_check_rolls_the_whole_range_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db"), &identity()).unwrap();
        let err = store
            .apply(
                &range(1, 3, vec![(origin(2, 0), claim(0))]),
                None,
                100,
                |t| {
                    Err(Error::Inconsistent {
                        block: 3,
                        what: "claims",
                        stored: t.claims,
                        on_chain: 0,
                    })
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("1 claims"), "{err}");
        assert_eq!(store.cursor().unwrap(), None);
        assert!(store.census().unwrap().claims.is_empty());
    }

    #[test]
    fn horizon_prunes_old_hashes_and_identity_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut store = Store::open(&path, &identity()).unwrap();
        store
            .apply(&range(1, 10, vec![]), None, 3, |_| Ok(()))
            .unwrap();
        let kept: Vec<u64> = store
            .kept_blocks()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(kept, vec![10, 9, 8, 7]);
        drop(store);

        let other = Identity {
            chain_id: 1,
            ..identity()
        };
        let err = Store::open(&path, &other).unwrap_err().to_string();
        assert!(err.contains("chain 31337") && err.contains("--db"), "{err}");
        // Reopening with the right identity resumes at the cursor.
        let store = Store::open(&path, &identity()).unwrap();
        assert_eq!(store.cursor().unwrap().map(|c| c.0), Some(10));
    }
}
