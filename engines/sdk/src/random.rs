//! Cryptographically secure randomness from the host's operating system.

use crate::error::{Error, Result};
use crate::host;

/// The most the host hands out per call.
const MAX_CHUNK: usize = 65_536;

/// Returns `len` random bytes (any length; large requests take several host calls).
///
/// Fails with a `500` rather than return fewer bytes if the host stops supplying them,
/// so a caller can never end up with a partly zeroed key.
pub fn bytes(len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let want = (len - out.len()).min(MAX_CHUNK);
        // `want` is at most 65536, so the conversion cannot truncate.
        let chunk = host::random_bytes(want as u32);
        if chunk.is_empty() {
            return Err(Error::internal("the host returned no random bytes"));
        }
        out.extend_from_slice(&chunk[..chunk.len().min(want)]);
    }
    Ok(out)
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    let bytes = bytes(buf.len())?;
    buf.copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_requests_are_chunked() {
        let b = bytes(200_000).unwrap();
        assert_eq!(b.len(), 200_000);
        let mut buf = [0u8; 32];
        fill(&mut buf).unwrap();
        assert!(buf.iter().any(|&x| x != 0));
    }
}
