//! Writing a file so that readers see the old content or the new, never a part of it: the
//! command line's `--output` and `--prepend`, and the Python module's `prepend`, write
//! changelog files this way.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What [`write_atomically`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The path itself (a new or an existing file, or a device written in place).
    Path,
    /// The file a symbolic link points to.
    ThroughLink(PathBuf),
}

/// Writes to a temporary file next to `path`, flushes it to disk, then renames it over `path`,
/// so readers see either the old content or the new, never a part.
///
/// - A new file gets the mode a shell redirect gives (0666 less the umask).
/// - An existing file keeps its mode; a read-only one is refused unless `force`.
/// - A symbolic link is followed: the file it points to is replaced, the link stays. A link to
///   nothing is refused (writing would either replace the link with a file or create a file
///   somewhere the caller did not name).
///
/// # Errors
///
/// What the file system refuses, and the refusals above, each naming the reason.
/// - A target that is not a regular file (`/dev/stdout`, a pipe) is written in place.
pub fn write_atomically(
    path: &Path,
    force: bool,
    contents: impl FnOnce(&mut io::BufWriter<&fs::File>) -> io::Result<()>,
) -> io::Result<Written> {
    let is_link = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata.file_type().is_symlink(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    let existing = match fs::metadata(path) {
        Ok(metadata) => Some(metadata),
        Err(e) if e.kind() == io::ErrorKind::NotFound && is_link => {
            let target = fs::read_link(path)?;
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "it is a symbolic link to `{}`, which does not exist; create that file first or name it instead",
                    target.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(metadata) = &existing
        && !metadata.is_file()
    {
        if metadata.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        let file = fs::OpenOptions::new().write(true).open(path)?;
        contents(&mut io::BufWriter::new(&file))?;
        return Ok(Written::Path);
    }
    if let Some(metadata) = &existing
        && metadata.permissions().readonly()
        && !force
    {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is read-only; pass --force to replace it",
        ));
    }
    let target = if is_link {
        fs::canonicalize(path)?
    } else {
        path.to_owned()
    };
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".changelog-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The kernel applies the umask to this mode, as it does for a shell redirect.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let file = builder.tempfile_in(dir)?;
    contents(&mut io::BufWriter::with_capacity(1 << 16, file.as_file()))?;
    if let Some(metadata) = existing {
        file.as_file().set_permissions(metadata.permissions())?;
    }
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|e| e.error)?;
    Ok(if is_link {
        Written::ThroughLink(target)
    } else {
        Written::Path
    })
}
