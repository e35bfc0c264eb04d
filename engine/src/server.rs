//! The listener: accepts connections, enforces the connection limit, runs background upkeep.
//!
//! Connections are tasks on a multi-threaded tokio runtime with `-t` workers, so an idle client
//! costs a socket and a small buffer, not a thread.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lzcache_driver::{Codec, SoftwareCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{debug, info};

use crate::commands::Cache;
use crate::config::Config;
use crate::connection;
use crate::stats::Stats;

/// How often background upkeep (delayed flush, expiry crawl) runs.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(500);

/// Accepts and serves connections until `shutdown` completes.
pub async fn run(listener: TcpListener, cache: Arc<Cache>, shutdown: impl Future<Output = ()>) {
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
        let cache = cache.clone();
        tokio::spawn(async move {
            if let Err(err) = connection::serve(stream, cache.clone()).await {
                debug!(%peer, %err, "connection ended with an error");
            }
            cache.stats.curr_connections.fetch_sub(1, Ordering::Relaxed);
        });
    }
    upkeep.abort();
}

/// A server running on its own threads; shuts down when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    cache: Arc<Cache>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Stops accepting, ends the runtime and waits for its threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `config.listen` and starts serving with the software codec.
pub fn start(config: Config) -> std::io::Result<ServerHandle> {
    start_with_codec(config, Arc::new(SoftwareCodec::new()))
}

/// Binds `config.listen` and starts serving with `codec`.
pub fn start_with_codec(config: Config, codec: Arc<dyn Codec>) -> std::io::Result<ServerHandle> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .thread_name("lzcache-worker")
        .enable_all()
        .build()?;
    let std_listener = std::net::TcpListener::bind(config.listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let cache = Arc::new(Cache::new(config, codec));
    info!(
        %addr,
        codec = cache.values.backend_name(),
        memory_mb = cache.config.memory_limit >> 20,
        threads = cache.config.threads,
        "lzcache listening"
    );
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("lzcache-server".into())
        .spawn({
            let cache = cache.clone();
            move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            run(listener, cache, async {
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
    Ok(ServerHandle {
        addr,
        cache,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}
