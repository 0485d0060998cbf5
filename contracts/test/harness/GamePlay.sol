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

    /// @notice The defender's honest move from `trace`. Returns false if it is not the defender's turn.
    function _defend(IDisputeGame game, uint256 id, ToyTrace trace) internal returns (bool) {
        IDisputeGame.GameView memory g = game.getGame(id);
        if (g.phase == IDisputeGame.Phase.Reveal) {
            bytes32[] memory children = trace.revealChildren(g, game.arityLog2());
            VM.prank(g.defender);
            game.reveal(id, children);
            _revealed[id] = children;
        } else if (g.phase == IDisputeGame.Phase.Step && g.level + 1 < g.sizes.length) {
            ToyTrace.Expansion memory x = trace.expandArgs(g, game.arityLog2());
            VM.prank(g.defender);
            game.expand(id, x.pre, x.preProof, x.subRoot, x.first, x.last, x.children);
            _revealed[id] = x.children;
        } else if (g.phase == IDisputeGame.Phase.Step) {
            (bytes memory pre, bytes memory post, bytes32[] memory preProof) = trace.stepArgs(g);
            VM.prank(g.defender);
            game.step(id, pre, post, preProof);
        } else {
            return false;
        }
        return true;
    }

    /// @notice The challenger's honest pick from `trace`. Returns false if there is none to make.
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
