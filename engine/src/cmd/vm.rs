//! `refute vm`: direct access to the deterministic VM.

use std::io::{BufWriter, Write};

use clap::{Args, Subcommand, ValueEnum};
use trace_vm::arith::{Fast, Prim, Reference};
use trace_vm::backend::{Backend, Cpu, Gpu, gpu};
use trace_vm::batch::PrimBatch;

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
    /// List the Vulkan adapters and, for the GPU backend, run the start-up
    /// self-test and show per primitive whether the native instruction or the
    /// exact integer emulation is used, and why.
    Backends(BackendsArgs),
}

/// Where ops run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The CPU (native instructions; with --reference, SoftFloat).
    #[default]
    Cpu,
    /// The GPU through wgpu (Vulkan), bit-identical to the CPU.
    Gpu,
}

impl BackendKind {
    /// The backend to run programs on (`reference` picks SoftFloat on the CPU).
    pub fn open(self, reference: bool, adapter: Option<&str>) -> Result<Box<dyn Backend>> {
        Ok(match (self, reference) {
            (BackendKind::Gpu, _) => Box::new(Gpu::open(adapter)?),
            (BackendKind::Cpu, true) => Box::new(Cpu::new(Reference)),
            (BackendKind::Cpu, false) => Box::new(Cpu::new(Fast)),
        })
    }
}

#[derive(Debug, Args)]
struct OpsArgs {
    /// Use the Berkeley SoftFloat reference instead of the fast path.
    #[arg(long, conflicts_with = "backend")]
    reference: bool,
    /// Run the operations on the CPU or through the GPU backend.
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// With --backend gpu: the adapter whose name contains this (default: the preferred one).
    #[arg(long, env = "REFUTE_GPU_ADAPTER")]
    adapter: Option<String>,
}

#[derive(Debug, Args)]
struct BackendsArgs {
    /// Run the self-test on the adapter whose name contains this (default: the preferred one).
    #[arg(long, env = "REFUTE_GPU_ADAPTER")]
    adapter: Option<String>,
}

impl VmArgs {
    /// Runs the chosen `vm` subcommand.
    pub fn run(self) -> Result<()> {
        match self.command {
            VmCommand::Ops(args) => args.run(),
            VmCommand::Backends(args) => args.run(),
        }
    }
}

impl OpsArgs {
    fn run(self) -> Result<()> {
        let gpu = match self.backend.unwrap_or_default() {
            BackendKind::Gpu => Some(Gpu::open(self.adapter.as_deref())?),
            BackendKind::Cpu => None,
        };
        let eval: &dyn PrimBatch = match &gpu {
            Some(g) => g,
            None if self.reference => &Reference,
            None => &Fast,
        };
        let stdin = std::io::stdin().lock();
        let mut stdout = BufWriter::new(std::io::stdout().lock());
        let lines = trace_vm::batch::run_batch(stdin, &mut stdout, eval)?;
        stdout.flush().map_err(|source| crate::error::Error::Io {
            what: "stdout".into(),
            source,
        })?;
        tracing::debug!(target: "refute::engine", lines, reference = self.reference,
            backend = ?self.backend, "vm ops done");
        Ok(())
    }
}

impl BackendsArgs {
    fn run(self) -> Result<()> {
        println!("cpu      native f32 instructions (AVX2+FMA where present), always available");
        let list = gpu::adapters();
        if list.is_empty() {
            println!(
                "gpu      no Vulkan adapter; install a driver (without a GPU: apt-get install mesa-vulkan-drivers libvulkan1)"
            );
            return Ok(());
        }
        for a in &list {
            println!("adapter  {} ({}, {})", a.name, a.kind, a.driver);
        }
        let g = Gpu::open(self.adapter.as_deref())?;
        println!(
            "\ngpu backend on {}: self-test per primitive",
            g.adapter().name
        );
        for c in g.choices() {
            println!("  {:<12} {:<9} {}", c.prim.name(), c.imp.name(), c.reason);
        }
        let native = g
            .choices()
            .iter()
            .filter(|c| c.imp == gpu::Impl::Native)
            .count();
        let emulated = g
            .choices()
            .iter()
            .filter(|c| c.imp == gpu::Impl::Emulated)
            .count();
        println!(
            "  {native} native, {emulated} emulated, {} integer of {} primitives",
            Prim::ALL.len() - native - emulated,
            Prim::ALL.len()
        );
        Ok(())
    }
}
