//! The roles every testkit cluster has, one per authentication method.

use std::fmt;

use crate::url;

/// The superuser. It logs in with `trust` over the Unix socket and TCP.
///
/// ```no_run
/// let cluster = apg_testkit::Cluster::shared()?;
/// assert!(cluster.url().starts_with(&format!("postgres://{}@", apg_testkit::SUPERUSER)));
/// # Ok::<(), apg_testkit::Error>(())
/// ```
pub const SUPERUSER: &str = "postgres";

/// Password of `apg_password`, the [`AuthMethod::Password`] role.
///
/// ```
/// use apg_testkit::{AuthMethod, CLEARTEXT_PASSWORD};
/// assert_eq!(AuthMethod::Password.password(), Some(CLEARTEXT_PASSWORD));
/// ```
pub const CLEARTEXT_PASSWORD: &str = "apg-cleartext-secret";

/// Password of `apg_md5`, the [`AuthMethod::Md5`] role.
///
/// ```
/// use apg_testkit::{AuthMethod, MD5_PASSWORD};
/// assert_eq!(AuthMethod::Md5.password(), Some(MD5_PASSWORD));
/// ```
pub const MD5_PASSWORD: &str = "apg-md5-secret";

/// Password of `apg_scram`, the [`AuthMethod::Scram`] role.
///
/// ```
/// use apg_testkit::{AuthMethod, SCRAM_PASSWORD};
/// assert_eq!(AuthMethod::Scram.password(), Some(SCRAM_PASSWORD));
/// ```
pub const SCRAM_PASSWORD: &str = "apg-scram-secret";

/// A `pg_hba.conf` authentication method, each with its own login role.
///
/// | method | role | password | `pg_hba.conf` |
/// |---|---|---|---|
/// | `Trust` | `apg_trust` | none | `trust` |
/// | `Password` | `apg_password` | [`CLEARTEXT_PASSWORD`] | `password` (sent in clear text) |
/// | `Md5` | `apg_md5` | [`MD5_PASSWORD`] | `md5`, stored as an MD5 hash |
/// | `Scram` | `apg_scram` | [`SCRAM_PASSWORD`] | `scram-sha-256` |
///
/// The roles can log in to every database, over the Unix socket and over TCP
/// (`127.0.0.1` and `::1`). They are not superusers and own nothing; see
/// [`Cluster::create_database_owned_by`](crate::Cluster::create_database_owned_by).
///
/// ```
/// use apg_testkit::AuthMethod;
///
/// assert_eq!(AuthMethod::Md5.role(), "apg_md5");
/// assert_eq!(AuthMethod::Md5.password(), Some(apg_testkit::MD5_PASSWORD));
/// assert_eq!(AuthMethod::Trust.password(), None);
/// assert_eq!(AuthMethod::ALL.len(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// No password asked (`trust`).
    Trust,
    /// Password sent in clear text (`password`).
    Password,
    /// MD5 challenge-response (`md5`).
    Md5,
    /// SCRAM-SHA-256 (`scram-sha-256`).
    Scram,
}

impl AuthMethod {
    /// Every method, in the order of the table above.
    ///
    /// ```
    /// for method in apg_testkit::AuthMethod::ALL {
    ///     println!("{} logs in with {method}", method.role());
    /// }
    /// ```
    pub const ALL: [Self; 4] = [Self::Trust, Self::Password, Self::Md5, Self::Scram];

    /// The login role that authenticates with this method.
    ///
    /// ```
    /// assert_eq!(apg_testkit::AuthMethod::Scram.role(), "apg_scram");
    /// ```
    pub const fn role(self) -> &'static str {
        match self {
            Self::Trust => "apg_trust",
            Self::Password => "apg_password",
            Self::Md5 => "apg_md5",
            Self::Scram => "apg_scram",
        }
    }

    /// The role's password (`None` for `Trust`).
    ///
    /// ```
    /// assert_eq!(apg_testkit::AuthMethod::Trust.password(), None);
    /// ```
    pub const fn password(self) -> Option<&'static str> {
        match self {
            Self::Trust => None,
            Self::Password => Some(CLEARTEXT_PASSWORD),
            Self::Md5 => Some(MD5_PASSWORD),
            Self::Scram => Some(SCRAM_PASSWORD),
        }
    }

    /// The method's name in `pg_hba.conf`.
    ///
    /// ```
    /// assert_eq!(apg_testkit::AuthMethod::Scram.hba_name(), "scram-sha-256");
    /// ```
    pub const fn hba_name(self) -> &'static str {
        match self {
            Self::Trust => "trust",
            Self::Password => "password",
            Self::Md5 => "md5",
            Self::Scram => "scram-sha-256",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hba_name())
    }
}

/// A login role of a cluster with everything needed to connect as it.
///
/// ```no_run
/// use apg_testkit::{AuthMethod, Cluster};
///
/// let cluster = Cluster::shared()?;
/// let user = cluster.user(AuthMethod::Scram);
/// assert_eq!(user.name(), "apg_scram");
/// // postgres://apg_scram:apg-scram-secret@127.0.0.1:<port>/postgres
/// println!("{}", user.url());
/// # Ok::<(), apg_testkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    method: AuthMethod,
    host: String,
    port: u16,
}

impl User {
    pub(crate) fn new(method: AuthMethod, host: &str, port: u16) -> Self {
        Self {
            method,
            host: host.to_owned(),
            port,
        }
    }

    /// The role name, e.g. `apg_md5`.
    ///
    /// ```no_run
    /// let user = apg_testkit::Cluster::shared()?.user(apg_testkit::AuthMethod::Md5);
    /// assert_eq!(user.name(), "apg_md5");
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn name(&self) -> &'static str {
        self.method.role()
    }

    /// The password, `None` for the trust role.
    ///
    /// ```no_run
    /// let user = apg_testkit::Cluster::shared()?.user(apg_testkit::AuthMethod::Md5);
    /// assert_eq!(user.password(), Some(apg_testkit::MD5_PASSWORD));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn password(&self) -> Option<&'static str> {
        self.method.password()
    }

    /// The authentication method the server uses for this role.
    ///
    /// ```no_run
    /// use apg_testkit::AuthMethod;
    /// let user = apg_testkit::Cluster::shared()?.user(AuthMethod::Password);
    /// assert_eq!(user.method(), AuthMethod::Password);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// A TCP URL for database `postgres`, password included.
    ///
    /// ```no_run
    /// let user = apg_testkit::Cluster::shared()?.user(apg_testkit::AuthMethod::Scram);
    /// assert!(user.url().starts_with("postgres://apg_scram:apg-scram-secret@127.0.0.1:"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A TCP URL for database `db`, password included.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let db = cluster.create_database()?;
    /// let url = cluster.user(apg_testkit::AuthMethod::Md5).url_for(&db);
    /// assert!(url.ends_with(&format!("/{db}")));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url_for(&self, db: &str) -> String {
        url::build(self.name(), self.password(), &self.host, self.port, db)
    }
}
