//! Commitments: tree rules, rs_merkle agreement, streaming == one-shot,
//! tensor roots byte for byte, element proofs.

mod common;

use common::Rng;
use rs_merkle::MerkleTree;
use trace_vm::commit::merkle::{depth_for, root_from_path, u256, zero_hash};
use trace_vm::commit::tensor::{DataHasher, data_root, data_root_threads, leaf_count};
use trace_vm::commit::{
    DType, Hash, Keccak256, LEAF_SIZE, MerkleAccumulator, StateHasher, TensorHeader, TensorTree,
    TraceHasher, ZERO_HASH, bound, keccak256, list_root, merkle_root, model_root, node,
};

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes(r: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| r.u32() as u8).collect()
}

#[test]
fn keccak_is_ethereums() {
    assert_eq!(
        hex(&keccak256(b"")),
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    assert_eq!(
        hex(&keccak256(b"abc")),
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    );
}

#[test]
fn accumulator_matches_rs_merkle_and_padding_rule() {
    let mut r = Rng(1);
    for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100] {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| keccak256(&(i as u64).to_le_bytes()))
            .collect();
        let mut padded = leaves.clone();
        padded.resize(1 << depth_for(n as u64), ZERO_HASH);
        let want = MerkleTree::<Keccak256>::from_leaves(&padded)
            .root()
            .unwrap();
        assert_eq!(merkle_root(&leaves), want, "n={n}");
        // explicit definition for n = 3: node(node(l0, l1), node(l2, 0))
        if n == 3 {
            assert_eq!(
                want,
                node(&node(&leaves[0], &leaves[1]), &node(&leaves[2], &ZERO_HASH))
            );
        }
        let mut acc = MerkleAccumulator::new();
        for l in &leaves {
            acc.push(*l);
        }
        // padding to a larger depth = adding zero subtrees on the right
        assert_eq!(
            acc.root_at_depth(depth_for(n as u64) + 1),
            node(&want, &zero_hash(depth_for(n as u64)))
        );
        let _ = r.u32();
    }
    assert_eq!(merkle_root(&[]), ZERO_HASH);
    assert_eq!(list_root(&[]), node(&u256(0), &ZERO_HASH));
}

#[test]
fn streaming_equals_one_shot_and_parallel() {
    let mut r = Rng(2);
    for leaf in [32usize, 64, 128, 256, 1024] {
        for n in [
            0usize,
            1,
            31,
            32,
            33,
            leaf - 1,
            leaf,
            leaf + 1,
            5 * leaf + 7,
            3 << 20,
        ] {
            let b = bytes(&mut r, n);
            let one = data_root_threads(&b, leaf, 1);
            assert_eq!(
                data_root_threads(&b, leaf, 2),
                one,
                "parallel, leaf {leaf} n {n}"
            );
            assert_eq!(data_root_threads(&b, leaf, 3), one);
            assert_eq!(data_root(&b, leaf), one);
            let mut h = DataHasher::new(leaf);
            let mut rest = &b[..];
            while !rest.is_empty() {
                let k = (r.below(3 * leaf as u32) as usize + 1).min(rest.len());
                h.update(&rest[..k]);
                rest = &rest[k..];
            }
            assert_eq!(h.finish(), (one, n as u64), "streaming, leaf {leaf} n {n}");
            // Hashed up to a cut (in parallel), then fed the rest.
            for cut in [0, n / 3, n.saturating_sub(leaf), n] {
                let mut h = DataHasher::over(&b[..cut], leaf);
                h.update(&b[cut..]);
                assert_eq!(h.finish(), (one, n as u64), "over {cut}, leaf {leaf} n {n}");
            }
            // definition: zero-padded leaves, leaf hash = keccak256(leaf bytes)
            if n < 4 * leaf {
                let nl = leaf_count(n as u64, leaf) as usize;
                let mut padded = b.clone();
                padded.resize(nl * leaf, 0);
                let leaves: Vec<Hash> = padded.chunks(leaf).map(keccak256).collect();
                assert_eq!(merkle_root(&leaves), one);
            }
        }
    }
}

#[test]
fn tensor_root_byte_for_byte() {
    let data: Vec<u8> = (0..6u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let h = TensorHeader::new(DType::F32, &[2, 3]);
    let c = h.commit(&data).unwrap();
    let mut leaf = data.clone();
    leaf.resize(LEAF_SIZE, 0);
    let data_root = keccak256(&leaf);
    assert_eq!(c.data_root, data_root);
    assert_eq!((c.n_leaves, c.depth), (1, 0));
    let mut pre = Vec::new();
    for w in [1u64, 2, 2, 3] {
        // dtype code (F32 = 1), rank, dims
        pre.extend_from_slice(&u256(w));
    }
    pre.extend_from_slice(&data_root);
    assert_eq!(c.root, keccak256(&pre));
    // shape and dtype are bound
    assert_ne!(
        TensorHeader::new(DType::F32, &[3, 2])
            .commit(&data)
            .unwrap()
            .root,
        c.root
    );
    assert_ne!(
        TensorHeader::new(DType::I32, &[2, 3])
            .commit(&data)
            .unwrap()
            .root,
        c.root
    );
    assert_ne!(
        TensorHeader::new(DType::F32, &[6])
            .commit(&data)
            .unwrap()
            .root,
        c.root
    );
}

#[test]
fn bad_tensors_are_errors() {
    let e = TensorHeader::new(DType::F32, &[2, 3])
        .commit(&[0u8; 20])
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 20 bytes") && e.contains("need 24"), "{e}");
    let e = TensorHeader::new(DType::F32, &[u64::MAX, 4])
        .commit(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("overflow"), "{e}");
    let e = TensorHeader::new(DType::F32, &[1 << 40])
        .commit(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("limit"), "{e}");
    let e = TensorHeader::new(DType::Q8_0, &[33])
        .commit(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("blocks"), "{e}");
    assert_eq!(
        TensorHeader::new(DType::Q4K, &[2, 256]).byte_len().unwrap(),
        288
    );
    for d in DType::ALL {
        assert_eq!(DType::from_code(d.code()), Some(d));
    }
}

#[test]
fn element_proofs() {
    let mut r = Rng(3);
    for n in [1u64, 5, 64, 65, 1000, 4097] {
        let data = bytes(&mut r, n as usize * 4);
        let h = TensorHeader::new(DType::F32, &[n]);
        let tree = TensorTree::new(h.clone(), &data).unwrap();
        let root = h.commit(&data).unwrap().root;
        assert_eq!(tree.root(), root);
        for e in (0..n).step_by(1 + n as usize / 50).chain([n - 1]) {
            let p = tree.element_proof(e).unwrap();
            assert_eq!(p.siblings.len(), depth_for(leaf_count(n * 4, LEAF_SIZE)));
            assert_eq!(
                p.verify(&root, &h).unwrap(),
                data[(e * 4) as usize..(e * 4 + 4) as usize]
            );
            // tampering
            let mut bad = p.clone();
            bad.leaf[((e * 4) % LEAF_SIZE as u64) as usize] ^= 1;
            assert!(bad.verify(&root, &h).is_err());
            if !p.siblings.is_empty() {
                let mut bad = p.clone();
                bad.siblings[0][0] ^= 1;
                assert!(bad.verify(&root, &h).is_err());
            }
            let mut bad = p.clone();
            bad.element = n;
            assert!(bad.verify(&root, &h).is_err());
            // the same path climbs to the data root
            assert_eq!(
                root_from_path(keccak256(&p.leaf), p.leaf_index, &p.siblings),
                tree.data_root()
            );
        }
        assert!(tree.element_proof(n).is_err());
        // absurd headers are errors, not panics
        let p = tree.element_proof(0).unwrap();
        let mut huge = p.clone();
        huge.element = (1 << 61) + 5;
        assert!(
            huge.verify(&root, &TensorHeader::new(DType::I64, &[1 << 62]))
                .is_err()
        );
        assert!(
            p.verify(&root, &TensorHeader::new(DType::F32, &[n + 1]))
                .is_err()
        );
    }
    let q = vec![0u8; 34 * 4];
    let qt = TensorTree::new(TensorHeader::new(DType::Q8_0, &[128]), &q).unwrap();
    assert!(qt.element_proof(0).is_err());
    assert!(qt.leaf_proof(0).is_ok());
}

#[test]
fn state_and_trace_roots() {
    let h = TensorHeader::new(DType::F32, &[4]);
    let t: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 16]).collect();
    let roots: Vec<Hash> = t
        .iter()
        .enumerate()
        .map(|(i, b)| bound(i as u32, &h.commit(b).unwrap().root))
        .collect();
    let mut th = TraceHasher::new(true);
    // state 0: tensors 0, 1; state 1: tensor 2; state 2: tensors 3, 4
    th.tensor(0, &h, &t[0]).unwrap();
    th.tensor(1, &h, &t[1]).unwrap();
    let s0 = th.end_state();
    th.tensor(2, &h, &t[2]).unwrap();
    let s1 = th.end_state();
    th.tensor(3, &h, &t[3]).unwrap();
    th.tensor(4, &h, &t[4]).unwrap();
    let c = th.finish();
    assert_eq!(s0, list_root(&roots[0..2]));
    assert_eq!(s1, list_root(&roots[2..3]));
    let s2 = list_root(&roots[3..5]);
    assert_eq!(c.root, merkle_root(&[s0, s1, s2]));
    assert_eq!(c.n_states, 3);
    assert_eq!(c.state_roots, Some(vec![s0, s1, s2]));
    let mut sh = StateHasher::new();
    assert!(sh.push_tensor(0, &h, &[0u8; 3]).is_err());
    assert_eq!(model_root(&s0, &s1), node(&s0, &s1));
}
