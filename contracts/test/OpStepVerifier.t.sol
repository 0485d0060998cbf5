// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {OpStepVerifier} from "../src/OpStepVerifier.sol";
import {OpEntryDecoder} from "../src/OpEntryDecoder.sol";
import {Merkle} from "../src/lib/Merkle.sol";
import {Acc, Frontier} from "../src/lib/Frontier.sol";
import {Accum, OutAcc} from "../src/lib/OutAcc.sol";
import {Parsed, MachineState} from "../src/lib/MachineState.sol";
import {ListProofs} from "../src/lib/ListProofs.sol";
import {ListProof, StepRejected} from "../src/lib/StepWitness.sol";
import {QuantFields} from "../src/lib/QuantFields.sol";
import {TensorData} from "../src/lib/TensorData.sol";

/// @notice Calldata entry points for list proofs (witness proofs are read in calldata).
contract ListProofsHarness {
    function proves(ListProof calldata p, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return ListProofs.proves(p, root, leaf);
    }
}

/// @notice Calldata entry points for the state codec (it parses calldata).
contract StateCodecHarness {
    function parse(bytes calldata b) external pure returns (bool ok, uint8 kind, uint256 count, uint256 end) {
        Parsed memory p;
        (ok, p) = MachineState.parse(b);
        return (ok, p.kind, p.acc.count, p.end);
    }

    function leaf(bytes calldata b) external pure returns (bytes32) {
        return MachineState.leaf(b);
    }
}

/// @notice The contract's verdict equals the reference verifier's (`bisection::machine::OneStep`) on the
///         vectors `cargo test -p refute-bisection --test machine_game step_vectors` writes: honest steps
///         of every op kind, element boundaries, root, assembly and padding steps, and one-bit flips of
///         their post state, pre state with witness, and roots.
contract OpStepVerifierTest is Test {
    OpStepVerifier internal verifier;
    StateCodecHarness internal codec;
    string internal json;

    struct Vector {
        bytes32 context;
        uint64[] path;
        bytes32[] roots;
        bytes pre;
        bytes post;
    }

    function setUp() public {
        verifier = new OpStepVerifier(new OpEntryDecoder());
        codec = new StateCodecHarness();
        json = vm.readFile(string.concat(vm.projectRoot(), "/test/vectors/op-steps.json"));
    }

    function _vectors() internal view returns (Vector[] memory v, string[] memory labels) {
        bytes[] memory raw = vm.parseJsonBytesArray(json, ".vectors");
        labels = vm.parseJsonStringArray(json, ".labels");
        assertEq(raw.length, labels.length, "one label per vector");
        v = new Vector[](raw.length);
        for (uint256 i; i < raw.length; ++i) {
            (v[i].context, v[i].path, v[i].roots, v[i].pre, v[i].post) =
                abi.decode(raw[i], (bytes32, uint64[], bytes32[], bytes, bytes));
        }
    }

    function _verify(Vector memory v) internal view returns (bool) {
        return verifier.verify(v.context, v.path, v.roots, v.pre, v.post);
    }

    function test_verify_acceptsEveryHonestVector() public view {
        (Vector[] memory v, string[] memory labels) = _vectors();
        vm.assertGt(v.length, 20);
        for (uint256 i; i < v.length; ++i) {
            assertTrue(_verify(v[i]), string.concat("honest vector rejected: ", labels[i], " #", vm.toString(i)));
            // leafHash of the pre (witness included) is the leaf of its state alone.
            assertEq(verifier.leafHash(v[i].pre), codec.leaf(v[i].pre));
        }
    }

    function test_verify_matchesTheReferenceOnEveryMutation() public view {
        (Vector[] memory v,) = _vectors();
        bytes[] memory muts = vm.parseJsonBytesArray(json, ".mutations");
        vm.assertGt(muts.length, 2 * v.length);
        uint256 rejected;
        for (uint256 i; i < muts.length; ++i) {
            (uint256 n, uint256 what, uint256 pos, uint256 bit, bool ok) =
                abi.decode(muts[i], (uint256, uint256, uint256, uint256, bool));
            // A new struct: the flips below replace its fields, never the vector's.
            Vector memory m = Vector(v[n].context, v[n].path, v[n].roots, v[n].pre, v[n].post);
            bytes1 flip = bytes1(uint8(1 << bit));
            if (what == 0) {
                m.post = bytes.concat(m.post);
                m.post[pos] ^= flip;
            } else if (what == 1) {
                m.pre = bytes.concat(m.pre);
                m.pre[pos] ^= flip;
            } else {
                bytes32[] memory r = new bytes32[](3);
                for (uint256 k; k < 3; ++k) {
                    r[k] = m.roots[k];
                }
                r[pos / 32] ^= bytes32(flip) >> (8 * (pos % 32));
                m.roots = r;
            }
            vm.assertEq(_verify(m), ok, string.concat("verdict differs on mutation #", vm.toString(i)));
            if (!ok) ++rejected;
        }
        vm.assertGt(rejected, muts.length / 2);
    }

    function test_verify_rejectsAnotherGamesContext() public view {
        (Vector[] memory v,) = _vectors();
        v[0].context ^= bytes32(uint256(1));
        assertFalse(_verify(v[0]));
    }

    function test_verify_rejectsWrongPathAndRootCountsWithoutReverting() public view {
        (Vector[] memory v,) = _vectors();
        Vector memory m = v[0];
        uint64[] memory path = new uint64[](2);
        assertFalse(verifier.verify(m.context, path, m.roots, m.pre, m.post));
        assertFalse(verifier.verify(m.context, m.path, new bytes32[](2), m.pre, m.post));
        assertFalse(verifier.verify(m.context, m.path, m.roots, abi.encodePacked(bytes10(bytes32(m.pre))), m.post));
        assertFalse(verifier.verify(m.context, m.path, m.roots, "", ""));
    }

    /// @notice A witness offset pointing just past `pre` (into what follows it in calldata) is malformed,
    ///         as `abi.decode` finds it, even in a field the step never reads (`idProof` of an op step):
    ///         the witness is checked whole before it is read in place.
    function test_verify_rejectsAWitnessOffsetPastPre() public view {
        (Vector[] memory v, string[] memory labels) = _vectors();
        Vector memory m = v[0];
        assertEq(labels[0], "gather:q8_0");
        assertTrue(_verify(m));
        (,,, uint256 end) = codec.parse(m.pre);
        bytes memory pre = bytes.concat(m.pre);
        // The struct's head follows the tuple's offset word; idProof's offset is head word 18.
        uint256 head = end + 0x20;
        uint256 at = head + 18 * 0x20;
        uint256 past = pre.length - head;
        assembly ("memory-safe") {
            mstore(add(add(pre, 0x20), at), past)
        }
        m.pre = pre;
        assertFalse(_verify(m));
    }

    /// @notice Gas of `verify` per kind of step (snapshots/OpStepVerifier.json): the most any vector of
    ///         that kind costs (execution gas of the call, calldata excluded).
    function test_verify_gasPerStepKind() public {
        (Vector[] memory v,) = _vectors();
        string[] memory kinds = vm.parseJsonStringArray(json, ".kinds");
        string[] memory names = new string[](kinds.length);
        uint256[] memory most = new uint256[](kinds.length);
        uint256 n;
        // Measured with the verifier and its decoder warm (a transaction pays 2,600 more for each cold one).
        _verify(v[0]);
        for (uint256 i; i < v.length; ++i) {
            uint256 before = gasleft();
            bool ok = _verify(v[i]);
            uint256 used = before - gasleft();
            assertTrue(ok);
            uint256 k = _find(names, n, kinds[i]);
            if (k == n) names[n++] = kinds[i];
            if (used > most[k]) most[k] = used;
        }
        vm.assertGt(n, 25);
        for (uint256 k; k < n; ++k) {
            vm.snapshotValue("OpStepVerifier", names[k], most[k]);
        }
        // The target of docs/SPEC.md 7: every kind of step within 120k.
        for (uint256 k; k < n; ++k) {
            assertLe(most[k], 120_000, string.concat("one-step gas over the bound: ", names[k]));
        }
    }

    /// @notice Every contract a deployment of the verifier consists of fits EIP-170's 24,576 bytes.
    function test_deployedCodeFitsEip170() public view {
        address[2] memory parts = [address(verifier), address(verifier.decoder())];
        for (uint256 i; i < parts.length; ++i) {
            vm.assertGt(parts[i].code.length, 1000);
            assertLe(parts[i].code.length, 24_576, "contract over EIP-170's code size");
        }
    }

    /// @notice Absurd shapes in an op entry are rejected (`StepRejected`), never an overflow: a tensor's
    ///         non-zero dimensions multiply to at most 2^40 (the entries of trace-vm's test
    ///         `op_entries_with_absurd_shapes_are_rejected`).
    function test_decoder_rejectsAbsurdShapes() public {
        OpEntryDecoder decoder = verifier.decoder();
        // map `neg` over one input: one instruction, input 0.
        bytes memory neg = hex"000109000000000001000000000100000000";
        uint256 big = 1 << 40;
        uint256[] memory s1 = new uint256[](1);
        s1[0] = big;
        decoder.site(_entry(0x02, _two(s1, s1, 1, 1), neg), 0);
        uint256[] memory s2 = new uint256[](2);
        (s2[0], s2[1]) = (big, 2);
        vm.expectRevert(StepRejected.selector);
        decoder.site(_entry(0x02, _two(s2, s2, 1, 1), neg), 0);
        // A gather whose table rows would be 2^66 elements, behind an empty dimension.
        uint256[] memory table = new uint256[](4);
        (table[0], table[1], table[2], table[3]) = (1, 1 << 33, 1 << 33, 0);
        uint256[] memory idx = new uint256[](1);
        idx[0] = 1;
        bytes memory tensors = bytes.concat(_tensor(0, 1, table), _tensor(1, 4, idx), _tensor(2, 1, table));
        vm.expectRevert(StepRejected.selector);
        decoder.site(abi.encodePacked(uint64(0), uint8(0x06), uint8(2), tensors, uint32(0)), 0);
        // An empty tensor: only its non-zero dimensions count.
        uint256[] memory s3 = new uint256[](3);
        (s3[0], s3[1], s3[2]) = (big / 8, 0, 7);
        decoder.site(_entry(0x02, _two(s3, s3, 1, 1), neg), 0);
    }

    function _tensor(uint32 id, uint8 dtype, uint256[] memory shape) internal pure returns (bytes memory b) {
        b = abi.encodePacked(id, uint8(2), dtype, uint8(shape.length));
        for (uint256 d; d < shape.length; ++d) {
            b = bytes.concat(b, bytes8(uint64(shape[d])));
        }
    }

    /// @notice One input and the output, as tensor entries.
    function _two(uint256[] memory input, uint256[] memory output, uint8 din, uint8 dout)
        internal
        pure
        returns (bytes memory)
    {
        return bytes.concat(_tensor(0, din, input), _tensor(1, dout, output));
    }

    function _entry(uint8 opcode, bytes memory tensors, bytes memory attrs) internal pure returns (bytes memory) {
        return abi.encodePacked(uint64(0), opcode, uint8(1), tensors, uint32(attrs.length), attrs);
    }

    function _find(string[] memory names, uint256 n, string memory name) internal pure returns (uint256 k) {
        for (; k < n; ++k) {
            if (keccak256(bytes(names[k])) == keccak256(bytes(name))) return k;
        }
    }

    // ------------------------------------------------------------------ libraries

    function test_frontier_pushAndRootMatchAPaddedTree() public pure {
        bytes32[] memory leaves = new bytes32[](8);
        Acc memory a;
        for (uint256 n = 1; n <= 5; ++n) {
            a = Frontier.push(a, bytes32(n));
            leaves[n - 1] = bytes32(n);
        }
        // 5 leaves padded to 8 with zero hashes.
        assertEq(Frontier.root(a), Merkle.rootOfPow2(leaves));
        assertEq(a.roots.length, 2);
    }

    function test_frontier_rootOfNothingIsZero() public pure {
        Acc memory a;
        assertEq(Frontier.root(a), bytes32(0));
    }

    function test_frontier_provesALeafInsideItsSubtree() public pure {
        Acc memory a;
        for (uint256 n = 1; n <= 6; ++n) {
            a = Frontier.push(a, bytes32(n));
        }
        // Leaf 4 (value 5) sits in the 2-leaf subtree {5, 6}: its sibling is 6.
        bytes32[] memory sib = new bytes32[](1);
        sib[0] = bytes32(uint256(6));
        assertTrue(Frontier.proves(a, 4, bytes32(uint256(5)), sib));
        assertFalse(Frontier.proves(a, 5, bytes32(uint256(5)), sib));
        assertFalse(Frontier.proves(a, 6, bytes32(uint256(7)), new bytes32[](0)));
    }

    function test_frontier_fromRootsNeedsOneRootPerSetBit() public pure {
        (bool ok,) = Frontier.fromRoots(5, new bytes32[](2));
        assertTrue(ok);
        (ok,) = Frontier.fromRoots(5, new bytes32[](1));
        assertFalse(ok);
    }

    function test_outAcc_roundTripsAndFillsLeaves() public pure {
        Accum memory a = OutAcc.empty();
        for (uint32 w; w < 65; ++w) {
            OutAcc.push(a, w);
        }
        assertEq(a.leaves.count, 1);
        bytes memory pre = abi.encodePacked(uint64(a.e), a.leaf, Frontier.encode(a.leaves));
        (bool ok, Accum memory b) = OutAcc.decode(pre);
        assertTrue(ok);
        assertEq(OutAcc.hash(b), OutAcc.hash(a));
        assertEq(OutAcc.dataRoot(b), OutAcc.dataRoot(a));
        (ok,) = OutAcc.decode(bytes.concat(pre, bytes1(0)));
        assertFalse(ok);
    }

    function test_outAcc_emptyTensorIsOneZeroLeaf() public pure {
        assertEq(OutAcc.dataRoot(OutAcc.empty()), keccak256(new bytes(256)));
    }

    function test_parse_rejectsTruncatedAndUnknownStates() public view {
        (bool ok,,,) = codec.parse(hex"00");
        assertFalse(ok);
        (ok,,,) = codec.parse(hex"03");
        assertFalse(ok);
        bytes memory m = abi.encodePacked(uint8(1), uint64(0), uint64(0), bytes32(0), uint8(1), bytes32(0));
        uint256 end;
        (ok,,, end) = codec.parse(m);
        assertTrue(ok);
        assertEq(end, m.length);
        // s = 0 means one step: a frontier of one root, not two.
        (ok,,,) =
            codec.parse(abi.encodePacked(uint8(1), uint64(0), uint64(0), bytes32(0), uint8(2), bytes32(0), bytes32(0)));
        assertFalse(ok);
    }

    function test_leafHash_isTheRootItselfForKindZero() public view {
        bytes32 h = keccak256("x");
        assertEq(verifier.leafHash(abi.encodePacked(uint8(0), h, hex"ff")), h);
        assertEq(verifier.leafHash(hex"07"), keccak256(hex"07"));
    }

    function test_listProofs_provesAnEntryOfAList() public {
        ListProofsHarness h = new ListProofsHarness();
        bytes32[] memory sib = new bytes32[](1);
        sib[0] = bytes32(uint256(2));
        bytes32 root = ListProofs.listRoot(2, Merkle.hashPair(bytes32(uint256(1)), sib[0]));
        assertTrue(h.proves(ListProof(2, 0, sib), root, bytes32(uint256(1))));
        assertFalse(h.proves(ListProof(2, 1, sib), root, bytes32(uint256(1))));
        assertFalse(h.proves(ListProof(3, 0, sib), root, bytes32(uint256(1))));
    }

    function test_quantFields_decodesQ8AndQ4Blocks() public pure {
        bytes memory q8 = new bytes(34);
        (q8[0], q8[1], q8[2 + 5]) = (bytes1(0x00), bytes1(0x2c), bytes1(0xff));
        assertEq(QuantFields.field(TensorData.Q8_0, q8, 5, 0), 0x2c00);
        assertEq(QuantFields.field(TensorData.Q8_0, q8, 5, 1), uint32(int32(-1)));
        bytes memory q4 = new bytes(18);
        q4[2 + 3] = bytes1(0xa1);
        assertEq(QuantFields.field(TensorData.Q4_0, q4, 3, 1), uint32(int32(1 - 8)));
        assertEq(QuantFields.field(TensorData.Q4_0, q4, 19, 1), uint32(int32(10 - 8)));
    }
}
