//! Commits and trees read straight from pack files, without libgit2.
//!
//! libgit2 takes one process-wide mutex (`git_mwindow__mutex`) on every read of a packed
//! object, so the thread that compares trees (see [`super::diff`]) and the thread that walks
//! the history wait on each other; and it sets up a new zlib stream, with its 32 KB window,
//! for every object, which is most of what reading a commit of a few hundred bytes costs. This
//! reader opens the repository's pack indexes (version 2) and reads the pack entries of
//! commits and trees itself: plain objects and both kinds of deltas (`OFS_DELTA`,
//! `REF_DELTA`), inflated with `flate2` through one reused stream, with a bounded cache of
//! delta bases. The first thread that reads opens the packs; [`LazyPacks`] gives the others
//! readers of their own of the same packs.
//!
//! Everything read from the repository is treated as hostile: a truncated or damaged pack, an
//! offset out of bounds, a size no pack could hold, a delta that copies from outside its base,
//! an object whose bytes do not hash to its id: any of them makes the read answer `None`, and
//! the caller reads the object with libgit2 instead (which reports the damage, or finds the
//! object somewhere else). Only version 2 indexes of SHA-1 repositories are read.
//!
//! Pack files are read with positioned reads (`pread`), not mapped: the crate forbids `unsafe`,
//! and a read of the few kilobytes an entry spans costs less than a page fault per page.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use flate2::{Decompress, FlushDecompress, Status};
use git2::{ConfigLevel, Oid, Repository};
use sha1::{Digest, Sha1};

use super::OidHasher;

/// One entry of a tree, as [`git2::TreeEntry`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: Box<[u8]>,
    /// The mode as libgit2's `git_tree_entry_filemode` gives it (normalised: `100664` reads
    /// as `100644`).
    pub(crate) mode: i32,
    pub(crate) id: Oid,
    /// The entry is a tree (mode `040000`).
    pub(crate) is_tree: bool,
}

/// A repository's packs, opened (read into memory, when small enough) by the first thread
/// that reads them, and shared by the others; each has a [`PackedObjects`] of its own.
#[derive(Clone, Default)]
pub(crate) struct LazyPacks(Arc<OnceLock<Option<Arc<[Pack]>>>>);

impl LazyPacks {
    /// A reader of the packs of `repo`, opening them if no thread has; `None` when the
    /// repository has none this reader reads.
    pub(crate) fn reader(&self, repo: &Repository) -> Option<PackedObjects> {
        let packs = self
            .0
            .get_or_init(|| PackedObjects::open(repo).map(|p| p.packs))
            .as_ref()?;
        Some(PackedObjects::of(Arc::clone(packs)))
    }
}

/// The commits and trees of a repository's packs.
pub(crate) struct PackedObjects {
    packs: Arc<[Pack]>,
    bases: BaseCache,
    /// Where entries of packs read from their files land.
    scratch: Vec<u8>,
    /// One zlib stream, reset for each entry: setting one up costs more than inflating most
    /// commits and trees.
    inflate: Decompress,
}

/// Longest chain of deltas followed (git writes chains of at most 4,095).
const MAX_CHAIN: usize = 4_095;
/// Largest object (or delta) inflated: larger ones are left to libgit2.
const MAX_OBJECT: usize = 64 << 20;
/// Most bytes of delta data held while a chain is resolved.
const MAX_CHAIN_BYTES: usize = 256 << 20;
/// Bytes of delta bases kept.
const BASE_CACHE_BYTES: usize = 8 << 20;
/// Packs up to this size are read whole when opened; larger ones entry by entry, as needed.
/// Reading a pack whole costs about a millisecond per 2 MB, paid even when only a few trees
/// are compared (`--latest`).
const MAX_IN_MEMORY: u64 = 32 << 20;
/// Indexes are read whole; a larger one (over a million objects) is left to libgit2, which
/// maps it, rather than read for a few lookups.
const MAX_INDEX: u64 = 32 << 20;
/// Bytes of indexes and packs held in memory in all (a store of many packs, or alternates,
/// would otherwise be read whole pack after pack): past it, packs are read entry by entry and
/// indexes left to libgit2.
const MEMORY_BUDGET: u64 = 64 << 20;
/// Bytes read at an entry's offset first, from a pack not in memory: its header and, for most
/// tree deltas, all of their compressed data.
const FIRST_READ: u64 = 2048;
/// Bytes read at a time after that.
const NEXT_READ: u64 = 64 << 10;
/// No deflate stream inflates more than about 1,032 times: a size beyond that for the bytes
/// left in the pack is a lie.
const MAX_RATIO: u64 = 1100;

impl PackedObjects {
    /// The packs of `repo` and of its alternates; `None` when the repository is not SHA-1 or
    /// has no pack this reader can read.
    pub(crate) fn open(repo: &Repository) -> Option<Self> {
        Self::open_with(repo, MAX_IN_MEMORY)
    }

    /// [`open`](Self::open), reading into memory the packs of at most `in_memory` bytes (the
    /// others are read entry by entry).
    pub(crate) fn open_with(repo: &Repository, in_memory: u64) -> Option<Self> {
        if !is_sha1(repo) {
            return None;
        }
        let mut packs = Vec::new();
        let mut budget = MEMORY_BUDGET;
        for store in super::loose::object_directories(repo) {
            let Ok(listing) = fs::read_dir(store.join("pack")) else {
                continue;
            };
            let mut indexes: Vec<PathBuf> = listing
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "idx"))
                .collect();
            indexes.sort();
            for idx in &indexes {
                if let Some(pack) = Pack::open(idx, in_memory.min(budget), budget) {
                    let held = pack.index.len() + pack.memory.as_ref().map_or(0, Vec::len);
                    budget = budget.saturating_sub(held as u64);
                    packs.push(pack);
                }
            }
        }
        if packs.is_empty() {
            return None;
        }
        Some(Self::of(packs.into()))
    }

    fn of(packs: Arc<[Pack]>) -> Self {
        Self {
            packs,
            bases: BaseCache::default(),
            scratch: Vec::new(),
            inflate: Decompress::new(true),
        }
    }

    /// The entries of the tree `id`, in the order the tree stores them; `None` when no pack
    /// holds it or it cannot be read whole (the caller asks libgit2).
    pub(crate) fn tree(&mut self, id: Oid) -> Option<Vec<Entry>> {
        parse_tree(&self.object(id, Kind::Tree)?)
    }

    /// The bytes of the commit `id` (its header lines, a blank line, its message); `None`
    /// when no pack holds it or it cannot be read whole (the caller asks libgit2).
    pub(crate) fn commit(&mut self, id: Oid) -> Option<Vec<u8>> {
        let data = self.object(id, Kind::Commit)?;
        // Commits are seldom deltas, and only delta bases are cached: most are not shared.
        Some(Rc::try_unwrap(data).unwrap_or_else(|shared| shared.to_vec()))
    }

    /// The object `id` if it is of the kind `kind` and hashes to its id.
    fn object(&mut self, id: Oid, kind: Kind) -> Option<Rc<Vec<u8>>> {
        let (pack, offset) = self.find(id)?;
        let data = self.object_at(pack, offset, kind)?;
        let mut hash = Sha1::new();
        hash.update(kind.name());
        hash.update(b" ");
        hash.update(decimal(data.len(), &mut [0u8; 20]));
        hash.update(b"\0");
        hash.update(&data[..]);
        (hash.finalize()[..] == *id.as_bytes()).then_some(data)
    }

    /// The pack and offset of `id`.
    fn find(&self, id: Oid) -> Option<(usize, u64)> {
        let id: &[u8] = id.as_bytes();
        self.packs
            .iter()
            .enumerate()
            .find_map(|(at, pack)| pack.find(id).map(|offset| (at, offset)))
    }

    /// The object at `offset` in pack `pack`, its deltas applied; `None` for an object that
    /// is not of the kind `wanted` (its deltas are not applied).
    fn object_at(&mut self, pack: usize, offset: u64, wanted: Kind) -> Option<Rc<Vec<u8>>> {
        // Walk down the chain of deltas to a base (or a cached object), then apply the deltas
        // back up, keeping each result: trees of consecutive commits share their bases.
        let mut chain: Vec<(usize, u64, Vec<u8>)> = Vec::new();
        let mut held = 0usize;
        let (mut at, mut from) = (pack, offset);
        let (kind, mut data) = loop {
            if let Some(hit) = self.bases.get(at, from) {
                break hit;
            }
            // A cycle of `REF_DELTA`s comes back to an entry of the chain.
            if chain.len() >= MAX_CHAIN || chain.iter().any(|&(p, o, _)| p == at && o == from) {
                return None;
            }
            match self.packs[at].read_entry(from, &mut self.scratch, &mut self.inflate)? {
                Raw::Whole(kind, data) => {
                    let data = Rc::new(data);
                    if !chain.is_empty() {
                        self.bases.put(at, from, kind, Rc::clone(&data));
                    }
                    break (kind, data);
                }
                Raw::OfsDelta(base, delta) => {
                    held += delta.len();
                    chain.push((at, from, delta));
                    from = base;
                }
                Raw::RefDelta(base, delta) => {
                    held += delta.len();
                    chain.push((at, from, delta));
                    let id = Oid::from_bytes(&base).ok()?;
                    (at, from) = self.find(id)?;
                }
            }
            if held > MAX_CHAIN_BYTES {
                return None;
            }
        };
        // A chain down to anything but what is asked for is not worth applying.
        if kind != wanted {
            return None;
        }
        while let Some((at, from, delta)) = chain.pop() {
            data = Rc::new(apply_delta(&data, &delta)?);
            held = held.checked_add(data.len())?;
            if held > MAX_CHAIN_BYTES {
                return None;
            }
            self.bases.put(at, from, kind, Rc::clone(&data));
        }
        Some(data)
    }
}

/// `n` in decimal, written at the end of `digits` (an object's hash is read for every object:
/// no allocation for its length).
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// Whether the repository names its objects with SHA-1 (no `extensions.objectformat`, or
/// `sha1`).
fn is_sha1(repo: &Repository) -> bool {
    let Ok(config) = repo.config() else {
        return false;
    };
    let Ok(local) = config.open_level(ConfigLevel::Local) else {
        // No repository configuration: the default format.
        return true;
    };
    match local.get_string("extensions.objectformat") {
        Ok(format) => format.eq_ignore_ascii_case("sha1"),
        Err(e) => e.code() == git2::ErrorCode::NotFound,
    }
}

/// Object types of pack entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Commit,
    Tree,
    Blob,
    Tag,
}

impl Kind {
    /// The name an object's hash starts with.
    fn name(self) -> &'static [u8] {
        match self {
            Kind::Commit => b"commit",
            Kind::Tree => b"tree",
            Kind::Blob => b"blob",
            Kind::Tag => b"tag",
        }
    }
}

/// A pack entry, inflated.
enum Raw {
    Whole(Kind, Vec<u8>),
    /// The base's offset in the same pack, and the delta.
    OfsDelta(u64, Vec<u8>),
    /// The base's id, and the delta.
    RefDelta([u8; 20], Vec<u8>),
}

/// One pack and its index (version 2).
struct Pack {
    /// The whole `.idx` file.
    index: Vec<u8>,
    /// Objects in the pack.
    count: usize,
    file: File,
    /// The whole `.pack` file, when it is small enough to be read at once.
    memory: Option<Vec<u8>>,
    /// The `.pack` file's length.
    length: u64,
}

/// Where the index's sections start.
const FAN_OUT: usize = 8;
const NAMES: usize = FAN_OUT + 256 * 4;

impl Pack {
    /// The pack of the index at `idx`; `None` for anything but a version 2 index whose pack
    /// is there and agrees with it.
    fn open(idx: &Path, in_memory: u64, budget: u64) -> Option<Self> {
        if fs::metadata(idx).ok()?.len() > MAX_INDEX.min(budget) {
            return None;
        }
        let index = fs::read(idx).ok()?;
        if index.get(..8)? != b"\xfftOc\0\0\0\x02" {
            return None;
        }
        let mut previous = 0;
        for i in 0..256 {
            let n = be32(&index, FAN_OUT + 4 * i)?;
            if n < previous {
                return None;
            }
            previous = n;
        }
        let count = usize::try_from(previous).ok()?;
        // Names, CRCs and offsets, then 8-byte large offsets, then two checksums.
        let fixed = count.checked_mul(28)?.checked_add(NAMES + 40)?;
        let large = index.len().checked_sub(fixed)?;
        if large % 8 != 0 {
            return None;
        }
        let file = File::open(idx.with_extension("pack")).ok()?;
        let mut length = file.metadata().ok()?.len();
        let memory = if length <= in_memory {
            let mut bytes = Vec::with_capacity(usize::try_from(length).ok()?);
            std::io::Read::read_to_end(&mut &file, &mut bytes).ok()?;
            length = bytes.len() as u64;
            Some(bytes)
        } else {
            None
        };
        let mut header = [0u8; 12];
        match &memory {
            Some(bytes) => header.copy_from_slice(bytes.get(..12)?),
            None => read_at(&file, &mut header, 0)?,
        }
        if &header[..4] != b"PACK"
            || !matches!(be32(&header, 4)?, 2 | 3)
            || usize::try_from(be32(&header, 8)?).ok()? != count
            || length < 32
        {
            return None;
        }
        Some(Self {
            index,
            count,
            file,
            memory,
            length,
        })
    }

    /// The offset of the object `id`, if the pack holds it.
    fn find(&self, id: &[u8]) -> Option<u64> {
        let first = usize::from(*id.first()?);
        let low = match first {
            0 => 0,
            _ => be32(&self.index, FAN_OUT + 4 * (first - 1))?,
        };
        let high = be32(&self.index, FAN_OUT + 4 * first)?;
        let (mut low, mut high) = (usize::try_from(low).ok()?, usize::try_from(high).ok()?);
        while low < high {
            let middle = low + (high - low) / 2;
            let name = self
                .index
                .get(NAMES + 20 * middle..NAMES + 20 * middle + 20)?;
            match name.cmp(id) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return self.offset(middle),
            }
        }
        None
    }

    /// The offset of the `i`th object of the index, checked against the pack's length.
    fn offset(&self, i: usize) -> Option<u64> {
        let offsets = NAMES + 24 * self.count;
        let small = be32(&self.index, offsets + 4 * i)?;
        let offset = if small & 0x8000_0000 == 0 {
            u64::from(small)
        } else {
            let k = usize::try_from(small & 0x7fff_ffff).ok()?;
            let at = (offsets + 4 * self.count).checked_add(k.checked_mul(8)?)?;
            if at + 8 > self.index.len() - 40 {
                return None;
            }
            u64::from_be_bytes(self.index.get(at..at + 8)?.try_into().ok()?)
        };
        (12..self.length - 20).contains(&offset).then_some(offset)
    }

    /// The entry at `offset`, inflated (read into `scratch` when the pack is not in memory).
    fn read_entry(
        &self,
        offset: u64,
        scratch: &mut Vec<u8>,
        inflate: &mut Decompress,
    ) -> Option<Raw> {
        let end = self.length - 20;
        if !(12..end).contains(&offset) {
            return None;
        }
        let buffer: &[u8] = match &self.memory {
            Some(bytes) => bytes.get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?)?,
            None => {
                let first = usize::try_from((end - offset).min(FIRST_READ)).ok()?;
                scratch.clear();
                scratch.resize(first, 0);
                read_at(&self.file, scratch, offset)?;
                scratch
            }
        };
        let mut at = 0;
        let mut byte = *buffer.get(at)?;
        at += 1;
        let kind = (byte >> 4) & 7;
        let mut size = u64::from(byte & 15);
        let mut shift = 4;
        while byte & 0x80 != 0 {
            byte = *buffer.get(at)?;
            at += 1;
            if shift > 57 {
                return None;
            }
            size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        let base = match kind {
            6 => {
                let mut byte = *buffer.get(at)?;
                at += 1;
                let mut distance = u64::from(byte & 0x7f);
                while byte & 0x80 != 0 {
                    byte = *buffer.get(at)?;
                    at += 1;
                    distance = distance
                        .checked_add(1)?
                        .checked_mul(128)?
                        .checked_add(u64::from(byte & 0x7f))?;
                }
                let base = offset.checked_sub(distance)?;
                if base < 12 || distance == 0 {
                    return None;
                }
                Some(Err(base))
            }
            7 => {
                let id: [u8; 20] = buffer.get(at..at + 20)?.try_into().ok()?;
                at += 20;
                Some(Ok(id))
            }
            _ => None,
        };
        let data_start = offset + at as u64;
        if data_start >= end || size > (end - data_start).saturating_mul(MAX_RATIO) {
            return None;
        }
        let size = usize::try_from(size).ok().filter(|&s| s <= MAX_OBJECT)?;
        let data = self.inflate(inflate, &buffer[at..], offset + buffer.len() as u64, size)?;
        Some(match (kind, base) {
            (1, None) => Raw::Whole(Kind::Commit, data),
            (2, None) => Raw::Whole(Kind::Tree, data),
            (3, None) => Raw::Whole(Kind::Blob, data),
            (4, None) => Raw::Whole(Kind::Tag, data),
            (_, Some(Err(base))) => Raw::OfsDelta(base, data),
            (_, Some(Ok(id))) => Raw::RefDelta(id, data),
            _ => return None,
        })
    }

    /// Inflates the zlib stream that starts with `first` (which ends at `next` in the pack),
    /// which must hold exactly `size` bytes, reading more of the pack as it needs.
    fn inflate(
        &self,
        inflate: &mut Decompress,
        first: &[u8],
        mut next: u64,
        size: usize,
    ) -> Option<Vec<u8>> {
        let end = self.length - 20;
        inflate.reset(true);
        // One byte to spare: a stream that fills it holds more than its header says.
        let mut out = Vec::with_capacity(size + 1);
        let mut more: Option<Vec<u8>> = None;
        let mut used = 0;
        loop {
            let input = more.as_deref().unwrap_or(first);
            let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress_vec(&input[used..], &mut out, FlushDecompress::None)
                .ok()?;
            used += usize::try_from(inflate.total_in() - before_in).ok()?;
            if status == Status::StreamEnd {
                break;
            }
            if out.len() > size {
                return None;
            }
            if used == input.len() {
                // The stream goes on past what was read: read on, up to the pack's trailer.
                if next >= end {
                    return None;
                }
                let wanted = NEXT_READ.max(u64::try_from(size).ok()? / 2);
                let length = (end - next).min(wanted);
                let mut chunk = vec![0u8; usize::try_from(length).ok()?];
                read_at(&self.file, &mut chunk, next)?;
                more = Some(chunk);
                next += length;
                used = 0;
            } else if inflate.total_in() == before_in && inflate.total_out() == before_out {
                return None;
            }
        }
        (out.len() == size).then_some(out)
    }
}

/// Fills `buffer` from `file` at `offset`.
#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> Option<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset).ok()
}

/// Fills `buffer` from `file` at `offset`.
#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> Option<()> {
    let mut done = 0;
    while done < buffer.len() {
        let n = std::os::windows::fs::FileExt::seek_read(
            file,
            &mut buffer[done..],
            offset + done as u64,
        )
        .ok()?;
        if n == 0 {
            return None;
        }
        done += n;
    }
    Some(())
}

/// Without positioned reads, no pack is read here.
#[cfg(not(any(unix, windows)))]
fn read_at(_file: &File, _buffer: &mut [u8], _offset: u64) -> Option<()> {
    None
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// An object read: its type and its bytes.
type Cached = (Kind, Rc<Vec<u8>>);

/// Objects read lately (bases of deltas and what was built on them), by pack and offset, up
/// to [`BASE_CACHE_BYTES`]; the oldest go first.
#[derive(Default)]
struct BaseCache {
    objects: HashMap<(usize, u64), Cached, BuildHasherDefault<OidHasher>>,
    order: VecDeque<(usize, u64)>,
    bytes: usize,
}

impl BaseCache {
    fn get(&self, pack: usize, offset: u64) -> Option<Cached> {
        self.objects
            .get(&(pack, offset))
            .map(|(kind, data)| (*kind, Rc::clone(data)))
    }

    fn put(&mut self, pack: usize, offset: u64, kind: Kind, data: Rc<Vec<u8>>) {
        if data.len() > BASE_CACHE_BYTES / 4 || self.objects.contains_key(&(pack, offset)) {
            return;
        }
        self.bytes += data.len();
        self.objects.insert((pack, offset), (kind, data));
        self.order.push_back((pack, offset));
        while self.bytes > BASE_CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, data)) = self.objects.remove(&oldest) {
                self.bytes -= data.len();
            }
        }
    }
}

/// A delta's header number: 7 bits a byte, least significant first.
fn delta_size(delta: &[u8], at: &mut usize) -> Option<usize> {
    let mut size = 0u64;
    let mut shift = 0;
    loop {
        let byte = *delta.get(*at)?;
        *at += 1;
        let bits = u64::from(byte & 0x7f);
        if shift > 63 || (shift > 57 && bits >> (64 - shift) != 0) {
            return None;
        }
        size |= bits << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return usize::try_from(size).ok();
        }
    }
}

/// `base` with `delta` applied; `None` for a delta that does not fit its base or its own
/// header.
fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    if delta_size(delta, &mut at)? != base.len() {
        return None;
    }
    let target = delta_size(delta, &mut at)?;
    if target > MAX_OBJECT {
        return None;
    }
    let mut out = Vec::with_capacity(target);
    while let Some(&op) = delta.get(at) {
        at += 1;
        let piece = if op & 0x80 != 0 {
            // Copy from the base: offset in bits 0-3, size in bits 4-6, each byte present when
            // its bit is set.
            let mut number = |bits: std::ops::Range<u8>| -> Option<usize> {
                let mut value = 0usize;
                for (i, bit) in bits.enumerate() {
                    if op & (1 << bit) != 0 {
                        value |= usize::from(*delta.get(at)?) << (8 * i);
                        at += 1;
                    }
                }
                Some(value)
            };
            let offset = number(0..4)?;
            let size = match number(4..7)? {
                0 => 0x10000,
                size => size,
            };
            base.get(offset..offset.checked_add(size)?)?
        } else if op != 0 {
            let piece = delta.get(at..at + usize::from(op))?;
            at += usize::from(op);
            piece
        } else {
            return None; // reserved
        };
        if out.len() + piece.len() > target {
            return None;
        }
        out.extend_from_slice(piece);
    }
    (out.len() == target).then_some(out)
}

/// The entries of a tree object: `<octal mode> SP <name> NUL <20-byte id>`, repeated. `None`
/// for anything libgit2 might read otherwise: a malformed entry, an empty name, a mode beyond
/// 16 bits, entries out of git's order or named twice (looking a name up would then depend on
/// how it is searched).
pub(crate) fn parse_tree(mut data: &[u8]) -> Option<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ')?;
        let (digits, rest) = (&data[..space], &data[space + 1..]);
        if digits.is_empty() || digits.len() > 7 {
            return None;
        }
        let mut raw = 0u32;
        for &digit in digits {
            if !(b'0'..=b'7').contains(&digit) {
                return None;
            }
            raw = raw * 8 + u32::from(digit - b'0');
        }
        if raw > 0xffff {
            return None;
        }
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = &rest[..nul];
        // A name holding `/` is one no git writes; looked up by its first component it would
        // tie with a tree of that name (see `git_order`). libgit2 reads such a tree instead.
        if name.is_empty() || name.len() > 0xffff || name.contains(&b'/') {
            return None;
        }
        let id = rest.get(nul + 1..nul + 21)?;
        data = &rest[nul + 21..];
        let is_tree = raw & 0o170_000 == 0o040_000;
        if let Some(last) = entries.last()
            && (*last.name == *name
                || git_order(&last.name, last.is_tree, name, is_tree) != std::cmp::Ordering::Less)
        {
            return None;
        }
        entries.push(Entry {
            name: name.into(),
            mode: normalize_mode(raw),
            id: Oid::from_bytes(id).ok()?,
            is_tree,
        });
    }
    Some(entries)
}

/// libgit2's `normalize_filemode`: the mode `git_tree_entry_filemode` reports.
fn normalize_mode(raw: u32) -> i32 {
    match raw & 0o170_000 {
        0o040_000 => 0o040_000,
        // `GIT_PERMS_IS_EXEC`: the owner's execute bit only (`100654` reads as `100644`).
        _ if raw & 0o100 != 0 => 0o100_755,
        0o160_000 => 0o160_000,
        0o120_000 => 0o120_000,
        _ => 0o100_644,
    }
}

/// Git's order of tree entries: by name, a tree's name read as if it ended with `/`.
pub(crate) fn git_order(x: &[u8], x_tree: bool, y: &[u8], y_tree: bool) -> std::cmp::Ordering {
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let next = |name: &[u8], tree: bool| name.get(common).copied().or(tree.then_some(b'/'));
        next(x, x_tree).cmp(&next(y, y_tree))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delta header number.
    fn number(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = u8::try_from(n & 0x7f).unwrap();
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn delta(base: usize, target: usize, ops: &[u8]) -> Vec<u8> {
        let mut out = number(base);
        out.extend(number(target));
        out.extend_from_slice(ops);
        out
    }

    #[test]
    fn deltas_copy_and_insert() {
        let base = b"hello, world";
        // Copy 5 bytes at 0, insert "!!", copy 5 bytes at 7.
        let ops = [0x90, 5, 2, b'!', b'!', 0x91, 7, 5];
        assert_eq!(
            apply_delta(base, &delta(12, 12, &ops)).as_deref(),
            Some(&b"hello!!world"[..])
        );
        // A copy size of zero means 0x10000.
        let big = vec![7u8; 0x10000];
        assert_eq!(
            apply_delta(&big, &delta(0x10000, 0x10000, &[0x80])),
            Some(big.clone())
        );
        // Offset and size bytes can be left out in the middle (bits 1 and 5 only).
        let mut base = vec![0u8; 0x300];
        base[0x200..0x210].copy_from_slice(b"0123456789abcdef");
        assert_eq!(
            apply_delta(&base, &delta(0x300, 0x10, &[0x82, 0x02, 0x10]))
                .as_deref()
                .map(|_| ()),
            None, // no size byte: 0x10000 bytes at 0x200, beyond the base
        );
        assert_eq!(
            apply_delta(&base, &delta(0x300, 0x10, &[0x92, 0x02, 0x10])).as_deref(),
            Some(&b"0123456789abcdef"[..])
        );
    }

    #[test]
    fn bad_deltas_are_refused() {
        let base = b"hello, world";
        // The base's size does not match.
        assert_eq!(apply_delta(base, &delta(11, 5, &[0x90, 5])), None);
        // A copy past the base's end, or at an offset beyond it.
        assert_eq!(apply_delta(base, &delta(12, 13, &[0x90, 13])), None);
        assert_eq!(apply_delta(base, &delta(12, 1, &[0x91, 12, 1])), None);
        assert_eq!(
            apply_delta(base, &delta(12, 1, &[0x9f, 0xff, 0xff, 0xff, 0xff, 1])),
            None
        );
        // More, or fewer, bytes than the target size.
        assert_eq!(apply_delta(base, &delta(12, 4, &[0x90, 5])), None);
        assert_eq!(apply_delta(base, &delta(12, 6, &[0x90, 5])), None);
        assert_eq!(apply_delta(base, &delta(12, 3, &[3, b'a', b'b'])), None);
        // The reserved instruction, a cut header, a cut copy, a huge target.
        assert_eq!(apply_delta(base, &delta(12, 1, &[0])), None);
        assert_eq!(apply_delta(base, &[0x8c]), None);
        assert_eq!(apply_delta(base, &delta(12, 5, &[0x91])), None);
        assert_eq!(
            apply_delta(base, &delta(12, usize::MAX >> 1, &[0x90, 5])),
            None
        );
        assert_eq!(apply_delta(base, &[0xff; 12]), None);
        assert_eq!(apply_delta(b"", &delta(0, 0, &[])), Some(Vec::new()));
    }

    fn tree(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, id) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(&[*id; 20]);
        }
        out
    }

    #[test]
    fn trees_parse_in_git_order() {
        let data = tree(&[
            ("100644", "a.txt", 1),
            ("40000", "a", 2),
            ("100755", "a0", 3),
            ("100664", "b", 4),
            ("120000", "link", 5),
            ("160000", "sub", 6),
        ]);
        let entries = parse_tree(&data).expect("a tree");
        let seen: Vec<(&[u8], i32, bool)> = entries
            .iter()
            .map(|e| (&e.name[..], e.mode, e.is_tree))
            .collect();
        assert_eq!(
            seen,
            [
                (&b"a.txt"[..], 0o100_644, false),
                (b"a", 0o040_000, true),
                (b"a0", 0o100_755, false),
                (b"b", 0o100_644, false),
                (b"link", 0o120_000, false),
                (b"sub", 0o160_000, false),
            ]
        );
        assert_eq!(entries[1].id, Oid::from_bytes(&[2; 20]).unwrap());
        assert_eq!(parse_tree(b""), Some(Vec::new()));
    }

    #[test]
    fn modes_are_normalised_as_libgit2_does() {
        // `GIT_PERMS_IS_EXEC` reads the owner's execute bit only.
        for (raw, mode) in [
            (0o100_644, 0o100_644),
            (0o100_664, 0o100_644),
            (0o100_654, 0o100_644),
            (0o100_645, 0o100_644),
            (0o100_011, 0o100_644),
            (0o100_755, 0o100_755),
            (0o100_700, 0o100_755),
            (0o100_744, 0o100_755),
            (0o040_000, 0o040_000),
            (0o040_755, 0o040_000),
            (0o120_000, 0o120_000),
            (0o160_000, 0o160_000),
        ] {
            assert_eq!(normalize_mode(raw), mode, "{raw:o}");
        }
    }

    #[test]
    fn malformed_trees_are_refused() {
        let whole = tree(&[("100644", "a", 1), ("100644", "b", 2)]);
        // Cut anywhere but between its two entries (29 bytes each).
        for cut in (1..whole.len()).filter(|&cut| cut != 29) {
            assert_eq!(parse_tree(&whole[..cut]), None, "cut at {cut}");
        }
        for bad in [
            tree(&[("100648", "a", 1)]),
            tree(&[("", "a", 1)]),
            tree(&[("1000644", "a", 1)]),
            tree(&[("+100644", "a", 1)]),
            tree(&[("100644", "", 1)]),
            // Out of order, or twice.
            tree(&[("100644", "b", 1), ("100644", "a", 2)]),
            tree(&[("100644", "a", 1), ("100644", "a", 2)]),
            tree(&[("40000", "a", 1), ("100644", "a.txt", 2)]),
            // No git writes a name with `/`; looked up as `a` it would tie with a tree `a`.
            tree(&[("100644", "a/b", 1)]),
            tree(&[("100644", "a/b", 1), ("100644", "a0", 2)]),
        ] {
            assert_eq!(parse_tree(&bad), None, "{}", String::from_utf8_lossy(&bad));
        }
        // A file and a tree of one name, even in git's order.
        assert_eq!(
            parse_tree(&tree(&[("100644", "a", 1), ("40000", "a", 2)])),
            None
        );
        assert_eq!(
            parse_tree(&tree(&[("40000", "a", 1), ("100644", "a", 2)])),
            None
        );
    }

    #[test]
    fn the_base_cache_keeps_within_its_bytes() {
        let mut cache = BaseCache::default();
        let block = Rc::new(vec![0u8; BASE_CACHE_BYTES / 4]);
        for offset in 0..10 {
            cache.put(0, offset, Kind::Tree, Rc::clone(&block));
        }
        assert!(cache.bytes <= BASE_CACHE_BYTES);
        assert!(cache.get(0, 9).is_some());
        assert!(cache.get(0, 0).is_none());
    }
}
