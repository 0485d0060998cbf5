// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {need} from "./StepWitness.sol";
import {TensorData} from "./TensorData.sol";
import {QuantFields} from "./QuantFields.sol";

/// @notice A tensor table entry: id, kind (0 input, 1 weight, 2 value), dtype code and shape.
struct TensorDecl {
    uint32 id;
    uint8 kind;
    uint8 dtype;
    uint256[] shape;
}

/// @notice A decoded op entry with its micro-trace geometry (trace-vm `program::entry`):
///         `attrs` the op's attributes as numbers (matmul: ta, tb, m, n, k, group, B quantized; reduce: prim, axis; slice: axis,
///         start, len; concat: axis; mask: rows, cols, offset, window; sample: seed, counter;
///         permute: the permutation), `prog` the element program of a map, dequant or quantized
///         gather (16 bytes per instruction).
struct OpEntry {
    uint8 opcode;
    TensorDecl[] inputs;
    TensorDecl output;
    uint256[] attrs;
    bytes prog;
    uint256 outLen;
    uint256 stepCount;
}

/// @title OpEntryCodec
/// @notice Decodes an op entry (docs/SPEC.md 6.5) and checks it the way trace-vm's `decode_op` does:
///         the attributes fit the inputs and give the declared output. Reverts (`StepRejected`) on
///         anything malformed.
library OpEntryCodec {
    uint8 internal constant MATMUL = 0x01;
    uint8 internal constant MAP = 0x02;
    uint8 internal constant REDUCE = 0x03;
    uint8 internal constant ARGMAX = 0x04;
    uint8 internal constant DEQUANT = 0x05;
    uint8 internal constant GATHER = 0x06;
    uint8 internal constant RESHAPE = 0x07;
    uint8 internal constant PERMUTE = 0x08;
    uint8 internal constant CONCAT = 0x09;
    uint8 internal constant SLICE = 0x0A;
    uint8 internal constant MASK = 0x0B;
    uint8 internal constant SAMPLE = 0x0C;
    /// @dev Steps of the lane tree of a reduction (trace-vm `kernels::TREE`).
    uint256 internal constant TREE = 7;
    uint256 internal constant SCAN_STEPS = 5;
    /// @dev The most elements a tensor of an op entry may have, its empty dimensions left out
    ///      (trace-vm `program::entry::MAX_ELEMENTS`): every product of its dimensions stays small.
    uint256 internal constant MAX_ELEMENTS = 1 << 40;

    struct Reader {
        bytes b;
        uint256 pos;
        uint256 end;
    }

    /// @dev A big-endian integer of `n` ≤ 32 bytes: one word load, the bytes after it shifted out.
    function take(Reader memory r, uint256 n) private pure returns (uint256 v) {
        uint256 pos = r.pos;
        need(pos + n <= r.end);
        bytes memory b = r.b;
        assembly ("memory-safe") {
            v := shr(sub(256, mul(8, n)), mload(add(add(b, 32), pos)))
        }
        r.pos = pos + n;
    }

    function tensor(Reader memory r) private pure returns (TensorDecl memory t) {
        t.id = uint32(take(r, 4));
        t.kind = uint8(take(r, 1));
        t.dtype = uint8(take(r, 1));
        need(t.kind <= 2);
        (uint256 be,) = TensorData.blockOf(t.dtype);
        need(be != 0);
        uint256 rank = take(r, 1);
        t.shape = new uint256[](rank);
        uint256 size = 1;
        for (uint256 d; d < rank; ++d) {
            uint256 dim = take(r, 8);
            t.shape[d] = dim;
            if (dim != 0) size *= dim;
            need(size <= MAX_ELEMENTS);
        }
    }

    /// @notice Decodes `b`, checks it and derives the step count.
    function decode(bytes memory b) internal pure returns (OpEntry memory o) {
        Reader memory r = Reader(b, 0, b.length);
        take(r, 8); // op index and layer: the op proof already fixes them
        o.opcode = uint8(take(r, 1));
        need(o.opcode >= MATMUL && o.opcode <= SAMPLE);
        uint256 n = take(r, 1);
        o.inputs = new TensorDecl[](n);
        for (uint256 k; k < n; ++k) {
            o.inputs[k] = tensor(r);
        }
        o.output = tensor(r);
        uint256 len = take(r, 4);
        need(r.pos + len == b.length);
        Reader memory a = Reader(b, r.pos, b.length);
        (uint8 dtype, uint256[] memory shape) = infer(o, a);
        need(a.pos == a.end);
        need(dtype == o.output.dtype && equal(shape, o.output.shape));
        bool ok;
        (ok, o.outLen) = TensorData.numel(shape);
        need(ok);
        o.stepCount = steps(o);
        need(o.outLen == 0 || o.stepCount <= type(uint64).max / o.outLen);
    }

    function steps(OpEntry memory o) private pure returns (uint256) {
        uint8 c = o.opcode;
        if (c == MATMUL) return o.attrs[4] + TREE;
        if (c == MAP || c == DEQUANT || (c == GATHER && o.prog.length != 0)) return o.prog.length / 16;
        if (c == REDUCE) return o.attrs[2] + TREE;
        if (c == ARGMAX) return 3 * last(o.inputs[0].shape);
        if (c == SAMPLE) {
            uint256 len = last(o.inputs[0].shape);
            return len + TREE + 3 + SCAN_STEPS * len;
        }
        return 1;
    }

    function last(uint256[] memory s) internal pure returns (uint256) {
        return s[s.length - 1];
    }

    function equal(uint256[] memory x, uint256[] memory y) private pure returns (bool) {
        if (x.length != y.length) return false;
        for (uint256 d; d < x.length; ++d) {
            if (x[d] != y[d]) return false;
        }
        return true;
    }

    function arity(uint8 c) private pure returns (uint256) {
        if (c == MATMUL || c == GATHER || c == CONCAT) return 2;
        if (c == MASK) return 0;
        return 1;
    }

    function isWord(uint8 d) private pure returns (bool) {
        return d == TensorData.F32 || d == TensorData.I32;
    }

    function copyOf(uint256[] memory s) private pure returns (uint256[] memory c) {
        c = new uint256[](s.length);
        for (uint256 d; d < s.length; ++d) {
            c[d] = s[d];
        }
    }

    /// @notice The output dtype and shape the attributes give on the inputs (trace-vm `Op::infer`);
    ///         fills `o.attrs` and `o.prog`.
    function infer(OpEntry memory o, Reader memory a) private pure returns (uint8, uint256[] memory out) {
        uint8 c = o.opcode;
        TensorDecl[] memory ins = o.inputs;
        if (c == MAP) return inferMap(o, a);
        need(ins.length == arity(c));
        if (c == MATMUL) return inferMatMul(o, a);
        if (c == MASK) {
            o.attrs = new uint256[](4);
            for (uint256 k; k < 4; ++k) {
                o.attrs[k] = take(a, 8);
            }
            out = new uint256[](2);
            (out[0], out[1]) = (o.attrs[0], o.attrs[1]);
            (bool ok,) = TensorData.numel(out);
            need(ok);
            return (TensorData.F32, out);
        }
        uint256[] memory s = ins[0].shape;
        uint8 d = ins[0].dtype;
        out = copyOf(s);
        if (c == REDUCE) {
            o.attrs = new uint256[](4);
            uint256 prim = take(a, 1);
            uint256 axis = take(a, 1);
            need(d == TensorData.F32 && (prim == 0x01 || prim == 0x07 || prim == 0x08));
            need(axis < s.length && s[axis] != 0);
            uint256 inner = 1;
            for (uint256 k = axis + 1; k < s.length; ++k) {
                inner *= s[k];
            }
            (o.attrs[0], o.attrs[1], o.attrs[2], o.attrs[3]) = (prim, axis, s[axis], inner);
            out[axis] = 1;
            return (TensorData.F32, out);
        }
        if (c == ARGMAX || c == SAMPLE) {
            if (c == SAMPLE) {
                o.attrs = new uint256[](2);
                (o.attrs[0], o.attrs[1]) = (take(a, 8), take(a, 8));
            }
            need(d == TensorData.F32 && s.length != 0 && last(s) != 0 && last(s) <= uint256(uint32(type(int32).max)));
            out[s.length - 1] = 1;
            return (TensorData.I32, out);
        }
        if (c == DEQUANT) {
            need(TensorData.isQuant(d));
            o.prog = QuantFields.program(d);
            return (TensorData.F32, out);
        }
        if (c == GATHER) return inferGather(o, s, d);
        if (c == RESHAPE) {
            uint256 rank = take(a, 1);
            out = new uint256[](rank);
            for (uint256 k; k < rank; ++k) {
                out[k] = take(a, 8);
            }
            (bool ok1, uint256 n1) = TensorData.numel(out);
            (bool ok2, uint256 n2) = TensorData.numel(s);
            need(ok1 && ok2 && n1 == n2 && isWord(d));
            return (d, out);
        }
        if (c == PERMUTE) {
            uint256 rank = take(a, 1);
            o.attrs = new uint256[](rank);
            bool[] memory seen = new bool[](s.length);
            out = new uint256[](rank);
            for (uint256 k; k < rank; ++k) {
                uint256 p = take(a, 1);
                need(p < s.length && !seen[p]);
                seen[p] = true;
                o.attrs[k] = p;
                out[k] = s[p];
            }
            need(rank == s.length && isWord(d));
            return (d, out);
        }
        if (c == CONCAT) {
            uint256 axis = take(a, 1);
            uint256[] memory sb = ins[1].shape;
            need(d == ins[1].dtype && axis < s.length && sb.length == s.length);
            for (uint256 k; k < s.length; ++k) {
                need(k == axis || s[k] == sb[k]);
            }
            need(isWord(d));
            o.attrs = new uint256[](1);
            o.attrs[0] = axis;
            out[axis] += sb[axis];
            return (d, out);
        }
        // SLICE
        o.attrs = new uint256[](3);
        (o.attrs[0], o.attrs[1], o.attrs[2]) = (take(a, 1), take(a, 8), take(a, 8));
        need(o.attrs[0] < s.length && o.attrs[1] + o.attrs[2] <= s[o.attrs[0]] && isWord(d));
        out[o.attrs[0]] = o.attrs[2];
        return (d, out);
    }

    function inferMap(OpEntry memory o, Reader memory a) private pure returns (uint8, uint256[] memory out) {
        TensorDecl[] memory ins = o.inputs;
        need(ins.length != 0 && ins.length <= 4);
        uint256 count = take(a, 2);
        need(count != 0);
        uint256 start = a.pos;
        need(start + 16 * count <= a.end);
        a.pos = start + 16 * count;
        bytes memory b = a.b;
        bytes memory prog = new bytes(16 * count);
        uint256 nIn = ins.length;
        bool ok = true;
        // Per instruction (16 bytes): the primitive (0x01..0x13), then three (u8 tag, u32 value)
        // sources: an input the op has (tag 0), a constant (1) or an earlier step (2). An input
        // beyond the op's inputs makes the reference panic; rejected here.
        assembly ("memory-safe") {
            let src := add(add(b, 32), start)
            for { let k := 0 } lt(k, count) { k := add(k, 1) } {
                let w := mload(add(src, mul(16, k)))
                let prim := byte(0, w)
                if or(iszero(prim), gt(prim, 0x13)) { ok := 0 }
                for { let j := 0 } lt(j, 3) { j := add(j, 1) } {
                    let off := add(1, mul(5, j))
                    let tag := byte(off, w)
                    let value := and(shr(sub(216, mul(8, off)), w), 0xffffffff)
                    let good := or(or(and(iszero(tag), lt(value, nIn)), eq(tag, 1)), and(eq(tag, 2), lt(value, k)))
                    if iszero(good) { ok := 0 }
                }
            }
            mcopy(add(prog, 32), src, mul(16, count))
        }
        need(ok);
        o.prog = prog;
        uint256 rank;
        for (uint256 k; k < ins.length; ++k) {
            need(ins[k].dtype == TensorData.F32);
            if (ins[k].shape.length > rank) rank = ins[k].shape.length;
        }
        out = new uint256[](rank);
        for (uint256 d; d < rank; ++d) {
            out[d] = 1;
        }
        for (uint256 k; k < ins.length; ++k) {
            uint256[] memory s = ins[k].shape;
            uint256 off = rank - s.length;
            for (uint256 d; d < s.length; ++d) {
                if (out[off + d] == 1) out[off + d] = s[d];
                else need(s[d] == 1 || s[d] == out[off + d]);
            }
        }
        return (TensorData.F32, out);
    }

    function inferMatMul(OpEntry memory o, Reader memory a) private pure returns (uint8, uint256[] memory out) {
        uint256 f = take(a, 1);
        uint256[] memory sa = o.inputs[0].shape;
        uint256[] memory sb = o.inputs[1].shape;
        uint8 bd = o.inputs[1].dtype;
        need(o.inputs[0].dtype == TensorData.F32 && (bd == TensorData.F32 || TensorData.isQuant(bd)));
        need(sa.length >= 2 && sb.length >= 2);
        (uint256 ra, uint256 rb) = (sa.length, sb.length);
        bool ta = f & 1 != 0;
        bool tb = f & 2 != 0;
        (uint256 m, uint256 ka) = ta ? (sa[ra - 1], sa[ra - 2]) : (sa[ra - 2], sa[ra - 1]);
        (uint256 kb, uint256 n) = tb ? (sb[rb - 1], sb[rb - 2]) : (sb[rb - 2], sb[rb - 1]);
        uint256 batch = 1;
        for (uint256 d; d + 2 < ra; ++d) {
            batch *= sa[d];
        }
        uint256 bbatch = 1;
        for (uint256 d; d + 2 < rb; ++d) {
            bbatch *= sb[d];
        }
        need(ka == kb && bbatch != 0 && batch % bbatch == 0);
        // A quantized B is a weight as GGUF stores it: [.., N, K] (tb), K whole blocks.
        (uint256 be,) = TensorData.blockOf(bd);
        need(bd == TensorData.F32 || (tb && ka % be == 0));
        // ta, tb, m, n, k, group, B quantized
        o.attrs = new uint256[](7);
        (o.attrs[0], o.attrs[1], o.attrs[2], o.attrs[3], o.attrs[4], o.attrs[5], o.attrs[6]) =
        (ta ? 1 : 0, tb ? 1 : 0, m, n, ka, batch / bbatch, bd == TensorData.F32 ? 0 : 1);
        out = new uint256[](ra);
        for (uint256 d; d + 2 < ra; ++d) {
            out[d] = sa[d];
        }
        (out[ra - 2], out[ra - 1]) = (m, n);
        return (TensorData.F32, out);
    }

    function inferGather(OpEntry memory o, uint256[] memory ts, uint8 td)
        private
        pure
        returns (uint8, uint256[] memory out)
    {
        need(td == TensorData.F32 || TensorData.isQuant(td));
        need(o.inputs[1].dtype == TensorData.I32 && ts.length >= 2 && ts[0] != 0);
        uint256 row = 1;
        for (uint256 d = 1; d < ts.length; ++d) {
            row *= ts[d];
        }
        (uint256 be,) = TensorData.blockOf(td);
        need(row % be == 0);
        if (td != TensorData.F32) o.prog = QuantFields.program(td);
        o.attrs = new uint256[](2);
        (o.attrs[0], o.attrs[1]) = (row, ts[0]);
        uint256[] memory si = o.inputs[1].shape;
        out = new uint256[](si.length + ts.length - 1);
        for (uint256 d; d < si.length; ++d) {
            out[d] = si[d];
        }
        for (uint256 d = 1; d < ts.length; ++d) {
            out[si.length + d - 1] = ts[d];
        }
        return (TensorData.F32, out);
    }
}
