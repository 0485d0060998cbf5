// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OpEntry, TensorDecl} from "./OpEntryCodec.sol";
import {StepSpec} from "./MicroSite.sol";

/// @title SiteWords
/// @notice What `OpEntryDecoder` returns to `OpStepVerifier`: the part of a decoded op entry the one-step
///         reads and one step's operand locations, as one flat word array that the verifier reads in
///         place (no copy into structs: on a one-step that unpacking cost more than the decoding).
///         Layout (word indices): `OPCODE`, `OUT_LEN`, `STEP_COUNT`, `ATTR0`, `ATTR1` (the first two
///         attributes, 0 where absent), `PRIM`, `ARITY`, from `SRCS` `tag, a, b, c` per operand (three),
///         `INPUTS` the input count, `OUTPUT` the output's position, then each input's position; at a
///         position: `id, kind, dtype, rank, dims…`, the rank and dims laid out as a `uint256[]`.
library SiteWords {
    uint256 internal constant OPCODE = 0;
    uint256 internal constant OUT_LEN = 1;
    uint256 internal constant STEP_COUNT = 2;
    uint256 internal constant ATTR0 = 3;
    uint256 internal constant ATTR1 = 4;
    uint256 internal constant PRIM = 5;
    uint256 internal constant ARITY = 6;
    uint256 internal constant SRCS = 7;
    uint256 internal constant INPUTS = 19;
    uint256 internal constant OUTPUT = 20;
    uint256 private constant DECLS = 21;

    /// @notice The words of `o` and `spec`, preceded in memory by the ABI offset word, so that
    ///         `return(head, size)` returns them as an ABI-encoded `uint256[]`.
    function pack(OpEntry memory o, StepSpec memory spec) internal pure returns (uint256 head, uint256 size) {
        uint256 nIn = o.inputs.length;
        uint256 n = DECLS + nIn + 4 + o.output.shape.length;
        for (uint256 q; q < nIn; ++q) {
            n += 4 + o.inputs[q].shape.length;
        }
        uint256[] memory w = new uint256[](n);
        uint256[] memory attrs = o.attrs;
        (w[OPCODE], w[OUT_LEN], w[STEP_COUNT]) = (o.opcode, o.outLen, o.stepCount);
        if (attrs.length > 0) w[ATTR0] = attrs[0];
        if (attrs.length > 1) w[ATTR1] = attrs[1];
        (w[PRIM], w[ARITY]) = (spec.prim, spec.arity);
        for (uint256 k; k < 3; ++k) {
            uint256 at = SRCS + 4 * k;
            (w[at], w[at + 1], w[at + 2], w[at + 3]) =
            (spec.srcs[k].tag, spec.srcs[k].a, spec.srcs[k].b, spec.srcs[k].c);
        }
        w[INPUTS] = nIn;
        uint256 pos = DECLS + nIn;
        for (uint256 q; q < nIn; ++q) {
            w[DECLS + q] = pos;
            pos = packDecl(w, pos, o.inputs[q]);
        }
        w[OUTPUT] = pos;
        packDecl(w, pos, o.output);
        // The word before the array is the last word of the previous allocation, spent by now: the
        // caller returns at once.
        assembly ("memory-safe") {
            head := sub(w, 32)
            mstore(head, 32)
            size := shl(5, add(n, 2))
        }
    }

    /// @dev `id, kind, dtype`, then the shape with its length word (the rank) copied as it is.
    function packDecl(uint256[] memory w, uint256 at, TensorDecl memory t) private pure returns (uint256) {
        (w[at], w[at + 1], w[at + 2]) = (t.id, t.kind, t.dtype);
        uint256[] memory shape = t.shape;
        uint256 rank = shape.length;
        assembly ("memory-safe") {
            mcopy(add(w, shl(5, add(at, 4))), shape, shl(5, add(rank, 1)))
        }
        return at + 4 + rank;
    }

    /// @notice Word `i` (the decoder is fixed at deployment and wrote every word read).
    function at(uint256[] memory w, uint256 i) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := mload(add(w, shl(5, add(i, 1))))
        }
    }

    /// @notice The tensor declared at position `pos`: id, kind, dtype and its shape (a view into `w`).
    function decl(uint256[] memory w, uint256 pos)
        internal
        pure
        returns (uint32 id, uint8 kind, uint8 dtype, uint256[] memory shape)
    {
        assembly ("memory-safe") {
            let p := add(w, shl(5, add(pos, 1)))
            id := mload(p)
            kind := mload(add(p, 32))
            dtype := mload(add(p, 64))
            shape := add(p, 96)
        }
    }

    /// @notice Input `q`'s declaration (`q` below the input count, checked by the caller).
    function input(uint256[] memory w, uint256 q)
        internal
        pure
        returns (uint32 id, uint8 kind, uint8 dtype, uint256[] memory shape)
    {
        return decl(w, at(w, DECLS + q));
    }
}
