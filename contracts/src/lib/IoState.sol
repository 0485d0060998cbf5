// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Merkle} from "./Merkle.sol";
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
    /// @dev Tensor leaf size (docs/SPEC.md 4.4).
    uint256 private constant LEAF = 256;
    /// @dev Bytes every tensor takes at least: id, dtype, rank, byte length.
    uint256 private constant MIN_TENSOR = 14;

    /// @notice The state root of the encoded state `io`; `which` names it in a `MalformedIo` revert.
    function stateRoot(bytes calldata io, string memory which) internal pure returns (bytes32) {
        uint256 n = io.length;
        if (n < 4) revert MalformedIo(which, "truncated");
        uint256 count = uint32(bytes4(io[0:4]));
        uint256 pos = 4;
        // A count the bytes cannot hold is caught before anything is allocated for it.
        if (count * MIN_TENSOR > n - pos) revert MalformedIo(which, "truncated");
        bytes32[] memory entries = new bytes32[](_pow2(count));
        for (uint256 t; t < count; ++t) {
            (entries[t], pos) = _tensor(io, pos, which);
        }
        if (pos != n) revert MalformedIo(which, "trailing bytes");
        return keccak256(abi.encodePacked(count, Merkle.rootOfPow2(entries)));
    }

    /// @dev The bound root of the tensor encoded at `pos`, and where the next one starts.
    function _tensor(bytes calldata io, uint256 pos, string memory which)
        private
        pure
        returns (bytes32 entry, uint256 next)
    {
        uint256 id = _read(io, pos, 4, which);
        (uint256 blockElems, uint256 blockBytes) = _block(_read(io, pos + 4, 1, which), which);
        uint256 rank = _read(io, pos + 5, 1, which);
        if (rank > MAX_RANK) revert MalformedIo(which, "rank above 8");
        // tensor_root's preimage: u256 dtype ‖ u256 rank ‖ u256 dims ‖ data_root.
        bytes memory header = new bytes(32 * (rank + 3));
        uint256 numel = 1;
        next = pos + 6;
        for (uint256 k; k < rank; ++k) {
            uint256 dim = _read(io, next, 8, which);
            next += 8;
            // numel <= 2^40 and dim < 2^64: the product cannot overflow.
            numel *= dim;
            if (numel > MAX_NUMEL) revert MalformedIo(which, "more than 2^40 elements");
            _word(header, 2 + k, dim);
        }
        uint256 len = _read(io, next, 8, which);
        next += 8;
        if (numel % blockElems != 0) revert MalformedIo(which, "not a whole number of blocks");
        if (len != numel / blockElems * blockBytes) {
            revert MalformedIo(which, "byte length does not match dtype and shape");
        }
        if (len > io.length - next) revert MalformedIo(which, "truncated");
        _word(header, 0, uint8(io[pos + 4]));
        _word(header, 1, rank);
        _word(header, rank + 2, uint256(_dataRoot(io[next:next + len])));
        entry = keccak256(abi.encodePacked(uint32(id), keccak256(header)));
        next += len;
    }

    /// @dev The big-endian integer of `size` bytes at `pos`, or a truncation revert.
    function _read(bytes calldata io, uint256 pos, uint256 size, string memory which) private pure returns (uint256) {
        if (pos + size > io.length) revert MalformedIo(which, "truncated");
        return uint256(bytes32(io[pos:pos + size])) >> (256 - 8 * size);
    }

    /// @dev Writes word `i` of `b`.
    function _word(bytes memory b, uint256 i, uint256 value) private pure {
        assembly ("memory-safe") {
            mstore(add(add(b, 0x20), mul(i, 0x20)), value)
        }
    }

    /// @dev (elements, bytes) per block of a dtype code (docs/SPEC.md 4.2).
    function _block(uint256 dtype, string memory which) private pure returns (uint256, uint256) {
        if (dtype == 0x01 || dtype == 0x04) return (1, 4);
        if (dtype == 0x02 || dtype == 0x03) return (1, 2);
        if (dtype == 0x05) return (1, 8);
        if (dtype == 0x06 || dtype == 0x07) return (1, 1);
        if (dtype == 0x20) return (32, 18);
        if (dtype == 0x21) return (32, 34);
        if (dtype == 0x22) return (32, 22);
        if (dtype == 0x23) return (256, 144);
        if (dtype == 0x24) return (256, 176);
        if (dtype == 0x25) return (256, 210);
        revert MalformedIo(which, "unknown dtype");
    }

    /// @dev data_root (docs/SPEC.md 4.2): 256-byte leaves, the last padded with zero bytes, at
    ///      least one leaf; the leaf hashes padded with zero hashes to a power of two.
    function _dataRoot(bytes calldata data) private pure returns (bytes32) {
        uint256 len = data.length;
        uint256 leaves = len == 0 ? 1 : (len + LEAF - 1) / LEAF;
        bytes32[] memory hashes = new bytes32[](_pow2(leaves));
        bytes memory leaf = new bytes(LEAF);
        for (uint256 i; i < leaves; ++i) {
            uint256 start = i * LEAF;
            uint256 size = len - start < LEAF ? len - start : LEAF;
            bytes32 h;
            assembly ("memory-safe") {
                let p := add(leaf, 0x20)
                // A short last leaf: zero the words its bytes do not fill.
                if lt(size, 256) {
                    for { let w := 0 } lt(w, 256) { w := add(w, 0x20) } { mstore(add(p, w), 0) }
                }
                calldatacopy(p, add(data.offset, start), size)
                h := keccak256(p, 256)
            }
            hashes[i] = h;
        }
        return Merkle.rootOfPow2(hashes);
    }

    /// @dev The smallest power of two >= max(n, 1).
    function _pow2(uint256 n) private pure returns (uint256 p) {
        p = 1;
        while (p < n) p <<= 1;
    }
}
