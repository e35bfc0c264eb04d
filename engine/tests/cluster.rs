//! lzcache as a node of a distributed cache: three nodes behind twemproxy (nutcracker, ketama,
//! `auto_eject_hosts`), and pymemcache's `HashClient` (rendezvous hashing) straight to them.
//! Keys spread over the nodes; one node stops and the others' keys still hit through the
//! proxy, which ejects the dead node and re-adds it when it is back; no value is ever wrong.
//! The client side is `tests/clients/cluster.py`; twemproxy and pymemcache are installed by
//! `make test` (apt: nutcracker, python3-pymemcache).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lzcache::{Config, ServerHandle};

fn node(port: u16) -> ServerHandle {
    lzcache::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        threads: 1,
        ..Config::default()
    })
    .expect("node starts")
}

struct Proxy {
    child: Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// twemproxy in front of `nodes`, on a probed free port (retried if taken meanwhile).
fn proxy(nodes: &[u16]) -> Proxy {
    let dir = std::env::temp_dir().join(format!("lzcache-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let free_port = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    for _ in 0..20 {
        let (port, stats_port) = (free_port(), free_port());
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    - 127.0.0.1:{p}:1 node{i}\n"))
            .collect();
        let conf = format!(
            "lzcache:\n  listen: 127.0.0.1:{port}\n  hash: md5\n  distribution: ketama\n  \
             timeout: 1000\n  auto_eject_hosts: true\n  server_retry_timeout: 1000\n  \
             server_failure_limit: 1\n  servers:\n{servers}"
        );
        let path = dir.join("nutcracker.yml");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new("nutcracker")
            .arg("-c")
            .arg(&path)
            .args(["-a", "127.0.0.1", "-s", &stats_port.to_string()])
            .arg("-o")
            .arg(dir.join("nutcracker.log"))
            .arg("-p")
            .arg(dir.join("nutcracker.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nutcracker is installed (make deps: apt-get install nutcracker)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Proxy {
                    child,
                    port,
                    _dir: dir,
                };
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::yield_now();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("nutcracker did not start");
}

fn client(phase: &str, proxy: u16, nodes: &[u16], extra: &[String]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/cluster.py");
    let ports: Vec<String> = nodes.iter().map(u16::to_string).collect();
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(phase)
        .arg(proxy.to_string())
        .arg(ports.join(","))
        .args(extra)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "phase {phase}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{phase}: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn three_nodes_behind_twemproxy_and_a_hash_client() {
    let mut nodes: Vec<Option<ServerHandle>> = (0..3).map(|_| Some(node(0))).collect();
    let ports: Vec<u16> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().addr().port())
        .collect();
    let proxy = proxy(&ports);
    client("fill", proxy.port, &ports, &[]);
    // One node stops.
    nodes[2].take().unwrap().shutdown();
    client("one_down", proxy.port, &ports, &[ports[2].to_string()]);
    // It comes back (empty) on its port; the proxy takes it in again.
    nodes[2] = Some(node(ports[2]));
    client("back", proxy.port, &ports, &[]);
    client("hashclient", proxy.port, &ports, &[]);
}
