//! The request pipeline: which request owns each message the server sends.
//!
//! Theory of operation. The server answers requests strictly in order, so the core keeps
//! two FIFO queues: `requests` (one entry per request in flight) and `steps` (one entry
//! per response the server owes, in order: `ParseComplete` for a Parse, `Execute` for an
//! Execute, `Sync` for a Sync, `Query` for a simple query, ...). The front step always
//! belongs to the front request; a request is complete when its last step is answered.
//! Asynchronous messages (NoticeResponse, NotificationResponse, ParameterStatus) are
//! never matched against steps: they can arrive at any time.
//!
//! A *sync group* is every request up to and including one that ends with Sync (or a
//! simple Query). When an extended-protocol step fails, the server skips every message
//! up to the next Sync: the failed request gets its error, every later request of the
//! group is `Aborted`, and the group's Sync answers as usual. If no Sync has been sent
//! yet, the core remembers that the server is skipping (`skipping`), and requests sent
//! later are aborted until one brings a Sync.
//!
//! A request that completes while a Sync is already queued behind it in its group
//! reports its outcome only at that Sync's ReadyForQuery: if a later member of the group
//! fails inside an implicit transaction, its effects were rolled back, and it says so.
//!
//! COPY FROM STDIN: a request that declares it (`Request::copy_in`) keeps the send
//! stream to itself until the caller ends the COPY; requests sent meanwhile are held
//! (the server would read them as COPY data). A COPY FROM STDIN that nobody declared is
//! refused with CopyFail when nothing was pipelined behind it, and closes the connection
//! otherwise, because the server has already consumed the following requests as data.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::BytesMut;

use super::{Connection, Event, Outcome, RequestId, Response};
use crate::error::{DbError, Error, ProtocolError, UsageError};
use crate::message::backend::{BackendMessage, TransactionStatus};
use crate::message::frontend::{CopyFail, Sync};
use crate::message::{Frame, Message};

/// One response the server owes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// ParseComplete, for a Parse.
    ParseComplete,
    /// BindComplete, for a Bind.
    BindComplete,
    /// CloseComplete, for a Close.
    CloseComplete,
    /// ParameterDescription, for a Describe of a statement.
    ParameterDescription,
    /// RowDescription or NoData, for a Describe.
    RowDescription,
    /// DataRows, then CommandComplete, EmptyQueryResponse or PortalSuspended (with COPY
    /// data in between for a COPY), for an Execute.
    Execute,
    /// Everything up to ReadyForQuery, for a simple Query.
    Query,
    /// ReadyForQuery, for a Sync.
    Sync,
}

impl Step {
    /// Whether this step's ReadyForQuery ends a sync group.
    fn closes_group(self) -> bool {
        matches!(self, Self::Query | Self::Sync)
    }
}

/// A request in flight.
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
pub(super) struct InFlight {
    pub(super) id: RequestId,
    /// Steps of this request still owed.
    pub(super) steps: usize,
    /// Whether its last step closes a sync group.
    pub(super) closes_group: bool,
    /// Whether it declared COPY FROM STDIN.
    pub(super) copy_in: bool,
    pub(super) discarded: bool,
    pub(super) failed: bool,
    /// Set when an earlier request's error made the server skip this one.
    pub(super) aborted_by: Option<RequestId>,
    /// Columns of the current result, from its RowDescription (or declared by the
    /// caller for a cached statement), to validate each DataRow.
    pub(super) columns: Option<u16>,
}

impl InFlight {
    pub(super) fn new(id: RequestId) -> Self {
        Self {
            id,
            steps: 0,
            closes_group: false,
            copy_in: false,
            discarded: false,
            failed: false,
            aborted_by: None,
            columns: None,
        }
    }
}

/// A request whose steps are all answered, waiting for its group's ReadyForQuery.
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
struct Awaiting {
    id: RequestId,
    discarded: bool,
}

#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
pub(super) struct Pipeline {
    pub(super) requests: VecDeque<InFlight>,
    pub(super) steps: VecDeque<Step>,
    awaiting: Vec<Awaiting>,
    /// Requests in `requests` whose last step closes a group.
    closing_queued: usize,
    /// The first request of the current sync group that failed.
    group_error: Option<RequestId>,
    /// The server is skipping messages until a Sync that has not been sent yet.
    pub(super) skipping: Option<RequestId>,
    /// Inside COPY TO STDOUT data.
    copy_out: bool,
    next_id: u64,
    /// The declared COPY FROM STDIN whose data the caller is still sending (at most one:
    /// a second waits). Kept here rather than found among `requests`, because every
    /// request encoded asks for it.
    open_copy: Option<RequestId>,
    /// The COPY FROM STDIN that later requests wait behind: from when it is sent until
    /// its ReadyForQuery, not only until its CopyDone or CopyFail is written. A request
    /// pipelined right behind the end of a COPY is where middleware goes wrong (PgBouncer
    /// 1.18 in transaction pooling answered other clients with its results); waiting for
    /// the COPY's answer costs one round trip after a COPY and nothing elsewhere.
    copy_barrier: Option<RequestId>,
    /// Encoded requests sent while a COPY FROM STDIN is taking data: the server would
    /// read them as COPY data, so they wait until the COPY ends.
    pub(super) behind_copy: BytesMut,
}

impl Pipeline {
    pub(super) fn len(&self) -> usize {
        self.requests.len() + self.awaiting.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Queues a fully built request.
    pub(super) fn push(&mut self, request: InFlight) {
        if request.closes_group {
            self.closing_queued += 1;
        }
        if request.copy_in {
            self.open_copy = Some(request.id);
            self.copy_barrier = Some(request.id);
        }
        self.requests.push_back(request);
    }

    /// Marks `id` discarded; returns whether it is in flight.
    pub(super) fn discard(&mut self, id: RequestId) -> bool {
        if let Some(r) = self.requests.iter_mut().find(|r| r.id == id) {
            r.discarded = true;
            return true;
        }
        if let Some(a) = self.awaiting.iter_mut().find(|a| a.id == id) {
            a.discarded = true;
            return true;
        }
        false
    }

    /// Removes every request, for a closing connection: `(id, discarded)` of each.
    pub(super) fn drain_all(&mut self) -> Vec<(RequestId, bool)> {
        let mut all: Vec<_> = self
            .awaiting
            .drain(..)
            .map(|a| (a.id, a.discarded))
            .collect();
        all.extend(self.requests.drain(..).map(|r| (r.id, r.discarded)));
        self.steps.clear();
        self.closing_queued = 0;
        self.open_copy = None;
        self.copy_barrier = None;
        all
    }

    /// The declared COPY FROM STDIN the caller is still sending data for.
    pub(super) fn copy_in_open(&self) -> Option<RequestId> {
        self.open_copy
    }

    /// Request `id` takes no more COPY data (ended by the caller, failed, or complete).
    pub(super) fn copy_closed(&mut self, id: RequestId) {
        if self.open_copy == Some(id) {
            self.open_copy = None;
        }
    }
}

impl Connection {
    pub(super) fn copy_in_open(&self) -> Option<RequestId> {
        self.pipeline.copy_in_open()
    }

    /// Emits an event for the front request unless its caller went away.
    fn respond(&mut self, body: Response) {
        if let Some(front) = self.pipeline.requests.front() {
            if !front.discarded {
                let id = front.id;
                self.emit(Event::Response { id, body });
            }
        }
    }

    fn done(&mut self, id: RequestId, discarded: bool, outcome: Outcome) {
        if !discarded {
            self.emit(Event::RequestDone { id, outcome });
        }
    }

    /// The front step is answered.
    fn step_answered(&mut self) {
        self.pipeline.steps.pop_front();
        let Some(front) = self.pipeline.requests.front_mut() else {
            return;
        };
        front.steps -= 1;
        if front.steps == 0 {
            self.complete_front();
        }
    }

    /// The front request has no steps left.
    fn complete_front(&mut self) {
        let Some(req) = self.pipeline.requests.pop_front() else {
            return;
        };
        if req.closes_group {
            self.pipeline.closing_queued -= 1;
        }
        let outcome = match (req.aborted_by, req.failed) {
            (Some(by), _) => Outcome::Aborted { by },
            (None, true) => Outcome::Failed,
            (None, false) => Outcome::Success,
        };
        if outcome == Outcome::Success && !req.closes_group && self.pipeline.closing_queued > 0 {
            // Its fate depends on the rest of its sync group.
            self.pipeline.awaiting.push(Awaiting {
                id: req.id,
                discarded: req.discarded,
            });
        } else {
            self.done(req.id, req.discarded, outcome);
        }
        self.pipeline.copy_closed(req.id);
        if self.pipeline.copy_barrier == Some(req.id) {
            self.pipeline.copy_barrier = None;
            self.release_behind_copy();
        }
    }

    /// The group closed by a ReadyForQuery is complete: settle the requests that waited
    /// for it.
    fn close_group(&mut self, before: TransactionStatus, after: TransactionStatus) {
        let rolled_back_by = match self.pipeline.group_error.take() {
            Some(by) if before == TransactionStatus::Idle && after == TransactionStatus::Idle => {
                Some(by)
            }
            _ => None,
        };
        let awaiting = core::mem::take(&mut self.pipeline.awaiting);
        for a in awaiting {
            let outcome = match rolled_back_by {
                Some(by) => Outcome::RolledBack { by },
                None => Outcome::Success,
            };
            self.done(a.id, a.discarded, outcome);
        }
    }

    /// An extended-protocol step failed: the server now skips to the next Sync.
    fn skip_to_sync(&mut self, by: RequestId) {
        while let Some(req) = self.pipeline.requests.front_mut() {
            while req.steps > 0 && self.pipeline.steps.front() != Some(&Step::Sync) {
                self.pipeline.steps.pop_front();
                req.steps -= 1;
            }
            if req.id != by && req.aborted_by.is_none() {
                req.aborted_by = Some(by);
            }
            if req.steps > 0 {
                // The front step is this request's Sync: skipping ends there.
                return;
            }
            self.complete_front();
        }
        self.pipeline.skipping = Some(by);
    }

    /// Handles one message once the session is ready.
    pub(super) fn handle_ready(&mut self, frame: Frame) -> Result<(), Error> {
        let message = BackendMessage::decode(frame)?;
        let message = match message {
            BackendMessage::NoticeResponse(n) => {
                self.emit(Event::Notice(n.0));
                return Ok(());
            }
            BackendMessage::NotificationResponse(n) => {
                self.emit(Event::Notification(n));
                return Ok(());
            }
            BackendMessage::ParameterStatus(p) => {
                self.set_parameter(p.name, p.value);
                return Ok(());
            }
            other => other,
        };
        let unexpected = |message: &BackendMessage| -> Error {
            ProtocolError::UnexpectedMessage {
                message: message.name(),
                state: "running a request",
            }
            .into()
        };
        let Some(&step) = self.pipeline.steps.front() else {
            return Err(match message {
                // An idle session can be ended by the server: idle_session_timeout
                // (57P05), idle_in_transaction_session_timeout (25P03), shutdown.
                BackendMessage::ErrorResponse(e) => Error::Db(DbError::new(e.0)),
                other => ProtocolError::UnexpectedMessage {
                    message: other.name(),
                    state: "idle",
                }
                .into(),
            });
        };
        match (step, message) {
            (_, BackendMessage::ErrorResponse(e)) => self.handle_error(step, e.0),
            (Step::Query | Step::Sync, BackendMessage::ReadyForQuery(z)) => {
                let before = self.transaction_status;
                self.transaction_status = z.status;
                self.pipeline.copy_out = false;
                self.pipeline.skipping = None;
                self.respond(Response::ReadyForQuery(z.status));
                self.step_answered();
                self.close_group(before, z.status);
                Ok(())
            }
            (Step::ParseComplete, BackendMessage::ParseComplete(_)) => {
                self.respond(Response::ParseComplete);
                self.step_answered();
                Ok(())
            }
            (Step::BindComplete, BackendMessage::BindComplete(_)) => {
                self.respond(Response::BindComplete);
                self.step_answered();
                Ok(())
            }
            (Step::CloseComplete, BackendMessage::CloseComplete(_)) => {
                self.respond(Response::CloseComplete);
                self.step_answered();
                Ok(())
            }
            (Step::ParameterDescription, BackendMessage::ParameterDescription(p)) => {
                self.respond(Response::ParameterDescription(p));
                self.step_answered();
                Ok(())
            }
            (Step::RowDescription | Step::Query, BackendMessage::RowDescription(t)) => {
                let columns = u16::try_from(t.fields.len()).map_err(|_| {
                    Error::from(ProtocolError::InvalidValue {
                        message: "RowDescription",
                        field: "field count",
                    })
                })?;
                if let Some(front) = self.pipeline.requests.front_mut() {
                    front.columns = Some(columns);
                }
                self.respond(Response::RowDescription(t));
                if step == Step::RowDescription {
                    self.step_answered();
                }
                Ok(())
            }
            (Step::RowDescription, BackendMessage::NoData(_)) => {
                if let Some(front) = self.pipeline.requests.front_mut() {
                    front.columns = Some(0);
                }
                self.respond(Response::NoData);
                self.step_answered();
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::DataRow(row))
                if !self.pipeline.copy_out =>
            {
                let columns = self.pipeline.requests.front().and_then(|r| r.columns);
                match columns {
                    Some(expected) if usize::from(expected) != row.len() => {
                        return Err(ProtocolError::ColumnCountMismatch {
                            expected,
                            got: u16::try_from(row.len()).unwrap_or(u16::MAX),
                        }
                        .into());
                    }
                    // A simple query announces its columns before any row.
                    None if step == Step::Query => {
                        return Err(unexpected(&BackendMessage::DataRow(row)))
                    }
                    _ => {}
                }
                self.respond(Response::DataRow(row));
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::CommandComplete(c))
                if !self.pipeline.copy_out =>
            {
                self.respond(Response::CommandComplete(c));
                if step == Step::Execute {
                    self.step_answered();
                } else if let Some(front) = self.pipeline.requests.front_mut() {
                    front.columns = None;
                }
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::EmptyQueryResponse(_)) => {
                self.respond(Response::EmptyQuery);
                if step == Step::Execute {
                    self.step_answered();
                }
                Ok(())
            }
            (Step::Execute, BackendMessage::PortalSuspended(_)) => {
                self.respond(Response::PortalSuspended);
                self.step_answered();
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::CopyOutResponse(h)) => {
                self.pipeline.copy_out = true;
                self.respond(Response::CopyOut(h));
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::CopyData(d))
                if self.pipeline.copy_out =>
            {
                self.respond(Response::CopyData(d.data));
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::CopyDone(_))
                if self.pipeline.copy_out =>
            {
                self.pipeline.copy_out = false;
                self.respond(Response::CopyDone);
                Ok(())
            }
            (Step::Execute | Step::Query, BackendMessage::CopyInResponse(g)) => {
                let declared = self.pipeline.requests.front().is_some_and(|r| r.copy_in);
                if declared {
                    self.respond(Response::CopyIn(g));
                    Ok(())
                } else {
                    self.refuse_copy_in(step)
                }
            }
            (Step::Execute | Step::Query, BackendMessage::CopyBothResponse(_)) => {
                self.refuse_copy_in(step)
            }
            (_, other) => Err(unexpected(&other)),
        }
    }

    fn handle_error(
        &mut self,
        step: Step,
        fields: crate::message::backend::ErrorFields,
    ) -> Result<(), Error> {
        let error = DbError::new(fields);
        let fatal = error.is_fatal();
        self.pipeline.copy_out = false;
        let Some(front) = self.pipeline.requests.front_mut() else {
            return Err(Error::Db(error));
        };
        let id = front.id;
        let discarded = front.discarded;
        front.failed = true;
        self.pipeline.copy_closed(id);
        if fatal {
            self.respond(Response::Error(error.clone()));
            self.pipeline.requests.pop_front();
            self.pipeline.steps.pop_front();
            self.done(id, discarded, Outcome::Failed);
            return Err(Error::Db(error));
        }
        self.respond(Response::Error(error));
        self.pipeline.group_error.get_or_insert(id);
        if !step.closes_group() {
            self.skip_to_sync(id);
        }
        Ok(())
    }

    /// The server entered COPY FROM STDIN (or COPY BOTH) for a request that did not ask
    /// for it.
    fn refuse_copy_in(&mut self, step: Step) -> Result<(), Error> {
        let alone = self.pipeline.requests.len() == 1
            && self.held.is_empty()
            && self.pipeline.behind_copy.is_empty()
            && !self.startup.terminated();
        if !alone {
            return Err(Error::UnexpectedCopyIn);
        }
        let reason = "COPY FROM STDIN needs a COPY-in request";
        CopyFail {
            message: reason.into(),
        }
        .encode(&mut self.send)?;
        if step == Step::Execute {
            // The server ignored the Sync sent with the request while in COPY mode; it
            // needs a fresh one to answer after the CopyFail.
            Sync.encode(&mut self.send)?;
        }
        Ok(())
    }

    // ---- sending ---------------------------------------------------------------------

    /// Registers a built request: `steps` were pushed to the step queue already.
    pub(super) fn register(&mut self, mut request: InFlight) {
        if let Some(by) = self.pipeline.skipping {
            // The server discards these messages: only a Sync is answered.
            let keep_sync = request.closes_group && self.pipeline.steps.back() == Some(&Step::Sync);
            let first = self.pipeline.steps.len() - request.steps;
            self.pipeline.steps.truncate(first);
            request.aborted_by = Some(by);
            if keep_sync {
                self.pipeline.steps.push_back(Step::Sync);
                request.steps = 1;
                self.pipeline.skipping = None;
            } else {
                request.steps = 0;
                request.closes_group = false;
            }
        }
        if request.steps == 0 {
            // Nothing to wait for: either skipped by the server, or an empty request.
            let outcome = match request.aborted_by {
                Some(by) => Outcome::Aborted { by },
                None => Outcome::Success,
            };
            self.done(request.id, request.discarded, outcome);
            return;
        }
        self.pipeline.push(request);
    }

    /// Where the bytes of a new request go.
    pub(super) fn target_buf(&mut self) -> &mut BytesMut {
        if self.pipeline.copy_barrier.is_some() {
            &mut self.pipeline.behind_copy
        } else {
            self.request_buf()
        }
    }

    /// Whether a COPY FROM STDIN holds back later requests (until its ReadyForQuery).
    pub(super) fn copy_in_progress(&self) -> bool {
        self.pipeline.copy_barrier.is_some()
    }

    /// Requests held behind a COPY FROM STDIN may go once it is complete.
    pub(super) fn release_behind_copy(&mut self) {
        if self.pipeline.copy_barrier.is_some() || self.pipeline.behind_copy.is_empty() {
            return;
        }
        let behind = self.pipeline.behind_copy.split();
        self.request_buf().unsplit(behind);
    }

    pub(super) fn copy_in_request(&mut self, id: RequestId) -> Result<(), UsageError> {
        match self.copy_in_open() {
            Some(open) if open == id => Ok(()),
            _ => Err(UsageError::NotCopyingIn),
        }
    }
}
