//! The listener and the workers: accepts connections, enforces the connection limit, hands each
//! connection to a worker, runs background upkeep.
//!
//! As in memcached, each of the `-t` workers is one thread with its own event loop
//! ([`crate::event_loop`]; a single-threaded tokio runtime when TLS, an idle timeout or RDMA
//! is configured), and a connection stays on the worker it was given for its whole life:
//! serving it never wakes another thread, and an idle client costs a socket and a small
//! buffer, not a thread. Connections are dealt to workers in turn.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lzcache_driver::Codec;
use lzcache_rdma::{AsyncRdmaStream, Channel, RdmaListener};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

use crate::commands::Cache;
use crate::config::Config;
use crate::connection;
use crate::event_loop;
use crate::stats::Stats;

/// How often background upkeep (delayed flush, expiry crawl) runs.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(500);

/// A connection on its way from a listener to a worker.
enum Handoff {
    Tcp(std::net::TcpStream, SocketAddr),
    /// An established RDMA connection; the worker registers its event channel with its own
    /// event loop.
    Rdma(Box<Channel>),
}

/// Accepts connections until `shutdown` completes and deals them to `workers` in turn.
async fn run(
    listener: TcpListener,
    cache: Arc<Cache>,
    workers: Workers,
    shutdown: impl Future<Output = ()>,
) {
    let upkeep = tokio::spawn({
        let cache = cache.clone();
        async move {
            let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
            loop {
                tick.tick().await;
                cache.maintain();
            }
        }
    });
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and similar: back off instead of spinning.
                debug!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let stats = &cache.stats;
        if Stats::get(&stats.curr_connections) as usize >= cache.config.max_connections {
            Stats::incr(&stats.rejected_connections);
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"ERROR Too many open connections\r\n")
                    .await;
            });
            continue;
        }
        Stats::incr(&stats.curr_connections);
        Stats::incr(&stats.total_connections);
        let handed = stream
            .into_std()
            .map_err(|err| debug!(%peer, %err, "cannot hand over connection"))
            .ok()
            .and_then(|std_stream| workers.deal(Handoff::Tcp(std_stream, peer)));
        if handed.is_none() {
            stats.connection_ended();
        }
    }
    upkeep.abort();
}

/// How a connection reaches a worker: the worker's own event loop (plain TCP), or the queue
/// of a worker running the tokio runtime (TLS, idle timeouts, RDMA).
enum WorkerQueue {
    Loop(event_loop::Handle),
    Runtime(mpsc::UnboundedSender<Handoff>),
}

/// The workers' queues, dealt to in turn by every listener of the server.
#[derive(Clone)]
struct Workers {
    queues: Arc<Vec<WorkerQueue>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Workers {
    /// Hands a connection to the next worker; `None` when the workers are gone.
    fn deal(&self, connection: Handoff) -> Option<()> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        match (&self.queues[index], connection) {
            (WorkerQueue::Runtime(queue), connection) => queue.send(connection).ok(),
            (WorkerQueue::Loop(handle), Handoff::Tcp(stream, peer)) => {
                handle.hand(stream, peer).then_some(())
            }
            // Never dealt: a server with an RDMA listener runs its workers on the runtime.
            (WorkerQueue::Loop(_), Handoff::Rdma(_)) => None,
        }
    }
}

/// Accepts RDMA connections until the runtime ends, under the same connection limit as TCP.
async fn run_rdma(listener: RdmaListener, cache: Arc<Cache>, workers: Workers) {
    loop {
        let channel = listener.accept().await;
        let stats = &cache.stats;
        if Stats::get(&stats.curr_connections) as usize >= cache.config.max_connections {
            Stats::incr(&stats.rejected_connections);
            tokio::spawn(async move {
                if let Ok(mut stream) = AsyncRdmaStream::new(channel) {
                    let _ = stream
                        .write_all(b"ERROR Too many open connections\r\n")
                        .await;
                    let _ = stream.shutdown().await;
                }
            });
            continue;
        }
        Stats::incr(&stats.curr_connections);
        Stats::incr(&stats.total_connections);
        if workers.deal(Handoff::Rdma(Box::new(channel))).is_none() {
            stats.connection_ended();
        }
    }
}

/// Binds the RDMA listener `config.rdma_listen` asks for (port 0: the TCP port). Must run
/// inside the runtime that will accept on it. A failure is logged and leaves TCP serving.
fn bind_rdma(config: &Config, tcp: SocketAddr) -> Option<RdmaListener> {
    let mut addr = config.rdma_listen?;
    if addr.port() == 0 {
        addr.set_port(tcp.port());
    }
    let Some(provider) = &config.rdma else {
        tracing::error!(
            %addr,
            "RDMA listener not started: this build has no RDMA verbs (build with the `rdma` feature); serving TCP only"
        );
        return None;
    };
    match RdmaListener::bind(provider.as_ref(), addr, config.rdma_channel) {
        Ok(listener) => {
            info!(
                rdma_addr = %listener.local_addr(),
                provider = provider.name(),
                registered_bytes_per_connection = config.rdma_channel.registered_bytes(),
                "lzcache listening over RDMA"
            );
            Some(listener)
        }
        Err(err) => {
            tracing::error!(
                %addr,
                provider = provider.name(),
                %err,
                "RDMA listener not started; serving TCP only"
            );
            None
        }
    }
}

/// Starts worker `index`: a thread that serves the connections it receives until the
/// listener goes away, on its own event loop unless the configuration needs the runtime.
fn spawn_worker(index: usize, cache: Arc<Cache>) -> std::io::Result<(WorkerQueue, JoinHandle<()>)> {
    if event_loop::needs_runtime(&cache.config) {
        let (queue, thread) = spawn_runtime_worker(index, cache)?;
        Ok((WorkerQueue::Runtime(queue), thread))
    } else {
        let (handle, thread) = event_loop::spawn(index, cache)?;
        Ok((WorkerQueue::Loop(handle), thread))
    }
}

/// A worker on a single-threaded tokio runtime: for connections that need its timers (TLS
/// handshakes, idle timeouts) or its reactor (RDMA channels).
fn spawn_runtime_worker(
    index: usize,
    cache: Arc<Cache>,
) -> std::io::Result<(mpsc::UnboundedSender<Handoff>, JoinHandle<()>)> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_io();
    // Only connections with a deadline (an idle timeout, a TLS handshake) need timers, and the
    // time driver reads the clock on every wake-up of the worker.
    if cache.config.idle_timeout.is_some() || cache.config.tls.is_some() {
        builder.enable_time();
    }
    let runtime = builder.build()?;
    let (sender, mut receiver) = mpsc::unbounded_channel::<Handoff>();
    let thread = std::thread::Builder::new()
        .name(format!("lzcache-worker-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                while let Some(handoff) = receiver.recv().await {
                    let cache = cache.clone();
                    match handoff {
                        Handoff::Tcp(std_stream, peer) => match TcpStream::from_std(std_stream) {
                            Ok(stream) => {
                                let _ = stream.set_nodelay(true);
                                match cache.config.tls.clone() {
                                    None => {
                                        tokio::spawn(serve_and_count(stream, peer, cache));
                                    }
                                    Some(tls) => {
                                        tokio::spawn(handshake_and_serve(tls, stream, peer, cache));
                                    }
                                }
                            }
                            Err(err) => {
                                debug!(%peer, %err, "cannot register connection");
                                cache.stats.connection_ended();
                            }
                        },
                        Handoff::Rdma(channel) => {
                            let peer = channel
                                .peer_addr()
                                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                            match AsyncRdmaStream::new(*channel) {
                                Ok(stream) => {
                                    tokio::spawn(serve_and_count(stream, peer, cache));
                                }
                                Err(err) => {
                                    debug!(%peer, %err, "cannot register an RDMA connection");
                                    cache.stats.connection_ended();
                                }
                            }
                        }
                    }
                }
            });
            // Dropping the runtime closes the connections still open.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok((sender, thread))
}

/// Completes a TLS handshake (within its timeout) and serves the connection; a failed
/// handshake just closes it.
async fn handshake_and_serve(
    tls: crate::tls::Tls,
    stream: TcpStream,
    peer: SocketAddr,
    cache: Arc<Cache>,
) {
    match tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_and_count(stream, peer, cache).await,
        Ok(Err(err)) => {
            debug!(%peer, %err, "TLS handshake failed");
            cache.stats.connection_ended();
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            cache.stats.connection_ended();
        }
    }
}

/// Serves a connection to its end, then gives back its place under the connection limit.
pub(crate) async fn serve_and_count<S>(stream: S, peer: SocketAddr, cache: Arc<Cache>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(err) = connection::serve(stream, cache.clone()).await {
        debug!(%peer, %err, "connection ended with an error");
    }
    cache.stats.connection_ended();
}

/// A server running on its own threads; shuts down when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    rdma_addr: Option<SocketAddr>,
    cache: Arc<Cache>,
    shutdown: Option<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The RDMA listener's address, when it runs.
    pub fn rdma_addr(&self) -> Option<SocketAddr> {
        self.rdma_addr
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Stops accepting, ends the runtime and waits for its threads; then, with a memory
    /// file, saves what a warm restart needs.
    pub fn shutdown(mut self) {
        self.stop();
        match self.cache.save() {
            Ok(()) => {
                if let Some(path) = &self.cache.config.memory_file {
                    info!(path = %path.display(), "memory file saved for a warm restart");
                }
            }
            Err(err) => tracing::error!(%err, "cannot save the memory file"),
        }
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens the codec path `config.accel` names (software fallback included), binds
/// `config.listen` and starts serving.
pub fn start(config: Config) -> std::io::Result<ServerHandle> {
    let codec = lzcache_driver::dispatch::open(
        &config.accel,
        config.dispatch.clone(),
        config.device.clone(),
    )
    .map_err(std::io::Error::other)?;
    info!("{}", codec.describe());
    start_with_codec(config, Arc::new(codec))
}

/// Binds `config.listen` and starts serving with `codec`.
pub fn start_with_codec(config: Config, codec: Arc<dyn Codec>) -> std::io::Result<ServerHandle> {
    let std_listener = std::net::TcpListener::bind(config.listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let cache = Arc::new(Cache::open_with_imports(config, codec)?);
    cache
        .values
        .dictionaries()
        .spawn_trainer(Arc::downgrade(&cache), crate::commands::dict_items)?;
    if cache.store.verify_pending() {
        let cache = cache.clone();
        std::thread::Builder::new()
            .name("lzcache-restore".into())
            .spawn(move || {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let dicts = cache.values.dictionaries();
                let (kept, dropped) = cache.store.verify_restored(threads, &|id| dicts.get(id));
                info!(kept, dropped, "warm restart: restored items checked");
            })?;
    }
    info!(
        %addr,
        codec = cache.values.backend_name(),
        memory_mb = cache.config.memory_limit >> 20,
        threads = cache.config.threads,
        "lzcache listening"
    );
    let mut senders = Vec::new();
    let mut threads = Vec::new();
    for index in 0..cache.config.threads {
        let (sender, thread) = spawn_worker(index, cache.clone())?;
        senders.push(sender);
        threads.push(thread);
    }
    let workers = Workers {
        queues: Arc::new(senders),
        next: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rdma_listener = {
        let _inside = runtime.enter();
        bind_rdma(&cache.config, addr)
    };
    let rdma_addr = rdma_listener.as_ref().map(RdmaListener::local_addr);
    let (tx, rx) = oneshot::channel::<()>();
    let listener_thread = std::thread::Builder::new()
        .name("lzcache-listener".into())
        .spawn({
            let cache = cache.clone();
            move || {
                runtime.block_on(async move {
                    let rdma = rdma_listener.map(|listener| {
                        tokio::spawn(run_rdma(listener, cache.clone(), workers.clone()))
                    });
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            run(listener, cache, workers, async {
                                let _ = rx.await;
                            })
                            .await
                        }
                        Err(err) => tracing::error!(%err, "cannot register listener"),
                    }
                    if let Some(rdma) = rdma {
                        rdma.abort();
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
        })?;
    // The listener thread first: when it ends, the workers' channels close and they end too.
    threads.insert(0, listener_thread);
    Ok(ServerHandle {
        addr,
        rdma_addr,
        cache,
        shutdown: Some(tx),
        threads,
    })
}
