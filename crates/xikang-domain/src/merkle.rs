//! The RFC 6962 (§2.1, RFC 9162 §2.1) Merkle tree over the authority log: one leaf per
//! event, whose data is the event's chain hash ([`crate::event::chain_hash`], itself a hash
//! of the event's canonical bytes). A checkpoint publishes the root of the first `n`
//! leaves; a consistency proof shows that the tree of size `n` is a prefix of the tree of
//! size `m ≥ n`, so a witness holding an old checkpoint detects a log that was cut short
//! or rewritten without reading the events.
//!
//! - [`MerkleLog`]: the tree kept in memory, appended to leaf by leaf (amortised two hashes
//!   per leaf), answering roots and consistency proofs for any size in `O(log n)`;
//! - [`RootBuilder`]: the root of a stream of leaves in `O(log n)` memory (an auditor's
//!   recomputation from the store);
//! - [`verify_consistency`]: the proof check (RFC 9162 §2.1.4.2), written independently of
//!   the proof generation so each checks the other in the tests.

use sha2::{Digest, Sha256};

/// A SHA-256 value: a leaf hash, an interior node or a root.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n ≥ 2`): where RFC 6962 splits a tree.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a size or a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("size {size} is beyond the tree's {len} leaves")]
    BeyondTree { size: u64, len: u64 },
    #[error("the old size {old} is larger than the new size {new}")]
    Shrinks { old: u64, new: u64 },
    #[error("the consistency proof does not match the two roots")]
    Inconsistent,
    #[error("the consistency proof has the wrong number of hashes")]
    ProofLength,
}

/// The tree in memory: every complete subtree's hash, level by level (`levels[h][i]` is
/// the root of leaves `i·2^h .. (i+1)·2^h`). About 64 bytes per leaf. Appending costs the
/// leaf plus, on average, one node; a root or a proof reads `O(log n)` stored nodes.
#[derive(Debug, Clone, Default)]
pub struct MerkleLog {
    levels: Vec<Vec<Hash>>,
}

impl MerkleLog {
    /// An empty tree.
    pub fn new() -> MerkleLog {
        MerkleLog::default()
    }

    /// How many leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf, given its leaf hash ([`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(node);
            if row.len() % 2 == 1 {
                return;
            }
            node = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, MerkleError> {
        self.check(size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.range(0, size)
        })
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new` leaves
    /// (RFC 6962 §2.1.2 `PROOF(m, D[n])`). Empty when `old` is 0 or equal to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check(new)?;
        if old > new {
            return Err(MerkleError::Shrinks { old, new });
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn check(&self, size: u64) -> Result<(), MerkleError> {
        let len = self.len();
        if size > len {
            return Err(MerkleError::BeyondTree { size, len });
        }
        Ok(())
    }

    /// `MTH(D[lo:hi])`, `lo < hi ≤ len`, from the stored complete subtrees.
    fn range(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo & (n - 1) == 0 {
            let level = n.trailing_zeros() as usize;
            // A complete, aligned subtree inside the tree is always stored.
            return self.levels[level][(lo >> level) as usize];
        }
        let k = split(n);
        node_hash(&self.range(lo, lo + k), &self.range(lo + k, hi))
    }

    /// `SUBPROOF(m, D[lo:hi], whole)` of RFC 6962 §2.1.2, appended to `out`.
    fn subproof(&self, m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(self.range(lo, hi));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, whole, out);
            out.push(self.range(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.range(lo, lo + k));
        }
    }
}

/// The root of a stream of leaves, keeping only the `O(log n)` complete subtrees at the
/// right edge: for recomputing a checkpoint's root from the store.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    /// (height, hash) of the complete subtrees, largest first.
    stack: Vec<(u32, Hash)>,
    len: u64,
}

impl RootBuilder {
    /// An empty builder.
    pub fn new() -> RootBuilder {
        RootBuilder::default()
    }

    /// Appends a leaf, given its leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0, leaf);
        while let Some(&(h, left)) = self.stack.last() {
            if h != node.0 {
                break;
            }
            self.stack.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.len += 1;
    }

    /// How many leaves were pushed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root of the leaves pushed so far: the right edge folded from the smallest
    /// subtree up, as RFC 6962's recursion hashes an incomplete tree.
    pub fn root(&self) -> Hash {
        let mut nodes = self.stack.iter().rev();
        match nodes.next() {
            None => empty_root(),
            Some(&(_, last)) => nodes.fold(last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

/// Checks a consistency proof between the tree of `old` leaves with root `old_root` and
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2). Any tree extends the
/// empty one; equal sizes need equal roots and an empty proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old > new {
        return Err(MerkleError::Shrinks { old, new });
    }
    if old == 0 || old == new {
        return if !proof.is_empty() {
            Err(MerkleError::ProofLength)
        } else if old > 0 && old_root != new_root {
            Err(MerkleError::Inconsistent)
        } else {
            Ok(())
        };
    }
    if proof.is_empty() {
        return Err(MerkleError::ProofLength);
    }
    // A power-of-two old tree is a complete subtree of the new one: the proof leaves out
    // its root, which the verifier already has.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(MerkleError::ProofLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::ProofLength);
    }
    if &f_r != old_root || &s_r != new_root {
        return Err(MerkleError::Inconsistent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MTH` transcribed from RFC 6962 §2.1 over the leaf data, without any cache.
    fn reference_root(data: &[Vec<u8>]) -> Hash {
        match data.len() {
            0 => empty_root(),
            1 => leaf_hash(&data[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&data[..k]), &reference_root(&data[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("event {i}").into_bytes()).collect()
    }

    fn tree_of(data: &[Vec<u8>]) -> MerkleLog {
        let mut t = MerkleLog::new();
        for d in data {
            t.push(leaf_hash(d));
        }
        t
    }

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_empty_tree_and_a_single_leaf_hash_as_rfc_6962_says() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(MerkleLog::new().root(0).unwrap(), empty_root());
        assert_eq!(RootBuilder::new().root(), empty_root());
        // SHA-256 of the single byte 0x00: a leaf with empty data.
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn roots_match_the_certificate_transparency_reference_vectors() {
        // The eight leaves and roots of the RFC 6962 reference implementation's tests.
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut t = MerkleLog::new();
        for (d, root) in data.iter().zip(roots) {
            t.push(leaf_hash(d));
            assert_eq!(hex(&t.root(t.len()).unwrap()), root, "size {}", t.len());
        }
    }

    #[test]
    fn a_three_leaf_root_is_the_hand_built_tree() {
        let d = leaves(3);
        let (a, b, c) = (leaf_hash(&d[0]), leaf_hash(&d[1]), leaf_hash(&d[2]));
        // RFC 6962: the left subtree is the largest power of two (2), the right the rest.
        let by_hand = node_hash(&node_hash(&a, &b), &c);
        assert_eq!(tree_of(&d).root(3).unwrap(), by_hand);
        assert_eq!(tree_of(&d).root(2).unwrap(), node_hash(&a, &b));
        assert_eq!(tree_of(&d).root(1).unwrap(), a);
    }

    #[test]
    fn roots_of_every_prefix_match_the_rfc_definition() {
        let d = leaves(130);
        let t = tree_of(&d);
        let mut b = RootBuilder::new();
        for n in 0..=d.len() {
            let want = reference_root(&d[..n]);
            assert_eq!(t.root(n as u64).unwrap(), want, "size {n}");
            assert_eq!(b.root(), want, "builder at size {n}");
            assert_eq!(b.len(), n as u64);
            if let Some(x) = d.get(n) {
                b.push(leaf_hash(x));
            }
        }
        assert_eq!(
            t.root(131),
            Err(MerkleError::BeyondTree {
                size: 131,
                len: 130
            })
        );
    }

    #[test]
    fn the_rfc_6962_example_proofs_have_the_nodes_the_rfc_lists() {
        // RFC 6962 §2.1.3: seven leaves d0..d6; a..f and j are leaf hashes,
        // g = (a,b), h = (c,d), i = (e,f), k = (g,h), l = (i,j).
        let d = leaves(7);
        let t = tree_of(&d);
        let leaf = |i: usize| leaf_hash(&d[i]);
        let (c, dd, j) = (leaf(2), leaf(3), leaf(6));
        let g = node_hash(&leaf(0), &leaf(1));
        let h = node_hash(&c, &dd);
        let i = node_hash(&leaf(4), &leaf(5));
        let k = node_hash(&g, &h);
        let l = node_hash(&i, &j);
        assert_eq!(t.consistency_proof(3, 7).unwrap(), vec![c, dd, g, l]);
        assert_eq!(t.consistency_proof(4, 7).unwrap(), vec![l]);
        assert_eq!(t.consistency_proof(6, 7).unwrap(), vec![i, j, k]);
        assert_eq!(t.root(7).unwrap(), node_hash(&k, &l));
    }

    #[test]
    fn every_proof_between_two_sizes_verifies_and_any_change_breaks_it() {
        let d = leaves(40);
        let t = tree_of(&d);
        for new in 0..=40u64 {
            let new_root = t.root(new).unwrap();
            for old in 0..=new {
                let old_root = t.root(old).unwrap();
                let proof = t.consistency_proof(old, new).unwrap();
                assert_eq!(
                    verify_consistency(old, new, &old_root, &new_root, &proof),
                    Ok(()),
                    "{old} → {new}"
                );
                if old == 0 {
                    continue;
                }
                // Another old root (a rewritten history) is refused.
                let mut forged = old_root;
                forged[0] ^= 1;
                assert!(verify_consistency(old, new, &forged, &new_root, &proof).is_err());
                assert!(verify_consistency(old, new, &old_root, &forged, &proof).is_err());
                // So is every altered, missing or extra proof hash.
                for at in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[at][31] ^= 0x80;
                    assert!(
                        verify_consistency(old, new, &old_root, &new_root, &bad).is_err(),
                        "{old} → {new}, hash {at}"
                    );
                }
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(verify_consistency(old, new, &old_root, &new_root, short).is_err());
                }
                let mut long = proof.clone();
                long.push(new_root);
                assert!(verify_consistency(old, new, &old_root, &new_root, &long).is_err());
            }
        }
    }

    #[test]
    fn a_tree_that_lost_its_tail_and_grew_again_is_not_consistent() {
        // The log had 10 events; the last 3 were deleted and 5 others appended.
        let honest = tree_of(&leaves(10));
        let mut rewritten = leaves(7);
        rewritten.extend((0..5).map(|i| format!("replacement {i}").into_bytes()));
        let t = tree_of(&rewritten);
        let proof = t.consistency_proof(10, 12).unwrap();
        assert_eq!(
            verify_consistency(
                10,
                12,
                &honest.root(10).unwrap(),
                &t.root(12).unwrap(),
                &proof
            ),
            Err(MerkleError::Inconsistent)
        );
        // A smaller new size is refused outright.
        assert_eq!(
            verify_consistency(10, 7, &honest.root(10).unwrap(), &t.root(7).unwrap(), &[]),
            Err(MerkleError::Shrinks { old: 10, new: 7 })
        );
        assert!(t.consistency_proof(13, 12).is_err());
    }
}
