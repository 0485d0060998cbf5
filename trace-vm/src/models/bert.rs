//! BERT sentence encoders (all-MiniLM-L6-v2 and its relatives) from a
//! sentence-transformers package: `model.safetensors` + `config.json` +
//! `tokenizer.json` + `1_Pooling/config.json` (+ `Normalize`).
//!
//! The program for `T` tokens takes the token ids (`I32 [T]`) and the
//! attention mask (`F32 [T, 1]`, 1 for tokens and 0 for padding) and outputs
//! the pooled (and, when the pipeline says so, L2-normalized) embedding
//! `F32 [1, hidden]`. Layers: `embeddings`, one per encoder block, `pool`.
//! Padding keys get the additive score `(mask - 1) * f32::MAX`, which is
//! Hugging Face's `(1 - mask) * finfo.min` bit for bit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokenizers::{PaddingStrategy, Tokenizer};

use crate::arith::Prim;
use crate::backend::Backend;
use crate::exec;
use crate::format::safetensors::{BertConfig, Pooling, SentenceTransformer};
use crate::format::{self, TensorSource};
use crate::ops::{MapFn, Op};
use crate::program::nn::AttentionCfg;
use crate::tensor::{Tensor, TensorId};

use super::{Compiled, Error, ModelBuilder, Result};

/// Sequence length used when the tokenizer does not pad to a fixed length.
const DEFAULT_SEQ_LEN: usize = 128;

/// binary32 bits of 1.0.
const ONE: u32 = 0x3F80_0000;

/// A sentence-transformers BERT encoder.
#[derive(Debug)]
pub struct Encoder {
    st: SentenceTransformer,
    tokenizer: Tokenizer,
    tokenizer_path: PathBuf,
    seq_len: usize,
    /// The tensors the encoder reads, converted once (programs of every length share them).
    tensors: HashMap<String, Tensor>,
}

/// The result of embedding one text.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// The token ids (with `[CLS]` and `[SEP]`, without padding).
    pub ids: Vec<u32>,
    /// The sentence embedding.
    pub vector: Vec<f32>,
    /// The VM run (trace root, state roots).
    pub run: exec::Run,
}

impl Encoder {
    /// Open the package in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let st = SentenceTransformer::open(dir.as_ref())?;
        let tokenizer_path = st.dir.join("tokenizer.json");
        let tok_err = |detail: String| Error::Tokenizer {
            path: tokenizer_path.clone(),
            detail,
        };
        if !tokenizer_path.is_file() {
            return Err(tok_err(
                "missing; the package must ship tokenizer.json (re-install it with scripts/setup)"
                    .into(),
            ));
        }
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| tok_err(e.to_string()))?;
        let seq_len = match tokenizer.get_padding().map(|p| &p.strategy) {
            Some(PaddingStrategy::Fixed(n)) => *n,
            _ => DEFAULT_SEQ_LEN,
        };
        if seq_len == 0 || seq_len > st.config.max_position_embeddings {
            return Err(tok_err(format!(
                "pads to {seq_len} tokens, the encoder has {} positions",
                st.config.max_position_embeddings
            )));
        }
        // The program pads; the tokenizer only truncates, to the program's length.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: seq_len,
                ..Default::default()
            }))
            .map_err(|e| tok_err(e.to_string()))?;
        let tensors = st
            .weights
            .tensors()
            .iter()
            .filter(|v| is_used(v.name))
            .map(|v| Ok((v.name.to_string(), Tensor::from_view(v)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Encoder {
            st,
            tokenizer,
            tokenizer_path,
            seq_len,
            tensors,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &BertConfig {
        &self.st.config
    }

    /// The pooling step.
    pub fn pooling(&self) -> Pooling {
        self.st.pooling
    }

    /// Whether the embedding is L2-normalized.
    pub fn normalize(&self) -> bool {
        self.st.normalize
    }

    /// The canonical sequence length (the tokenizer's fixed padding length).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The package directory.
    pub fn dir(&self) -> &Path {
        &self.st.dir
    }

    /// The weights file.
    pub fn weights(&self) -> &format::safetensors::SafetensorsFile {
        &self.st.weights
    }

    /// A description such as `bert (6 layers, hidden 384, 12 heads), mean pooling, normalized`.
    pub fn architecture(&self) -> String {
        let c = &self.st.config;
        format!(
            "bert encoder ({} layers, hidden {}, {} heads, ffn {}), {:?} pooling{}",
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.intermediate_size,
            self.st.pooling,
            if self.st.normalize {
                ", L2-normalized"
            } else {
                ""
            }
        )
    }

    /// Elements of the weight tensors the encoder reads.
    pub fn parameters(&self) -> usize {
        self.st
            .weights
            .tensors()
            .iter()
            .filter(|t| is_used(t.name))
            .map(|t| t.element_count())
            .sum()
    }

    /// Token ids of `text` (`[CLS] … [SEP]`, truncated to [`Encoder::seq_len`]).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer {
                path: self.tokenizer_path.clone(),
                detail: e.to_string(),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// The program at the canonical sequence length; its commitment is the model's.
    pub fn canonical(&self) -> Result<Compiled> {
        self.compile(self.seq_len)
    }

    fn weight(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| format::Error::MissingTensor {
                path: self.st.weights.origin().to_path_buf(),
                name: name.to_string(),
                count: self.st.weights.tensor_infos().len(),
            })?;
        if t.dtype() != crate::commit::DType::F32 || t.shape() != shape {
            return Err(Error::Tensor {
                path: self.st.weights.origin().to_path_buf(),
                tensor: name.to_string(),
                want: format!("F32{shape:?}"),
                got: format!("{:?}{:?}", t.dtype(), t.shape()),
            });
        }
        Ok(t.clone())
    }

    /// Compile the encoder for inputs of `seq_len` tokens.
    pub fn compile(&self, seq_len: usize) -> Result<Compiled> {
        let c = &self.st.config;
        if seq_len == 0 || seq_len > c.max_position_embeddings {
            return Err(Error::Input(format!(
                "sequence length {seq_len} must be between 1 and the encoder's {} positions",
                c.max_position_embeddings
            )));
        }
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        let head_dim = h / heads;
        let eps = c.layer_norm_eps as f32;
        if c.hidden_act != "gelu" {
            return Err(Error::Unsupported {
                path: self.st.dir.join("config.json"),
                detail: format!(
                    "hidden_act `{}`; Refute's BERT runs `gelu` (erf)",
                    c.hidden_act
                ),
            });
        }
        let mut m = ModelBuilder::default();
        let ids =
            m.b.input("input_ids", crate::commit::DType::I32, &[seq_len])?;
        let mask =
            m.b.input("attention_mask", crate::commit::DType::F32, &[seq_len, 1])?;

        let word = m.weight(
            "embeddings.word_embeddings.weight",
            self.weight("embeddings.word_embeddings.weight", &[c.vocab_size, h])?,
        )?;
        let pos = m.weight(
            "embeddings.position_embeddings.weight",
            self.weight(
                "embeddings.position_embeddings.weight",
                &[c.max_position_embeddings, h],
            )?,
        )?;
        let types = m.weight(
            "embeddings.token_type_embeddings.weight",
            self.weight(
                "embeddings.token_type_embeddings.weight",
                &[c.type_vocab_size, h],
            )?,
        )?;
        let ln = self.layer_norm_weights(&mut m, "embeddings.LayerNorm", h)?;
        let (mut x, key_mask) = m.b.layer("embeddings", |b| {
            let w = b.embedding(word, ids)?;
            let t = b.op(
                Op::Slice {
                    axis: 0,
                    start: 0,
                    len: 1,
                },
                &[types],
            )?;
            let p = b.op(
                Op::Slice {
                    axis: 0,
                    start: 0,
                    len: seq_len,
                },
                &[pos],
            )?;
            let x = b.binary(Prim::Add, w, t)?;
            let x = b.binary(Prim::Add, x, p)?;
            let x = b.layer_norm(x, ln.0, ln.1, eps)?;
            let km = b.op(
                Op::Reshape {
                    shape: vec![1, seq_len],
                },
                &[mask],
            )?;
            let km = b.with_const(Prim::Sub, km, ONE)?;
            let km = b.with_const(Prim::Mul, km, f32::MAX.to_bits())?;
            Ok((x, km))
        })?;

        let cfg = AttentionCfg {
            heads,
            kv_heads: heads,
            head_dim,
            scale: ((1.0 / (head_dim as f64).sqrt()) as f32).to_bits(),
        };
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let lin = |m: &mut ModelBuilder,
                       name: &str,
                       out: usize,
                       inp: usize|
             -> Result<(TensorId, TensorId)> {
                let w = format!("{p}.{name}.weight");
                let b = format!("{p}.{name}.bias");
                Ok((
                    m.weight(&w, self.weight(&w, &[out, inp])?)?,
                    m.weight(&b, self.weight(&b, &[out])?)?,
                ))
            };
            let q = lin(&mut m, "attention.self.query", h, h)?;
            let k = lin(&mut m, "attention.self.key", h, h)?;
            let v = lin(&mut m, "attention.self.value", h, h)?;
            let o = lin(&mut m, "attention.output.dense", h, h)?;
            let ln1 =
                self.layer_norm_weights(&mut m, &format!("{p}.attention.output.LayerNorm"), h)?;
            let up = lin(&mut m, "intermediate.dense", c.intermediate_size, h)?;
            let down = lin(&mut m, "output.dense", h, c.intermediate_size)?;
            let ln2 = self.layer_norm_weights(&mut m, &format!("{p}.output.LayerNorm"), h)?;
            x = m.b.layer(&format!("layer.{l}"), |b| {
                let qh = b.linear(x, q.0, Some(q.1))?;
                let kh = b.linear(x, k.0, Some(k.1))?;
                let vh = b.linear(x, v.0, Some(v.1))?;
                let qh = b.split_heads(qh, heads, head_dim)?;
                let kh = b.split_heads(kh, heads, head_dim)?;
                let vh = b.split_heads(vh, heads, head_dim)?;
                let att = b.attention(cfg, qh, kh, vh, None, Some(key_mask))?;
                let a = b.linear(att.context, o.0, Some(o.1))?;
                let a = b.binary(Prim::Add, a, x)?;
                let a = b.layer_norm(a, ln1.0, ln1.1, eps)?;
                let f = b.linear(a, up.0, Some(up.1))?;
                let f = b.gelu_erf(f)?;
                let f = b.linear(f, down.0, Some(down.1))?;
                let f = b.binary(Prim::Add, f, a)?;
                b.layer_norm(f, ln2.0, ln2.1, eps)
            })?;
        }

        let (pooling, normalize) = (self.st.pooling, self.st.normalize);
        let out = m.b.layer("pool", |b| {
            let pooled = match pooling {
                Pooling::Cls => b.op(
                    Op::Slice {
                        axis: 0,
                        start: 0,
                        len: 1,
                    },
                    &[x],
                )?,
                Pooling::Max => {
                    // sentence-transformers sets padding tokens to -1e9 before the max.
                    let pen = b.with_const(Prim::Sub, mask, ONE)?;
                    let pen = b.with_const(Prim::Mul, pen, 1e9f32.to_bits())?;
                    let xm = b.binary(Prim::Mul, x, mask)?;
                    let xm = b.binary(Prim::Add, xm, pen)?;
                    b.op(
                        Op::Reduce {
                            prim: Prim::Max,
                            axis: 0,
                        },
                        &[xm],
                    )?
                }
                Pooling::Mean | Pooling::MeanSqrtLen => {
                    let xm = b.binary(Prim::Mul, x, mask)?;
                    let sum = b.op(
                        Op::Reduce {
                            prim: Prim::Add,
                            axis: 0,
                        },
                        &[xm],
                    )?;
                    let count = b.op(
                        Op::Reduce {
                            prim: Prim::Add,
                            axis: 0,
                        },
                        &[mask],
                    )?;
                    let count = if pooling == Pooling::Mean {
                        // sentence-transformers clamps the count at 1e-9.
                        b.with_const(Prim::Max, count, 1e-9f32.to_bits())?
                    } else {
                        b.map(MapFn::Prim(Prim::Sqrt), &[count])?
                    };
                    b.binary(Prim::Div, sum, count)?
                }
            };
            if !normalize {
                return Ok(pooled);
            }
            // torch.nn.functional.normalize: x / max(||x||, 1e-12).
            let sq = b.binary(Prim::Mul, pooled, pooled)?;
            let ss = b.reduce_last(Prim::Add, sq)?;
            let norm = b.map(MapFn::Prim(Prim::Sqrt), &[ss])?;
            let norm = b.with_const(Prim::Max, norm, 1e-12f32.to_bits())?;
            b.binary(Prim::Div, pooled, norm)
        })?;
        m.b.output(out)?;
        m.finish()
    }

    fn layer_norm_weights(
        &self,
        m: &mut ModelBuilder,
        prefix: &str,
        h: usize,
    ) -> Result<(TensorId, TensorId)> {
        let (g, b) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
        Ok((
            m.weight(&g, self.weight(&g, &[h])?)?,
            m.weight(&b, self.weight(&b, &[h])?)?,
        ))
    }

    /// The program inputs for token `ids` in a program of `seq_len` tokens
    /// (padded with the config's pad id and mask 0).
    pub fn inputs(&self, ids: &[u32], seq_len: usize) -> Result<Vec<Tensor>> {
        if ids.is_empty() || ids.len() > seq_len {
            return Err(Error::Input(format!(
                "{} tokens do not fit a program of {seq_len}; tokenize with at most {seq_len} tokens",
                ids.len()
            )));
        }
        let vocab = self.st.config.vocab_size;
        if let Some(bad) = ids.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let mut padded: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
        padded.resize(seq_len, self.st.config.pad_token_id as i32);
        let mask: Vec<f32> = (0..seq_len)
            .map(|i| if i < ids.len() { 1.0 } else { 0.0 })
            .collect();
        Ok(vec![
            Tensor::i32(&[seq_len], &padded)?,
            Tensor::f32(&[seq_len, 1], &mask)?,
        ])
    }

    /// Embed `text` with `compiled` (a program from [`Encoder::compile`]).
    pub fn embed(
        &self,
        compiled: &Compiled,
        backend: &dyn Backend,
        text: &str,
    ) -> Result<Embedding> {
        let seq_len = program_seq_len(compiled)?;
        let mut ids = self.tokenize(text)?;
        if ids.len() > seq_len {
            tracing::warn!(target: "refute::vm", tokens = ids.len(), seq_len, "input truncated to the program's length");
            // Keep the closing [SEP].
            let sep = ids[ids.len() - 1];
            ids.truncate(seq_len);
            ids[seq_len - 1] = sep;
        }
        let run = compiled.run(backend, &self.inputs(&ids, seq_len)?)?;
        let vector = run
            .outputs
            .first()
            .ok_or_else(|| Error::Input("the program has no output".into()))?
            .words("embedding")?
            .iter()
            .map(|&w| f32::from_bits(w))
            .collect();
        Ok(Embedding { ids, vector, run })
    }
}

/// The sequence length a compiled encoder program takes.
pub fn program_seq_len(compiled: &Compiled) -> Result<usize> {
    let inputs = compiled.program.of_kind(crate::program::TensorKind::Input);
    inputs
        .first()
        .and_then(|&t| compiled.program.tensor(t).shape.first().copied())
        .ok_or_else(|| Error::Input("not an encoder program: it has no input_ids input".into()))
}

/// Whether the encoder reads tensor `name` (the pooler and `position_ids` are unused).
fn is_used(name: &str) -> bool {
    name.starts_with("embeddings.") && name != "embeddings.position_ids"
        || name.starts_with("encoder.")
}
