"""Client side of the cluster test: three lzcache nodes behind twemproxy, and pymemcache's
HashClient straight to the nodes. Phases are run one at a time by the Rust test, which starts,
stops and restarts the nodes in between.

    cluster.py PHASE PROXY_PORT NODE_PORTS(comma-separated) [KILLED_NODE_PORT]
"""
import sys
import time

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError

N = 300


def value(i):
    return (f"value {i} " * (1 + i % 40)).encode()


def node_keys(ports):
    """Which node holds each key, asking every node directly."""
    where = {}
    for port in ports:
        c = Client(("127.0.0.1", port), connect_timeout=2, timeout=2)
        for i in range(N):
            if c.get(f"key:{i}") is not None:
                where[i] = port
        c.close()
    return where


def until(deadline_s, attempt):
    """Retries `attempt` (returns True when done) until the deadline; polling, not sleeping
    for a fixed time: twemproxy ejects and re-adds nodes on its own timers."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            if attempt():
                return
        except (MemcacheError, OSError):
            # The proxy answers SERVER_ERROR or drops the connection while a node is away.
            pass
        if time.monotonic() > end:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main():
    phase, proxy_port = sys.argv[1], int(sys.argv[2])
    ports = [int(p) for p in sys.argv[3].split(",")]
    proxy = Client(("127.0.0.1", proxy_port), connect_timeout=2, timeout=2)
    if phase == "fill":
        for i in range(N):
            proxy.set(f"key:{i}", value(i))
        for i in range(N):
            assert proxy.get(f"key:{i}") == value(i), i
        where = node_keys(ports)
        assert len(where) == N, f"{len(where)} of {N} keys found on the nodes"
        counts = [sum(1 for p in where.values() if p == port) for port in ports]
        assert min(counts) >= N // 10, f"poor spread: {counts}"
        print("spread", counts)
    elif phase == "one_down":
        killed = int(sys.argv[4])
        live = [p for p in ports if p != killed]
        where = node_keys(live)
        # Until twemproxy ejects the dead node its keys fail; the others' keys must hit
        # throughout, and no value is ever wrong.
        def others_hit():
            for i, port in where.items():
                assert proxy.get(f"key:{i}") == value(i), i
            return True
        until(20, others_hit)
        def dead_keys_answered():
            for i in range(N):
                got = proxy.get(f"key:{i}")
                assert got is None or got == value(i), i
            return True
        until(20, dead_keys_answered)
        print("survived", len(where), "keys on live nodes")
    elif phase == "back":
        # The restarted node is empty; once twemproxy re-adds it, sets through the proxy
        # reach every node again.
        def all_stored():
            for i in range(N):
                proxy.set(f"key:{i}", value(i))
            for i in range(N):
                got = proxy.get(f"key:{i}")
                # A miss while the proxy re-adds the node is no error; a wrong value is.
                assert got is None or got == value(i), i
                if got is None:
                    return False
            return len(node_keys(ports)) == N and all(
                Client(("127.0.0.1", p)).get_many([f"key:{i}" for i in range(N)]) for p in ports
            )
        until(20, all_stored)
        print("re-added")
    elif phase == "hashclient":
        client = HashClient([("127.0.0.1", p) for p in ports], connect_timeout=2, timeout=2)
        for i in range(N):
            client.set(f"hc:{i}", value(i))
        for i in range(N):
            assert client.get(f"hc:{i}") == value(i), i
        counts = []
        for port in ports:
            c = Client(("127.0.0.1", port))
            counts.append(len(c.get_many([f"hc:{i}" for i in range(N)])))
        assert sum(counts) == N and min(counts) >= N // 10, counts
        print("hashclient spread", counts)
    else:
        raise SystemExit(f"unknown phase {phase}")


main()
