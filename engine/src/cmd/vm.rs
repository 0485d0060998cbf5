//! `refute vm`: direct access to the deterministic VM.

use std::io::{BufWriter, Write};

use clap::{Args, Subcommand};
use trace_vm::arith::{Arith, Fast, Reference};

use crate::error::Result;

/// Arguments of `refute vm`.
#[derive(Debug, Args)]
pub struct VmArgs {
    #[command(subcommand)]
    command: VmCommand,
}

#[derive(Debug, Subcommand)]
enum VmCommand {
    /// Evaluate primitive operations read from stdin, one per line.
    ///
    /// Each line is `OP A B [C]`: OP one of add, sub, mul, div, sqrt, fma, max,
    /// min; operands binary32 bit patterns as 8 hex digits. One 8-digit hex
    /// result per line is printed. For differential testing of other
    /// implementations (the Solidity verifier, GPU backends).
    Ops(OpsArgs),
}

#[derive(Debug, Args)]
struct OpsArgs {
    /// Use the Berkeley SoftFloat reference instead of the fast path.
    #[arg(long)]
    reference: bool,
}

impl VmArgs {
    /// Runs the chosen `vm` subcommand.
    pub fn run(self) -> Result<()> {
        match self.command {
            VmCommand::Ops(args) => args.run(),
        }
    }
}

impl OpsArgs {
    fn run(self) -> Result<()> {
        let arith: &dyn Arith = if self.reference { &Reference } else { &Fast };
        let stdin = std::io::stdin().lock();
        let mut stdout = BufWriter::new(std::io::stdout().lock());
        let lines = trace_vm::batch::run_batch(stdin, &mut stdout, arith)?;
        stdout.flush().map_err(|source| crate::error::Error::Io {
            what: "stdout".into(),
            source,
        })?;
        tracing::debug!(target: "refute::engine", lines, reference = self.reference, "vm ops done");
        Ok(())
    }
}
