//! Reading files from directories someone else filled (snapshot directories, manifest trees):
//! only regular files inside the directory, each under a size limit, logs from their tail.
//!
//! A snapshot directory may come from another team, a support bundle or an attacker. Reading
//! it must not leak files outside it (`objects/pods.json -> /etc/shadow` would otherwise be
//! parsed and its text quoted in an error), hang on a FIFO or device, loop on a symbolic link
//! to a parent, or exhaust memory on a huge file. The rules:
//! - a symbolic link is followed only when its target (fully resolved) is inside the walked
//!   root; otherwise the walk stops with an error naming the link and where it leads;
//! - directories reached through links are not walked (no loops);
//! - anything that is not a regular file (FIFO, socket, device) is refused by name;
//! - text files are read only up to a stated limit; logs keep their last bytes.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::{CollectError, Result};

/// Largest object file read (a `kubectl get pods -A -o json` of 10 000 pods is ~150 MiB).
pub const MAX_OBJECT_FILE_BYTES: u64 = 512 << 20;
/// Largest `snapshot.json` read.
pub const MAX_META_FILE_BYTES: u64 = 1 << 20;

/// Walks `dir` (which is `root` or below it) and returns the regular files under it whose
/// name `keep` accepts, sorted.
///
/// # Errors
/// A directory cannot be read; a symbolic link leads outside `root`; an entry is neither a
/// directory nor a regular file. Each error names the path.
pub fn walk_inside(root: &Path, dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let root_real =
        fs::canonicalize(root).map_err(|source| CollectError::Io { path: root.to_path_buf(), source })?;
    let mut out = Vec::new();
    walk(&root_real, dir, keep, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CollectError::Io { path, source }
    };
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(io(&path))?;
        if ty.is_dir() {
            walk(root, &path, keep, out)?;
            continue;
        }
        if !keep(&path) {
            continue;
        }
        if ty.is_symlink() {
            let target = fs::canonicalize(&path).map_err(io(&path))?;
            if !target.starts_with(root) {
                return Err(CollectError::Invalid {
                    path,
                    reason: format!(
                        "is a symbolic link to {}, outside the directory being read ({}); aiops reads only files inside it",
                        target.display(),
                        root.display()
                    ),
                });
            }
            let meta = fs::metadata(&target).map_err(io(&path))?;
            if meta.is_dir() {
                // A linked directory is not walked: it is inside the root, so its files are
                // read where they really are, and a link to a parent cannot loop.
                continue;
            }
            if !meta.is_file() {
                return Err(not_regular(path));
            }
        } else if !ty.is_file() {
            return Err(not_regular(path));
        }
        out.push(path);
    }
    Ok(())
}

/// Opens a file that a directory's layout names (not found by [`walk_inside`]) under the
/// same rules: a symbolic link only to a regular file inside `root`, no FIFO, socket or
/// device (checked before opening, so a FIFO cannot block the open).
///
/// # Errors
/// The file is missing or unreadable, leads outside `root`, or is not a regular file; the
/// error names it.
pub fn open_inside(root: &Path, path: &Path) -> Result<fs::File> {
    let io = |source| CollectError::Io { path: path.to_path_buf(), source };
    let root_real =
        fs::canonicalize(root).map_err(|source| CollectError::Io { path: root.to_path_buf(), source })?;
    let real = fs::canonicalize(path).map_err(io)?;
    if !real.starts_with(&root_real) {
        return Err(CollectError::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "leads to {}, outside the directory being read ({}); aiops reads only files inside it",
                real.display(),
                root_real.display()
            ),
        });
    }
    if !fs::metadata(&real).map_err(io)?.is_file() {
        return Err(not_regular(path.to_path_buf()));
    }
    let f = fs::File::open(&real).map_err(io)?;
    if !f.metadata().map_err(io)?.is_file() {
        return Err(not_regular(path.to_path_buf()));
    }
    Ok(f)
}

fn not_regular(path: PathBuf) -> CollectError {
    CollectError::Invalid {
        path,
        reason: "is not a regular file (a FIFO, socket or device); aiops reads only regular files".into(),
    }
}

/// Reads a UTF-8 text file of at most `max` bytes.
///
/// # Errors
/// The file cannot be opened, is not a regular file, is larger than `max` or is not UTF-8.
pub fn read_text_capped(path: &Path, max: u64) -> Result<String> {
    read_capped(path, max, false)
}

/// Reads a file the user named on the command line: like [`read_text_capped`], but a pipe
/// (`<(kubectl get pods -o yaml)`) is read too, still only up to `max` bytes.
///
/// # Errors
/// As [`read_text_capped`].
pub fn read_named_text(path: &Path, max: u64) -> Result<String> {
    read_capped(path, max, true)
}

fn read_capped(path: &Path, max: u64, pipes: bool) -> Result<String> {
    use std::os::unix::fs::FileTypeExt;
    let io = |source| CollectError::Io { path: path.to_path_buf(), source };
    let f = fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !(meta.is_file() || pipes && meta.file_type().is_fifo()) {
        return Err(not_regular(path.to_path_buf()));
    }
    if meta.len() > max {
        return Err(too_large(path, meta.len(), max));
    }
    let mut buf = String::new();
    // `take` holds even if the file grows between the check and the read.
    f.take(max + 1).read_to_string(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(too_large(path, buf.len() as u64, max));
    }
    Ok(buf)
}

fn too_large(path: &Path, len: u64, max: u64) -> CollectError {
    CollectError::Invalid {
        path: path.to_path_buf(),
        reason: format!(
            "is {} MiB, larger than the {} MiB aiops reads from one file; split it into several files",
            len.div_ceil(1 << 20),
            max >> 20
        ),
    }
}

/// Reads at most `max` bytes from the end of a file, starting at a line boundary; invalid
/// UTF-8 is replaced. Only the tail is read, however large the file. Returns the text and
/// whether anything was left out.
///
/// # Errors
/// The file cannot be opened, read or is not a regular file.
pub fn read_tail(path: &Path, max: usize) -> Result<(String, bool)> {
    let io = |source| CollectError::Io { path: path.to_path_buf(), source };
    let mut f = fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(path.to_path_buf()));
    }
    let len = meta.len();
    let max64 = max as u64;
    let truncated = len > max64;
    if truncated {
        f.seek(SeekFrom::Start(len - max64)).map_err(io)?;
    }
    let mut buf = Vec::with_capacity(max.min(len as usize));
    f.take(max64).read_to_end(&mut buf).map_err(io)?;
    let mut start = 0;
    if truncated && let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        start = nl + 1;
    }
    Ok((String::from_utf8_lossy(&buf[start..]).into_owned(), truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn any(_: &Path) -> bool {
        true
    }

    #[test]
    fn a_link_leaving_the_directory_is_refused_by_name() {
        let outside = tmp();
        let secret = outside.path().join("shadow");
        fs::write(&secret, "root:x:0").unwrap();
        let root = tmp();
        fs::create_dir(root.path().join("objects")).unwrap();
        let link = root.path().join("objects/pods.json");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let e = walk_inside(root.path(), &root.path().join("objects"), &any).unwrap_err().to_string();
        assert!(e.contains("pods.json") && e.contains("outside the directory"), "{e}");
        assert!(!e.contains("root:x"), "{e}");
    }

    #[test]
    fn a_link_inside_the_directory_is_read_and_a_link_to_a_parent_does_not_loop() {
        let root = tmp();
        let objects = root.path().join("objects");
        fs::create_dir(&objects).unwrap();
        fs::write(root.path().join("real.json"), "{}").unwrap();
        std::os::unix::fs::symlink(root.path().join("real.json"), objects.join("a.json")).unwrap();
        std::os::unix::fs::symlink(root.path(), objects.join("loop")).unwrap();
        let files = walk_inside(root.path(), &objects, &any).unwrap();
        assert_eq!(files, vec![objects.join("a.json")]);
    }

    #[test]
    fn a_fifo_is_refused_not_read() {
        let root = tmp();
        let fifo = root.path().join("pods.json");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let e = walk_inside(root.path(), root.path(), &any).unwrap_err().to_string();
        assert!(e.contains("pods.json") && e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_named_file_is_opened_only_when_regular_and_inside() {
        let outside = tmp();
        let secret = outside.path().join("secret.parquet");
        fs::write(&secret, "x").unwrap();
        let root = tmp();
        let m = root.path().join("metrics");
        fs::create_dir(&m).unwrap();
        fs::write(m.join("series.parquet"), "ok").unwrap();
        assert!(open_inside(root.path(), &m.join("series.parquet")).is_ok());
        std::os::unix::fs::symlink(m.join("series.parquet"), m.join("inside.parquet")).unwrap();
        assert!(open_inside(root.path(), &m.join("inside.parquet")).is_ok());
        std::os::unix::fs::symlink(&secret, m.join("axes.parquet")).unwrap();
        let e = open_inside(root.path(), &m.join("axes.parquet")).unwrap_err().to_string();
        assert!(e.contains("axes.parquet") && e.contains("outside the directory"), "{e}");
        let fifo = m.join("fifo.parquet");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = open_inside(root.path(), &fifo).unwrap_err().to_string();
        assert!(e.contains("fifo.parquet") && e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_its_size() {
        let root = tmp();
        let f = root.path().join("big.json");
        fs::write(&f, vec![b' '; 3 << 20]).unwrap();
        let e = read_text_capped(&f, 2 << 20).unwrap_err().to_string();
        assert!(e.contains("big.json") && e.contains("3 MiB") && e.contains("2 MiB"), "{e}");
        assert_eq!(read_text_capped(&f, 4 << 20).unwrap().len(), 3 << 20);
    }

    #[test]
    fn the_tail_starts_at_a_line_and_reads_only_the_end() {
        let root = tmp();
        let f = root.path().join("c.log");
        fs::write(&f, "first line\nsecond line\nthird\n").unwrap();
        assert_eq!(read_tail(&f, 100).unwrap(), ("first line\nsecond line\nthird\n".to_string(), false));
        // The last 15 bytes are "ond line\nthird\n": the partial line goes.
        assert_eq!(read_tail(&f, 15).unwrap(), ("third\n".to_string(), true));
    }
}
