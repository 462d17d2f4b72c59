//! Checking loose objects before libgit2 reads them.
//!
//! libgit2 1.9 (the version the `git2` crate bundles) loops forever, at full CPU, when it reads
//! a loose object whose zlib stream is cut short: its inflate loop waits for output that never
//! comes. The fix is upstream but in no `libgit2-sys` release yet, so the git source inflates
//! each loose object it is about to read once, with a loop that stops when the input runs out,
//! and reports a damaged object as an error that names it.
//!
//! Packed objects are not affected (their reader bounds the inflate by the pack), and most
//! repositories keep their history in packs: the directory listing that tells which objects are
//! loose is read once per fan-out directory (`objects/ab/`), lazily, so a packed history costs
//! one listing of `objects/`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use flate2::{Decompress, FlushDecompress, Status};
use git2::{Oid, Repository};

use crate::error::{Error, Result};

/// The loose objects of a repository's object directories (its own and its alternates).
pub(super) struct LooseObjects {
    repository: PathBuf,
    stores: Vec<Store>,
}

/// One object directory.
struct Store {
    path: PathBuf,
    /// Fan-out directories (`ab`) that exist.
    fan_out: HashSet<String>,
    /// The object names in each fan-out directory, once listed.
    listed: HashMap<String, HashSet<String>>,
}

impl LooseObjects {
    /// Lists the object directories of `repo` (the fan-out directories are listed on demand).
    pub(super) fn new(repo: &Repository) -> Self {
        let stores = object_directories(repo)
            .into_iter()
            .map(|path| {
                let fan_out = list(&path)
                    .into_iter()
                    .filter(|name| name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect();
                Store {
                    path,
                    fan_out,
                    listed: HashMap::new(),
                }
            })
            .collect();
        Self {
            repository: repo.workdir().unwrap_or_else(|| repo.path()).to_owned(),
            stores,
        }
    }

    /// Whether no object is stored loose (all are packed).
    pub(super) fn is_empty(&self) -> bool {
        self.stores.iter().all(|s| s.fan_out.is_empty())
    }

    /// Checks that `oid`, if it is stored loose, inflates to a whole object.
    pub(super) fn check(&mut self, oid: Oid) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        // Called for every object the history reads: the id is written on the stack, and a
        // fan-out directory's name is copied only when it is listed.
        let mut digits = [0u8; 40];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(oid.as_bytes()) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        let hex = std::str::from_utf8(&digits).unwrap_or_default();
        let (fan_out, rest) = hex.split_at(2);
        for store in &mut self.stores {
            if !store.fan_out.contains(fan_out) {
                continue;
            }
            if !store.listed.contains_key(fan_out) {
                let names = list(&store.path.join(fan_out)).into_iter().collect();
                store.listed.insert(fan_out.to_owned(), names);
            }
            let path = &store.path;
            if store.listed[fan_out].contains(rest) {
                let file = path.join(fan_out).join(rest);
                return verify(&file).map_err(|reason| Error::CorruptObject {
                    repository: self.repository.clone(),
                    id: hex.to_owned(),
                    file,
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// The object directories of `repo`: its own, then its alternates (one directory per line of
/// `objects/info/alternates`, relative to `objects/` when not absolute).
pub(super) fn object_directories(repo: &Repository) -> Vec<PathBuf> {
    // A linked worktree's objects are the main repository's.
    let objects = repo.commondir().join("objects");
    let mut paths = vec![objects.clone()];
    if let Ok(alternates) = fs::read_to_string(objects.join("info").join("alternates")) {
        for line in alternates.lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                paths.push(objects.join(line));
            }
        }
    }
    paths
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The names in a directory (none when it cannot be read: libgit2 reports that itself).
fn list(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Inflates a loose object file, keeping none of it: the stream must end, the header
/// (`commit 123\0`) must be whole, and the body as long as the header says.
fn verify(file: &Path) -> Result<(), String> {
    let compressed = match fs::read(file) {
        Ok(bytes) => bytes,
        // Gone since the listing (pruned or packed meanwhile): libgit2 finds it elsewhere.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut inflate = Decompress::new(true);
    // Small: it is zeroed for every object checked, and the loop below takes any size.
    let mut buffer = vec![0u8; 8 * 1024];
    let mut header: Vec<u8> = Vec::new();
    let mut declared: Option<u64> = None;
    let mut body: u64 = 0;
    loop {
        let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
        let input = compressed.get(consumed..).unwrap_or_default();
        let before_out = inflate.total_out();
        let status = inflate
            .decompress(input, &mut buffer, FlushDecompress::Finish)
            .map_err(|e| format!("its compressed data is damaged ({e})"))?;
        let produced = usize::try_from(inflate.total_out() - before_out).unwrap_or(0);
        let mut out = &buffer[..produced];
        if declared.is_none() {
            match out.iter().position(|&b| b == 0) {
                Some(end) => {
                    header.extend_from_slice(&out[..end]);
                    declared = Some(parse_header(&header)?);
                    out = &out[end + 1..];
                }
                None => {
                    header.extend_from_slice(out);
                    if header.len() > 64 {
                        return Err("its header is not an object header".to_owned());
                    }
                    out = &[];
                }
            }
        }
        body += out.len() as u64;
        match status {
            Status::StreamEnd => break,
            // No progress with input left, or no input left: the stream is cut short.
            Status::Ok | Status::BufError
                if produced == 0
                    && usize::try_from(inflate.total_in()).unwrap_or(0) == consumed =>
            {
                return Err(format!(
                    "its compressed data ends early, after {} of its bytes inflated",
                    inflate.total_out()
                ));
            }
            Status::Ok | Status::BufError => {}
        }
    }
    match declared {
        None => Err("its header is cut short".to_owned()),
        Some(size) if size != body => {
            Err(format!("its header says {size} bytes but it holds {body}"))
        }
        Some(_) => Ok(()),
    }
}

/// `commit 123` -> 123.
fn parse_header(header: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(header).map_err(|_| "its header is not text".to_owned())?;
    let (kind, size) = text
        .split_once(' ')
        .ok_or_else(|| "its header has no size".to_owned())?;
    if !matches!(kind, "commit" | "tree" | "blob" | "tag") {
        return Err(format!("its header names no object type (`{kind}`)"));
    }
    size.parse()
        .map_err(|_| format!("its header's size `{size}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut compress = Compress::new(Compression::default(), true);
        let mut out = Vec::with_capacity(data.len() + 1024);
        compress
            .compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    }

    fn verify_bytes(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("object");
        fs::write(&file, bytes).unwrap();
        verify(&file)
    }

    #[test]
    fn whole_objects_pass_and_damaged_ones_are_named() {
        let object = b"blob 11\0hello world";
        let whole = deflate(object);
        assert_eq!(verify_bytes(&whole), Ok(()));
        let err = verify_bytes(&whole[..whole.len() / 2]).unwrap_err();
        assert!(err.contains("ends early"), "{err}");
        let err = verify_bytes(&deflate(b"blob 12\0hello world")).unwrap_err();
        assert!(err.contains("says 12 bytes but it holds 11"), "{err}");
        let err = verify_bytes(&deflate(b"nonsense 3\0abc")).unwrap_err();
        assert!(err.contains("no object type"), "{err}");
        let err = verify_bytes(b"not zlib at all").unwrap_err();
        assert!(err.contains("damaged"), "{err}");
        // Larger than the inflate buffer.
        let mut big = b"blob 200000\0".to_vec();
        big.extend((0..200_000u32).map(|i| u8::try_from(i % 251).unwrap()));
        assert_eq!(verify_bytes(&deflate(&big)), Ok(()));
        let compressed = deflate(&big);
        assert!(verify_bytes(&compressed[..compressed.len() - 10]).is_err());
    }
}
