//! Shamir secret sharing over GF(2⁸), as Vault splits its unseal key.
//!
//! Every byte of the secret is the constant term of its own random polynomial of degree
//! `threshold − 1`; share *i* holds that polynomial evaluated at a distinct non-zero
//! `xᵢ`, byte by byte, followed by `xᵢ` itself as the last byte (Vault's layout). Any
//! `threshold` shares determine the polynomials (Lagrange interpolation at 0); fewer
//! reveal nothing about the secret.
//!
//! Field arithmetic is GF(2⁸) modulo the AES polynomial `x⁸ + x⁴ + x³ + x + 1`, computed
//! without lookup tables or data-dependent branches so timing does not depend on share
//! bytes. (Vault uses log/exp tables; shares are not meant to be exchanged between the
//! two systems, whose root-key records differ anyway.)

use std::fmt;

use rand::RngCore;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use zeroize::Zeroizing;

/// Most shares one split can make: x coordinates are the non-zero bytes.
pub const MAX_SHARES: usize = 255;

/// Why a split or combine was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// Nothing to split.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// `shares` is 0 or above [`MAX_SHARES`].
    #[error("secret shares must be between 1 and 255, got {0}")]
    InvalidShares(usize),
    /// `threshold` is out of range for `shares`.
    #[error(
        "secret threshold must be between 2 and the number of shares ({shares}), \
         or 1 with a single share; got {threshold}"
    )]
    InvalidThreshold {
        /// The requested threshold.
        threshold: usize,
        /// The requested number of shares.
        shares: usize,
    },
    /// `combine` got no shares.
    #[error("no shares to combine")]
    NoShares,
    /// A share is too short to hold a secret byte and an x coordinate.
    #[error("shares must be at least two bytes long")]
    ShareTooShort,
    /// Shares of different lengths cannot come from one split.
    #[error("all shares must be the same length")]
    LengthMismatch,
    /// Two shares have the same x coordinate (the same share submitted twice).
    #[error("duplicate share detected")]
    DuplicateShare,
    /// A share claims x = 0, which would be the secret itself.
    #[error("share has an invalid x coordinate of 0")]
    ZeroCoordinate,
}

/// One share: the polynomial values, then the x coordinate. Wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Share(Zeroizing<Vec<u8>>);

impl Share {
    /// A share from its bytes (as an operator submits it, hex- or base64-decoded).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The share's bytes, to hand to an operator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Share {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Share(<{} bytes redacted>)", self.0.len())
    }
}

/// Splits `secret` into `shares` shares, any `threshold` of which recover it.
///
/// `1 ≤ shares ≤ 255`; `2 ≤ threshold ≤ shares`, except that `shares == 1` requires
/// `threshold == 1` and then the single share *is* the secret (no x byte), as in Vault.
pub fn split(secret: &[u8], shares: usize, threshold: usize) -> Result<Vec<Share>, ShamirError> {
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    if shares == 0 || shares > MAX_SHARES {
        return Err(ShamirError::InvalidShares(shares));
    }
    let threshold_ok = if shares == 1 {
        threshold == 1
    } else {
        (2..=shares).contains(&threshold)
    };
    if !threshold_ok {
        return Err(ShamirError::InvalidThreshold { threshold, shares });
    }
    if shares == 1 {
        return Ok(vec![Share::from_bytes(secret)]);
    }

    // Distinct random x coordinates, so share order reveals nothing.
    let mut xs: Vec<u8> = (1..=255).collect();
    xs.shuffle(&mut OsRng);
    xs.truncate(shares);

    // coefficients[b * degree + k] is the x^(k+1) coefficient of byte b's polynomial.
    let degree = threshold - 1;
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * degree]);
    OsRng.fill_bytes(&mut coefficients);

    Ok(xs
        .iter()
        .map(|&x| {
            let mut share = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
            for (b, &intercept) in secret.iter().enumerate() {
                let coeffs = &coefficients[b * degree..(b + 1) * degree];
                share.push(evaluate(intercept, coeffs, x));
            }
            share.push(x);
            Share(share)
        })
        .collect())
}

/// Recovers the secret from shares made by [`split`].
///
/// Give exactly the threshold's worth (more is fine, fewer yields garbage): the shares do
/// not record the threshold, so a wrong or too-small set is not detectable here and
/// produces a *different* secret; the caller notices when that key fails to decrypt.
/// A single share is returned unchanged (the `shares == 1` case of [`split`]).
pub fn combine<S: AsRef<[u8]>>(shares: &[S]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let Some(first) = shares.first() else {
        return Err(ShamirError::NoShares);
    };
    if shares.len() == 1 {
        return Ok(Zeroizing::new(first.as_ref().to_vec()));
    }
    let len = first.as_ref().len();
    if len < 2 {
        return Err(ShamirError::ShareTooShort);
    }
    let mut xs = Vec::with_capacity(shares.len());
    for share in shares {
        let share = share.as_ref();
        if share.len() != len {
            return Err(ShamirError::LengthMismatch);
        }
        let x = share[len - 1];
        if x == 0 {
            return Err(ShamirError::ZeroCoordinate);
        }
        if xs.contains(&x) {
            return Err(ShamirError::DuplicateShare);
        }
        xs.push(x);
    }

    // Lagrange basis at 0: lᵢ(0) = Π_{j≠i} xⱼ / (xⱼ − xᵢ), and − is XOR in GF(2⁸).
    let basis: Vec<u8> = xs
        .iter()
        .enumerate()
        .map(|(i, &xi)| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u8, |acc, (_, &xj)| gf_mul(acc, gf_div(xj, xj ^ xi)))
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (share, &l) in shares.iter().zip(&basis) {
        for (out, &y) in secret.iter_mut().zip(share.as_ref()) {
            *out ^= gf_mul(y, l);
        }
    }
    Ok(secret)
}

/// `intercept + c₀·x + c₁·x² + …` by Horner's rule.
fn evaluate(intercept: u8, coeffs: &[u8], x: u8) -> u8 {
    let mut acc = 0u8;
    for &c in coeffs.iter().rev() {
        acc = gf_mul(acc, x) ^ c;
    }
    gf_mul(acc, x) ^ intercept
}

/// Multiplication in GF(2⁸) mod 0x11B: shift-and-add with masks instead of branches or
/// table lookups, so it runs in the same time for every input.
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & (b & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// Inverse in GF(2⁸): a²⁵⁴ (so 0 maps to 0), by a fixed square-and-multiply chain.
fn gf_inv(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    // 254 = 0b1111_1110; the exponent is public, so branching on its bits leaks nothing.
    for bit in 0..8 {
        if (254u32 >> bit) & 1 == 1 {
            result = gf_mul(result, base);
        }
        base = gf_mul(base, base);
    }
    result
}

fn gf_div(a: u8, b: u8) -> u8 {
    gf_mul(a, gf_inv(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Vec<u8> {
        (0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect()
    }

    /// Every subset of `items` of size `k`.
    fn subsets<T: Clone>(items: &[T], k: usize) -> Vec<Vec<T>> {
        if k == 0 {
            return vec![Vec::new()];
        }
        if items.len() < k {
            return Vec::new();
        }
        let mut with: Vec<Vec<T>> = subsets(&items[1..], k - 1)
            .into_iter()
            .map(|mut s| {
                s.insert(0, items[0].clone());
                s
            })
            .collect();
        with.extend(subsets(&items[1..], k));
        with
    }

    #[test]
    fn field_arithmetic_is_a_field() {
        // Known AES-field products (FIPS-197 §4.2).
        assert_eq!(gf_mul(0x57, 0x83), 0xc1);
        assert_eq!(gf_mul(0x57, 0x13), 0xfe);
        assert_eq!(gf_inv(0), 0);
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a}");
            assert_eq!(gf_mul(a, 1), a);
            assert_eq!(gf_mul(a, 0), 0);
        }
    }

    #[test]
    fn any_threshold_of_the_shares_recover_the_secret() {
        let secret = secret();
        for (n, t) in [(2, 2), (3, 2), (5, 3), (6, 6), (7, 4)] {
            let shares = split(&secret, n, t).unwrap();
            assert_eq!(shares.len(), n);
            for share in &shares {
                assert_eq!(share.as_bytes().len(), secret.len() + 1);
            }
            for subset in subsets(&shares, t) {
                assert_eq!(*combine(&subset).unwrap(), secret, "n={n} t={t}");
            }
            // More than the threshold works too.
            assert_eq!(*combine(&shares).unwrap(), secret);
        }
    }

    #[test]
    fn fewer_than_threshold_shares_do_not() {
        let secret = secret();
        let shares = split(&secret, 5, 3).unwrap();
        for subset in subsets(&shares, 2) {
            assert_ne!(*combine(&subset).unwrap(), secret);
        }
    }

    #[test]
    fn a_corrupted_share_gives_a_different_secret() {
        let secret = secret();
        let shares = split(&secret, 5, 3).unwrap();
        let mut bad = shares[0].as_bytes().to_vec();
        bad[7] ^= 0x40;
        let recovered = combine(&[
            Share::from_bytes(&bad),
            shares[1].clone(),
            shares[2].clone(),
        ])
        .unwrap();
        assert_ne!(*recovered, secret);
        // Exactly one byte differs: a y byte only feeds its own secret byte.
        let differing = recovered
            .iter()
            .zip(&secret)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 1);
        // A share of another split is just as wrong.
        let other = split(&secret, 5, 3).unwrap();
        let mixed = [shares[0].clone(), shares[1].clone(), other[2].clone()];
        if other[2].as_bytes().last() != shares[0].as_bytes().last()
            && other[2].as_bytes().last() != shares[1].as_bytes().last()
        {
            assert_ne!(*combine(&mixed).unwrap(), secret);
        }
    }

    #[test]
    fn x_coordinates_are_distinct_and_non_zero() {
        let shares = split(&secret(), 255, 2).unwrap();
        let mut xs: Vec<u8> = shares.iter().map(|s| s.as_bytes()[32]).collect();
        xs.sort_unstable();
        assert_eq!(xs, (1..=255).collect::<Vec<u8>>());
    }

    #[test]
    fn a_single_share_is_the_secret() {
        let secret = secret();
        let shares = split(&secret, 1, 1).unwrap();
        assert_eq!(shares[0].as_bytes(), secret.as_slice());
        assert_eq!(*combine(&shares).unwrap(), secret);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let s = secret();
        assert_eq!(split(&[], 3, 2), Err(ShamirError::EmptySecret));
        assert_eq!(split(&s, 0, 0), Err(ShamirError::InvalidShares(0)));
        assert_eq!(split(&s, 256, 2), Err(ShamirError::InvalidShares(256)));
        for (n, t) in [(3, 1), (3, 4), (3, 0), (1, 2), (1, 0), (2, 3)] {
            assert_eq!(
                split(&s, n, t),
                Err(ShamirError::InvalidThreshold {
                    threshold: t,
                    shares: n
                })
            );
        }
        let shares = split(&s, 3, 2).unwrap();
        assert_eq!(combine::<Share>(&[]), Err(ShamirError::NoShares));
        assert_eq!(
            combine(&[shares[0].clone(), shares[0].clone()]),
            Err(ShamirError::DuplicateShare)
        );
        assert_eq!(
            combine(&[shares[0].as_bytes(), &shares[1].as_bytes()[1..]]),
            Err(ShamirError::LengthMismatch)
        );
        assert_eq!(
            combine(&[&[1u8][..], &[2u8][..]]),
            Err(ShamirError::ShareTooShort)
        );
        assert_eq!(
            combine(&[&[1u8, 0][..], &[2u8, 3][..]]),
            Err(ShamirError::ZeroCoordinate)
        );
    }

    #[test]
    fn share_debug_is_redacted() {
        let shares = split(&[0xab; 32], 3, 2).unwrap();
        let shown = format!("{:?}", shares[0]);
        assert_eq!(shown, "Share(<33 bytes redacted>)");
    }
}
