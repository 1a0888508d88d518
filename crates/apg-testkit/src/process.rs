//! Processes: running helper programs, signalling and watching the postmaster,
//! and the watchdog that cleans up after a test process that is gone.
//!
//! Signals go through `sh -c 'kill ...'` (the shell builtin exists everywhere,
//! `/bin/kill` does not) so the crate needs neither `unsafe` nor `libc`.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

/// Runs `cmd` to completion and returns its output, or a [`Error::Command`]
/// carrying that output when it fails. Standard input is empty unless the
/// caller set it.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, Error> {
    let output = cmd
        .output()
        .map_err(|e| Error::io(format!("running `{}`", describe(cmd)), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(command_failed(cmd, &output))
    }
}

pub(crate) fn command_failed(cmd: &Command, output: &Output) -> Error {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Error::Command {
        command: describe(cmd),
        status: output.status.to_string(),
        output: text,
    }
}

/// The command line of `cmd`, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Sends `signal` (a name such as `QUIT`) to `pid`.
pub(crate) fn signal(pid: u32, signal: &str) -> Result<(), Error> {
    run(Command::new("sh")
        .args(["-c", "kill -s \"$1\" \"$2\"", "sh", signal])
        .arg(pid.to_string()))
    .map(drop)
}

/// Whether `pid` is a live process. A zombie counts as gone: an orphaned
/// postmaster is re-parented to PID 1, and in some containers PID 1 never reaps
/// its children, so the zombie would otherwise look alive forever.
pub(crate) fn is_alive(pid: u32) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state letter follows the parenthesised command name, which may
            // itself contain parentheses, hence the last `)`.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        };
    }
    Command::new("sh")
        .args(["-c", "kill -0 \"$1\" 2>/dev/null", "sh"])
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `pid` has `dir` as its working directory. A postmaster changes into
/// its data directory, so this tells our postmaster from an unrelated process
/// that reused the number in a stale `postmaster.pid`. Without `/proc` the check
/// cannot be made and is assumed to pass.
pub(crate) fn has_cwd(pid: u32, dir: &Path) -> bool {
    if !Path::new("/proc/self/cwd").exists() {
        return true;
    }
    match fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => cwd == dir || fs::canonicalize(dir).is_ok_and(|d| d == cwd),
        Err(_) => false,
    }
}

/// The postmaster's process id: the first line of `postmaster.pid`.
pub(crate) fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Polls `done` every few milliseconds until it returns true or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for our own child to exit, reaping it.
pub(crate) fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    wait_until(timeout, || !matches!(child.try_wait(), Ok(None)))
}

/// The effective user id of this process.
pub(crate) fn euid() -> Result<u32, Error> {
    // Linux: the second field of the `Uid:` line is the effective uid.
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse().ok());
        if let Some(euid) = euid {
            return Ok(euid);
        }
    }
    let out = run(Command::new("id").arg("-u"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| Error::Protocol("`id -u` printed something other than a number".into()))
}

/// The watchdog script. Arguments: the test process id, the cluster's private
/// directory, its data directory.
///
/// It polls once a second. When the test process is gone while the directory
/// still exists (the process exited without running destructors, which is
/// always the case for the shared cluster held in a static, or it was killed),
/// it shuts the postmaster down with SIGQUIT (PostgreSQL's immediate shutdown),
/// escalates to SIGKILL after ten seconds, and deletes the directory. When the
/// directory disappears first, the owner cleaned up and the watchdog just ends.
/// The server is only signalled when its working directory is the one given, so a
/// stale pid file cannot make it hit an unrelated process. The same script serves the
/// postmaster (SIGQUIT, PostgreSQL's immediate shutdown) and PgBouncer (SIGTERM: 1.18
/// ignores SIGQUIT).
const WATCHDOG: &str = r#"
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    read -r s < "/proc/$1/stat" || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
ours() {
    [ -d /proc/self ] || return 0
    [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$2" ]
}
while alive "$1" && [ -d "$2" ]; do sleep 1; done
[ -d "$2" ] || exit 0
pid=
[ -r "$3/$4" ] && read -r pid < "$3/$4"
if [ -n "$pid" ] && alive "$pid" && ours "$pid" "$3"; then
    kill -s "$5" "$pid" 2>/dev/null
    n=0
    while alive "$pid" && [ "$n" -lt "$6" ]; do sleep 0.1 2>/dev/null || sleep 1; n=$((n+1)); done
    alive "$pid" && kill -s KILL "$pid" 2>/dev/null
fi
rm -rf "$2"
"#;

/// Starts the watchdog for a cluster living in `root` with data in `data_dir`.
///
/// It runs in its own process group with no inherited stdio: a Ctrl-C aimed at
/// the test run must not kill it, and a harness waiting for the test's output
/// pipes to close must not wait for it.
pub(crate) fn spawn_watchdog(root: &Path, server: &WatchedServer<'_>) -> Result<Child, Error> {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .args(["-c", WATCHDOG, "apg-testkit-watchdog"])
        .arg(std::process::id().to_string())
        .arg(root)
        .arg(server.work_dir)
        .arg(server.pid_file)
        .arg(server.signal)
        .arg(server.grace_tenths.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("starting the cleanup watchdog (sh)", e))
}

/// The server process a watchdog stops: the pid in `work_dir/pid_file`, signalled
/// only when `work_dir` is its working directory.
pub(crate) struct WatchedServer<'a> {
    /// The server's working directory, which holds its pid file.
    pub(crate) work_dir: &'a Path,
    /// The pid file's name.
    pub(crate) pid_file: &'a str,
    /// The signal for a fast stop (`QUIT` for PostgreSQL, `TERM` for PgBouncer).
    pub(crate) signal: &'a str,
    /// Tenths of a second before SIGKILL follows.
    pub(crate) grace_tenths: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness() {
        assert!(is_alive(std::process::id()));
        let mut child = Command::new("sh").args(["-c", "exit 0"]).spawn().unwrap();
        let pid = child.id();
        // Exited but not yet reaped: a zombie, which counts as gone.
        assert!(wait_until(Duration::from_secs(5), || !is_alive(pid)));
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn reads_effective_uid() {
        let out = Command::new("id").arg("-u").output().unwrap();
        let expected: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(euid().unwrap(), expected);
    }

    #[test]
    fn failing_command_reports_output() {
        let err = run(Command::new("sh").args(["-c", "echo oops >&2; exit 3"])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("oops"), "{text}");
        assert!(text.contains('3'), "{text}");
    }
}
