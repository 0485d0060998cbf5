// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Vm} from "../utils/Vm.sol";
import {IDisputeGame} from "../../src/interfaces/IDisputeGame.sol";
import {ToyTrace, ToyTree} from "./ToyTrace.sol";

/// @notice Plays moves of a dispute game for tests: the honest strategy of a ToyTrace for either
///         side, or a random (adversarial) pick.
abstract contract GamePlay {
    Vm private constant VM = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @dev The children of each game's last reveal, as a challenger reads them from the event.
    mapping(uint256 gameId => bytes32[]) internal _revealed;

    /// @notice The defender's honest move from `trace`: a reveal; at a disputed step, a `bind` of entry
    ///         0 (below level 0), else an expansion above the last level or the one-step at it, each
    ///         with its end proof. Returns false if it is not the defender's turn, or if `trace`'s own
    ///         lists cannot back the move (a forger's list that disagrees with its parent at the
    ///         disputed end: it can only let its clock run out).
    function _defend(IDisputeGame game, uint256 id, ToyTrace trace) internal returns (bool) {
        IDisputeGame.GameView memory g = game.getGame(id);
        if (g.phase == IDisputeGame.Phase.Reveal) {
            bytes32[] memory children = trace.revealChildren(g, game.arityLog2());
            VM.prank(g.defender);
            game.reveal(id, children);
            _revealed[id] = children;
        } else if (g.phase != IDisputeGame.Phase.Step || !trace.canDefend(g)) {
            return false;
        } else if (g.index == 0) {
            bytes32[] memory proof = trace.bindProof(g);
            VM.prank(g.defender);
            game.bind(id, proof);
        } else if (g.level + 1 < g.sizes.length) {
            ToyTrace.Expansion memory x = trace.expandArgs(g, game.arityLog2());
            VM.prank(g.defender);
            game.expand(id, x.subRoot, x.children, x.endProof);
            _revealed[id] = x.children;
        } else {
            (bytes memory pre, bytes memory post, bytes32[] memory preProof, bytes32[] memory end) = trace.stepArgs(g);
            VM.prank(g.defender);
            game.step(id, pre, post, preProof, end);
        }
        return true;
    }

    /// @notice The challenger's honest pick from `trace` (`ToyTrace.honestPick`). Returns false if there
    ///         is none to make.
    function _challenge(IDisputeGame game, uint256 id, ToyTrace trace) internal returns (bool) {
        IDisputeGame.GameView memory g = game.getGame(id);
        if (g.phase != IDisputeGame.Phase.Pick) return false;
        bytes32[] memory children = _revealed[id];
        (bool found, uint256 child) = trace.honestPick(g, children);
        if (!found) return false;
        VM.prank(g.challenger);
        game.pick(id, child, children[child], ToyTree.pickProof(children, child));
        return true;
    }

    /// @notice Lets the side to move run out of its clock, then ends the game (`timeout`).
    function _expire(IDisputeGame game, uint256 id) internal {
        IDisputeGame.GameView memory g = game.getGame(id);
        uint256 left = g.phase == IDisputeGame.Phase.Pick ? g.challengerClock : g.defenderClock;
        VM.warp(g.lastMove + left + 1);
        game.timeout(id);
    }

    /// @notice A random pick among the children the rules accept (any of them, right or wrong).
    function _randomPick(IDisputeGame game, uint256 id, uint256 seed) internal returns (bool) {
        IDisputeGame.GameView memory g = game.getGame(id);
        if (g.phase != IDisputeGame.Phase.Pick) return false;
        bytes32[] memory children = _revealed[id];
        uint256 n = children.length;
        for (uint256 t; t < n; ++t) {
            uint256 child = (seed + t) % n;
            VM.prank(g.challenger);
            try game.pick(id, child, children[child], ToyTree.pickProof(children, child)) {
                return true;
            } catch {}
        }
        return false;
    }
}
