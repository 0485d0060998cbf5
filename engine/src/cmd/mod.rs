//! One module per subcommand: `XxxArgs` (clap) plus its `run()`.

pub mod devnet;
pub mod vm;
