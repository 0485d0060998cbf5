//! Batch interface for external differential testers (`refute vm ops`).
//!
//! Input: one operation per line, `OP A [B [C]]`, where `OP` is a primitive
//! name (add, sub, mul, div, sqrt, fma, max, min — and every other name in
//! [`Prim`]) and the operands are binary32 bit patterns as 1–8 hex digits,
//! optionally prefixed `0x`. Fields are separated by spaces or tabs. Blank
//! lines and lines starting with `#` are skipped (and produce no output);
//! a `#` after the operands starts a comment.
//!
//! Output: one line per operation: the result as 8 lowercase hex digits.
//! Output is buffered by the caller's writer; this function flushes it at the end.
//!
//! Operations are evaluated in chunks through [`PrimBatch`], so a GPU
//! evaluates a whole chunk in one dispatch; every [`Arith`] is a `PrimBatch`.

use std::io::{BufRead, Write};

use crate::arith::{Arith, Prim};
use crate::error::{Error, Result};

/// Operations evaluated per [`PrimBatch::eval_many`] call.
const CHUNK: usize = 1 << 16;

/// Something that evaluates many primitive operations at once.
pub trait PrimBatch {
    /// `out[i]` = `ops[i].0` applied to `ops[i].1`.
    fn eval_many(&self, ops: &[(Prim, [u32; 3])]) -> Result<Vec<u32>>;
}

impl<A: Arith> PrimBatch for A {
    fn eval_many(&self, ops: &[(Prim, [u32; 3])]) -> Result<Vec<u32>> {
        Ok(ops.iter().map(|&(p, args)| self.eval(p, args)).collect())
    }
}

impl PrimBatch for crate::backend::Gpu {
    fn eval_many(&self, ops: &[(Prim, [u32; 3])]) -> Result<Vec<u32>> {
        crate::backend::Gpu::eval_many(self, ops)
    }
}

fn parse_operand(tok: &str, line: u64, pos: usize) -> Result<u32> {
    let digits = tok
        .strip_prefix("0x")
        .or_else(|| tok.strip_prefix("0X"))
        .unwrap_or(tok);
    let bad = |why: &str| Error::Batch {
        line,
        msg: format!(
            "operand {pos} {tok:?} {why}; write a binary32 bit pattern as hex, e.g. 3f800000 or 0x3f800000 for 1.0"
        ),
    };
    if digits.is_empty() {
        return Err(bad("is empty"));
    }
    if digits.len() > 8 {
        return Err(bad("has more than 8 hex digits"));
    }
    u32::from_str_radix(digits, 16).map_err(|_| bad("is not hexadecimal"))
}

/// Parse one non-blank, non-comment line into a primitive and its operands.
pub fn parse_line(text: &str, line: u64) -> Result<(Prim, [u32; 3])> {
    let text = text.split('#').next().unwrap_or("");
    let mut toks = text.split_ascii_whitespace();
    let op = toks.next().ok_or_else(|| Error::Batch {
        line,
        msg: "empty operation".into(),
    })?;
    let prim: Prim = op.parse().map_err(|e: Error| Error::Batch {
        line,
        msg: e.to_string(),
    })?;
    let toks: Vec<&str> = toks.collect();
    if toks.len() != prim.arity() {
        let names = ["A", "B", "C"][..prim.arity()].join(" ");
        return Err(Error::Batch {
            line,
            msg: format!(
                "{prim} takes {} operand(s), got {}; write `{prim} {names}` with hex bit patterns",
                prim.arity(),
                toks.len()
            ),
        });
    }
    let mut args = [0u32; 3];
    for (i, t) in toks.iter().enumerate() {
        args[i] = parse_operand(t, line, i + 1)?;
    }
    Ok((prim, args))
}

/// Evaluate the pending operations, write their results and clear them.
fn answer(
    eval: &dyn PrimBatch,
    pending: &mut Vec<(Prim, [u32; 3])>,
    output: &mut impl Write,
) -> Result<u64> {
    for r in eval.eval_many(pending)? {
        writeln!(output, "{r:08x}")?;
    }
    let n = pending.len() as u64;
    pending.clear();
    Ok(n)
}

/// Run every operation in `input` with `eval`, writing one result per
/// operation to `output`. Returns the number of operations executed.
///
/// Stops at the first bad line with an error naming the line (results for
/// the lines before it have been written).
pub fn run_batch(input: impl BufRead, mut output: impl Write, eval: &dyn PrimBatch) -> Result<u64> {
    let mut count = 0u64;
    let mut pending: Vec<(Prim, [u32; 3])> = Vec::with_capacity(CHUNK);
    for (i, text) in input.lines().enumerate() {
        let line = i as u64 + 1;
        let parsed = text
            .map_err(|e| Error::Batch {
                line,
                msg: format!("cannot read: {e}"),
            })
            .and_then(|text| {
                let t = text.trim();
                if t.is_empty() || t.starts_with('#') {
                    Ok(None)
                } else {
                    parse_line(t, line).map(Some)
                }
            });
        match parsed {
            Ok(Some(op)) => {
                pending.push(op);
                if pending.len() == CHUNK {
                    count += answer(eval, &mut pending, &mut output)?;
                }
            }
            Ok(None) => {}
            Err(e) => {
                // The lines before the bad one are answered first.
                answer(eval, &mut pending, &mut output)?;
                output.flush()?;
                return Err(e);
            }
        }
    }
    count += answer(eval, &mut pending, &mut output)?;
    output.flush()?;
    Ok(count)
}
