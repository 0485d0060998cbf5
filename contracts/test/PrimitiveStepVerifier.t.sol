// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {PrimitiveStepVerifier} from "../src/PrimitiveStepVerifier.sol";
import {IDisputeGame} from "../src/interfaces/IDisputeGame.sol";
import {Merkle} from "../src/lib/Merkle.sol";
import {ToyTree} from "./harness/ToyTrace.sol";

contract PrimitiveStepVerifierTest is Test {
    PrimitiveStepVerifier internal verifier;

    uint32 internal constant ONE = 0x3f800000;
    uint32 internal constant TWO = 0x40000000;
    uint32 internal constant THREE = 0x40400000;

    function setUp() public {
        verifier = new PrimitiveStepVerifier();
    }

    function _op(uint8 op, uint32 a, uint32 b, uint32 c) internal pure returns (bytes memory) {
        return abi.encodePacked(op, a, b, c);
    }

    function test_verify_acceptsTheCorrectlyRoundedResult() public view {
        uint64[] memory path = new uint64[](1);
        bytes32[] memory roots = new bytes32[](1);
        assertTrue(verifier.verify(0, path, roots, _op(0x01, ONE, TWO, 0), abi.encodePacked(THREE)));
        assertTrue(verifier.verify(0, path, roots, _op(0x06, TWO, TWO, ONE), abi.encodePacked(uint32(0x40a00000))));
        // 1/3 rounds to nearest even: 0x3eaaaaab
        assertTrue(verifier.verify(0, path, roots, _op(0x04, ONE, THREE, 0), abi.encodePacked(uint32(0x3eaaaaab))));
    }

    function test_verify_rejectsAWrongResult() public view {
        uint64[] memory path = new uint64[](1);
        bytes32[] memory roots = new bytes32[](1);
        assertFalse(verifier.verify(0, path, roots, _op(0x01, ONE, TWO, 0), abi.encodePacked(TWO)));
        assertFalse(verifier.verify(0, path, roots, _op(0x04, ONE, THREE, 0), abi.encodePacked(uint32(0x3eaaaaaa))));
    }

    function test_verify_rejectsMalformedStatesWithoutReverting() public view {
        uint64[] memory path = new uint64[](1);
        bytes32[] memory roots = new bytes32[](1);
        assertFalse(verifier.verify(0, path, roots, _op(0x00, ONE, TWO, 0), abi.encodePacked(THREE)));
        assertFalse(verifier.verify(0, path, roots, _op(0x14, ONE, TWO, 0), abi.encodePacked(THREE)));
        assertFalse(verifier.verify(0, path, roots, abi.encodePacked(uint8(1), ONE, TWO), abi.encodePacked(THREE)));
        assertFalse(verifier.verify(0, path, roots, _op(0x01, ONE, TWO, 0), abi.encodePacked(THREE, uint8(0))));
    }

    function testFuzz_verify_matchesNegAndAbs(uint32 a) public view {
        if (a & 0x7fffffff > 0x7f800000) a &= 0xff800000; // NaNs are canonicalized (SPEC 1.2)
        uint64[] memory path = new uint64[](1);
        bytes32[] memory roots = new bytes32[](1);
        assertTrue(verifier.verify(0, path, roots, _op(0x09, a, 0, 0), abi.encodePacked(a ^ 0x80000000)));
        assertTrue(verifier.verify(0, path, roots, _op(0x0A, a, 0, 0), abi.encodePacked(a & 0x7fffffff)));
        assertFalse(verifier.verify(0, path, roots, _op(0x09, a, 0, 0), abi.encodePacked(a)));
    }

    function test_leafHash_isKeccakOfTheState() public view {
        assertEq(verifier.leafHash(_op(0x01, ONE, TWO, 0)), keccak256(_op(0x01, ONE, TWO, 0)));
    }

    /// @dev A one-level game over [op, result]: the step re-executes the add through Float32.
    function _play(uint32 claimed) internal returns (IDisputeGame.Phase) {
        DisputeGame game = new DisputeGame(verifier, 4, 1 hours);
        bytes memory pre = _op(0x01, ONE, TWO, 0);
        bytes memory post = abi.encodePacked(claimed);
        bytes32[] memory leaves = new bytes32[](2);
        (leaves[0], leaves[1]) = (keccak256(pre), keccak256(post));
        uint64[] memory sizes = new uint64[](1);
        sizes[0] = 2;
        uint256 id = game.create(address(1), address(2), ToyTree.root(leaves), sizes, bytes32(0));
        vm.prank(address(1));
        game.reveal(id, leaves);
        vm.prank(address(2));
        game.pick(id, 1, leaves[1], ToyTree.pickProof(leaves, 1));
        vm.prank(address(1));
        game.step(id, pre, post, ToyTree.proof(leaves, 0), new bytes32[](0));
        return game.phaseOf(id);
    }

    function test_step_throughTheGame() public {
        assertTrue(_play(THREE) == IDisputeGame.Phase.DefenderWon);
        assertTrue(_play(TWO) == IDisputeGame.Phase.ChallengerWon);
    }
}
