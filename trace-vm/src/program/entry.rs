//! Decoding of op entries (SPEC.md 6.5): what the one-step verifier reads
//! from a program commitment to know which primitive runs where. The
//! encoder is [`Program::encode_op`](super::Program::encode_op); a test
//! decodes every op of every model program back.

use crate::arith::{Instr, Prim, Program as ElementProgram, Src};
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::ops::micro::Site;
use crate::ops::{Op, OpKind};

use super::TensorKind;

/// A tensor table entry as encoded: id, kind, dtype and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorEntry {
    /// Position in the program's tensor table.
    pub id: u32,
    /// Role.
    pub kind: TensorKind,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
}

/// A decoded op entry: where it sits, what it reads and writes, and the
/// geometry of its micro-traces.
#[derive(Clone, Debug)]
pub struct OpEntry {
    /// The op's index in the program.
    pub index: u32,
    /// Its layer.
    pub layer: u32,
    /// What kind of op it is.
    pub kind: OpKind,
    /// Input tensors, in the op's input order.
    pub inputs: Vec<TensorEntry>,
    /// The output tensor.
    pub output: TensorEntry,
    /// Operand locations of every step of every output element.
    pub site: Site,
}

/// The most elements a tensor of an op entry may have, its empty dimensions
/// left out (SPEC.md 6.5); the on-chain decoder applies the same bound.
pub const MAX_ELEMENTS: u64 = 1 << 40;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| bad(format!("truncated at byte {}", self.at)))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| bad("u16"))?,
        ))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| bad("u32"))?,
        ))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| bad("u64"))?,
        ))
    }

    fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| bad("a size does not fit this machine"))
    }

    fn tensor(&mut self) -> Result<TensorEntry> {
        let id = self.u32()?;
        let kind = match self.u8()? {
            0 => TensorKind::Input,
            1 => TensorKind::Weight,
            2 => TensorKind::Value,
            k => return Err(bad(format!("tensor {id} has unknown kind {k}"))),
        };
        let code = self.u8()?;
        let dtype = DType::from_code(code)
            .ok_or_else(|| bad(format!("tensor {id} has unknown dtype code {code:#04x}")))?;
        let rank = self.u8()?;
        let shape: Vec<usize> = (0..rank).map(|_| self.usize()).collect::<Result<_>>()?;
        // Bounding the product of the non-zero dimensions bounds every
        // product of some of them (strides, batch counts, row lengths), so
        // no geometry computed from the entry can overflow.
        let size = shape.iter().filter(|&&d| d != 0).try_fold(1u64, |n, &d| {
            n.checked_mul(d as u64).filter(|&n| n <= MAX_ELEMENTS)
        });
        if size.is_none() {
            return Err(bad(format!(
                "tensor {id} of shape {shape:?} has more than 2^40 elements (empty dimensions left out)"
            )));
        }
        Ok(TensorEntry {
            id,
            kind,
            dtype,
            shape,
        })
    }

    fn prim(&mut self) -> Result<Prim> {
        let code = self.u8()?;
        Prim::from_opcode(code).ok_or_else(|| bad(format!("unknown primitive {code:#04x}")))
    }

    fn element_program(&mut self) -> Result<ElementProgram> {
        let count = self.u16()?;
        let mut instrs = Vec::with_capacity(count as usize);
        for k in 0..count {
            let prim = self.prim()?;
            let mut srcs = [Src::Const(0); 3];
            for src in &mut srcs {
                let tag = self.u8()?;
                let value = self.u32()?;
                *src = match tag {
                    0 => Src::Input(u8::try_from(value).map_err(|_| bad("input number"))?),
                    1 => Src::Const(value),
                    2 if value < u32::from(k) => Src::Step(value as u16),
                    _ => return Err(bad(format!("instruction {k}: bad operand {tag}/{value}"))),
                };
            }
            instrs.push(Instr { prim, srcs });
        }
        if instrs.is_empty() {
            return Err(bad("an element program has no instructions"));
        }
        let output = Src::Step(count - 1);
        Ok(ElementProgram { instrs, output })
    }
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Program(format!("malformed op entry: {msg}"))
}

/// The op of `kind` with the attributes read from `a` (all kinds but map,
/// whose attribute is an element program, not an [`Op`]).
fn attributes(kind: OpKind, a: &mut Reader<'_>) -> Result<Op> {
    Ok(match kind {
        OpKind::MatMul => {
            let f = a.u8()?;
            Op::MatMul {
                ta: f & 1 != 0,
                tb: f & 2 != 0,
            }
        }
        OpKind::Map => return Err(bad("a map's attribute is its element program")),
        OpKind::Reduce => Op::Reduce {
            prim: a.prim()?,
            axis: a.u8()? as usize,
        },
        OpKind::Argmax => Op::Argmax,
        OpKind::Dequant => Op::Dequant,
        OpKind::Gather => Op::Gather,
        OpKind::Reshape => {
            let rank = a.u8()?;
            Op::Reshape {
                shape: (0..rank).map(|_| a.usize()).collect::<Result<_>>()?,
            }
        }
        OpKind::Permute => {
            let rank = a.u8()?;
            Op::Permute {
                perm: (0..rank)
                    .map(|_| Ok(a.u8()? as usize))
                    .collect::<Result<_>>()?,
            }
        }
        OpKind::Concat => Op::Concat {
            axis: a.u8()? as usize,
        },
        OpKind::Slice => Op::Slice {
            axis: a.u8()? as usize,
            start: a.usize()?,
            len: a.usize()?,
        },
        OpKind::Mask => Op::Mask {
            rows: a.usize()?,
            cols: a.usize()?,
            offset: a.usize()?,
            window: a.usize()?,
        },
        OpKind::Sample => Op::Sample {
            seed: a.u64()?,
            counter: a.u64()?,
        },
    })
}

/// Decode an op entry (SPEC.md 6.5) and derive its micro-trace geometry.
pub fn decode_op(bytes: &[u8]) -> Result<OpEntry> {
    let mut r = Reader { bytes, at: 0 };
    let index = r.u32()?;
    let layer = r.u32()?;
    let opcode = r.u8()?;
    let kind =
        OpKind::from_opcode(opcode).ok_or_else(|| bad(format!("unknown opcode {opcode:#04x}")))?;
    let n_inputs = r.u8()?;
    let inputs = (0..n_inputs)
        .map(|_| r.tensor())
        .collect::<Result<Vec<_>>>()?;
    let output = r.tensor()?;
    let attr_len = r.u32()? as usize;
    let mut a = Reader {
        bytes: r.take(attr_len)?,
        at: 0,
    };
    if r.at != bytes.len() {
        return Err(bad(format!(
            "{} bytes after the attributes",
            bytes.len() - r.at
        )));
    }
    let descs: Vec<(DType, &[usize])> = inputs
        .iter()
        .map(|t| (t.dtype, t.shape.as_slice()))
        .collect();
    let site = match kind {
        OpKind::Map => Site::for_map(a.element_program()?, &descs)?,
        _ => Site::new(&attributes(kind, &mut a)?, &descs)?,
    };
    if a.at != attr_len {
        return Err(bad(format!("{} unread attribute bytes", attr_len - a.at)));
    }
    if site.out_dtype() != output.dtype || site.out_shape() != output.shape {
        return Err(bad(format!(
            "op {index} declares output {:?}{:?} but its inputs give {:?}{:?}",
            output.dtype,
            output.shape,
            site.out_dtype(),
            site.out_shape()
        )));
    }
    Ok(OpEntry {
        index,
        layer,
        kind,
        inputs,
        output,
        site,
    })
}
