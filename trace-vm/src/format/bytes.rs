//! A model file's bytes: memory-mapped from disk, or owned (tests, network).
//!
//! Mapping lets a 240 MB GGUF be opened without reading it: pages come in
//! when a tensor is first touched and stay shared with the page cache, so
//! quantized weights cost no extra resident memory.
#![allow(unsafe_code)]

use std::{fs::File, ops::Deref, path::Path};

use super::error::{Error, Result};

/// Immutable bytes of one file.
#[derive(Debug)]
pub(crate) enum FileBytes {
    /// A read-only mapping of a file on disk.
    Mapped(memmap2::Mmap),
    /// Bytes held in memory.
    Owned(Vec<u8>),
}

impl FileBytes {
    /// Maps `path` read-only.
    pub(crate) fn map(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            // An empty mapping is an error on Linux; an empty file is simply
            // truncated, which the parsers report properly.
            return Ok(Self::Owned(Vec::new()));
        }
        // SAFETY: the mapping is read-only and private to this process. It is
        // undefined behaviour only if another process truncates or rewrites
        // the file in place while it is mapped. Model files are written once:
        // scripts/setup installs a new version by renaming a new directory over
        // the old one, which leaves existing mappings on the old inode intact.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Self::Mapped(map))
    }
}

// Lets a mapping back a shared `Bytes` buffer (ONNX initializers are slices
// of the file, not copies).
impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(map) => map,
            Self::Owned(bytes) => bytes,
        }
    }
}
