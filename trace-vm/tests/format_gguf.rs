//! GGUF reader: synthetic files covering every value and tensor type, every
//! rejection path, truncations and corruptions (no panics), and the facts of
//! the installed Gemma-3 270M file.

mod format_common;

use proptest::prelude::*;
use trace_vm::format::{
    DType, Error, TensorSource,
    gguf::{Array, GgufFile, Value},
};

/// Writes GGUF v3 images the way llama.cpp's writer lays them out.
struct Builder {
    version: u32,
    kvs: Vec<u8>,
    kv_count: u64,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
    alignment: usize,
}

fn gstr(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

impl Builder {
    fn new() -> Self {
        Self {
            version: 3,
            kvs: Vec::new(),
            kv_count: 0,
            tensors: Vec::new(),
            alignment: 32,
        }
    }

    /// Adds a key with a raw value type and encoded value.
    fn kv(mut self, key: &str, ty: u32, value: &[u8]) -> Self {
        self.kvs.extend(gstr(key));
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(value);
        self.kv_count += 1;
        self
    }

    fn alignment(self, alignment: u32) -> Self {
        let mut b = self.kv("general.alignment", 4, &alignment.to_le_bytes());
        b.alignment = alignment as usize;
        b
    }

    /// Adds a tensor; `dims` innermost first as GGUF stores them.
    fn tensor(mut self, name: &str, dims: &[u64], ggml_type: u32, data: Vec<u8>) -> Self {
        self.tensors
            .push((name.into(), dims.to_vec(), ggml_type, data));
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend(self.kv_count.to_le_bytes());
        out.extend(&self.kvs);
        let mut offset = 0usize;
        let mut offsets = Vec::new();
        for (name, dims, ty, data) in &self.tensors {
            out.extend(gstr(name));
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offsets.push(offset);
            offset = (offset + data.len()).next_multiple_of(self.alignment);
        }
        out.resize(out.len().next_multiple_of(self.alignment), 0);
        let data_start = out.len();
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            out.resize(data_start + off, 0);
            out.extend(data);
        }
        out
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn array(ty: u32, count: u64, elems: &[u8]) -> Vec<u8> {
    let mut out = ty.to_le_bytes().to_vec();
    out.extend(count.to_le_bytes());
    out.extend(elems);
    out
}

/// A file with every metadata value type and every tensor type Gemma uses
/// plus F16 and BF16.
fn sample() -> Builder {
    let strings: Vec<u8> = ["<pad>", "▁the", ""].iter().flat_map(|s| gstr(s)).collect();
    let nested: Vec<u8> = [array(2, 2, &[1, 0, 2, 0]), array(2, 0, &[])].concat();
    Builder::new()
        .kv("general.architecture", 8, &gstr("gemma3"))
        .kv("t.u8", 0, &[200])
        .kv("t.i8", 1, &(-5i8).to_le_bytes())
        .kv("t.u16", 2, &60000u16.to_le_bytes())
        .kv("t.i16", 3, &(-300i16).to_le_bytes())
        .kv("t.u32", 4, &4_000_000_000u32.to_le_bytes())
        .kv("t.i32", 5, &(-7i32).to_le_bytes())
        .kv("t.f32", 6, &1.5f32.to_le_bytes())
        .kv("t.bool", 7, &[1])
        .kv("t.u64", 10, &(1u64 << 40).to_le_bytes())
        .kv("t.i64", 11, &(-(1i64 << 40)).to_le_bytes())
        .kv("t.f64", 12, &0.25f64.to_le_bytes())
        .kv("t.strings", 9, &array(8, 3, &strings))
        .kv(
            "t.f32s",
            9,
            &array(
                6,
                2,
                &[2.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat(),
            ),
        )
        .kv("t.i32s", 9, &array(5, 1, &3i32.to_le_bytes()))
        .kv("t.bools", 9, &array(7, 2, &[0, 1]))
        .kv("t.nested", 9, &array(9, 2, &nested))
        .tensor("f32", &[3, 2], 0, pattern(24, 1))
        .tensor("f16", &[4], 1, pattern(8, 2))
        .tensor("bf16", &[2, 2], 30, pattern(8, 3))
        .tensor("q8_0", &[64, 2], 8, pattern(2 * 2 * 34, 4))
        .tensor("q5_0", &[32], 6, pattern(22, 5))
        .tensor("q4_k", &[256], 12, pattern(144, 6))
        .tensor("q6_k", &[512, 1], 14, pattern(2 * 210, 7))
}

#[test]
fn reads_every_value_type() {
    let file = GgufFile::from_bytes("sample.gguf", sample().build()).unwrap();
    let m = file.metadata();
    assert_eq!(file.version(), 3);
    assert_eq!(file.architecture().unwrap(), "gemma3");
    assert_eq!(m.len(), 17);
    let expect = [
        ("t.u8", Value::U8(200)),
        ("t.i8", Value::I8(-5)),
        ("t.u16", Value::U16(60000)),
        ("t.i16", Value::I16(-300)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-7)),
        ("t.f32", Value::F32(1.5)),
        ("t.bool", Value::Bool(true)),
        ("t.u64", Value::U64(1 << 40)),
        ("t.i64", Value::I64(-(1 << 40))),
        ("t.f64", Value::F64(0.25)),
        (
            "t.strings",
            Value::Array(Array::String(vec![
                "<pad>".into(),
                "▁the".into(),
                String::new(),
            ])),
        ),
        ("t.f32s", Value::Array(Array::F32(vec![2.0, -0.5]))),
        ("t.i32s", Value::Array(Array::I32(vec![3]))),
        ("t.bools", Value::Array(Array::Bool(vec![false, true]))),
        (
            "t.nested",
            Value::Array(Array::Array(vec![
                Array::U16(vec![1, 2]),
                Array::U16(vec![]),
            ])),
        ),
    ];
    for (key, value) in expect {
        assert_eq!(m.get(key), Some(&value), "{key}");
    }
    assert_eq!(m.uint("t.u16").unwrap(), 60000);
    assert_eq!(m.uint("t.u8").unwrap(), 200);
    assert!(m.uint("t.i8").is_err(), "negative integers are not uint");
    assert_eq!(m.float("t.f32").unwrap(), 1.5);
    assert_eq!(m.array("t.strings").unwrap().len(), 3);
    assert_eq!(m.strings("t.strings").unwrap()[1], "▁the");
    assert_eq!(m.f32s("t.f32s").unwrap(), [2.0, -0.5]);
    assert_eq!(m.i32s("t.i32s").unwrap(), [3]);
    let err = m.f32s("t.i32s").unwrap_err().to_string();
    assert!(
        err.contains("expected an array of f32, found an array of i32"),
        "{err}"
    );
    let err = m.string("t.u32").unwrap_err().to_string();
    assert!(
        err.contains("t.u32") && err.contains("expected a string, found u32"),
        "{err}"
    );
    let err = m.uint("gemma3.block_count").unwrap_err().to_string();
    assert!(
        err.contains("gemma3.block_count") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn reads_every_tensor_type_with_reversed_dims() {
    let builder = sample();
    let file = GgufFile::from_bytes("sample.gguf", builder.build()).unwrap();
    let expect: [(&str, DType, &[usize]); 7] = [
        ("f32", DType::F32, &[2, 3]),
        ("f16", DType::F16, &[4]),
        ("bf16", DType::BF16, &[2, 2]),
        ("q8_0", DType::Q8_0, &[2, 64]),
        ("q5_0", DType::Q5_0, &[32]),
        ("q4_k", DType::Q4K, &[256]),
        ("q6_k", DType::Q6K, &[1, 512]),
    ];
    let views = file.tensors();
    assert_eq!(views.len(), expect.len());
    for ((view, (name, dtype, shape)), (_, _, _, data)) in
        views.iter().zip(expect).zip(&builder.tensors)
    {
        assert_eq!((view.name, view.dtype, view.shape), (name, dtype, shape));
        assert_eq!(view.data, data.as_slice(), "{name}: bytes as stored");
        assert_eq!(file.tensor(name).unwrap(), *view);
    }
    for info in file.tensor_infos() {
        assert_eq!((info.offset - file.data_offset()) % 32, 0, "{}", info.name);
    }
    let err = file.tensor("nope").unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { count: 7, .. }),
        "{err}"
    );
}

#[test]
fn honours_general_alignment() {
    let builder = Builder::new()
        .alignment(256)
        .tensor("a", &[3], 0, pattern(12, 1))
        .tensor("b", &[5], 0, pattern(20, 2));
    let file = GgufFile::from_bytes("aligned.gguf", builder.build()).unwrap();
    assert_eq!(file.alignment(), 256);
    assert_eq!(file.data_offset() % 256, 0);
    assert_eq!(
        file.tensor_infos()[1].offset - file.tensor_infos()[0].offset,
        256
    );
    assert_eq!(file.tensor("b").unwrap().data, pattern(20, 2).as_slice());

    for bad in [0u32, 48] {
        let bytes = Builder::new()
            .kv("general.alignment", 4, &bad.to_le_bytes())
            .build();
        let err = GgufFile::from_bytes("bad.gguf", bytes).unwrap_err();
        assert!(
            matches!(&err, Error::Metadata { key, .. } if key == "general.alignment"),
            "{err}"
        );
    }
}

/// Replaces the bytes at `at` in a sample image.
fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut image = sample().build();
    image[at..at + bytes.len()].copy_from_slice(bytes);
    image
}

/// A rejection case: what it is, the image, and the expected kind of error.
type Case = (&'static str, Vec<u8>, fn(&Error) -> bool);

#[test]
fn rejects_with_the_right_error() {
    let cases: Vec<Case> = vec![
        ("bad magic", patched(0, b"GGUG"), |e| {
            matches!(e, Error::Malformed { .. })
        }),
        ("version 1", patched(4, &1u32.to_le_bytes()), |e| {
            matches!(e, Error::Unsupported { .. })
        }),
        ("big-endian", patched(4, &3u32.to_be_bytes()), |e| {
            matches!(e, Error::Unsupported { .. })
        }),
        ("version 9", patched(4, &9u32.to_le_bytes()), |e| {
            matches!(e, Error::Unsupported { .. })
        }),
        ("huge kv count", patched(16, &u64::MAX.to_le_bytes()), |e| {
            matches!(e, Error::Truncated { .. })
        }),
        (
            "huge tensor count",
            patched(8, &(1u64 << 60).to_le_bytes()),
            |e| matches!(e, Error::Truncated { .. }),
        ),
        (
            "unknown value type",
            Builder::new().kv("k", 13, &[0; 8]).build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
        (
            "bool out of range",
            Builder::new().kv("k", 7, &[2]).build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
        (
            "invalid UTF-8",
            Builder::new()
                .kv("k", 8, &[1, 0, 0, 0, 0, 0, 0, 0, 0xff])
                .build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
        (
            "huge array",
            Builder::new()
                .kv("k", 9, &array(6, u64::MAX / 2, &[]))
                .build(),
            |e| matches!(e, Error::Truncated { .. }),
        ),
        (
            "deep nesting",
            Builder::new()
                .kv(
                    "k",
                    9,
                    &(0..8).flat_map(|_| array(9, 1, &[])).collect::<Vec<_>>(),
                )
                .build(),
            |e| matches!(e, Error::Unsupported { .. }),
        ),
        (
            "duplicate key",
            Builder::new().kv("k", 0, &[1]).kv("k", 0, &[2]).build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
        (
            "i-quant tensor",
            Builder::new()
                .tensor("iq", &[256], 20, pattern(136, 0))
                .build(),
            |e| matches!(e, Error::Unsupported { detail, .. } if detail.contains("i-quant")),
        ),
        (
            "unknown tensor type",
            Builder::new().tensor("x", &[4], 99, pattern(16, 0)).build(),
            |e| matches!(e, Error::Unsupported { .. }),
        ),
        (
            "5 dimensions",
            Builder::new()
                .tensor("x", &[1, 1, 1, 1, 1], 0, pattern(4, 0))
                .build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
        (
            "partial quant block",
            Builder::new().tensor("x", &[48], 8, pattern(34, 0)).build(),
            |e| matches!(e, Error::Malformed { at, .. } if at.contains("`x`")),
        ),
        (
            "duplicate tensor",
            Builder::new()
                .tensor("x", &[1], 0, pattern(4, 0))
                .tensor("x", &[1], 0, pattern(4, 0))
                .build(),
            |e| matches!(e, Error::Malformed { .. }),
        ),
    ];
    for (what, bytes, check) in cases {
        let err = GgufFile::from_bytes("case.gguf", bytes).unwrap_err();
        assert!(check(&err), "{what}: unexpected error {err}");
        assert!(
            err.to_string().contains("case.gguf"),
            "{what}: message names the file: {err}"
        );
    }
}

#[test]
fn rejects_misaligned_and_out_of_bounds_tensors() {
    let image = Builder::new().tensor("x", &[8], 0, pattern(32, 0)).build();
    // Header (24 bytes), then the info: name (8 + 1), n_dims, one dim, type.
    let offset_field = 24 + (8 + 1) + 4 + 8 + 4;
    let mut misaligned = image.clone();
    misaligned[offset_field..offset_field + 8].copy_from_slice(&4u64.to_le_bytes());
    let err = GgufFile::from_bytes("m.gguf", misaligned).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { detail, .. } if detail.contains("alignment")),
        "{err}"
    );

    let mut beyond = image.clone();
    beyond[offset_field..offset_field + 8].copy_from_slice(&64u64.to_le_bytes());
    let err = GgufFile::from_bytes("b.gguf", beyond).unwrap_err();
    assert!(
        matches!(&err, Error::Truncated { what, .. } if what.contains("`x`")),
        "{err}"
    );
}

#[test]
fn every_truncation_is_an_error() {
    let image = sample().build();
    for len in 0..image.len() {
        let result = GgufFile::from_bytes("t.gguf", image[..len].to_vec());
        assert!(
            result.is_err(),
            "a {len}-byte prefix of {} parsed",
            image.len()
        );
    }
}

proptest! {
    #[test]
    fn corrupted_images_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut image = sample().build();
        for (at, byte) in flips {
            let i = at.index(image.len());
            image[i] = byte;
        }
        if let Ok(file) = GgufFile::from_bytes("c.gguf", image) {
            for view in file.tensors() {
                prop_assert_eq!(Some(view.data.len()), view.dtype.byte_len(view.shape));
            }
        }
    }

    #[test]
    fn random_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut image = b"GGUF\x03\0\0\0".to_vec();
        image.extend(body);
        let _ = GgufFile::from_bytes("r.gguf", image);
    }
}

/// The installed Gemma-3 270M Q4_K_M file.
fn gemma() -> Option<GgufFile> {
    let path = format_common::installed("gemma3-270m/model.gguf")?;
    let started = std::time::Instant::now();
    let file = GgufFile::open(&path).expect("installed Gemma parses");
    eprintln!("parsed {} in {:?}", path.display(), started.elapsed());
    Some(file)
}

#[test]
fn gemma_facts() {
    let Some(file) = gemma() else { return };
    let m = file.metadata();
    assert_eq!(file.version(), 3);
    assert_eq!(file.architecture().unwrap(), "gemma3");
    assert_eq!(m.uint("gemma3.block_count").unwrap(), 18);
    assert_eq!(m.uint("gemma3.embedding_length").unwrap(), 640);
    assert_eq!(m.uint("gemma3.feed_forward_length").unwrap(), 2048);
    assert_eq!(m.uint("gemma3.attention.head_count").unwrap(), 4);
    assert_eq!(m.uint("gemma3.attention.head_count_kv").unwrap(), 1);
    assert_eq!(m.uint("gemma3.attention.key_length").unwrap(), 256);
    assert_eq!(m.uint("gemma3.attention.sliding_window").unwrap(), 512);
    assert_eq!(m.float("gemma3.rope.freq_base").unwrap(), 1e6);
    assert_eq!(m.string("tokenizer.ggml.model").unwrap(), "llama");
    let tokens = m.strings("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 262_144);
    assert_eq!(tokens[2], "<bos>");
    assert_eq!(m.f32s("tokenizer.ggml.scores").unwrap().len(), 262_144);
    assert_eq!(m.i32s("tokenizer.ggml.token_type").unwrap().len(), 262_144);
    assert_eq!(m.uint("tokenizer.ggml.bos_token_id").unwrap(), 2);

    assert_eq!(file.alignment(), 32);
    let infos = file.tensor_infos();
    assert_eq!(infos.len(), 2 + 18 * 13);
    let embd = file.tensor("token_embd.weight").unwrap();
    assert_eq!((embd.dtype, embd.shape), (DType::Q8_0, &[262_144, 640][..]));
    assert_eq!(embd.data.len(), 262_144 * 640 / 32 * 34);
    let norm = file.tensor("blk.0.attn_q_norm.weight").unwrap();
    assert_eq!((norm.dtype, norm.shape), (DType::F32, &[256][..]));
    for dtype in [DType::Q5_0, DType::Q4K, DType::Q6K, DType::F32] {
        assert!(infos.iter().any(|t| t.dtype == dtype), "no {dtype} tensor");
    }
    // The tensors tile the data section: the last one ends at the file's end.
    let last = infos.iter().max_by_key(|t| t.offset).unwrap();
    assert_eq!(last.offset + last.byte_len, file.file_len());
}

/// The header of the installed Gemma file (everything before tensor data).
fn gemma_header() -> Option<Vec<u8>> {
    let file = gemma()?;
    let path = format_common::installed("gemma3-270m/model.gguf")?;
    let bytes = std::fs::read(path).expect("installed Gemma is readable");
    Some(bytes[..file.data_offset()].to_vec())
}

#[test]
fn truncated_and_corrupted_gemma_headers_fail_cleanly() {
    let Some(header) = gemma_header() else { return };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&(0..header.len()), |len| {
            // The header alone lacks the tensor data, so every prefix fails.
            prop_assert!(
                GgufFile::from_bytes("gemma-prefix.gguf", header[..len].to_vec()).is_err()
            );
            Ok(())
        })
        .unwrap();
    runner
        .run(
            &prop::collection::vec((0..header.len(), any::<u8>()), 1..16),
            |flips| {
                let mut image = header.clone();
                for (at, byte) in flips {
                    image[at] = byte;
                }
                // A flip can make a valid file (e.g. a tensor count of 0), but
                // never one whose views leave the image.
                if let Ok(file) = GgufFile::from_bytes("gemma-corrupt.gguf", image) {
                    for view in file.tensors() {
                        prop_assert_eq!(Some(view.data.len()), view.dtype.byte_len(view.shape));
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
