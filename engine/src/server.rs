//! The listener and the workers: accepts connections, enforces the connection limit, hands each
//! connection to a worker, runs background upkeep.
//!
//! As in memcached, each of the `-t` workers is one thread with its own event loop (a
//! single-threaded tokio runtime), and a connection stays on the worker it was given for its
//! whole life: serving it never wakes another thread, and an idle client costs a socket and a
//! small buffer, not a thread. Connections are dealt to workers in turn.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lzcache_driver::Codec;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

use crate::commands::Cache;
use crate::config::Config;
use crate::connection;
use crate::stats::Stats;

/// How often background upkeep (delayed flush, expiry crawl) runs.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(500);

/// A connection on its way from the listener to a worker.
type Handoff = (std::net::TcpStream, SocketAddr);

/// Accepts connections until `shutdown` completes and deals them to `workers` in turn.
pub async fn run(
    listener: TcpListener,
    cache: Arc<Cache>,
    workers: Vec<mpsc::UnboundedSender<Handoff>>,
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
    let mut next_worker = 0;
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
            .and_then(|std_stream| workers[next_worker].send((std_stream, peer)).ok());
        if handed.is_none() {
            stats.curr_connections.fetch_sub(1, Ordering::Relaxed);
        }
        next_worker = (next_worker + 1) % workers.len();
    }
    upkeep.abort();
}

/// Starts worker `index`: a thread that serves the connections it receives until the
/// listener goes away.
fn spawn_worker(
    index: usize,
    cache: Arc<Cache>,
) -> std::io::Result<(mpsc::UnboundedSender<Handoff>, JoinHandle<()>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (sender, mut receiver) = mpsc::unbounded_channel::<Handoff>();
    let thread = std::thread::Builder::new()
        .name(format!("lzcache-worker-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                while let Some((std_stream, peer)) = receiver.recv().await {
                    let cache = cache.clone();
                    match TcpStream::from_std(std_stream) {
                        Ok(stream) => {
                            tokio::spawn(async move {
                                if let Err(err) = connection::serve(stream, cache.clone()).await {
                                    debug!(%peer, %err, "connection ended with an error");
                                }
                                cache.stats.curr_connections.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        Err(err) => {
                            debug!(%peer, %err, "cannot register connection");
                            cache.stats.curr_connections.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                }
            });
            // Dropping the runtime closes the connections still open.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok((sender, thread))
}

/// A server running on its own threads; shuts down when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    cache: Arc<Cache>,
    shutdown: Option<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
    let cache = Arc::new(Cache::open(config, codec)?);
    if cache.store.verify_pending() {
        let cache = cache.clone();
        std::thread::Builder::new()
            .name("lzcache-restore".into())
            .spawn(move || {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let (kept, dropped) = cache.store.verify_restored(threads);
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = oneshot::channel::<()>();
    let listener_thread = std::thread::Builder::new()
        .name("lzcache-listener".into())
        .spawn({
            let cache = cache.clone();
            move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            run(listener, cache, senders, async {
                                let _ = rx.await;
                            })
                            .await
                        }
                        Err(err) => tracing::error!(%err, "cannot register listener"),
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
        })?;
    // The listener thread first: when it ends, the workers' channels close and they end too.
    threads.insert(0, listener_thread);
    Ok(ServerHandle {
        addr,
        cache,
        shutdown: Some(tx),
        threads,
    })
}
