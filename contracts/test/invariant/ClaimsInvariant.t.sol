// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "../utils/Test.sol";
import {Vm} from "../utils/Vm.sol";
import {Claims} from "../../src/Claims.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {IClaims} from "../../src/interfaces/IClaims.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ToyStepVerifier, toyIo, toyLeaf} from "../harness/ToyStepVerifier.sol";

/// @notice Drives Claims with random posts, time jumps, finalizations and withdrawals by a few
///         actors, and keeps the ghost ledger the invariants compare against.
contract ClaimsHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    Claims public immutable claims;
    bytes32 public immutable modelId;
    address[3] public actors = [address(0xA1), address(0xA2), address(0xA3)];

    uint256 public ghostPosted;
    uint256 public ghostWithdrawn;
    /// @dev A finalization the handler saw succeed before the claim's deadline (must stay 0).
    uint256 public earlyFinalizations;
    mapping(address => uint256) public ghostCredited;

    constructor(Claims claims_, bytes32 modelId_) {
        claims = claims_;
        modelId = modelId_;
    }

    /// @dev A claim over a two-state trace: input and output are toy states (`toyIo`).
    function post(uint256 actorSeed, uint256 bond, uint64 input, uint64 output) external {
        address actor = actors[actorSeed % actors.length];
        bond = claims.minBond() + bond % (10 ether);
        vm.deal(actor, actor.balance + bond);
        vm.prank(actor);
        uint64[] memory sizes = new uint64[](1);
        sizes[0] = 2;
        (bytes32 a, bytes32 b) = (toyLeaf(input), toyLeaf(output));
        bytes32[] memory inputProof = new bytes32[](1);
        bytes32[] memory outputProof = new bytes32[](1);
        (inputProof[0], outputProof[0]) = (b, a);
        claims.postClaim{value: bond}(
            modelId, toyIo(input), toyIo(output), keccak256(abi.encode(a, b)), sizes, inputProof, outputProof
        );
        ghostPosted += bond;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead % (2 days));
    }

    function finalize(uint256 claimSeed) external {
        uint256 n = claims.claimCount();
        if (n == 0) return;
        uint256 id = claimSeed % n;
        IClaims.Claim memory c = claims.getClaim(id);
        try claims.finalize(id) {
            if (block.timestamp < c.deadline || c.status != IClaims.Status.Pending) ++earlyFinalizations;
            ghostCredited[c.claimant] += c.bond;
        } catch {}
    }

    function withdraw(uint256 actorSeed) external {
        address actor = actors[actorSeed % actors.length];
        uint256 owed = claims.balanceOf(actor);
        vm.prank(actor);
        try claims.withdraw() {
            ghostWithdrawn += owed;
            ghostCredited[actor] -= owed;
        } catch {}
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }
}

contract ClaimsInvariantTest is Test {
    Claims internal claims;
    ClaimsHandler internal handler;

    function setUp() public {
        ModelRegistry registry = new ModelRegistry();
        claims = new Claims(registry, new DisputeGame(new ToyStepVerifier(), 2, 1 hours), 1 ether, 1 days);
        bytes32 modelId = registry.register(keccak256("weights"), keccak256("arch"), "m");
        handler = new ClaimsHandler(claims, modelId);
        targetContract(address(handler));
    }

    /// @dev Solvency: every wei held is owed, as a pending bond or a credited balance; none is stuck.
    function invariant_balanceEqualsBondsPlusCredits() public view {
        uint256 credited;
        for (uint256 i; i < handler.actorCount(); ++i) {
            credited += claims.balanceOf(handler.actors(i));
        }
        assertEq(address(claims).balance, claims.totalBonded() + credited, "balance = bonded + credited");
        assertEq(address(claims).balance, handler.ghostPosted() - handler.ghostWithdrawn(), "posted - withdrawn");
    }

    /// @dev The contract's credits match what the handler saw finalize.
    function invariant_creditsMatchFinalizations() public view {
        for (uint256 i; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            assertEq(claims.balanceOf(a), handler.ghostCredited(a), "credited = finalized - withdrawn");
        }
    }

    /// @dev No claim ever finalizes before its deadline, or twice.
    function invariant_noEarlyFinalization() public view {
        assertEq(handler.earlyFinalizations(), 0, "early or repeated finalization");
    }
}
