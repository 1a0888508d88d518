//! Finding the PostgreSQL server programs.

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The environment variable naming the directory with `initdb`, `postgres` and
/// `pg_ctl`. It wins over every other source and is never second-guessed: a
/// directory it names that lacks a program is an error, not a reason to fall
/// back to another PostgreSQL version.
///
/// ```
/// assert_eq!(apg_testkit::BINDIR_ENV, "APG_TEST_PG_BINDIR");
/// ```
pub const BINDIR_ENV: &str = "APG_TEST_PG_BINDIR";

/// The programs the testkit runs.
const PROGRAMS: [&str; 3] = ["initdb", "postgres", "pg_ctl"];

/// Finds the directory holding the server programs: `explicit` (from the
/// builder), then `APG_TEST_PG_BINDIR`, then `PATH`, then `pg_config --bindir`,
/// then the highest-numbered `/usr/lib/postgresql/*/bin` or `/usr/pgsql-*/bin`.
pub(crate) fn find(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let from_env = env::var_os(BINDIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(dir) = explicit.map(Path::to_path_buf).or(from_env) {
        return if has_programs(&dir) {
            Ok(fs::canonicalize(&dir).unwrap_or(dir))
        } else {
            Err(Error::BinariesNotFound {
                searched: vec![dir.clone()],
                explicit: Some(dir),
            })
        };
    }

    let mut searched = Vec::new();
    for dir in env::split_paths(&env::var_os("PATH").unwrap_or_default()) {
        // PATH often holds symlinks to the real programs (Homebrew,
        // /usr/local/bin); the real directory is where the siblings are.
        let initdb = dir.join("initdb");
        if is_executable(&initdb) {
            if let Some(real) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                if has_programs(&real) {
                    return Ok(real);
                }
                searched.push(real);
            }
        }
        searched.push(dir);
    }

    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_programs(&dir) {
                return Ok(dir);
            }
            searched.push(dir);
        }
    }

    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
    ] {
        let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = version_key(name.strip_prefix(prefix)?)?;
                Some((version, entry.path().join(suffix)))
            })
            .collect();
        versions.sort();
        for (_, dir) in versions.into_iter().rev() {
            if has_programs(&dir) {
                return Ok(dir);
            }
            searched.push(dir);
        }
    }

    Err(Error::BinariesNotFound {
        searched,
        explicit: None,
    })
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for anything else.
fn version_key(s: &str) -> Option<Vec<u32>> {
    s.split('.').map(|p| p.parse().ok()).collect()
}

fn has_programs(dir: &Path) -> bool {
    PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_sort_numerically() {
        assert_eq!(version_key("15"), Some(vec![15]));
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("main"), None);
        assert!(version_key("9.6") < version_key("10"));
    }

    #[test]
    fn explicit_directory_must_hold_the_programs() {
        let err = find(Some(Path::new("/nonexistent/apg-testkit"))).unwrap_err();
        assert!(matches!(
            err,
            Error::BinariesNotFound {
                explicit: Some(_),
                ..
            }
        ));
        assert!(err.to_string().contains("/nonexistent/apg-testkit"));
    }
}
