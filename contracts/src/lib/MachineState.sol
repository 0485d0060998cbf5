// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Acc, Frontier} from "./Frontier.sol";

/// @notice A level-2 list entry's content (docs/SPEC.md 6.8): kind 0 a commitment that is its own leaf
///         (`h`), kind 1 `M(e, s)` (`h` = out_acc, `acc` the step list), kind 2 `A(m)` (`e` = m,
///         `acc` the bound roots); `end` is where the state's bytes end (a witness may follow).
struct Parsed {
    uint8 kind;
    uint64 e;
    uint64 s;
    bytes32 h;
    Acc acc;
    uint256 end;
}

/// @title MachineState
/// @notice The state codec of docs/SPEC.md 6.8, as `bisection::machine::State`: a kind byte, then
///         `h` (kind 0), `u64 e ‖ u64 s ‖ out_acc ‖ frontier` (kind 1) or `u64 m ‖ frontier` (kind 2),
///         each frontier `u8 n ‖ n roots`.
library MachineState {
    uint8 internal constant ROOT = 0;
    uint8 internal constant MICRO = 1;
    uint8 internal constant ASSEMBLY = 2;

    /// @notice Parses the state pos the start of `b`; false when it is malformed.
    function parse(bytes calldata b) internal pure returns (bool ok, Parsed memory p) {
        if (b.length == 0) return (false, p);
        p.kind = uint8(b[0]);
        uint256 pos;
        uint256 count;
        if (p.kind == ROOT) {
            if (b.length < 33) return (false, p);
            p.h = bytes32(b[1:33]);
            p.end = 33;
            return (true, p);
        } else if (p.kind == MICRO) {
            if (b.length < 49) return (false, p);
            p.e = uint64(bytes8(b[1:9]));
            p.s = uint64(bytes8(b[9:17]));
            p.h = bytes32(b[17:49]);
            pos = 49;
            count = uint256(p.s) + 1;
        } else if (p.kind == ASSEMBLY) {
            if (b.length < 9) return (false, p);
            p.e = uint64(bytes8(b[1:9]));
            pos = 9;
            count = uint256(p.e) + 1;
        } else {
            return (false, p);
        }
        // The count is a u64 in the reference: s + 1 must not wrap.
        if (count > type(uint64).max || b.length <= pos) return (false, p);
        uint256 n = uint8(b[pos]);
        uint256 end = pos + 1 + 32 * n;
        if (b.length < end) return (false, p);
        bytes32[] memory roots = new bytes32[](n);
        // In bounds: end ≤ b.length was checked above.
        assembly ("memory-safe") {
            calldatacopy(add(roots, 0x20), add(b.offset, add(pos, 1)), shl(5, n))
        }
        (ok, p.acc) = Frontier.fromRoots(count, roots);
        p.end = end;
    }

    /// @notice The leaf committed for `state`: the commitment itself for kind 0, keccak256 of the
    ///         state's bytes (witness excluded) otherwise, keccak256 of everything when malformed.
    function leaf(bytes calldata state) internal pure returns (bytes32) {
        (bool ok, Parsed memory p) = parse(state);
        if (!ok) return keccak256(state);
        if (p.kind == ROOT) return p.h;
        return keccak256(state[:p.end]);
    }

    /// @notice A commitment used as its own leaf.
    function root(bytes32 h) internal pure returns (bytes memory) {
        return abi.encodePacked(ROOT, h);
    }

    /// @notice `M(e, s)` with `outAcc` and step list `steps`.
    function micro(uint256 e, uint256 s, bytes32 outAcc, Acc memory steps) internal pure returns (bytes memory) {
        return abi.encodePacked(MICRO, uint64(e), uint64(s), outAcc, Frontier.encode(steps));
    }

    /// @notice `A(m)` with the bound roots `entries`.
    function assembly_(uint256 m, Acc memory entries) internal pure returns (bytes memory) {
        return abi.encodePacked(ASSEMBLY, uint64(m), Frontier.encode(entries));
    }
}
