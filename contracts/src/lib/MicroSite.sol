// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OpEntry, OpEntryCodec} from "./OpEntryCodec.sol";

/// @notice Where a step operand lives: tag 0 the constant `a`, 1 the result of step `a` of the same
///         element, 2 word `b` of input `a`, 3 field `c` of quantized element `b` of input `a`, 4
///         quantized element `b` of input `a` dequantized (docs/SPEC.md 6.3, `Deq`).
struct Operand {
    uint8 tag;
    uint256 a;
    uint256 b;
    uint256 c;
}

/// @notice One step: the primitive (docs/SPEC.md 1.3 opcode) and its operands (`arity` of them used).
struct StepSpec {
    uint8 prim;
    uint256 arity;
    Operand[3] srcs;
}

/// @title MicroSite
/// @notice `Site::step` of trace-vm (docs/SPEC.md 6.3): which primitive runs at step `s` of output
///         element `e` of an op and where its operands live, as a closed form of the indices.
library MicroSite {
    uint8 internal constant CONST = 0;
    uint8 internal constant STEP = 1;
    uint8 internal constant ELEM = 2;
    uint8 internal constant FIELD = 3;
    uint8 internal constant DEQUANT = 4;
    uint8 private constant ADD = 0x01;
    uint8 private constant MUL = 0x03;
    uint8 private constant FMA = 0x06;
    uint8 private constant LT = 0x0B;
    uint8 private constant SELECT = 0x0E;
    uint8 private constant I32_TO_F32 = 0x0F;
    uint32 private constant NEG_INF = 0xFF800000;
    uint32 private constant POS_INF = 0x7F800000;
    uint32 private constant TWO_POW_M24 = 0x33800000;

    function arityOf(uint8 prim) internal pure returns (uint256) {
        if (prim == 0x05 || prim == 0x09 || prim == 0x0A || prim >= 0x0F) return 1;
        if (prim == FMA || prim == SELECT) return 3;
        return 2;
    }

    function k(uint256 c) private pure returns (Operand memory) {
        return Operand(CONST, c, 0, 0);
    }

    function st(uint256 j) private pure returns (Operand memory) {
        return Operand(STEP, j, 0, 0);
    }

    function elem(uint256 input, uint256 index) private pure returns (Operand memory) {
        return Operand(ELEM, input, index, 0);
    }

    function spec(uint8 prim, Operand memory a, Operand memory b, Operand memory c)
        private
        pure
        returns (StepSpec memory r)
    {
        r.prim = prim;
        r.arity = arityOf(prim);
        r.srcs = [a, b, c];
    }

    /// @notice A word copy: select(1, x, 0).
    function copy(uint256 input, uint256 index) private pure returns (StepSpec memory) {
        return spec(SELECT, k(1), elem(input, index), k(0));
    }

    /// @notice Node `x` of the lane tree of a reduction over `n` lane steps (steps 0..n; tree steps from n).
    function treeNode(uint256 x, uint256 n, uint256 init) private pure returns (Operand memory) {
        if (x < 8) return x < n ? st(x + 8 * ((n - 1 - x) / 8)) : k(init);
        return st(n + x - 8);
    }

    function treeStep(uint8 prim, uint256 n, uint256 t, uint256 init) private pure returns (StepSpec memory) {
        return spec(prim, treeNode(2 * t, n, init), treeNode(2 * t + 1, n, init), k(0));
    }

    function lanePrev(uint256 s, uint256 init) private pure returns (Operand memory) {
        return s >= 8 ? st(s - 8) : k(init);
    }

    /// @notice Step `s` of element `e` (`e < outLen`, `s < stepCount`, checked by the caller). A gather's
    ///         table operands are located for index word 0 (element `e mod row` of the table); the
    ///         caller, who reads the index t, moves them t · row further.
    function step(OpEntry memory o, uint256 e, uint256 s) internal pure returns (StepSpec memory) {
        uint8 c = o.opcode;
        uint256[] memory attr = o.attrs;
        if (c == OpEntryCodec.MATMUL) return dot(attr, e, s);
        if (c == OpEntryCodec.MAP) return mapStep(o, e, s);
        if (c == OpEntryCodec.REDUCE) {
            uint8 prim = uint8(attr[0]);
            uint256 init = prim == 0x07 ? NEG_INF : prim == 0x08 ? POS_INF : 0;
            (uint256 len, uint256 inner) = (attr[2], attr[3]);
            if (s < len) {
                return spec(prim, lanePrev(s, init), elem(0, (e / inner) * len * inner + s * inner + e % inner), k(0));
            }
            return treeStep(prim, len, s - len, init);
        }
        if (c == OpEntryCodec.ARGMAX) return argmax(OpEntryCodec.last(o.inputs[0].shape), e, s);
        if (c == OpEntryCodec.DEQUANT) return programStep(o.prog, s, 0, e, FIELD, new uint256[](0));
        if (c == OpEntryCodec.GATHER) {
            uint256 src = e % attr[0];
            if (o.prog.length == 0) return copy(0, src);
            return programStep(o.prog, s, 0, src, FIELD, new uint256[](0));
        }
        if (c == OpEntryCodec.RESHAPE) return copy(0, e);
        if (c == OpEntryCodec.MASK) {
            (uint256 cols, uint256 offset, uint256 window) = (attr[1], attr[2], attr[3]);
            uint256 p = offset + e / cols;
            uint256 j = e % cols;
            bool visible = j <= p && (window == 0 || p - j < window);
            return spec(SELECT, k(visible ? 1 : 0), k(0), k(NEG_INF));
        }
        if (c == OpEntryCodec.SAMPLE) return sampleStep(OpEntryCodec.last(o.inputs[0].shape), attr, e, s);
        return layoutCopy(o, e);
    }

    function dot(uint256[] memory g, uint256 e, uint256 s) private pure returns (StepSpec memory) {
        (uint256 m, uint256 n, uint256 kk, uint256 group) = (g[2], g[3], g[4], g[5]);
        if (s >= kk) return treeStep(ADD, kk, s - kk, 0);
        (uint256 b, uint256 row, uint256 col) = (e / (m * n), (e / n) % m, e % n);
        uint256 ai = b * m * kk + (g[0] == 1 ? s * m + row : row * kk + s);
        uint256 bi = (b / group) * kk * n + (g[1] == 1 ? col * kk + s : s * n + col);
        // A quantized B (g[6] = 1) is read in place: one operand, dequantized by the verifier.
        Operand memory bOp = g[6] == 1 ? Operand(DEQUANT, 1, bi, 0) : elem(1, bi);
        return spec(FMA, elem(0, ai), bOp, lanePrev(s, 0));
    }

    function argmax(uint256 len, uint256 e, uint256 s) private pure returns (StepSpec memory) {
        (uint256 j, uint256 r) = (s / 3, s % 3);
        Operand memory x = elem(0, e * len + j);
        if (r == 0) return spec(LT, j == 0 ? k(NEG_INF) : st(3 * (j - 1) + 1), x, k(0));
        if (r == 1) return spec(SELECT, st(3 * j), x, j == 0 ? k(NEG_INF) : st(3 * (j - 1) + 1));
        return spec(SELECT, st(3 * j), k(j), j == 0 ? k(0) : st(3 * (j - 1) + 2));
    }

    /// @notice Step `s` of an element program; input n is word `bidx[n]` of input n (a map), or field
    ///         n of element `index` of input `input` (dequant, quantized gather) when `tag` is FIELD.
    function programStep(bytes memory prog, uint256 s, uint256 input, uint256 index, uint8 tag, uint256[] memory bidx)
        private
        pure
        returns (StepSpec memory r)
    {
        uint256 pos = 16 * s;
        r.prim = uint8(prog[pos]);
        r.arity = arityOf(r.prim);
        for (uint256 j; j < r.arity; ++j) {
            uint256 p = pos + 1 + 5 * j;
            uint256 value = (uint256(uint8(prog[p + 1])) << 24) | (uint256(uint8(prog[p + 2])) << 16)
                | (uint256(uint8(prog[p + 3])) << 8) | uint256(uint8(prog[p + 4]));
            uint8 srcTag = uint8(prog[p]);
            if (srcTag == 1) r.srcs[j] = k(value);
            else if (srcTag == 2) r.srcs[j] = st(value);
            else if (tag == FIELD) r.srcs[j] = Operand(FIELD, input, index, value);
            else r.srcs[j] = elem(value, bidx[value]);
        }
    }

    function mapStep(OpEntry memory o, uint256 e, uint256 s) private pure returns (StepSpec memory) {
        uint256[] memory out = o.output.shape;
        uint256[] memory bidx = new uint256[](o.inputs.length);
        for (uint256 q; q < o.inputs.length; ++q) {
            uint256[] memory sh = o.inputs[q].shape;
            uint256 off = out.length - sh.length;
            uint256 rest = e;
            uint256 stride = 1;
            uint256 idx;
            for (uint256 d = out.length; d > 0; --d) {
                uint256 n = out[d - 1];
                uint256 x = rest % n;
                rest /= n;
                if (d - 1 >= off) {
                    uint256 dim = sh[d - 1 - off];
                    if (dim != 1) idx += x * stride;
                    stride *= dim;
                }
            }
            bidx[q] = idx;
        }
        return programStep(o.prog, s, 0, 0, ELEM, bidx);
    }

    function unravel(uint256[] memory shape, uint256 e) private pure returns (uint256[] memory ix) {
        ix = new uint256[](shape.length);
        for (uint256 d = shape.length; d > 0; --d) {
            ix[d - 1] = e % shape[d - 1];
            e /= shape[d - 1];
        }
    }

    function ravel(uint256[] memory shape, uint256[] memory ix) private pure returns (uint256 r) {
        for (uint256 d; d < shape.length; ++d) {
            r = r * shape[d] + ix[d];
        }
    }

    /// @notice Permute, concat and slice: one word copy from the input position of output element `e`.
    function layoutCopy(OpEntry memory o, uint256 e) private pure returns (StepSpec memory) {
        uint256[] memory ix = unravel(o.output.shape, e);
        uint256[] memory a = o.inputs[0].shape;
        if (o.opcode == OpEntryCodec.PERMUTE) {
            uint256[] memory src = new uint256[](a.length);
            for (uint256 d; d < o.attrs.length; ++d) {
                src[o.attrs[d]] = ix[d];
            }
            return copy(0, ravel(a, src));
        }
        uint256 axis = o.attrs[0];
        if (o.opcode == OpEntryCodec.CONCAT) {
            if (ix[axis] < a[axis]) return copy(0, ravel(a, ix));
            ix[axis] -= a[axis];
            return copy(1, ravel(o.inputs[1].shape, ix));
        }
        ix[axis] += o.attrs[1];
        return copy(0, ravel(a, ix));
    }

    function sampleStep(uint256 len, uint256[] memory attr, uint256 e, uint256 s)
        private
        pure
        returns (StepSpec memory)
    {
        uint256 sumEnd = len + 7;
        if (s < len) return spec(ADD, lanePrev(s, 0), elem(0, e * len + s), k(0));
        if (s < sumEnd) return treeStep(ADD, len, s - len, 0);
        uint256 r = s - sumEnd;
        if (r == 0) {
            bytes32 h = keccak256(abi.encode(attr[0], uint256(uint64(attr[1] + e))));
            return spec(I32_TO_F32, k(uint32(bytes4(h)) >> 8), k(0), k(0));
        }
        if (r == 1) return spec(MUL, st(sumEnd), k(TWO_POW_M24), k(0));
        if (r == 2) return spec(MUL, st(sumEnd + 1), st(sumEnd - 1), k(0));
        Operand memory target = st(sumEnd + 2);
        uint256 scan0 = sumEnd + 3;
        (uint256 j, uint256 kk) = ((s - scan0) / 5, (s - scan0) % 5);
        uint256 base = scan0 + 5 * j;
        if (kk == 0) return spec(ADD, j == 0 ? k(0) : st(base - 5), elem(0, e * len + j), k(0));
        if (kk == 1) return spec(LT, target, st(base), k(0));
        if (kk == 2) return spec(SELECT, j == 0 ? k(0) : st(base - 2), k(0), st(base + 1));
        if (kk == 3) return spec(SELECT, st(base + 1), k(1), j == 0 ? k(0) : st(base - 2));
        return spec(SELECT, st(base + 2), k(j), j == 0 ? k(len - 1) : st(base - 1));
    }
}
