//! Connecting and logging in (NAME-1, LEG-1): a [`Client`] is the two halves of a logged-in
//! connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::events::Reader;
use super::legacy::LegacyReader;
use super::{ClientError, ClientEvents, ClientSender, Event, LEGACY_WRITE_GAP};
use crate::connection::FrameReader;
use crate::decode::{Decoder, Limits};
use crate::frame::Name;
use crate::profile::Profile;

/// A connected, logged-in client.
#[derive(Debug)]
pub struct Client {
    sender: ClientSender,
    events: ClientEvents,
}

impl Client {
    /// Connects and sends the 4-byte name (NAME-1). The server answers a good login with
    /// nothing (NAME-2), so a refusal arrives later as an [`Event::Error`].
    pub async fn connect(addr: &str, name: Name, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect_with(addr, name, timeout, Profile::Strict).await
    }

    /// Connects and logs in speaking `profile`. In the legacy profile the name (1 to 4
    /// bytes) is the first write, alone (LEG-1), and every later frame is one write, spaced
    /// from the next by [`LEGACY_WRITE_GAP`] (LEG-2).
    pub async fn connect_with(
        addr: &str,
        name: Name,
        timeout: Duration,
        profile: Profile,
    ) -> Result<Client, ClientError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(ClientError::ConnectTimeout(addr.to_string())),
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Ok(Ok(s)) => s,
        };
        Client::login_with(stream, name, profile).await
    }

    /// Logs in on an already connected stream.
    pub async fn login(stream: TcpStream, name: Name) -> Result<Client, ClientError> {
        Client::login_with(stream, name, Profile::Strict).await
    }

    /// Logs in on an already connected stream, speaking `profile`.
    pub async fn login_with(
        stream: TcpStream,
        name: Name,
        profile: Profile,
    ) -> Result<Client, ClientError> {
        let valid = match profile {
            Profile::Strict => name.is_valid(),
            Profile::Legacy => name.is_valid_legacy(),
        };
        if !valid {
            return Err(ClientError::Invalid(format!(
                "\"{name}\" is not a valid name in the {profile} profile (NAME-1, LEG-1)"
            )));
        }
        stream.set_nodelay(true)?;
        let local_ip = stream.local_addr()?.ip();
        let server = stream.peer_addr()?;
        let (rd, mut wr) = stream.into_split();
        wr.write_all(name.as_bytes()).await?;
        let reader = match profile {
            Profile::Strict => Reader::Strict(FrameReader::new(
                rd,
                Decoder::server_to_client(Limits::default()),
            )),
            Profile::Legacy => {
                // The name is a write of its own (LEG-1): the next frame waits its turn.
                tokio::time::sleep(LEGACY_WRITE_GAP).await;
                Reader::Legacy(LegacyReader::new(rd))
            }
        };
        Ok(Client {
            sender: ClientSender {
                writer: Arc::new(Mutex::new(wr)),
                name,
                local_ip,
                server,
                profile,
            },
            events: ClientEvents {
                reader,
                closed: false,
            },
        })
    }

    /// Splits into the sending and the receiving half.
    pub fn split(self) -> (ClientSender, ClientEvents) {
        (self.sender, self.events)
    }

    /// The sending half.
    pub fn sender(&self) -> &ClientSender {
        &self.sender
    }

    /// Next event (see [`ClientEvents::next`]).
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.next().await
    }
}
