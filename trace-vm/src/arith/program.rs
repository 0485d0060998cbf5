//! Fixed programs of primitives.
//!
//! A program (e.g. a transcendental) is written once as generic Rust over a
//! [`Machine`]. Instantiated with [`Eval`] it computes values (with [`super::Fast`]
//! it compiles to straight-line native code); with [`Tracer`] it also records
//! each executed [`Step`]; with [`Recorder`] it yields the program itself as
//! data ([`Program`]: a list of [`Instr`] whose operands are the program input,
//! a constant bit pattern or an earlier step's result) — the form the SPEC
//! lists and the on-chain verifier uses to locate a step's operands.

use super::{Arith, Prim, Step};

/// Something that can run primitives on values of type `V`.
pub trait Machine {
    /// A value: a bit pattern, or a symbolic reference.
    type V: Copy;
    /// A constant bit pattern.
    fn konst(&mut self, bits: u32) -> Self::V;
    /// Run `p` on `args` (exactly `p.arity()` operands).
    fn op(&mut self, p: Prim, args: &[Self::V]) -> Self::V;

    /// add
    #[inline(always)]
    fn add(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Add, &[a, b])
    }
    /// sub
    #[inline(always)]
    fn sub(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Sub, &[a, b])
    }
    /// mul
    #[inline(always)]
    fn mul(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Mul, &[a, b])
    }
    /// div
    #[inline(always)]
    fn div(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Div, &[a, b])
    }
    /// sqrt
    #[inline(always)]
    fn sqrt(&mut self, a: Self::V) -> Self::V {
        self.op(Prim::Sqrt, &[a])
    }
    /// fma
    #[inline(always)]
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.op(Prim::Fma, &[a, b, c])
    }
    /// max
    #[inline(always)]
    fn max(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Max, &[a, b])
    }
    /// min
    #[inline(always)]
    fn min(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Min, &[a, b])
    }
    /// neg
    #[inline(always)]
    fn neg(&mut self, a: Self::V) -> Self::V {
        self.op(Prim::Neg, &[a])
    }
    /// abs
    #[inline(always)]
    fn abs(&mut self, a: Self::V) -> Self::V {
        self.op(Prim::Abs, &[a])
    }
    /// lt
    #[inline(always)]
    fn lt(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Lt, &[a, b])
    }
    /// select(c, a, b) = c != 0 ? a : b
    #[inline(always)]
    fn select(&mut self, c: Self::V, a: Self::V, b: Self::V) -> Self::V {
        self.op(Prim::Select, &[c, a, b])
    }
    /// exp2i
    #[inline(always)]
    fn exp2i(&mut self, a: Self::V) -> Self::V {
        self.op(Prim::Exp2i, &[a])
    }
}

#[inline(always)]
fn pad(args: &[u32]) -> [u32; 3] {
    let mut a = [0u32; 3];
    for (d, s) in a.iter_mut().zip(args) {
        *d = *s;
    }
    a
}

/// Evaluates programs with an [`Arith`].
#[derive(Clone, Copy, Debug)]
pub struct Eval<'a, A: Arith + ?Sized>(pub &'a A);

impl<A: Arith + ?Sized> Machine for Eval<'_, A> {
    type V = u32;
    #[inline(always)]
    fn konst(&mut self, bits: u32) -> u32 {
        bits
    }
    #[inline(always)]
    fn op(&mut self, p: Prim, args: &[u32]) -> u32 {
        self.0.eval(p, pad(args))
    }
}

/// Evaluates programs with an [`Arith`] and records every step.
#[derive(Debug)]
pub struct Tracer<'a, A: Arith + ?Sized> {
    arith: &'a A,
    /// The steps executed so far, in order.
    pub steps: Vec<Step>,
}

impl<'a, A: Arith + ?Sized> Tracer<'a, A> {
    /// A tracer with no steps yet.
    pub fn new(arith: &'a A) -> Self {
        Tracer {
            arith,
            steps: Vec::new(),
        }
    }
}

impl<A: Arith + ?Sized> Machine for Tracer<'_, A> {
    type V = u32;
    fn konst(&mut self, bits: u32) -> u32 {
        bits
    }
    fn op(&mut self, p: Prim, args: &[u32]) -> u32 {
        let args = pad(args);
        let result = self.arith.eval(p, args);
        self.steps.push(Step {
            prim: p,
            args,
            result,
        });
        result
    }
}

/// Where an instruction's operand comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    /// The program's input number `n` (programs here have one input, `x` = input 0).
    Input(u8),
    /// A constant bit pattern.
    Const(u32),
    /// The result of step `n` of the same program.
    Step(u16),
}

impl std::fmt::Display for Src {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Src::Input(0) => write!(f, "x"),
            Src::Input(n) => write!(f, "x{n}"),
            Src::Const(c) => write!(f, "0x{c:08x}"),
            Src::Step(s) => write!(f, "s{s}"),
        }
    }
}

/// One instruction of a [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instr {
    /// The primitive.
    pub prim: Prim,
    /// Its operands (`srcs[..prim.arity()]`; the rest are `Const(0)`).
    pub srcs: [Src; 3],
}

/// A fixed straight-line program of primitives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Instructions; step `k`'s result is `Src::Step(k)`.
    pub instrs: Vec<Instr>,
    /// Which value is the program's output.
    pub output: Src,
}

impl Program {
    /// Run the program on `inputs` with `arith`, returning every step and the output.
    pub fn run<A: Arith + ?Sized>(&self, arith: &A, inputs: &[u32]) -> (Vec<Step>, u32) {
        let mut steps: Vec<Step> = Vec::with_capacity(self.instrs.len());
        let get = |s: Src, steps: &[Step]| match s {
            Src::Input(n) => inputs.get(n as usize).copied().unwrap_or(0),
            Src::Const(c) => c,
            Src::Step(k) => steps.get(k as usize).map(|st| st.result).unwrap_or(0),
        };
        for ins in &self.instrs {
            let mut args = [0u32; 3];
            for (i, a) in args.iter_mut().enumerate().take(ins.prim.arity()) {
                *a = get(ins.srcs[i], &steps);
            }
            let result = arith.eval(ins.prim, args);
            steps.push(Step {
                prim: ins.prim,
                args,
                result,
            });
        }
        let out = get(self.output, &steps);
        (steps, out)
    }

    /// Human/SPEC listing: one line per step, `sK = prim(src, ...)`.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for (k, ins) in self.instrs.iter().enumerate() {
            let args: Vec<String> = ins.srcs[..ins.prim.arity()]
                .iter()
                .map(|a| a.to_string())
                .collect();
            s.push_str(&format!("s{k} = {}({})\n", ins.prim, args.join(", ")));
        }
        s.push_str(&format!("out = {}\n", self.output));
        s
    }
}

/// Records a program as data.
#[derive(Debug, Default)]
pub struct Recorder {
    instrs: Vec<Instr>,
}

impl Recorder {
    /// Record the one-input program `f`.
    pub fn record(f: impl FnOnce(&mut Recorder, Src) -> Src) -> Program {
        let mut r = Recorder::default();
        let output = f(&mut r, Src::Input(0));
        Program {
            instrs: r.instrs,
            output,
        }
    }
}

impl Machine for Recorder {
    type V = Src;
    fn konst(&mut self, bits: u32) -> Src {
        Src::Const(bits)
    }
    fn op(&mut self, p: Prim, args: &[Src]) -> Src {
        let mut srcs = [Src::Const(0); 3];
        for (d, s) in srcs.iter_mut().zip(args) {
            *d = *s;
        }
        let k = self.instrs.len();
        self.instrs.push(Instr { prim: p, srcs });
        Src::Step(k as u16)
    }
}
