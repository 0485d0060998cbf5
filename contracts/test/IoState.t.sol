// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {MalformedIo} from "../src/lib/Errors.sol";
import {IoStateHarness, IoVectors} from "./harness/IoVectors.sol";
import {toyIo, toyLeaf} from "./harness/ToyStepVerifier.sol";

/// @notice The state encoding of claims' input and output (docs/SPEC.md 4.9): state roots equal
///         bisection's on its vectors, malformed encodings are rejected for the reason bisection
///         gives, and no bytes make the decoder revert any other way.
contract IoStateTest is Test {
    IoStateHarness internal io;
    string internal json;

    function setUp() public {
        io = new IoStateHarness();
        json = IoVectors.json(vm);
    }

    function test_stateRoot_equalsRustOnItsVectors() public view {
        bytes[] memory states = vm.parseJsonBytesArray(json, ".states");
        assertTrue(states.length > 8, "state vectors");
        for (uint256 i; i < states.length; ++i) {
            (bytes memory enc, bytes32 root) = abi.decode(states[i], (bytes, bytes32));
            vm.assertEq(io.stateRoot(enc), root, vm.toString(i));
        }
    }

    function test_stateRoot_rejectsMalformedForRustsReason() public {
        bytes[] memory bad = vm.parseJsonBytesArray(json, ".malformed");
        assertTrue(bad.length > 8, "malformed vectors");
        for (uint256 i; i < bad.length; ++i) {
            (bytes memory enc, string memory reason) = abi.decode(bad[i], (bytes, string));
            vm.expectRevert(abi.encodeWithSelector(MalformedIo.selector, "input", reason));
            io.stateRoot(enc);
        }
    }

    function test_stateRoot_ofAToyStateIsItsLeaf() public view {
        assertEq(io.stateRoot(toyIo(0)), toyLeaf(0));
        assertEq(io.stateRoot(toyIo(0x0102030405060708)), toyLeaf(0x0102030405060708));
    }

    /// @dev Accepted, or rejected with MalformedIo: never an empty revert, a panic or out of gas.
    function _onlyMalformed(bytes memory enc) internal view {
        try io.stateRoot{gas: 10_000_000}(enc) {}
        catch (bytes memory err) {
            assertEq(bytes4(err), MalformedIo.selector);
        }
    }

    function testFuzz_stateRoot_arbitraryBytesOnlyMalformed(bytes calldata enc) public view {
        _onlyMalformed(enc);
    }

    /// @dev Valid encodings with one byte changed, or cut short, or extended: the fields that shape
    ///      the decoding (count, rank, dims, lengths) are hit far more often than by random bytes.
    function testFuzz_stateRoot_mutatedVectorsOnlyMalformed(uint256 which, uint256 pos, uint8 value, uint8 how)
        public
        view
    {
        bytes[] memory states = vm.parseJsonBytesArray(json, ".states");
        (bytes memory enc,) = abi.decode(states[which % states.length], (bytes, bytes32));
        pos = pos % enc.length;
        if (how % 3 == 0) {
            enc[pos] = bytes1(value);
        } else if (how % 3 == 1) {
            assembly ("memory-safe") {
                mstore(enc, pos)
            }
        } else {
            enc = bytes.concat(enc, bytes1(value));
        }
        _onlyMalformed(enc);
    }
}
