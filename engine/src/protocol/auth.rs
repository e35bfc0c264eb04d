//! memcached's ASCII authentication (`-Y authfile`): until a connection has authenticated, its
//! input is read by this parser instead of the protocol's. No I/O happens here.
//!
//! The token is a `set` whose data block is `<user> <password>` (the key, flags and expiry are
//! ignored, `noreply` too); anything else gets `CLIENT_ERROR unauthenticated` and the
//! connection stays open for another try, as memcached 1.6.18 does. Replies were taken from
//! that memcached, one request at a time:
//!
//! | input | reply |
//! |---|---|
//! | any line that is not `set <key> <flags> <exptime> <bytes> …` | `CLIENT_ERROR unauthenticated` |
//! | data block not ending in `\r\n` | `CLIENT_ERROR bad command line termination` |
//! | data block with fewer than two space-separated words | `CLIENT_ERROR bad authentication token format` |
//! | unknown user or wrong password | `CLIENT_ERROR authentication failure` |
//! | a user and password of the file | `STORED`, and the connection is authenticated |
//!
//! Two deliberate differences: memcached answers a pipelined burst of unauthenticated
//! commands with only the last reply (each overwrites the one before); here each gets its
//! own, in order. And memcached waits for any `<bytes>` of data, however large; here a token
//! longer than [`TOKEN_MAX_LEN`] closes the connection, so an unauthenticated client cannot
//! make the server buffer.

use std::path::Path;

use super::{words, LINE_MAX_LEN};

/// The reply to a token whose user or password is wrong (counted in `auth_errors`).
pub const FAILURE: &str = "CLIENT_ERROR authentication failure";

/// Longest authentication data block accepted.
pub const TOKEN_MAX_LEN: usize = 4096;

/// What the start of an unauthenticated connection's input amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// More bytes are needed.
    Incomplete,
    /// `consumed` bytes answered by `reply`; `authenticated` once the token was good.
    Reply {
        consumed: usize,
        reply: &'static str,
        authenticated: bool,
    },
    /// A line or token too long: close without a reply.
    Close,
}

/// The users of an authfile: `user:password` lines, as memcached reads them.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthFile {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthFile({} users)", self.entries.len())
    }
}

impl AuthFile {
    pub fn load(path: &Path) -> Result<AuthFile, String> {
        let text = std::fs::read(path).map_err(|e| format!("authfile {}: {e}", path.display()))?;
        AuthFile::parse(&text).map_err(|e| format!("authfile {}: {e}", path.display()))
    }

    /// Parses `user:password` lines (blank lines skipped; the password may hold colons).
    pub fn parse(text: &[u8]) -> Result<AuthFile, String> {
        let mut entries = Vec::new();
        for (number, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| format!("line {} is not user:password", number + 1))?;
            let (user, password) = (&line[..colon], &line[colon + 1..]);
            if user.is_empty() {
                return Err(format!("line {} has an empty user", number + 1));
            }
            entries.push((user.to_vec(), password.to_vec()));
        }
        if entries.is_empty() {
            return Err("no users".into());
        }
        Ok(AuthFile { entries })
    }

    /// Whether `user` and `password` are an entry; every entry is compared in full, so the
    /// time taken does not tell which part was wrong.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut found = false;
        for (u, p) in &self.entries {
            found |= constant_time_eq(u, user) & constant_time_eq(p, password);
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the next authentication request from `input`.
pub fn step(input: &[u8], users: &AuthFile) -> AuthStep {
    let Some(newline) = input.iter().position(|&b| b == b'\n') else {
        return if input.len() > LINE_MAX_LEN {
            AuthStep::Close
        } else {
            AuthStep::Incomplete
        };
    };
    let line = &input[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let unauthenticated = AuthStep::Reply {
        consumed: newline + 1,
        reply: "CLIENT_ERROR unauthenticated",
        authenticated: false,
    };
    let tokens: Vec<&[u8]> = words(line).collect();
    if tokens.len() < 5 || tokens[0] != b"set" {
        return unauthenticated;
    }
    let Some(size) = std::str::from_utf8(tokens[4])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    else {
        return unauthenticated;
    };
    let size = size as usize;
    if size > TOKEN_MAX_LEN {
        return AuthStep::Close;
    }
    let data_at = newline + 1;
    if input.len() < data_at + size + 2 {
        return AuthStep::Incomplete;
    }
    let consumed = data_at + size + 2;
    let reply = |reply, authenticated| AuthStep::Reply {
        consumed,
        reply,
        authenticated,
    };
    if &input[data_at + size..consumed] != b"\r\n" {
        return reply("CLIENT_ERROR bad command line termination", false);
    }
    let mut token = words(&input[data_at..data_at + size]);
    let (Some(user), Some(password)) = (token.next(), token.next()) else {
        return reply("CLIENT_ERROR bad authentication token format", false);
    };
    if users.check(user, password) {
        reply("STORED", true)
    } else {
        reply(FAILURE, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> AuthFile {
        AuthFile::parse(b"alice:secret\nbob:hunter2:with:colons\n\n").unwrap()
    }

    fn reply(input: &[u8]) -> (usize, &'static str, bool) {
        match step(input, &users()) {
            AuthStep::Reply {
                consumed,
                reply,
                authenticated,
            } => (consumed, reply, authenticated),
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn memcached_1_6_18_replies() {
        let bad = "CLIENT_ERROR unauthenticated";
        assert_eq!(reply(b"get foo\r\n"), (9, bad, false));
        assert_eq!(reply(b"quit\r\n"), (6, bad, false));
        assert_eq!(reply(b"mn\r\n"), (4, bad, false));
        assert_eq!(reply(b"add a 0 0 12\r\nalice secret\r\n"), (14, bad, false));
        assert_eq!(reply(b"set a 0 0 -1\r\n"), (14, bad, false));
        assert_eq!(reply(b"set\r\n"), (5, bad, false));
        assert_eq!(
            reply(b"set a 0 0 12\r\nalice secret\r\n"),
            (28, "STORED", true)
        );
        assert_eq!(
            reply(b"set a b c 12 noreply\r\nalice secret\r\n"),
            (36, "STORED", true)
        );
        assert_eq!(
            reply(b"set  a 0 0 13\r\nalice secret \r\n"),
            (30, "STORED", true)
        );
        assert_eq!(
            reply(b"set b 0 0 23\r\nbob hunter2:with:colons\r\n"),
            (39, "STORED", true)
        );
        assert_eq!(
            reply(b"set a 0 0 12\r\nalice wrongg\r\n"),
            (28, "CLIENT_ERROR authentication failure", false)
        );
        assert_eq!(
            reply(b"set a 0 0 5\r\nalice\r\n"),
            (20, "CLIENT_ERROR bad authentication token format", false)
        );
        assert_eq!(
            reply(b"set a 0 0 4\r\nali \r\n"),
            (19, "CLIENT_ERROR bad authentication token format", false)
        );
        assert_eq!(
            reply(b"set a 0 0 12\r\nalice secretXY"),
            (28, "CLIENT_ERROR bad command line termination", false)
        );
    }

    #[test]
    fn partial_input_waits_and_long_input_closes() {
        assert_eq!(
            step(b"set a 0 0 12\r\nalice sec", &users()),
            AuthStep::Incomplete
        );
        assert_eq!(step(b"set a 0 0", &users()), AuthStep::Incomplete);
        assert_eq!(step(&[b'x'; 3000], &users()), AuthStep::Close);
        assert_eq!(step(b"set a 0 0 99999\r\n", &users()), AuthStep::Close);
    }

    #[test]
    fn authfiles_are_user_colon_password_lines() {
        assert!(users().check(b"alice", b"secret"));
        assert!(!users().check(b"alice", b"secret2"));
        assert!(!users().check(b"bob", b"hunter2"));
        assert!(AuthFile::parse(b"nocolon\n").is_err());
        assert!(AuthFile::parse(b"\n\n").is_err());
        assert!(AuthFile::parse(b":pass\n").is_err());
    }
}
