//! GGUF reader (versions 2 and 3, little-endian): header, metadata key/values
//! of every value type, tensor infos and the aligned data section.
//!
//! Layout (ggml's `docs/gguf.md`): magic `GGUF`, u32 version, u64 tensor
//! count, u64 metadata count, the metadata (`key: string, type: u32, value`),
//! the tensor infos (`name, n_dims: u32, dims: u64 × n_dims (innermost first),
//! ggml type: u32, offset: u64`), padding to `general.alignment` (default 32),
//! then the tensor data, each tensor at its offset from the data section.
//!
//! Every count and length is checked against the bytes that remain before
//! anything is allocated, so a corrupt count fails fast instead of exhausting
//! memory. Tensor data is never copied: views borrow the mapped file.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use super::{
    DType, TensorSource, TensorView,
    bytes::FileBytes,
    error::{Error, Format, Result},
};

/// The first four bytes of every GGUF file.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Data-section alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// Metadata key that overrides [`DEFAULT_ALIGNMENT`].
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Metadata key naming the model architecture (`gemma3`, `llama`, …).
pub const ARCHITECTURE_KEY: &str = "general.architecture";
/// ggml tensors have at most this many dimensions.
const MAX_DIMS: usize = 4;
/// Arrays of arrays deeper than this are refused; no real file nests at all,
/// and the bound keeps a hostile file from exhausting the stack.
const MAX_ARRAY_DEPTH: u32 = 4;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// GGUF type 0.
    U8(u8),
    /// GGUF type 1.
    I8(i8),
    /// GGUF type 2.
    U16(u16),
    /// GGUF type 3.
    I16(i16),
    /// GGUF type 4.
    U32(u32),
    /// GGUF type 5.
    I32(i32),
    /// GGUF type 6.
    F32(f32),
    /// GGUF type 7.
    Bool(bool),
    /// GGUF type 8 (UTF-8).
    String(String),
    /// GGUF type 9.
    Array(Array),
    /// GGUF type 10.
    U64(u64),
    /// GGUF type 11.
    I64(i64),
    /// GGUF type 12.
    F64(f64),
}

/// A metadata array: GGUF arrays hold elements of one type.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    /// Of `u8`.
    U8(Vec<u8>),
    /// Of `i8`.
    I8(Vec<i8>),
    /// Of `u16`.
    U16(Vec<u16>),
    /// Of `i16`.
    I16(Vec<i16>),
    /// Of `u32`.
    U32(Vec<u32>),
    /// Of `i32`.
    I32(Vec<i32>),
    /// Of `f32`.
    F32(Vec<f32>),
    /// Of `bool`.
    Bool(Vec<bool>),
    /// Of strings.
    String(Vec<String>),
    /// Of arrays.
    Array(Vec<Array>),
    /// Of `u64`.
    U64(Vec<u64>),
    /// Of `i64`.
    I64(Vec<i64>),
    /// Of `f64`.
    F64(Vec<f64>),
}

impl Value {
    /// The GGUF name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::F32(_) => "f32",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F64(_) => "f64",
        }
    }

    /// The value as an unsigned integer, whatever its integer width, if it is
    /// a non-negative integer (converters differ in the width they write).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::U32(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::String(v) => v.len(),
            Self::Array(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::F64(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The GGUF name of the element type, for messages.
    pub fn element_type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::F32(_) => "f32",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F64(_) => "f64",
        }
    }
}

/// The metadata of one file, in file order, with typed lookups whose errors
/// name the file and the key.
#[derive(Debug, Clone)]
pub struct Metadata {
    path: PathBuf,
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// The value under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// Every entry in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`, or an error saying it is missing.
    pub fn require(&self, key: &str) -> Result<&Value> {
        self.get(key).ok_or_else(|| {
            let detail = "missing from the file; converters for this architecture write it, \
                          so the file is incomplete or for another architecture";
            self.error(key, detail.into())
        })
    }

    /// The string under `key`.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.require(key)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// The non-negative integer under `key`, whatever its stored width.
    pub fn uint(&self, key: &str) -> Result<u64> {
        let value = self.require(key)?;
        value
            .as_u64()
            .ok_or_else(|| self.wrong_type(key, "a non-negative integer", value))
    }

    /// The `f32` under `key`.
    pub fn float(&self, key: &str) -> Result<f32> {
        match self.require(key)? {
            Value::F32(v) => Ok(*v),
            other => Err(self.wrong_type(key, "an f32", other)),
        }
    }

    /// The array under `key`.
    pub fn array(&self, key: &str) -> Result<&Array> {
        match self.require(key)? {
            Value::Array(a) => Ok(a),
            other => Err(self.wrong_type(key, "an array", other)),
        }
    }

    /// The array of strings under `key` (e.g. `tokenizer.ggml.tokens`).
    pub fn strings(&self, key: &str) -> Result<&[String]> {
        self.typed_array(key, "an array of string", |a| match a {
            Array::String(v) => Some(v),
            _ => None,
        })
    }

    /// The array of `f32` under `key` (e.g. `tokenizer.ggml.scores`).
    pub fn f32s(&self, key: &str) -> Result<&[f32]> {
        self.typed_array(key, "an array of f32", |a| match a {
            Array::F32(v) => Some(v),
            _ => None,
        })
    }

    /// The array of `i32` under `key` (e.g. `tokenizer.ggml.token_type`).
    pub fn i32s(&self, key: &str) -> Result<&[i32]> {
        self.typed_array(key, "an array of i32", |a| match a {
            Array::I32(v) => Some(v),
            _ => None,
        })
    }

    fn typed_array<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        pick: impl FnOnce(&'a Array) -> Option<&'a Vec<T>>,
    ) -> Result<&'a [T]> {
        let value = self.require(key)?;
        match value {
            Value::Array(a) => pick(a).map(Vec::as_slice),
            _ => None,
        }
        .ok_or_else(|| self.wrong_type(key, expected, value))
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> Error {
        let found = match found {
            Value::Array(a) => format!("an array of {}", a.element_type_name()),
            other => other.type_name().to_owned(),
        };
        self.error(key, format!("expected {expected}, found {found}"))
    }

    fn error(&self, key: &str, detail: String) -> Error {
        Error::Metadata {
            path: self.path.clone(),
            key: key.to_owned(),
            detail,
        }
    }
}

/// Where a tensor lives in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its stored type.
    pub dtype: DType,
    /// Row-major shape, outermost first (GGUF's dimension list reversed).
    pub shape: Vec<usize>,
    /// Absolute byte offset of its data in the file.
    pub offset: usize,
    /// Length of its data in bytes.
    pub byte_len: usize,
}

/// A parsed GGUF file; tensor data stays in the (mapped) file.
pub struct GgufFile {
    path: PathBuf,
    bytes: FileBytes,
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    alignment: usize,
    data_offset: usize,
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish_non_exhaustive()
    }
}

impl GgufFile {
    /// Maps and parses the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let started = std::time::Instant::now();
        let file = Self::parse(path.to_path_buf(), FileBytes::map(path)?)?;
        tracing::debug!(
            target: "refute::vm",
            path = %path.display(),
            tensors = file.tensors.len(),
            metadata = file.metadata.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "parsed GGUF"
        );
        Ok(file)
    }

    /// Parses a GGUF image held in memory; `origin` names it in errors.
    pub fn from_bytes(origin: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self> {
        Self::parse(origin.into(), FileBytes::Owned(bytes))
    }

    fn parse(path: PathBuf, bytes: FileBytes) -> Result<Self> {
        let mut r = Reader {
            bytes: &bytes,
            pos: 0,
            path: &path,
            context: "header".into(),
        };
        let magic: [u8; 4] = r.fixed()?;
        if magic != MAGIC {
            return Err(r.malformed_at(
                0,
                format!("starts with {magic:02x?}, expected the magic `GGUF`"),
            ));
        }
        let version = r.u32()?;
        if !matches!(version, 2 | 3) {
            return Err(r.unsupported(unsupported_version(version)));
        }
        let tensor_count = r.u64()?;
        let kv_count = r.u64()?;

        // The smallest metadata entry is an empty key, a type and a u8 value.
        r.context = format!("{kv_count} metadata entries");
        r.ensure_room(kv_count, 8 + 4 + 1)?;
        let mut entries = Vec::new();
        let mut index = HashMap::new();
        for i in 0..kv_count {
            r.context = format!("metadata entry #{i}");
            let key = r.string()?;
            r.context = format!("metadata `{key}`");
            let ty = r.u32()?;
            let value = r.value(ty, 0)?;
            if index.insert(key.clone(), entries.len()).is_some() {
                return Err(r.malformed(format!("metadata key `{key}` appears twice")));
            }
            entries.push((key, value));
        }
        let metadata = Metadata {
            path: path.clone(),
            entries,
            index,
        };

        // The smallest tensor info is an empty name, n_dims, type and offset.
        r.context = format!("{tensor_count} tensor infos");
        r.ensure_room(tensor_count, 8 + 4 + 4 + 8)?;
        let mut raw = Vec::new();
        for i in 0..tensor_count {
            r.context = format!("tensor info #{i}");
            raw.push(r.tensor_info()?);
        }

        let alignment = match metadata.get(ALIGNMENT_KEY) {
            None => DEFAULT_ALIGNMENT,
            Some(Value::U32(a)) if a.is_power_of_two() => *a as usize,
            Some(other) => {
                return Err(metadata.error(
                    ALIGNMENT_KEY,
                    format!("must be a u32 power of two, found {other:?}"),
                ));
            }
        };
        r.context = "data section".into();
        let data_offset = r
            .pos
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| r.malformed("data section offset overflows".into()))?;

        let mut tensors = Vec::with_capacity(raw.len());
        let mut tensor_index = HashMap::with_capacity(raw.len());
        for (name, dims, dtype, offset) in raw {
            let info = locate(&r, name, &dims, dtype, offset, alignment, data_offset)?;
            if tensor_index
                .insert(info.name.clone(), tensors.len())
                .is_some()
            {
                return Err(r.malformed(format!("tensor `{}` appears twice", info.name)));
            }
            tensors.push(info);
        }
        Ok(Self {
            path,
            bytes,
            version,
            metadata,
            tensors,
            index: tensor_index,
            alignment,
            data_offset,
        })
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The metadata key/values.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// `general.architecture` (e.g. `gemma3`), which prefixes the model's
    /// hyper-parameter keys.
    pub fn architecture(&self) -> Result<&str> {
        self.metadata.string(ARCHITECTURE_KEY)
    }

    /// The data-section alignment.
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// Every tensor's location, in file order.
    pub fn tensor_infos(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes.len()
    }

    fn view<'a>(&'a self, info: &'a TensorInfo) -> TensorView<'a> {
        TensorView {
            name: &info.name,
            dtype: info.dtype,
            shape: &info.shape,
            // In bounds: `locate` checked offset + byte_len against the file.
            data: &self.bytes[info.offset..info.offset + info.byte_len],
        }
    }
}

impl TensorSource for GgufFile {
    fn origin(&self) -> &Path {
        &self.path
    }

    fn tensors(&self) -> Vec<TensorView<'_>> {
        self.tensors.iter().map(|info| self.view(info)).collect()
    }

    fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        let &i = self.index.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_owned(),
            count: self.tensors.len(),
        })?;
        Ok(self.view(&self.tensors[i]))
    }
}

/// Why a GGUF version cannot be read, and what to do instead.
fn unsupported_version(version: u32) -> String {
    match version {
        1 => "GGUF version 1 (32-bit counts) is obsolete; convert the model again with a \
              current llama.cpp"
            .into(),
        v if (2..=3).contains(&v.swap_bytes()) => {
            "the file is big-endian; Refute reads little-endian GGUF only".into()
        }
        v => format!("GGUF version {v}; Refute reads versions 2 and 3"),
    }
}

/// Maps a ggml type id to a [`DType`]; unknown and unsupported ids say what
/// they are.
fn ggml_dtype(id: u32) -> std::result::Result<DType, String> {
    Ok(match id {
        0 => DType::F32,
        1 => DType::F16,
        2 => DType::Q4_0,
        3 => DType::Q4_1,
        6 => DType::Q5_0,
        7 => DType::Q5_1,
        8 => DType::Q8_0,
        9 => DType::Q8_1,
        10 => DType::Q2K,
        11 => DType::Q3K,
        12 => DType::Q4K,
        13 => DType::Q5K,
        14 => DType::Q6K,
        15 => DType::Q8K,
        24 => DType::I8,
        25 => DType::I16,
        26 => DType::I32,
        27 => DType::I64,
        28 => DType::F64,
        30 => DType::BF16,
        16..=23 | 29 => {
            return Err(format!(
                "ggml type {id} is an i-quant (IQ*), which Refute does not read; \
                 requantize the model to a k-quant such as Q4_K_M with llama.cpp's llama-quantize"
            ));
        }
        other => {
            return Err(format!(
                "unknown ggml type {other}; Refute reads F32, F16, BF16, F64, I8-I64, \
                 Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and Q2_K-Q8_K"
            ));
        }
    })
}

/// Validates one tensor info against the file and computes where it lives.
fn locate(
    r: &Reader<'_>,
    name: String,
    dims: &[u64],
    dtype: DType,
    offset: u64,
    alignment: usize,
    data_offset: usize,
) -> Result<TensorInfo> {
    let malformed = |detail: String| Error::Malformed {
        path: r.path.to_path_buf(),
        format: Format::Gguf,
        at: format!("tensor `{name}`"),
        detail,
    };
    let shape = dims
        .iter()
        .rev()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| malformed(format!("dimensions {dims:?} do not fit in memory")))?;
    let byte_len = dtype.byte_len(&shape).ok_or_else(|| {
        malformed(format!(
            "shape {shape:?} is not a whole number of {dtype} blocks of {} elements \
             along the innermost dimension, or is too large",
            dtype.block_len()
        ))
    })?;
    let relative = usize::try_from(offset)
        .ok()
        .filter(|o| o % alignment == 0)
        .ok_or_else(|| {
            malformed(format!(
                "data offset {offset} is not a multiple of the alignment {alignment}"
            ))
        })?;
    let start = data_offset.checked_add(relative);
    let end = start.and_then(|s| s.checked_add(byte_len));
    match (start, end) {
        (Some(start), Some(end)) if end <= r.bytes.len() => Ok(TensorInfo {
            name,
            dtype,
            shape,
            offset: start,
            byte_len,
        }),
        _ => Err(Error::Truncated {
            path: r.path.to_path_buf(),
            format: Format::Gguf,
            what: format!("the data of tensor `{name}` ({dtype}, shape {shape:?})"),
            offset: (data_offset as u64).saturating_add(offset),
            end: (data_offset as u64)
                .saturating_add(offset)
                .saturating_add(byte_len as u64),
            len: r.bytes.len() as u64,
        }),
    }
}

/// A bounds-checked little-endian cursor; `context` names what is being read
/// for error messages.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
    context: String,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn truncated(&self, needed: u64) -> Error {
        Error::Truncated {
            path: self.path.to_path_buf(),
            format: Format::Gguf,
            what: self.context.clone(),
            offset: self.pos as u64,
            end: (self.pos as u64).saturating_add(needed),
            len: self.bytes.len() as u64,
        }
    }

    fn malformed_at(&self, pos: usize, detail: String) -> Error {
        Error::Malformed {
            path: self.path.to_path_buf(),
            format: Format::Gguf,
            at: format!("byte {pos} ({})", self.context),
            detail,
        }
    }

    fn malformed(&self, detail: String) -> Error {
        self.malformed_at(self.pos, detail)
    }

    fn unsupported(&self, detail: String) -> Error {
        Error::Unsupported {
            path: self.path.to_path_buf(),
            format: Format::Gguf,
            at: format!("byte {} ({})", self.pos, self.context),
            detail,
        }
    }

    /// Fails unless `count` items of at least `min_size` bytes each can fit in
    /// what remains, so corrupt counts never drive allocations.
    fn ensure_room(&self, count: u64, min_size: u64) -> Result<usize> {
        let needed = count.saturating_mul(min_size);
        if needed > self.remaining() as u64 {
            return Err(self.truncated(needed));
        }
        // Fits: it is at most the remaining length.
        Ok(count as usize)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n as u64));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        self.fixed().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.fixed().map(u64::from_le_bytes)
    }

    fn string(&mut self) -> Result<String> {
        let len = self.u64()?;
        let len = self.ensure_room(len, 1)?;
        let start = self.pos;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| self.malformed_at(start, format!("string is not valid UTF-8: {e}")))
    }

    fn bool(&mut self, byte: u8) -> Result<bool> {
        match byte {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.malformed(format!("bool value {b} is neither 0 nor 1"))),
        }
    }

    /// Reads `count` fixed-size elements in one bounds check.
    fn vec<T, const N: usize>(&mut self, count: u64, decode: fn([u8; N]) -> T) -> Result<Vec<T>> {
        let count = self.ensure_room(count, N as u64)?;
        let bytes = self.take(count * N)?;
        Ok(bytes
            .chunks_exact(N)
            .map(|chunk| {
                let mut b = [0; N];
                b.copy_from_slice(chunk);
                decode(b)
            })
            .collect())
    }

    fn value(&mut self, ty: u32, depth: u32) -> Result<Value> {
        Ok(match ty {
            0 => Value::U8(u8::from_le_bytes(self.fixed()?)),
            1 => Value::I8(i8::from_le_bytes(self.fixed()?)),
            2 => Value::U16(u16::from_le_bytes(self.fixed()?)),
            3 => Value::I16(i16::from_le_bytes(self.fixed()?)),
            4 => Value::U32(u32::from_le_bytes(self.fixed()?)),
            5 => Value::I32(i32::from_le_bytes(self.fixed()?)),
            6 => Value::F32(f32::from_le_bytes(self.fixed()?)),
            7 => {
                let [b] = self.fixed()?;
                Value::Bool(self.bool(b)?)
            }
            8 => Value::String(self.string()?),
            9 => Value::Array(self.array(depth)?),
            10 => Value::U64(u64::from_le_bytes(self.fixed()?)),
            11 => Value::I64(i64::from_le_bytes(self.fixed()?)),
            12 => Value::F64(f64::from_le_bytes(self.fixed()?)),
            other => {
                return Err(self.malformed(format!(
                    "unknown metadata value type {other} (GGUF defines 0 to 12)"
                )));
            }
        })
    }

    fn array(&mut self, depth: u32) -> Result<Array> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.unsupported(format!(
                "arrays nested deeper than {MAX_ARRAY_DEPTH} levels"
            )));
        }
        let ty = self.u32()?;
        let count = self.u64()?;
        Ok(match ty {
            0 => Array::U8(self.vec(count, u8::from_le_bytes)?),
            1 => Array::I8(self.vec(count, i8::from_le_bytes)?),
            2 => Array::U16(self.vec(count, u16::from_le_bytes)?),
            3 => Array::I16(self.vec(count, i16::from_le_bytes)?),
            4 => Array::U32(self.vec(count, u32::from_le_bytes)?),
            5 => Array::I32(self.vec(count, i32::from_le_bytes)?),
            6 => Array::F32(self.vec(count, f32::from_le_bytes)?),
            7 => {
                let start = self.pos;
                let raw = self.vec(count, u8::from_le_bytes)?;
                let bools = raw.iter().map(|&b| match b {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                });
                Array::Bool(bools.collect::<Option<_>>().ok_or_else(|| {
                    self.malformed_at(start, "bool array holds a value other than 0 or 1".into())
                })?)
            }
            8 => {
                let count = self.ensure_room(count, 8)?;
                let mut strings = Vec::with_capacity(count);
                for _ in 0..count {
                    strings.push(self.string()?);
                }
                Array::String(strings)
            }
            9 => {
                let count = self.ensure_room(count, 4 + 8)?;
                let mut arrays = Vec::with_capacity(count);
                for _ in 0..count {
                    arrays.push(self.array(depth + 1)?);
                }
                Array::Array(arrays)
            }
            10 => Array::U64(self.vec(count, u64::from_le_bytes)?),
            11 => Array::I64(self.vec(count, i64::from_le_bytes)?),
            12 => Array::F64(self.vec(count, f64::from_le_bytes)?),
            other => {
                return Err(self.malformed(format!(
                    "unknown array element type {other} (GGUF defines 0 to 12)"
                )));
            }
        })
    }

    fn tensor_info(&mut self) -> Result<(String, Vec<u64>, DType, u64)> {
        let name = self.string()?;
        self.context = format!("tensor info `{name}`");
        let n_dims = self.u32()? as usize;
        if n_dims > MAX_DIMS {
            return Err(self.malformed(format!(
                "{n_dims} dimensions; ggml tensors have at most {MAX_DIMS}"
            )));
        }
        let dims = self.vec(n_dims as u64, u64::from_le_bytes)?;
        let type_pos = self.pos;
        let dtype = ggml_dtype(self.u32()?).map_err(|detail| Error::Unsupported {
            path: self.path.to_path_buf(),
            format: Format::Gguf,
            at: format!("byte {type_pos} (tensor `{name}`)"),
            detail,
        })?;
        let offset = self.u64()?;
        Ok((name, dims, dtype, offset))
    }
}
