//! safetensors reader (via the `safetensors` crate) and the JSON side files
//! of a sentence-transformers BERT package: `config.json`, `modules.json` and
//! `1_Pooling/config.json`.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::{Path, PathBuf},
};

use ::safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, de::DeserializeOwned};

use super::{
    DType, TensorSource, TensorView,
    bytes::FileBytes,
    error::{Error, Format, Result},
};

/// Where a tensor lives in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Absolute byte offset of its data in the file.
    pub offset: usize,
    /// Length of its data in bytes.
    pub byte_len: usize,
}

/// A parsed safetensors file; tensor data stays in the (mapped) file.
pub struct SafetensorsFile {
    path: PathBuf,
    bytes: FileBytes,
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    metadata: BTreeMap<String, String>,
}

impl fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl SafetensorsFile {
    /// Maps and parses the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = Self::parse(path.to_path_buf(), FileBytes::map(path)?)?;
        tracing::debug!(
            target: "refute::vm",
            path = %path.display(),
            tensors = file.tensors.len(),
            "parsed safetensors"
        );
        Ok(file)
    }

    /// Parses a safetensors image held in memory; `origin` names it in errors.
    pub fn from_bytes(origin: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self> {
        Self::parse(origin.into(), FileBytes::Owned(bytes))
    }

    fn parse(path: PathBuf, bytes: FileBytes) -> Result<Self> {
        // read_metadata checks the header length, that the tensors tile the
        // data section exactly, and each tensor's size against its shape.
        let (header_len, header) =
            SafeTensors::read_metadata(&bytes).map_err(|source| Error::Safetensors {
                path: path.clone(),
                source,
            })?;
        let data_start = 8 + header_len;
        let mut tensors = header
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                let dtype = dtype(info.dtype).ok_or_else(|| Error::Unsupported {
                    path: path.clone(),
                    format: Format::Safetensors,
                    at: format!("tensor `{name}`"),
                    detail: format!(
                        "element type {:?}; Refute reads F32, F16, BF16, F64 and integer tensors",
                        info.dtype
                    ),
                })?;
                let (start, end) = info.data_offsets;
                Ok(TensorInfo {
                    dtype,
                    shape: info.shape.clone(),
                    offset: data_start + start,
                    byte_len: end - start,
                    name,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The header is a JSON object (unordered); file order is data order.
        tensors.sort_by_key(|t| t.offset);
        let index = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let metadata = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(Self {
            path,
            bytes,
            tensors,
            index,
            metadata,
        })
    }

    /// Every tensor's location, in file order.
    pub fn tensor_infos(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The free-form `__metadata__` strings of the header.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    fn view<'a>(&'a self, info: &'a TensorInfo) -> TensorView<'a> {
        TensorView {
            name: &info.name,
            dtype: info.dtype,
            shape: &info.shape,
            // In bounds: read_metadata checked that the tensors tile the file.
            data: &self.bytes[info.offset..info.offset + info.byte_len],
        }
    }
}

impl TensorSource for SafetensorsFile {
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

fn dtype(dtype: Dtype) -> Option<DType> {
    Some(match dtype {
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::U16 => DType::U16,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I32 => DType::I32,
        Dtype::U32 => DType::U32,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::I64 => DType::I64,
        Dtype::U64 => DType::U64,
        _ => return None,
    })
}

/// The hyper-parameters of a Hugging Face BERT `config.json` that the
/// encoder needs; other keys are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// `bert` for every model this reader accepts.
    pub model_type: String,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Token vocabulary size.
    pub vocab_size: usize,
    /// Longest input (learned position embeddings).
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Feed-forward activation (`gelu` is the exact erf GELU).
    pub hidden_act: String,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: usize,
    /// Only `absolute` is supported.
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn absolute() -> String {
    "absolute".into()
}

/// How token embeddings become one sentence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the non-padding tokens.
    Mean,
    /// The first (`[CLS]`) token.
    Cls,
    /// Element-wise maximum over the non-padding tokens.
    Max,
    /// Sum over the non-padding tokens divided by the square root of their count.
    MeanSqrtLen,
}

/// sentence-transformers' `1_Pooling/config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PoolingConfig {
    /// Must equal the encoder's hidden size.
    pub word_embedding_dimension: usize,
    /// Use the `[CLS]` token.
    #[serde(default)]
    pub pooling_mode_cls_token: bool,
    /// Mean over tokens.
    #[serde(default)]
    pub pooling_mode_mean_tokens: bool,
    /// Max over tokens.
    #[serde(default)]
    pub pooling_mode_max_tokens: bool,
    /// Sum over tokens divided by sqrt(count).
    #[serde(default)]
    pub pooling_mode_mean_sqrt_len_tokens: bool,
    /// Position-weighted mean (unsupported).
    #[serde(default)]
    pub pooling_mode_weightedmean_tokens: bool,
    /// Last token (unsupported).
    #[serde(default)]
    pub pooling_mode_lasttoken: bool,
}

impl PoolingConfig {
    /// The one pooling mode the config selects, or `None` when it selects
    /// none, several (concatenated embeddings), or an unsupported one.
    pub fn mode(&self) -> Option<Pooling> {
        let modes = [
            (self.pooling_mode_mean_tokens, Some(Pooling::Mean)),
            (self.pooling_mode_cls_token, Some(Pooling::Cls)),
            (self.pooling_mode_max_tokens, Some(Pooling::Max)),
            (
                self.pooling_mode_mean_sqrt_len_tokens,
                Some(Pooling::MeanSqrtLen),
            ),
            (self.pooling_mode_weightedmean_tokens, None),
            (self.pooling_mode_lasttoken, None),
        ];
        let mut selected = modes.iter().filter(|(on, _)| *on).map(|&(_, mode)| mode);
        match (selected.next(), selected.next()) {
            (Some(mode), None) => mode,
            _ => None,
        }
    }
}

/// One module of sentence-transformers' `modules.json` pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleEntry {
    /// Directory of the module's files, relative to the package.
    pub path: String,
    /// Python class, e.g. `sentence_transformers.models.Normalize`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A sentence-transformers BERT package as installed by `scripts/setup`:
/// `model.safetensors`, `config.json`, `modules.json`, `1_Pooling/config.json`
/// (the tokenizer files sit beside them).
#[derive(Debug)]
pub struct SentenceTransformer {
    /// The package directory.
    pub dir: PathBuf,
    /// The encoder's weights.
    pub weights: SafetensorsFile,
    /// The encoder's hyper-parameters.
    pub config: BertConfig,
    /// The pooling step.
    pub pooling: Pooling,
    /// Whether the pipeline L2-normalizes the pooled embedding.
    pub normalize: bool,
}

/// Pipeline class names this reader understands.
const TRANSFORMER_MODULE: &str = "sentence_transformers.models.Transformer";
const POOLING_MODULE: &str = "sentence_transformers.models.Pooling";
const NORMALIZE_MODULE: &str = "sentence_transformers.models.Normalize";

impl SentenceTransformer {
    /// Reads the package in `dir` and checks that its parts agree.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let config_path = dir.join("config.json");
        let config: BertConfig = read_json(&config_path)?;
        let unsupported = |path: &Path, at: &str, detail: String| Error::Unsupported {
            path: path.to_path_buf(),
            format: Format::Json,
            at: at.to_owned(),
            detail,
        };
        if config.model_type != "bert" {
            return Err(unsupported(
                &config_path,
                "model_type",
                format!("`{}`; Refute's encoder is BERT", config.model_type),
            ));
        }
        if config.position_embedding_type != "absolute" {
            return Err(unsupported(
                &config_path,
                "position_embedding_type",
                format!(
                    "`{}`; only `absolute` is supported",
                    config.position_embedding_type
                ),
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(Error::Malformed {
                path: config_path,
                format: Format::Json,
                at: "num_attention_heads".into(),
                detail: format!(
                    "hidden_size {} is not a multiple of {} heads",
                    config.hidden_size, config.num_attention_heads
                ),
            });
        }

        let modules_path = dir.join("modules.json");
        let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
        let mut normalize = false;
        let mut pooling_dir = None;
        for (i, module) in modules.iter().enumerate() {
            match module.kind.as_str() {
                TRANSFORMER_MODULE if i == 0 => {}
                POOLING_MODULE if i == 1 => pooling_dir = Some(dir.join(&module.path)),
                NORMALIZE_MODULE if i == 2 => normalize = true,
                other => {
                    return Err(unsupported(
                        &modules_path,
                        &format!("module #{i}"),
                        format!(
                            "`{other}`; Refute runs Transformer, Pooling and optionally Normalize, in that order"
                        ),
                    ));
                }
            }
        }
        let pooling_dir = pooling_dir.ok_or_else(|| {
            unsupported(
                &modules_path,
                "modules",
                "no Pooling module; Refute needs one to produce a sentence embedding".into(),
            )
        })?;
        let pooling_path = pooling_dir.join("config.json");
        let pooling_config: PoolingConfig = read_json(&pooling_path)?;
        let pooling = pooling_config.mode().ok_or_else(|| {
            unsupported(
                &pooling_path,
                "pooling_mode_*",
                format!(
                    "{pooling_config:?}; exactly one of mean, cls, max or mean_sqrt_len must be set"
                ),
            )
        })?;
        if pooling_config.word_embedding_dimension != config.hidden_size {
            return Err(Error::Malformed {
                path: pooling_path,
                format: Format::Json,
                at: "word_embedding_dimension".into(),
                detail: format!(
                    "{} differs from the encoder's hidden_size {}",
                    pooling_config.word_embedding_dimension, config.hidden_size
                ),
            });
        }

        let weights = SafetensorsFile::open(dir.join("model.safetensors"))?;
        Ok(Self {
            dir,
            weights,
            config,
            pooling,
            normalize,
        })
    }
}

/// Reads and deserializes a JSON file, naming it in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}
