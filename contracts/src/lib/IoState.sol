// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MalformedIo} from "./Errors.sol";

/// @title IoState
/// @notice The state root (docs/SPEC.md 4.8) of a boundary state given in its canonical encoding
///         (docs/SPEC.md 4.9), the form of a claim's input and output:
///           state  = u32 count ‖ tensor × count
///           tensor = u32 id ‖ u8 dtype ‖ u8 rank ‖ u64 dim × rank ‖ u64 byteLength ‖ data
///         (big-endian integers; `data` the tensor's bytes as in 4.2, `byteLength` the one dtype and
///         shape imply). Root: list_root (4.5) over keccak256(u32 id ‖ tensor_root) (4.7), each
///         tensor_root over 256-byte leaves (4.2).
/// @dev Mirrors bisection::machine::state_root check for check: malformed bytes revert with
///      `MalformedIo(which, reason)` and the reason the Rust decoder gives, never another error.
///      The caller bounds the length (Claims.MAX_PAYLOAD_BYTES), so every loop and allocation here
///      is bounded by the bytes it reads.
library IoState {
    /// @notice Most dimensions a tensor may have.
    uint256 internal constant MAX_RANK = 8;
    /// @notice Most elements a tensor may have (docs/SPEC.md 4.2).
    uint256 internal constant MAX_NUMEL = 1 << 40;

    /// @notice The state root of the encoded state `io`, and keccak256(io) (a claim commits to both);
    ///         `which` names `io` in a `MalformedIo` revert.
    function stateRoot(bytes calldata io, string memory which) internal pure returns (bytes32 root, bytes32 ioHash) {
        uint256 err;
        (root, ioHash, err) = _decode(io);
        if (err != 0) revert MalformedIo(which, _reason(err));
    }

    /// @dev The state root, or the first failed check as a reason code (see `_reason`). One pass in
    ///      assembly: the Solidity version allocated a header, a leaf and a hash array per tensor and
    ///      sliced calldata for every integer, which cost about 6k gas per tensor (a claim's post pays
    ///      it for two states). The checks and their order are those of the Rust decoder.
    ///      Memory: past the free memory pointer, never claimed (nothing else is allocated meanwhile):
    ///      a copy of `io` (hashed whole, and its full leaves hashed where they lie), the entry list
    ///      (a power of two of words), then one tensor's header (at most 11 words), a short last
    ///      leaf padded (8 words) and the leaf hashes (a power of two of words), the last three
    ///      reused by every tensor.
    function _decode(bytes calldata io) private pure returns (bytes32 root, bytes32 ioHash, uint256 err) {
        assembly ("memory-safe") {
            // The big-endian integer of `size` bytes at calldata offset `p`.
            function be(p, size) -> v {
                v := shr(sub(256, shl(3, size)), calldataload(p))
            }
            function pow2(x) -> p {
                p := 1
                for {} lt(p, x) {} { p := shl(1, p) }
            }
            // Root of the `n` (a power of two) words at `ptr`, computed in place.
            function merkle(ptr, n) -> r {
                for {} gt(n, 1) {} {
                    n := shr(1, n)
                    for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                        mstore(add(ptr, shl(5, i)), keccak256(add(ptr, shl(6, i)), 0x40))
                    }
                }
                r := mload(ptr)
            }
            // Zeroes words [from, to) of the word array at `ptr` (a copy from past the end of the
            // calldata reads zeros).
            function zero(ptr, from, to) {
                calldatacopy(add(ptr, shl(5, from)), calldatasize(), shl(5, sub(to, from)))
            }
            function decode(off, n, copy, base, maxRank, maxNumel) -> r, e {
                if lt(n, 4) {
                    e := 1
                    leave
                }
                let count := be(off, 4)
                // A count the bytes cannot hold (every tensor takes at least 14 bytes: id, dtype,
                // rank, byte length) is caught before any memory is used for it.
                if gt(mul(count, 14), sub(n, 4)) {
                    e := 1
                    leave
                }
                let cap := pow2(count)
                let hdr := add(base, shl(5, cap))
                let leaf := add(hdr, 0x160)
                let hashes := add(leaf, 0x100)
                let pos := 4
                for { let t := 0 } lt(t, count) { t := add(t, 1) } {
                    if gt(add(pos, 5), n) {
                        e := 1
                        leave
                    }
                    let id := be(add(off, pos), 4)
                    let dtype := byte(0, calldataload(add(off, add(pos, 4))))
                    // (elements, bytes) per block (docs/SPEC.md 4.2).
                    let blockElems := 1
                    let blockBytes := 0
                    switch dtype
                    case 0x01 { blockBytes := 4 }
                    case 0x04 { blockBytes := 4 }
                    case 0x02 { blockBytes := 2 }
                    case 0x03 { blockBytes := 2 }
                    case 0x05 { blockBytes := 8 }
                    case 0x06 { blockBytes := 1 }
                    case 0x07 { blockBytes := 1 }
                    case 0x20 {
                        blockElems := 32
                        blockBytes := 18
                    }
                    case 0x21 {
                        blockElems := 32
                        blockBytes := 34
                    }
                    case 0x22 {
                        blockElems := 32
                        blockBytes := 22
                    }
                    case 0x23 {
                        blockElems := 256
                        blockBytes := 144
                    }
                    case 0x24 {
                        blockElems := 256
                        blockBytes := 176
                    }
                    case 0x25 {
                        blockElems := 256
                        blockBytes := 210
                    }
                    default {
                        e := 7
                        leave
                    }
                    if gt(add(pos, 6), n) {
                        e := 1
                        leave
                    }
                    let rank := byte(0, calldataload(add(off, add(pos, 5))))
                    if gt(rank, maxRank) {
                        e := 3
                        leave
                    }
                    // tensor_root's preimage: u256 dtype ‖ u256 rank ‖ u256 dims ‖ data_root.
                    mstore(hdr, dtype)
                    mstore(add(hdr, 0x20), rank)
                    let numel := 1
                    let next := add(pos, 6)
                    for { let k := 0 } lt(k, rank) { k := add(k, 1) } {
                        if gt(add(next, 8), n) {
                            e := 1
                            leave
                        }
                        let dim := be(add(off, next), 8)
                        next := add(next, 8)
                        // numel <= 2^40 and dim < 2^64: the product cannot overflow.
                        numel := mul(numel, dim)
                        if gt(numel, maxNumel) {
                            e := 4
                            leave
                        }
                        mstore(add(hdr, shl(5, add(k, 2))), dim)
                    }
                    if gt(add(next, 8), n) {
                        e := 1
                        leave
                    }
                    let len := be(add(off, next), 8)
                    next := add(next, 8)
                    if mod(numel, blockElems) {
                        e := 5
                        leave
                    }
                    if iszero(eq(len, mul(div(numel, blockElems), blockBytes))) {
                        e := 6
                        leave
                    }
                    if gt(len, sub(n, next)) {
                        e := 1
                        leave
                    }
                    // data_root: 256-byte leaves, the last padded with zero bytes, at least one.
                    let leaves := 1
                    if len { leaves := shr(8, add(len, 0xff)) }
                    let data := add(copy, next)
                    for { let i := 0 } lt(i, leaves) { i := add(i, 1) } {
                        let start := add(data, shl(8, i))
                        let size := sub(len, shl(8, i))
                        switch lt(size, 0x100)
                        case 0 { mstore(add(hashes, shl(5, i)), keccak256(start, 0x100)) }
                        default {
                            mcopy(leaf, start, size)
                            calldatacopy(add(leaf, size), calldatasize(), sub(0x100, size))
                            mstore(add(hashes, shl(5, i)), keccak256(leaf, 0x100))
                        }
                    }
                    let width := pow2(leaves)
                    zero(hashes, leaves, width)
                    mstore(add(hdr, shl(5, add(rank, 2))), merkle(hashes, width))
                    // The entry: keccak256(u32 id ‖ tensor_root), in the scratch space.
                    mstore(0x00, shl(224, id))
                    mstore(0x04, keccak256(hdr, shl(5, add(rank, 3))))
                    mstore(add(base, shl(5, t)), keccak256(0x00, 0x24))
                    pos := add(next, len)
                }
                if iszero(eq(pos, n)) {
                    e := 2
                    leave
                }
                zero(base, count, cap)
                mstore(0x20, merkle(base, cap))
                mstore(0x00, count)
                r := keccak256(0x00, 0x40)
            }
            let copy := mload(0x40)
            calldatacopy(copy, io.offset, io.length)
            ioHash := keccak256(copy, io.length)
            root, err :=
                decode(io.offset, io.length, copy, add(copy, and(add(io.length, 0x1f), not(0x1f))), MAX_RANK, MAX_NUMEL)
        }
    }

    /// @dev The Rust decoder's reason for a `_decode` error code.
    function _reason(uint256 err) private pure returns (string memory) {
        if (err == 1) return "truncated";
        if (err == 2) return "trailing bytes";
        if (err == 3) return "rank above 8";
        if (err == 4) return "more than 2^40 elements";
        if (err == 5) return "not a whole number of blocks";
        if (err == 6) return "byte length does not match dtype and shape";
        return "unknown dtype";
    }
}
