//! Host-side constants: initializers, `Constant` nodes and everything folded
//! from them (shapes, axes, index lists). Integer arithmetic on shapes is
//! exact on the host, so it is folded at compile time; float values are only
//! ever moved here, never computed, so every float result still comes from a
//! VM op with a micro-trace.

use crate::format::DType as FDType;
use crate::format::onnx::OnnxTensor;
use crate::tensor::Tensor;

/// A host constant's elements.
#[derive(Clone, Debug, PartialEq)]
pub enum KData {
    /// binary32 values.
    F32(Vec<f32>),
    /// Integers (and booleans as 0/1).
    I64(Vec<i64>),
}

/// A host constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Konst {
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Elements.
    pub data: KData,
}

impl Konst {
    /// A 1-D integer constant.
    pub fn ints(v: Vec<i64>) -> Self {
        Self {
            shape: vec![v.len()],
            data: KData::I64(v),
        }
    }

    /// Decode an ONNX tensor (float and integer types).
    pub fn from_onnx(t: &OnnxTensor) -> Result<Self, String> {
        let b = t.data();
        let data = match t.dtype {
            FDType::F32 => KData::F32(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            FDType::I64 => KData::I64(
                b.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            FDType::I32 => KData::I64(
                b.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            FDType::I8 => KData::I64(b.iter().map(|&x| i64::from(x as i8)).collect()),
            FDType::U8 | FDType::Bool => KData::I64(b.iter().map(|&x| i64::from(x)).collect()),
            other => {
                return Err(format!(
                    "{other} tensors are not supported; the VM computes in F32 and I32 (convert the model to float32)"
                ));
            }
        };
        Ok(Self {
            shape: t.shape.clone(),
            data,
        })
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        match &self.data {
            KData::F32(v) => v.len(),
            KData::I64(v) => v.len(),
        }
    }

    /// Whether the elements are integers.
    pub fn is_int(&self) -> bool {
        matches!(self.data, KData::I64(_))
    }

    /// The elements as integers (floats must be integral).
    pub fn to_ints(&self) -> Result<Vec<i64>, String> {
        match &self.data {
            KData::I64(v) => Ok(v.clone()),
            KData::F32(v) => v
                .iter()
                .map(|&x| {
                    if x.fract() == 0.0 && x.abs() < 9.0e15 {
                        Ok(x as i64)
                    } else {
                        Err(format!("{x} is not an integer"))
                    }
                })
                .collect(),
        }
    }

    /// The elements as binary32 (integers converted with round-to-nearest, as `Cast` does).
    pub fn to_f32s(&self) -> Vec<f32> {
        match &self.data {
            KData::F32(v) => v.clone(),
            KData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The single element of a scalar (or one-element) constant.
    pub fn scalar_f32(&self) -> Result<f32, String> {
        match self.to_f32s().as_slice() {
            [x] => Ok(*x),
            v => Err(format!("expected one element, got {}", v.len())),
        }
    }

    /// Pick elements by flat source index into a new shape.
    pub fn take(&self, idx: &[usize], shape: Vec<usize>) -> Self {
        let data = match &self.data {
            KData::F32(v) => KData::F32(idx.iter().map(|&i| v[i]).collect()),
            KData::I64(v) => KData::I64(idx.iter().map(|&i| v[i]).collect()),
        };
        Self { shape, data }
    }

    /// The VM tensor of this constant: F32, or I32 for integers.
    pub fn to_tensor(&self) -> Result<Tensor, String> {
        match &self.data {
            KData::F32(v) => Tensor::f32(&self.shape, v).map_err(|e| e.to_string()),
            KData::I64(v) => {
                let w = v
                    .iter()
                    .map(|&x| i32::try_from(x).map_err(|_| format!("{x} does not fit I32")))
                    .collect::<Result<Vec<_>, _>>()?;
                Tensor::i32(&self.shape, &w).map_err(|e| e.to_string())
            }
        }
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// For each element of the broadcast output `out`, the flat index of the
/// element of an input of shape `inp` it reads (numpy broadcasting).
pub fn broadcast_index(inp: &[usize], out: &[usize]) -> Vec<usize> {
    let off = out.len() - inp.len();
    let ist = strides(inp);
    let n: usize = out.iter().product();
    let ost = strides(out);
    (0..n)
        .map(|f| {
            (0..inp.len())
                .map(|d| {
                    let i = (f / ost[off + d]) % out[off + d];
                    if inp[d] == 1 { 0 } else { i * ist[d] }
                })
                .sum()
        })
        .collect()
}

/// Source indices of a permutation (`out` dim d = input dim `perm[d]`).
pub fn permute_index(inp: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let out: Vec<usize> = perm.iter().map(|&p| inp[p]).collect();
    let ist = strides(inp);
    let ost = strides(&out);
    let n: usize = out.iter().product();
    let idx = (0..n)
        .map(|f| {
            (0..out.len())
                .map(|d| ((f / ost[d]) % out[d]) * ist[perm[d]])
                .sum()
        })
        .collect();
    (idx, out)
}

/// Source indices of taking `picks` along `axis` (Gather / strided Slice).
pub fn axis_index(inp: &[usize], axis: usize, picks: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let outer: usize = inp[..axis].iter().product();
    let inner: usize = inp[axis + 1..].iter().product();
    let mut idx = Vec::with_capacity(outer * picks.len() * inner);
    for o in 0..outer {
        for &p in picks {
            for i in 0..inner {
                idx.push((o * inp[axis] + p) * inner + i);
            }
        }
    }
    let mut out = inp.to_vec();
    out[axis] = picks.len();
    (idx, out)
}
