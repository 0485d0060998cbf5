// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "./interfaces/IStepVerifier.sol";
import {Merkle} from "./lib/Merkle.sol";
import {Float32} from "./lib/Float32.sol";
import {Witness, TensorRef, Leaves, need, witnessAt} from "./lib/StepWitness.sol";
import {ListProofs} from "./lib/ListProofs.sol";
import {Acc, Frontier} from "./lib/Frontier.sol";
import {Parsed, MachineState} from "./lib/MachineState.sol";
import {Accum, OutAcc} from "./lib/OutAcc.sol";
import {TensorData} from "./lib/TensorData.sol";
import {QuantFields} from "./lib/QuantFields.sol";
import {OpEntryCodec} from "./lib/OpEntryCodec.sol";
import {MicroSite} from "./lib/MicroSite.sol";
import {SiteWords} from "./lib/SiteWords.sol";
import {OpEntryDecoder} from "./OpEntryDecoder.sol";
import {StepOutOfGas} from "./lib/Errors.sol";

/// @title OpStepVerifier
/// @notice The one-step of a game over a real program (docs/SPEC.md 6.8): decides a step of a micro
///         list from the claim hash, the game's path (layer step, op step, micro step) and list roots,
///         and `pre = state ‖ abi.encode(Witness)`, trusting nothing else. It accepts exactly the steps
///         the reference verifier `bisection::machine::OneStep` accepts, and never reverts: any
///         rejection inside the check is caught and returned as false.
/// @dev `verify` takes the list roots `(trace_root, sub_root, micro_root)` after the path, the step
///      verifier interface of the three-level game. Op entries are decoded by a separate contract
///      (`OpEntryDecoder`, fixed at deployment) so that each part fits EIP-170's 24,576 bytes.
contract OpStepVerifier is IStepVerifier {
    bytes private constant PROGRAM_TAG = "refute/program/v1";
    uint8 private constant WEIGHT = 1;
    uint8 private constant ANY_KIND = 255;

    /// @notice Operand reads in witness order: the next leaves read and step proof, the input roots proven.
    struct Ops {
        uint256 read;
        uint256 stepProof;
        bytes32[] roots;
    }

    /// @notice Decodes and checks op entries.
    OpEntryDecoder public immutable decoder;

    /// @notice What one step is checked against.
    struct Ctx {
        /// @dev Where the witness lies in calldata (`witnessAt`), read in place.
        uint256 w;
        bytes32[] roots;
        uint64[] path;
        Ops ops;
        /// @dev The decoder's words (`SiteWords`) for the op entry and the step.
        uint256[] site;
    }

    constructor(OpEntryDecoder decoder_) {
        decoder = decoder_;
    }

    /// @notice The leaf committed for the encoded `state` (`State::leaf`).
    function leafHash(bytes calldata state) external pure returns (bytes32) {
        return MachineState.leaf(state);
    }

    /// @notice Whether `post` is the right successor of `pre` at `path` in the game with claim hash
    ///         `context` and list roots `roots`; false (never a revert) for anything malformed.
    function verify(
        bytes32 context,
        uint64[] calldata path,
        bytes32[] calldata roots,
        bytes calldata pre,
        bytes calldata post
    ) external view returns (bool) {
        uint256 gasBefore = gasleft();
        try this.check(context, path, roots, pre, post) {
            return true;
        } catch {
            // The check gets at most 63/64 of the gas left; if it ran out, what remains is under
            // 1/64. Running out says nothing about the step: revert, so that the sender retries
            // with more gas (and gas estimation finds enough), instead of losing the game.
            if (gasleft() <= gasBefore / 64) revert StepOutOfGas();
            return false;
        }
    }

    /// @notice Returns when the step is right, reverts (`StepRejected`) otherwise. Public only so that
    ///         `verify` can catch its reverts.
    function check(
        bytes32 context,
        uint64[] calldata path,
        bytes32[] calldata roots,
        bytes calldata pre,
        bytes calldata post
    ) external view {
        need(path.length == 3 && roots.length == 3);
        // The game's step indices start at 1 (entry 0 of every list is agreed).
        need(path[0] >= 1 && path[1] >= 1 && path[2] >= 1);
        (bool okPre, Parsed memory preState) = MachineState.parse(pre);
        (bool okPost, Parsed memory postState) = MachineState.parse(post);
        need(okPre && okPost && postState.end == post.length);
        Ctx memory cx;
        Witness calldata w = witnessAt(pre[preState.end:]);
        uint256 at;
        assembly ("memory-safe") {
            at := w
        }
        cx.w = at;
        cx.roots = roots;
        cx.path = path;
        checkClaim(w, context, roots[0]);
        checkLayer(cx);
        uint256 j = path[1];
        uint256 t = path[2];
        uint256 nOps = w.opCount;
        bool same = true;
        bytes memory expected;
        if (j == nOps + 1) (same, expected) = assembly_(cx, t, preState);
        else if (j <= nOps) (same, expected) = opStep(cx, t, preState);
        if (same) {
            need(preState.kind == MachineState.ROOT && postState.kind == MachineState.ROOT && preState.h == postState.h);
        } else {
            need(keccak256(expected) == keccak256(post));
        }
    }

    function checkClaim(Witness calldata w, bytes32 context, bytes32 traceRoot) private pure {
        bytes32 sizesHash = keccak256(abi.encodePacked(w.sizes));
        bytes32 modelId = Merkle.hashPair(w.weightsRoot, w.archHash);
        need(keccak256(abi.encode(modelId, w.inputHash, w.outputHash, traceRoot, sizesHash)) == context);
        need(
            keccak256(abi.encodePacked(PROGRAM_TAG, w.program[0], w.program[1], w.program[2], w.program[3]))
                == w.archHash
        );
    }

    /// @notice The witness `cx` reads.
    function wit(Ctx memory cx) private pure returns (Witness calldata w) {
        uint256 p = cx.w;
        assembly ("memory-safe") {
            w := p
        }
    }

    function checkLayer(Ctx memory cx) private pure {
        Witness calldata w = wit(cx);
        need(w.sizes.length == 3);
        uint256 layer = cx.path[0] - 1;
        bytes32 leaf = keccak256(abi.encodePacked(w.firstOp, w.opCount, w.nextIdsRoot));
        need(w.layerProof.index == layer && ListProofs.proves(w.layerProof, w.program[2], leaf));
        need(ListProofs.inGameList(cx.roots[1], w.sizes[1], 0, w.stateRoot, w.stateRootProof));
    }

    /// @notice The root of input tensor `r`, proven where the witness says it lives.
    function tensorRoot(Ctx memory cx, TensorRef calldata r, uint8 kind) private pure returns (bytes32) {
        Witness calldata w = wit(cx);
        bytes32 leaf = TensorData.bound(r.id, r.root);
        bool ok;
        if (r.source == 0) {
            ok = (kind == ANY_KIND || kind == WEIGHT) && ListProofs.proves(r.proof, w.weightsRoot, leaf);
        } else if (r.source == 1) {
            ok = kind != WEIGHT && ListProofs.proves(r.proof, w.stateRoot, leaf);
        } else if (r.source == 2) {
            uint256 p = r.proof.index;
            ok = p >= 1 && p < cx.path[1] && ListProofs.inGameList(cx.roots[1], w.sizes[1], p, leaf, r.proof.siblings);
        }
        need(ok);
        return r.root;
    }

    function assembly_(Ctx memory cx, uint256 t, Parsed memory pre) private pure returns (bool, bytes memory) {
        Witness calldata w = wit(cx);
        uint256 k = w.idProof.length;
        if (k == 0) {
            need(w.nextIdsRoot == ListProofs.listRoot(0, bytes32(0)));
        } else {
            uint256 idx = t - 1 < k - 1 ? t - 1 : k - 1;
            need(w.idProof.index == idx && w.tensors.length != 0);
            need(ListProofs.proves(w.idProof, w.nextIdsRoot, keccak256(abi.encodePacked(w.tensors[0].id))));
        }
        if (t > k + 1) return (true, "");
        Acc memory entries;
        if (t != 1) need(pre.kind == MachineState.ASSEMBLY && uint256(pre.e) + 2 == t);
        if (t != 1) entries = pre.acc;
        if (t == k + 1) return (false, MachineState.root(ListProofs.listRoot(k, Frontier.root(entries))));
        need(w.tensors.length != 0);
        TensorRef calldata r = w.tensors[0];
        bytes32 root = tensorRoot(cx, r, ANY_KIND);
        need(r.source != 0);
        return (false, MachineState.assembly_(t - 1, Frontier.push(entries, TensorData.bound(r.id, root))));
    }

    function opStep(Ctx memory cx, uint256 t, Parsed memory pre) private view returns (bool, bytes memory) {
        Witness calldata w = wit(cx);
        uint256 o = uint256(w.firstOp) + cx.path[1] - 1;
        need(w.opProof.index == o && ListProofs.proves(w.opProof, w.program[1], keccak256(w.opEntry)));
        uint256[] memory sw = site(w.opEntry, t);
        cx.site = sw;
        cx.ops.roots = new bytes32[](SiteWords.at(sw, SiteWords.INPUTS));
        (uint256 n, uint256 sCount) = (SiteWords.at(sw, SiteWords.OUT_LEN), SiteWords.at(sw, SiteWords.STEP_COUNT));
        uint256 total = n * sCount;
        if (t > total + 1) return (true, "");
        if (t == total + 1) {
            Accum memory acc = n == 0 ? OutAcc.empty() : append(cx, pre, n);
            (uint32 id,, uint8 dtype, uint256[] memory shape) = SiteWords.decl(sw, SiteWords.at(sw, SiteWords.OUTPUT));
            bytes32 root = TensorData.tensorRoot(dtype, shape, OutAcc.dataRoot(acc));
            return (false, MachineState.root(TensorData.bound(id, root)));
        }
        (uint256 e, uint256 s) = ((t - 1) / sCount, (t - 1) % sCount);
        bytes32 outAcc;
        Acc memory steps;
        if (s == 0) {
            outAcc = OutAcc.hash(e == 0 ? OutAcc.empty() : append(cx, pre, e));
        } else {
            need(pre.kind == MachineState.MICRO && pre.e == e && uint256(pre.s) + 1 == s);
            (outAcc, steps) = (pre.h, pre.acc);
        }
        // Only gather reads a word (its index) to locate its operands: the decoder placed them at
        // index word 0, row t of the table is t · row further.
        uint256 shift;
        if (SiteWords.at(sw, SiteWords.OPCODE) == OpEntryCodec.GATHER) {
            (uint256 row, uint256 vocab) = (SiteWords.at(sw, SiteWords.ATTR0), SiteWords.at(sw, SiteWords.ATTR1));
            // The index is an i32: a set sign bit is a negative row.
            uint256 index = word(cx, 1, e / row);
            need(index < 1 << 31 && index < vocab);
            shift = index * row;
        }
        uint32[3] memory args;
        uint256 arity = SiteWords.at(sw, SiteWords.ARITY);
        for (uint256 k; k < arity; ++k) {
            uint256 at = SiteWords.SRCS + 4 * k;
            uint256 tag = SiteWords.at(sw, at);
            (uint256 a, uint256 b) = (SiteWords.at(sw, at + 1), SiteWords.at(sw, at + 2));
            if (tag == MicroSite.CONST) args[k] = uint32(a);
            else if (tag == MicroSite.STEP) args[k] = stepResult(cx, steps, a);
            else if (tag == MicroSite.ELEM) args[k] = word(cx, a, b + shift);
            else if (tag == MicroSite.FIELD) args[k] = field(cx, a, b + shift, SiteWords.at(sw, at + 3));
            else args[k] = dequant(cx, a, b);
        }
        uint32 result = Float32.exec(uint8(SiteWords.at(sw, SiteWords.PRIM)), args[0], args[1], args[2]);
        return (false, MachineState.micro(e, s, outAcc, Frontier.push(steps, bytes32(uint256(result)))));
    }

    /// @notice The decoder's words for `entry` and step `t` (`OpEntryDecoder.site`), by a plain static
    ///         call: the entry is copied once into the call's input, the result once out of its return.
    function site(bytes calldata entry, uint256 t) private view returns (uint256[] memory w) {
        address d = address(decoder);
        bytes4 selector = OpEntryDecoder.site.selector;
        bool ok;
        assembly ("memory-safe") {
            let len := entry.length
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 0x04), 0x40)
            mstore(add(p, 0x24), t)
            mstore(add(p, 0x44), len)
            calldatacopy(add(p, 0x64), entry.offset, len)
            ok := staticcall(gas(), d, p, add(0x64, len), 0, 0)
            if ok {
                // The return is `0x20 ‖ length ‖ words`: the array without its offset word.
                let size := sub(returndatasize(), 0x20)
                returndatacopy(p, 0x20, size)
                w := p
                mstore(0x40, add(p, size))
            }
        }
        need(ok);
    }

    /// @notice out_acc after element e − 1 (step S − 1 of the pre state's list) is appended.
    function append(Ctx memory cx, Parsed memory pre, uint256 e) private pure returns (Accum memory acc) {
        uint256 sCount = SiteWords.at(cx.site, SiteWords.STEP_COUNT);
        need(pre.kind == MachineState.MICRO && uint256(pre.e) + 1 == e && uint256(pre.s) + 1 == sCount);
        bool ok;
        (ok, acc) = OutAcc.decode(wit(cx).outAcc);
        need(ok && OutAcc.hash(acc) == pre.h);
        OutAcc.push(acc, stepResult(cx, pre.acc, sCount - 1));
    }

    function inputRoot(Ctx memory cx, uint256 q) private pure returns (bytes32 root) {
        root = cx.ops.roots[q];
        if (root != bytes32(0)) return root;
        Witness calldata w = wit(cx);
        need(q < w.tensors.length);
        TensorRef calldata r = w.tensors[q];
        (uint32 id, uint8 kind,,) = SiteWords.input(cx.site, q);
        need(r.id == id);
        root = tensorRoot(cx, r, kind);
        need(root != bytes32(0));
        cx.ops.roots[q] = root;
    }

    /// @notice Bytes `start .. start + len` of input `q`, from the next proven leaves.
    function readBytes(Ctx memory cx, uint256 q, uint256 start, uint256 len) private pure returns (bytes memory out) {
        need(q < SiteWords.at(cx.site, SiteWords.INPUTS));
        bytes32 root = inputRoot(cx, q);
        (,, uint8 dtype, uint256[] memory shape) = SiteWords.input(cx.site, q);
        (bool ok, uint256 nbytes) = TensorData.byteLen(dtype, shape);
        need(ok && start + len <= nbytes);
        uint256 l = TensorData.LEAF_SIZE;
        (uint256 first, uint256 last) = (start / l, (start + len - 1) / l);
        Witness calldata w = wit(cx);
        need(cx.ops.read < w.reads.length);
        Leaves calldata leaves = w.reads[cx.ops.read++];
        uint256 count = last - first + 1;
        need(leaves.first == first && leaves.data.length == count * l && leaves.siblings.length == count);
        uint256 nLeaves = nbytes == 0 ? 1 : (nbytes + l - 1) / l;
        uint256 depth = Merkle.depthFor(nLeaves);
        bytes calldata data = leaves.data;
        for (uint256 k; k < count; ++k) {
            bytes32 h;
            // Hashed in scratch memory past the free pointer, never allocated.
            assembly ("memory-safe") {
                let m := mload(0x40)
                calldatacopy(m, add(data.offset, mul(k, 256)), 256)
                h := keccak256(m, 256)
            }
            bytes32[] calldata sib = leaves.siblings[k];
            need(sib.length == depth);
            bytes32 dataRoot = Merkle.rootFromPath(h, first + k, sib);
            need(TensorData.tensorRoot(dtype, shape, dataRoot) == root);
        }
        out = new bytes(len);
        uint256 off = start - first * l;
        assembly ("memory-safe") {
            calldatacopy(add(out, 32), add(data.offset, off), len)
        }
    }

    function word(Ctx memory cx, uint256 q, uint256 index) private pure returns (uint32) {
        return TensorData.wordLE(readBytes(cx, q, index * 4, 4), 0);
    }

    /// @notice The proven block of quantized element `index` of input `q`, and the element's position in it.
    function quantBlock(Ctx memory cx, uint256 q, uint256 index)
        private
        pure
        returns (uint8 dtype, bytes memory blk, uint256 j)
    {
        need(q < SiteWords.at(cx.site, SiteWords.INPUTS));
        (,, dtype,) = SiteWords.input(cx.site, q);
        (uint256 be, uint256 bb) = TensorData.blockOf(dtype);
        blk = readBytes(cx, q, index / be * bb, bb);
        j = index % be;
    }

    function field(Ctx memory cx, uint256 q, uint256 index, uint256 f) private pure returns (uint32) {
        (uint8 dtype, bytes memory blk, uint256 j) = quantBlock(cx, q, index);
        return QuantFields.field(dtype, blk, j, f);
    }

    /// @notice A `Dequant` operand: element `index` of quantized input `q`, dequantized from its proven block.
    function dequant(Ctx memory cx, uint256 q, uint256 index) private pure returns (uint32) {
        (uint8 dtype, bytes memory blk, uint256 j) = quantBlock(cx, q, index);
        return QuantFields.dequant(dtype, blk, j);
    }

    /// @notice The result of step `k` from the step-list frontier `steps`, by the next step proof.
    function stepResult(Ctx memory cx, Acc memory steps, uint256 k) private pure returns (uint32) {
        Witness calldata w = wit(cx);
        need(cx.ops.stepProof < w.stepProofs.length);
        bytes32[] calldata proof = w.stepProofs[cx.ops.stepProof++];
        need(proof.length != 0);
        need(k < steps.count && Frontier.proves(steps, k, proof[0], proof[1:]));
        need(uint256(proof[0]) <= type(uint32).max);
        return uint32(uint256(proof[0]));
    }
}
