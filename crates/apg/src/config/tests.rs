//! Parsing tests modelled on libpq's `001_uri.pl` and tokio-postgres' config tests,
//! environment precedence, password-file resolution and property tests.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::url::{self, Password};
use super::*;

fn parse(s: &str) -> Config {
    match s.parse() {
        Ok(config) => config,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn parse_err(s: &str) -> String {
    match s.parse::<Config>() {
        Ok(config) => panic!("{s:?} parsed: {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn tcp(name: &str) -> Host {
    Host::Tcp(name.into())
}

fn unix(dir: &str) -> Host {
    Host::Unix(dir.into())
}

// ---- URLs (cases from libpq's src/interfaces/libpq/t/001_uri.pl) -----------------

#[test]
fn url_components() {
    let c = parse("postgresql://uri-user:secret@host:12345/db");
    assert_eq!(c.user.as_deref(), Some("uri-user"));
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!(c.hosts, [tcp("host")]);
    assert_eq!(c.ports, [12345]);
    assert_eq!(c.dbname.as_deref(), Some("db"));

    let c = parse("postgresql://uri-user@host/");
    assert_eq!(c.user.as_deref(), Some("uri-user"));
    assert_eq!(c.ports, [] as [u16; 0]);
    assert_eq!(c.dbname, None);

    let c = parse("postgresql://uri-user@");
    assert_eq!(c.user.as_deref(), Some("uri-user"));
    assert!(c.hosts.is_empty());

    for empty in [
        "postgresql://",
        "postgres://",
        "postgres:///",
        "postgresql://host?",
    ] {
        let c = parse(empty);
        assert_eq!(c.user, None, "{empty}");
        assert_eq!(c.dbname, None, "{empty}");
    }
    assert_eq!(parse("postgres:///db").dbname.as_deref(), Some("db"));
    assert_eq!(parse("postgres://@host").user, None);
    assert_eq!(parse("postgres://host:/").ports, [] as [u16; 0]);
    let c = parse("postgres://:12345/");
    assert!(c.hosts.is_empty());
    assert_eq!(c.ports, [12345]);
    assert_eq!(parse("POSTGRESQL://h").hosts, [tcp("h")]);
}

#[test]
fn url_percent_decoding() {
    assert_eq!(parse("postgresql://%68ost/").hosts, [tcp("host")]);
    let c = parse("postgresql://us%65r:p%40ss%3Aw%2Fd@h/d%20b");
    assert_eq!(c.user.as_deref(), Some("user"));
    assert_eq!(c.password.as_deref(), Some(&b"p@ss:w/d"[..]));
    assert_eq!(c.dbname.as_deref(), Some("d b"));
    // A password need not be UTF-8.
    let c = parse("postgresql://u:%FF%FE@h");
    assert_eq!(c.password.as_deref(), Some(&[0xff, 0xfe][..]));
    // An unescaped '@' in the password still works: the last '@' ends the user info.
    let c = parse("postgresql://u:a@b@h");
    assert_eq!(c.password.as_deref(), Some(&b"a@b"[..]));
    assert_eq!(c.hosts, [tcp("h")]);
    // Query names are decoded too.
    assert_eq!(
        parse("postgresql://host/db?u%73er=other").user.as_deref(),
        Some("other")
    );
    // '+' is not a space in libpq URLs.
    assert_eq!(
        parse("postgresql://h?options=a+b").options.as_deref(),
        Some("a+b")
    );
}

#[test]
fn url_percent_errors() {
    for (s, part) in [
        (
            "postgres://host?dbname=%XXfoo",
            "value of parameter \"dbname\"",
        ),
        ("postgresql://a%00b", "host"),
        ("postgresql://%zz", "host"),
        ("postgresql://%1", "host"),
        ("postgresql://%", "host"),
        ("postgresql://u:%2@h", "password"),
        ("postgresql://%G0@h", "user name"),
        ("postgresql://h/%", "database name"),
        ("postgresql://h?%=x", "parameter name"),
    ] {
        assert_eq!(
            parse_err(s),
            format!("invalid percent-encoding in {part} in URL"),
            "{s}"
        );
    }
    // The password itself never appears in the message.
    let e = parse_err("postgresql://u:secret%zz@h");
    assert!(!e.contains("secret"), "{e}");
    assert_eq!(
        parse_err("postgresql://h?dbname=%FF"),
        "invalid dbname \"\u{fffd}\" in URL"
    );
}

#[test]
fn url_ipv6() {
    let c = parse("postgresql://[::1]:12345/db");
    assert_eq!(c.hosts, [tcp("::1")]);
    assert_eq!(c.ports, [12345]);
    assert_eq!(parse("postgresql://[::1]").hosts, [tcp("::1")]);
    assert_eq!(
        parse("postgresql://[2001:db8::1234]/").hosts,
        [tcp("2001:db8::1234")]
    );
    // libpq does not check what is inside the brackets.
    assert_eq!(
        parse("postgresql://[200z:db8::1234]/").hosts,
        [tcp("200z:db8::1234")]
    );
    assert_eq!(
        parse("postgresql://[fe80::1%25eth0]:5433").hosts,
        [tcp("fe80::1%eth0")]
    );
    let c = parse("postgresql://[::1]:5432,[::2]:5433,h:5434");
    assert_eq!(c.hosts, [tcp("::1"), tcp("::2"), tcp("h")]);
    assert_eq!(c.ports, [5432, 5433, 5434]);

    assert_eq!(
        parse_err("postgres://[::1"),
        "invalid URL: missing \"]\" after an IPv6 address"
    );
    assert_eq!(
        parse_err("postgres://[]"),
        "invalid URL: empty IPv6 address in brackets"
    );
    assert_eq!(
        parse_err("postgres://[::1]z"),
        "invalid URL: unexpected characters after \"]\" of an IPv6 address"
    );
}

#[test]
fn url_multi_host() {
    let c = parse("postgresql://host1:123,host2:456/somedb?target_session_attrs=any");
    assert_eq!(c.hosts, [tcp("host1"), tcp("host2")]);
    assert_eq!(c.ports, [123, 456]);
    // A host without a port gets the default when another host has one.
    let c = parse("postgresql://a:5433,b");
    assert_eq!(c.ports, [5433, 5432]);
    let c = parse("postgresql://a,b,c");
    assert_eq!(c.hosts.len(), 3);
    assert!(c.ports.is_empty());
    assert_eq!(parse_err("postgresql://a,,b"), "invalid host \"\" in URL");
    assert_eq!(
        parse_err("postgresql://a:1,b:2?port=1,2,3"),
        "could not match 3 port numbers to 2 hosts"
    );
    // One port for many hosts is fine.
    assert_eq!(parse("postgresql://a,b?port=6000").ports, [6000]);
}

#[test]
fn url_unix_sockets() {
    let c = parse("postgresql://%2Fvar%2Frun%2Fpostgresql/db");
    assert_eq!(c.hosts, [unix("/var/run/postgresql")]);
    assert_eq!(c.dbname.as_deref(), Some("db"));
    assert_eq!(
        parse("postgres://?host=/path/to/socket/dir").hosts,
        [unix("/path/to/socket/dir")]
    );
    let c = parse("postgres://otheruser@:12345/db?host=/path/to/socket");
    assert_eq!(c.user.as_deref(), Some("otheruser"));
    assert_eq!(c.hosts, [unix("/path/to/socket")]);
    assert_eq!(c.ports, [12345]);
    let c = parse("postgresql://%2Ftmp:5433,remote:5434");
    assert_eq!(c.hosts, [unix("/tmp"), tcp("remote")]);
    assert_eq!(c.ports, [5433, 5434]);
}

#[test]
fn url_query_overrides_components() {
    let c = parse("postgresql://u@h:1/db?user=v&host=x,y&port=2&dbname=e");
    assert_eq!(c.user.as_deref(), Some("v"));
    assert_eq!(c.hosts, [tcp("x"), tcp("y")]);
    assert_eq!(c.ports, [2]);
    assert_eq!(c.dbname.as_deref(), Some("e"));
    // Later duplicates win, as in libpq.
    assert_eq!(
        parse("postgresql://h?sslmode=disable&sslmode=require").ssl_mode,
        SslMode::Require
    );
    let c = parse("postgresql://h?password=p%20w");
    assert_eq!(c.password.as_deref(), Some(&b"p w"[..]));
}

#[test]
fn url_structure_errors() {
    assert_eq!(
        parse_err("postgresql://host?zzz"),
        "invalid URL: a query parameter lacks its \"=\""
    );
    assert_eq!(
        parse_err("postgresql://host?value1&value2"),
        "invalid URL: a query parameter lacks its \"=\""
    );
    assert_eq!(
        parse_err("postgresql://host?key=key=value"),
        "invalid URL: a query parameter has a second \"=\" (write it as %3D)"
    );
    assert_eq!(
        parse_err("mysql://host"),
        "invalid URL: the scheme must be postgresql:// or postgres://"
    );
    assert_eq!(
        parse_err("postgresql://host?u%7aer=x"),
        "unknown parameter \"uzer\" in URL"
    );
    assert_eq!(
        parse_err("postgresql://host:abc"),
        "invalid port \"abc\" in URL"
    );
    assert_eq!(
        parse_err("postgresql://host:70000"),
        "invalid port \"70000\" in URL"
    );
    assert_eq!(
        parse_err("postgresql://host?sslmode=maybe"),
        "invalid sslmode \"maybe\" in URL"
    );
    assert_eq!(
        parse_err("postgresql://host?sslpassword=x"),
        "parameter \"sslpassword\" in URL is not supported by apg"
    );
    // Empty query segments are tolerated.
    assert_eq!(
        parse("postgresql://h?&sslmode=require&").ssl_mode,
        SslMode::Require
    );
}

// ---- every parameter, in both syntaxes --------------------------------------------

/// Parses `key=value` both as a connection string and as a URL query parameter and
/// checks they agree.
fn both(key: &str, value: &str) -> Config {
    let kv = parse(&format!("{key}={}", conninfo::quote(value)));
    let value = value
        .replace('%', "%25")
        .replace('&', "%26")
        .replace(' ', "%20")
        .replace('=', "%3D");
    let from_url = parse(&format!("postgresql://?{key}={value}"));
    assert_eq!(kv, from_url, "{key}={value}");
    kv
}

fn both_err(key: &str, value: &str) -> (String, String) {
    let kv = parse_err(&format!("{key}={}", conninfo::quote(value)));
    let value = value
        .replace('%', "%25")
        .replace('&', "%26")
        .replace(' ', "%20")
        .replace('=', "%3D");
    let from_url = parse_err(&format!("postgresql://?{key}={value}"));
    (kv, from_url)
}

#[test]
fn every_parameter() {
    assert_eq!(
        both("host", "a,/tmp,::1").hosts,
        [tcp("a"), unix("/tmp"), tcp("::1")]
    );
    assert_eq!(
        both("hostaddr", "127.0.0.1,::1").hostaddrs,
        [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        ]
    );
    assert_eq!(both("port", "5433").ports, [5433]);
    assert_eq!(both("user", "bob").user.as_deref(), Some("bob"));
    assert_eq!(
        both("password", "s3 cr%t").password.as_deref(),
        Some(&b"s3 cr%t"[..])
    );
    assert_eq!(both("dbname", "shop").dbname.as_deref(), Some("shop"));
    assert_eq!(
        both("application_name", "my app")
            .application_name
            .as_deref(),
        Some("my app")
    );
    assert_eq!(
        both("options", "-c search_path=x").options.as_deref(),
        Some("-c search_path=x")
    );
    for (text, mode) in [
        ("disable", SslMode::Disable),
        ("allow", SslMode::Allow),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ] {
        assert_eq!(both("sslmode", text).ssl_mode, mode);
        assert_eq!(mode.as_str(), text);
    }
    for (text, policy) in [
        ("disable", ChannelBindingPolicy::Disable),
        ("prefer", ChannelBindingPolicy::Prefer),
        ("require", ChannelBindingPolicy::Require),
    ] {
        assert_eq!(both("channel_binding", text).channel_binding, policy);
    }
    assert_eq!(
        both("connect_timeout", "10").connect_timeout,
        Some(Duration::from_secs(10))
    );
    assert_eq!(both("connect_timeout", "0").connect_timeout, None);
    assert_eq!(both("connect_timeout", "-3").connect_timeout, None);
    assert!(!both("keepalives", "0").keepalives);
    assert!(both("keepalives", "1").keepalives);
    assert_eq!(
        both("keepalives_idle", "30").keepalives_idle,
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        both("keepalives_interval", "5").keepalives_interval,
        Some(Duration::from_secs(5))
    );
    assert_eq!(both("keepalives_count", "3").keepalives_count, Some(3));
    for (text, attrs) in [
        ("any", TargetSessionAttrs::Any),
        ("read-write", TargetSessionAttrs::ReadWrite),
        ("read-only", TargetSessionAttrs::ReadOnly),
        ("primary", TargetSessionAttrs::Primary),
        ("standby", TargetSessionAttrs::Standby),
        ("prefer-standby", TargetSessionAttrs::PreferStandby),
    ] {
        assert_eq!(
            both("target_session_attrs", text).target_session_attrs,
            attrs
        );
        assert_eq!(attrs.as_str(), text);
    }
    assert_eq!(
        both("passfile", "/etc/pgpass").passfile,
        Some(PathBuf::from("/etc/pgpass"))
    );
    assert_eq!(
        both("statement_cache_capacity", "0").statement_cache_capacity,
        0
    );
    assert_eq!(
        both("command_timeout", "2.5").command_timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(both("command_timeout", "0").command_timeout, None);
}

#[test]
fn invalid_values_are_named() {
    for (key, value) in [
        ("port", "abc"),
        ("port", "0"),
        ("hostaddr", "example.com"),
        ("sslmode", "maybe"),
        ("channel_binding", "sometimes"),
        ("connect_timeout", "soon"),
        ("keepalives", "yes"),
        ("keepalives_idle", "-1"),
        ("keepalives_count", "-1"),
        ("target_session_attrs", "master"),
        ("statement_cache_capacity", "-1"),
        ("command_timeout", "1e3"),
    ] {
        let (kv, from_url) = both_err(key, value);
        assert_eq!(
            kv,
            format!("invalid {key} \"{value}\" in connection string")
        );
        assert_eq!(from_url, format!("invalid {key} \"{value}\" in URL"));
    }
    let (kv, from_url) = both_err("sslmod", "require");
    assert_eq!(kv, "unknown parameter \"sslmod\" in connection string");
    assert_eq!(from_url, "unknown parameter \"sslmod\" in URL");
    assert_eq!(
        parse_err("host=a port=1,2,3"),
        "could not match 3 port numbers to 1 hosts"
    );
    assert_eq!(
        parse_err("host=a,b hostaddr=127.0.0.1"),
        "could not match 1 hostaddr values to 2 host names"
    );
    assert_eq!(
        parse_err("password='a\0b'"),
        "NUL character in password in connection string"
    );
}

// ---- key=value ----------------------------------------------------------------------

#[test]
fn conninfo_strings() {
    let c = parse(r"host=localhost port=5432 dbname=x user=y password='a b\' c'");
    assert_eq!(c.hosts, [tcp("localhost")]);
    assert_eq!(c.ports, [5432]);
    assert_eq!(c.dbname.as_deref(), Some("x"));
    assert_eq!(c.user.as_deref(), Some("y"));
    assert_eq!(c.password.as_deref(), Some(&br"a b' c"[..]));

    let c = parse("  host = /var/run/postgresql\tport=5433\n  ");
    assert_eq!(c.hosts, [unix("/var/run/postgresql")]);
    assert_eq!(c.ports, [5433]);

    // Empty strings and whitespace are the default configuration.
    assert_eq!(parse(""), Config::default());
    assert_eq!(parse("   "), Config::default());

    assert_eq!(
        parse_err("password='abc"),
        "unterminated quoted string for \"password\" in connection string"
    );
    assert_eq!(
        parse_err("host"),
        "missing \"=\" after \"host\" in connection string"
    );
    // libpq reads "postgre://" as a key without "=".
    assert_eq!(
        parse_err("postgre//"),
        "missing \"=\" after \"postgre//\" in connection string"
    );
}

// ---- environment ------------------------------------------------------------------

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

const FULL_ENV: &[(&str, &str)] = &[
    ("PGHOST", "envhost"),
    ("PGPORT", "6000"),
    ("PGUSER", "envuser"),
    ("PGPASSWORD", "envpass"),
    ("PGDATABASE", "envdb"),
    ("PGAPPNAME", "envapp"),
    ("PGOPTIONS", "-c geqo=off"),
    ("PGCONNECT_TIMEOUT", "7"),
    ("PGSSLMODE", "verify-full"),
    ("PGCHANNELBINDING", "require"),
    ("PGTARGETSESSIONATTRS", "read-only"),
    ("PGPASSFILE", "/env/pgpass"),
];

#[test]
fn env_supplies_defaults() {
    let c = Config::from_env_lookup(env_of(FULL_ENV)).unwrap();
    assert_eq!(c.hosts, [tcp("envhost")]);
    assert_eq!(c.ports, [6000]);
    assert_eq!(c.user.as_deref(), Some("envuser"));
    assert_eq!(c.password.as_deref(), Some(&b"envpass"[..]));
    assert_eq!(c.dbname.as_deref(), Some("envdb"));
    assert_eq!(c.application_name.as_deref(), Some("envapp"));
    assert_eq!(c.options.as_deref(), Some("-c geqo=off"));
    assert_eq!(c.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(c.ssl_mode, SslMode::VerifyFull);
    assert_eq!(c.channel_binding, ChannelBindingPolicy::Require);
    assert_eq!(c.target_session_attrs, TargetSessionAttrs::ReadOnly);
    assert_eq!(c.passfile, Some(PathBuf::from("/env/pgpass")));

    let c = Config::from_env_lookup(env_of(&[("PGHOSTADDR", "10.0.0.1")])).unwrap();
    assert_eq!(c.hostaddrs, [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]);
}

#[test]
fn explicit_settings_beat_env() {
    let env = env_of(FULL_ENV);
    let c = Config::parse_with_env_lookup(
        "postgresql://me:pw@db:5433/app?sslmode=disable&application_name=mine",
        &env,
    )
    .unwrap();
    assert_eq!(c.hosts, [tcp("db")]);
    assert_eq!(c.ports, [5433]);
    assert_eq!(c.user.as_deref(), Some("me"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    assert_eq!(c.dbname.as_deref(), Some("app"));
    assert_eq!(c.ssl_mode, SslMode::Disable);
    assert_eq!(c.application_name.as_deref(), Some("mine"));
    // Unset by the URL, so from the environment.
    assert_eq!(c.options.as_deref(), Some("-c geqo=off"));
    assert_eq!(c.channel_binding, ChannelBindingPolicy::Require);

    // A URL host without a port still takes PGPORT, as in libpq.
    let c = Config::parse_with_env_lookup("postgresql://db/app", &env).unwrap();
    assert_eq!(c.ports, [6000]);
    assert_eq!(c.user.as_deref(), Some("envuser"));

    let c = Config::parse_with_env_lookup("host=x user=u dbname=d", &env).unwrap();
    assert_eq!(c.hosts, [tcp("x")]);
    assert_eq!(c.user.as_deref(), Some("u"));
    assert_eq!(c.ports, [6000]);

    // An explicitly empty value still counts as set.
    let c = Config::parse_with_env_lookup("host=''", &env).unwrap();
    assert!(c.hosts.is_empty());

    // `FromStr` never reads the environment.
    assert_eq!(parse("host=x").user, None);
}

#[test]
fn env_errors_name_the_variable() {
    let e = Config::from_env_lookup(env_of(&[("PGSSLMODE", "maybe")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid sslmode \"maybe\" in environment variable PGSSLMODE"
    );
    let e = Config::from_env_lookup(env_of(&[("PGPORT", "x")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid port \"x\" in environment variable PGPORT"
    );
    // Not consulted when the string sets the parameter.
    assert!(
        Config::parse_with_env_lookup("sslmode=require", env_of(&[("PGSSLMODE", "maybe")])).is_ok()
    );
    // Empty variables are ignored.
    assert_eq!(
        Config::from_env_lookup(env_of(&[("PGPORT", "")])).unwrap(),
        Config::default()
    );
}

// ---- builder, Display, Debug ------------------------------------------------------

#[test]
fn builder_matches_parsing() {
    let built = Config::new()
        .host("db1")
        .port(5432)
        .host_path("/var/run/postgresql")
        .port(5433)
        .user("u")
        .password("p")
        .dbname("d")
        .application_name("a")
        .options("-c x=y")
        .ssl_mode(SslMode::Require)
        .channel_binding(ChannelBindingPolicy::Disable)
        .connect_timeout(Duration::from_secs(3))
        .keepalives(false)
        .keepalives_idle(Duration::from_secs(60))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_count(4)
        .target_session_attrs(TargetSessionAttrs::Primary)
        .statement_cache_capacity(0)
        .command_timeout(Duration::from_millis(1500))
        .passfile("/p");
    let parsed = parse(
        "host=db1,/var/run/postgresql port=5432,5433 user=u password=p dbname=d \
         application_name=a options='-c x=y' sslmode=require channel_binding=disable \
         connect_timeout=3 keepalives=0 keepalives_idle=60 keepalives_interval=10 \
         keepalives_count=4 target_session_attrs=primary statement_cache_capacity=0 \
         command_timeout=1.5 passfile=/p",
    );
    assert_eq!(built, parsed);
    assert_eq!(
        built.get_hosts(),
        &[tcp("db1"), unix("/var/run/postgresql")]
    );
    assert_eq!(built.get_ports(), &[5432, 5433]);
    assert_eq!(built.get_user(), Some("u"));
    assert_eq!(built.get_password(), Some(&b"p"[..]));
    assert_eq!(built.get_dbname(), Some("d"));
    assert_eq!(built.get_ssl_mode(), SslMode::Require);
    assert_eq!(built.get_statement_cache_capacity(), 0);
    assert_eq!(
        built.get_command_timeout(),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(built.get_passfile(), Some(Path::new("/p")));
    assert!(!built.get_keepalives());
    assert_eq!(built.tcp_options().keepalive, None);
    assert!(built.tcp_options().nodelay);

    let on = Config::new().keepalives_idle(Duration::from_secs(9));
    assert_eq!(
        on.tcp_options().keepalive.and_then(|k| k.idle),
        Some(Duration::from_secs(9))
    );
}

#[test]
fn require_auth_load_balance_hosts_and_tcp_user_timeout() {
    let c = both("require_auth", "!password,!md5");
    let required = c.require_auth.unwrap();
    assert!(!required.allows(AuthMethod::Password));
    assert!(required.allows(AuthMethod::ScramSha256));
    assert!(required.allows_none());
    assert_eq!(required.as_str(), "!password,!md5");
    assert_eq!(both("require_auth", "").require_auth, None);
    for (value, reason) in [
        (
            "scram-sha-256,!md5",
            "negative require_auth method \"!md5\" cannot be mixed with non-negative methods",
        ),
        (
            "!md5,password",
            "require_auth method \"password\" cannot be mixed with negative methods",
        ),
        (
            "md5,md5",
            "require_auth method \"md5\" is specified more than once",
        ),
        ("kerberos", "invalid require_auth value: \"kerberos\""),
    ] {
        let (kv, from_url) = both_err("require_auth", value);
        assert_eq!(
            kv,
            format!("invalid require_auth \"{value}\" in connection string: {reason}")
        );
        assert_eq!(
            from_url,
            format!("invalid require_auth \"{value}\" in URL: {reason}")
        );
    }

    assert_eq!(
        both("load_balance_hosts", "random").load_balance_hosts,
        LoadBalanceHosts::Random
    );
    assert_eq!(
        both("load_balance_hosts", "disable").load_balance_hosts,
        LoadBalanceHosts::Disable
    );
    assert_eq!(Config::new().load_balance_hosts, LoadBalanceHosts::Disable);
    assert!(
        both("load_balance_hosts", "random")
            .tcp_options()
            .shuffle_addresses
    );
    assert!(!Config::new().tcp_options().shuffle_addresses);
    assert_eq!(
        both_err("load_balance_hosts", "round-robin").0,
        "invalid load_balance_hosts \"round-robin\" in connection string"
    );

    let c = both("tcp_user_timeout", "2500");
    assert_eq!(c.tcp_user_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(
        c.tcp_options().user_timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(both("tcp_user_timeout", "0").tcp_user_timeout, None);
    assert_eq!(both("tcp_user_timeout", "-1").tcp_user_timeout, None);
    assert_eq!(
        both_err("tcp_user_timeout", "1.5").0,
        "invalid tcp_user_timeout \"1.5\" in connection string"
    );

    // Environment variables, as libpq: PGREQUIREAUTH, PGLOADBALANCEHOSTS.
    let c = Config::from_env_lookup(env_of(&[
        ("PGREQUIREAUTH", "scram-sha-256"),
        ("PGLOADBALANCEHOSTS", "random"),
    ]))
    .unwrap();
    assert_eq!(c.require_auth.unwrap().as_str(), "scram-sha-256");
    assert_eq!(c.load_balance_hosts, LoadBalanceHosts::Random);
    assert_eq!(
        Config::from_env_lookup(env_of(&[("PGREQUIREAUTH", "md5,!md5")]))
            .unwrap_err()
            .to_string(),
        "invalid require_auth \"md5,!md5\" in environment variable PGREQUIREAUTH: \
         negative require_auth method \"!md5\" cannot be mixed with non-negative methods"
    );
    // Explicit settings win over the environment.
    let c = Config::parse_with_env_lookup(
        "require_auth=md5",
        env_of(&[("PGREQUIREAUTH", "scram-sha-256")]),
    )
    .unwrap();
    assert_eq!(c.require_auth.unwrap().as_str(), "md5");

    // Builder methods agree with parsing, and the URL shows every setting.
    let built = Config::new()
        .require_auth("none".parse().unwrap())
        .load_balance_hosts(LoadBalanceHosts::Random)
        .tcp_user_timeout(Duration::from_secs(3));
    assert_eq!(
        built,
        parse("require_auth=none load_balance_hosts=random tcp_user_timeout=3000")
    );
    assert_eq!(
        built.get_require_auth().map(RequireAuth::as_str),
        Some("none")
    );
    assert_eq!(built.get_load_balance_hosts(), LoadBalanceHosts::Random);
    assert_eq!(built.get_tcp_user_timeout(), Some(Duration::from_secs(3)));
    assert_eq!(
        built.to_string(),
        "postgresql://?require_auth=none&load_balance_hosts=random&tcp_user_timeout=3000"
    );
}

#[test]
fn display_redacts_the_password() {
    let c = parse("postgresql://alice:hunter2@db:5433/shop?sslmode=verify-full");
    let shown = c.to_string();
    assert_eq!(
        shown,
        "postgresql://alice:***@db:5433/shop?sslmode=verify-full"
    );
    assert!(!format!("{c:?}").contains("hunter2"));
    assert!(format!("{c:?}").contains("<redacted>"));
    // The redacted URL still parses, to everything but the password.
    let back = parse(&shown);
    assert_eq!(back.password.as_deref(), Some(&b"***"[..]));
    assert_eq!(back.password("hunter2"), c);
}

#[test]
fn display_examples() {
    assert_eq!(Config::new().to_string(), "postgresql://");
    assert_eq!(
        Config::new().host("::1").port(5432).to_string(),
        "postgresql://[::1]:5432"
    );
    assert_eq!(
        Config::new()
            .host("/var/run/postgresql")
            .dbname("d b")
            .to_string(),
        "postgresql://%2Fvar%2Frun%2Fpostgresql/d%20b"
    );
    assert_eq!(
        Config::new().host("a").host("b").port(6000).to_string(),
        "postgresql://a,b?port=6000"
    );
    assert_eq!(
        Config::new()
            .options("-c search_path=a,b")
            .hostaddr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .to_string(),
        "postgresql://?hostaddr=127.0.0.1&options=-c%20search_path%3Da,b"
    );
}

// ---- resolve and the password file ------------------------------------------------

/// A directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("apg-config-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `contents` to `name` with the Unix permission `mode`.
    fn file(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn passwords(resolved: &Resolved) -> Vec<Option<&[u8]>> {
    resolved
        .targets
        .iter()
        .map(|t| t.password.as_deref())
        .collect()
}

const PGPASS: &str = "\
# host:port:database:user:password
db1:5432:shop:alice:one
db2:*:*:alice:two
localhost:5432:*:*:local
/srv/sockets:5432:*:*:socketdir
*:*:*:bob:bobs
";

#[test]
fn pgpass_per_host_first_match() {
    let dir = TempDir::new("multi");
    let file = dir.file("pgpass", PGPASS, 0o600);
    let config = Config::new()
        .host("db1")
        .host("db2")
        .host("db3")
        .host_path("/var/run/postgresql")
        .host_path("/srv/sockets")
        .user("alice")
        .dbname("shop")
        .passfile(&file);
    let resolved = config.resolve_with(no_env).unwrap();
    assert_eq!(
        passwords(&resolved),
        [
            Some(&b"one"[..]),
            Some(&b"two"[..]),
            None,
            Some(&b"local"[..]),
            Some(&b"socketdir"[..])
        ]
    );
    assert!(resolved.targets[0].password_from_file);
    assert!(!resolved.targets[2].password_from_file);
    assert!(resolved.warnings.is_empty());
    assert_eq!(resolved.user, "alice");
    assert_eq!(resolved.dbname, "shop");

    // The database defaults to the user name: "alice" does not match "shop".
    let resolved = Config::new()
        .host("db1")
        .user("alice")
        .passfile(&file)
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(resolved.dbname, "alice");
    assert_eq!(passwords(&resolved), [None]);

    // Ports are compared per target.
    let resolved = Config::new()
        .host("localhost")
        .host("localhost")
        .port(5432)
        .port(5433)
        .user("carol")
        .passfile(&file)
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(passwords(&resolved), [Some(&b"local"[..]), None]);
}

#[test]
fn password_for_one_host() {
    let dir = TempDir::new("password_for");
    let file = dir.file("pgpass", PGPASS, 0o600);
    let config = Config::new().user("alice").dbname("shop").passfile(&file);
    assert_eq!(
        config.password_for(&tcp("db1"), 5432),
        Some(b"one".to_vec())
    );
    assert_eq!(config.password_for(&tcp("db2"), 1), Some(b"two".to_vec()));
    assert_eq!(config.password_for(&tcp("db3"), 5432), None);
    assert_eq!(
        config.clone().password("x").password_for(&tcp("db1"), 5432),
        Some(b"x".to_vec())
    );
    let missing = config.passfile(dir.0.join("missing")).password("");
    assert_eq!(missing.password_for(&tcp("db1"), 5432), Some(Vec::new()));
}

#[test]
fn explicit_password_wins_over_pgpass() {
    let dir = TempDir::new("explicit");
    let file = dir.file("pgpass", PGPASS, 0o600);
    let resolved = Config::new()
        .host("db1")
        .host("db2")
        .user("bob")
        .password("given")
        .passfile(&file)
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(passwords(&resolved), [Some(&b"given"[..]); 2]);
    assert!(!resolved.targets[0].password_from_file);

    // An empty password is "not given" (libpq), but kept if the file has nothing.
    let resolved = Config::new()
        .host("db1")
        .host("nowhere")
        .user("alice")
        .dbname("shop")
        .password("")
        .passfile(&file)
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(passwords(&resolved), [Some(&b"one"[..]), Some(&b""[..])]);
}

#[cfg(unix)]
#[test]
fn pgpass_with_loose_permissions_is_ignored() {
    let dir = TempDir::new("perm");
    for mode in [0o640, 0o604, 0o660, 0o644, 0o700, 0o610] {
        let file = dir.file("pgpass", PGPASS, mode);
        let resolved = Config::new()
            .host("db1")
            .user("bob")
            .passfile(&file)
            .resolve_with(no_env)
            .unwrap();
        if mode & 0o077 == 0 {
            assert_eq!(passwords(&resolved), [Some(&b"bobs"[..])], "{mode:o}");
            assert!(resolved.warnings.is_empty());
        } else {
            assert_eq!(passwords(&resolved), [None], "{mode:o}");
            assert_eq!(resolved.warnings.len(), 1, "{mode:o}");
            assert!(
                resolved.warnings[0].contains("has group or world access"),
                "{}",
                resolved.warnings[0]
            );
        }
    }
    for mode in [0o600, 0o400] {
        let file = dir.file(&format!("pgpass{mode:o}"), PGPASS, mode);
        let resolved = Config::new()
            .host("db1")
            .user("bob")
            .passfile(&file)
            .resolve_with(no_env)
            .unwrap();
        assert_eq!(passwords(&resolved), [Some(&b"bobs"[..])], "{mode:o}");
    }
}

#[test]
fn pgpass_not_a_file_or_missing() {
    let dir = TempDir::new("notfile");
    let resolved = Config::new()
        .host("db1")
        .user("bob")
        .passfile(&dir.0)
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(passwords(&resolved), [None]);
    assert_eq!(resolved.warnings.len(), 1);
    assert!(resolved.warnings[0].contains("is not a plain file"));

    let resolved = Config::new()
        .host("db1")
        .user("bob")
        .passfile(dir.0.join("missing"))
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(passwords(&resolved), [None]);
    assert!(resolved.warnings.is_empty());
}

#[test]
fn pgpass_default_location_and_env() {
    let dir = TempDir::new("home");
    dir.file(".pgpass", "*:*:*:*:fromhome\n", 0o600);
    let home = dir.0.to_string_lossy().into_owned();
    let env = env_of(&[("HOME", &home), ("APPDATA", &home), ("USER", "osuser")]);
    if cfg!(windows) {
        std::fs::create_dir_all(dir.0.join("postgresql")).unwrap();
        dir.file("postgresql/pgpass.conf", "*:*:*:*:fromhome\n", 0o600);
    }
    let resolved = Config::new().host("h").resolve_with(&env).unwrap();
    assert_eq!(resolved.user, "osuser");
    assert_eq!(resolved.dbname, "osuser");
    assert_eq!(passwords(&resolved), [Some(&b"fromhome"[..])]);

    // PGPASSFILE reaches the configuration through parse_with_env.
    let other = dir.file("other", "*:*:*:*:fromenv\n", 0o600);
    let other = other.to_string_lossy().into_owned();
    let env2 = env_of(&[("PGPASSFILE", &other), ("HOME", &home), ("USER", "osuser")]);
    let config = Config::parse_with_env_lookup("host=h", &env2).unwrap();
    let resolved = config.resolve_with(&env2).unwrap();
    assert_eq!(passwords(&resolved), [Some(&b"fromenv"[..])]);

    // PGPASSWORD takes precedence over the file.
    let env3 = env_of(&[("PGPASSWORD", "envpw"), ("HOME", &home), ("USER", "u")]);
    let config = Config::parse_with_env_lookup("host=h", &env3).unwrap();
    assert_eq!(
        passwords(&config.resolve_with(&env3).unwrap()),
        [Some(&b"envpw"[..])]
    );
}

#[test]
fn resolve_targets() {
    let resolved = parse("postgresql://u@a:1,b:2,c:3")
        .resolve_with(no_env)
        .unwrap();
    let hosts: Vec<(&Host, u16)> = resolved.targets.iter().map(|t| (&t.host, t.port)).collect();
    assert_eq!(hosts, [(&tcp("a"), 1), (&tcp("b"), 2), (&tcp("c"), 3)]);

    let resolved = parse("host=a,b port=7 user=u")
        .resolve_with(no_env)
        .unwrap();
    assert!(resolved.targets.iter().all(|t| t.port == 7));

    let resolved = parse("host=a,b hostaddr=10.0.0.1,10.0.0.2 user=u")
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(
        resolved.targets[1].hostaddr,
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
    );
    assert_eq!(resolved.targets[1].host, tcp("b"));

    let resolved = parse("hostaddr=10.0.0.1 user=u")
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(resolved.targets[0].host, tcp("10.0.0.1"));

    let resolved = parse("host=/tmp port=5433 user=u")
        .resolve_with(no_env)
        .unwrap();
    assert_eq!(
        resolved.targets[0].socket_path(),
        Some(PathBuf::from("/tmp/.s.PGSQL.5433"))
    );

    // No host: the default ends with localhost.
    let resolved = parse("user=u").resolve_with(no_env).unwrap();
    assert_eq!(
        resolved.targets.last().map(|t| &t.host),
        Some(&tcp("localhost"))
    );

    assert_eq!(
        parse("host=a").resolve_with(no_env),
        Err(ConfigError::NoUser)
    );
    let mut bad = parse("host=a,b user=u");
    bad.ports = vec![1, 2, 3];
    assert_eq!(
        bad.resolve_with(no_env),
        Err(ConfigError::PortCountMismatch { ports: 3, hosts: 2 })
    );
    assert!(!format!(
        "{:?}",
        parse("host=a user=u password=pw").resolve_with(no_env)
    )
    .contains("pw\""));
}

// ---- properties -------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    // Printable text including the characters that need escaping in URLs and
    // connection strings, but no NUL.
    proptest::string::string_regex("[a-zA-Z0-9 '\\\\/:@?&=%,.#+~-]{1,12}").unwrap()
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9.-]{0,10}".prop_map(Host::Tcp),
        any::<Ipv6Addr>().prop_map(|a| Host::Tcp(a.to_string())),
        any::<Ipv4Addr>().prop_map(|a| Host::Tcp(a.to_string())),
        "/[a-z0-9/ ,:%]{0,12}".prop_map(|p| Host::Unix(PathBuf::from(p))),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    (0u64..1_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| Duration::new(s, n))
        .prop_filter("zero means unset", |d| !d.is_zero())
}

prop_compose! {
    fn config()(
        hosts in proptest::collection::vec(host(), 0..4),
        port_shape in 0usize..3,
        ports in proptest::collection::vec(1u16.., 4),
        hostaddrs in proptest::collection::vec(any::<IpAddr>(), 4),
        with_hostaddrs in any::<bool>(),
        user in proptest::option::of(text()),
        password in proptest::option::of(proptest::collection::vec(1u8.., 0..12)),
        dbname in proptest::option::of(text()),
        application_name in proptest::option::of(text()),
        options in proptest::option::of(text()),
        ssl_mode in 0usize..6,
        channel_binding in 0usize..3,
        connect_timeout in proptest::option::of(duration()),
        keepalives in any::<bool>(),
        keepalives_idle in proptest::option::of(duration()),
        keepalives_interval in proptest::option::of(duration()),
        keepalives_count in proptest::option::of(1u32..),
        target in 0usize..6,
        statement_cache_capacity in any::<usize>(),
        command_timeout in proptest::option::of(duration()),
        passfile in proptest::option::of(text()),
        require_auth in proptest::option::of(prop::sample::select(&[
            "scram-sha-256", "md5,password", "none", "!password,!md5", "!none",
            "gss,sspi,scram-sha-256,none",
        ][..])),
        load_balance_random in any::<bool>(),
        tcp_user_timeout in proptest::option::of(1u64..=i32::MAX as u64),
    ) -> Config {
        let n = hosts.len();
        let ports = match port_shape {
            0 => Vec::new(),
            1 => ports.into_iter().take(1).collect(),
            _ => ports.into_iter().take(n).collect(),
        };
        let hostaddrs = if with_hostaddrs && n > 0 {
            hostaddrs.into_iter().take(n).collect()
        } else {
            Vec::new()
        };
        let ports = if ports.len() > 1 && ports.len() != n { Vec::new() } else { ports };
        let mut c = Config::new();
        c.hosts = hosts;
        c.hostaddrs = hostaddrs;
        c.ports = ports;
        c.user = user;
        c.password = password;
        c.dbname = dbname;
        c.application_name = application_name;
        c.options = options;
        c.ssl_mode = [
            SslMode::Disable, SslMode::Allow, SslMode::Prefer,
            SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull,
        ][ssl_mode];
        c.channel_binding = [
            ChannelBindingPolicy::Disable,
            ChannelBindingPolicy::Prefer,
            ChannelBindingPolicy::Require,
        ][channel_binding];
        c.connect_timeout = connect_timeout;
        c.keepalives = keepalives;
        c.keepalives_idle = keepalives_idle;
        c.keepalives_interval = keepalives_interval;
        c.keepalives_count = keepalives_count;
        c.target_session_attrs = [
            TargetSessionAttrs::Any, TargetSessionAttrs::ReadWrite,
            TargetSessionAttrs::ReadOnly, TargetSessionAttrs::Primary,
            TargetSessionAttrs::Standby, TargetSessionAttrs::PreferStandby,
        ][target];
        c.statement_cache_capacity = statement_cache_capacity;
        c.command_timeout = command_timeout;
        c.passfile = passfile.map(PathBuf::from);
        c.require_auth = require_auth.map(|r| r.parse().unwrap());
        if load_balance_random {
            c.load_balance_hosts = LoadBalanceHosts::Random;
        }
        c.tcp_user_timeout = tcp_user_timeout.map(Duration::from_millis);
        c
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = s.parse::<Config>();
        let _ = Config::parse_with_env_lookup(&s, |_| Some(s.clone()));
    }

    #[test]
    fn url_like_strings_never_panic(
        s in "(postgres|postgresql)://[a-z%0-9:@\\[\\],/?&=.\\\\' -]{0,40}"
    ) {
        if let Ok(config) = s.parse::<Config>() {
            // Whatever parses renders to something that parses back the same.
            let again = url::render(&config, Password::Clear);
            prop_assert_eq!(again.parse::<Config>(), Ok(config));
        }
    }

    #[test]
    fn conninfo_like_strings_never_panic(s in "[a-z_ ='\\\\%,/0-9]{0,40}") {
        let _ = s.parse::<Config>();
    }

    #[test]
    fn url_round_trip(config in config()) {
        let shown = url::render(&config, Password::Clear);
        prop_assert_eq!(shown.parse::<Config>(), Ok(config.clone()), "{}", shown);
        // The redacted form parses to the same configuration but for the password.
        let redacted: Config = config.to_string().parse().unwrap();
        let expected = Config {
            password: config.password.as_ref().map(|_| b"***".to_vec()),
            ..config
        };
        prop_assert_eq!(redacted, expected);
    }

    #[test]
    fn conninfo_quoting_round_trips(value in text()) {
        let config = parse(&format!("application_name={}", conninfo::quote(&value)));
        prop_assert_eq!(config.application_name, Some(value));
    }

    #[test]
    fn pgpass_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let file = PassFile::parse(&bytes);
        let _ = file.find("h", 5432, "d", "u");
    }
}

// ---- TLS parameters ---------------------------------------------------------------

#[test]
fn tls_parameters() {
    let c = parse(
        "postgresql://h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem\
         &sslcert=/c/client.crt&sslkey=/c/client.key&sslnegotiation=direct",
    );
    assert_eq!(c.ssl_mode, SslMode::VerifyFull);
    assert_eq!(
        c.ssl_root_cert,
        Some(SslRootCert::File("/etc/ca.pem".into()))
    );
    assert_eq!(c.ssl_cert.as_deref(), Some(Path::new("/c/client.crt")));
    assert_eq!(c.ssl_key.as_deref(), Some(Path::new("/c/client.key")));
    assert_eq!(c.ssl_negotiation, SslNegotiation::Direct);
    // Rendered and parsed back unchanged.
    assert_eq!(url::render(&c, Password::Clear).parse::<Config>(), Ok(c));

    let c = parse("host=h sslrootcert=system sslnegotiation=postgres");
    assert_eq!(c.ssl_root_cert, Some(SslRootCert::System));
    assert_eq!(c.ssl_negotiation, SslNegotiation::Postgres);
    assert_eq!(parse("host=h sslrootcert=''").ssl_root_cert, None);
    assert!(parse_err("host=h sslnegotiation=fast").contains("sslnegotiation"));

    let built = Config::new()
        .host("h")
        .ssl_root_cert(SslRootCert::System)
        .ssl_cert("/c/client.crt")
        .ssl_key("/c/client.key")
        .ssl_negotiation(SslNegotiation::Direct);
    assert_eq!(built.get_ssl_root_cert(), Some(&SslRootCert::System));
    assert_eq!(built.get_ssl_cert(), Some(Path::new("/c/client.crt")));
    assert_eq!(built.get_ssl_key(), Some(Path::new("/c/client.key")));
    assert_eq!(built.get_ssl_negotiation(), SslNegotiation::Direct);
}

#[test]
fn tls_parameters_from_the_environment() {
    let env = env_of(&[
        ("PGSSLROOTCERT", "/env/root.crt"),
        ("PGSSLCERT", "/env/c.crt"),
        ("PGSSLKEY", "/env/c.key"),
        ("PGSSLNEGOTIATION", "direct"),
    ]);
    let c = Config::from_env_lookup(&env).unwrap();
    assert_eq!(
        c.ssl_root_cert,
        Some(SslRootCert::File("/env/root.crt".into()))
    );
    assert_eq!(c.ssl_cert.as_deref(), Some(Path::new("/env/c.crt")));
    assert_eq!(c.ssl_key.as_deref(), Some(Path::new("/env/c.key")));
    assert_eq!(c.ssl_negotiation, SslNegotiation::Direct);
    // Explicit settings win.
    let c =
        Config::parse_with_env_lookup("sslrootcert=system sslnegotiation=postgres", &env).unwrap();
    assert_eq!(c.ssl_root_cert, Some(SslRootCert::System));
    assert_eq!(c.ssl_negotiation, SslNegotiation::Postgres);
    let e = Config::from_env_lookup(env_of(&[("PGSSLNEGOTIATION", "x")])).unwrap_err();
    assert!(e.to_string().contains("PGSSLNEGOTIATION"), "{e}");
}

#[cfg(feature = "tls")]
#[test]
fn tls_client_config_is_compared_by_identity() {
    use std::sync::Arc;
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    );
    let a = Config::new().tls_client_config(Arc::clone(&tls));
    assert_eq!(a, Config::new().tls_client_config(tls));
    assert_ne!(a, Config::new());
    assert!(format!("{a:?}").contains("TlsClientConfig"));
}

#[test]
fn revocation_sni_and_version_parameters() {
    let c = parse(
        "postgresql://h/db?sslcrl=/c/root.crl&sslcrldir=/c/crls&sslsni=0\
         &ssl_min_protocol_version=tlsv1.3&ssl_max_protocol_version=TLSv1.3",
    );
    assert_eq!(c.ssl_crl.as_deref(), Some(Path::new("/c/root.crl")));
    assert_eq!(c.ssl_crl_dir.as_deref(), Some(Path::new("/c/crls")));
    assert!(!c.ssl_sni);
    assert_eq!(c.ssl_min_protocol_version, SslProtocolVersion::Tls1_3);
    assert_eq!(c.ssl_max_protocol_version, Some(SslProtocolVersion::Tls1_3));
    // Rendered in libpq's spelling and parsed back unchanged.
    let shown = url::render(&c, Password::Clear);
    assert!(
        shown.contains("ssl_min_protocol_version=TLSv1.3"),
        "{shown}"
    );
    assert_eq!(shown.parse::<Config>(), Ok(c));

    // Defaults: SNI on, minimum TLS 1.2, no maximum, no lists; none rendered.
    let c = parse("host=h");
    assert!(c.ssl_sni);
    assert_eq!(c.ssl_min_protocol_version, SslProtocolVersion::Tls1_2);
    assert_eq!(c.ssl_max_protocol_version, None);
    assert_eq!((c.ssl_crl, c.ssl_crl_dir), (None, None));
    assert_eq!(
        url::render(&parse("host=h"), Password::Clear),
        "postgresql://h"
    );
    // Empty values mean "not set".
    let c = parse(
        "host=h sslcrl='' sslcrldir='' ssl_min_protocol_version='' ssl_max_protocol_version=''",
    );
    assert_eq!(c, parse("host=h"));
    // Older minimums are accepted (they mean TLS 1.2 when connecting).
    for (text, version) in [
        ("TLSv1", SslProtocolVersion::Tls1),
        ("TLSv1.1", SslProtocolVersion::Tls1_1),
        ("TLSv1.2", SslProtocolVersion::Tls1_2),
    ] {
        assert_eq!(
            both("ssl_min_protocol_version", text).ssl_min_protocol_version,
            version
        );
        assert_eq!(text.parse::<SslProtocolVersion>(), Ok(version));
        assert_eq!(version.to_string(), text);
    }
    assert!(both("sslsni", "1").ssl_sni);
    assert!(!both("sslsni", "0").ssl_sni);

    for (key, value) in [
        ("sslsni", "yes"),
        ("sslsni", "2"),
        ("ssl_min_protocol_version", "TLSv1.4"),
        ("ssl_max_protocol_version", "SSLv3"),
        ("ssl_min_protocol_version", "1.2"),
    ] {
        let (kv, from_url) = both_err(key, value);
        assert_eq!(
            kv,
            format!("invalid {key} \"{value}\" in connection string")
        );
        assert_eq!(from_url, format!("invalid {key} \"{value}\" in URL"));
    }
    // A maximum rustls cannot speak, and an empty range, are refused.
    for old in ["TLSv1", "TLSv1.1"] {
        let e = format!("host=h ssl_max_protocol_version={old}")
            .parse::<Config>()
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::TlsVersionUnsupported {
                parameter: "ssl_max_protocol_version",
                version: old.parse().unwrap(),
            }
        );
        assert!(e.to_string().contains("TLSv1.2 and TLSv1.3 only"), "{e}");
    }
    let e = "host=h ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2"
        .parse::<Config>()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::TlsVersionRange {
            min: SslProtocolVersion::Tls1_3,
            max: SslProtocolVersion::Tls1_2,
        }
    );
    assert!(e.to_string().contains("range"), "{e}");
    // Checked as written, as libpq does: TLSv1 to TLSv1.2 is a valid range.
    assert!(
        "ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1.2"
            .parse::<Config>()
            .is_ok()
    );

    let built = Config::new()
        .host("h")
        .ssl_crl("/c/root.crl")
        .ssl_crl_dir("/c/crls")
        .ssl_sni(false)
        .ssl_min_protocol_version(SslProtocolVersion::Tls1_3)
        .ssl_max_protocol_version(SslProtocolVersion::Tls1_3);
    assert_eq!(built.get_ssl_crl(), Some(Path::new("/c/root.crl")));
    assert_eq!(built.get_ssl_crl_dir(), Some(Path::new("/c/crls")));
    assert!(!built.get_ssl_sni());
    assert_eq!(
        built.get_ssl_min_protocol_version(),
        SslProtocolVersion::Tls1_3
    );
    assert_eq!(
        built.get_ssl_max_protocol_version(),
        Some(SslProtocolVersion::Tls1_3)
    );
    assert_eq!(
        built,
        parse(
            "host=h sslcrl=/c/root.crl sslcrldir=/c/crls sslsni=0 \
             ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.3"
        )
    );
    // A range set with the builder is checked when resolving.
    let e = Config::new()
        .host("h")
        .user("u")
        .ssl_max_protocol_version(SslProtocolVersion::Tls1_1)
        .resolve_with(|_| None)
        .unwrap_err();
    assert!(
        matches!(e, ConfigError::TlsVersionUnsupported { .. }),
        "{e}"
    );
}

#[test]
fn revocation_sni_and_version_parameters_from_the_environment() {
    let env = env_of(&[
        ("PGSSLCRL", "/env/root.crl"),
        ("PGSSLCRLDIR", "/env/crls"),
        ("PGSSLSNI", "0"),
        ("PGSSLMINPROTOCOLVERSION", "TLSv1.3"),
        ("PGSSLMAXPROTOCOLVERSION", "TLSv1.3"),
    ]);
    let c = Config::from_env_lookup(&env).unwrap();
    assert_eq!(c.ssl_crl.as_deref(), Some(Path::new("/env/root.crl")));
    assert_eq!(c.ssl_crl_dir.as_deref(), Some(Path::new("/env/crls")));
    assert!(!c.ssl_sni);
    assert_eq!(c.ssl_min_protocol_version, SslProtocolVersion::Tls1_3);
    assert_eq!(c.ssl_max_protocol_version, Some(SslProtocolVersion::Tls1_3));
    // Explicit settings win.
    let c = Config::parse_with_env_lookup(
        "sslcrl=/x.crl sslsni=1 ssl_min_protocol_version=TLSv1.2",
        &env,
    )
    .unwrap();
    assert_eq!(c.ssl_crl.as_deref(), Some(Path::new("/x.crl")));
    assert!(c.ssl_sni);
    assert_eq!(c.ssl_min_protocol_version, SslProtocolVersion::Tls1_2);
    // The range is checked once every source is applied.
    let e = Config::parse_with_env_lookup("ssl_max_protocol_version=TLSv1.2", &env).unwrap_err();
    assert!(matches!(e, ConfigError::TlsVersionRange { .. }), "{e}");
    for var in [
        "PGSSLSNI",
        "PGSSLMINPROTOCOLVERSION",
        "PGSSLMAXPROTOCOLVERSION",
    ] {
        let e = Config::from_env_lookup(env_of(&[(var, "x")])).unwrap_err();
        assert!(e.to_string().contains(var), "{e}");
    }
}
