//! Composite ops written as programs of the op vocabulary: the building
//! blocks the model loaders compile BERT/MiniLM and Gemma-3 with. Each
//! composite is a fixed sequence of ops, listed in SPEC.md ("Composites").

use crate::arith::Prim;
use crate::arith::transcendental::Func;
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::ops::{MapFn, Op};
use crate::tensor::{Tensor, TensorId};

use super::Builder;

/// binary32 bits of `n` (exact for `n < 2^24`).
fn count_bits(n: usize) -> u32 {
    (n as f32).to_bits()
}

/// Attention configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionCfg {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (divides `heads`; 1 = multi-query, `heads` = multi-head).
    pub kv_heads: usize,
    /// Head dimension.
    pub head_dim: usize,
    /// Score scale as bits (usually 1/sqrt(head_dim), RNE).
    pub scale: u32,
}

/// What [`Builder::attention`] produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionOut {
    /// Context `[T, heads * head_dim]`.
    pub context: TensorId,
    /// Keys `[kv_heads, P + T, head_dim]` (the updated cache).
    pub keys: TensorId,
    /// Values `[kv_heads, P + T, head_dim]` (the updated cache).
    pub values: TensorId,
}

impl Builder {
    /// `map f` on `inputs`.
    pub fn map(&mut self, f: MapFn, inputs: &[TensorId]) -> Result<TensorId> {
        self.op(Op::Map(f), inputs)
    }

    /// Elementwise binary primitive with broadcasting (add, sub, mul, div, max, min).
    pub fn binary(&mut self, p: Prim, a: TensorId, b: TensorId) -> Result<TensorId> {
        self.map(MapFn::Prim(p), &[a, b])
    }

    /// `p(x, c)` with a constant `c` (bits).
    pub fn with_const(&mut self, p: Prim, x: TensorId, c: u32) -> Result<TensorId> {
        self.map(MapFn::PrimConst(p, c), &[x])
    }

    /// `x @ w^T (+ bias)` for a weight `w` stored `[out, in]` (the PyTorch / GGUF layout).
    pub fn linear(&mut self, x: TensorId, w: TensorId, bias: Option<TensorId>) -> Result<TensorId> {
        let y = self.op(
            Op::MatMul {
                ta: false,
                tb: true,
            },
            &[x, w],
        )?;
        match bias {
            Some(b) => self.binary(Prim::Add, y, b),
            None => Ok(y),
        }
    }

    /// Reduce along the last axis.
    pub fn reduce_last(&mut self, p: Prim, x: TensorId) -> Result<TensorId> {
        let axis = self
            .shape(x)?
            .len()
            .checked_sub(1)
            .ok_or_else(|| Error::Program(format!("{x} is a scalar")))?;
        self.op(Op::Reduce { prim: p, axis }, &[x])
    }

    fn last_len(&self, x: TensorId) -> Result<usize> {
        self.shape(x)?
            .last()
            .copied()
            .ok_or_else(|| Error::Program(format!("{x} is a scalar; it needs an axis")))
    }

    /// Mean along the last axis: `div(sum(x), n)`.
    pub fn mean_last(&mut self, x: TensorId) -> Result<TensorId> {
        let n = self.last_len(x)?;
        let s = self.reduce_last(Prim::Add, x)?;
        self.with_const(Prim::Div, s, count_bits(n))
    }

    /// LayerNorm over the last axis: `d = x - mean(x)`, `v = mean(d*d)`,
    /// `y = fma(d * rsqrt(v + eps), gamma, beta)`.
    pub fn layer_norm(
        &mut self,
        x: TensorId,
        gamma: TensorId,
        beta: TensorId,
        eps: f32,
    ) -> Result<TensorId> {
        let mean = self.mean_last(x)?;
        let d = self.binary(Prim::Sub, x, mean)?;
        let sq = self.binary(Prim::Mul, d, d)?;
        let var = self.mean_last(sq)?;
        let inv = self.map(MapFn::RsqrtEps(eps.to_bits()), &[var])?;
        self.map(MapFn::NormAffine, &[d, inv, gamma, beta])
    }

    /// RMSNorm over the last axis: `y = (x * rsqrt(mean(x*x) + eps)) * w`.
    /// (Gemma's `(1 + w)` is folded into `w` by the loader, as GGUF stores it.)
    pub fn rms_norm(&mut self, x: TensorId, w: TensorId, eps: f32) -> Result<TensorId> {
        let sq = self.binary(Prim::Mul, x, x)?;
        let ms = self.mean_last(sq)?;
        let inv = self.map(MapFn::RsqrtEps(eps.to_bits()), &[ms])?;
        self.map(MapFn::NormScale, &[x, inv, w])
    }

    /// Softmax over the last axis, after adding an additive `mask` (0 / -inf,
    /// broadcast) when given: `m = max(x)`, `e = exp(x - m)`, `y = e / sum(e)`.
    pub fn softmax(&mut self, x: TensorId, mask: Option<TensorId>) -> Result<TensorId> {
        let x = match mask {
            Some(m) => self.binary(Prim::Add, x, m)?,
            None => x,
        };
        let m = self.reduce_last(Prim::Max, x)?;
        let e = self.map(MapFn::ExpSub, &[x, m])?;
        let s = self.reduce_last(Prim::Add, e)?;
        self.binary(Prim::Div, e, s)
    }

    /// GELU, erf form (BERT).
    pub fn gelu_erf(&mut self, x: TensorId) -> Result<TensorId> {
        self.map(MapFn::GeluErf, &[x])
    }

    /// GELU, tanh form.
    pub fn gelu_tanh(&mut self, x: TensorId) -> Result<TensorId> {
        self.map(MapFn::GeluTanh, &[x])
    }

    /// SiLU.
    pub fn silu(&mut self, x: TensorId) -> Result<TensorId> {
        self.map(MapFn::Func(Func::Silu), &[x])
    }

    /// GeGLU feed-forward (Gemma): `down(gelu_tanh(gate(x)) * up(x))`.
    pub fn geglu_ffn(
        &mut self,
        x: TensorId,
        gate: TensorId,
        up: TensorId,
        down: TensorId,
    ) -> Result<TensorId> {
        let g = self.linear(x, gate, None)?;
        let u = self.linear(x, up, None)?;
        let h = self.map(MapFn::GeGlu, &[g, u])?;
        self.linear(h, down, None)
    }

    /// Embedding lookup: rows of `table` (`[V, D]`, F32 or quantized) at I32 `ids`.
    pub fn embedding(&mut self, table: TensorId, ids: TensorId) -> Result<TensorId> {
        self.op(Op::Gather, &[table, ids])
    }

    /// A causal (and, with `window > 0`, sliding-window) additive mask `[rows, cols]`
    /// for queries at positions `offset..offset + rows`.
    pub fn causal_mask(
        &mut self,
        rows: usize,
        cols: usize,
        offset: usize,
        window: usize,
    ) -> Result<TensorId> {
        self.op(
            Op::Mask {
                rows,
                cols,
                offset,
                window,
            },
            &[],
        )
    }

    /// Rotary embedding (rotate-half / NeoX layout) of `x` `[.., T, D]` with
    /// tables `cos`, `sin` `[T, D]` (rows already gathered at the positions;
    /// `sin` signed: `-sin` in the first half, `+sin` in the second; see
    /// [`rope_tables`]): `y = fma(x, cos, r * sin)` with `r = [x2, x1]`.
    pub fn rope(&mut self, x: TensorId, cos: TensorId, sin: TensorId) -> Result<TensorId> {
        let shape = self.shape(x)?;
        let d = self.last_len(x)?;
        if d % 2 != 0 {
            return Err(Error::Program(format!(
                "rope needs an even head dimension, {x} has shape {shape:?}"
            )));
        }
        let axis = shape.len() - 1;
        let lo = self.op(
            Op::Slice {
                axis,
                start: 0,
                len: d / 2,
            },
            &[x],
        )?;
        let hi = self.op(
            Op::Slice {
                axis,
                start: d / 2,
                len: d / 2,
            },
            &[x],
        )?;
        let r = self.op(Op::Concat { axis }, &[hi, lo])?;
        self.map(MapFn::Rope, &[x, r, cos, sin])
    }

    /// `[T, H * D]` -> `[H, T, D]`.
    pub fn split_heads(&mut self, x: TensorId, heads: usize, head_dim: usize) -> Result<TensorId> {
        let t = self.shape(x)?[0];
        let r = self.op(
            Op::Reshape {
                shape: vec![t, heads, head_dim],
            },
            &[x],
        )?;
        self.op(
            Op::Permute {
                perm: vec![1, 0, 2],
            },
            &[r],
        )
    }

    /// `[H, T, D]` -> `[T, H * D]`.
    pub fn merge_heads(&mut self, x: TensorId) -> Result<TensorId> {
        let s = self.shape(x)?;
        if s.len() != 3 {
            return Err(Error::Program(format!(
                "merge_heads needs [H, T, D], {x} is {s:?}"
            )));
        }
        let p = self.op(
            Op::Permute {
                perm: vec![1, 0, 2],
            },
            &[x],
        )?;
        self.op(
            Op::Reshape {
                shape: vec![s[1], s[0] * s[2]],
            },
            &[p],
        )
    }

    /// Scaled dot-product attention with grouped KV heads and a KV cache.
    ///
    /// `q` is `[heads, T, D]`, `k` and `v` are `[kv_heads, T, D]` (already
    /// projected, normed and rotated), `past` the cache `(keys, values)`
    /// `[kv_heads, P, D]` if any; `mask` is added to the scores
    /// `[heads, T, P + T]` (broadcast; e.g. [`Builder::causal_mask`] or a
    /// padding mask). Scores are `matmul(q, K^T) * scale`; query head `h`
    /// reads KV head `h / (heads / kv_heads)`.
    pub fn attention(
        &mut self,
        cfg: AttentionCfg,
        q: TensorId,
        k: TensorId,
        v: TensorId,
        past: Option<(TensorId, TensorId)>,
        mask: Option<TensorId>,
    ) -> Result<AttentionOut> {
        if cfg.kv_heads == 0 || !cfg.heads.is_multiple_of(cfg.kv_heads) {
            return Err(Error::Program(format!(
                "attention: {} query heads cannot be grouped over {} KV heads",
                cfg.heads, cfg.kv_heads
            )));
        }
        let (keys, values) = match past {
            Some((pk, pv)) => (
                self.op(Op::Concat { axis: 1 }, &[pk, k])?,
                self.op(Op::Concat { axis: 1 }, &[pv, v])?,
            ),
            None => (k, v),
        };
        let scores = self.op(
            Op::MatMul {
                ta: false,
                tb: true,
            },
            &[q, keys],
        )?;
        let scaled = self.with_const(Prim::Mul, scores, cfg.scale)?;
        let probs = self.softmax(scaled, mask)?;
        let ctx = self.op(
            Op::MatMul {
                ta: false,
                tb: false,
            },
            &[probs, values],
        )?;
        Ok(AttentionOut {
            context: self.merge_heads(ctx)?,
            keys,
            values,
        })
    }
}

/// RoPE tables for positions `0..positions` and head dimension `dim` with
/// frequency base `base` (rotate-half layout): `cos[p, i] = cos(p * base^(-2(i mod D/2)/D))`
/// and the signed sine (`-sin` in the first half, `+sin` in the second).
/// Computed in f64 and rounded once; they are model weights (committed in the
/// model root), so every party uses the committed bits, not its own libm.
pub fn rope_tables(dim: usize, positions: usize, base: f64) -> Result<(Tensor, Tensor)> {
    let half = dim / 2;
    let mut cos = Vec::with_capacity(positions * dim);
    let mut sin = Vec::with_capacity(positions * dim);
    for p in 0..positions {
        for i in 0..dim {
            let f = (p as f64) * base.powf(-2.0 * ((i % half.max(1)) as f64) / dim as f64);
            cos.push((f.cos() as f32).to_bits());
            let s = f.sin() as f32;
            sin.push((if i < half { -s } else { s }).to_bits());
        }
    }
    Ok((
        Tensor::from_words(DType::F32, &[positions, dim], cos)?,
        Tensor::from_words(DType::F32, &[positions, dim], sin)?,
    ))
}
