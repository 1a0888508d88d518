//! The state one connection shares between its driver and its client handles.
//!
//! Theory of operation (quinn's shape). One [`Shared`] per connection holds, under one
//! `std::sync::Mutex`, the sans-IO core ([`Connection`]), a response slot per request
//! in flight, and the driver's waker. Client calls lock it briefly, never across an
//! await: they encode their request straight into the core's send buffer (so requests
//! issued concurrently by many tasks go out in one write), register a slot and wake the
//! driver. The driver ([`crate::driver`]) moves bytes between the socket and the core
//! and routes the core's events into the slots, waking each waiting task's own waker.
//!
//! Dropping a [`Responses`] before its request completed only detaches it: the slot
//! is removed and the core is told to `discard` the request, so it keeps consuming
//! the request's messages and later requests get their own results.
//!
//! The *gate* serializes the connection while a row stream outside a transaction
//! block has a portal open: any Sync sent by another request would end the implicit
//! transaction the portal lives in, so other requests wait until the stream ends.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use apg_proto::connection::{Connection, Outcome, RequestId, Response};

use crate::cancel::CancelInfo;
use crate::error::Error;
use crate::runtime::{AsyncStream, Runtime};
use crate::statement::{Statement, StatementCache};

/// Counters for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Successful socket writes.
    pub writes: u64,
    /// The most requests ever in flight (sent and not yet answered) at a write: above 1
    /// only when requests are pipelined.
    pub max_in_flight: usize,
    /// Successful socket reads.
    pub reads: u64,
    /// Parse messages sent to prepare a named (cached) statement.
    pub statements_prepared: u64,
    /// Parse messages sent for the unnamed statement.
    pub unnamed_parses: u64,
    /// The most responses ever waiting in one request's slot for its task to take
    /// them: a bound on what the connection buffers per request.
    pub max_queued_responses: usize,
}

/// Responses a bounded slot may hold before the driver stops reading the socket.
pub(crate) const BOUNDED_QUEUE: usize = 1024;

/// Bytes waiting to be written above which COPY data waits for the socket.
pub(crate) const SEND_HIGH_WATER: usize = 1 << 20;

/// Queued requests this large are written by the task that adds to them, rather than
/// wait for the driver's turn.
const EARLY_WRITE_BYTES: usize = 64 * 1024;

/// Bytes waiting to be written below which waiting COPY data may go on.
pub(crate) const SEND_LOW_WATER: usize = 256 * 1024;

/// Hashes request ids with one multiplication (Fibonacci hashing) instead of SipHash,
/// which costs more than the rest of a lookup on the hot path. Ids are sequential and
/// chosen by this process, never by the peer, so there is nothing to flood.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `RequestId` (it hashes one u64); correct for anything else.
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One request's responses, filled by the driver.
#[derive(Debug, Default)]
struct Slot {
    queue: VecDeque<Response>,
    done: Option<Outcome>,
    waker: Option<Waker>,
    /// A stream of unknown length (COPY TO STDOUT): when it holds
    /// [`BOUNDED_QUEUE`] responses, the driver stops reading until it is drained.
    bounded: bool,
    /// The request's reader wants ParseComplete, BindComplete, CloseComplete and
    /// NoData too. Most only want results: the driver drops these acknowledgements
    /// rather than queue them and wake a task for nothing.
    acks: bool,
}

/// Who is asking to send: decides whether the gate lets a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// An ordinary request: waits while another task holds the gate.
    Normal,
    /// The holder of the gate (a row stream).
    Holder(u64),
    /// Clean-up queued from `Drop` (ROLLBACK, closing a portal): cannot wait.
    Bypass,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) conn: Connection,
    slots: HashMap<RequestId, Slot, BuildHasherDefault<IdHasher>>,
    /// Emptied response queues, handed to new requests: a query then allocates none.
    spare_queues: Vec<VecDeque<Response>>,
    driver_waker: Option<Waker>,
    /// Why the connection closed; set once, shared by every error reporting it.
    close_cause: Option<Arc<Error>>,
    /// No more requests are accepted.
    closed: bool,
    /// The driver has finished: the socket is closed.
    driver_done: bool,
    done_waiters: Vec<Waker>,
    gate: Option<u64>,
    gate_waiters: Vec<Waker>,
    /// A bounded slot is full: the driver does not read until it is drained.
    read_paused: bool,
    /// Writers of COPY data waiting for the send buffer to drain.
    send_waiters: Vec<Waker>,
    pub(crate) cache: StatementCache,
    /// What the catalog said about types that are not built in, and the result formats
    /// the user chose for some types ([`crate::introspect`]).
    pub(crate) types: crate::introspect::TypeCache,
    /// SQL texts being prepared for the cache, with the tasks waiting for them.
    preparing: HashMap<Arc<str>, Vec<Waker>>,
    pub(crate) stats: ConnectionStats,
    /// Notification listeners and the notice handler.
    pub(crate) listen: crate::listen::Hub,
    /// Whether the session holds state a pool must reset.
    pub(crate) session: crate::session::SessionTracker,
    /// Bytes were written since the socket was last flushed.
    pub(crate) needs_flush: bool,
    /// The socket took no more at the last write: the driver waits for it to drain,
    /// and tasks do not try to write meanwhile (each try would be a system call).
    pub(crate) send_blocked: bool,
}

/// The connection state shared by the driver and every client handle.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Server-side statements to close, queued by `Drop` of the last handle of an
    /// evicted statement. A separate lock so that dropping a statement while the
    /// state is locked cannot deadlock.
    pending_closes: Mutex<Vec<String>>,
    /// `pending_closes` may be non-empty: most requests skip its lock.
    closes_queued: AtomicBool,
    /// The session tracker's count of changes and the close (see
    /// `SessionTracker::changes`).
    session_changes: Arc<AtomicU64>,
    /// Statements are cached (the cache's capacity, fixed at connect, is above 0).
    caching: bool,
    /// A random prefix making statement and portal names unique across connections
    /// and processes.
    prefix: String,
    next_name: AtomicU64,
    next_gate: AtomicU64,
    runtime: Arc<dyn Runtime>,
    cancel: Option<Arc<CancelInfo>>,
    command_timeout: Option<Duration>,
    /// The socket. The driver reads it (without the state lock) and writes it (with
    /// it); a task that queues a lone request writes it itself, under the state lock,
    /// if the driver is not reading at that moment ([`Shared::write_direct`]).
    io: Io,
}

/// The socket's slot in [`Shared`] (a newtype, for `Debug`).
#[derive(Default)]
struct Io(Mutex<Option<Box<dyn AsyncStream>>>);

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// A waker that does nothing (`Waker::noop` is newer than the crate's minimum Rust
/// version): for looking at what has arrived without waiting, and for writing
/// without registering interest (the driver, woken, registers its own).
pub(crate) fn noop_waker() -> Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: OnceLock<Waker> = OnceLock::new();
    NOOP.get_or_init(|| Waker::from(Arc::new(Noop))).clone()
}

/// One item of a request's answer.
#[derive(Debug)]
pub(crate) enum Item {
    Response(Response),
    Done(Outcome),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while locked leaves consistent data: every critical section either
    // completes a core call or changes nothing.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    for w in wakers {
        w.wake();
    }
}

/// Adds `waker` to `list` unless it is the last one there.
fn register(list: &mut Vec<Waker>, waker: &Waker) {
    // Only the last entry is compared: a scan of the whole list made a burst of n
    // waiters (10,000 first uses of one statement) cost n² comparisons. A task polled
    // again while it waits, with another task registered in between, is listed twice
    // and woken twice, which is harmless; so that such a task cannot grow the list
    // without bound, its older entries are dropped whenever the length reaches a power
    // of two (one scan per doubling: constant time per registration on average).
    if list.last().is_some_and(|w| w.will_wake(waker)) {
        return;
    }
    if list.len() >= 64 && list.len().is_power_of_two() {
        list.retain(|w| !w.will_wake(waker));
    }
    list.push(waker.clone());
}

impl Shared {
    pub(crate) fn new(
        conn: Connection,
        cache_capacity: usize,
        prefix: String,
        runtime: Arc<dyn Runtime>,
        cancel: Option<Arc<CancelInfo>>,
        command_timeout: Option<Duration>,
    ) -> Self {
        let session = crate::session::SessionTracker::default();
        let session_changes = session.changes();
        Self {
            state: Mutex::new(State {
                conn,
                slots: HashMap::default(),
                spare_queues: Vec::new(),
                driver_waker: None,
                close_cause: None,
                closed: false,
                driver_done: false,
                done_waiters: Vec::new(),
                gate: None,
                gate_waiters: Vec::new(),
                read_paused: false,
                send_waiters: Vec::new(),
                cache: StatementCache::new(cache_capacity),
                types: crate::introspect::TypeCache::default(),
                preparing: HashMap::new(),
                stats: ConnectionStats::default(),
                listen: crate::listen::Hub::default(),
                session,
                needs_flush: false,
                send_blocked: false,
            }),
            pending_closes: Mutex::new(Vec::new()),
            closes_queued: AtomicBool::new(false),
            session_changes,
            caching: cache_capacity > 0,
            prefix,
            next_name: AtomicU64::new(0),
            next_gate: AtomicU64::new(1),
            runtime,
            cancel,
            command_timeout,
            io: Io::default(),
        }
    }

    pub(crate) fn runtime(&self) -> &dyn Runtime {
        &*self.runtime
    }

    pub(crate) fn cancel_info(&self) -> Option<Arc<CancelInfo>> {
        self.cancel.clone()
    }

    pub(crate) fn command_timeout(&self) -> Option<Duration> {
        self.command_timeout
    }

    /// The cached statement for `sql`, or the right to prepare it: while another task
    /// prepares the same SQL, waits for it instead of preparing a duplicate. The gate's
    /// holder (a row stream re-preparing) does not wait: the other task may be waiting
    /// for the gate itself.
    pub(crate) async fn claim_prepare(&self, sql: &str, access: Access) -> Claim<'_> {
        poll_fn(|cx| {
            let mut st = self.lock();
            if let Some(statement) = st.cache.get(sql) {
                return Poll::Ready(Claim::Cached(statement));
            }
            if !st.cache.enabled() {
                return Poll::Ready(Claim::Mine(Preparing {
                    shared: self,
                    sql: None,
                }));
            }
            if let Some(waiters) = st.preparing.get_mut(sql) {
                if !matches!(access, Access::Normal) {
                    return Poll::Ready(Claim::Mine(Preparing {
                        shared: self,
                        sql: None,
                    }));
                }
                register(waiters, cx.waker());
                return Poll::Pending;
            }
            let key: Arc<str> = Arc::from(sql);
            st.preparing.insert(Arc::clone(&key), Vec::new());
            Poll::Ready(Claim::Mine(Preparing {
                shared: self,
                sql: Some(key),
            }))
        })
        .await
    }

    /// Takes the gate if it is free.
    pub(crate) fn try_acquire_gate(self: &Arc<Self>) -> Option<Gate> {
        let mut st = self.lock();
        if st.gate.is_some() || st.closed {
            return None;
        }
        let token = self.next_gate.fetch_add(1, Ordering::Relaxed);
        st.gate = Some(token);
        Some(Gate {
            shared: Arc::clone(self),
            token,
        })
    }

    /// What to wake after a request was queued: the driver, unless the request was
    /// written here already; COPY writers, if that drained the send buffer.
    fn after_submit(&self, st: &mut State) -> Vec<Waker> {
        if self.write_direct(st) {
            return st.take_send_waiters();
        }
        let mut wakers = st.take_send_waiters();
        wakers.extend(st.driver_waker.take());
        wakers
    }

    /// Writes a lone request (nothing else in flight, nothing to coalesce it with)
    /// from the calling task, if the driver is not using the socket at this moment:
    /// it spares a wake-up of the driver task and a switch to it per request. The
    /// driver then only reads the answer. Whatever does not go out at once (a full
    /// socket, an error, a pending flush) is left to the driver, which is then woken
    /// and registers its own interest. Returns whether everything went out. Called
    /// with the state locked, as the driver writes, so bytes keep their order.
    fn write_direct(&self, st: &mut State) -> bool {
        // Alone, or with a batch large enough that the server had better start on it
        // while tasks encode the rest (the driver writes only once they yield).
        // Alone means no other task holds answers it has not taken yet either: such a
        // task is about to run, and may well send a request the driver can then write
        // with this one, in one system call.
        let alone = st.conn.in_flight() == 1 && st.slots.len() <= 1;
        let worth_it = alone || st.unsent() >= EARLY_WRITE_BYTES;
        if !worth_it || st.needs_flush || st.send_blocked || st.closed {
            return false;
        }
        let Ok(mut io) = self.io.0.try_lock() else {
            return false;
        };
        let Some(stream) = io.as_mut() else {
            return false;
        };
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        while let Some(bytes) = st.conn.poll_transmit() {
            match Pin::new(&mut **stream).poll_write(&mut cx, bytes) {
                Poll::Ready(Ok(n)) if n > 0 => st.note_written(n),
                Poll::Pending => {
                    st.send_blocked = true;
                    return false;
                }
                // The driver tries again, and reports what fails.
                _ => return false,
            }
        }
        match Pin::new(&mut **stream).poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => {
                st.needs_flush = false;
                true
            }
            _ => false,
        }
    }

    /// Puts the connected socket in place, for the driver and direct writes.
    pub(crate) fn install_stream(&self, stream: Box<dyn AsyncStream>) {
        *lock(&self.io.0) = Some(stream);
    }

    /// The socket (`None` once the driver has finished).
    pub(crate) fn io(&self) -> MutexGuard<'_, Option<Box<dyn AsyncStream>>> {
        lock(&self.io.0)
    }

    /// Takes the socket out, to close it.
    pub(crate) fn take_stream(&self) -> Option<Box<dyn AsyncStream>> {
        lock(&self.io.0).take()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Changes of the session seen so far, and the close: without the lock.
    pub(crate) fn session_changes(&self) -> u64 {
        self.session_changes.load(Ordering::Relaxed)
    }

    /// A name for a new server-side statement or portal, unique on this connection and
    /// (through the random prefix) across connections.
    pub(crate) fn new_name(&self, kind: &str) -> String {
        let n = self.next_name.fetch_add(1, Ordering::Relaxed);
        format!("apg_{}_{kind}{n}", self.prefix)
    }

    /// Queues a Close for statement `name`, sent in front of the next extended request.
    pub(crate) fn queue_close(&self, name: String) {
        let mut closes = lock(&self.pending_closes);
        closes.push(name);
        self.closes_queued.store(true, Ordering::Release);
    }

    pub(crate) fn take_pending_closes(&self) -> Vec<String> {
        // A name queued just after this check goes out with the next request.
        if !self.closes_queued.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut closes = lock(&self.pending_closes);
        self.closes_queued.store(false, Ordering::Release);
        std::mem::take(&mut *closes)
    }

    /// Whether statements are cached (see [`StatementCache::enabled`]), without the
    /// lock: the capacity never changes.
    pub(crate) fn caching(&self) -> bool {
        self.caching
    }

    /// Runs `build` under the lock once the request may be sent (the gate is open to
    /// `access`), then wakes the driver. `build` encodes the request and registers its
    /// slots with [`State::register`].
    ///
    /// # Errors
    ///
    /// The closed error if the connection is closed, or what `build` returns.
    pub(crate) async fn submit<T>(
        &self,
        access: Access,
        build: impl FnOnce(&mut State) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut build = Some(build);
        poll_fn(|cx| {
            let mut st = self.lock();
            if let Some(e) = st.closed_error() {
                return Poll::Ready(Err(e));
            }
            if !st.gate_admits(access) {
                register(&mut st.gate_waiters, cx.waker());
                return Poll::Pending;
            }
            let Some(build) = build.take() else {
                return Poll::Ready(Err(Error::usage("request polled after completion")));
            };
            let result = build(&mut st);
            let wakers = self.after_submit(&mut st);
            drop(st);
            wake_all(wakers);
            Poll::Ready(result)
        })
        .await
    }

    /// [`submit`](Self::submit) without waiting: for `Drop` and for the gate holder.
    pub(crate) fn submit_now<T>(
        &self,
        access: Access,
        build: impl FnOnce(&mut State) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut st = self.lock();
        if let Some(e) = st.closed_error() {
            return Err(e);
        }
        if !st.gate_admits(access) {
            return Err(Error::usage(
                "another task holds the connection for a row stream",
            ));
        }
        let result = build(&mut st);
        let wakers = self.after_submit(&mut st);
        drop(st);
        wake_all(wakers);
        result
    }

    /// Waits until the gate is free and takes it.
    pub(crate) async fn acquire_gate(self: &Arc<Self>) -> Result<Gate, Error> {
        let token = self.next_gate.fetch_add(1, Ordering::Relaxed);
        poll_fn(|cx| {
            let mut st = self.lock();
            if let Some(e) = st.closed_error() {
                return Poll::Ready(Err(e));
            }
            if st.gate.is_some() {
                register(&mut st.gate_waiters, cx.waker());
                return Poll::Pending;
            }
            st.gate = Some(token);
            Poll::Ready(Ok(Gate {
                shared: Arc::clone(self),
                token,
            }))
        })
        .await
    }

    fn release_gate(&self, token: u64) {
        let mut st = self.lock();
        if st.gate == Some(token) {
            st.gate = None;
            let waiters = std::mem::take(&mut st.gate_waiters);
            drop(st);
            wake_all(waiters);
        }
    }

    /// The closed error, if the connection no longer takes requests.
    pub(crate) fn closed_error(&self) -> Option<Error> {
        self.lock().closed_error()
    }

    /// Asks the connection to end: Terminate is queued after everything already sent.
    pub(crate) fn terminate(&self, cause: &'static str) {
        let mut st = self.lock();
        if !st.closed {
            st.closed = true;
            if st.close_cause.is_none() {
                st.close_cause = Some(Arc::new(Error::closed_by_client(cause)));
            }
        }
        st.conn.terminate();
        let mut wakers: Vec<Waker> = st.driver_waker.take().into_iter().collect();
        wakers.append(&mut st.gate_waiters);
        drop(st);
        wake_all(wakers);
    }

    /// Waits until the driver has finished and the socket is closed.
    pub(crate) async fn wait_closed(&self) {
        poll_fn(|cx| {
            let mut st = self.lock();
            if st.driver_done {
                Poll::Ready(())
            } else {
                register(&mut st.done_waiters, cx.waker());
                Poll::Pending
            }
        })
        .await;
    }
}

impl State {
    /// Creates the response slot of a request just sent.
    pub(crate) fn register(&mut self, id: RequestId) {
        self.register_slot(id, false);
    }

    /// Like [`register`](Self::register), for a reader that needs the
    /// acknowledgements (ParseComplete, BindComplete, CloseComplete, NoData) as well.
    pub(crate) fn register_with_acks(&mut self, id: RequestId) {
        self.register_slot(id, true);
    }

    fn register_slot(&mut self, id: RequestId, acks: bool) {
        let slot = Slot {
            queue: self.spare_queues.pop().unwrap_or_default(),
            acks,
            ..Slot::default()
        };
        self.slots.insert(id, slot);
    }

    /// Keeps an emptied queue for a later request (a bounded number of modest ones).
    fn recycle_queue(&mut self, mut queue: VecDeque<Response>) {
        const SPARE_QUEUES: usize = 64;
        const SPARE_CAPACITY: usize = 64;
        if queue.capacity() > 0
            && queue.capacity() <= SPARE_CAPACITY
            && self.spare_queues.len() < SPARE_QUEUES
        {
            queue.clear();
            self.spare_queues.push(queue);
        }
    }

    /// Removes request `id`'s slot, keeping its queue for reuse.
    fn remove_slot(&mut self, id: RequestId) {
        if let Some(slot) = self.slots.remove(&id) {
            self.recycle_queue(slot.queue);
        }
    }

    /// Creates a bounded response slot (see [`Slot::bounded`]).
    pub(crate) fn register_bounded(&mut self, id: RequestId) {
        self.slots.insert(
            id,
            Slot {
                bounded: true,
                ..Slot::default()
            },
        );
    }

    /// Whether the driver should leave the socket unread for now.
    pub(crate) fn read_paused(&self) -> bool {
        self.read_paused
    }

    /// `n` bytes of the send buffer went out.
    pub(crate) fn note_written(&mut self, n: usize) {
        self.conn.advance_transmit(n);
        self.stats.writes += 1;
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.conn.in_flight());
        self.needs_flush = true;
    }

    /// Bytes encoded and not yet written.
    pub(crate) fn unsent(&mut self) -> usize {
        self.conn.poll_transmit().map_or(0, <[u8]>::len)
    }

    /// Registers a writer waiting for the send buffer to drain.
    pub(crate) fn wait_for_send(&mut self, waker: &Waker) {
        register(&mut self.send_waiters, waker);
    }

    /// The writers to wake once the send buffer has drained enough.
    pub(crate) fn take_send_waiters(&mut self) -> Vec<Waker> {
        if self.send_waiters.is_empty() || self.unsent() >= SEND_LOW_WATER {
            Vec::new()
        } else {
            std::mem::take(&mut self.send_waiters)
        }
    }

    /// Wakes the driver (after the caller unlocks), e.g. after encoding data.
    pub(crate) fn take_driver_waker(&mut self) -> Option<Waker> {
        self.driver_waker.take()
    }

    fn gate_admits(&self, access: Access) -> bool {
        match (self.gate, access) {
            (None, _) | (_, Access::Bypass) => true,
            (Some(holder), Access::Holder(token)) => holder == token,
            (Some(_), Access::Normal) => false,
        }
    }

    pub(crate) fn closed_error(&self) -> Option<Error> {
        self.closed.then(|| Error::closed(self.close_cause.clone()))
    }

    pub(crate) fn close_cause(&self) -> Option<Arc<Error>> {
        self.close_cause.clone()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Records why the connection closed (the first cause wins) and stops taking
    /// requests.
    pub(crate) fn set_closed(&mut self, cause: Option<Error>) {
        if !self.closed {
            self.session.closed();
        }
        self.closed = true;
        if self.close_cause.is_none() {
            self.close_cause = cause.map(Arc::new);
        }
    }

    /// Stores the driver's waker for client calls to wake.
    pub(crate) fn set_driver_waker(&mut self, waker: &Waker) {
        match &mut self.driver_waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    /// Routes a response to its slot; returns the waker to wake, if any.
    pub(crate) fn route_response(&mut self, id: RequestId, body: Response) -> Option<Waker> {
        let slot = self.slots.get_mut(&id)?;
        if !slot.acks
            && matches!(
                body,
                Response::ParseComplete
                    | Response::BindComplete
                    | Response::CloseComplete
                    | Response::NoData
            )
        {
            return None;
        }
        slot.queue.push_back(body);
        let queued = slot.queue.len();
        if slot.bounded && queued >= BOUNDED_QUEUE {
            self.read_paused = true;
        }
        let waker = slot.waker.take();
        if queued > self.stats.max_queued_responses {
            self.stats.max_queued_responses = queued;
        }
        waker
    }

    /// Routes a request's completion to its slot; returns the waker to wake, if any.
    pub(crate) fn route_done(&mut self, id: RequestId, outcome: Outcome) -> Option<Waker> {
        let slot = self.slots.get_mut(&id)?;
        slot.done = Some(outcome);
        slot.waker.take()
    }

    /// The driver stopped without the core reporting every request done (it was
    /// dropped, or the socket failed): completes every slot, and wakes everyone who
    /// waits on this connection.
    pub(crate) fn finish_driver(&mut self) -> Vec<Waker> {
        self.closed = true;
        self.driver_done = true;
        let mut wakers = Vec::new();
        for slot in self.slots.values_mut() {
            if slot.done.is_none() {
                slot.done = Some(Outcome::ConnectionClosed);
            }
            wakers.extend(slot.waker.take());
        }
        wakers.append(&mut self.gate_waiters);
        wakers.append(&mut self.done_waiters);
        wakers.append(&mut self.send_waiters);
        wakers.append(&mut self.listen.close());
        wakers
    }

    /// A bounded slot was drained or dropped: let the driver read again.
    fn resume_reading(&mut self) -> Option<Waker> {
        if self.read_paused {
            self.read_paused = false;
            self.driver_waker.take()
        } else {
            None
        }
    }

    /// The tasks waiting for the gate or to send, to wake when the connection closes.
    pub(crate) fn take_close_waiters(&mut self) -> Vec<Waker> {
        let mut wakers = std::mem::take(&mut self.gate_waiters);
        wakers.append(&mut self.send_waiters);
        wakers
    }
}

/// What [`Shared::claim_prepare`] found.
pub(crate) enum Claim<'a> {
    /// The statement is cached.
    Cached(Statement),
    /// The caller prepares it; others wait until the guard is dropped.
    Mine(Preparing<'a>),
}

/// The right to prepare one SQL text; dropping it (prepared, failed or abandoned) lets
/// the waiting tasks look again.
pub(crate) struct Preparing<'a> {
    shared: &'a Shared,
    sql: Option<Arc<str>>,
}

impl Drop for Preparing<'_> {
    fn drop(&mut self) {
        let Some(sql) = self.sql.take() else {
            return;
        };
        let waiters = self.shared.lock().preparing.remove(&sql);
        wake_all(waiters.unwrap_or_default());
    }
}

/// The gate, held by a row stream: released on drop.
#[derive(Debug)]
pub(crate) struct Gate {
    shared: Arc<Shared>,
    token: u64,
}

impl Gate {
    pub(crate) fn access(&self) -> Access {
        Access::Holder(self.token)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.shared.release_gate(self.token);
    }
}

/// The receiving end of one request: its responses, then its outcome.
///
/// Dropping it before the outcome arrived detaches the request (see the module docs).
#[derive(Debug)]
pub(crate) struct Responses {
    shared: Arc<Shared>,
    id: RequestId,
    buf: VecDeque<Response>,
    done: Option<Outcome>,
    finished: bool,
}

impl Responses {
    pub(crate) fn new(shared: Arc<Shared>, id: RequestId) -> Self {
        Self {
            shared,
            id,
            buf: VecDeque::new(),
            done: None,
            finished: false,
        }
    }

    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Item> {
        if let Some(r) = self.buf.pop_front() {
            return Poll::Ready(Item::Response(r));
        }
        if let Some(outcome) = self.done {
            return Poll::Ready(Item::Done(outcome));
        }
        let mut st = self.shared.lock();
        let Some(slot) = st.slots.get_mut(&self.id) else {
            // Only possible if the driver went away without completing the slot.
            self.finished = true;
            self.done = Some(Outcome::ConnectionClosed);
            return Poll::Ready(Item::Done(Outcome::ConnectionClosed));
        };
        // Take the whole batch the driver routed: one lock per batch, not per row. An
        // empty queue stays, so that the driver does not fill one without capacity.
        if !slot.queue.is_empty() {
            std::mem::swap(&mut self.buf, &mut slot.queue);
        }
        if let Some(r) = self.buf.pop_front() {
            let driver = if slot.bounded {
                st.resume_reading()
            } else {
                None
            };
            drop(st);
            if let Some(w) = driver {
                w.wake();
            }
            return Poll::Ready(Item::Response(r));
        }
        if let Some(outcome) = slot.done {
            st.remove_slot(self.id);
            st.recycle_queue(std::mem::take(&mut self.buf));
            self.finished = true;
            self.done = Some(outcome);
            return Poll::Ready(Item::Done(outcome));
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The request's id.
    pub(crate) fn id(&self) -> RequestId {
        self.id
    }

    pub(crate) async fn next(&mut self) -> Item {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// The reason the connection closed, for a request that ended with
    /// [`Outcome::ConnectionClosed`].
    pub(crate) fn closed_error(&self) -> Error {
        Error::closed(self.shared.lock().close_cause())
    }
}

impl Drop for Responses {
    fn drop(&mut self) {
        if !self.finished {
            let mut st = self.shared.lock();
            // An unanswered request's remaining answers are discarded unseen: its
            // CommandComplete could have been a `SET` or a `LISTEN`.
            let answered = st.slots.get(&self.id).is_some_and(|s| s.done.is_some());
            if !answered {
                st.session.mark_changed();
            }
            st.remove_slot(self.id);
            st.conn.discard(self.id);
            let driver = st.resume_reading();
            drop(st);
            if let Some(w) = driver {
                w.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Task;
    impl std::task::Wake for Task {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn waker_lists_stay_bounded_when_tasks_poll_again() {
        let (a, b) = (Waker::from(Arc::new(Task)), Waker::from(Arc::new(Task)));
        let mut list = Vec::new();
        for _ in 0..10_000 {
            register(&mut list, &a);
            register(&mut list, &a);
            register(&mut list, &b);
        }
        assert!(list.len() <= 128, "{} entries for two tasks", list.len());
        assert!(list.iter().any(|w| w.will_wake(&a)) && list.iter().any(|w| w.will_wake(&b)));
        // A burst of distinct waiters is kept whole.
        let many: Vec<Waker> = (0..1000).map(|_| Waker::from(Arc::new(Task))).collect();
        let mut list = Vec::new();
        for w in &many {
            register(&mut list, w);
        }
        assert_eq!(list.len(), 1000);
    }
}
