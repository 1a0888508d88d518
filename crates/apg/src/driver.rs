//! The connection driver: a hand-written future, spawned on the runtime, that moves
//! bytes between the socket and the sans-IO core and routes the core's events.
//!
//! Each poll, in a loop bounded by a work budget:
//!
//! 1. write what the core has to send (`poll_transmit`), as far as the socket takes it
//!    (partial writes are normal), and flush once it is all written;
//! 2. read what the socket has into a buffer, hand it to the core (`receive` +
//!    `process`), and route every event to the slot of its request, waking that
//!    request's task.
//!
//! Before writing less than [`COALESCE_BYTES`] while other requests are in flight (the
//! connection is shared by concurrent tasks), the driver lets the executor run once:
//! requests that other tasks are encoding at that moment then go out in the same write.
//! A lone request (sequential use, a pooled connection) goes out at once: usually
//! written by the task that queued it, under the state lock, while the driver is not
//! reading (`Shared::write_direct`); the driver then only reads the answer. So does a
//! batch that grew past 64 KiB while many tasks queue requests: the server starts on it
//! before the last of them is encoded.
//!
//! When the budget runs out while there is still work, the driver wakes itself and
//! yields, so one busy connection cannot starve the executor. Otherwise the socket
//! (and client calls, through the stored waker) wake it.
//!
//! The driver ends when the core is closed and everything queued (a Terminate) is
//! written, or when the socket fails. Every request still waiting then completes with
//! the closed error; so it does if the runtime drops the driver.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use apg_proto::connection::{Event, Phase, Response};

use crate::error::Error;
use crate::runtime::AsyncStream;
use crate::shared::{Shared, State};

/// Size of the read buffer: large enough that a big result arrives in few reads.
const READ_BUF_LEN: usize = 64 * 1024;

/// Read/write rounds per poll before yielding to the executor.
const BUDGET: usize = 16;

/// Below this many bytes to send, the driver lets the executor run once before
/// writing, so requests that tasks are issuing at the same moment join the write.
const COALESCE_BYTES: usize = 16 * 1024;

/// The future that runs one connection.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    read_buf: Box<[u8]>,
    /// The socket failed or reached end of file: nothing more is read or written.
    io_done: bool,
    /// The socket has been shut down.
    finished: bool,
    /// The driver has already let the executor run once before writing small data.
    coalesced: bool,
    /// The wakers a round collects, kept between rounds so that a round allocates
    /// nothing.
    wakers: Vec<Waker>,
}

impl Driver {
    /// The driver of `shared`'s connection, over `stream`, which it shares with the
    /// tasks that write lone requests themselves ([`Shared::write_direct`]).
    pub(crate) fn new(shared: Arc<Shared>, stream: Box<dyn AsyncStream>) -> Self {
        shared.install_stream(stream);
        Self {
            shared,
            read_buf: vec![0; READ_BUF_LEN].into_boxed_slice(),
            io_done: false,
            finished: false,
            coalesced: false,
            wakers: Vec::new(),
        }
    }

    /// Writes and flushes what the core has to send. Returns whether bytes moved.
    fn poll_write_out(shared: &Shared, cx: &mut Context<'_>, st: &mut State) -> io::Result<bool> {
        // Under the state lock, so no task writes directly meanwhile: the socket is
        // free (the driver itself holds it only while reading).
        let mut io = shared.io();
        let Some(stream) = io.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let mut progress = false;
        while let Some(bytes) = st.conn.poll_transmit() {
            match Pin::new(&mut **stream).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    st.note_written(n);
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {
                    st.send_blocked = true;
                    return Ok(progress);
                }
            }
        }
        st.send_blocked = false;
        if st.needs_flush {
            match Pin::new(&mut **stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => st.needs_flush = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// Moves the core's events into the request slots; collects the wakers to wake.
    fn route_events(st: &mut State, wakers: &mut Vec<Waker>) {
        while let Some(event) = st.conn.poll_event() {
            match event {
                Event::Response { id, body } => {
                    if let Response::CommandComplete(c) = &body {
                        st.session.command_complete(c.tag.as_bytes());
                    }
                    wakers.extend(st.route_response(id, body));
                }
                Event::RequestDone { id, outcome } => {
                    st.session.request_done(id.get());
                    wakers.extend(st.route_done(id, outcome));
                }
                Event::ParameterStatus { .. } => st.session.parameter_status(),
                Event::Closed(error) => {
                    st.set_closed(error.map(Error::from_core));
                    wakers.extend(st.take_close_waiters());
                }
                Event::Notification(n) => st.listen.notify(n, wakers),
                Event::Notice(fields) => st.listen.notice(fields),
                // The core keeps the parameters it needs (`server_parameter`).
                _ => {}
            }
        }
        // Several responses of one request in one batch: wake its task once.
        wakers.dedup_by(|a, b| a.will_wake(b));
    }

    /// Records a socket failure: the core fails every request in flight.
    fn fail(io_done: &mut bool, st: &mut State, error: Option<Error>, wakers: &mut Vec<Waker>) {
        *io_done = true;
        if let Some(e) = error {
            st.set_closed(Some(e));
        }
        st.conn.receive_eof();
        // The error is reported through events.
        let _ = st.conn.process();
        Self::route_events(st, wakers);
    }

    /// One round: write, then read and process. Returns whether another round is
    /// called for (the socket may have more, or the answers may call for a write).
    /// Sets `yield_now` when the driver should let other tasks run before writing,
    /// `notices` when notices wait for the handler, and `over` when the round ends idle
    /// with the core closed and its last bytes sent.
    fn poll_round(
        &mut self,
        cx: &mut Context<'_>,
        wakers: &mut Vec<Waker>,
        yield_now: &mut bool,
        notices: &mut bool,
        over: &mut bool,
    ) -> bool {
        // Not through `self`: the state lock borrows `shared` while fields change.
        let shared = &*self.shared;
        let mut st = shared.lock();
        st.set_driver_waker(cx.waker());
        // Events of requests sent before the connection was ready (and from `discard`
        // or `terminate`) may be waiting.
        Self::route_events(&mut st, wakers);
        *notices = st.listen.has_notices();
        if self.io_done {
            return false;
        }
        let unsent = st.unsent();
        let defer = unsent > 0
            && unsent < COALESCE_BYTES
            && !self.coalesced
            && !st.needs_flush
            && st.conn.in_flight() > 1;
        if defer {
            // Tasks issuing requests concurrently encode them one after another; one
            // turn of the executor lets those in progress join this write.
            self.coalesced = true;
            *yield_now = true;
        } else {
            self.coalesced = false;
            // Writing goes on until all is out or the socket is full (then it wakes
            // the driver): a write alone is no reason for another round. Nothing to
            // write (the usual case: the request went out directly) takes no lock.
            let write = if unsent > 0 || st.needs_flush {
                Self::poll_write_out(shared, cx, &mut st)
            } else {
                Ok(false)
            };
            match write {
                Ok(_) => {}
                Err(e) => {
                    let error = Error::io("writing to the server failed", e);
                    Self::fail(&mut self.io_done, &mut st, Some(error), wakers);
                    *notices = st.listen.has_notices();
                    return true;
                }
            }
        }
        wakers.extend(st.take_send_waiters());
        *notices = st.listen.has_notices();
        if st.read_paused() {
            // A COPY TO STDOUT consumer is behind: leave the data in the socket (the
            // server then waits) until it catches up and wakes the driver.
            *over = Self::closed_and_sent(&mut st);
            return false;
        }
        // Read without the lock: client calls can encode meanwhile.
        drop(st);
        let mut progress = false;
        // After a quiet answer: whether the core was closed with all sent. Only the
        // driver processes what arrives, and a client call that changes what is to do
        // wakes it: a read that finds nothing then ends the poll without a lock.
        let mut quiet_over = None;
        for reads in 1.. {
            let read = match self.shared.io().as_mut() {
                Some(stream) => Pin::new(&mut **stream).poll_read(cx, &mut self.read_buf),
                None => Poll::Ready(Ok(0)),
            };
            if let (Poll::Pending, Some(closed)) = (&read, quiet_over) {
                *notices = false;
                *over = closed;
                return false;
            }
            let mut st = shared.lock();
            match read {
                Poll::Pending => {
                    // The socket will wake the driver: unless the answers read call for
                    // more (checked below), the round and the poll can end here.
                    *notices = st.listen.has_notices();
                    *over = Self::closed_and_sent(&mut st);
                    return false;
                }
                Poll::Ready(Ok(0)) => {
                    Self::fail(&mut self.io_done, &mut st, None, wakers);
                    progress = true;
                }
                Poll::Ready(Ok(n)) => {
                    st.stats.reads += 1;
                    st.conn.receive(self.read_buf.get(..n).unwrap_or_default());
                    // A fatal error closes the core; it is reported through events.
                    let _ = st.conn.process();
                    Self::route_events(&mut st, wakers);
                    progress = true;
                    // The usual case, an answer read whole that calls for nothing: read
                    // again at once, which registers the driver with the socket, rather
                    // than go round (locks, the send side) to find nothing to do.
                    let quiet = reads == 1
                        && !st.needs_flush
                        && !st.read_paused()
                        && !st.listen.has_notices()
                        && st.unsent() == 0;
                    if quiet {
                        quiet_over = Some(Self::closed_and_sent(&mut st));
                        continue;
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                Poll::Ready(Err(e)) => {
                    let error = Error::io("reading from the server failed", e);
                    Self::fail(&mut self.io_done, &mut st, Some(error), wakers);
                    progress = true;
                }
            }
            *notices = st.listen.has_notices();
            break;
        }
        progress
    }

    /// Whether the core is closed and its last bytes are out.
    fn closed_and_sent(st: &mut State) -> bool {
        st.conn.phase() == Phase::Closed && st.conn.poll_transmit().is_none() && !st.needs_flush
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(());
        }
        for _ in 0..BUDGET {
            let mut wakers = std::mem::take(&mut this.wakers);
            let mut yield_now = false;
            let mut notices = false;
            // Set by a round that ends idle and found the core closed with all sent.
            let mut over = false;
            let progress =
                this.poll_round(cx, &mut wakers, &mut yield_now, &mut notices, &mut over);
            // Before waking: a request's notices reach the handler before its result.
            if notices {
                crate::listen::deliver_notices(&this.shared);
            }
            for w in wakers.drain(..) {
                w.wake();
            }
            this.wakers = wakers;
            if yield_now {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // Checked when there is nothing left to do (a round with progress is
            // followed by another): one lock less per busy round.
            if this.io_done || (!progress && over) {
                if !this.io_done {
                    // Best effort: the server closes its side after Terminate anyway.
                    let mut io = this.shared.io();
                    if let Some(stream) = io.as_mut() {
                        if Pin::new(&mut **stream).poll_close(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                }
                this.finished = true;
                // The socket closes here; nobody writes to it any more.
                drop(this.shared.take_stream());
                let wakers = this.shared.lock().finish_driver();
                for w in wakers {
                    w.wake();
                }
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.finished {
            // The runtime dropped the driver (shutdown): nobody will answer the
            // requests still waiting, and the socket closes.
            drop(self.shared.take_stream());
            let mut st = self.shared.lock();
            st.set_closed(Some(Error::closed_by_client("connection driver stopped")));
            let wakers = st.finish_driver();
            drop(st);
            for w in wakers {
                w.wake();
            }
        }
    }
}
