//! Running the server as an unprivileged user when the tests run as root.
//!
//! `initdb`, `postgres` and `pg_ctl` refuse to run as root, and CI containers
//! and many dev boxes run everything as root. Then the testkit runs those
//! programs as `postgres` when that user exists, or else as a system user
//! `apg-testkit` that it creates once.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

use crate::process::{euid, run};
use crate::Error;

/// The system user created when no `postgres` user exists.
pub(crate) const FALLBACK_USER: &str = "apg-testkit";

/// An unprivileged user to run server programs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl RunAs {
    /// Makes `cmd` run as this user.
    ///
    /// This uses std's `CommandExt::{uid, gid}`, which switch the child with
    /// setgid/setuid between fork and exec. When std sets a uid without an
    /// explicit group list, it also calls `setgroups(0, NULL)` first, so root's
    /// supplementary groups do not leak into the server (the tests check this via
    /// `/proc/<pid>/status`). The server then lacks the user's own supplementary
    /// groups (such as `ssl-cert` on Debian), which only matters for files the
    /// testkit never points it at. Hence no `setpriv`/`runuser`: neither is
    /// needed, and both are missing from some minimal images.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid);
    }
}

/// The user to run server programs as: `None` when this process is not root.
/// Determined once per process.
pub(crate) fn run_as() -> Result<Option<RunAs>, Error> {
    static RUN_AS: OnceLock<Result<Option<RunAs>, Error>> = OnceLock::new();
    RUN_AS.get_or_init(determine).clone()
}

fn determine() -> Result<Option<RunAs>, Error> {
    if euid()? != 0 {
        return Ok(None);
    }
    if let Some(user) = lookup("postgres")? {
        return Ok(Some(user));
    }
    if let Some(user) = lookup(FALLBACK_USER)? {
        return Ok(Some(user));
    }
    let mut useradd = Command::new("useradd");
    useradd.args([
        "--system",
        "--no-create-home",
        "--user-group",
        "--shell",
        "/usr/sbin/nologin",
        FALLBACK_USER,
    ]);
    if let Err(err) = run(&mut useradd) {
        // Another test process may have created it at the same moment.
        if let Some(user) = lookup(FALLBACK_USER)? {
            return Ok(Some(user));
        }
        return Err(Error::Unsupported(format!(
            "running as root, and PostgreSQL refuses to run as root; there is no \
             `postgres` user and creating `{FALLBACK_USER}` failed ({err}); create an \
             unprivileged user named `postgres`, or run the tests as a normal user"
        )));
    }
    lookup(FALLBACK_USER)?.map(Some).ok_or_else(|| {
        Error::Unsupported(format!("user `{FALLBACK_USER}` not found after useradd"))
    })
}

/// Looks a user up with `id`, which also sees users from NSS sources (LDAP and
/// the like) that a parse of `/etc/passwd` would miss.
fn lookup(name: &str) -> Result<Option<RunAs>, Error> {
    let id = |flag: &str| -> Result<Option<u32>, Error> {
        let out = Command::new("id")
            .arg(flag)
            .arg(name)
            .output()
            .map_err(|e| Error::io("running `id`", e))?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse().ok())
    };
    match (id("-u")?, id("-g")?) {
        (Some(uid), Some(gid)) if uid != 0 => Ok(Some(RunAs {
            name: name.to_owned(),
            uid,
            gid,
        })),
        _ => Ok(None),
    }
}
