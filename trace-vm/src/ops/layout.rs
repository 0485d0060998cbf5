//! Index arithmetic shared by the op definitions, the micro-trace and the
//! kernels: row-major strides, broadcasting, and the geometry of matmuls and
//! axis reductions. Everything here is a pure function of shapes, so the
//! verifier can compute the same operand locations.

use crate::error::{Error, Result};

/// Row-major strides of `shape` (in elements).
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// The numpy broadcast of `shapes` (right-aligned; each dimension equal or 1).
pub fn broadcast_shape(op: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (d, &n) in s.iter().enumerate() {
            let o = &mut out[off + d];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                return Err(Error::Op {
                    op: op.to_string(),
                    msg: format!(
                        "shapes {shapes:?} do not broadcast (dimension {} is {n} in one input and {} in another); make them equal or 1",
                        off + d,
                        *o
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Strides of an input of shape `shape` read at the indices of a broadcast
/// output of rank `out_rank`: 0 along broadcast dimensions.
pub fn broadcast_strides(shape: &[usize], out_rank: usize) -> Vec<usize> {
    let s = strides(shape);
    let off = out_rank - shape.len();
    (0..out_rank)
        .map(|d| {
            if d < off || shape[d - off] == 1 {
                0
            } else {
                s[d - off]
            }
        })
        .collect()
}

/// Flat input index of output element `e` for an input with broadcast strides `bs`.
pub fn broadcast_index(out_shape: &[usize], bs: &[usize], mut e: usize) -> usize {
    let mut idx = 0;
    for d in (0..out_shape.len()).rev() {
        let n = out_shape[d];
        idx += (e % n) * bs[d];
        e /= n;
    }
    idx
}

/// Geometry of a (batched) matmul: `out[b, m, n] = dot_k(A[b, m, k], B[b / group, k, n])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatMulGeom {
    /// Batch count of A (= of the output).
    pub batch: usize,
    /// A batches per B batch (B batch = A batch / group).
    pub group: usize,
    /// Rows of the output.
    pub m: usize,
    /// Columns of the output.
    pub n: usize,
    /// Reduction length.
    pub k: usize,
    /// A is stored [.., K, M].
    pub ta: bool,
    /// B is stored [.., N, K].
    pub tb: bool,
}

impl MatMulGeom {
    /// Flat index in A of (batch, m, k).
    pub fn a_index(&self, b: usize, m: usize, k: usize) -> usize {
        let base = b * self.m * self.k;
        if self.ta {
            base + k * self.m + m
        } else {
            base + m * self.k + k
        }
    }

    /// Flat index in B of (A batch, k, n).
    pub fn b_index(&self, b: usize, k: usize, n: usize) -> usize {
        let base = (b / self.group) * self.k * self.n;
        if self.tb {
            base + n * self.k + k
        } else {
            base + k * self.n + n
        }
    }

    /// (batch, m, n) of output element `e`.
    pub fn out_coords(&self, e: usize) -> (usize, usize, usize) {
        (e / (self.m * self.n), (e / self.n) % self.m, e % self.n)
    }
}

/// Geometry of a reduction along one axis: element `j` of output `e`'s
/// reduction is input `(e / inner) * len * inner + j * inner + e % inner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisGeom {
    /// Length of the reduced axis.
    pub len: usize,
    /// Product of the dimensions after the axis.
    pub inner: usize,
}

impl AxisGeom {
    /// The geometry of `axis` of `shape` (`axis < shape.len()`).
    pub fn new(shape: &[usize], axis: usize) -> Self {
        AxisGeom {
            len: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        }
    }

    /// Input index of element `j` of output element `e`'s reduction.
    pub fn index(&self, e: usize, j: usize) -> usize {
        (e / self.inner) * self.len * self.inner + j * self.inner + e % self.inner
    }
}

/// Multi-index of flat index `e` in `shape`.
pub fn unravel(shape: &[usize], mut e: usize) -> Vec<usize> {
    let mut ix = vec![0usize; shape.len()];
    for d in (0..shape.len()).rev() {
        ix[d] = e % shape[d];
        e /= shape[d];
    }
    ix
}

/// Flat index of multi-index `ix` in `shape`.
pub fn ravel(shape: &[usize], ix: &[usize]) -> usize {
    ix.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}
