//! How many moves a dispute over a real model takes (docs/SPEC.md 7), from
//! the models' level sizes and the rules' move bound: MiniLM-L6 embedding 128
//! tokens and Gemma-3 270M generating a few tokens after a short prompt, at
//! 16-ary dissection. The models issue asks for at most 12 moves per side on
//! Gemma-3; the bound is computed, never written down here. The sizes the
//! contract's gas vectors are shaped on (`fixtures/shapes.rs`) are checked
//! against the models here.

#[path = "fixtures/shapes.rs"]
mod shapes;

use bisection::game::rules::max_moves;
use bisection::machine::level_sizes;
use trace_vm::format::models_dir;
use trace_vm::models::gemma::Task;
use trace_vm::models::{Decoder, Encoder, Sampling};
use trace_vm::program::Program;

use shapes::{GEMMA_5_PLUS_4_SIZES, MINILM_128_SIZES};

/// 16 children per reveal.
const ARITY_LOG2: u32 = 4;

/// The installed model's directory, or `None` after a loud message; under
/// `CI=true` a missing model is a failure.
fn model(name: &str) -> Option<std::path::PathBuf> {
    let dir = models_dir().join(name);
    if !dir.is_dir() {
        let msg = format!(
            "model `{name}` is not installed in {}; run scripts/setup",
            models_dir().display()
        );
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{msg}");
        eprintln!("\n*** SKIPPED: {msg} ***\n");
        return None;
    }
    Some(dir)
}

/// The dtype and shape of each tensor of the program's first and last
/// states: what a claim's input and output encode (docs/SPEC.md 4.9).
fn io_shapes(p: &Program) -> String {
    let describe = |l: usize| -> Vec<String> {
        p.state(l)
            .iter()
            .map(|&t| format!("{:?}{:?}", p.tensor(t).dtype, p.tensor(t).shape))
            .collect()
    };
    format!(
        "input {:?}, output {:?}",
        describe(0),
        describe(p.state_count() - 1)
    )
}

#[test]
fn a_gemma_dispute_takes_at_most_12_moves_per_side_at_16_ary_dissection() {
    let Some(dir) = model("gemma3-270m") else {
        return;
    };
    let dec = Decoder::open(dir.join("model.gguf")).expect("open gemma3-270m");
    let prompt = dec.tokenizer().encode("Once upon a time");
    for new_tokens in [1, 4] {
        let compiled = dec
            .compile(Task::Generate {
                prompt_len: prompt.len(),
                new_tokens,
                sampling: Sampling::Greedy,
            })
            .expect("compile");
        let sizes = level_sizes(&compiled.program).expect("level sizes");
        let moves = max_moves(ARITY_LOG2, &sizes);
        eprintln!(
            "Gemma-3, {} prompt tokens, {new_tokens} generated: level sizes {sizes:?}, moves (defender, challenger) {moves:?}; {}",
            prompt.len(),
            io_shapes(&compiled.program)
        );
        if new_tokens == 4 {
            assert_eq!(
                prompt.len(),
                5,
                "the prompt's tokens; update fixtures/shapes.rs"
            );
            assert_eq!(sizes, GEMMA_5_PLUS_4_SIZES, "update fixtures/shapes.rs");
        }
        assert!(
            moves.iter().all(|&m| m <= 12),
            "{new_tokens} tokens: {moves:?} moves for level sizes {sizes:?}"
        );
    }
}

#[test]
fn minilm_move_counts_at_128_tokens_and_the_sizes_gas_vectors_use() {
    let Some(dir) = model("minilm-l6") else {
        return;
    };
    let enc = Encoder::open(&dir).expect("open minilm-l6");
    let compiled = enc.compile(128).expect("compile");
    let sizes = level_sizes(&compiled.program).expect("level sizes");
    let moves = max_moves(ARITY_LOG2, &sizes);
    eprintln!(
        "MiniLM-L6, 128 tokens: level sizes {sizes:?}, moves (defender, challenger) {moves:?}; {}",
        io_shapes(&compiled.program)
    );
    assert_eq!(sizes, MINILM_128_SIZES, "update fixtures/shapes.rs");
}
