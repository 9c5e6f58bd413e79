//! Temporary directories for tests that need files (static roots).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir (canonical path), removed
/// with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates the directory.
    pub fn new() -> Self {
        Self::tagged("t")
    }

    /// Creates the directory; `tag` goes into its name for debugging.
    pub fn tagged(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "tollgate-test-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(std::fs::canonicalize(&dir).expect("canonical temp dir"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to `rel` under the directory, creating parents.
    /// An existing file is replaced atomically (written aside, renamed
    /// over), as deployment tools do, so a watcher never reads half a file.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(rel);
        let parent = p.parent().unwrap_or(&self.0);
        std::fs::create_dir_all(parent).expect("create parent dirs");
        let name = p
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let aside = parent.join(format!(".{name}.tmp"));
        std::fs::write(&aside, content).expect("write file");
        std::fs::rename(&aside, &p).expect("rename file into place");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}
