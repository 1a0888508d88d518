//! End-to-end benchmark: apg (on tokio) against tokio-postgres, on one server.
//!
//! Both clients connect over TCP to the same server and run on one current-thread tokio
//! runtime, so the whole client side (the caller, the connection task, the value
//! codecs) runs on this process's main thread and the process CPU time is the
//! client's cost; the server runs in other processes. See `README.md`.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::task::JoinHandle;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

type Result<T, E = Box<dyn StdError>> = std::result::Result<T, E>;
/// The error of a spawned task: it must be `Send`.
type BoxError = Box<dyn StdError + Send + Sync>;

// ---- measurement ---------------------------------------------------------------------

/// CPU time (user + system) used so far by this process's live threads.
///
/// `/proc/<pid>/task/<tid>/schedstat` counts nanoseconds; `/proc/self/stat` only clock
/// ticks (10 ms), too coarse for a repetition of a few hundred milliseconds. Threads
/// that already ended are not counted: the only ones a current-thread runtime may
/// start are its blocking-pool threads (address resolution at connect time), which
/// do not run while measuring.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    let mut found = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
            {
                total += ns;
                found = true;
            }
        }
    }
    if found {
        return Duration::from_nanos(total);
    }
    stat_cpu_time()
}

/// User + system time from `/proc/self/stat` (fields 14 and 15, in ticks of 1/100 s on
/// Linux), for kernels without schedstat.
fn stat_cpu_time() -> Duration {
    let Ok(text) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) may contain spaces; the fields after it do not.
    let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let ticks = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(14) + ticks(15)) * 10)
}

/// One timed repetition.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    ops: u64,
}

impl Sample {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

/// Runs `work` (worth `ops` operations) and measures its wall and CPU time.
async fn timed<F: Future<Output = Result<()>>>(ops: u64, work: F) -> Result<Sample> {
    let cpu = cpu_time();
    let start = Instant::now();
    work.await?;
    Ok(Sample {
        wall: start.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
        ops,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

// ---- the cases -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Case {
    /// `SELECT $1::int4`, one at a time.
    Sequential,
    /// `SELECT $1::int4`, all issued at once on one connection.
    Concurrent,
    /// 1,000 rows of (int4, text, float8) decoded into (i32, String, f64).
    Rows,
    /// A 1,000-row insert.
    InsertMany,
    /// A 100,000-row binary COPY FROM STDIN.
    CopyIn,
    /// `SELECT $1::int4` from 32 tasks sharing a pool of 8 connections, one checkout
    /// per query.
    Pool,
    /// Case (f) with apg's pool pipelining up to 4 statements per connection
    /// (`PoolBuilder::pipeline_depth`), against 8 tokio-postgres clients shared
    /// by 4 tasks each, without a pool.
    PoolPipelined,
}

impl Case {
    const ALL: [Self; 7] = [
        Self::Sequential,
        Self::Concurrent,
        Self::Rows,
        Self::InsertMany,
        Self::CopyIn,
        Self::Pool,
        Self::PoolPipelined,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Sequential => "(a) SELECT $1::int4, sequential",
            Self::Concurrent => "(b) SELECT $1::int4, 10k concurrent",
            Self::Rows => "(c) 1,000 rows -> (i32, String, f64)",
            Self::InsertMany => "(d) 1,000-row insert",
            Self::CopyIn => "(e) 100,000-row binary COPY in",
            Self::Pool => "(f) pool_select1: 32 tasks, pool of 8, SELECT $1::int4",
            Self::PoolPipelined => {
                "(g) pool_select1 pipelined: apg pipeline_depth(4), t-p 8 shared clients"
            }
        }
    }

    /// What one operation is, for the table.
    fn unit(self) -> &'static str {
        match self {
            Self::Sequential | Self::Concurrent | Self::Pool | Self::PoolPipelined => "query",
            Self::Rows => "query (1,000 rows)",
            Self::InsertMany => "insert of 1,000 rows",
            Self::CopyIn => "COPY of 100,000 rows",
        }
    }

    /// Operations per repetition, sized for a few hundred milliseconds each.
    fn ops(self, scale: f64) -> u64 {
        let base: f64 = match self {
            Self::Sequential => 20_000.0,
            // Batches of 10,000.
            Self::Concurrent => 3.0,
            Self::Rows => 300.0,
            Self::InsertMany => 50.0,
            Self::CopyIn => 3.0,
            // Queries per task.
            Self::Pool | Self::PoolPipelined => 1_000.0,
        };
        (base * scale).round().max(1.0) as u64
    }
}

const CONCURRENT: i32 = 10_000;
/// Tasks sharing the pool in cases (f) and (g), the pool's size, and statements
/// pipelined per connection in (g).
const POOL_TASKS: i32 = 32;
const POOL_SIZE: usize = 8;
const POOL_PIPELINE_DEPTH: usize = 4;
const INSERT_ROWS: i32 = 1_000;
const COPY_ROWS: i32 = 100_000;
const ROWS_SQL: &str = "SELECT i, i::text, i::float8 FROM generate_series(1, 1000) i";
const INT_SQL: &str = "SELECT $1::int4";
const INSERT_SQL: &str = "INSERT INTO bench_insert (id, name) VALUES ($1, $2)";
const COPY_SQL: &str = "COPY bench_copy (i, t, f) FROM STDIN (FORMAT binary)";
const TABLES: &str = "CREATE TEMP TABLE bench_insert (id int4, name text);
                      CREATE TEMP TABLE bench_copy (i int4, t text, f float8)";

fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("wrong result: {what}").into())
    }
}

/// [`check`] for spawned tasks, whose errors must be `Send`.
fn check_send(ok: bool, what: &str) -> Result<(), BoxError> {
    check(ok, what).map_err(|e| e.to_string().into())
}

/// The rows both clients insert in case (d).
fn insert_rows() -> Vec<(i32, String)> {
    (0..INSERT_ROWS).map(|i| (i, format!("name {i}"))).collect()
}

// ---- apg -----------------------------------------------------------------------------

struct Apg {
    client: apg::Client,
    pool: apg::Pool,
    pipelined_pool: apg::Pool,
    rows: Vec<(i32, String)>,
}

impl Apg {
    async fn connect(url: &str) -> Result<Self> {
        let mut config: apg::Config = url.parse()?;
        // Plain TCP, as tokio-postgres with `NoTls` (the testkit's clusters offer TLS).
        config.ssl_mode = apg::config::SslMode::Disable;
        let client = apg_tokio::connect_config(&config).await?;
        client.batch_execute(TABLES).await?;
        let runtime = apg_tokio::TokioRuntime::try_current().ok_or("not on a tokio runtime")?;
        // The defaults otherwise, including the reset (sent on a return only when
        // the session changed, which a `SELECT` does not; `BENCH_POOL_RESET`
        // replaces it, `always` sends it on every return, to see its cost).
        let defaults = apg::Pool::builder(config).max_size(POOL_SIZE);
        // (g): the defaults and pipelining; `BENCH_POOL_RESET` is for (f) only
        // (`always` would turn pipelining off).
        let pipelined = defaults.clone().pipeline_depth(POOL_PIPELINE_DEPTH);
        let mut builder = defaults;
        match pool_reset().as_deref() {
            None => {}
            Some("always") => builder = builder.always_reset(true),
            Some(reset) => builder = builder.reset_query(reset),
        }
        let runtime: Arc<dyn apg::Runtime> = Arc::new(runtime);
        let pool = builder.build(Arc::clone(&runtime))?;
        let pipelined_pool = pipelined.build(runtime)?;
        Ok(Self {
            client,
            pool,
            pipelined_pool,
            rows: insert_rows(),
        })
    }

    async fn run(&self, case: Case, scale: f64) -> Result<Sample> {
        let c = &self.client;
        let ops = case.ops(scale);
        match case {
            Case::Sequential => {
                timed(ops, async {
                    for i in 0..ops as i32 {
                        let row = c.query_one(INT_SQL, &[&i]).await?;
                        check(row.try_get::<i32, _>(0)? == i, "int4")?;
                    }
                    Ok(())
                })
                .await
            }
            Case::Concurrent => {
                timed(ops * u64::from(CONCURRENT.unsigned_abs()), async {
                    for _ in 0..ops {
                        concurrent_apg(c, INT_SQL).await?;
                    }
                    Ok(())
                })
                .await
            }
            Case::Rows => {
                timed(ops, async {
                    for _ in 0..ops {
                        let rows = c.query(ROWS_SQL, &[]).await?;
                        let mut sum = 0.0;
                        for row in &rows {
                            let i: i32 = row.try_get(0)?;
                            let t: String = row.try_get(1)?;
                            let f: f64 = row.try_get(2)?;
                            sum += f64::from(i) + t.len() as f64 + f;
                        }
                        check(rows.len() == 1000 && sum > 0.0, "rows")?;
                    }
                    Ok(())
                })
                .await
            }
            Case::InsertMany => {
                let mut total = Duration::ZERO;
                let mut cpu = Duration::ZERO;
                for _ in 0..ops {
                    let s = timed(1, async {
                        let sets: Vec<[&(dyn apg::ToSql + Sync); 2]> =
                            self.rows.iter().map(|(i, n)| [i as _, n as _]).collect();
                        let params: Vec<&apg::Params<'_>> =
                            sets.iter().map(|s| s.as_slice()).collect();
                        let n = c.execute_many(INSERT_SQL, &params).await?;
                        check(n == INSERT_ROWS as u64, "insert count")
                    })
                    .await?;
                    total += s.wall;
                    cpu += s.cpu;
                    c.batch_execute("TRUNCATE bench_insert").await?;
                }
                Ok(Sample {
                    wall: total,
                    cpu,
                    ops,
                })
            }
            Case::CopyIn => {
                let mut total = Duration::ZERO;
                let mut cpu = Duration::ZERO;
                for _ in 0..ops {
                    let s = timed(1, async {
                        let mut copy = c.copy_in(COPY_SQL).await?;
                        let mut buf = Vec::with_capacity(64 * 1024 + 256);
                        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
                        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
                        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension
                        let mut text = String::new();
                        for i in 0..COPY_ROWS {
                            text.clear();
                            write!(text, "row {i}")?;
                            put_copy_row(&mut buf, i, &text, f64::from(i) * 0.5)?;
                            if buf.len() >= 64 * 1024 {
                                copy.write(&buf).await?;
                                buf.clear();
                            }
                        }
                        buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
                        copy.write(&buf).await?;
                        let n = copy.finish().await?;
                        check(n == COPY_ROWS as u64, "copy count")
                    })
                    .await?;
                    total += s.wall;
                    cpu += s.cpu;
                    c.batch_execute("TRUNCATE bench_copy").await?;
                }
                Ok(Sample {
                    wall: total,
                    cpu,
                    ops,
                })
            }
            Case::Pool | Case::PoolPipelined => {
                let pool = match case {
                    Case::PoolPipelined => &self.pipelined_pool,
                    _ => &self.pool,
                };
                timed(ops * u64::from(POOL_TASKS.unsigned_abs()), async {
                    let tasks = (0..POOL_TASKS).map(|t| {
                        let pool = pool.clone();
                        tokio::spawn(async move {
                            for i in pool_values(t, ops)? {
                                let v: i32 = pool.query_scalar(INT_SQL, &[&i]).await?;
                                check_send(v == i, "int4")?;
                            }
                            Ok::<_, BoxError>(())
                        })
                    });
                    join_tasks(tasks.collect()).await?;
                    // Statements did share connections (the warm-up opens them).
                    check(
                        matches!(case, Case::Pool) || pool.stats().shared > 0,
                        "pipelined",
                    )
                })
                .await
            }
        }
    }
}

/// The values task `t` of `POOL_TASKS` selects in case (f): distinct across tasks.
fn pool_values(t: i32, per_task: u64) -> Result<std::ops::Range<i32>, BoxError> {
    let n = i32::try_from(per_task).map_err(|_| "BENCH_SCALE too large")?;
    let start = t.checked_mul(n).ok_or("BENCH_SCALE too large")?;
    let end = start.checked_add(n).ok_or("BENCH_SCALE too large")?;
    Ok(start..end)
}

/// Waits for every spawned task; the first failure (error or panic) is the result.
async fn join_tasks(tasks: Vec<JoinHandle<Result<(), BoxError>>>) -> Result<()> {
    let mut first = Ok(());
    for task in tasks {
        let result = match task.await {
            Ok(r) => r.map_err(|e| e as Box<dyn StdError>),
            Err(e) => Err(e.into()),
        };
        if first.is_ok() {
            first = result;
        }
    }
    first
}

/// The reset query of apg's pool from `BENCH_POOL_RESET`, if set: `off` for none (as
/// deadpool-postgres's default, `RecyclingMethod::Fast`, sends none), `always` for
/// the default reset on every return, else the SQL.
fn pool_reset() -> Option<String> {
    let v = std::env::var("BENCH_POOL_RESET").ok()?;
    Some(if v == "off" { String::new() } else { v })
}

/// 10,000 `SELECT $1::int4` issued at once on one apg connection.
async fn concurrent_apg(c: &apg::Client, sql: &str) -> Result<()> {
    let all = join_all((0..CONCURRENT).map(|i| async move {
        let row = c.query_one(sql, &[&i]).await?;
        Ok::<_, apg::Error>(row.try_get::<i32, _>(0)? == i)
    }))
    .await;
    for ok in all {
        check(ok?, "int4")?;
    }
    Ok(())
}

/// One (int4, text, float8) tuple of binary COPY data.
fn put_copy_row(buf: &mut Vec<u8>, i: i32, t: &str, f: f64) -> Result<()> {
    buf.extend_from_slice(&3i16.to_be_bytes());
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&i.to_be_bytes());
    buf.extend_from_slice(&i32::try_from(t.len())?.to_be_bytes());
    buf.extend_from_slice(t.as_bytes());
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&f.to_bits().to_be_bytes());
    Ok(())
}

// ---- tokio-postgres ------------------------------------------------------------------

struct Tp {
    client: tokio_postgres::Client,
    pool: deadpool_postgres::Pool,
    /// Case (g): `POOL_SIZE` connections, each shared by its tasks, with
    /// `INT_SQL` prepared on each.
    shared: Vec<(Arc<tokio_postgres::Client>, tokio_postgres::Statement)>,
    int: tokio_postgres::Statement,
    rows_stmt: tokio_postgres::Statement,
    insert: tokio_postgres::Statement,
    rows: Vec<(i32, String)>,
}

impl Tp {
    async fn connect(url: &str) -> Result<Self> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("tokio-postgres connection error: {e}");
            }
        });
        client.batch_execute(TABLES).await?;
        // Prepared once and reused: tokio-postgres has no statement cache of its own.
        let int = client.prepare(INT_SQL).await?;
        let rows_stmt = client.prepare(ROWS_SQL).await?;
        let insert = client.prepare(INSERT_SQL).await?;
        // deadpool-postgres's defaults otherwise: `RecyclingMethod::Fast` (no query on
        // return or checkout), no timeouts.
        let manager = deadpool_postgres::Manager::from_config(
            url.parse()?,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig::default(),
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()?;
        let mut shared = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            let (c, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    eprintln!("tokio-postgres connection error: {e}");
                }
            });
            let st = c.prepare(INT_SQL).await?;
            shared.push((Arc::new(c), st));
        }
        Ok(Self {
            client,
            pool,
            shared,
            int,
            rows_stmt,
            insert,
            rows: insert_rows(),
        })
    }

    async fn run(&mut self, case: Case, scale: f64) -> Result<Sample> {
        let ops = case.ops(scale);
        match case {
            Case::Sequential => {
                let (c, st) = (&self.client, &self.int);
                timed(ops, async {
                    for i in 0..ops as i32 {
                        let row = c.query_one(st, &[&i]).await?;
                        check(row.try_get::<_, i32>(0)? == i, "int4")?;
                    }
                    Ok(())
                })
                .await
            }
            Case::Concurrent => {
                let (c, st) = (&self.client, &self.int);
                timed(ops * u64::from(CONCURRENT.unsigned_abs()), async {
                    for _ in 0..ops {
                        concurrent_tp(c, st).await?;
                    }
                    Ok(())
                })
                .await
            }
            Case::Rows => {
                let (c, st) = (&self.client, &self.rows_stmt);
                timed(ops, async {
                    for _ in 0..ops {
                        let rows = c.query(st, &[]).await?;
                        let mut sum = 0.0;
                        for row in &rows {
                            let i: i32 = row.try_get(0)?;
                            let t: String = row.try_get(1)?;
                            let f: f64 = row.try_get(2)?;
                            sum += f64::from(i) + t.len() as f64 + f;
                        }
                        check(rows.len() == 1000 && sum > 0.0, "rows")?;
                    }
                    Ok(())
                })
                .await
            }
            Case::InsertMany => {
                let mut total = Duration::ZERO;
                let mut cpu = Duration::ZERO;
                for _ in 0..ops {
                    let Self {
                        client,
                        insert,
                        rows,
                        ..
                    } = self;
                    let s = timed(1, async {
                        // The fastest equivalent: one transaction, every insert
                        // pipelined on the prepared statement.
                        let tx = client.transaction().await?;
                        let (t, insert) = (&tx, &*insert);
                        let all = join_all(
                            rows.iter()
                                .map(|(i, n)| async move { t.execute(insert, &[i, n]).await }),
                        )
                        .await;
                        let mut n = 0;
                        for r in all {
                            n += r?;
                        }
                        tx.commit().await?;
                        check(n == INSERT_ROWS as u64, "insert count")
                    })
                    .await?;
                    total += s.wall;
                    cpu += s.cpu;
                    self.client.batch_execute("TRUNCATE bench_insert").await?;
                }
                Ok(Sample {
                    wall: total,
                    cpu,
                    ops,
                })
            }
            Case::CopyIn => {
                let mut total = Duration::ZERO;
                let mut cpu = Duration::ZERO;
                for _ in 0..ops {
                    let c = &self.client;
                    let s = timed(1, async {
                        let sink = c.copy_in(COPY_SQL).await?;
                        let mut writer = pin!(BinaryCopyInWriter::new(
                            sink,
                            &[Type::INT4, Type::TEXT, Type::FLOAT8]
                        ));
                        let mut text = String::new();
                        for i in 0..COPY_ROWS {
                            text.clear();
                            write!(text, "row {i}")?;
                            let f = f64::from(i) * 0.5;
                            writer.as_mut().write(&[&i, &text.as_str(), &f]).await?;
                        }
                        let n = writer.finish().await?;
                        check(n == COPY_ROWS as u64, "copy count")
                    })
                    .await?;
                    total += s.wall;
                    cpu += s.cpu;
                    self.client.batch_execute("TRUNCATE bench_copy").await?;
                }
                Ok(Sample {
                    wall: total,
                    cpu,
                    ops,
                })
            }
            // deadpool-postgres hands out a connection per checkout and cannot share
            // one; the closest to (g) is connections shared by hand, which
            // tokio-postgres pipelines.
            Case::PoolPipelined => {
                timed(ops * u64::from(POOL_TASKS.unsigned_abs()), async {
                    let tasks = (0..POOL_TASKS).map(|t| {
                        let (client, st) =
                            self.shared[t.unsigned_abs() as usize % POOL_SIZE].clone();
                        tokio::spawn(async move {
                            for i in pool_values(t, ops)? {
                                let row = client.query_one(&st, &[&i]).await?;
                                check_send(row.try_get::<_, i32>(0)? == i, "int4")?;
                            }
                            Ok::<_, BoxError>(())
                        })
                    });
                    join_tasks(tasks.collect()).await
                })
                .await
            }
            Case::Pool => {
                timed(ops * u64::from(POOL_TASKS.unsigned_abs()), async {
                    let tasks = (0..POOL_TASKS).map(|t| {
                        let pool = self.pool.clone();
                        tokio::spawn(async move {
                            for i in pool_values(t, ops)? {
                                let client = pool.get().await?;
                                // The connection's statement cache: prepared once per
                                // connection, as apg's cache does.
                                let st = client.prepare_cached(INT_SQL).await?;
                                let row = client.query_one(&st, &[&i]).await?;
                                check_send(row.try_get::<_, i32>(0)? == i, "int4")?;
                            }
                            Ok::<_, BoxError>(())
                        })
                    });
                    join_tasks(tasks.collect()).await
                })
                .await
            }
        }
    }
}

/// 10,000 `SELECT $1::int4` issued at once on one tokio-postgres connection.
async fn concurrent_tp(c: &tokio_postgres::Client, st: &tokio_postgres::Statement) -> Result<()> {
    let all = join_all((0..CONCURRENT).map(|i| async move {
        let row = c.query_one(st, &[&i]).await?;
        Ok::<_, tokio_postgres::Error>(row.try_get::<_, i32>(0)? == i)
    }))
    .await;
    for ok in all {
        check(ok?, "int4")?;
    }
    Ok(())
}

// ---- driver --------------------------------------------------------------------------

fn env_number(name: &str, default: f64) -> Result<f64> {
    match std::env::var(name) {
        Ok(v) => Ok(v
            .parse()
            .map_err(|_| format!("{name}: not a number: {v}"))?),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<()> {
    let reps = env_number("BENCH_REPS", 7.0)?.max(1.0) as usize;
    let scale = env_number("BENCH_SCALE", 1.0)?;
    let only = std::env::var("BENCH_ONLY").ok();
    // One client only, for profiling it: `apg` or `tokio-postgres`.
    let client = std::env::var("BENCH_CLIENT").ok();
    let run_apg = client.as_deref().is_none_or(|c| c == "apg");
    let run_tp = client.as_deref().is_none_or(|c| c == "tokio-postgres");

    // APG_TEST_URL / DATABASE_URL when set, else a throwaway cluster.
    let server = apg_testkit::server()?;
    // `BENCH_TRANSPORT=unix`: both clients over the throwaway cluster's Unix socket,
    // where the kernel's share of a round trip is smaller than over TCP.
    let unix = std::env::var("BENCH_TRANSPORT").is_ok_and(|t| t == "unix");
    let url = match server.cluster() {
        Some(cluster) if unix => cluster.socket_url_for("postgres"),
        _ if unix => return Err("BENCH_TRANSPORT=unix needs the throwaway cluster".into()),
        _ => server.url(),
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let apg = Apg::connect(&url).await?;
        let mut tp = Tp::connect(&url).await?;
        println!(
            "server: PostgreSQL {} ({}); {reps} repetitions after one warm-up, \
             alternating which client goes first; medians shown",
            apg.client.server_version().unwrap_or_default(),
            match (server.is_external(), unix) {
                (true, _) => "external",
                (false, true) => "apg-testkit cluster, Unix socket",
                (false, false) => "apg-testkit cluster, TCP 127.0.0.1",
            },
        );
        println!();
        let mut table = Vec::new();
        for case in Case::ALL {
            if let Some(only) = &only {
                if !case.label().contains(only.as_str()) {
                    continue;
                }
            }
            eprintln!("running {}", case.label());
            // Warm-up: statement caches, server plan caches, allocator, TCP windows.
            if run_apg {
                apg.run(case, scale).await?;
            }
            if run_tp {
                tp.run(case, scale).await?;
            }
            let mut a = Vec::new();
            let mut t = Vec::new();
            for rep in 0..reps {
                if rep % 2 == 0 {
                    if run_apg {
                        a.push(apg.run(case, scale).await?);
                    }
                    if run_tp {
                        t.push(tp.run(case, scale).await?);
                    }
                } else {
                    if run_tp {
                        t.push(tp.run(case, scale).await?);
                    }
                    if run_apg {
                        a.push(apg.run(case, scale).await?);
                    }
                }
            }
            let row = Row {
                case,
                apg_ops: median(a.iter().map(Sample::ops_per_sec).collect()),
                tp_ops: median(t.iter().map(Sample::ops_per_sec).collect()),
                apg_cpu: median(a.iter().map(Sample::cpu_us_per_op).collect()),
                tp_cpu: median(t.iter().map(Sample::cpu_us_per_op).collect()),
            };
            table.push(row);
        }
        print_table(&table);
        Ok(())
    })
}

struct Row {
    case: Case,
    apg_ops: f64,
    tp_ops: f64,
    apg_cpu: f64,
    tp_cpu: f64,
}

fn print_table(rows: &[Row]) {
    println!(
        "| operation | one op | apg ops/s | tokio-postgres ops/s | throughput apg/t-p \
         | apg CPU µs/op | tokio-postgres CPU µs/op | CPU apg/t-p |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            r.case.label(),
            r.case.unit(),
            fmt_num(r.apg_ops),
            fmt_num(r.tp_ops),
            r.apg_ops / r.tp_ops,
            fmt_num(r.apg_cpu),
            fmt_num(r.tp_cpu),
            r.apg_cpu / r.tp_cpu,
        );
    }
    println!();
    println!("throughput apg/t-p > 1: apg is faster; CPU apg/t-p < 1: apg uses less client CPU.");
}

/// Three significant digits, thousands separated.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v >= 100.0 {
        let n = v.round() as u64;
        let digits = n.to_string();
        let mut out = String::new();
        for (k, ch) in digits.chars().enumerate() {
            if k > 0 && (digits.len() - k).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
