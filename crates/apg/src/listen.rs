//! Asynchronous notifications (`LISTEN` / `NOTIFY`) and notices.
//!
//! The driver hands every `NotificationResponse` to the connection's [`Hub`], which
//! copies it into the queue of each [`Listener`] it matches and wakes that listener.
//! Each queue is bounded by [`LISTENER_CAPACITY`]: when a listener does not keep up,
//! its oldest notifications are dropped and counted ([`Listener::dropped`]) rather than
//! letting memory grow or stalling the connection for every other request.
//!
//! Notices (`RAISE NOTICE`, warnings) go to the handler set with
//! [`Client::set_notice_handler`], called by the driver outside the connection's lock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use apg_proto::connection::Request;
use apg_proto::message::backend::{ErrorFields, NotificationResponse};
use futures_core::Stream;

use crate::client::{usage_error, Client};
use crate::error::{DbError, Error};
use crate::ident::quote_ident;
use crate::shared::{Access, Shared};

/// Notifications one [`Listener`] holds before the oldest are dropped.
pub const LISTENER_CAPACITY: usize = 1024;

/// Notices held for the handler between two rounds of the driver; more are dropped.
const NOTICE_BACKLOG: usize = 1024;

/// The longest channel name PostgreSQL keeps (`NAMEDATALEN - 1` bytes); longer names
/// would be truncated by the server and never match.
const MAX_CHANNEL_LEN: usize = 63;

/// A notification sent with `NOTIFY channel, 'payload'` or `pg_notify`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// The process id of the notifying backend.
    pub process_id: u32,
    /// The channel the notification was sent on.
    pub channel: String,
    /// The payload; empty when the notification had none.
    pub payload: String,
}

type NoticeHandler = Arc<dyn Fn(&DbError) + Send + Sync>;

/// One listener's queue.
#[derive(Debug, Default)]
struct Subscriber {
    /// `None`: every notification of the connection.
    channel: Option<String>,
    queue: VecDeque<Notification>,
    dropped: u64,
    waker: Option<Waker>,
}

/// The connection's notification and notice routing, kept in the shared state.
#[derive(Default)]
pub(crate) struct Hub {
    subscribers: HashMap<u64, Subscriber>,
    next_id: u64,
    /// Listeners per channel: `UNLISTEN` is sent when the last one goes.
    channels: HashMap<String, usize>,
    notice_handler: Option<NoticeHandler>,
    notices: Vec<DbError>,
    closed: bool,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscribers.len())
            .field("channels", &self.channels)
            .field("notice_handler", &self.notice_handler.is_some())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Whether notices wait for [`deliver_notices`].
    pub(crate) fn has_notices(&self) -> bool {
        !self.notices.is_empty()
    }

    fn subscribe(&mut self, channel: Option<String>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if let Some(channel) = &channel {
            *self.channels.entry(channel.clone()).or_default() += 1;
        }
        self.subscribers.insert(
            id,
            Subscriber {
                channel,
                ..Subscriber::default()
            },
        );
        id
    }

    /// Removes a subscriber; returns its channel if it was the channel's last listener.
    fn unsubscribe(&mut self, id: u64) -> Option<String> {
        let channel = self.subscribers.remove(&id)?.channel?;
        let count = self.channels.get_mut(&channel)?;
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.channels.remove(&channel);
            Some(channel)
        } else {
            None
        }
    }

    fn is_listening(&self, channel: &str) -> bool {
        self.channels.contains_key(channel)
    }

    /// Queues `n` for every matching listener; collects the wakers to wake.
    pub(crate) fn notify(&mut self, n: NotificationResponse, wakers: &mut Vec<Waker>) {
        let notification = Notification {
            process_id: n.process_id,
            channel: n.channel,
            payload: n.payload,
        };
        for sub in self.subscribers.values_mut() {
            if sub
                .channel
                .as_deref()
                .is_some_and(|c| c != notification.channel)
            {
                continue;
            }
            if sub.queue.len() >= LISTENER_CAPACITY {
                sub.queue.pop_front();
                sub.dropped += 1;
            }
            sub.queue.push_back(notification.clone());
            wakers.extend(sub.waker.take());
        }
    }

    /// Keeps a notice for the handler, if there is one (without one, notices are
    /// dropped here).
    pub(crate) fn notice(&mut self, fields: ErrorFields) {
        if self.notice_handler.is_some() && self.notices.len() < NOTICE_BACKLOG {
            self.notices
                .push(DbError::new(apg_proto::DbError::new(fields)));
        }
    }

    /// The connection is gone: every listener ends after its queued notifications.
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        self.closed = true;
        self.subscribers
            .values_mut()
            .filter_map(|s| s.waker.take())
            .collect()
    }
}

/// Calls the notice handler for the notices the driver routed, outside the lock (the
/// handler may then use the client's synchronous methods).
pub(crate) fn deliver_notices(shared: &Shared) {
    let (handler, notices) = {
        let mut st = shared.lock();
        if st.listen.notices.is_empty() {
            return;
        }
        (
            st.listen.notice_handler.clone(),
            std::mem::take(&mut st.listen.notices),
        )
    };
    if let Some(handler) = handler {
        for notice in &notices {
            handler(notice);
        }
    }
}

fn check_channel(channel: &str) -> Result<(), Error> {
    if channel.is_empty() {
        return Err(Error::usage("a channel name cannot be empty"));
    }
    if channel.contains('\0') {
        return Err(Error::usage(
            "a channel name cannot contain a NUL character",
        ));
    }
    if channel.len() > MAX_CHANNEL_LEN {
        return Err(Error::usage(format!(
            "channel name longer than {MAX_CHANNEL_LEN} bytes (PostgreSQL would truncate it)"
        )));
    }
    Ok(())
}

impl Client {
    /// Listens on `channel` (sends `LISTEN "channel"`; the name is quoted, so it is
    /// used exactly as given, case included) and returns the stream of its
    /// notifications.
    ///
    /// The [`Listener`] keeps the connection open. Dropping it sends `UNLISTEN` once
    /// no other listener of this connection uses the channel; it goes out ahead of the
    /// next request (after a row stream in progress, if any). Inside a transaction
    /// block, `LISTEN` and `UNLISTEN` take effect at commit, as in PostgreSQL.
    ///
    /// A listener holds at most [`LISTENER_CAPACITY`] unread notifications: when it
    /// falls behind, the oldest are dropped and counted in [`Listener::dropped`], so a
    /// forgotten listener never stalls the connection or grows without bound.
    ///
    /// ```no_run
    /// # async fn f(client: apg::Client) -> Result<(), apg::Error> {
    /// let mut jobs = client.listen("jobs").await?;
    /// client.execute("NOTIFY jobs, 'hello'", &[]).await?;
    /// while let Some(n) = jobs.recv().await {
    ///     println!("{} from {}: {}", n.channel, n.process_id, n.payload);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) for an empty channel name, one
    /// with a NUL character or longer than 63 bytes; the server's error; the closed
    /// error.
    pub async fn listen(&self, channel: &str) -> Result<Listener, Error> {
        check_channel(channel)?;
        let id = {
            let mut st = self.shared().lock();
            if let Some(e) = st.closed_error() {
                return Err(e);
            }
            st.listen.subscribe(Some(channel.to_owned()))
        };
        // Made first, so that a failed LISTEN unsubscribes again on drop.
        let listener = Listener::new(self.clone(), id, Some(channel.to_owned()));
        self.batch_execute(&format!("LISTEN {}", quote_ident(channel)))
            .await?;
        Ok(listener)
    }

    /// Every notification this connection receives, whichever channel it came on and
    /// however the channel was subscribed (e.g. a `LISTEN` sent as SQL). Sends
    /// nothing; bounded as [`listen`](Self::listen) describes.
    pub fn notifications(&self) -> Listener {
        let id = self.shared().lock().listen.subscribe(None);
        Listener::new(self.clone(), id, None)
    }

    /// Sets the function called with each notice or warning the server sends on this
    /// connection (`RAISE NOTICE`, "there is no transaction in progress", ...),
    /// replacing the previous one.
    ///
    /// Without a handler, notices are dropped and nothing is logged. The handler runs
    /// on the connection's driver task: keep it short and non-blocking (hand the
    /// notice to a channel for slow work). Notices sent during start-up, before the
    /// connection is returned, are not reported.
    pub fn set_notice_handler(&self, handler: impl Fn(&DbError) + Send + Sync + 'static) {
        self.shared().lock().listen.notice_handler = Some(Arc::new(handler));
    }

    /// Removes the notice handler: notices are dropped again.
    pub fn clear_notice_handler(&self) {
        let mut st = self.shared().lock();
        st.listen.notice_handler = None;
        st.listen.notices.clear();
    }
}

/// A stream of notifications: those of one channel ([`Client::listen`]) or all of the
/// connection's ([`Client::notifications`]).
///
/// It ends (yields `None`) once the connection has closed and the queued
/// notifications are read. See [`Client::listen`] for buffering and for what dropping
/// it does.
pub struct Listener {
    client: Client,
    id: u64,
    channel: Option<String>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("channel", &self.channel)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Listener {
    fn new(client: Client, id: u64, channel: Option<String>) -> Self {
        Self {
            client,
            id,
            channel,
        }
    }

    /// The channel, or `None` for [`Client::notifications`].
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// Notifications dropped so far because this listener held
    /// [`LISTENER_CAPACITY`] unread ones.
    pub fn dropped(&self) -> u64 {
        let st = self.client.shared().lock();
        st.listen.subscribers.get(&self.id).map_or(0, |s| s.dropped)
    }

    /// The next notification, waiting for one; `None` once the connection has closed
    /// and every queued notification was read.
    pub async fn recv(&mut self) -> Option<Notification> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next queued notification, without waiting.
    pub fn try_recv(&mut self) -> Option<Notification> {
        let mut st = self.client.shared().lock();
        st.listen
            .subscribers
            .get_mut(&self.id)
            .and_then(|s| s.queue.pop_front())
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        let mut st = self.client.shared().lock();
        let closed = st.listen.closed;
        let Some(sub) = st.listen.subscribers.get_mut(&self.id) else {
            return Poll::Ready(None);
        };
        if let Some(n) = sub.queue.pop_front() {
            return Poll::Ready(Some(n));
        }
        if closed {
            return Poll::Ready(None);
        }
        match &mut sub.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Stream for Listener {
    type Item = Notification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        self.poll_recv(cx)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let shared = self.client.shared();
        let last = shared.lock().listen.unsubscribe(self.id);
        if let Some(channel) = last {
            unlisten(shared, channel);
        }
    }
}

/// Sends `UNLISTEN` for `channel` ahead of later requests: at once when no row stream
/// holds the connection, else from a task once it is released.
fn unlisten(shared: &Arc<Shared>, channel: String) {
    if shared.closed_error().is_some() {
        return;
    }
    if let Some(gate) = shared.try_acquire_gate() {
        send_unlisten(shared, gate.access(), &channel);
        return;
    }
    let task_shared = Arc::clone(shared);
    shared.runtime().spawn(Box::pin(async move {
        if let Ok(gate) = task_shared.acquire_gate().await {
            send_unlisten(&task_shared, gate.access(), &channel);
        }
    }));
}

fn send_unlisten(shared: &Shared, access: Access, channel: &str) {
    // Nobody waits for the answer; a failure (the connection closed) changes nothing.
    let _ = shared.submit_now(access, |st| {
        // A new listener for the channel came meanwhile: keep listening.
        if st.listen.is_listening(channel) {
            return Ok(());
        }
        let sql = format!("UNLISTEN {}", quote_ident(channel));
        let id = st
            .conn
            .send(Request::query(&sql))
            .map_err(|e| usage_error(shared, e))?;
        st.conn.discard(id);
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(channel: &str, payload: &str) -> NotificationResponse {
        NotificationResponse {
            process_id: 7,
            channel: channel.into(),
            payload: payload.into(),
        }
    }

    #[test]
    fn channel_names_are_checked() {
        assert!(check_channel("").is_err());
        assert!(check_channel("a\0b").is_err());
        assert!(check_channel(&"x".repeat(64)).is_err());
        assert!(check_channel(&"x".repeat(63)).is_ok());
    }

    #[test]
    fn routing_and_bounded_queues() {
        let mut hub = Hub::default();
        let a = hub.subscribe(Some("a".into()));
        let a2 = hub.subscribe(Some("a".into()));
        let all = hub.subscribe(None);
        let mut wakers = Vec::new();
        hub.notify(response("a", "1"), &mut wakers);
        hub.notify(response("b", "2"), &mut wakers);
        assert_eq!(hub.subscribers[&a].queue.len(), 1);
        assert_eq!(hub.subscribers[&all].queue.len(), 2);
        for i in 0..LISTENER_CAPACITY + 5 {
            hub.notify(response("a", &i.to_string()), &mut wakers);
        }
        let sub = &hub.subscribers[&a];
        assert_eq!(sub.queue.len(), LISTENER_CAPACITY);
        assert_eq!(sub.dropped, 6);
        assert_eq!(sub.queue.front().map(|n| n.payload.as_str()), Some("5"));
        // The channel stays listened to until its last listener goes.
        assert_eq!(hub.unsubscribe(a), None);
        assert_eq!(hub.unsubscribe(a2), Some("a".into()));
        assert_eq!(hub.unsubscribe(all), None);
        assert!(!hub.is_listening("a"));
    }

    #[test]
    fn notices_without_a_handler_are_dropped() {
        let mut hub = Hub::default();
        hub.notice(ErrorFields::default());
        assert!(hub.notices.is_empty());
    }
}
