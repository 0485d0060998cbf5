//! `refute dispute list | show | replay | export`: the dispute games of a
//! deployment, for people. The data comes from `bisection::chain::replay`;
//! this module only finds the deployment and formats.

use std::path::{Path, PathBuf};

use alloy::primitives::utils::format_ether;
use alloy::primitives::{Address, B256, U256};
use bisection::chain::replay::{
    self, GameExport, MoveDetail, MoveView, OneStepView, Position, Replay,
};
use bisection::chain::{Node, Retry};
use bisection::deployment::Deployment;
use bisection::game::rules::Role;
use clap::{Args, Subcommand};

use super::devnet::to_json;
use crate::error::{Error, Result};
use crate::paths::Context;

/// Arguments of `refute dispute`.
#[derive(Debug, Args)]
pub struct DisputeArgs {
    #[command(subcommand)]
    command: DisputeCommand,
    /// JSON-RPC endpoint; defaults to the deployment record's.
    #[arg(long, global = true, value_name = "URL")]
    rpc_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum DisputeCommand {
    /// Every game on the deployment: claim, model, sides, state, level, moves, clocks, settlement.
    List(ListArgs),
    /// One game's current position: level, roots, disputed node, whose turn, clocks, bonds.
    Show(GameArgs),
    /// Rebuild a game move by move through the rules and explain every move and the one-step.
    #[command(after_long_help = "\
Replay reads the game's moves back from their transactions' calldata and \
applies them one by one through the same rules the contract follows, then \
decodes the final one-step with the reference verifier: the op, the element, \
the primitive, its operands, the result the defender's state claims and the \
result the reference arithmetic computes. With --from it reads a file written \
by `refute dispute export` and needs no node.")]
    Replay(ReplayArgs),
    /// Print a game's moves, calldata, gas, block times, claim and deployment as one JSON document.
    Export(GameArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only the games on this claim.
    #[arg(long, value_name = "ID")]
    claim: Option<u64>,
    /// One JSON array on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct GameArgs {
    /// The game id (see `refute dispute list`).
    id: u64,
    /// JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// The game id (see `refute dispute list`).
    id: u64,
    /// One JSON document on stdout.
    #[arg(long)]
    json: bool,
    /// Replay an export written by `refute dispute export` instead of the chain.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// With --from: replay an export of another deployment than the record's.
    #[arg(long, requires = "from")]
    any_deployment: bool,
}

impl DisputeArgs {
    /// Runs the chosen `dispute` subcommand.
    pub async fn run(self, ctx: &Context) -> Result<()> {
        let rpc_url = self.rpc_url;
        match self.command {
            DisputeCommand::List(args) => {
                let games = replay::list(&connect(ctx, rpc_url)?, args.claim).await?;
                if args.json {
                    println!("{}", to_json(&games));
                } else {
                    print_list(&games);
                }
            }
            DisputeCommand::Show(args) => {
                let p = replay::position(&connect(ctx, rpc_url)?, args.id).await?;
                if args.json {
                    println!("{}", to_json(&p));
                } else {
                    print_position(&p);
                }
            }
            DisputeCommand::Export(args) => {
                let export = replay::export(&connect(ctx, rpc_url)?, args.id).await?;
                println!("{}", to_json(&export));
            }
            DisputeCommand::Replay(args) => {
                let export = match &args.from {
                    Some(path) => from_file(ctx, path, args.id, args.any_deployment)?,
                    None => replay::export(&connect(ctx, rpc_url)?, args.id).await?,
                };
                let r = Replay::build(&export)?;
                if args.json {
                    println!("{}", to_json(&r));
                } else {
                    print_replay(&r);
                }
            }
        }
        Ok(())
    }
}

/// A read-only node on the deployment the record describes.
fn connect(ctx: &Context, rpc_url: Option<String>) -> Result<Node> {
    let deployment = Deployment::load(&ctx.deployment)?;
    let url = rpc_url.unwrap_or(deployment.rpc_url);
    tracing::debug!(target: "refute::engine", rpc_url = %url, record = %ctx.deployment.display(), "reading the deployment");
    Ok(
        Node::read_only(&url, deployment.contracts, Retry::default())?
            .since(deployment.deploy_block),
    )
}

/// The export in `path`, which must hold game `id` and, unless
/// `any_deployment`, come from the deployment of the record in use (when
/// there is one: a file replays without a node or a record).
fn from_file(ctx: &Context, path: &Path, id: u64, any_deployment: bool) -> Result<GameExport> {
    let export = GameExport::load(path)?;
    if export.game_id != id {
        return Err(Error::ExportGame {
            path: path.to_owned(),
            found: export.game_id,
            asked: id,
        });
    }
    match Deployment::load(&ctx.deployment) {
        Ok(d) if !any_deployment => {
            export.check_deployment(path, d.chain_id, &d.contracts, &ctx.deployment)?;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::info!(target: "refute::engine", %e, "no deployment record; replaying the export without checking where it came from");
        }
    }
    Ok(export)
}

/// `0x1234ab…cdef`.
fn short(h: &B256) -> String {
    let s = format!("{h:#x}");
    format!("{}…{}", &s[..8], &s[s.len() - 4..])
}

fn short_addr(a: &Address) -> String {
    let s = a.to_string();
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

fn side(r: Option<Role>) -> &'static str {
    match r {
        Some(Role::Defender) => "defender",
        Some(Role::Challenger) => "challenger",
        None => "-",
    }
}

fn eth(wei: U256) -> String {
    format!("{} ETH", format_ether(wei))
}

fn print_list(games: &[Position]) {
    if games.is_empty() {
        println!("no dispute games on this deployment");
        return;
    }
    println!(
        "{:>4} {:>5}  {:<16} {:<13} {:<13} {:<48} {:>5} {:>9} {:>11}  settled",
        "game",
        "claim",
        "model",
        "defender",
        "challenger",
        "state",
        "level",
        "moves d/c",
        "clocks d/c"
    );
    for g in games {
        println!(
            "{:>4} {:>5}  {:<16} {:<13} {:<13} {:<48} {:>5} {:>9} {:>11}  {}",
            g.game_id,
            g.claim_id,
            g.model_name,
            short_addr(&g.defender),
            short_addr(&g.challenger),
            g.state,
            g.chain.level,
            format!("{}/{}", g.chain.defender_moves, g.chain.challenger_moves),
            format!("{}/{}", g.chain.defender_clock, g.chain.challenger_clock),
            if g.settled { "yes" } else { "no" }
        );
    }
}

fn print_position(p: &Position) {
    println!(
        "game {} on claim {} (model {} {})",
        p.game_id,
        p.claim_id,
        p.model_name,
        short(&p.model_id)
    );
    println!(
        "  defender    {} (claimant, bond {})",
        p.defender,
        eth(p.claimant_bond)
    );
    println!(
        "  challenger  {} (bond {})",
        p.challenger,
        eth(p.challenger_bond)
    );
    match (p.to_move, p.time_left) {
        (Some(r), Some(left)) => println!(
            "  state       {} ({} to move, {left} s left on its clock now)",
            p.state,
            side(Some(r))
        ),
        _ => println!("  state       {}", p.state),
    }
    println!(
        "  level       {} of {} (list sizes {:?})",
        p.chain.level,
        p.sizes.len(),
        p.sizes
    );
    for (level, root) in p.roots.iter().enumerate() {
        let step = p
            .path
            .get(level)
            .map_or(String::new(), |s| format!(", disputed step {s}"));
        println!("  root {level}      {root}{step}");
    }
    println!(
        "  node        depth {}, index {} (entries {} to {}): {}",
        p.node[0], p.node[1], p.entries[0], p.entries[1], p.node_hash
    );
    println!(
        "  moves       defender {}, challenger {}",
        p.chain.defender_moves, p.chain.challenger_moves
    );
    println!(
        "  clocks      defender {} s, challenger {} s (as of the last move, time {})",
        p.chain.defender_clock, p.chain.challenger_clock, p.chain.last_move
    );
    println!("  settled     {}", if p.settled { "yes" } else { "no" });
}

fn print_hashes(label: &str, hashes: &[B256]) {
    for (k, chunk) in hashes.chunks(8).enumerate() {
        let line: Vec<String> = chunk.iter().map(short).collect();
        let head = if k == 0 { label } else { "" };
        println!("        {head:<9}{}", line.join(" "));
    }
}

fn print_move(m: &MoveView, start: u64) {
    let kind = match &m.detail {
        MoveDetail::Reveal { .. } => "reveal",
        MoveDetail::Pick { .. } => "pick",
        MoveDetail::Expand { .. } => "expand",
        MoveDetail::Bind { .. } => "bind",
        MoveDetail::Step { .. } => "step",
        MoveDetail::Timeout { .. } => "timeout",
    };
    println!(
        "  #{:<3} block {:<5} t+{:<5} {:<10} {:<7} level {}  gas {}",
        m.number,
        m.block,
        format!("{}s", m.time.saturating_sub(start)),
        side(Some(m.side)),
        kind,
        m.level,
        m.gas
    );
    match &m.detail {
        MoveDetail::Reveal {
            node,
            entries,
            children,
        } => {
            println!(
                "        opens node (depth {}, index {}) over entries {} to {} into {} children:",
                node[0],
                node[1],
                entries[0],
                entries[1],
                children.len()
            );
            print_hashes("", children);
        }
        MoveDetail::Pick {
            child,
            of,
            hash,
            entries,
            step,
            why,
            ..
        } => {
            let reached = step.map_or(String::new(), |s| {
                format!("; that is one entry: step {s} is disputed")
            });
            println!(
                "        child {child} of {of} ({}), entries {} to {}{reached}",
                short(hash),
                entries[0],
                entries[1]
            );
            println!("        why: {why}");
        }
        MoveDetail::Expand {
            step,
            into_level,
            sub_root,
            children,
            meaning,
        } => {
            println!("        {meaning}");
            println!(
                "        expands it into level {into_level}: a list from entry {} (the agreed pre state) to entry {step} (the disputed one), root {}",
                step - 1,
                short(sub_root)
            );
            print_hashes("reveals", children);
        }
        MoveDetail::Bind { step } => {
            println!(
                "        proves the disputed entry 0 is entry {} of the parent list, which the challenger agreed to",
                step - 1
            );
        }
        MoveDetail::Step { path } => {
            println!(
                "        proves step {path:?} (layer step, op step, micro step) to the step verifier"
            );
        }
        MoveDetail::Timeout { expired } => {
            println!("        the {}'s clock ran out", side(Some(*expired)));
        }
    }
}

fn print_one_step(s: &OneStepView, r: &Replay) {
    println!();
    println!("One-step at path {:?}:", s.path);
    if let Some(kind) = s.kind {
        println!("  kind       {kind}");
    }
    if let (Some(op), Some(op_kind)) = (s.op, s.op_kind) {
        let layer = s.path.first().map_or(0, |i| i.saturating_sub(1));
        let ops = s.layer_ops.map_or(String::new(), |[a, n]| {
            format!(" (ops {a} to {})", (a + n).saturating_sub(1))
        });
        println!("  op         {op} ({op_kind}) of layer {layer}{ops}");
    }
    if let Some(p) = &s.primitive {
        println!(
            "  where      element {}, step {} of that element",
            p.element, p.step
        );
        println!("  primitive  {}", p.primitive);
        for (k, w) in p.operands.iter().enumerate() {
            println!("  operand {k}  {} = {}", w.hex, w.float);
        }
        match &p.claimed {
            Some(w) => println!(
                "  claimed    {} = {}  (the defender's post state)",
                w.hex, w.float
            ),
            None => println!("  claimed    (not readable from the post state's commitment)"),
        }
        println!(
            "  reference  {} = {}  (SoftFloat, as the contract computes)",
            p.reference.hex, p.reference.float
        );
        if let Some(bits) = &p.differing_bits {
            println!("  differ in  {bits}");
        }
    }
    match &s.reason {
        None => println!("  verdict    right: the defender's post state is the step's result"),
        Some(why) => println!("  verdict    wrong: {why}"),
    }
    println!(
        "  contract   {}",
        match r.contract_winner {
            Some(Role::Defender) => "the step verifier accepted the step: the defender won",
            Some(Role::Challenger) => "the step verifier rejected the step: the challenger won",
            None => "the game is still open",
        }
    );
}

fn print_replay(r: &Replay) {
    let c = &r.claim.record;
    println!(
        "Game {} on chain {} (DisputeGame {}), disputing claim {}",
        r.game_id, r.chain_id, r.dispute_game, c.claim_id
    );
    println!();
    println!("Claim {}:", c.claim_id);
    println!("  model       {} {}", c.model_name, c.model_id);
    println!("  trace root  {}", c.trace_root);
    println!("  input hash  {}", c.input_hash);
    println!("  output hash {}", c.output_hash);
    println!("  claimant    {} (bond {})", c.claimant, eth(c.bond));
    println!(
        "  game        {}-ary dissection, {} s per side; defender {}, challenger {}",
        1u64 << r.arity_log2,
        r.clock,
        r.defender,
        r.challenger
    );
    println!("  levels (every list of a level is padded to its size):");
    for l in &r.claim.levels {
        println!(
            "    {}: {} entries (tree depth {}): {}",
            l.level, l.size, l.tree_depth, l.meaning
        );
    }
    println!();
    println!("Moves:");
    let start = r.moves.first().map_or(0, |m| m.time);
    for m in &r.moves {
        print_move(m, start);
    }
    if let Some(s) = &r.one_step {
        print_one_step(s, r);
    }
    println!();
    match r.winner {
        Some(w) => println!(
            "Result: {} wins{}; contract: {}",
            side(Some(w)),
            match r.moves.last().map(|m| &m.detail) {
                Some(MoveDetail::Timeout { .. }) => " by timeout",
                Some(MoveDetail::Bind { .. }) => " by binding the disputed first entry",
                _ => " by the one-step",
            },
            r.state
        ),
        None => println!("Result: not over; contract: {}", r.state),
    }
    println!(
        "  moves     defender {}, challenger {} (the contract counts the same)",
        r.moves_per_side[0], r.moves_per_side[1]
    );
    for (call, g) in &r.gas {
        let moves = if g.count == 1 { "move" } else { "moves" };
        println!(
            "  gas {call:<7} {} {moves}, {} in all, at most {}",
            g.count, g.total, g.max
        );
    }
    match &r.settlement {
        Some(s) => println!(
            "  settled   {} to {} ({} won), transaction {}, gas {}",
            eth(s.paid),
            s.payee,
            if s.challenger_won {
                "challenger"
            } else {
                "defender"
            },
            s.tx,
            s.gas
        ),
        None => println!("  settled   no"),
    }
}
