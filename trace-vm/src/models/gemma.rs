//! The Gemma-3 text decoder from a GGUF file (`general.architecture = gemma3`).
//!
//! Per block: RMSNorm → Q/K/V projections → per-head RMSNorm of Q and K
//! (QK-norm) → RoPE (rotate-half) → grouped-query attention with a causal
//! mask (a 512-token sliding window on local layers) → output projection →
//! RMSNorm → residual; then RMSNorm → GeGLU feed-forward (tanh GELU) →
//! RMSNorm → residual. Embeddings are scaled by `sqrt(hidden)`; the output
//! layer is the (tied) embedding table. Every sixth block is global (RoPE base
//! `rope.freq_base`, no window); the others are local (RoPE base 10 000).
//! GGUF stores Gemma's RMSNorm weights with the `+1` already added.
//!
//! Quantized weights are declared as stored and read in place: the `matmul`
//! (and the embedding `gather`) that reads one dequantizes each element it
//! uses (SPEC 6.3.1, 6.3.6), so the model commitment covers the file's
//! blocks, the program says how they become numbers, and no F32 copy of a
//! weight is ever made (the tied output head alone would be 671 MB).
//!
//! A generation of N tokens from a prompt of P tokens is one program: one
//! step over the P prompt tokens, then N - 1 steps of one token each, every
//! step a layer for the embedding, one per block and one for the output
//! (whose `argmax` or seeded `sample` feeds the next step's embedding). The
//! K/V caches are ordinary tensors carried in the boundary states.

use std::path::{Path, PathBuf};

use crate::arith::Prim;
use crate::backend::Backend;
use crate::commit::DType;
use crate::exec;
use crate::format::TensorSource;
use crate::format::gguf::GgufFile;
use crate::ops::{MapFn, Op};
use crate::program::nn::{AttentionCfg, rope_tables};
use crate::tensor::{Tensor, TensorId, vm_dtype};

use super::spm::SpmTokenizer;
use super::{Compiled, Error, ModelBuilder, Result};

/// Most positions (prompt + generated tokens) a program may span; the RoPE
/// tables (model weights) are this long.
pub const MAX_POSITIONS: usize = 2048;

/// RoPE base of the local (sliding-window) layers; GGUF does not store it.
const ROPE_BASE_LOCAL: f64 = 10_000.0;

/// Every `SWA_PATTERN`-th block is global; GGUF does not store the pattern.
const SWA_PATTERN: usize = 6;

/// Gemma-3 hyper-parameters read from the GGUF metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmaConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Residual stream width.
    pub hidden: usize,
    /// Transformer blocks.
    pub blocks: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Head dimension.
    pub head_dim: usize,
    /// Feed-forward width.
    pub ffn: usize,
    /// RMSNorm epsilon.
    pub eps: f32,
    /// Sliding window of the local blocks.
    pub window: usize,
    /// RoPE base of the global blocks.
    pub rope_global: f64,
    /// Trained context length.
    pub context: usize,
}

impl GemmaConfig {
    /// Whether block `l` attends globally (no window, the global RoPE base).
    pub fn is_global(&self, l: usize) -> bool {
        (l + 1).is_multiple_of(SWA_PATTERN)
    }
}

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The first maximum of the logits.
    Greedy,
    /// A seeded draw from `softmax(logits / temperature)`.
    Seeded {
        /// The claim's seed.
        seed: u64,
        /// Temperature (> 0).
        temperature: f32,
    },
}

/// What a decoder program computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task {
    /// Generate `new_tokens` tokens after a prompt of `prompt_len` tokens.
    Generate {
        /// Prompt tokens (with `<bos>`).
        prompt_len: usize,
        /// Tokens to generate (≥ 1).
        new_tokens: usize,
        /// Token choice.
        sampling: Sampling,
    },
    /// The next-token logits `[len, vocab]` at every position of a `len`-token input.
    Score {
        /// Input tokens.
        len: usize,
    },
}

/// A loaded Gemma-3 model.
#[derive(Debug)]
pub struct Decoder {
    file: GgufFile,
    config: GemmaConfig,
    tokenizer: SpmTokenizer,
}

/// The result of a generation.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// The generated token ids (all of them, past an end-of-sequence token too).
    pub ids: Vec<u32>,
    /// The generated text, up to the first end-of-sequence token.
    pub text: String,
    /// The VM run.
    pub run: exec::Run,
}

/// Weight ids of one block.
struct Block {
    attn_norm: TensorId,
    q: TensorId,
    k: TensorId,
    v: TensorId,
    q_norm: TensorId,
    k_norm: TensorId,
    o: TensorId,
    post_attn_norm: TensorId,
    ffn_norm: TensorId,
    gate: TensorId,
    up: TensorId,
    down: TensorId,
    post_ffn_norm: TensorId,
}

/// Weight ids of the whole model.
struct Weights {
    embed: TensorId,
    blocks: Vec<Block>,
    out_norm: TensorId,
    /// (cos, signed sin) for local and for global blocks.
    rope_local: (TensorId, TensorId),
    rope_global: (TensorId, TensorId),
}

impl Decoder {
    /// Open a GGUF file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let file = GgufFile::open(path.as_ref())?;
        let arch = file.architecture()?;
        if arch != "gemma3" {
            return Err(Error::Unsupported {
                path: path.as_ref().to_path_buf(),
                detail: format!(
                    "general.architecture is `{arch}`; Refute's GGUF decoder runs `gemma3`"
                ),
            });
        }
        let md = file.metadata();
        let u = |k: &str| -> Result<usize> { Ok(md.uint(&format!("gemma3.{k}"))? as usize) };
        let tokenizer = SpmTokenizer::from_gguf(path.as_ref(), md)?;
        let config = GemmaConfig {
            vocab: tokenizer.len(),
            hidden: u("embedding_length")?,
            blocks: u("block_count")?,
            heads: u("attention.head_count")?,
            kv_heads: u("attention.head_count_kv")?,
            head_dim: u("attention.key_length")?,
            ffn: u("feed_forward_length")?,
            eps: md.float("gemma3.attention.layer_norm_rms_epsilon")?,
            window: u("attention.sliding_window")?,
            rope_global: f64::from(md.float("gemma3.rope.freq_base")?),
            context: u("context_length")?,
        };
        let bad = |detail: String| Error::Unsupported {
            path: path.as_ref().to_path_buf(),
            detail,
        };
        if config.kv_heads == 0
            || !config.heads.is_multiple_of(config.kv_heads)
            || !config.head_dim.is_multiple_of(2)
        {
            return Err(bad(format!(
                "{} query heads over {} KV heads of dimension {}: heads must be a multiple of KV heads and the dimension even",
                config.heads, config.kv_heads, config.head_dim
            )));
        }
        if u("attention.value_length")? != config.head_dim {
            return Err(bad(
                "attention.value_length differs from key_length; Refute needs them equal".into(),
            ));
        }
        Ok(Decoder {
            file,
            config,
            tokenizer,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &GemmaConfig {
        &self.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &SpmTokenizer {
        &self.tokenizer
    }

    /// The GGUF file.
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// A description such as `gemma3 decoder (18 blocks, hidden 640, …)`.
    pub fn architecture(&self) -> String {
        let c = &self.config;
        format!(
            "gemma3 decoder ({} blocks, hidden {}, {} heads / {} KV heads of {}, ffn {} GeGLU, window {}, vocab {})",
            c.blocks, c.hidden, c.heads, c.kv_heads, c.head_dim, c.ffn, c.window, c.vocab
        )
    }

    /// Elements of the weight tensors in the file.
    pub fn parameters(&self) -> usize {
        self.file.tensors().iter().map(|t| t.element_count()).sum()
    }

    /// The canonical program (a one-token prompt, one greedy token); its
    /// commitment is the model's.
    pub fn canonical(&self) -> Result<Compiled> {
        self.compile(Task::Generate {
            prompt_len: 1,
            new_tokens: 1,
            sampling: Sampling::Greedy,
        })
    }

    fn origin(&self) -> PathBuf {
        self.file.origin().to_path_buf()
    }

    fn weight(
        &self,
        m: &mut ModelBuilder,
        name: &str,
        shape: &[usize],
        quantized: bool,
    ) -> Result<TensorId> {
        let view = self.file.tensor(name)?;
        let dtype = vm_dtype(view.dtype);
        let ok_dtype = match dtype {
            Some(DType::F32) => true,
            Some(d) => quantized && crate::ops::quant::supported(d),
            None => false,
        };
        if !ok_dtype || view.shape != shape {
            return Err(Error::Tensor {
                path: self.origin(),
                tensor: name.to_string(),
                want: format!(
                    "{}{shape:?}",
                    if quantized {
                        "F32, Q4_0, Q5_0, Q8_0, Q4_K or Q6_K "
                    } else {
                        "F32"
                    }
                ),
                got: format!("{}{:?}", view.dtype, view.shape),
            });
        }
        m.weight(name, Tensor::from_view(&view)?)
    }

    fn declare_weights(&self, m: &mut ModelBuilder) -> Result<Weights> {
        let c = &self.config;
        let (h, hd) = (c.hidden, c.head_dim);
        let embed = self.weight(m, "token_embd.weight", &[c.vocab, h], true)?;
        let mut blocks = Vec::with_capacity(c.blocks);
        for l in 0..c.blocks {
            let mut w = |name: &str, shape: &[usize], q: bool| {
                self.weight(m, &format!("blk.{l}.{name}.weight"), shape, q)
            };
            blocks.push(Block {
                attn_norm: w("attn_norm", &[h], false)?,
                q: w("attn_q", &[c.heads * hd, h], true)?,
                k: w("attn_k", &[c.kv_heads * hd, h], true)?,
                v: w("attn_v", &[c.kv_heads * hd, h], true)?,
                q_norm: w("attn_q_norm", &[hd], false)?,
                k_norm: w("attn_k_norm", &[hd], false)?,
                o: w("attn_output", &[h, c.heads * hd], true)?,
                post_attn_norm: w("post_attention_norm", &[h], false)?,
                ffn_norm: w("ffn_norm", &[h], false)?,
                gate: w("ffn_gate", &[c.ffn, h], true)?,
                up: w("ffn_up", &[c.ffn, h], true)?,
                down: w("ffn_down", &[h, c.ffn], true)?,
                post_ffn_norm: w("post_ffw_norm", &[h], false)?,
            });
        }
        let out_norm = self.weight(m, "output_norm.weight", &[h], false)?;
        let positions = MAX_POSITIONS.min(c.context);
        let mut rope = |name: &str, base: f64| -> Result<(TensorId, TensorId)> {
            let (cos, sin) = rope_tables(hd, positions, base)?;
            Ok((
                m.weight(&format!("rope.{name}.cos"), cos)?,
                m.weight(&format!("rope.{name}.sin"), sin)?,
            ))
        };
        let rope_local = rope("local", ROPE_BASE_LOCAL)?;
        let rope_global = rope("global", c.rope_global)?;
        Ok(Weights {
            embed,
            blocks,
            out_norm,
            rope_local,
            rope_global,
        })
    }

    /// Compile the decoder for `task`.
    pub fn compile(&self, task: Task) -> Result<Compiled> {
        let c = &self.config;
        let (first_len, steps) = match task {
            Task::Generate {
                prompt_len,
                new_tokens,
                sampling,
            } => {
                if new_tokens == 0 {
                    return Err(Error::Input("generate at least one token".into()));
                }
                if let Sampling::Seeded { temperature, .. } = sampling
                    && !(temperature > 0.0 && temperature.is_finite())
                {
                    return Err(Error::Input(format!(
                        "temperature {temperature} must be positive and finite"
                    )));
                }
                (prompt_len, new_tokens)
            }
            Task::Score { len } => (len, 1),
        };
        let positions = MAX_POSITIONS.min(c.context);
        if first_len == 0 || first_len + steps - 1 > positions {
            return Err(Error::Input(format!(
                "a prompt of {first_len} tokens and {steps} generated tokens must span between 1 and {positions} positions; shorten the prompt or --max-tokens"
            )));
        }
        let mut m = ModelBuilder::default();
        let mut ids = m.b.input("prompt_ids", DType::I32, &[first_len])?;
        let w = self.declare_weights(&mut m)?;
        let mut caches: Vec<Option<(TensorId, TensorId)>> = vec![None; c.blocks];
        let mut offset = 0;
        for s in 0..steps {
            let t = if s == 0 { first_len } else { 1 };
            let embed_scale = ((c.hidden as f64).sqrt() as f32).to_bits();
            let mut x = m.b.layer(&format!("step{s}.embed"), |b| {
                // Later steps embed the previous step's choice: [1, 1] -> [1].
                let ids = if s == 0 {
                    ids
                } else {
                    b.op(Op::Reshape { shape: vec![1] }, &[ids])?
                };
                let e = b.embedding(w.embed, ids)?;
                b.with_const(Prim::Mul, e, embed_scale)
            })?;
            for (l, blk) in w.blocks.iter().enumerate() {
                let (out, cache) = m.b.layer(&format!("step{s}.block{l}"), |b| {
                    self.block(b, &w, blk, l, x, caches[l], offset, t)
                })?;
                x = out;
                caches[l] = Some(cache);
            }
            let next = m.b.layer(&format!("step{s}.output"), |b| {
                let hn = b.rms_norm(x, w.out_norm, c.eps)?;
                let hn = match task {
                    Task::Score { .. } => hn,
                    Task::Generate { .. } => b.op(
                        Op::Slice {
                            axis: 0,
                            start: t - 1,
                            len: 1,
                        },
                        &[hn],
                    )?,
                };
                let logits = b.linear(hn, w.embed, None)?;
                match task {
                    Task::Score { .. } => Ok(logits),
                    Task::Generate {
                        sampling: Sampling::Greedy,
                        ..
                    } => b.op(Op::Argmax, &[logits]),
                    Task::Generate {
                        sampling: Sampling::Seeded { seed, temperature },
                        ..
                    } => {
                        let scaled = if temperature == 1.0 {
                            logits
                        } else {
                            b.with_const(Prim::Div, logits, temperature.to_bits())?
                        };
                        let max = b.reduce_last(Prim::Max, scaled)?;
                        let weights = b.map(MapFn::ExpSub, &[scaled, max])?;
                        b.op(
                            Op::Sample {
                                seed,
                                counter: s as u64,
                            },
                            &[weights],
                        )
                    }
                }
            })?;
            m.b.output(next)?;
            offset += t;
            ids = next;
        }
        m.finish()
    }

    /// One transformer block over `t` new tokens at positions `offset..offset + t`.
    #[allow(clippy::too_many_arguments)]
    fn block(
        &self,
        b: &mut crate::program::Builder,
        w: &Weights,
        blk: &Block,
        l: usize,
        x: TensorId,
        past: Option<(TensorId, TensorId)>,
        offset: usize,
        t: usize,
    ) -> crate::Result<(TensorId, (TensorId, TensorId))> {
        let c = &self.config;
        let global = c.is_global(l);
        let h = b.rms_norm(x, blk.attn_norm, c.eps)?;
        let q = b.linear(h, blk.q, None)?;
        let k = b.linear(h, blk.k, None)?;
        let v = b.linear(h, blk.v, None)?;
        let q = b.split_heads(q, c.heads, c.head_dim)?;
        let k = b.split_heads(k, c.kv_heads, c.head_dim)?;
        let v = b.split_heads(v, c.kv_heads, c.head_dim)?;
        let q = b.rms_norm(q, blk.q_norm, c.eps)?;
        let k = b.rms_norm(k, blk.k_norm, c.eps)?;
        let (cos_t, sin_t) = if global { w.rope_global } else { w.rope_local };
        let cos = b.op(
            Op::Slice {
                axis: 0,
                start: offset,
                len: t,
            },
            &[cos_t],
        )?;
        let sin = b.op(
            Op::Slice {
                axis: 0,
                start: offset,
                len: t,
            },
            &[sin_t],
        )?;
        let q = b.rope(q, cos, sin)?;
        let k = b.rope(k, cos, sin)?;
        let mask = b.causal_mask(t, offset + t, offset, if global { 0 } else { c.window })?;
        let cfg = AttentionCfg {
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            scale: ((1.0 / (c.head_dim as f64).sqrt()) as f32).to_bits(),
        };
        let att = b.attention(cfg, q, k, v, past, Some(mask))?;
        let o = b.linear(att.context, blk.o, None)?;
        let o = b.rms_norm(o, blk.post_attn_norm, c.eps)?;
        let x = b.binary(Prim::Add, x, o)?;
        let h = b.rms_norm(x, blk.ffn_norm, c.eps)?;
        let g = b.linear(h, blk.gate, None)?;
        let u = b.linear(h, blk.up, None)?;
        let f = b.map(MapFn::GeGlu, &[g, u])?;
        let f = b.linear(f, blk.down, None)?;
        let f = b.rms_norm(f, blk.post_ffn_norm, c.eps)?;
        let x = b.binary(Prim::Add, x, f)?;
        Ok((x, (att.keys, att.values)))
    }

    /// Check prompt ids against the vocabulary and build the program input.
    pub fn inputs(&self, ids: &[u32]) -> Result<Vec<Tensor>> {
        if let Some(bad) = ids.iter().find(|&&t| t as usize >= self.config.vocab) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.config.vocab
            )));
        }
        let ids: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
        Ok(vec![Tensor::i32(&[ids.len()], &ids)?])
    }

    /// Run a generation program (from [`Task::Generate`] with `prompt_ids.len()` prompt tokens).
    pub fn generate(
        &self,
        compiled: &Compiled,
        backend: &dyn Backend,
        prompt_ids: &[u32],
    ) -> Result<Generation> {
        let run = compiled.run(backend, &self.inputs(prompt_ids)?)?;
        let ids = run
            .outputs
            .iter()
            .map(|t| Ok(t.words("next token")?.first().copied().unwrap_or(0)))
            .collect::<Result<Vec<u32>>>()?;
        let end = ids
            .iter()
            .position(|&t| self.is_end(t))
            .unwrap_or(ids.len());
        let text = self.tokenizer.decode(&ids[..end]);
        Ok(Generation {
            prompt_ids: prompt_ids.to_vec(),
            ids,
            text,
            run,
        })
    }

    /// Whether `id` ends a generation (`<eos>` or `<end_of_turn>`).
    pub fn is_end(&self, id: u32) -> bool {
        id == self.tokenizer.eos || self.tokenizer.piece(id) == Some("<end_of_turn>")
    }

    /// The next-token logits at every position of `ids` (a [`Task::Score`] program).
    pub fn score(
        &self,
        compiled: &Compiled,
        backend: &dyn Backend,
        ids: &[u32],
    ) -> Result<Vec<Vec<f32>>> {
        let run = compiled.run(backend, &self.inputs(ids)?)?;
        let logits = run
            .outputs
            .first()
            .ok_or_else(|| Error::Input("the program has no output".into()))?;
        let v = self.config.vocab;
        Ok(logits
            .words("logits")?
            .chunks(v)
            .map(|r| r.iter().map(|&w| f32::from_bits(w)).collect())
            .collect())
    }

    /// The model file's path.
    pub fn path(&self) -> &Path {
        self.file.origin()
    }
}
