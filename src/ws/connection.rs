//! One accepted WebSocket after its 101: a single tokio task that reads frames
//! into the session's inbox and writes what Python queued, until one side closes.
//!
//! tungstenite answers pings (and echoes a client's close) while the task keeps
//! reading; an oversized message closes with 1009, invalid UTF-8 with 1007, a
//! protocol error with 1002. After the server's close frame the task waits a
//! moment for the client's answer, then drops the TCP connection. When the server
//! stops, every open socket closes with 1012 (service restart, as uvicorn closes
//! them) and its handler hears `WebSocketDisconnect(1012)`. Every `ping_interval`
//! the server pings; a ping unanswered for `ping_timeout` closes the socket with
//! 1011, as uvicorn's keepalive does, so clients that vanished without a FIN do not
//! stay open for ever.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

use super::session::{Ended, Incoming, Session};
use super::WsLimits;

/// How long the client has to answer the server's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages written per flush, so a busy sender cannot starve reading.
const BATCH: usize = 64;

/// The close code for sockets still open when the server stops.
const SERVICE_RESTART: u16 = 1012;
/// The close code for a ping left unanswered (RFC 6455's "unexpected condition").
const KEEPALIVE_TIMEOUT: u16 = 1011;
/// A timer that never comes due in practice.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

type Sink = SplitSink<WebSocketStream<TokioIo<Upgraded>>, Message>;

/// A server's side of its WebSockets: the limits each is held to, and the word that it
/// is stopping, which every open one watches.
pub struct WebSockets {
    pub limits: WsLimits,
    stopping: watch::Sender<bool>,
}

impl WebSockets {
    /// WebSocket connections open now (each watches for the server stopping).
    pub fn open(&self) -> usize {
        self.stopping.receiver_count()
    }

    pub fn new(limits: WsLimits) -> Self {
        Self {
            limits,
            stopping: watch::channel(false).0,
        }
    }

    /// Tells every open WebSocket to close, and returns once all of their tasks ended.
    pub async fn close_all(&self) {
        self.stopping.send_replace(true);
        self.stopping.closed().await;
    }
}

/// Serves an accepted WebSocket on its own task; `ended` goes with it, so Python hears of the
/// end even if the runtime drops the task before it runs.
pub fn spawn(
    ended: Ended,
    upgrade: OnUpgrade,
    session: Arc<Session>,
    outbox: mpsc::UnboundedReceiver<Message>,
    websockets: &WebSockets,
) {
    let (limits, stopping) = (websockets.limits, websockets.stopping.subscribe());
    tokio::spawn(async move {
        let _ended = ended;
        run(upgrade, session, outbox, limits, stopping).await;
    });
}

async fn run(
    upgrade: OnUpgrade,
    session: Arc<Session>,
    mut outbox: mpsc::UnboundedReceiver<Message>,
    limits: WsLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let config = WebSocketConfig {
        max_message_size: Some(limits.max_size),
        max_frame_size: Some(limits.max_size),
        ..WebSocketConfig::default()
    };
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = socket.split();
    // Once a close frame went out: the client's answer is awaited until `deadline`.
    let mut closing = false;
    let deadline = tokio::time::sleep(NEVER);
    tokio::pin!(deadline);
    // Ready once the server stops (at once if it stopped before this task began); made
    // once, so a message costs no lock or registration for it.
    let stopped = async move {
        let _ = stopping.wait_for(|&stopping| stopping).await;
    };
    tokio::pin!(stopped);
    // Due for the next ping, or, while one is unanswered, for giving up on it.
    let keepalive = tokio::time::sleep(limits.ping_interval.unwrap_or(NEVER));
    tokio::pin!(keepalive);
    let mut ping_sent: Option<Instant> = None;

    loop {
        let full = session.inbox_full();
        // Whether this turn sent a close frame.
        let sent_close = tokio::select! {
            incoming = stream.next(), if !full => {
                match incoming {
                    Some(Ok(Message::Text(text))) => session.push(Incoming::Text(text)),
                    Some(Ok(Message::Binary(data))) => session.push(Incoming::Binary(data)),
                    Some(Ok(Message::Pong(_))) => {
                        if let (Some(sent), Some(interval)) = (ping_sent.take(), limits.ping_interval) {
                            keepalive.as_mut().reset(sent + interval);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.into_owned()))
                            .unwrap_or((1005, String::new()));
                        session.push(Incoming::Closed(code, reason));
                        // Sends tungstenite's echo of the client's close frame.
                        let _ = sink.flush().await;
                        break;
                    }
                    // Pings are answered by tungstenite on the next read.
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        if let Some(code) = close_code(&err) {
                            if !closing {
                                let _ = sink.send(close_frame(code)).await;
                            }
                            session.finish(code);
                        }
                        break;
                    }
                    None => break,
                }
                false
            }
            _ = session.readable.notified(), if full => false,
            outgoing = outbox.recv(), if !closing => {
                let message = outgoing.unwrap_or_else(|| close_frame(1011));
                match write(&mut sink, &mut outbox, &session, message).await {
                    Ok(sent_close) => sent_close,
                    Err(_) => break,
                }
            }
            _ = &mut stopped, if !closing => {
                match close_with(&mut sink, &session, SERVICE_RESTART).await {
                    Ok(()) => true,
                    Err(_) => break,
                }
            }
            _ = &mut keepalive, if !closing && limits.ping_interval.is_some() => {
                let now = Instant::now();
                match ping_sent {
                    // While Python is not reading, neither is this task: a pong may be
                    // waiting behind its messages, so no verdict yet.
                    Some(_) if full => {
                        keepalive.as_mut().reset(now + limits.ping_timeout);
                        false
                    }
                    Some(_) => match close_with(&mut sink, &session, KEEPALIVE_TIMEOUT).await {
                        Ok(()) => true,
                        Err(_) => break,
                    },
                    None => {
                        if sink.send(Message::Ping(Default::default())).await.is_err() {
                            break;
                        }
                        ping_sent = Some(now);
                        keepalive.as_mut().reset(now + limits.ping_timeout);
                        false
                    }
                }
            }
            _ = &mut deadline, if closing => break,
        };
        if sent_close {
            closing = true;
            deadline.as_mut().reset(Instant::now() + CLOSE_TIMEOUT);
        }
    }
}

/// Closes from this side: the handler hears `code` at once, the client gets a close frame.
async fn close_with(sink: &mut Sink, session: &Arc<Session>, code: u16) -> Result<(), Error> {
    session.finish(code);
    sink.send(close_frame(code)).await
}

/// Writes `first` and whatever else is queued, then flushes; true once a close frame went out.
async fn write(
    sink: &mut Sink,
    outbox: &mut mpsc::UnboundedReceiver<Message>,
    session: &Arc<Session>,
    first: Message,
) -> Result<bool, Error> {
    let mut written = 0;
    let mut next = Some(first);
    let mut count = 0;
    let mut closed = false;
    while let Some(message) = next {
        closed = message.is_close();
        if let Message::Text(_) | Message::Binary(_) = &message {
            written += message.len();
        }
        sink.feed(message).await?;
        count += 1;
        if closed || count == BATCH {
            break;
        }
        next = outbox.try_recv().ok();
    }
    sink.flush().await?;
    session.sent(written);
    Ok(closed)
}

fn close_frame(code: u16) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    }))
}

/// The close code for a read error that still allows a close frame.
fn close_code(err: &Error) -> Option<u16> {
    match err {
        Error::Capacity(_) => Some(1009),
        Error::Utf8 => Some(1007),
        // A client that vanished mid-frame cannot read a close frame.
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some(1002),
        _ => None,
    }
}
