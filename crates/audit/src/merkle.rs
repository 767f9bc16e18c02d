//! RFC 9162 §2.1 Merkle tree arithmetic, without I/O.
//!
//! The tree is never held in memory. Every hash a proof needs is the hash of a *perfect* subtree — a
//! power-of-two run of leaves starting at a multiple of its size — or a right-fold of a few of them, so
//! storage keeps one row per perfect subtree ([`NodeKey`]: level and index) and a proof is: plan the keys
//! ([`inclusion_plan`], [`consistency_plan`]), fetch them in one query, [`assemble`].

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A perfect subtree: leaves `[index·2^level, (index+1)·2^level)`. Level 0 is a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    pub level: u32,
    pub index: u64,
}

impl NodeKey {
    pub fn start(self) -> u64 {
        self.index << self.level
    }

    pub fn end(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The largest power of two strictly less than `n` (n ≥ 2): RFC 9162's split point `k`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up the leaves `[start, end)`, left to right. Each is as large as the
/// range and the alignment of its start allow; for the ranges RFC 9162 trees are built from this is
/// exactly their structure: the left part of every split is perfect.
pub fn perfect_subtrees(start: u64, end: u64) -> Vec<NodeKey> {
    let mut keys = Vec::new();
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let mut level = 63 - remaining.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        keys.push(NodeKey { level, index: at >> level });
        at += 1u64 << level;
    }
    keys
}

/// The perfect subtrees a tree of `size` leaves is made of, left to right (its "frontier").
pub fn frontier(size: u64) -> Vec<NodeKey> {
    perfect_subtrees(0, size)
}

/// Hash of a range from its perfect subtrees' hashes (left to right): a right fold, as RFC 9162 builds it.
pub fn fold(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// The root of a tree given all its leaf hashes (reference implementation, for verification and tests).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// What a proof needs: one entry per proof hash, each the range of leaves it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    pub ranges: Vec<(u64, u64)>,
}

impl ProofPlan {
    /// Every stored subtree the proof reads, deduplicated and sorted (for one batched query).
    pub fn keys(&self) -> Vec<NodeKey> {
        let mut keys: Vec<NodeKey> = self.ranges.iter().flat_map(|&(s, e)| perfect_subtrees(s, e)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// Why a proof cannot be made or does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("size1 ({size1}) is greater than size2 ({size2})")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("a consistency proof needs size1 > 0")]
    ZeroSize,
    #[error("the proof has {got} hashes, expected {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("the proof is not empty although the sizes are equal")]
    NonEmptyProof,
    #[error("the proof is empty")]
    EmptyProof,
    #[error("the computed root does not match the expected root")]
    RootMismatch,
    #[error("the computed first root does not match the expected first root")]
    FirstRootMismatch,
    #[error("a stored subtree hash is missing: level {}, index {}", .0.level, .0.index)]
    MissingNode(NodeKey),
}

/// RFC 9162 §2.1.3.1 PATH: the ranges whose hashes prove leaf `index` in a tree of `size`.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    // Walk down from the root; the path is read leaf-to-root, so collect in reverse.
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let k = split(end - start);
        if index - start < k {
            ranges.push((start + k, end));
            end = start + k;
        } else {
            ranges.push((start, start + k));
            start += k;
        }
    }
    ranges.reverse();
    Ok(ProofPlan { ranges })
}

/// RFC 9162 §2.1.4.1 PROOF(m, D[n]): the ranges whose hashes prove the tree of `size1` is a prefix of the
/// tree of `size2`. Sizes must satisfy 0 < size1 ≤ size2; equal sizes need no hashes.
pub fn consistency_plan(size1: u64, size2: u64) -> Result<ProofPlan, ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::ZeroSize);
    }
    let mut ranges = Vec::new();
    if size1 == size2 {
        return Ok(ProofPlan { ranges });
    }
    // SUBPROOF(m, D[start:end], b), iteratively: the recursion only ever descends one side.
    let (mut m, mut start, mut end, mut complete) = (size1, 0u64, size2, true);
    loop {
        let n = end - start;
        if m == n {
            if !complete {
                ranges.push((start, end));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            ranges.push((start + k, end));
            end = start + k;
        } else {
            ranges.push((start, start + k));
            m -= k;
            start += k;
            complete = false;
        }
    }
    ranges.reverse();
    Ok(ProofPlan { ranges })
}

/// Turn a plan into proof hashes, looking each stored subtree up with `get`.
pub fn assemble(plan: &ProofPlan, get: impl Fn(NodeKey) -> Option<Hash>) -> Result<Vec<Hash>, ProofError> {
    plan.ranges
        .iter()
        .map(|&(s, e)| {
            let hashes = perfect_subtrees(s, e)
                .into_iter()
                .map(|key| get(key).ok_or(ProofError::MissingNode(key)))
                .collect::<Result<Vec<_>, _>>()?;
            fold(&hashes).ok_or(ProofError::EmptyProof)
        })
        .collect()
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` with `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &[u8]) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_plan(index, size)?.ranges.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength { got: proof.len(), expected });
    }
    let (mut fnode, mut snode, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength { got: proof.len(), expected });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength { got: proof.len(), expected });
    }
    if r.as_slice() != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Subtree inclusion (the subtrees of draft-ietf-plants-merkle-tree-certs): leaf `index` in the subtree of
/// leaves `[start, end)` with `root`. A valid subtree is non-empty and starts at a multiple of the smallest
/// power of two not below its size, so it is a node-aligned RFC 9162 tree of its own; inside it this is
/// ordinary inclusion at `index - start` in a tree of `end - start`.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &[u8],
) -> Result<(), ProofError> {
    if start >= end || !(start..end).contains(&index) {
        return Err(ProofError::IndexOutOfRange { index, size: end.saturating_sub(start) });
    }
    let aligned = (end - start).checked_next_power_of_two().is_some_and(|width| start % width == 0);
    if !aligned {
        return Err(ProofError::IndexOutOfRange { index: start, size: end });
    }
    verify_inclusion(index - start, end - start, leaf, proof, root)
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of `size1` with `root1` is a prefix of the tree of
/// `size2` with `root2`? A proof from the empty tree proves nothing and is refused. Roots are compared as
/// bytes (for equal sizes no hashing happens, so any byte string is compared as given).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::ZeroSize);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::NonEmptyProof);
        }
        return if root1 == root2 { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::EmptyProof);
    }
    let expected = consistency_plan(size1, size2)?.ranges.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength { got: proof.len(), expected });
    }
    // When size1 is a power of two its root is itself a node of the path: start from it.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1.try_into().map_err(|_| ProofError::FirstRootMismatch)?);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength { got: proof.len(), expected });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength { got: proof.len(), expected });
    }
    if fr.as_slice() != root1 {
        return Err(ProofError::FirstRootMismatch);
    }
    if sr.as_slice() != root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verify one proof case in the transparency-dev JSON format: inclusion
/// `{leafIdx, treeSize, root, leafHash, proof[]}` or consistency `{size1, size2, root1, root2, proof[]}`,
/// hashes in base64. Returns which kind it was, or why it does not hold.
pub fn verify_case(case: &serde_json::Value) -> Result<&'static str, String> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let bytes = |v: &serde_json::Value| -> Option<Vec<u8>> { STANDARD.decode(v.as_str()?).ok() };
    let hash = |v: &serde_json::Value| -> Option<Hash> { bytes(v)?.try_into().ok() };
    let num = |k: &str| case[k].as_u64().ok_or(format!("{k} is missing or not a non-negative integer"));
    let bad = |what: &str| format!("{what} is not base64 of the right length");
    let proof: Vec<Hash> = match &case["proof"] {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) => {
            items.iter().map(hash).collect::<Option<_>>().ok_or(bad("a proof component"))?
        }
        _ => return Err("proof must be an array of base64 hashes".into()),
    };
    if case.get("leafIdx").is_some() && case.get("start").is_some() {
        let (index, start, end) = (num("leafIdx")?, num("start")?, num("end")?);
        let leaf = hash(&case["leafHash"]).ok_or(bad("leafHash"))?;
        let root = bytes(&case["root"]).ok_or(bad("root"))?;
        verify_subtree_inclusion(index, start, end, &leaf, &proof, &root)
            .map(|()| "subtree inclusion")
            .map_err(|e| e.to_string())
    } else if case.get("leafIdx").is_some() {
        let (index, size) = (num("leafIdx")?, num("treeSize")?);
        let leaf = hash(&case["leafHash"]).ok_or(bad("leafHash"))?;
        let root = bytes(&case["root"]).ok_or(bad("root"))?;
        verify_inclusion(index, size, &leaf, &proof, &root).map(|()| "inclusion").map_err(|e| e.to_string())
    } else if case.get("size1").is_some() {
        let (size1, size2) = (num("size1")?, num("size2")?);
        let root1 = bytes(&case["root1"]).ok_or(bad("root1"))?;
        let root2 = bytes(&case["root2"]).ok_or(bad("root2"))?;
        verify_consistency(size1, size2, &proof, &root1, &root2).map(|()| "consistency").map_err(|e| e.to_string())
    } else {
        Err("not a proof case: expected leafIdx/treeSize or size1/size2".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// Every perfect subtree hash of a tree of `leaves`, as storage would hold them.
    fn store_of(leaves: &[Hash]) -> HashMap<NodeKey, Hash> {
        let mut store = HashMap::new();
        let mut level_hashes: Vec<Hash> = leaves.to_vec();
        let mut level = 0;
        while !level_hashes.is_empty() {
            for (i, h) in level_hashes.iter().enumerate() {
                store.insert(NodeKey { level, index: i as u64 }, *h);
            }
            level_hashes = level_hashes.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
            level += 1;
        }
        store
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    #[test]
    fn known_roots() {
        // RFC 6962 / transparency-dev reference: the empty root and a one-leaf tree of "".
        assert_eq!(STANDARD.encode(empty_root()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(STANDARD.encode(leaf_hash(b"")), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
    }

    #[test]
    fn frontier_folds_to_the_root() {
        for n in 1..70 {
            let l = leaves(n);
            let store = store_of(&l);
            let hashes: Vec<Hash> = frontier(n as u64).into_iter().map(|k| store[&k]).collect();
            assert_eq!(fold(&hashes), Some(root_of(&l)), "n = {n}");
        }
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_any_bit_flip_fails(n in 1usize..300, a in 0usize..300, b in 0usize..300, bit in 0usize..256) {
            let l = leaves(n);
            let store = store_of(&l);
            let get = |k: NodeKey| store.get(&k).copied();
            let index = (a % n) as u64;
            let size = index + 1 + (b % (n - index as usize)) as u64;
            let root = root_of(&l[..size as usize]);
            let proof = assemble(&inclusion_plan(index, size).unwrap(), get).unwrap();
            prop_assert_eq!(verify_inclusion(index, size, &l[index as usize], &proof, &root), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[bit / 8 % proof.len()][bit % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(index, size, &l[index as usize], &bad, &root).is_err());
            }
            let mut bad_leaf = l[index as usize];
            bad_leaf[bit % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(index, size, &bad_leaf, &proof, &root).is_err());

            let size1 = 1 + (a % size as usize) as u64;
            let root1 = root_of(&l[..size1 as usize]);
            let proof = assemble(&consistency_plan(size1, size).unwrap(), get).unwrap();
            prop_assert_eq!(verify_consistency(size1, size, &proof, &root1, &root), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[bit / 8 % proof.len()][bit % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(size1, size, &bad, &root1, &root).is_err());
            }
            let mut bad_root = root;
            bad_root[bit % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(size1, size, &proof, &root1, &bad_root).is_err());
        }
    }

    // ---- the transparency-dev/merkle vectors in ../shared/testdata

    fn testdata() -> Option<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/merkle/testdata");
        if dir.is_dir() {
            return Some(dir);
        }
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must have ../shared/testdata");
        eprintln!("!!! {} is missing: the transparency-dev vectors did NOT run !!!", dir.display());
        None
    }

    fn cases(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                    out.push((path, value));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn transparency_dev_subtree_inclusion_vectors() {
        let Some(dir) = testdata() else { return };
        let mut wrong = Vec::new();
        let all = cases(&dir.join("subtreeinclusion"));
        for (path, case) in &all {
            let want_err = case["wantErr"].as_bool().unwrap_or(false);
            let result = verify_case(case);
            if result.is_err() != want_err {
                wrong.push(format!("{}: wantErr={want_err}, got {result:?}", path.display()));
            }
        }
        assert_eq!(all.len(), 204, "subtree inclusion cases");
        assert!(wrong.is_empty(), "{} cases disagree:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn transparency_dev_inclusion_and_consistency_vectors() {
        let Some(dir) = testdata() else { return };
        let mut counted = 0;
        let mut wrong = Vec::new();
        for folder in ["inclusion", "consistency"] {
            for (path, case) in cases(&dir.join(folder)) {
                counted += 1;
                let want_err = case["wantErr"].as_bool().unwrap_or(false);
                let result = verify_case(&case);
                if result.is_err() != want_err {
                    wrong.push(format!("{}: wantErr={want_err}, got {result:?}", path.display()));
                }
            }
        }
        assert_eq!(counted, 196, "inclusion + consistency cases");
        assert!(wrong.is_empty(), "{} cases disagree:\n{}", wrong.len(), wrong.join("\n"));
    }

    /// For every valid vector our planner asks for exactly as many hashes as the reference proof has
    /// (the vectors do not include their leaves, so the hashes themselves are checked by verification).
    #[test]
    fn proof_lengths_match_the_vectors() {
        let Some(dir) = testdata() else { return };
        for (path, case) in cases(&dir.join("inclusion")) {
            if case["wantErr"].as_bool() == Some(false) {
                let (i, n) = (case["leafIdx"].as_u64().unwrap(), case["treeSize"].as_u64().unwrap());
                let expected = case["proof"].as_array().map_or(0, Vec::len);
                assert_eq!(inclusion_plan(i, n).unwrap().ranges.len(), expected, "{}", path.display());
            }
        }
        for (path, case) in cases(&dir.join("consistency")) {
            if case["wantErr"].as_bool() == Some(false) {
                let (m, n) = (case["size1"].as_u64().unwrap(), case["size2"].as_u64().unwrap());
                if m == n {
                    continue;
                }
                let expected = case["proof"].as_array().map_or(0, Vec::len);
                assert_eq!(consistency_plan(m, n).unwrap().ranges.len(), expected, "{}", path.display());
            }
        }
    }
}
