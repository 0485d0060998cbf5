//! A SentencePiece-style BPE tokenizer built from GGUF metadata
//! (`tokenizer.ggml.model = "llama"`: tokens, scores and token types).
//!
//! Encoding follows SentencePiece's BPE (and llama.cpp's `spm` tokenizer):
//! spaces become `▁`, the text starts as single characters and the adjacent pair whose joined
//! text is a token with the highest score is merged until none is left (ties:
//! leftmost first); characters that are not tokens fall back to their UTF-8
//! bytes (`<0xNN>` tokens). Control and user-defined pieces that occur in the
//! text (`<start_of_turn>`, …) are matched whole, longest first, as the
//! Hugging Face tokenizer does with its added tokens.

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use crate::format::gguf::Metadata;

use super::{Error, Result};

/// The word-boundary marker that stands for a space.
const SPACE: char = '\u{2581}';

/// GGUF token types.
const TYPE_NORMAL: i32 = 1;
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;
const TYPE_BYTE: i32 = 6;

/// A SentencePiece BPE vocabulary.
#[derive(Debug, Clone)]
pub struct SpmTokenizer {
    pieces: Vec<String>,
    scores: Vec<f32>,
    types: Vec<i32>,
    ids: HashMap<String, u32>,
    /// Control and user-defined pieces by first character, longest first.
    specials: HashMap<char, Vec<u32>>,
    bytes: [Option<u32>; 256],
    /// Beginning-of-sequence id.
    pub bos: u32,
    /// End-of-sequence id.
    pub eos: u32,
    unk: u32,
    add_bos: bool,
    add_space_prefix: bool,
}

#[derive(PartialEq)]
struct Candidate {
    score: f32,
    left: usize,
    len: usize,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Highest score first; among equal scores the leftmost pair.
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.left.cmp(&self.left))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// A symbol of the merge list: a byte range of the text, linked to its neighbours.
#[derive(Clone, Copy)]
struct Sym {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl SpmTokenizer {
    /// Build from the `tokenizer.ggml.*` metadata of `path`.
    pub fn from_gguf(path: &Path, md: &Metadata) -> Result<Self> {
        let err = |detail: String| Error::Tokenizer {
            path: path.to_path_buf(),
            detail,
        };
        let model = md.string("tokenizer.ggml.model")?;
        if model != "llama" {
            return Err(err(format!(
                "tokenizer.ggml.model is `{model}`; only SentencePiece BPE (`llama`) vocabularies are supported"
            )));
        }
        let pieces = md.strings("tokenizer.ggml.tokens")?.to_vec();
        let scores = md.f32s("tokenizer.ggml.scores")?.to_vec();
        let types = md.i32s("tokenizer.ggml.token_type")?.to_vec();
        if scores.len() != pieces.len() || types.len() != pieces.len() {
            return Err(err(format!(
                "{} tokens but {} scores and {} token types; the metadata arrays must have equal lengths",
                pieces.len(),
                scores.len(),
                types.len()
            )));
        }
        let n = pieces.len();
        let id = |key: &str| -> Result<u32> {
            let v = md.uint(key)?;
            if v as usize >= n {
                return Err(err(format!(
                    "{key} = {v} is outside the vocabulary of {n} tokens"
                )));
            }
            Ok(v as u32)
        };
        let flag = |key: &str, default: bool| match md.get(key) {
            Some(crate::format::gguf::Value::Bool(b)) => *b,
            _ => default,
        };
        let mut ids = HashMap::with_capacity(n);
        let mut bytes = [None; 256];
        let mut specials: HashMap<char, Vec<u32>> = HashMap::new();
        for (i, p) in pieces.iter().enumerate() {
            let i = i as u32;
            match types[i as usize] {
                TYPE_BYTE => {
                    let b = p
                        .strip_prefix("<0x")
                        .and_then(|h| h.strip_suffix('>'))
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| err(format!("byte token {i} is `{p}`, expected <0xNN>")))?;
                    bytes[usize::from(b)] = Some(i);
                }
                TYPE_USER_DEFINED | TYPE_CONTROL => {
                    if let Some(c) = p.chars().next() {
                        specials.entry(c).or_default().push(i);
                    }
                }
                _ => {}
            }
            // The first of duplicate pieces wins, as in SentencePiece.
            ids.entry(p.clone()).or_insert(i);
        }
        for list in specials.values_mut() {
            list.sort_by_key(|&i| (std::cmp::Reverse(pieces[i as usize].len()), i));
        }
        Ok(SpmTokenizer {
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            unk: id("tokenizer.ggml.unknown_token_id")?,
            add_bos: flag("tokenizer.ggml.add_bos_token", true),
            add_space_prefix: flag("tokenizer.ggml.add_space_prefix", true),
            pieces,
            scores,
            types,
            ids,
            specials,
            bytes,
        })
    }

    /// Vocabulary size.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// True for an empty vocabulary.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The piece of token `id`.
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// Token ids of `text`, with `<bos>` first when the vocabulary asks for it.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        if self.add_bos {
            out.push(self.bos);
        }
        // Control and user-defined pieces are matched in the raw text (some
        // are runs of spaces or newlines), longest first; the text between
        // them is escaped and merged.
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() {
            let hit = rest.char_indices().find_map(|(at, c)| {
                self.specials
                    .get(&c)?
                    .iter()
                    .find(|&&u| rest[at..].starts_with(self.pieces[u as usize].as_str()))
                    .map(|&u| (at, u))
            });
            let (plain, special) = match hit {
                Some((at, u)) => (&rest[..at], Some(u)),
                None => (rest, None),
            };
            let mut escaped = plain.replace(' ', &SPACE.to_string());
            if first && self.add_space_prefix && !escaped.is_empty() {
                escaped.insert(0, SPACE);
            }
            first = false;
            self.encode_bpe(&escaped, &mut out);
            match special {
                Some(u) => {
                    out.push(u);
                    rest = &rest[plain.len() + self.pieces[u as usize].len()..];
                }
                None => rest = "",
            }
        }
        out
    }

    fn merge_candidate(&self, text: &str, syms: &[Sym], left: usize) -> Option<Candidate> {
        let right = syms[left].next?;
        let (a, b) = (syms[left], syms[right]);
        let joined = &text[a.start..b.start + b.len];
        let &id = self.ids.get(joined)?;
        let normal = matches!(self.types[id as usize], TYPE_NORMAL | TYPE_USER_DEFINED);
        normal.then(|| Candidate {
            score: self.scores[id as usize],
            left,
            len: joined.len(),
        })
    }

    fn encode_bpe(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut syms: Vec<Sym> = text
            .char_indices()
            .enumerate()
            .map(|(i, (start, c))| Sym {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: None,
            })
            .collect();
        let n = syms.len();
        for (i, s) in syms.iter_mut().enumerate().take(n.saturating_sub(1)) {
            s.next = Some(i + 1);
        }
        let mut heap: BinaryHeap<Candidate> = (0..n)
            .filter_map(|i| self.merge_candidate(text, &syms, i))
            .collect();
        while let Some(c) = heap.pop() {
            // Skip candidates made stale by an earlier merge.
            let Some(right) = syms[c.left].next else {
                continue;
            };
            if syms[c.left].len == 0 || syms[c.left].len + syms[right].len != c.len {
                continue;
            }
            syms[c.left].len = c.len;
            syms[c.left].next = syms[right].next;
            syms[right].len = 0;
            if let Some(nn) = syms[right].next {
                syms[nn].prev = Some(c.left);
            }
            if let Some(p) = syms[c.left].prev {
                heap.extend(self.merge_candidate(text, &syms, p));
            }
            heap.extend(self.merge_candidate(text, &syms, c.left));
        }
        let mut at = Some(0);
        while let Some(i) = at {
            let s = syms[i];
            let piece = &text[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(
                    piece
                        .bytes()
                        .map(|b| self.bytes[usize::from(b)].unwrap_or(self.unk)),
                ),
            }
            at = s.next;
        }
    }

    /// The text of `ids`: control tokens are dropped, byte tokens joined into
    /// UTF-8 (invalid sequences replaced), `▁` turned back into spaces.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(p) = self.pieces.get(id as usize) else {
                continue;
            };
            match self.types[id as usize] {
                TYPE_CONTROL => {}
                TYPE_BYTE => bytes.extend(
                    self.bytes
                        .iter()
                        .position(|&b| b == Some(id))
                        .map(|b| b as u8),
                ),
                _ => bytes.extend_from_slice(p.replace(SPACE, " ").as_bytes()),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
