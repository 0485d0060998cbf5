//! docs/SPEC.md stays in step with the code: the transcendental listings and
//! the primitive table it shows are the ones the code runs.

use trace_vm::arith::Prim;
use trace_vm::arith::transcendental::Func;

fn spec() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SPEC.md");
    std::fs::read_to_string(p).expect("docs/SPEC.md exists")
}

#[test]
fn spec_listings_match_code() {
    let spec = spec();
    let mut missing = Vec::new();
    for f in Func::ALL {
        let listing = f.program().listing();
        if std::env::var("REFUTE_PRINT_LISTINGS").is_ok() {
            println!("=== {f} ({} steps)\n{listing}", f.program().instrs.len());
        }
        if !spec.contains(&listing) {
            missing.push(format!("{f}:\n{listing}"));
        }
    }
    assert!(
        missing.is_empty(),
        "SPEC.md lacks the current listings of\n{}",
        missing.join("\n")
    );
}

#[test]
fn spec_primitive_table_matches_code() {
    let spec = spec();
    for p in Prim::ALL {
        let row = format!("| 0x{:02X} | `{}` | {} |", p.opcode(), p.name(), p.arity());
        assert!(spec.contains(&row), "SPEC.md lacks the row {row:?}");
    }
}
