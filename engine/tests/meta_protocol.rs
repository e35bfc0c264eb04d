//! Byte-exact tests of the meta protocol. Replies were checked against memcached 1.6.18, apart
//! from CAS numbers (which differ between servers) and `me`'s extra lzcache fields.

mod common;

use common::{default_server, Client};

#[test]
fn get_set_with_flags() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"mn\r\n", b"MN\r\n"),
        (b"ms mk 3 T0 F7\r\nabc\r\n", b"HD\r\n"),
        (b"mg mk v f s t\r\n", b"VA 3 f7 s3 t-1\r\nabc\r\n"),
        (b"mg mk\r\n", b"HD\r\n"),
        (b"mg mk s v\r\n", b"VA 3 s3\r\nabc\r\n"),
        (b"mg missing v\r\n", b"EN\r\n"),
        (b"mg missing v q\r\nmn\r\n", b"MN\r\n"),
        (b"mg mk k O123 v\r\n", b"VA 3 kmk O123\r\nabc\r\n"),
        (b"mg missing k O9\r\n", b"EN kmissing O9\r\n"),
        (b"mg mk zz\r\n", b"CLIENT_ERROR invalid flag\r\n"),
        (b"mg mk v v\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"mg\r\n", b"ERROR\r\n"),
        (b"md\r\n", b"ERROR\r\n"),
        (b"ma\r\n", b"ERROR\r\n"),
        (b"ms k\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (
            b"ms mk abc\r\nabc\r\n",
            b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        // An invalid mode swallows the data block.
        (
            b"ms mk 3 MX\r\nabc\r\n",
            b"CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        (b"ms mk 3 q\r\nxyz\r\n", b""),
        (b"mg mk v\r\n", b"VA 3\r\nxyz\r\n"),
        (
            b"ms mk 3 I\r\nxyz\r\nmg mk h v\r\n",
            b"HD\r\nVA 3 h0\r\nxyz\r\n",
        ),
        (b"mg mk h\r\n", b"HD h1\r\n"),
    ]);
}

#[test]
fn set_modes_and_cas() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"ms mk 3\r\nabc\r\n", b"HD\r\n"),
        (b"ms mk 3 MA\r\ndef\r\n", b"HD\r\n"),
        (b"ms mk 2 MP\r\n>>\r\n", b"HD\r\n"),
        (b"mg mk v\r\n", b"VA 8\r\n>>abcdef\r\n"),
        (b"ms mk2 3 ME\r\nabc\r\n", b"HD\r\n"),
        (b"ms mk2 3 ME\r\nabc\r\n", b"NS\r\n"),
        (b"ms nokey 3 MR\r\nabc\r\n", b"NS\r\n"),
        (b"ms nokey 3 MA\r\nabc\r\n", b"NS\r\n"),
        (b"ms mk 3 C1\r\nabc\r\n", b"EX\r\n"),
        (b"ms nokey 3 C1\r\nabc\r\n", b"NF\r\n"),
        // memcached 1.6.18 has no `E` (set the CAS): refused, its data swallowed.
        (
            b"ms mk 3 E5000\r\nnew\r\n",
            b"CLIENT_ERROR invalid flag\r\n",
        ),
        // Mode letters are upper case only in memcached 1.6.18: refused, data swallowed.
        (
            b"ms mk 3 Ma\r\nnew\r\n",
            b"CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        (b"mg mk v\r\n", b"VA 8\r\n>>abcdef\r\n"),
    ]);
    let cas_of = |line: Vec<u8>, prefix: &str| -> u64 {
        String::from_utf8(line)
            .unwrap()
            .trim_end()
            .strip_prefix(prefix)
            .unwrap()
            .parse()
            .unwrap()
    };
    c.send(b"mg mk c\r\n");
    let cas = cas_of(c.read_line(), "HD c");
    c.send(format!("ms mk 3 C{cas} c\r\nnxt\r\n").as_bytes());
    let next = cas_of(c.read_line(), "HD c");
    assert_ne!(next, cas);
    // A stale compare-CAS: EX, and the CAS it returns is zeroed, as in memcached.
    c.exchange(
        format!("ms mk 3 C{cas} c\r\nnxt\r\n").as_bytes(),
        b"EX c0\r\n",
    );
    c.exchange(format!("ms mk 1 C{next}\r\nz\r\n").as_bytes(), b"HD\r\n");
}

#[test]
fn delete_and_quiet_mode() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"ms mk 1\r\nx\r\n", b"HD\r\n"),
        // q hides HD only; NF still shows.
        (b"md mk q\r\nmn\r\n", b"MN\r\n"),
        (b"md mk\r\n", b"NF\r\n"),
        (b"md mk q\r\nmn\r\n", b"NF\r\nMN\r\n"),
        (b"ms mk 1\r\nx\r\n", b"HD\r\n"),
        (b"md mk C1\r\n", b"EX\r\n"),
        (b"md mk k O5\r\n", b"HD kmk O5\r\n"),
        // memcached 1.6.18's md has no `x` (empty the value): refused, the item untouched.
        (b"ms mk 1 F9\r\nx\r\n", b"HD\r\n"),
        (
            b"md mk x\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (b"mg mk v f\r\n", b"VA 1 f9\r\nx\r\n"),
    ]);
}

#[test]
fn arithmetic() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"ma cnt\r\n", b"NF\r\n"),
        (b"ma cnt N0 J10\r\n", b"HD\r\n"),
        (b"ma cnt v\r\n", b"VA 2\r\n11\r\n"),
        (b"ma cnt MD D20 v\r\n", b"VA 1\r\n0\r\n"),
        (b"ma cnt q\r\nmn\r\n", b"MN\r\n"),
        (b"ma cnt v t\r\n", b"VA 1 t-1\r\n2\r\n"),
        (b"ma cnt M+ D8 v\r\n", b"VA 2\r\n10\r\n"),
        (b"ma cnt C1 v\r\n", b"EX\r\n"),
        (
            b"ma cnt MX\r\n",
            b"CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        // Mode letters are upper case only in memcached 1.6.18.
        (
            b"ma cnt Mi\r\n",
            b"CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        (b"ms word 3\r\nabc\r\n", b"HD\r\n"),
        (
            b"ma word\r\n",
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
    ]);
}

#[test]
fn base64_keys() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"mg Zm9v b v k\r\n", b"EN kZm9v b\r\n"),
        (b"ms Zm9v 2 b\r\nhi\r\n", b"HD\r\n"),
        (b"mg Zm9v b v k\r\n", b"VA 2 kZm9v b\r\nhi\r\n"),
        // The decoded key is the key: the text protocol sees it too.
        (b"mg foo v\r\n", b"VA 2\r\nhi\r\n"),
        (b"get foo\r\n", b"VALUE foo 0 2\r\nhi\r\nEND\r\n"),
        (b"mg !!!! b v\r\n", b"CLIENT_ERROR error decoding key\r\n"),
        // Binary keys with spaces or control bytes are fine when base64-encoded.
        (b"ms AAEgAw== 1 b\r\nz\r\n", b"HD\r\n"),
        (b"mg AAEgAw== b v\r\n", b"VA 1\r\nz\r\n"),
    ]);
}

#[test]
fn stale_while_revalidate() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.set("w", b"x");
    c.send(b"mg w c\r\n");
    let line = String::from_utf8(c.read_line()).unwrap();
    let cas = line.trim_end().strip_prefix("HD c").unwrap().to_string();
    c.table(&[
        (b"md w I T30\r\n", b"HD\r\n"),
        // The first fetch of a stale item wins the right to recache it; later ones see Z.
        (b"mg w v\r\n", b"VA 1 X W\r\nx\r\n"),
        (b"mg w v\r\n", b"VA 1 Z X\r\nx\r\n"),
        (b"mg w t\r\n", b"HD t30 Z X\r\n"),
    ]);
    // A set with an older CAS and I still stores, but stays stale, keeps the TTL and keeps
    // the win already handed out (memcached 1.6.18's replies).
    c.exchange(
        format!("ms w 1 I C{cas} T99\r\ny\r\n").as_bytes(),
        b"HD\r\n",
    );
    c.exchange(b"mg w v t\r\n", b"VA 1 t30 Z X\r\ny\r\n");
    // ... and when no win was handed out yet, the next fetch wins.
    c.table(&[
        (b"ms w2 1 T10\r\n5\r\n", b"HD\r\n"),
        (b"md w2 I\r\n", b"HD\r\n"),
        (b"ms w2 1 I C1 T99\r\n6\r\n", b"HD\r\n"),
        (b"mg w2 v t\r\n", b"VA 1 t10 X W\r\n6\r\n"),
        (b"mg w2 v t\r\n", b"VA 1 t10 Z X\r\n6\r\n"),
        // A compare-CAS of 0 names no version: EX, even with I.
        (b"ms w3 1\r\na\r\n", b"HD\r\n"),
        (b"ms w3 1 I C0\r\nb\r\n", b"EX\r\n"),
        (b"mg w3 v\r\n", b"VA 1\r\na\r\n"),
    ]);
    // A plain set makes it fresh again.
    c.exchange(b"ms w 1\r\nz\r\n", b"HD\r\n");
    c.exchange(b"mg w v\r\n", b"VA 1\r\nz\r\n");
    // Vivify on miss: the first client wins, the next sees the placeholder.
    c.table(&[
        (b"mg nv N30 v\r\n", b"VA 0 W\r\n\r\n"),
        (b"mg nv N30 v\r\n", b"VA 0 Z\r\n\r\n"),
        // Recache: an item whose TTL is below R wins once.
        (b"ms r 1 T10\r\nx\r\n", b"HD\r\n"),
        (b"mg r R30 v\r\n", b"VA 1 W\r\nx\r\n"),
        (b"mg r R30 v\r\n", b"VA 1 Z\r\nx\r\n"),
        // Flags apply in order: `R` compares the TTL a `T` before it set, or the item's own.
        (b"ms r1 1 T5\r\nx\r\n", b"HD\r\n"),
        (b"mg r1 R30 T30\r\n", b"HD W\r\n"),
        (b"ms r2 1 T5\r\nx\r\n", b"HD\r\n"),
        (b"mg r2 T30 R30\r\n", b"HD\r\n"),
        (b"ms r3 1 T50\r\nx\r\n", b"HD\r\n"),
        (b"mg r3 T10 R30\r\n", b"HD W\r\n"),
    ]);
}

#[test]
fn debug_and_noop() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.exchange(b"me nothing\r\n", b"EN\r\n");
    c.set("k", b"value");
    c.send(b"me k\r\n");
    let line = String::from_utf8(c.read_line()).unwrap();
    assert!(line.starts_with("ME k exp=-1 la="), "{line}");
    assert!(line.contains(" fetch=no "), "{line}");
    assert!(line.ends_with(" lz4=no raw=5\r\n"), "{line}");
    c.exchange(b"mn\r\nmn\r\n", b"MN\r\nMN\r\n");
}

#[test]
fn quiet_pipeline_returns_only_hits_then_mn() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.set("a", b"1");
    c.set("c", b"3");
    c.exchange(
        b"mg a v q k\r\nmg b v q k\r\nmg c v q k\r\nmn\r\n",
        b"VA 1 ka\r\n1\r\nVA 1 kc\r\n3\r\nMN\r\n",
    );
}

#[test]
fn vivify_applies_t_and_n_in_flag_order_as_memcached_does() {
    // memcached 1.6.18's replies: the item N creates starts with no expiry, T and N set it in
    // flag order (the later wins), and t reports what was set before it.
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"mg a1 t N30\r\n", b"HD t-1 W\r\n"),
        (b"mg a1 t\r\n", b"HD t30 Z\r\n"),
        (b"mg a2 t T30 N30\r\n", b"HD t-1 W\r\n"),
        (b"mg a3 t N30 T40\r\n", b"HD t-1 W\r\n"),
        (b"mg a3 t\r\n", b"HD t40 Z\r\n"),
        (b"mg a4 T30 N30 t\r\n", b"HD t30 W\r\n"),
        (b"mg a5 N30 T0 t\r\n", b"HD t-1 W\r\n"),
        (b"mg a5 t\r\n", b"HD t-1 Z\r\n"),
        (b"mg b1 N30 t\r\n", b"HD t30 W\r\n"),
        (b"mg b2 T40 N30 t\r\n", b"HD t30 W\r\n"),
        (b"mg b2 t\r\n", b"HD t30 Z\r\n"),
        (b"mg b5 N30 v t\r\n", b"VA 0 t30 W\r\n\r\n"),
        (b"mg b6 t N30 v\r\n", b"VA 0 t-1 W\r\n\r\n"),
    ]);
}

/// Error precedence on a meta line, as memcached 1.6.18 answers (replies recorded from it):
/// unknown and repeated flags end the scan at once, bad values in any flag of the common set
/// are noted and the scan goes on (`md`/`ma` answer all of these with one line), and mode
/// letters are judged last.
#[test]
fn flag_errors_in_memcached_order() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (
            b"ma k Dabc\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"ma k MII\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"ms k 1 MAA\r\nx\r\n",
            b"CLIENT_ERROR incorrect length for M token\r\n",
        ),
        (
            b"ms k 1 Tabc Fxyz\r\nx\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"ms k 1 Fxyz\r\nx\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (b"mg k Tabc Tdef\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"mg k Tabc v v\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"ms k 1 Mx Mx\r\nx\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (
            b"ma k Mx Dabc\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"ms k 1 Mx Tabc\r\nx\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"md k Cabc\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"ma k Jabc Dabc\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"mg k Cabc\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"mg k Fabc\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"mg k Jx Dy\r\n",
            b"CLIENT_ERROR invalid numeric delta value\r\n",
        ),
        (
            b"mg k MAA\r\n",
            b"CLIENT_ERROR incorrect length for M token\r\n",
        ),
        (
            b"mg k Fabc Tabc\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (b"md k Mx\r\n", b"NF\r\n"),
        (b"mg k Mx\r\n", b"EN\r\n"),
        (
            b"ms k 1 Ms q\r\nx\r\n",
            b"CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
    ]);
}
