//! Programs end to end: fast and reference backends give bit-identical trace
//! roots (also on random programs), single-layer and single-op re-execution
//! reproduce the full run, KV-cache decoding equals a longer prefill bit for
//! bit, memory does not grow with depth, and the program hash binds the ops.

// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Rng, edge, quant};
use proptest::prelude::*;
use trace_vm::arith::{Fast, Prim, Reference};
use trace_vm::backend::Cpu;
use trace_vm::commit::{DType, bound, merkle_root};
use trace_vm::exec::{self, State};
use trace_vm::program::nn::{AttentionCfg, rope_tables};
use trace_vm::program::{Builder, Program, TensorKind};
use trace_vm::tensor::{Tensor, TensorId};

fn rand_tensor(r: &mut Rng, shape: &[usize], scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (r.u32() as i32 as f32) * 2f32.powi(-31) * scale)
        .collect();
    Tensor::f32(shape, &v).unwrap()
}

/// Random weights for every weight of `p`, in declaration order.
fn weights_for(p: &Program, r: &mut Rng, override_: &[(TensorId, Tensor)]) -> Vec<Tensor> {
    p.of_kind(TensorKind::Weight)
        .into_iter()
        .map(|id| {
            if let Some((_, t)) = override_.iter().find(|(i, _)| *i == id) {
                return t.clone();
            }
            let d = p.tensor(id);
            let fan_in = *d.shape.last().unwrap_or(&1) as f32;
            rand_tensor(r, &d.shape, 1.0 / fan_in.sqrt())
        })
        .collect()
}

fn mlp(batch: usize, widths: &[usize]) -> Program {
    let mut b = Builder::new();
    let mut x = b.input("x", DType::F32, &[batch, widths[0]]).unwrap();
    for (l, w) in widths.windows(2).enumerate() {
        let wt = b
            .weight(&format!("w{l}"), DType::F32, &[w[1], w[0]])
            .unwrap();
        let bias = b.weight(&format!("b{l}"), DType::F32, &[w[1]]).unwrap();
        x = b
            .layer(&format!("fc{l}"), |b| {
                let y = b.linear(x, wt, Some(bias))?;
                if l + 2 < widths.len() {
                    b.gelu_erf(y)
                } else {
                    Ok(y)
                }
            })
            .unwrap();
    }
    b.output(x).unwrap();
    b.finish().unwrap()
}

/// Residual MLP of `depth` layers of equal width (for the memory test).
fn deep(depth: usize, batch: usize, width: usize) -> Program {
    let mut b = Builder::new();
    let mut x = b.input("x", DType::F32, &[batch, width]).unwrap();
    for l in 0..depth {
        let w = b
            .weight(&format!("w{l}"), DType::F32, &[width, width])
            .unwrap();
        let g = b.weight(&format!("g{l}"), DType::F32, &[width]).unwrap();
        x = b
            .layer(&format!("block{l}"), |b| {
                let h = b.rms_norm(x, g, 1e-6)?;
                let h = b.linear(h, w, None)?;
                let h = b.silu(h)?;
                b.binary(Prim::Add, x, h)
            })
            .unwrap();
    }
    b.output(x).unwrap();
    b.finish().unwrap()
}

#[derive(Clone, Copy)]
struct Tiny {
    vocab: usize,
    dim: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ffn: usize,
    layers: usize,
    window: usize,
}

const TINY: Tiny = Tiny {
    vocab: 37,
    dim: 16,
    heads: 4,
    kv_heads: 2,
    head_dim: 8,
    ffn: 24,
    layers: 2,
    window: 0,
};
const MAX_POS: usize = 16;

/// A Gemma-style decoder: passes of `tokens` tokens each (the first a
/// prefill, later ones decode with the KV cache of the earlier ones).
/// Weights are declared in the same order whatever the passes.
fn decoder(cfg: Tiny, passes: &[usize]) -> Program {
    let mut b = Builder::new();
    let emb = b.weight("emb", DType::F32, &[cfg.vocab, cfg.dim]).unwrap();
    let cos_t = b
        .weight("rope_cos", DType::F32, &[MAX_POS, cfg.head_dim])
        .unwrap();
    let sin_t = b
        .weight("rope_sin", DType::F32, &[MAX_POS, cfg.head_dim])
        .unwrap();
    let qd = cfg.heads * cfg.head_dim;
    let kvd = cfg.kv_heads * cfg.head_dim;
    let mut lw = Vec::new();
    for l in 0..cfg.layers {
        let w = |b: &mut Builder, n: &str, s: &[usize]| {
            b.weight(&format!("l{l}.{n}"), DType::F32, s).unwrap()
        };
        lw.push([
            w(&mut b, "ln1", &[cfg.dim]),
            w(&mut b, "wq", &[qd, cfg.dim]),
            w(&mut b, "wk", &[kvd, cfg.dim]),
            w(&mut b, "wv", &[kvd, cfg.dim]),
            w(&mut b, "wo", &[cfg.dim, qd]),
            w(&mut b, "ln2", &[cfg.dim]),
            w(&mut b, "gate", &[cfg.ffn, cfg.dim]),
            w(&mut b, "up", &[cfg.ffn, cfg.dim]),
            w(&mut b, "down", &[cfg.dim, cfg.ffn]),
        ]);
    }
    let lnf = b.weight("lnf", DType::F32, &[cfg.dim]).unwrap();
    let attn = AttentionCfg {
        heads: cfg.heads,
        kv_heads: cfg.kv_heads,
        head_dim: cfg.head_dim,
        scale: (1.0 / (cfg.head_dim as f32).sqrt()).to_bits(),
    };
    let mut cache: Vec<Option<(TensorId, TensorId)>> = vec![None; cfg.layers];
    let mut offset = 0;
    for (p, &t) in passes.iter().enumerate() {
        let ids = b.input(&format!("ids{p}"), DType::I32, &[t]).unwrap();
        let pos = b.input(&format!("pos{p}"), DType::I32, &[t]).unwrap();
        let (mut x, cos, sin, mask) = b
            .layer(&format!("embed{p}"), |b| {
                let x = b.embedding(emb, ids)?;
                let cos = b.embedding(cos_t, pos)?;
                let sin = b.embedding(sin_t, pos)?;
                let mask = b.causal_mask(t, offset + t, offset, cfg.window)?;
                Ok((x, cos, sin, mask))
            })
            .unwrap();
        for (l, w) in lw.iter().enumerate() {
            let past = cache[l];
            let (nx, kv) = b
                .layer(&format!("pass{p}.block{l}"), |b| {
                    let h = b.rms_norm(x, w[0], 1e-6)?;
                    let q = b.linear(h, w[1], None)?;
                    let q = b.split_heads(q, cfg.heads, cfg.head_dim)?;
                    let q = b.rope(q, cos, sin)?;
                    let k = b.linear(h, w[2], None)?;
                    let k = b.split_heads(k, cfg.kv_heads, cfg.head_dim)?;
                    let k = b.rope(k, cos, sin)?;
                    let v = b.linear(h, w[3], None)?;
                    let v = b.split_heads(v, cfg.kv_heads, cfg.head_dim)?;
                    let a = b.attention(attn, q, k, v, past, Some(mask))?;
                    let o = b.linear(a.context, w[4], None)?;
                    let x = b.binary(Prim::Add, x, o)?;
                    let h = b.rms_norm(x, w[5], 1e-6)?;
                    let f = b.geglu_ffn(h, w[6], w[7], w[8])?;
                    Ok((b.binary(Prim::Add, x, f)?, (a.keys, a.values)))
                })
                .unwrap();
            x = nx;
            cache[l] = Some(kv);
        }
        let (logits, next) = b
            .layer(&format!("head{p}"), |b| {
                let h = b.rms_norm(x, lnf, 1e-6)?;
                let logits = b.linear(h, emb, None)?;
                let next = b.op(trace_vm::ops::Op::Argmax, &[logits])?;
                Ok((logits, next))
            })
            .unwrap();
        b.output(logits).unwrap();
        b.output(next).unwrap();
        offset += t;
    }
    b.finish().unwrap()
}

fn decoder_weights(p: &Program, seed: u64) -> Vec<Tensor> {
    let (cos, sin) = rope_tables(TINY.head_dim, MAX_POS, 10_000.0).unwrap();
    let ids = p.of_kind(TensorKind::Weight);
    weights_for(p, &mut Rng(seed), &[(ids[1], cos), (ids[2], sin)])
}

fn token_inputs(tokens: &[i32], passes: &[usize]) -> Vec<Tensor> {
    let mut v = Vec::new();
    let mut at = 0;
    for &t in passes {
        v.push(Tensor::i32(&[t], &tokens[at..at + t]).unwrap());
        v.push(Tensor::i32(&[t], &(at as i32..(at + t) as i32).collect::<Vec<_>>()).unwrap());
        at += t;
    }
    v
}

fn fast() -> Cpu<Fast> {
    Cpu::new(Fast)
}

fn reference() -> Cpu<Reference> {
    Cpu::new(Reference)
}

#[test]
fn mlp_fast_equals_reference_and_f64() {
    let p = mlp(3, &[10, 17, 4]);
    let mut r = Rng(21);
    let w = weights_for(&p, &mut r, &[]);
    let x = rand_tensor(&mut r, &[3, 10], 2.0);
    let a = exec::run(&p, &fast(), &w, std::slice::from_ref(&x)).unwrap();
    let b = exec::run(&p, &reference(), &w, std::slice::from_ref(&x)).unwrap();
    assert_eq!(a.trace_root, b.trace_root);
    assert_eq!(a.state_roots, b.state_roots);
    assert_eq!(a.outputs, b.outputs);
    assert_eq!(a.state_roots.len(), 3);
    assert_eq!(a.trace_root, merkle_root(&a.state_roots));
    // Against an f64 evaluation of the same network.
    let f = |t: &Tensor| {
        t.words("t")
            .unwrap()
            .iter()
            .map(|&w| f32::from_bits(w) as f64)
            .collect::<Vec<_>>()
    };
    let (xv, w0, b0, w1, b1) = (f(&x), f(&w[0]), f(&w[1]), f(&w[2]), f(&w[3]));
    let erf = |v: f64| libm::erf(v);
    for i in 0..3 {
        let h: Vec<f64> = (0..17)
            .map(|j| {
                let s: f64 = (0..10)
                    .map(|k| xv[i * 10 + k] * w0[j * 10 + k])
                    .sum::<f64>()
                    + b0[j];
                0.5 * s * (1.0 + erf(s / 2f64.sqrt()))
            })
            .collect();
        for o in 0..4 {
            let want: f64 = (0..17).map(|j| h[j] * w1[o * 17 + j]).sum::<f64>() + b1[o];
            let got = f32::from_bits(a.outputs[0].words("y").unwrap()[i * 4 + o]) as f64;
            assert!(
                (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                "y[{i},{o}] = {got}, f64 gives {want}"
            );
        }
    }
}

#[test]
fn quantized_linears_fast_equals_reference() {
    // Two linears reading their weights as stored (every supported dtype),
    // one layer each: the fast and reference runs commit to the same trace,
    // and every layer re-executes alone to the same state.
    for (seed, dtype) in [
        DType::Q4_0,
        DType::Q5_0,
        DType::Q8_0,
        DType::Q4K,
        DType::Q6K,
    ]
    .into_iter()
    .enumerate()
    {
        let k = dtype.block().0 as usize;
        let mut b = Builder::new();
        let x = b.input("x", DType::F32, &[3, k]).unwrap();
        let w0 = b.weight("w0", dtype, &[k, k]).unwrap();
        let w1 = b.weight("w1", dtype, &[5, k]).unwrap();
        let h = b
            .layer("fc0", |b| {
                let y = b.linear(x, w0, None)?;
                b.gelu_tanh(y)
            })
            .unwrap();
        let y = b.layer("fc1", |b| b.linear(h, w1, None)).unwrap();
        b.output(y).unwrap();
        let p = b.finish().unwrap();
        let mut r = Rng(seed as u64);
        let w = vec![quant(&mut r, dtype, &[k, k]), quant(&mut r, dtype, &[5, k])];
        let x = rand_tensor(&mut r, &[3, k], 2.0);
        let a = exec::run(&p, &fast(), &w, std::slice::from_ref(&x)).unwrap();
        let b = exec::run(&p, &reference(), &w, std::slice::from_ref(&x)).unwrap();
        assert_eq!(a.trace_root, b.trace_root, "{dtype:?}");
        assert_eq!(a.outputs, b.outputs, "{dtype:?}");
        let mut state = exec::initial_state(&p, std::slice::from_ref(&x)).unwrap();
        for l in 0..p.layers().len() {
            let lr = exec::run_layer(&p, &reference(), &w, &state).unwrap();
            assert_eq!(lr.sub_trace.last().copied(), Some(a.state_roots[l + 1]));
            state = lr.state_out;
        }
    }
}

#[test]
fn decoder_layers_reexecute_from_their_input_state() {
    let passes = [5];
    let p = decoder(TINY, &passes);
    let w = decoder_weights(&p, 22);
    let inputs = token_inputs(&[3, 1, 4, 1, 5], &passes);
    let all: Vec<usize> = (0..p.state_count()).collect();
    let full = exec::run_with(&p, &fast(), &w, &inputs, &all).unwrap();
    let refr = exec::run(&p, &reference(), &w, &inputs).unwrap();
    assert_eq!(
        full.trace_root, refr.trace_root,
        "fast and reference trace roots differ"
    );
    assert_eq!(full.outputs, refr.outputs);

    // The mask and the gathered RoPE rows are read by every block, so they cross layer boundaries.
    assert_eq!(p.state(2).len(), 4, "state 2 holds {:?}", p.state(2));

    let mut state = exec::initial_state(&p, &inputs).unwrap();
    assert_eq!(state.root().unwrap(), full.state_roots[0]);
    for l in 0..p.layers().len() {
        assert_eq!(state, full.captured[l]);
        let lr = exec::run_layer(&p, &fast(), &w, &state).unwrap();
        assert_eq!(
            lr.sub_trace[0], full.state_roots[l],
            "layer {l}: first sub-trace entry"
        );
        assert_eq!(
            *lr.sub_trace.last().unwrap(),
            full.state_roots[l + 1],
            "layer {l}: last sub-trace entry"
        );
        assert_eq!(lr.sub_trace.len(), p.layers()[l].ops.len() + 2);
        // The reference backend produces the same sub-trace.
        let lr_ref = exec::run_layer(&p, &reference(), &w, &state).unwrap();
        assert_eq!(lr_ref.sub_trace, lr.sub_trace);
        // The first op of the layer, re-executed alone from the state, gives the sub-trace's second entry.
        let op0 = p.layers()[l].ops.start;
        let node = &p.ops()[op0];
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|t| match p.tensor(*t).kind {
                TensorKind::Weight => {
                    &w[p.of_kind(TensorKind::Weight)
                        .iter()
                        .position(|i| i == t)
                        .unwrap()]
                }
                _ => &state.tensors.iter().find(|(i, _)| i == t).unwrap().1,
            })
            .collect();
        let out = exec::run_op(&p, &fast(), op0, &ins).unwrap();
        let out_id = p.ops()[op0].output;
        assert_eq!(bound(out_id.0, &out.root().unwrap()), lr.sub_trace[1]);
        state = lr.state_out;
    }
    assert_eq!(
        state
            .tensors
            .iter()
            .map(|(_, t)| t.clone())
            .collect::<Vec<_>>(),
        full.outputs
    );
}

#[test]
fn state_roots_of_growing_kv_caches_equal_roots_from_scratch() {
    // One KV head: each pass appends to the caches (their roots continue
    // the previous cache's hashing); two heads: a concat that is no append.
    for kv_heads in [1, 2] {
        let cfg = Tiny { kv_heads, ..TINY };
        let passes = [4, 1, 1, 1];
        let p = decoder(cfg, &passes);
        let w = decoder_weights(&p, 24);
        let inputs = token_inputs(&[3, 1, 4, 1, 5, 9, 2], &passes);
        let all: Vec<usize> = (0..p.state_count()).collect();
        let run = exec::run_with(&p, &fast(), &w, &inputs, &all).unwrap();
        assert_eq!(run.captured.len(), p.state_count());
        for (l, state) in run.captured.iter().enumerate() {
            assert_eq!(
                state.root().unwrap(),
                run.state_roots[l],
                "{kv_heads} KV heads, state {l}"
            );
        }
    }
}

#[test]
fn kv_cache_decode_equals_longer_prefill() {
    for window in [0, 3] {
        let cfg = Tiny { window, ..TINY };
        let tokens = [7, 2, 9, 30, 11, 5];
        let one = decoder(cfg, &[6]);
        let two = decoder(cfg, &[4, 1, 1]);
        let w1 = decoder_weights(&one, 23);
        let w2 = decoder_weights(&two, 23);
        assert_eq!(
            w1, w2,
            "both programs declare the same weights in the same order"
        );
        // The K/V caches of the first pass are read by the next pass, so they are in its states.
        let kv_in_state = two.state(two.layers().len() - 1).len();
        assert!(
            kv_in_state > one.state(one.layers().len() - 1).len(),
            "{kv_in_state}"
        );
        let a = exec::run(&one, &fast(), &w1, &token_inputs(&tokens, &[6])).unwrap();
        let b = exec::run(&two, &fast(), &w2, &token_inputs(&tokens, &[4, 1, 1])).unwrap();
        let la = a.outputs[0].words("logits").unwrap();
        let v = cfg.vocab;
        // pass outputs: logits0 [4, V], next0, logits1 [1, V], next1, logits2 [1, V], next2
        assert_eq!(
            b.outputs[0].words("l0").unwrap(),
            &la[..4 * v],
            "window {window}: prefill rows"
        );
        assert_eq!(
            b.outputs[2].words("l1").unwrap(),
            &la[4 * v..5 * v],
            "window {window}: decode step 1"
        );
        assert_eq!(
            b.outputs[4].words("l2").unwrap(),
            &la[5 * v..],
            "window {window}: decode step 2"
        );
        assert_eq!(
            b.outputs[5].words("n2").unwrap()[0],
            a.outputs[1].words("n").unwrap()[5]
        );
    }
}

#[test]
fn attention_matches_f64_softmax_attention() {
    // One head pair of a grouped-query attention, checked against f64.
    let (t, hd) = (4, 8);
    let mut b = Builder::new();
    let q = b.input("q", DType::F32, &[2, t, hd]).unwrap();
    let k = b.input("k", DType::F32, &[1, t, hd]).unwrap();
    let v = b.input("v", DType::F32, &[1, t, hd]).unwrap();
    let scale = (1.0f32 / (hd as f32).sqrt()).to_bits();
    let out = b
        .layer("attn", |b| {
            let m = b.causal_mask(t, t, 0, 0)?;
            b.attention(
                AttentionCfg {
                    heads: 2,
                    kv_heads: 1,
                    head_dim: hd,
                    scale,
                },
                q,
                k,
                v,
                None,
                Some(m),
            )
        })
        .unwrap();
    b.output(out.context).unwrap();
    let p = b.finish().unwrap();
    let mut r = Rng(24);
    let ins = vec![
        rand_tensor(&mut r, &[2, t, hd], 2.0),
        rand_tensor(&mut r, &[1, t, hd], 2.0),
        rand_tensor(&mut r, &[1, t, hd], 2.0),
    ];
    let run = exec::run(&p, &fast(), &[], &ins).unwrap();
    let f = |x: &Tensor| {
        x.words("t")
            .unwrap()
            .iter()
            .map(|&w| f32::from_bits(w) as f64)
            .collect::<Vec<_>>()
    };
    let (qv, kv, vv) = (f(&ins[0]), f(&ins[1]), f(&ins[2]));
    let got = f(&run.outputs[0]);
    for h in 0..2 {
        for i in 0..t {
            let s: Vec<f64> = (0..=i)
                .map(|j| {
                    (0..hd)
                        .map(|d| qv[(h * t + i) * hd + d] * kv[j * hd + d])
                        .sum::<f64>()
                        / (hd as f64).sqrt()
                })
                .collect();
            let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = s.iter().map(|x| (x - mx).exp()).sum();
            for d in 0..hd {
                let want: f64 = (0..=i)
                    .map(|j| (s[j] - mx).exp() / z * vv[j * hd + d])
                    .sum();
                let g = got[i * 2 * hd + h * hd + d];
                assert!(
                    (g - want).abs() < 1e-5,
                    "head {h} query {i} dim {d}: {g} vs {want}"
                );
            }
        }
    }
}

#[test]
fn layer_norm_and_softmax_match_f64() {
    let mut b = Builder::new();
    let x = b.input("x", DType::F32, &[3, 12]).unwrap();
    let g = b.weight("g", DType::F32, &[12]).unwrap();
    let be = b.weight("b", DType::F32, &[12]).unwrap();
    let (ln, sm) = b
        .layer("l", |b| {
            Ok((b.layer_norm(x, g, be, 1e-5)?, b.softmax(x, None)?))
        })
        .unwrap();
    b.output(ln).unwrap();
    b.output(sm).unwrap();
    let p = b.finish().unwrap();
    let mut r = Rng(25);
    let w = vec![
        rand_tensor(&mut r, &[12], 1.0),
        rand_tensor(&mut r, &[12], 1.0),
    ];
    let xin = rand_tensor(&mut r, &[3, 12], 3.0);
    let run = exec::run(&p, &reference(), &w, std::slice::from_ref(&xin)).unwrap();
    let f = |x: &Tensor| {
        x.words("t")
            .unwrap()
            .iter()
            .map(|&w| f32::from_bits(w) as f64)
            .collect::<Vec<_>>()
    };
    let (xv, gv, bv, lv, sv) = (
        f(&xin),
        f(&w[0]),
        f(&w[1]),
        f(&run.outputs[0]),
        f(&run.outputs[1]),
    );
    for i in 0..3 {
        let row = &xv[i * 12..(i + 1) * 12];
        let mean = row.iter().sum::<f64>() / 12.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 12.0;
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = row.iter().map(|v| (v - mx).exp()).sum();
        for j in 0..12 {
            let want = (row[j] - mean) / (var + 1e-5).sqrt() * gv[j] + bv[j];
            assert!((lv[i * 12 + j] - want).abs() < 1e-5, "layer norm [{i},{j}]");
            let want = (row[j] - mx).exp() / z;
            assert!((sv[i * 12 + j] - want).abs() < 1e-6, "softmax [{i},{j}]");
        }
    }
}

#[test]
fn memory_does_not_grow_with_depth() {
    let (batch, width) = (4, 32);
    let mut peaks = Vec::new();
    for depth in [2, 16] {
        let p = deep(depth, batch, width);
        let mut r = Rng(26);
        let w = weights_for(&p, &mut r, &[]);
        let x = rand_tensor(&mut r, &[batch, width], 1.0);
        let run = exec::run(&p, &fast(), &w, &[x]).unwrap();
        assert_eq!(run.state_roots.len(), depth + 1);
        peaks.push(run.peak_live_bytes);
    }
    assert!(peaks[0] > 0);
    assert_eq!(peaks[0], peaks[1], "peak live bytes for depth 2 and 16");
}

#[test]
fn program_hash_binds_ops_attributes_and_layers() {
    let h = |eps: f32, split: bool| {
        let mut b = Builder::new();
        let x = b.input("x", DType::F32, &[2, 8]).unwrap();
        let g = b.weight("g", DType::F32, &[8]).unwrap();
        let y = if split {
            let y = b.layer("a", |b| b.rms_norm(x, g, eps)).unwrap();
            b.layer("b", |b| b.silu(y)).unwrap()
        } else {
            b.layer("a", |b| {
                let y = b.rms_norm(x, g, eps)?;
                b.silu(y)
            })
            .unwrap()
        };
        b.output(y).unwrap();
        b.finish().unwrap().hash()
    };
    assert_eq!(h(1e-6, true), h(1e-6, true), "the hash is deterministic");
    assert_ne!(h(1e-6, true), h(1e-5, true), "eps is committed");
    assert_ne!(
        h(1e-6, true),
        h(1e-6, false),
        "the layer partition is committed"
    );
    let p = mlp(2, &[3, 4, 5]);
    assert_ne!(p.hash(), mlp(2, &[3, 4, 6]).hash(), "shapes are committed");
    assert_ne!(
        p.hash(),
        mlp(3, &[3, 4, 5]).hash(),
        "the input shape is committed"
    );
    // Each op leaf carries its own descriptor: opcode after index and layer.
    for i in 0..p.ops().len() {
        assert_eq!(p.encode_op(i)[8], p.ops()[i].op.kind().opcode());
    }
}

#[test]
fn bad_programs_and_inputs_are_errors() {
    let mut b = Builder::new();
    let x = b.input("x", DType::F32, &[2, 3]).unwrap();
    let w = b.weight("w", DType::F32, &[4, 5]).unwrap();
    assert!(
        b.linear(x, w, None)
            .unwrap_err()
            .to_string()
            .contains("outside a layer")
    );
    let e = b
        .layer("l", |b| b.linear(x, w, None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("op 0 (matmul)") && e.contains("K=3"), "{e}");
    let e = b
        .layer("l", |b| b.layer("m", |b| b.silu(x)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not nest"), "{e}");
    assert!(b.finish().is_err(), "no layers and no outputs");

    let p = mlp(2, &[3, 4]);
    let mut r = Rng(27);
    let w = weights_for(&p, &mut r, &[]);
    let e = exec::run(&p, &fast(), &w, &[rand_tensor(&mut r, &[2, 4], 1.0)])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"x\"") && e.contains("[2, 3]") && e.contains("[2, 4]"),
        "{e}"
    );
    let e = exec::run(&p, &fast(), &w[..1], &[rand_tensor(&mut r, &[2, 3], 1.0)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 Weight tensors, 1 were given"), "{e}");
    let bad = State {
        index: 0,
        tensors: vec![],
    };
    assert!(
        exec::run_layer(&p, &fast(), &w, &bad)
            .unwrap_err()
            .to_string()
            .contains("must hold")
    );
    let bad = State {
        index: 9,
        tensors: vec![],
    };
    assert!(
        exec::run_layer(&p, &fast(), &w, &bad)
            .unwrap_err()
            .to_string()
            .contains("layer 9 does not exist")
    );

    // A token id outside the vocabulary: the error names the op.
    let p = decoder(TINY, &[2]);
    let w = decoder_weights(&p, 28);
    let inputs = vec![
        Tensor::i32(&[2], &[1, 99]).unwrap(),
        Tensor::i32(&[2], &[0, 1]).unwrap(),
    ];
    let e = exec::run(&p, &fast(), &w, &inputs).unwrap_err().to_string();
    assert!(e.contains("op 0 (gather)") && e.contains("index 99"), "{e}");
}

/// One step of a random program.
#[derive(Clone, Debug)]
enum Step {
    Linear(usize),
    Unary(u8),
    Residual,
    Norm(bool),
    Softmax,
    EndLayer,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1usize..7).prop_map(Step::Linear),
        (0u8..6).prop_map(Step::Unary),
        Just(Step::Residual),
        any::<bool>().prop_map(Step::Norm),
        Just(Step::Softmax),
        Just(Step::EndLayer),
    ]
}

fn random_program(steps: &[Step], rows: usize, width: usize) -> Program {
    let mut b = Builder::new();
    let x0 = b.input("x", DType::F32, &[rows, width]).unwrap();
    let mut groups: Vec<Vec<Step>> = vec![Vec::new()];
    for s in steps {
        match s {
            Step::EndLayer => groups.push(Vec::new()),
            s => groups.last_mut().unwrap().push(s.clone()),
        }
    }
    groups.retain(|g| !g.is_empty());
    if groups.is_empty() {
        groups.push(vec![Step::Unary(0)]);
    }
    let (mut x, mut skip) = (x0, x0);
    let mut n = 0;
    for (l, g) in groups.iter().enumerate() {
        (x, skip) = b
            .layer(&format!("l{l}"), |b| {
                let (mut x, mut skip) = (x, skip);
                for s in g {
                    n += 1;
                    let w = b.shape(x)?[1];
                    x = match s {
                        Step::Linear(o) => {
                            let wt = b.weight(&format!("w{n}"), DType::F32, &[*o, w])?;
                            let bias = b.weight(&format!("b{n}"), DType::F32, &[*o])?;
                            b.linear(x, wt, Some(bias))?
                        }
                        Step::Unary(k) => match k {
                            0 => b.gelu_erf(x)?,
                            1 => b.gelu_tanh(x)?,
                            2 => b.silu(x)?,
                            3 => b.map(
                                trace_vm::ops::MapFn::Func(
                                    trace_vm::arith::transcendental::Func::Tanh,
                                ),
                                &[x],
                            )?,
                            4 => b.with_const(Prim::Mul, x, 0.5f32.to_bits())?,
                            _ => b.binary(Prim::Max, x, x)?,
                        },
                        Step::Residual if b.shape(skip)? == b.shape(x)? => {
                            b.binary(Prim::Add, x, skip)?
                        }
                        Step::Residual => {
                            skip = b.binary(Prim::Add, x, x)?;
                            skip
                        }
                        Step::Norm(layer) => {
                            let g = b.weight(&format!("g{n}"), DType::F32, &[w])?;
                            if *layer {
                                let be = b.weight(&format!("be{n}"), DType::F32, &[w])?;
                                b.layer_norm(x, g, be, 1e-5)?
                            } else {
                                b.rms_norm(x, g, 1e-6)?
                            }
                        }
                        Step::Softmax => b.softmax(x, None)?,
                        Step::EndLayer => x,
                    };
                }
                Ok((x, skip))
            })
            .unwrap();
    }
    b.output(x).unwrap();
    b.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_fast_equals_reference(
        steps in prop::collection::vec(step(), 1..14),
        rows in 1usize..4,
        width in 1usize..10,
        seed in any::<u64>(),
        edges in any::<bool>(),
    ) {
        let p = random_program(&steps, rows, width);
        let mut r = Rng(seed);
        let w = weights_for(&p, &mut r, &[]);
        let x: Vec<u32> = (0..rows * width)
            .map(|_| if edges && r.below(4) == 0 { edge(&mut r) } else { ((r.u32() as i32 as f32) * 2f32.powi(-29)).to_bits() })
            .collect();
        let x = Tensor::f32_bits(&[rows, width], x).unwrap();
        let a = exec::run(&p, &fast(), &w, std::slice::from_ref(&x)).unwrap();
        let b = exec::run(&p, &reference(), &w, std::slice::from_ref(&x)).unwrap();
        prop_assert_eq!(a.trace_root, b.trace_root);
        prop_assert_eq!(&a.state_roots, &b.state_roots);
        // Every layer re-executed alone on the reference backend reproduces the fast run's states.
        let mut state = exec::initial_state(&p, std::slice::from_ref(&x)).unwrap();
        for l in 0..p.layers().len() {
            let lr = exec::run_layer(&p, &reference(), &w, &state).unwrap();
            prop_assert_eq!(lr.sub_trace.last().copied(), Some(a.state_roots[l + 1]));
            state = lr.state_out;
        }
    }
}

/// Every op entry of a decoder program (every op kind but sample and
/// dequant) decodes back to the geometry the op was built with.
#[test]
fn op_entries_decode_to_the_same_sites() {
    use trace_vm::ops::micro::Site;
    use trace_vm::program::decode_op;
    let p = decoder(TINY, &[3, 1]);
    for (i, node) in p.ops().iter().enumerate() {
        let d = decode_op(&p.encode_op(i)).unwrap();
        let descs: Vec<_> = node
            .inputs
            .iter()
            .map(|&t| (p.tensor(t).dtype, p.tensor(t).shape.as_slice()))
            .collect();
        let site = Site::new(&node.op, &descs).unwrap();
        assert_eq!((d.index as usize, d.output.id), (i, node.output.0));
        assert_eq!(d.site.out_shape(), site.out_shape(), "op {i}");
        assert_eq!(d.site.step_count(), site.step_count(), "op {i}");
        let ids: Vec<u32> = d.inputs.iter().map(|t| t.id).collect();
        let want: Vec<u32> = node.inputs.iter().map(|t| t.0).collect();
        assert_eq!(ids, want, "op {i}");
        let mut read = |_: usize, _: u64| Ok(0u32);
        for e in [0, site.out_len() - 1] {
            for s in [0, site.step_count() - 1] {
                assert_eq!(
                    d.site.step(e, s, &mut read).unwrap(),
                    site.step(e, s, &mut read).unwrap(),
                    "op {i} element {e} step {s}"
                );
            }
        }
    }
    let mut entry = p.encode_op(0);
    entry.push(0);
    assert!(decode_op(&entry).is_err(), "trailing bytes are rejected");
    assert!(
        decode_op(&entry[..9]).is_err(),
        "truncated entries are rejected"
    );
}

/// An op entry as bytes (SPEC.md 6.5): op 0 of layer 0, `opcode`, the
/// `(dtype code, shape)` of its inputs then its output, and `attrs`.
fn raw_entry(opcode: u8, tensors: &[(u8, &[u64])], attrs: &[u8]) -> Vec<u8> {
    let mut b = vec![0; 8];
    b.push(opcode);
    b.push(tensors.len() as u8 - 1);
    for (id, (dtype, shape)) in tensors.iter().enumerate() {
        b.extend_from_slice(&(id as u32).to_be_bytes());
        b.extend_from_slice(&[2, *dtype, shape.len() as u8]);
        for d in *shape {
            b.extend_from_slice(&d.to_be_bytes());
        }
    }
    b.extend_from_slice(&(attrs.len() as u32).to_be_bytes());
    b.extend_from_slice(attrs);
    b
}

/// Absurd shapes in an op entry are rejected with an error, never an
/// overflow: a tensor's non-zero dimensions multiply to at most 2^40
/// (the same entries are rejected on chain, contracts/test/OpStepVerifier.t.sol).
#[test]
fn op_entries_with_absurd_shapes_are_rejected() {
    use trace_vm::program::decode_op;
    // map `neg` over one input: one instruction, input 0.
    let neg = [0, 1, 0x09, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let big = 1u64 << 40;
    let ok = raw_entry(0x02, &[(1, &[big]), (1, &[big])], &neg);
    assert!(decode_op(&ok).is_ok(), "2^40 elements are allowed");
    let over = raw_entry(0x02, &[(1, &[big, 2]), (1, &[big, 2])], &neg);
    let err = decode_op(&over).unwrap_err().to_string();
    assert!(err.contains("more than 2^40 elements"), "{err}");
    // A gather whose table rows would be 2^66 elements, hidden behind an
    // empty dimension: without the bound its row length overflows.
    let huge = 1u64 << 33;
    let gather = raw_entry(
        0x06,
        &[
            (1, &[1, huge, huge, 0]),
            (4, &[1]),
            (1, &[1, huge, huge, 0]),
        ],
        &[],
    );
    assert!(decode_op(&gather).is_err());
    // An empty tensor: only its non-zero dimensions count.
    let empty = raw_entry(0x02, &[(1, &[big / 8, 0, 7]), (1, &[big / 8, 0, 7])], &neg);
    assert!(decode_op(&empty).is_ok());
}
