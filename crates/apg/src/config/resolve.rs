//! From a [`Config`] to the concrete list of servers to try, with user, database and
//! per-host password filled in. This is the step that touches the file system (the
//! password file, default socket directories), so parsing never does.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::param::DEFAULT_PORT;
use super::passfile::{self, PassFile, DEFAULT_SOCKET_DIRS};
use super::{Config, ConfigError, Host};

/// One server to try, in the order of the configuration.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The host name (used for TLS server-name checks) or socket directory. When only
    /// `hostaddr` was given, the address written as text.
    pub host: Host,
    /// The numeric address to connect to instead of resolving `host` (libpq
    /// `hostaddr`).
    pub hostaddr: Option<IpAddr>,
    /// The port (for a Unix socket: the `.s.PGSQL.<port>` suffix).
    pub port: u16,
    /// The password for this server: the configured one, else the password file's.
    pub password: Option<Vec<u8>>,
    /// Whether `password` came from the password file; worth mentioning when
    /// authentication fails, as libpq does.
    pub password_from_file: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_from_file", &self.password_from_file)
            .finish()
    }
}

impl Target {
    /// The path of the Unix socket for this target, if it is one.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match &self.host {
            Host::Unix(dir) => Some(dir.join(format!(".s.PGSQL.{}", self.port))),
            Host::Tcp(_) => None,
        }
    }
}

/// A configuration made concrete for one connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Servers to try, in order.
    pub targets: Vec<Target>,
    /// The role to log in as.
    pub user: String,
    /// The database (the user name when none is configured).
    pub dbname: String,
    /// Problems that did not stop resolution, such as a password file with loose
    /// permissions that was ignored. Report them to the user.
    pub warnings: Vec<String>,
}

impl Config {
    /// Resolves the configuration using the process environment (`HOME`/`APPDATA` for
    /// the default password file, `USER`/`LOGNAME`/`USERNAME` for the default user)
    /// and the file system. See [`Config::resolve_with`].
    ///
    /// # Errors
    ///
    /// As [`Config::resolve_with`].
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        self.resolve_with(process_env)
    }

    /// Resolves the configuration, reading environment variables through `env`.
    ///
    /// * Targets: one per host (paired with `hostaddr` and the port at the same
    ///   position, or the single port for all). With no host and no `hostaddr`, every
    ///   directory of [`DEFAULT_SOCKET_DIRS`] holding a socket for the port, then
    ///   `localhost`.
    /// * User: the configured one, else the `USER`, `LOGNAME` or `USERNAME`
    ///   variable. Database: the configured one, else the user name.
    /// * Password: the configured one (the same for every target), else the first
    ///   matching line of the password file for each target. The file is
    ///   `passfile` if set, else the default location (`~/.pgpass`); see
    ///   [`PassFile::load`] for when it is ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigError::PortCountMismatch`] / [`ConfigError::HostaddrCountMismatch`]
    /// when the lists do not line up, [`ConfigError::NoUser`] when no user name is
    /// known.
    pub fn resolve_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, ConfigError> {
        super::param::validate(self)?;
        let user = self.user_or_default(&env).ok_or(ConfigError::NoUser)?;
        let dbname = self.dbname.clone().unwrap_or_else(|| user.clone());

        let mut targets = self.base_targets();
        let mut warnings = Vec::new();
        let configured = self.password.as_ref().filter(|p| !p.is_empty());
        let passfile = match configured {
            Some(_) => None,
            None => self.load_passfile(&env, &mut warnings),
        };
        for target in &mut targets {
            let found = passfile.as_ref().and_then(|file| {
                let host = passfile::pgpass_host(&target.host);
                file.find(&host, target.port, &dbname, &user)
            });
            target.password_from_file = found.is_some();
            // An explicitly empty password is kept when the file has nothing.
            target.password = found.map(<[u8]>::to_vec).or_else(|| self.password.clone());
        }
        Ok(Resolved {
            targets,
            user,
            dbname,
            warnings,
        })
    }

    /// The password to use for `host:port`: the configured one, else the first
    /// matching line of the password file (looked up as [`Config::resolve`] does,
    /// using the process environment). Warnings about an ignored password file are
    /// dropped; use [`Config::resolve`] to see them.
    pub fn password_for(&self, host: &Host, port: u16) -> Option<Vec<u8>> {
        if self.password.as_ref().is_some_and(|p| !p.is_empty()) {
            return self.password.clone();
        }
        let found = self.user_or_default(&process_env).and_then(|user| {
            let dbname = self.dbname.as_deref().unwrap_or(&user);
            let file = self.load_passfile(&process_env, &mut Vec::new())?;
            file.find(&passfile::pgpass_host(host), port, dbname, &user)
                .map(<[u8]>::to_vec)
        });
        found.or_else(|| self.password.clone())
    }

    /// The configured user, else the operating-system user from the environment.
    fn user_or_default(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        self.user.clone().or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .into_iter()
                .find_map(|var| env(var).filter(|v| !v.is_empty()))
        })
    }

    /// The configured or default password file, if it exists and is acceptable.
    fn load_passfile(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Option<PassFile> {
        let path = self
            .passfile
            .clone()
            .or_else(|| passfile::default_path(env))?;
        PassFile::load(&path, warnings)
    }

    /// The targets before passwords: hosts paired with addresses and ports.
    fn base_targets(&self) -> Vec<Target> {
        let port_at = |i: usize| match self.ports.as_slice() {
            [] => DEFAULT_PORT,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(DEFAULT_PORT),
        };
        let target = |host: Host, hostaddr: Option<IpAddr>, port: u16| Target {
            host,
            hostaddr,
            port,
            password: None,
            password_from_file: false,
        };
        if !self.hosts.is_empty() {
            return self
                .hosts
                .iter()
                .enumerate()
                .map(|(i, host)| target(host.clone(), self.hostaddrs.get(i).copied(), port_at(i)))
                .collect();
        }
        if !self.hostaddrs.is_empty() {
            return self
                .hostaddrs
                .iter()
                .enumerate()
                .map(|(i, addr)| target(Host::Tcp(addr.to_string()), Some(*addr), port_at(i)))
                .collect();
        }
        let port = port_at(0);
        let mut targets: Vec<Target> = if cfg!(unix) {
            DEFAULT_SOCKET_DIRS
                .iter()
                .map(Path::new)
                .filter(|dir| dir.join(format!(".s.PGSQL.{port}")).exists())
                .map(|dir| target(Host::Unix(dir.to_path_buf()), None, port))
                .collect()
        } else {
            Vec::new()
        };
        // /run is usually a symbolic link target of /var/run: try each socket once.
        targets.dedup_by(|a, b| {
            let canonical = |t: &Target| t.socket_path().and_then(|p| p.canonicalize().ok());
            canonical(a).is_some() && canonical(a) == canonical(b)
        });
        targets.push(target(Host::Tcp("localhost".into()), None, port));
        targets
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
