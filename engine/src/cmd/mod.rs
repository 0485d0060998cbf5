//! One module per subcommand: `XxxArgs` (clap) plus its `run()`.

pub mod claim;
pub mod demo;
pub mod devnet;
pub mod dispute;
pub mod model;
pub mod provide;
pub mod trace;
pub mod vm;
pub mod watch;
