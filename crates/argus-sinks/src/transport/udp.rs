//! UDP transport: one datagram per message (RFC 5426), from one connected socket kept across
//! batches.
//!
//! UDP has no acknowledgement: `Ok` means every datagram left this host. A send error (no
//! route, an ICMP "port unreachable" reported on a connected socket) is
//! [`SinkError::Retryable`] and drops the socket, so the next batch resolves the name again.

use std::net::SocketAddr;

use argus_core::sink::SinkError;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

use super::stream::Peer;

/// Datagrams to one host and port.
#[derive(Debug)]
pub struct UdpTransport {
    peer: Peer,
    socket: Mutex<Option<UdpSocket>>,
}

impl UdpTransport {
    /// A transport to `peer`; nothing is opened until the first send.
    pub fn new(peer: Peer) -> Self {
        UdpTransport {
            peer,
            socket: Mutex::new(None),
        }
    }

    /// Sends each message as one datagram, in order.
    pub async fn send(&self, messages: &[Vec<u8>]) -> Result<(), SinkError> {
        let mut slot = self.socket.lock().await;
        let socket = match slot.take() {
            Some(s) => s,
            None => self.open().await?,
        };
        for message in messages {
            match socket.send(message).await {
                Ok(n) if n == message.len() => {}
                Ok(n) => {
                    return Err(SinkError::Retryable(format!(
                        "syslog: udp://{}: sent {n} of {} bytes",
                        self.peer,
                        message.len()
                    )))
                }
                Err(e) => {
                    return Err(SinkError::Retryable(format!(
                        "syslog: udp://{}: {e}",
                        self.peer
                    )))
                }
            }
        }
        *slot = Some(socket);
        Ok(())
    }

    async fn open(&self) -> Result<UdpSocket, SinkError> {
        let fail =
            |e: std::io::Error| SinkError::Retryable(format!("syslog: udp://{}: {e}", self.peer));
        let addr = self.peer.resolve().await?;
        let local: SocketAddr = if addr.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local).await.map_err(fail)?;
        socket.connect(addr).await.map_err(fail)?;
        Ok(socket)
    }
}
