//! The connection driver against a scripted in-memory server, with a socket that takes
//! at most a few bytes per write and returns one byte per read: results must not depend
//! on how the bytes were split, and nothing may hang.
//!
//! The runtime here is a minimal one of threads (one per spawned task, parked while
//! pending), so these tests need no async runtime crate.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use apg::config::{Host, SslMode};
use apg::runtime::{AsyncStream, BoxFuture, Runtime, TcpOptions};
use apg::{Client, Config, ErrorKind};
use apg_proto::message::backend::{
    Authentication, BackendKeyData, BackendMessage, BindComplete, CloseComplete, CommandComplete,
    DataRow, FieldDescription, ParameterDescription, ParameterStatus, ParseComplete, ReadyForQuery,
    RowDescription, TransactionStatus,
};
use apg_proto::message::frontend::{FrontendMessage, StartupPacket, Target};
use apg_proto::message::{split_frame, split_startup_packet, Format, DEFAULT_MAX_MESSAGE_LEN};
use bytes::{Bytes, BytesMut};

// ---- a runtime of threads -------------------------------------------------------------

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

struct Sleep {
    deadline: Instant,
    started: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        if now >= self.deadline {
            return Poll::Ready(());
        }
        if !self.started {
            self.started = true;
            let waker = cx.waker().clone();
            let wait = self.deadline - now;
            std::thread::spawn(move || {
                std::thread::sleep(wait);
                waker.wake();
            });
        }
        Poll::Pending
    }
}

/// Connects to a [`FakePg`] behind a [`Pipe`] of the given granularity.
#[derive(Debug)]
struct MockRuntime {
    max_write: usize,
    max_read: usize,
    pipes: Mutex<Vec<Arc<Mutex<Pipe>>>>,
}

impl MockRuntime {
    fn new(max_write: usize, max_read: usize) -> Arc<Self> {
        Arc::new(Self {
            max_write,
            max_read,
            pipes: Mutex::new(Vec::new()),
        })
    }

    fn last_pipe(&self) -> Arc<Mutex<Pipe>> {
        Arc::clone(self.pipes.lock().unwrap().last().unwrap())
    }
}

impl Runtime for MockRuntime {
    fn connect_tcp(
        &self,
        _host: String,
        _port: u16,
        _options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        let pipe = Arc::new(Mutex::new(Pipe {
            server: FakePg::default(),
            to_client: VecDeque::new(),
            reader: None,
            closed: false,
        }));
        self.pipes.lock().unwrap().push(Arc::clone(&pipe));
        let stream = MockStream {
            pipe,
            max_write: self.max_write,
            max_read: self.max_read,
        };
        Box::pin(async move { Ok(Box::new(stream) as Box<dyn AsyncStream>) })
    }

    #[cfg(unix)]
    fn connect_unix(&self, _path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        Box::pin(async { Err(io::ErrorKind::Unsupported.into()) })
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        std::thread::spawn(move || block_on(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(Sleep {
            deadline: Instant::now() + duration,
            started: false,
        })
    }
}

// ---- the socket and the server --------------------------------------------------------

#[derive(Debug)]
struct Pipe {
    server: FakePg,
    to_client: VecDeque<u8>,
    reader: Option<Waker>,
    closed: bool,
}

impl Pipe {
    /// The server drops the connection.
    fn close(&mut self) {
        self.closed = true;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }
}

struct MockStream {
    pipe: Arc<Mutex<Pipe>>,
    max_write: usize,
    max_read: usize,
}

impl futures_io::AsyncRead for MockStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.pipe.lock().unwrap();
        if pipe.to_client.is_empty() {
            if pipe.closed {
                return Poll::Ready(Ok(0));
            }
            pipe.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(self.max_read).min(pipe.to_client.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.to_client.drain(..n)) {
            *slot = byte;
        }
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncWrite for MockStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.pipe.lock().unwrap();
        if pipe.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = buf.len().min(self.max_write);
        let out = pipe.server.receive(&buf[..n]);
        pipe.to_client.extend(out.iter());
        if pipe.server.terminated {
            pipe.closed = true;
        }
        if let Some(w) = pipe.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A PostgreSQL server that knows one kind of statement: every statement has one int4
/// parameter and returns it as its one int4 column.
#[derive(Debug, Default)]
struct FakePg {
    inbox: BytesMut,
    output: BytesMut,
    started: bool,
    /// The parameter bound to the portal, returned by Execute.
    bound: Option<Bytes>,
    /// Execute is not answered (a statement that runs forever).
    stall: bool,
    terminated: bool,
}

fn int4_column(format: Format) -> RowDescription {
    RowDescription {
        fields: vec![FieldDescription {
            name: "v".into(),
            table_oid: 0,
            column_id: 0,
            type_oid: 23,
            type_size: 4,
            type_modifier: -1,
            format,
        }],
    }
}

impl FakePg {
    fn send(&mut self, message: impl Into<BackendMessage>) {
        message.into().encode(&mut self.output).unwrap();
    }

    /// Decodes every complete message received; `None` for the start-up packet.
    fn messages(&mut self, bytes: &[u8]) -> Vec<Option<FrontendMessage>> {
        self.inbox.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.started {
                match split_frame(&mut self.inbox, DEFAULT_MAX_MESSAGE_LEN).unwrap() {
                    Some(frame) => out.push(Some(FrontendMessage::decode(frame).unwrap())),
                    None => return out,
                }
            } else {
                match split_startup_packet(&mut self.inbox, DEFAULT_MAX_MESSAGE_LEN).unwrap() {
                    Some(body) => {
                        assert!(matches!(
                            StartupPacket::decode(body).unwrap(),
                            StartupPacket::Startup(_)
                        ));
                        self.started = true;
                        out.push(None);
                    }
                    None => return out,
                }
            }
        }
    }

    fn ready(&mut self) {
        self.send(ReadyForQuery {
            status: TransactionStatus::Idle,
        });
    }

    fn receive(&mut self, bytes: &[u8]) -> Bytes {
        for message in self.messages(bytes) {
            let Some(message) = message else {
                // The start-up packet: trust authentication.
                self.send(Authentication::Ok);
                self.send(ParameterStatus {
                    name: "server_version".into(),
                    value: "15.0".into(),
                });
                self.send(BackendKeyData {
                    process_id: 7,
                    secret_key: Bytes::from_static(&[1, 2, 3, 4]),
                });
                self.ready();
                continue;
            };
            match message {
                FrontendMessage::Parse(_) => self.send(ParseComplete),
                FrontendMessage::Describe(d) => {
                    if d.target == Target::Statement {
                        self.send(ParameterDescription { types: vec![23] });
                        self.send(int4_column(Format::Text));
                    } else {
                        self.send(int4_column(Format::Binary));
                    }
                }
                FrontendMessage::Bind(b) => {
                    self.bound = b.params.first().cloned().flatten();
                    self.send(BindComplete);
                }
                FrontendMessage::Execute(_) if self.stall => {}
                FrontendMessage::Execute(_) => {
                    let value = self.bound.clone().unwrap_or_default();
                    self.send(DataRow::from_fields([Some(&value[..])]).unwrap());
                    self.send(CommandComplete {
                        tag: "SELECT 1".into(),
                    });
                }
                FrontendMessage::Close(_) => self.send(CloseComplete),
                FrontendMessage::Sync(_) if self.stall => {}
                FrontendMessage::Sync(_) => self.ready(),
                FrontendMessage::Query(q) => {
                    let mut columns = int4_column(Format::Text);
                    columns.fields[0].type_oid = 25;
                    self.send(columns);
                    self.send(DataRow::from_fields([Some(q.sql.as_bytes())]).unwrap());
                    self.send(CommandComplete {
                        tag: "SELECT 1".into(),
                    });
                    self.ready();
                }
                FrontendMessage::Terminate(_) => self.terminated = true,
                _ => {}
            }
        }
        self.output.split().freeze()
    }
}

fn config() -> Config {
    let mut config = Config::new();
    config.hosts = vec![Host::Tcp("mock".into())];
    config.user = Some("alice".into());
    config.connect_timeout = Some(Duration::from_secs(10));
    // The in-memory server speaks plain text only (no SSLRequest answer).
    config.ssl_mode = SslMode::Disable;
    config
}

/// Runs `future` on this thread, failing if it takes more than 20 s.
fn run<F: Future>(rt: &Arc<MockRuntime>, future: F) -> F::Output {
    let runtime: Arc<dyn Runtime> = Arc::clone(rt) as _;
    block_on(async move {
        let mut future = std::pin::pin!(future);
        let mut limit = runtime.sleep(Duration::from_secs(20));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = future.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            assert!(limit.as_mut().poll(cx).is_pending(), "timed out");
            Poll::Pending
        })
        .await
    })
}

#[test]
fn results_do_not_depend_on_how_bytes_are_split() {
    for (max_write, max_read) in [(1, 1), (3, 1), (7, 2), (1 << 20, 1 << 20)] {
        let rt = MockRuntime::new(max_write, max_read);
        let client = run(&rt, Client::connect(&config(), Arc::clone(&rt) as _)).unwrap();
        run(&rt, async {
            client.prepare("SELECT $1").await.unwrap();
            let queries = (0..100i32).map(|i| {
                let client = client.clone();
                async move {
                    let v: i32 = client.query_scalar("SELECT $1", &[&i]).await.unwrap();
                    assert_eq!(v, i);
                }
            });
            futures_util::future::join_all(queries).await;
            let rows = client.simple_query("hello").await.unwrap();
            assert_eq!(rows.len(), 2);
        });
        assert_eq!(client.__stats().statements_prepared, 1);
        run(&rt, client.close());
        assert!(rt.last_pipe().lock().unwrap().server.terminated);
    }
}

#[test]
fn dropped_futures_do_not_misalign_responses() {
    let rt = MockRuntime::new(5, 3);
    let client = run(&rt, Client::connect(&config(), Arc::clone(&rt) as _)).unwrap();
    run(&rt, async {
        for i in 0..200i32 {
            let params: [&(dyn apg::ToSql + Sync); 1] = [&i];
            let mut dropped = Box::pin(client.query("SELECT $1", &params));
            for _ in 0..(i % 4) {
                let poll = std::future::poll_fn(|cx| Poll::Ready(dropped.as_mut().poll(cx))).await;
                if poll.is_ready() {
                    break;
                }
            }
            drop(dropped);
            let v: i32 = client
                .query_scalar("SELECT $1", &[&(i + 1000)])
                .await
                .unwrap();
            assert_eq!(v, i + 1000);
        }
    });
}

#[test]
fn lost_connection_fails_pending_and_later_requests() {
    let rt = MockRuntime::new(1 << 20, 1 << 20);
    let client = run(&rt, Client::connect(&config(), Arc::clone(&rt) as _)).unwrap();
    run(&rt, client.prepare("SELECT $1")).unwrap();
    let pipe = rt.last_pipe();
    pipe.lock().unwrap().server.stall = true;
    let pending = {
        let client = client.clone();
        std::thread::spawn(move || {
            block_on(async move { client.query("SELECT $1", &[&1i32]).await })
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    pipe.lock().unwrap().close();
    let e = pending.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    let e = run(&rt, client.query("SELECT $1", &[&2i32])).unwrap_err();
    assert!(e.is_closed());
    assert!(client.is_closed());
}
