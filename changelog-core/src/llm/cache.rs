//! Keeping answers so that the same request is not sent twice.
//!
//! An answer is kept under a key made of the request and the endpoint that answered it (see
//! [`Cached::key`]). On disk, an answer is only as trustworthy as the directory that holds it:
//! on Unix, [`DiskCache`] creates its directory private (mode 0700), never reads nor writes
//! in a directory that belongs to another user or that group or others may write, and never
//! serves an entry file that belongs to another user or that group or others may write.
//! [`DiskCache::open`] (which the provider [stack](super::stack) uses) refuses such a directory
//! with [`LlmError::UnsafeCacheDir`], which says how to fix it, rather than carrying on
//! without a cache unnoticed.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ChatRequest, Completion, CompletionStream, FinishReason, LlmError, LlmProvider, Message,
    StreamEvent,
};

/// A store of answers by key. Failing to read or write is a miss, never an error.
#[async_trait]
pub trait CompletionCache: Send + Sync {
    /// The answer stored under `key`, if any.
    async fn get(&self, key: &str) -> Option<Completion>;

    /// Stores `completion` under `key`, replacing what was there.
    async fn put(&self, key: &str, completion: &Completion);

    /// Removes what is stored under `key`. The default does nothing.
    async fn remove(&self, _key: &str) {}
}

/// An in-memory cache that forgets the least recently used answer past its capacity.
#[derive(Debug)]
pub struct MemoryCache {
    capacity: usize,
    state: Mutex<Lru>,
}

/// Entries with the tick of their last use, and the keys by tick (oldest first).
#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<String, (Completion, u64)>,
    by_use: BTreeMap<u64, String>,
    tick: u64,
}

impl Lru {
    fn touch(&mut self, key: &str) -> Option<&Completion> {
        self.tick += 1;
        let tick = self.tick;
        let (completion, used) = self.entries.get_mut(key)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, key.to_owned());
        Some(completion)
    }
}

impl MemoryCache {
    /// A cache that holds at most `capacity` answers (`0` holds none).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(Lru::default()),
        }
    }

    /// How many answers it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds no answer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // A panic elsewhere while holding the lock leaves the map consistent enough for a cache.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl CompletionCache for MemoryCache {
    async fn get(&self, key: &str) -> Option<Completion> {
        self.lock().touch(key).cloned()
    }

    async fn put(&self, key: &str, completion: &Completion) {
        if self.capacity == 0 {
            return;
        }
        let mut lru = self.lock();
        if lru.touch(key).is_some() {
            if let Some((stored, _)) = lru.entries.get_mut(key) {
                stored.clone_from(completion);
            }
            return;
        }
        while lru.entries.len() >= self.capacity {
            let Some((_, oldest)) = lru.by_use.pop_first() else {
                break;
            };
            lru.entries.remove(&oldest);
        }
        let tick = lru.tick;
        lru.entries
            .insert(key.to_owned(), (completion.clone(), tick));
        lru.by_use.insert(tick, key.to_owned());
    }

    async fn remove(&self, key: &str) {
        let mut lru = self.lock();
        if let Some((_, used)) = lru.entries.remove(key) {
            lru.by_use.remove(&used);
        }
    }
}

/// A cache on disk: one JSON file per key in a directory, created private (0700) on the
/// first write. Each file is written whole to a temporary file (0600) and then renamed, so
/// readers never see half of one. A file that cannot be read or parsed is a miss, and so is
/// every file when the directory is not the user's own and private (see the [module](self)).
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

/// The largest entry file read; a larger one is a miss.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

impl DiskCache {
    /// A cache in `dir` (see [`default_cache_dir`]), unchecked: when the directory turns out
    /// to be unsafe, every read is a miss and nothing is written. [`open`](Self::open) says so
    /// at once instead.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// A cache in `dir`, which must belong to the user running this process and be writable
    /// by no one else (a directory that does not exist yet is created so on the first
    /// write).
    ///
    /// # Errors
    ///
    /// [`LlmError::UnsafeCacheDir`] when `dir` exists and belongs to another user, or group
    /// or others may write to it, or it is not a directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, LlmError> {
        let dir = dir.into();
        match std::fs::metadata(&dir) {
            Ok(meta) => trust(&meta, &dir, true).map_err(|problem| LlmError::UnsafeCacheDir {
                dir: dir.display().to_string(),
                problem,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(LlmError::UnsafeCacheDir {
                    dir: dir.display().to_string(),
                    problem: format!("cannot be examined ({e})"),
                });
            }
        }
        Ok(Self { dir })
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a key: the key itself when it is a plain name, else its SHA-256.
    #[must_use]
    pub fn path_of(&self, key: &str) -> PathBuf {
        let plain = !key.is_empty()
            && key.len() <= 128
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let name = if plain {
            key.to_owned()
        } else {
            sha256_hex(key)
        };
        self.dir.join(format!("{name}.json"))
    }

    /// Whether the directory can be trusted now.
    fn dir_is_trusted(dir: &Path) -> bool {
        std::fs::metadata(dir).is_ok_and(|meta| trust(&meta, dir, true).is_ok())
    }

    fn read(dir: &Path, path: &Path) -> Option<Completion> {
        if !Self::dir_is_trusted(dir) {
            return None;
        }
        let file = std::fs::File::open(path).ok()?;
        // The metadata of the file opened, not of whatever the path names by now.
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES || trust(&meta, path, false).is_err() {
            return None;
        }
        serde_json::from_reader(std::io::BufReader::new(file)).ok()
    }

    fn write(dir: &Path, path: &Path, completion: &Completion) -> std::io::Result<()> {
        create_private_dir(dir)?;
        if !Self::dir_is_trusted(dir) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the cache directory is not private",
            ));
        }
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut file, completion)?;
        file.write_all(b"\n")?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[async_trait]
impl CompletionCache for DiskCache {
    async fn get(&self, key: &str) -> Option<Completion> {
        let dir = self.dir.clone();
        let path = self.path_of(key);
        tokio::task::spawn_blocking(move || Self::read(&dir, &path))
            .await
            .ok()
            .flatten()
    }

    async fn put(&self, key: &str, completion: &Completion) {
        let dir = self.dir.clone();
        let path = self.path_of(key);
        let completion = completion.clone();
        // A cache that cannot be written only costs a request next time.
        let _ignored =
            tokio::task::spawn_blocking(move || Self::write(&dir, &path, &completion)).await;
    }

    async fn remove(&self, key: &str) {
        let path = self.path_of(key);
        let _ignored = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
    }
}

/// Creates `dir` and its missing parents, each private to the user (0700 on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether a cache directory (`dir`) or entry file may be trusted: it belongs to the user
/// running this process and neither group nor others may write to it. The error says what is
/// wrong.
#[cfg(unix)]
fn trust(meta: &std::fs::Metadata, path: &Path, dir: bool) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;

    if dir && !meta.is_dir() {
        return Err("is not a directory".to_owned());
    }
    let Some(me) = current_uid(path) else {
        return Err("cannot be checked: the user running this process is unknown".to_owned());
    };
    if meta.uid() != me {
        return Err(format!(
            "belongs to user {} and not to the user running this process ({me})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "its group and by all users",
            (true, false) => "its group",
            _ => "all users",
        };
        return Err(format!("is writable by {who} (mode {mode:04o})"));
    }
    Ok(())
}

/// Elsewhere than on Unix, the file system's own permissions are the only check.
#[cfg(not(unix))]
fn trust(_meta: &std::fs::Metadata, _path: &Path, _dir: bool) -> Result<(), String> {
    Ok(())
}

/// The user id this process creates files as: the owner of a file it has just created (in the
/// temporary directory, else next to `near`). Found once.
#[cfg(unix)]
fn current_uid(near: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;

    static UID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    if let Some(uid) = UID.get() {
        return Some(*uid);
    }
    let beside = near.parent().filter(|p| !p.as_os_str().is_empty());
    let probe = tempfile::tempfile()
        .or_else(|e| beside.map_or(Err(e), tempfile::tempfile_in))
        .and_then(|file| file.metadata())
        .ok()?;
    Some(*UID.get_or_init(|| probe.uid()))
}

/// Where answers are kept by default: `$CHANGELOG_CACHE_DIR` if set, else the user's cache
/// directory + `changelog/llm` (`~/.cache/changelog/llm` on Linux). `None` when neither is
/// known.
#[must_use]
pub fn default_cache_dir() -> Option<PathBuf> {
    cache_dir_from(std::env::var_os("CHANGELOG_CACHE_DIR"), dirs::cache_dir())
}

fn cache_dir_from(variable: Option<OsString>, user_cache: Option<PathBuf>) -> Option<PathBuf> {
    match variable.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => user_cache.map(|dir| dir.join("changelog").join("llm")),
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a cache key is made of, serialised in this field order.
#[derive(Serialize)]
struct KeyParts<'a> {
    version: u32,
    provider: &'a str,
    endpoint: &'a str,
    model: &'a str,
    temperature: f32,
    max_output_tokens: u32,
    messages: &'a [Message],
}

/// A provider that answers from a cache when it can.
///
/// A hit returns the stored answer with `cached: true` and sends nothing. A miss asks the
/// inner provider and stores the answer if it is complete ([`FinishReason::Stop`]). For a
/// stream, a hit is replayed as one delta and the end; a miss passes the deltas on and stores
/// their sum when the stream ends well.
pub struct Cached {
    inner: Arc<dyn LlmProvider>,
    cache: Arc<dyn CompletionCache>,
    endpoint: String,
}

impl Cached {
    /// Wraps `inner` with `cache`.
    #[must_use]
    pub fn new(inner: Arc<dyn LlmProvider>, cache: Arc<dyn CompletionCache>) -> Self {
        let endpoint = inner.endpoint();
        Self {
            inner,
            cache,
            endpoint,
        }
    }

    /// The key of a request: the hex SHA-256 of a canonical JSON of the inner provider's name
    /// and [endpoint](LlmProvider::endpoint) (the API and its base URL, never the API key),
    /// the model, the temperature, the output limit and the messages. The same request to
    /// two servers has two keys.
    #[must_use]
    pub fn key(&self, request: &ChatRequest) -> String {
        let parts = KeyParts {
            version: 2,
            provider: self.inner.name(),
            endpoint: &self.endpoint,
            model: &request.model,
            temperature: request.temperature,
            max_output_tokens: request.max_output_tokens,
            messages: &request.messages,
        };
        let json = serde_json::to_string(&parts).unwrap_or_default();
        sha256_hex(&json)
    }
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner.name())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LlmProvider for Cached {
    /// The inner provider's name.
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let key = self.key(request);
        if let Some(mut hit) = self.cache.get(&key).await {
            hit.cached = true;
            return Ok(hit);
        }
        let completion = self.inner.complete(request).await?;
        if completion.finish_reason == FinishReason::Stop {
            self.cache.put(&key, &completion).await;
        }
        Ok(completion)
    }

    async fn forget(&self, request: &ChatRequest) {
        self.cache.remove(&self.key(request)).await;
        self.inner.forget(request).await;
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        let key = self.key(request);
        if let Some(hit) = self.cache.get(&key).await {
            let events = vec![
                Ok(StreamEvent::Delta(hit.text)),
                Ok(StreamEvent::Done {
                    usage: hit.usage,
                    model: hit.model,
                    finish_reason: hit.finish_reason,
                }),
            ];
            return Ok(Box::pin(futures_util::stream::iter(events)));
        }
        let inner = self.inner.stream(request).await?;
        let state = Recording {
            inner,
            cache: Arc::clone(&self.cache),
            key,
            text: String::new(),
        };
        let stream = futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            let event = state.inner.next().await?;
            match &event {
                Ok(StreamEvent::Delta(text)) => state.text.push_str(text),
                Ok(StreamEvent::Done {
                    usage,
                    model,
                    finish_reason,
                }) => {
                    if *finish_reason == FinishReason::Stop {
                        let completion = Completion {
                            text: std::mem::take(&mut state.text),
                            usage: *usage,
                            model: model.clone(),
                            finish_reason: finish_reason.clone(),
                            cached: false,
                        };
                        state.cache.put(&state.key, &completion).await;
                    }
                    return Some((event, None));
                }
                Err(_) => return Some((event, None)),
            }
            Some((event, Some(state)))
        });
        Ok(Box::pin(stream))
    }
}

/// A stream being passed on and added up.
struct Recording {
    inner: CompletionStream,
    cache: Arc<dyn CompletionCache>,
    key: String,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{Scripted, collect, completion, request};
    use crate::llm::{Role, Usage};

    #[tokio::test]
    async fn memory_cache_forgets_the_least_recently_used() {
        let cache = MemoryCache::new(2);
        cache.put("a", &completion("a")).await;
        cache.put("b", &completion("b")).await;
        assert!(cache.get("a").await.is_some()); // a is now newer than b
        cache.put("c", &completion("c")).await;
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").await.is_none());
        assert_eq!(cache.get("a").await, Some(completion("a")));
        assert_eq!(cache.get("c").await, Some(completion("c")));
        // Replacing keeps the size.
        cache.put("c", &completion("c2")).await;
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("c").await.map(|c| c.model), Some("c2".into()));
        let none = MemoryCache::new(0);
        none.put("a", &completion("a")).await;
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn disk_cache_round_trip_and_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path().join("nested/llm"));
        assert_eq!(cache.get("k").await, None, "no directory yet");
        cache.put("k", &completion("m")).await;
        assert_eq!(cache.get("k").await, Some(completion("m")));
        std::fs::write(cache.path_of("k"), b"{ not json").expect("write");
        assert_eq!(cache.get("k").await, None, "a corrupt file is a miss");
        // Keys that are not plain names are hashed into one.
        let odd = cache.path_of("../escape/me");
        assert_eq!(odd.parent(), Some(cache.dir()));
        cache.put("../escape/me", &completion("x")).await;
        assert_eq!(cache.get("../escape/me").await, Some(completion("x")));
    }

    #[test]
    fn cache_dir_prefers_the_variable() {
        let user = Some(PathBuf::from("/home/u/.cache"));
        assert_eq!(
            cache_dir_from(Some("/tmp/c".into()), user.clone()),
            Some(PathBuf::from("/tmp/c"))
        );
        assert_eq!(
            cache_dir_from(Some(OsString::new()), user.clone()),
            Some(PathBuf::from("/home/u/.cache/changelog/llm"))
        );
        assert_eq!(
            cache_dir_from(None, user),
            Some(PathBuf::from("/home/u/.cache/changelog/llm"))
        );
        assert_eq!(cache_dir_from(None, None), None);
    }

    #[test]
    fn key_depends_on_every_part() {
        let cached = Cached::new(Scripted::new([]), Arc::new(MemoryCache::new(1)));
        let base = request("m");
        let key = cached.key(&base);
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(cached.key(&base), key, "stable");
        let variants = [
            ChatRequest {
                model: "n".into(),
                ..base.clone()
            },
            ChatRequest {
                temperature: 0.3,
                ..base.clone()
            },
            ChatRequest {
                max_output_tokens: 101,
                ..base.clone()
            },
            ChatRequest {
                messages: vec![Message::user("Hello")],
                ..base.clone()
            },
            ChatRequest {
                messages: vec![
                    Message::system("Be brief."),
                    Message {
                        role: Role::Assistant,
                        content: "Hello".into(),
                    },
                ],
                ..base.clone()
            },
        ];
        for variant in &variants {
            assert_ne!(cached.key(variant), key, "{variant:?}");
        }
        let other = Cached::new(Scripted::named("other", []), Arc::new(MemoryCache::new(1)));
        assert_ne!(other.key(&base), key, "the provider is part of the key");
    }

    #[tokio::test]
    async fn second_request_is_a_hit() {
        let inner = Scripted::new([]);
        let cached = Cached::new(inner.clone(), Arc::new(MemoryCache::new(8)));
        let first = cached.complete(&request("m")).await.expect("miss");
        assert!(!first.cached);
        let second = cached.complete(&request("m")).await.expect("hit");
        assert_eq!(
            second,
            Completion {
                cached: true,
                ..first
            }
        );
        assert_eq!(inner.calls(), 1);
    }

    /// A provider whose answers were cut by the output limit.
    struct Truncating;

    #[async_trait]
    impl LlmProvider for Truncating {
        fn name(&self) -> &str {
            "truncating"
        }

        async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
            Ok(Completion {
                finish_reason: FinishReason::Length,
                ..completion(&request.model)
            })
        }
    }

    #[tokio::test]
    async fn incomplete_answers_are_not_stored() {
        let cache = Arc::new(MemoryCache::new(8));
        let cached = Cached::new(Arc::new(Truncating), cache.clone());
        cached.complete(&request("m")).await.expect("answer");
        let events = collect(cached.stream(&request("m")).await).await;
        assert_eq!(events.len(), 2);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn streams_are_recorded_then_replayed() {
        let inner = Scripted::new([]);
        let cache = Arc::new(MemoryCache::new(8));
        let cached = Cached::new(inner.clone(), cache.clone());
        let first = collect(cached.stream(&request("m")).await).await;
        let stored = cache.get(&cached.key(&request("m"))).await;
        assert_eq!(stored, Some(completion("m")));
        let second = collect(cached.stream(&request("m")).await).await;
        assert_eq!(first, second);
        assert_eq!(
            second.last(),
            Some(&Ok(StreamEvent::Done {
                usage: Usage {
                    input_tokens: 3,
                    output_tokens: 4
                },
                model: "m".into(),
                finish_reason: FinishReason::Stop,
            }))
        );
        assert_eq!(inner.calls(), 1);
    }
}
