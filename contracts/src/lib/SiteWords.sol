// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OpEntry, TensorDecl} from "./OpEntryCodec.sol";
import {Operand, StepSpec} from "./MicroSite.sol";

/// @title SiteWords
/// @notice A decoded op entry (its element program left out) and one step's operand locations as one
///         flat word array: what `OpEntryDecoder` returns to `OpStepVerifier`. A `uint256[]` crosses the
///         call as one copy, where the nested structs would go through the ABI coder field by field.
///         Layout: opcode, outLen, stepCount, attribute count, attributes, input count, then per input
///         and the output `id, kind, dtype, rank, dims…`, then the step's `prim, arity` and per operand
///         `tag, a, b, c`.
library SiteWords {
    function pack(OpEntry memory o, StepSpec memory spec) internal pure returns (uint256[] memory w) {
        uint256 n = 4 + o.attrs.length + 1 + 2 + 12;
        for (uint256 q; q < o.inputs.length; ++q) {
            n += 4 + o.inputs[q].shape.length;
        }
        n += 4 + o.output.shape.length;
        w = new uint256[](n);
        (w[0], w[1], w[2], w[3]) = (o.opcode, o.outLen, o.stepCount, o.attrs.length);
        uint256 at = 4;
        for (uint256 k; k < o.attrs.length; ++k) {
            w[at++] = o.attrs[k];
        }
        w[at++] = o.inputs.length;
        for (uint256 q; q < o.inputs.length; ++q) {
            at = packDecl(w, at, o.inputs[q]);
        }
        at = packDecl(w, at, o.output);
        (w[at], w[at + 1]) = (spec.prim, spec.arity);
        at += 2;
        for (uint256 k; k < 3; ++k) {
            Operand memory src = spec.srcs[k];
            (w[at], w[at + 1], w[at + 2], w[at + 3]) = (src.tag, src.a, src.b, src.c);
            at += 4;
        }
    }

    function packDecl(uint256[] memory w, uint256 at, TensorDecl memory t) private pure returns (uint256) {
        (w[at], w[at + 1], w[at + 2], w[at + 3]) = (t.id, t.kind, t.dtype, t.shape.length);
        at += 4;
        for (uint256 d; d < t.shape.length; ++d) {
            w[at++] = t.shape[d];
        }
        return at;
    }

    /// @notice The inverse of `pack` on words it wrote (the decoder is fixed at deployment).
    function unpack(uint256[] memory w) internal pure returns (OpEntry memory o, StepSpec memory spec) {
        (o.opcode, o.outLen, o.stepCount) = (uint8(w[0]), w[1], w[2]);
        o.attrs = new uint256[](w[3]);
        uint256 at = 4;
        for (uint256 k; k < o.attrs.length; ++k) {
            o.attrs[k] = w[at++];
        }
        o.inputs = new TensorDecl[](w[at++]);
        for (uint256 q; q < o.inputs.length; ++q) {
            (o.inputs[q], at) = unpackDecl(w, at);
        }
        (o.output, at) = unpackDecl(w, at);
        (spec.prim, spec.arity) = (uint8(w[at]), w[at + 1]);
        at += 2;
        for (uint256 k; k < 3; ++k) {
            spec.srcs[k] = Operand(uint8(w[at]), w[at + 1], w[at + 2], w[at + 3]);
            at += 4;
        }
    }

    function unpackDecl(uint256[] memory w, uint256 at) private pure returns (TensorDecl memory t, uint256) {
        (t.id, t.kind, t.dtype) = (uint32(w[at]), uint8(w[at + 1]), uint8(w[at + 2]));
        t.shape = new uint256[](w[at + 3]);
        at += 4;
        for (uint256 d; d < t.shape.length; ++d) {
            t.shape[d] = w[at++];
        }
        return (t, at);
    }
}
