//! # lzcache-client
//!
//! A blocking client for lzcache and memcached: the text protocol's storage and retrieval
//! commands, the meta commands, and pipelining, over TCP or RDMA. An RDMA connection that
//! cannot be set up (no device, no RDMA listener at the address) falls back to TCP on the same
//! host and port, as the server listens on both there by default; [`Client::transport`] says
//! which one is in use.
//!
//! Replies are parsed strictly: anything the protocol does not allow where it appears is an
//! [`Error::Protocol`], and server errors (`ERROR`, `CLIENT_ERROR …`, `SERVER_ERROR …`) are
//! [`Error::Server`] with the line.

pub mod load;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use lzcache_rdma::verbs::Provider;
use lzcache_rdma::{BlockingRdmaStream, ChannelConfig};

/// How to reach the server.
#[derive(Clone, Debug)]
pub enum Transport {
    Tcp,
    /// RDMA through `provider`, falling back to TCP when setup fails.
    Rdma(Arc<dyn Provider>),
}

/// The transport a connection ended up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connected {
    Tcp,
    Rdma,
    /// RDMA was asked for and could not be set up.
    TcpFallback,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("server error: {0}")]
    Server(String),
    #[error("unexpected reply: {0:?}")]
    Protocol(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// One value of a retrieval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub flags: u32,
    pub value: Vec<u8>,
    pub cas: Option<u64>,
}

/// Outcome of a storage command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Stored,
    NotStored,
    Exists,
    NotFound,
}

/// A storage command of the text protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    /// `cas` with this unique.
    Cas(u64),
}

/// A reply of the meta protocol: its code (`HD`, `VA`, `EN`, `NS`, `EX`, `NF`, `MN`), its
/// flags as returned, and the value of a `VA`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaReply {
    pub code: String,
    pub flags: Vec<String>,
    pub value: Option<Vec<u8>>,
}

enum Stream {
    Tcp(TcpStream),
    Rdma(Box<BlockingRdmaStream>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Rdma(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Rdma(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Rdma(s) => s.flush(),
        }
    }
}

/// A connection. Requests are buffered until a reply is awaited (or [`Client::flush`]), so a
/// sequence of `queue_*` calls followed by reads is one pipelined send.
pub struct Client {
    reader: BufReader<Stream>,
    out: Vec<u8>,
    connected: Connected,
}

/// Timeouts of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub connect_timeout: Duration,
    /// A reply that takes longer fails with an I/O error.
    pub read_timeout: Option<Duration>,
    pub rdma: ChannelConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Some(Duration::from_secs(10)),
            rdma: ChannelConfig::default(),
        }
    }
}

impl Client {
    pub fn connect(addr: SocketAddr, transport: &Transport) -> Result<Client> {
        Self::connect_with(addr, transport, Options::default())
    }

    pub fn connect_with(
        addr: SocketAddr,
        transport: &Transport,
        options: Options,
    ) -> Result<Client> {
        let (stream, connected) = match transport {
            Transport::Tcp => (Self::tcp(addr, &options)?, Connected::Tcp),
            Transport::Rdma(provider) => {
                match BlockingRdmaStream::connect(
                    provider.as_ref(),
                    addr,
                    options.rdma,
                    options.connect_timeout,
                ) {
                    Ok(mut stream) => {
                        stream.set_read_timeout(options.read_timeout);
                        (Stream::Rdma(Box::new(stream)), Connected::Rdma)
                    }
                    Err(err) => {
                        tracing::info!(%addr, %err, provider = provider.name(), "RDMA setup failed; using TCP");
                        (Self::tcp(addr, &options)?, Connected::TcpFallback)
                    }
                }
            }
        };
        Ok(Client {
            reader: BufReader::with_capacity(64 << 10, stream),
            out: Vec::with_capacity(4096),
            connected,
        })
    }

    fn tcp(addr: SocketAddr, options: &Options) -> io::Result<Stream> {
        let stream = TcpStream::connect_timeout(&addr, options.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(options.read_timeout)?;
        Ok(Stream::Tcp(stream))
    }

    pub fn transport(&self) -> Connected {
        self.connected
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            // No `flush` of the stream: over RDMA that would wait for the write's completion,
            // which the reply shows anyway.
            self.reader.get_mut().write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    // --- queueing requests (pipelining) ---

    /// Queues `get`/`gets` of `keys`; read the reply with [`Client::read_items`].
    pub fn queue_get(&mut self, keys: &[&str], with_cas: bool) {
        self.out
            .extend_from_slice(if with_cas { b"gets" } else { b"get" });
        for key in keys {
            self.out.push(b' ');
            self.out.extend_from_slice(key.as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues a storage command; read the reply with [`Client::read_stored`].
    pub fn queue_store(
        &mut self,
        mode: StoreMode,
        key: &str,
        flags: u32,
        exptime: i64,
        value: &[u8],
    ) {
        let verb = match mode {
            StoreMode::Set => "set",
            StoreMode::Add => "add",
            StoreMode::Replace => "replace",
            StoreMode::Append => "append",
            StoreMode::Prepend => "prepend",
            StoreMode::Cas(_) => "cas",
        };
        let _ = write!(self.out, "{verb} {key} {flags} {exptime} {}", value.len());
        if let StoreMode::Cas(unique) = mode {
            let _ = write!(self.out, " {unique}");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues a meta command (`mg`, `ms`, `md`, `ma`, `mn`) with its flags; `value` for `ms`.
    /// Read the reply with [`Client::read_meta`].
    pub fn queue_meta(&mut self, command: &str, key: &str, flags: &[&str], value: Option<&[u8]>) {
        self.out.extend_from_slice(command.as_bytes());
        if !key.is_empty() {
            self.out.push(b' ');
            self.out.extend_from_slice(key.as_bytes());
        }
        if let Some(value) = value {
            let _ = write!(self.out, " {}", value.len());
        }
        for flag in flags {
            self.out.push(b' ');
            self.out.extend_from_slice(flag.as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        if let Some(value) = value {
            self.out.extend_from_slice(value);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    // --- reading replies ---

    fn line(&mut self) -> Result<String> {
        self.flush()?;
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed").into());
        }
        if !line.ends_with(b"\r\n") {
            return Err(Error::Protocol(String::from_utf8_lossy(&line).into_owned()));
        }
        line.truncate(line.len() - 2);
        let line =
            String::from_utf8(line).map_err(|e| Error::Protocol(format!("{:?}", e.as_bytes())))?;
        if line == "ERROR" || line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR") {
            return Err(Error::Server(line));
        }
        Ok(line)
    }

    /// Reads `len` bytes of data and its CRLF.
    fn data(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut value = vec![0u8; len + 2];
        self.reader.read_exact(&mut value)?;
        if !value.ends_with(b"\r\n") {
            return Err(Error::Protocol("data block without its CRLF".into()));
        }
        value.truncate(len);
        Ok(value)
    }

    /// The items of a `get`/`gets` reply, up to its `END`.
    pub fn read_items(&mut self) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            let line = self.line()?;
            if line == "END" {
                return Ok(items);
            }
            let fields: Vec<&str> = line.split(' ').collect();
            let bad = || Error::Protocol(line.clone());
            if fields.len() < 4 || fields[0] != "VALUE" {
                return Err(bad());
            }
            let flags = fields[2].parse().map_err(|_| bad())?;
            let len: usize = fields[3].parse().map_err(|_| bad())?;
            let cas = match fields.get(4) {
                Some(cas) => Some(cas.parse().map_err(|_| bad())?),
                None => None,
            };
            let key = fields[1].to_string();
            let value = self.data(len)?;
            items.push(Item {
                key,
                flags,
                value,
                cas,
            });
        }
    }

    pub fn read_stored(&mut self) -> Result<Stored> {
        let line = self.line()?;
        match line.as_str() {
            "STORED" => Ok(Stored::Stored),
            "NOT_STORED" => Ok(Stored::NotStored),
            "EXISTS" => Ok(Stored::Exists),
            "NOT_FOUND" => Ok(Stored::NotFound),
            _ => Err(Error::Protocol(line)),
        }
    }

    pub fn read_meta(&mut self) -> Result<MetaReply> {
        let line = self.line()?;
        let mut fields = line.split(' ');
        let code = fields.next().unwrap_or_default().to_string();
        let (value, flags) = if code == "VA" {
            let len: usize = fields
                .next()
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| Error::Protocol(line.clone()))?;
            let flags = fields.map(str::to_string).collect();
            (Some(self.data(len)?), flags)
        } else if ["HD", "EN", "NS", "EX", "NF", "MN"].contains(&code.as_str()) {
            (None, fields.map(str::to_string).collect())
        } else {
            return Err(Error::Protocol(line));
        };
        Ok(MetaReply { code, flags, value })
    }

    // --- one request, one reply ---

    pub fn get(&mut self, key: &str) -> Result<Option<Item>> {
        self.queue_get(&[key], false);
        Ok(self.read_items()?.pop())
    }

    pub fn gets(&mut self, key: &str) -> Result<Option<Item>> {
        self.queue_get(&[key], true);
        Ok(self.read_items()?.pop())
    }

    /// One `get` of many keys; the hits, in the order the server sent them.
    pub fn get_multi(&mut self, keys: &[&str]) -> Result<Vec<Item>> {
        self.queue_get(keys, false);
        self.read_items()
    }

    pub fn set(&mut self, key: &str, value: &[u8], flags: u32, exptime: i64) -> Result<Stored> {
        self.store(StoreMode::Set, key, value, flags, exptime)
    }

    pub fn store(
        &mut self,
        mode: StoreMode,
        key: &str,
        value: &[u8],
        flags: u32,
        exptime: i64,
    ) -> Result<Stored> {
        self.queue_store(mode, key, flags, exptime, value);
        self.read_stored()
    }

    /// True when the key existed.
    pub fn delete(&mut self, key: &str) -> Result<bool> {
        let _ = write!(self.out, "delete {key}\r\n");
        match self.line()?.as_str() {
            "DELETED" => Ok(true),
            "NOT_FOUND" => Ok(false),
            other => Err(Error::Protocol(other.to_string())),
        }
    }

    /// `incr` (or `decr` with a negative delta); `None` when the key is missing.
    pub fn incr(&mut self, key: &str, delta: i64) -> Result<Option<u64>> {
        let verb = if delta < 0 { "decr" } else { "incr" };
        let _ = write!(self.out, "{verb} {key} {}\r\n", delta.unsigned_abs());
        let line = self.line()?;
        match line.as_str() {
            "NOT_FOUND" => Ok(None),
            number => number
                .parse()
                .map(Some)
                .map_err(|_| Error::Protocol(line.clone())),
        }
    }

    /// A meta command and its reply.
    pub fn meta(
        &mut self,
        command: &str,
        key: &str,
        flags: &[&str],
        value: Option<&[u8]>,
    ) -> Result<MetaReply> {
        self.queue_meta(command, key, flags, value);
        self.read_meta()
    }

    pub fn version(&mut self) -> Result<String> {
        self.out.extend_from_slice(b"version\r\n");
        let line = self.line()?;
        line.strip_prefix("VERSION ")
            .map(str::to_string)
            .ok_or(Error::Protocol(line))
    }
}
