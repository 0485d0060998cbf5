// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {IDisputeGame} from "../src/interfaces/IDisputeGame.sol";
import {IStepVerifier} from "../src/interfaces/IStepVerifier.sol";
import {Merkle} from "../src/lib/Merkle.sol";
import {ToyStepVerifier} from "./harness/ToyStepVerifier.sol";
import {ToyTrace, ToyTree} from "./harness/ToyTrace.sol";
import {SparseTree} from "./harness/SparseTree.sol";
import {PrimitiveStepVerifier} from "../src/PrimitiveStepVerifier.sol";
import {GamePlay} from "./harness/GamePlay.sol";
import {
    AgreedEntry,
    BadPick,
    BadProof,
    ChildCount,
    ChildrenMismatch,
    ClockExpired,
    GameOver,
    InvalidConfig,
    InvalidLevelSizes,
    NotExpired,
    NotYourTurn,
    UnknownGame,
    WrongAction
} from "../src/lib/Errors.sol";

contract DisputeGameTest is Test, GamePlay {
    address internal constant DEFENDER = address(0xDEF);
    address internal constant CHALLENGER = address(0xC4A1);

    ToyStepVerifier internal toy;
    DisputeGame internal game;

    function setUp() public {
        toy = new ToyStepVerifier();
        game = new DisputeGame(toy, 2, 100);
    }

    function _sizes(uint64 a, uint64 b) internal pure returns (uint64[] memory s) {
        s = new uint64[](2);
        (s[0], s[1]) = (a, b);
    }

    function _sizes(uint64 a, uint64 b, uint64 c) internal pure returns (uint64[] memory s) {
        s = new uint64[](3);
        (s[0], s[1], s[2]) = (a, b, c);
    }

    function _trace(uint64[] memory sizes, uint64 input, uint64[] memory faultPath, uint64 mask)
        internal
        returns (ToyTrace)
    {
        return new ToyTrace(toy, sizes, input, faultPath, mask);
    }

    function _honest(uint64[] memory sizes) internal returns (ToyTrace) {
        return _trace(sizes, 1, new uint64[](0), 0);
    }

    function _open(DisputeGame g, ToyTrace defender) internal returns (uint256) {
        uint64[] memory sizes = defender.sizes();
        return g.create(DEFENDER, CHALLENGER, defender.root(new uint64[](0)), sizes, bytes32(0));
    }

    /// @dev The rules.rs unit-test position: sizes [9, 3], d = 2, clocks of 100 s.
    function _start() internal returns (ToyTrace trace, bytes32[] memory top, uint256 id) {
        vm.warp(0);
        trace = _honest(_sizes(9, 3));
        top = trace.leaves(new uint64[](0));
        id = _open(game, trace);
    }

    function _gameHash(uint256 id) internal view returns (bytes32) {
        return keccak256(abi.encode(game.getGame(id)));
    }

    // ------------------------------------------------------------ constructor, create

    function test_constructor_rejectsBadConfig() public {
        vm.expectRevert(abi.encodeWithSelector(InvalidConfig.selector, "verifier is not a contract"));
        new DisputeGame(IStepVerifier(address(0x1234)), 2, 100);
        vm.expectRevert(abi.encodeWithSelector(InvalidConfig.selector, "arityLog2 out of range"));
        new DisputeGame(toy, 0, 100);
        vm.expectRevert(abi.encodeWithSelector(InvalidConfig.selector, "arityLog2 out of range"));
        new DisputeGame(toy, 7, 100);
        vm.expectRevert(abi.encodeWithSelector(InvalidConfig.selector, "clock out of range"));
        new DisputeGame(toy, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(InvalidConfig.selector, "clock out of range"));
        new DisputeGame(toy, 2, 30 days + 1);
    }

    function test_create_rejectsBadSizes() public {
        vm.expectRevert(InvalidLevelSizes.selector);
        game.create(DEFENDER, CHALLENGER, bytes32(uint256(1)), new uint64[](0), bytes32(0));
        vm.expectRevert(InvalidLevelSizes.selector);
        game.create(DEFENDER, CHALLENGER, bytes32(uint256(1)), _sizes(9, 1), bytes32(0));
        vm.expectRevert(InvalidLevelSizes.selector);
        game.create(DEFENDER, CHALLENGER, bytes32(uint256(1)), _sizes(uint64(1) << 48 + 1, 2), bytes32(0));
        vm.expectRevert(InvalidLevelSizes.selector);
        game.create(DEFENDER, CHALLENGER, bytes32(uint256(1)), new uint64[](17), bytes32(0));
    }

    function test_create_startsWithFullClocksAndARevealOfTheRoot() public {
        vm.warp(1000);
        uint256 id = game.create(DEFENDER, CHALLENGER, bytes32(uint256(7)), _sizes(9, 3), bytes32(uint256(5)));
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(g.owner, address(this));
        assertEq(g.defender, DEFENDER);
        assertEq(g.challenger, CHALLENGER);
        assertTrue(g.phase == IDisputeGame.Phase.Reveal);
        assertEq(g.root, bytes32(uint256(7)));
        assertEq(g.roots.length, 1);
        assertEq(g.roots[0], bytes32(uint256(7)));
        assertEq(g.node, bytes32(uint256(7)));
        assertEq(g.context, bytes32(uint256(5)));
        assertEq(uint256(g.defenderClock), 100);
        assertEq(uint256(g.challengerClock), 100);
        assertEq(uint256(g.lastMove), 1000);
        assertEq(g.sizes.length, 2);
        assertEq(game.gameCount(), 1);
        vm.expectRevert(abi.encodeWithSelector(UnknownGame.selector, 1));
        game.phaseOf(1);
    }

    // ------------------------------------------------------------ rules.rs unit tests, mirrored

    function test_reveal_rejectsOutOfTurnWrongAndForgedMovesWithoutChangingState() public {
        (, bytes32[] memory top, uint256 id) = _start();
        bytes32 before = _gameHash(id);
        vm.warp(1);
        bytes32[] memory none = new bytes32[](0);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(NotYourTurn.selector, id, CHALLENGER));
        game.pick(id, 0, bytes32(0), none);
        vm.prank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Reveal)));
        game.pick(id, 0, bytes32(0), none);
        vm.prank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(ChildCount.selector, 4, 2));
        game.reveal(id, ToyTree.descendants(top, 0, 0, 1));
        bytes32[] memory forged = ToyTree.descendants(top, 0, 0, 2);
        (forged[0], forged[1]) = (forged[1], forged[0]);
        vm.prank(DEFENDER);
        vm.expectRevert(ChildrenMismatch.selector);
        game.reveal(id, forged);
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(NotYourTurn.selector, id, address(0xBAD)));
        game.reveal(id, ToyTree.descendants(top, 0, 0, 2));
        assertEq(_gameHash(id), before);
    }

    function test_pick_rejectsPaddingAndTheAgreedEntry() public {
        (, bytes32[] memory top, uint256 id) = _start();
        // 9 entries: a depth-4 tree; children 1..3 of the root's 4 hold entries 4..15.
        bytes32[] memory c = ToyTree.descendants(top, 0, 0, 2);
        vm.prank(DEFENDER);
        game.reveal(id, c);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BadPick.selector, 3));
        game.pick(id, 3, c[3], ToyTree.pickProof(c, 3));
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BadPick.selector, 4));
        game.pick(id, 4, c[0], ToyTree.pickProof(c, 0));
        vm.prank(CHALLENGER);
        game.pick(id, 0, c[0], ToyTree.pickProof(c, 0));
        c = ToyTree.descendants(top, 2, 0, 2);
        vm.prank(DEFENDER);
        game.reveal(id, c);
        vm.prank(CHALLENGER);
        vm.expectRevert(AgreedEntry.selector);
        game.pick(id, 0, c[0], ToyTree.pickProof(c, 0));
        vm.prank(CHALLENGER);
        game.pick(id, 1, c[1], ToyTree.pickProof(c, 1));
        IDisputeGame.GameView memory g = game.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.Step);
        assertEq(uint256(g.depth), 4);
        assertEq(uint256(g.index), 1);
        assertEq(g.node, top[1]);
    }

    function test_pick_rejectsAWrongChildHashOrProof() public {
        (, bytes32[] memory top, uint256 id) = _start();
        bytes32[] memory c = ToyTree.descendants(top, 0, 0, 2);
        vm.prank(DEFENDER);
        game.reveal(id, c);
        bytes32[] memory proof = ToyTree.pickProof(c, 1);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "picked child"));
        game.pick(id, 1, c[2], proof);
        bytes32[] memory short = new bytes32[](1);
        short[0] = proof[0];
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "picked child"));
        game.pick(id, 1, c[1], short);
        vm.prank(CHALLENGER);
        game.pick(id, 1, c[1], proof);
    }

    function test_timeout_clocksRunOnlyForTheSideToMoveAndNeedAnEmptyClock() public {
        (, bytes32[] memory top, uint256 id) = _start();
        bytes32[] memory c = ToyTree.descendants(top, 0, 0, 2);
        vm.warp(30);
        vm.prank(DEFENDER);
        game.reveal(id, c);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.defenderClock), 70);
        assertEq(uint256(g.challengerClock), 100);
        assertEq(uint256(g.defenderMoves), 1);
        vm.warp(130);
        vm.expectRevert(abi.encodeWithSelector(NotExpired.selector, id, 0));
        game.timeout(id);
        vm.warp(131);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, id, CHALLENGER));
        game.pick(id, 0, c[0], ToyTree.pickProof(c, 0));
        vm.prank(DEFENDER);
        game.timeout(id);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
        assertEq(uint256(game.getGame(id).challengerClock), 0);
        vm.warp(132);
        vm.expectRevert(abi.encodeWithSelector(GameOver.selector, id));
        game.timeout(id);
        vm.prank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(GameOver.selector, id));
        game.reveal(id, c);
    }

    function test_timeout_defenderOutOfTimeLoses() public {
        (,, uint256 id) = _start();
        vm.warp(100);
        vm.expectRevert(abi.encodeWithSelector(NotExpired.selector, id, 0));
        game.timeout(id);
        vm.warp(101);
        game.timeout(id);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
    }

    // ------------------------------------------------------------ expand and step

    /// @dev Plays honest moves on both sides until the game waits for the defender at a step.
    function _toStep(uint256 id, ToyTrace defender, ToyTrace challenger) internal {
        while (true) {
            IDisputeGame.Phase p = game.phaseOf(id);
            if (p == IDisputeGame.Phase.Reveal) _defend(game, id, defender);
            else if (p == IDisputeGame.Phase.Pick) assertTrue(_challenge(game, id, challenger));
            else return;
        }
    }

    /// @dev Plays the defender from `defender` and a challenger that disputes entry `target` of the
    ///      current list, until the defender is to move at that step.
    function _disputeEntry(uint256 id, ToyTrace defender, uint256 target) internal {
        while (true) {
            IDisputeGame.GameView memory g = game.getGame(id);
            if (g.phase == IDisputeGame.Phase.Reveal) {
                _defend(game, id, defender);
            } else if (g.phase == IDisputeGame.Phase.Pick) {
                bytes32[] memory c = _revealed[id];
                uint256 k = Merkle.depthFor(c.length);
                uint256 below = Merkle.depthFor(g.sizes[g.level]) - g.depth - k;
                uint256 child = (target >> below) & ((1 << k) - 1);
                vm.prank(CHALLENGER);
                game.pick(id, child, c[child], ToyTree.pickProof(c, child));
            } else {
                return;
            }
        }
    }

    function test_expand_rejectsBadChildrenAStrayEndProofAndAOneStepAboveTheLastLevel() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        uint64[] memory fault = new uint64[](3);
        (fault[0], fault[1], fault[2]) = (3, 2, 1);
        ToyTrace liar = _trace(sizes, 1, fault, 0x10);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, liar);
        _toStep(id, liar, honest);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.index), 3);
        ToyTrace.Expansion memory x = liar.expandArgs(g, game.arityLog2());
        // Level 1 has 4 entries: a depth-2 tree, opened whole at d = 2.
        assertEq(x.children.length, 4);
        // Level 0 has no parent: no end proof, even at its last entry.
        assertEq(x.endProof.length, 0);
        bytes32[] memory forged = liar.expandArgs(g, game.arityLog2()).children;
        forged[3] = bytes32(uint256(0xEE));
        bytes32[] memory stray = new bytes32[](3);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, stray);
        // The end proof is checked before the children.
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, forged, stray);
        vm.expectRevert(abi.encodeWithSelector(ChildCount.selector, 4, 2));
        game.expand(id, x.subRoot, ToyTree.descendants(x.children, 0, 0, 1), x.endProof);
        vm.expectRevert(ChildrenMismatch.selector);
        game.expand(id, x.subRoot, forged, x.endProof);
        vm.expectRevert(ChildrenMismatch.selector);
        game.expand(id, bytes32(uint256(x.subRoot) ^ 1), x.children, x.endProof);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.step(id, abi.encodePacked(uint64(1)), abi.encodePacked(uint64(2)), x.children, x.endProof);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.bind(id, x.children);
        assertEq(_gameHash(id), before);
        vm.expectEmit(address(game));
        emit IDisputeGame.Expanded(id, 0, 3, x.subRoot);
        vm.expectEmit(address(game));
        emit IDisputeGame.Revealed(id, 1, 0, 0, x.children);
        game.expand(id, x.subRoot, x.children, x.endProof);
        vm.stopPrank();
        g = game.getGame(id);
        assertEq(uint256(g.level), 1);
        assertEq(g.root, x.subRoot);
        assertEq(g.roots.length, 2);
        assertEq(g.roots[1], x.subRoot);
        assertEq(g.path.length, 1);
        assertEq(uint256(g.path[0]), 3);
        // The expansion carried the new list's first reveal: the challenger picks next.
        assertTrue(g.phase == IDisputeGame.Phase.Pick);
        vm.prank(CHALLENGER);
        game.pick(id, 1, x.children[1], ToyTree.pickProof(x.children, 1));
        assertEq(uint256(game.getGame(id).depth), 2);
    }

    /// @dev Below level 0 an expansion of a step that is not its list's last entry takes no end proof.
    function test_expand_rejectsAnEndProofBelowLevel0WhenTheStepIsNotTheLast() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, honest);
        _disputeEntry(id, honest, 3);
        _defend(game, id, honest);
        _disputeEntry(id, honest, 2);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.level), 1);
        assertEq(uint256(g.index), 2);
        ToyTrace.Expansion memory x = honest.expandArgs(g, game.arityLog2());
        assertEq(x.endProof.length, 0);
        // A true proof, of the parent's disputed entry: still not wanted here.
        g.index = 3;
        bytes32[] memory stray = honest.endProof(g);
        assertEq(stray.length, 3);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, stray);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, new bytes32[](1));
        assertEq(_gameHash(id), before);
        game.expand(id, x.subRoot, x.children, x.endProof);
        vm.stopPrank();
        assertEq(uint256(game.getGame(id).level), 2);
    }

    /// @dev At the last entry of a list below level 0 the expansion proves it is the parent's
    ///      disputed entry: a missing, short, long or wrong proof is rejected, before the children.
    function test_expand_needsTheEndProofAtTheLastEntryOfALowerList() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, honest);
        _disputeEntry(id, honest, 3);
        _defend(game, id, honest);
        _disputeEntry(id, honest, 3);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.level), 1);
        assertEq(uint256(g.index), 3);
        ToyTrace.Expansion memory x = honest.expandArgs(g, game.arityLog2());
        // The parent (level 0, 5 entries) has a depth-3 tree.
        assertEq(x.endProof.length, 3);
        bytes32[] memory forged = honest.expandArgs(g, game.arityLog2()).children;
        forged[0] = bytes32(uint256(0xEE));
        bytes32[] memory wrong = honest.expandArgs(g, game.arityLog2()).endProof;
        wrong[1] = bytes32(uint256(wrong[1]) ^ 1);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, _copy(x.endProof, 2));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, _append(x.endProof, bytes32(0)));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, x.children, wrong);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.expand(id, x.subRoot, forged, wrong);
        vm.expectRevert(ChildrenMismatch.selector);
        game.expand(id, x.subRoot, forged, x.endProof);
        assertEq(_gameHash(id), before);
        game.expand(id, x.subRoot, x.children, x.endProof);
        vm.stopPrank();
        g = game.getGame(id);
        assertEq(uint256(g.level), 2);
        assertEq(uint256(g.path[1]), 3);
        assertTrue(g.phase == IDisputeGame.Phase.Pick);
    }

    function test_step_wrongPrimitiveLosesAndExpandAtTheLastLevelIsRejected() public {
        uint64[] memory sizes = _sizes(5, 4);
        uint64[] memory fault = new uint64[](2);
        (fault[0], fault[1]) = (2, 3);
        ToyTrace liar = _trace(sizes, 9, fault, 0x8000);
        ToyTrace honest = _trace(sizes, 9, new uint64[](0), 0);
        uint256 id = _open(game, liar);
        _toStep(id, liar, honest);
        _defend(game, id, liar); // expand
        _toStep(id, liar, honest);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.level), 1);
        assertEq(uint256(g.path[0]), 2);
        assertEq(uint256(g.index), 3);
        (bytes memory pre, bytes memory post, bytes32[] memory preProof, bytes32[] memory end) = liar.stepArgs(g);
        // Step 3 is level 1's last entry: its output is proven as entry 2 of level 0 (depth 3).
        assertEq(end.length, 3);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.expand(id, bytes32(0), preProof, end);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "step output"));
        game.step(id, pre, pre, preProof, end);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "step input"));
        game.step(id, post, post, preProof, end);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
        game.step(id, pre, post, preProof, new bytes32[](0));
        game.step(id, pre, post, preProof, end);
        vm.stopPrank();
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
    }

    /// @dev The one-step's end proof, both ways: required (and checked) at the last entry of a list
    ///      below level 0, rejected anywhere else.
    function test_step_needsTheEndProofAtTheLastEntryAndNoneElsewhere() public {
        uint64[] memory sizes = _sizes(5, 4);
        ToyTrace honest = _honest(sizes);
        for (uint256 target = 2; target <= 3; ++target) {
            uint256 id = _open(game, honest);
            _disputeEntry(id, honest, 4);
            _defend(game, id, honest); // expand
            _disputeEntry(id, honest, target);
            IDisputeGame.GameView memory g = game.getGame(id);
            assertEq(uint256(g.index), target);
            (bytes memory pre, bytes memory post, bytes32[] memory preProof, bytes32[] memory end) = honest.stepArgs(g);
            bytes32 before = _gameHash(id);
            vm.startPrank(DEFENDER);
            if (target == 3) {
                assertEq(end.length, 3);
                bytes32[] memory wrong = _copy(end);
                wrong[0] = bytes32(uint256(wrong[0]) ^ 1);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, new bytes32[](0));
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, _copy(end, 2));
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, wrong);
            } else {
                assertEq(end.length, 0);
                g.index = 3;
                bytes32[] memory stray = honest.endProof(g);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, stray);
            }
            assertEq(_gameHash(id), before);
            game.step(id, pre, post, preProof, end);
            vm.stopPrank();
            assertTrue(game.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
        }
    }

    // ------------------------------------------------------------ entry 0 below level 0: pick and bind

    function test_pick_firstEntryOfALowerListCanBeDisputed() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, honest);
        // Level 0: entry 0 is the claim's agreed input.
        _defend(game, id, honest);
        bytes32[] memory c = _revealed[id];
        vm.prank(CHALLENGER);
        game.pick(id, 0, c[0], ToyTree.pickProof(c, 0));
        _defend(game, id, honest);
        c = _revealed[id];
        vm.prank(CHALLENGER);
        vm.expectRevert(AgreedEntry.selector);
        game.pick(id, 0, c[0], ToyTree.pickProof(c, 0));
        vm.prank(CHALLENGER);
        game.pick(id, 1, c[1], ToyTree.pickProof(c, 1));
        _defend(game, id, honest); // expands step 1
        _pickFirstEntry(id, honest, 1);
        // Level 2, in another game: expand level 0's step 1, then level 1's step 2.
        id = _open(game, honest);
        _disputeEntry(id, honest, 1);
        _defend(game, id, honest);
        _disputeEntry(id, honest, 2);
        _defend(game, id, honest);
        _pickFirstEntry(id, honest, 2);
    }

    /// @dev The challenger picks entry 0 of the level-`level` list, whose 4-leaf tree (3 or 4 entries)
    ///      the expansion revealed whole.
    function _pickFirstEntry(uint256 id, ToyTrace trace, uint256 level) internal {
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.level), level);
        assertTrue(g.phase == IDisputeGame.Phase.Pick);
        bytes32[] memory c = _revealed[id];
        assertEq(c.length, 4);
        bytes32 first = trace.leaves(g.path)[0];
        assertEq(c[0], first);
        vm.expectEmit(address(game));
        emit IDisputeGame.Picked(id, uint8(level), 2, 0, first);
        vm.prank(CHALLENGER);
        game.pick(id, 0, first, ToyTree.pickProof(c, 0));
        g = game.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.Step);
        assertEq(uint256(g.level), level);
        assertEq(uint256(g.depth), 2);
        assertEq(uint256(g.index), 0);
        assertEq(g.node, first);
    }

    /// @dev The honest defender answers a disputed entry 0 with the proof that it is the parent's
    ///      entry before the disputed step, and wins at once; at level 1 (an expandable level) and at
    ///      the last level.
    function test_bind_honestDefenderBindsADisputedFirstEntryAndWins() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        ToyTrace honest = _honest(sizes);
        for (uint256 level = 1; level <= 2; ++level) {
            uint256 id = _open(game, honest);
            _disputeEntry(id, honest, 3);
            _defend(game, id, honest);
            if (level == 2) {
                _disputeEntry(id, honest, 2);
                _defend(game, id, honest);
            }
            _disputeEntry(id, honest, 0);
            IDisputeGame.GameView memory g = game.getGame(id);
            assertEq(uint256(g.level), level);
            assertEq(uint256(g.index), 0);
            bytes32[] memory proof = honest.bindProof(g);
            // The parent's tree: 5 entries at level 0 (depth 3), 4 at level 1 (depth 2).
            assertEq(proof.length, level == 1 ? 3 : 2);
            // Only bind answers entry 0.
            vm.startPrank(DEFENDER);
            if (level == 1) {
                g.index = 1; // (for arguments that would do at a step: expand checks the index first)
                ToyTrace.Expansion memory x = honest.expandArgs(g, game.arityLog2());
                vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
                game.expand(id, x.subRoot, x.children, x.endProof);
            } else {
                g.index = 1;
                (bytes memory pre, bytes memory post, bytes32[] memory preProof,) = honest.stepArgs(g);
                vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
                game.step(id, pre, post, preProof, new bytes32[](0));
            }
            vm.warp(block.timestamp + 7);
            vm.expectEmit(address(game));
            emit IDisputeGame.GameResolved(id, IDisputeGame.Phase.DefenderWon, false);
            game.bind(id, proof);
            vm.stopPrank();
            g = game.getGame(id);
            assertTrue(g.phase == IDisputeGame.Phase.DefenderWon);
            assertEq(uint256(g.level), level);
            assertEq(uint256(g.lastMove), block.timestamp);
            vm.prank(DEFENDER);
            vm.expectRevert(abi.encodeWithSelector(GameOver.selector, id));
            game.bind(id, proof);
            vm.expectRevert(abi.encodeWithSelector(GameOver.selector, id));
            game.timeout(id);
        }
    }

    function test_bind_rejectsAWrongOrShortProof() public {
        uint64[] memory sizes = _sizes(6, 4);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, honest);
        _disputeEntry(id, honest, 3);
        _defend(game, id, honest);
        _disputeEntry(id, honest, 0);
        IDisputeGame.GameView memory g = game.getGame(id);
        bytes32[] memory proof = honest.bindProof(g);
        assertEq(proof.length, 3);
        bytes32[] memory flipped = honest.bindProof(g);
        flipped[2] = bytes32(uint256(flipped[2]) ^ 1);
        // Level 0's entry 3 (the disputed step) and entry 1 are not entry 2.
        bytes32[] memory ofStep = ToyTree.proof(honest.leaves(new uint64[](0)), 3);
        bytes32[] memory ofOther = ToyTree.proof(honest.leaves(new uint64[](0)), 1);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, _copy(proof, 2));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, _append(proof, bytes32(0)));
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, flipped);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, ofStep);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, ofOther);
        assertEq(_gameHash(id), before);
        game.bind(id, proof);
        vm.stopPrank();
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
    }

    /// @dev bind answers only a disputed entry 0 below level 0: not a step of level 0, not another
    ///      entry below it, not in a reveal or a pick, and only from the defender.
    function test_bind_rejectsOtherEntriesLevel0AndOtherPhases() public {
        uint64[] memory sizes = _sizes(5, 4, 3);
        ToyTrace honest = _honest(sizes);
        uint256 id = _open(game, honest);
        bytes32[] memory none = new bytes32[](0);
        bytes32[] memory proof = new bytes32[](3);
        // Reveal at level 0.
        vm.prank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Reveal)));
        game.bind(id, none);
        _defend(game, id, honest);
        // Pick: the challenger's turn.
        vm.prank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(NotYourTurn.selector, id, DEFENDER));
        game.bind(id, none);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Pick)));
        game.bind(id, none);
        // A step of level 0 (its entry 0 cannot be disputed).
        _disputeEntry(id, honest, 1);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.Step);
        assertEq(uint256(g.level), 0);
        bytes32[] memory ofEntry0 = ToyTree.proof(honest.leaves(new uint64[](0)), 0);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.bind(id, none);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.bind(id, ofEntry0);
        vm.stopPrank();
        assertEq(_gameHash(id), before);
        // Entries 1 and 3 (the last) of level 1.
        _defend(game, id, honest);
        for (uint256 target = 1; target <= 3; target += 2) {
            uint256 other = target == 1 ? id : _open(game, honest);
            if (target == 3) {
                _disputeEntry(other, honest, 1);
                _defend(game, other, honest);
            }
            _disputeEntry(other, honest, target);
            g = game.getGame(other);
            assertEq(uint256(g.level), 1);
            assertEq(uint256(g.index), target);
            before = _gameHash(other);
            vm.prank(DEFENDER);
            vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, other, uint8(IDisputeGame.Phase.Step)));
            game.bind(other, proof);
            vm.prank(CHALLENGER);
            vm.expectRevert(abi.encodeWithSelector(NotYourTurn.selector, other, CHALLENGER));
            game.bind(other, proof);
            assertEq(_gameHash(other), before);
        }
    }

    // ------------------------------------------------------------ forged expansions

    /// @dev A liar whose level-0 entry 3 is wrong expands step 3 into a list whose entry 0 is wrong
    ///      and the rest honest: the honest challenger disputes entry 0, the liar cannot bind it to
    ///      the agreed entry 2, and loses on time.
    function test_play_aWrongFirstEntryOfAnExpansionCannotBeBound() public {
        uint64[] memory sizes = _sizes(6, 5);
        ToyTrace honest = _honest(sizes);
        ToyTrace liar = _honest(sizes);
        uint64[] memory step3 = new uint64[](1);
        step3[0] = 3;
        liar.forge(new uint64[](0), 3, 0x77);
        liar.forge(step3, 0, 0x5);
        uint256 id = _open(game, liar);
        _toStep(id, liar, honest);
        assertEq(uint256(game.getGame(id).index), 3);
        assertTrue(_defend(game, id, liar)); // expand
        // Only entries 0 and 4 (the last, still the honest step's output) differ from the honest list.
        bytes32[] memory mine = liar.leaves(step3);
        bytes32[] memory theirs = honest.leaves(step3);
        assertTrue(mine[0] != theirs[0]);
        assertEq(mine[1], theirs[1]);
        assertEq(mine[4], theirs[4]);
        _toStep(id, liar, honest);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertEq(uint256(g.level), 1);
        assertEq(uint256(g.index), 0);
        assertEq(g.node, mine[0]);
        assertFalse(liar.canDefend(g));
        assertFalse(_defend(game, id, liar));
        bytes32[] memory ownProof = liar.bindProof(g);
        bytes32[] memory theirProof = honest.bindProof(g);
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, ownProof);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "first entry"));
        game.bind(id, theirProof);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.step(id, abi.encodePacked(uint64(1)), abi.encodePacked(uint64(2)), new bytes32[](0), new bytes32[](0));
        vm.stopPrank();
        assertEq(_gameHash(id), before);
        vm.warp(block.timestamp + game.getGame(id).defenderClock + 1);
        vm.expectEmit(address(game));
        emit IDisputeGame.GameResolved(id, IDisputeGame.Phase.ChallengerWon, true);
        game.timeout(id);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
    }

    /// @dev A liar whose level-0 entry 3 is wrong expands step 3 honestly: no revealed child differs
    ///      from the honest challenger's, which then disputes the list's last entry (the honest step's
    ///      output). The liar cannot prove it is its entry 3, at an expansion (3 levels) or at the
    ///      one-step (2 levels), and loses on time.
    function test_play_anHonestExpansionOfAWrongEntryCannotProveItsLastEntry() public {
        for (uint256 levels = 2; levels <= 3; ++levels) {
            uint64[] memory sizes = levels == 2 ? _sizes(6, 5) : _sizes(6, 5, 3);
            ToyTrace honest = _honest(sizes);
            ToyTrace liar = _honest(sizes);
            liar.forge(new uint64[](0), 3, 0x77);
            uint256 id = _open(game, liar);
            _toStep(id, liar, honest);
            assertTrue(_defend(game, id, liar)); // expand
            uint64[] memory step3 = new uint64[](1);
            step3[0] = 3;
            assertEq(game.getGame(id).root, honest.root(step3));
            _toStep(id, liar, honest);
            IDisputeGame.GameView memory g = game.getGame(id);
            assertEq(uint256(g.level), 1);
            assertEq(uint256(g.index), 4);
            assertEq(g.node, honest.leaves(step3)[4]);
            assertFalse(liar.canDefend(g));
            assertFalse(_defend(game, id, liar));
            bytes32[] memory own = liar.endProof(g);
            bytes32[] memory short = _copy(own, 2);
            assertEq(own.length, 3);
            bytes32 before = _gameHash(id);
            vm.startPrank(DEFENDER);
            if (levels == 3) {
                ToyTrace.Expansion memory x = liar.expandArgs(g, game.arityLog2());
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.expand(id, x.subRoot, x.children, own);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.expand(id, x.subRoot, x.children, short);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.expand(id, x.subRoot, x.children, new bytes32[](0));
            } else {
                (bytes memory pre, bytes memory post, bytes32[] memory preProof,) = liar.stepArgs(g);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, own);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, short);
                vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "last entry"));
                game.step(id, pre, post, preProof, new bytes32[](0));
            }
            vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
            game.bind(id, own);
            vm.stopPrank();
            assertEq(_gameHash(id), before);
            _expire(game, id);
            assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
        }
    }

    function _at(uint64[] memory path, uint256 n) internal pure returns (uint64[] memory p) {
        p = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            p[i] = path[i];
        }
    }

    function test_expand_recordsTheRootOfEveryLevel() public {
        uint64[] memory sizes = _sizes(6, 4, 5);
        uint64[] memory fault = new uint64[](3);
        (fault[0], fault[1], fault[2]) = (4, 3, 2);
        ToyTrace liar = _trace(sizes, 3, fault, 0x40);
        ToyTrace honest = _trace(sizes, 3, new uint64[](0), 0);
        uint256 id = _open(game, liar);
        for (uint256 level; level < 3; ++level) {
            _toStep(id, liar, honest);
            IDisputeGame.GameView memory g = game.getGame(id);
            assertEq(uint256(g.level), level);
            assertEq(g.roots.length, level + 1);
            for (uint256 k; k <= level; ++k) {
                assertEq(g.roots[k], liar.root(_at(fault, k)));
            }
            assertEq(g.root, g.roots[level]);
            if (level < 2) _defend(game, id, liar); // expand
        }
    }

    function test_step_verifierReceivesThePathAndTheRootsOfEveryLevel() public {
        uint64[] memory sizes = _sizes(6, 4, 5);
        uint64[] memory fault = new uint64[](3);
        (fault[0], fault[1], fault[2]) = (4, 3, 2);
        ToyTrace honest = _trace(sizes, 3, new uint64[](0), 0);
        ToyTrace liar = _trace(sizes, 3, fault, 0x40);
        uint256 id = game.create(DEFENDER, CHALLENGER, honest.root(new uint64[](0)), sizes, bytes32(uint256(0xC0)));
        for (uint256 level; level < 3; ++level) {
            _toStep(id, honest, liar);
            if (level < 2) _defend(game, id, honest); // expand
        }
        IDisputeGame.GameView memory g = game.getGame(id);
        bytes32[] memory roots = new bytes32[](3);
        for (uint256 k; k < 3; ++k) {
            roots[k] = honest.root(_at(fault, k));
        }
        (bytes memory pre, bytes memory post, bytes32[] memory preProof, bytes32[] memory end) = honest.stepArgs(g);
        vm.expectCall(
            address(toy), abi.encodeCall(IStepVerifier.verify, (bytes32(uint256(0xC0)), fault, roots, pre, post))
        );
        vm.prank(DEFENDER);
        game.step(id, pre, post, preProof, end);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
    }

    /// @dev The toy one-step proves its operands against every root it is given, so a game that
    ///      passed wrong roots would fail honest steps.
    function test_verify_toyStepNeedsTheRootsOfItsLists() public {
        uint64[] memory sizes = _sizes(6, 4, 5);
        uint64[] memory path = new uint64[](3);
        (path[0], path[1], path[2]) = (4, 3, 2);
        ToyTrace honest = _honest(sizes);
        IDisputeGame.GameView memory g;
        g.path = _at(path, 2);
        g.index = 2;
        (bytes memory pre, bytes memory post,,) = honest.stepArgs(g);
        bytes32[] memory roots = new bytes32[](3);
        for (uint256 k; k < 3; ++k) {
            roots[k] = honest.root(_at(path, k));
        }
        assertTrue(toy.verify(0, path, roots, pre, post));
        for (uint256 k; k < 3; ++k) {
            bytes32 right = roots[k];
            roots[k] = bytes32(uint256(right) ^ 1);
            assertFalse(toy.verify(0, path, roots, pre, post));
            roots[k] = right;
        }
        (roots[1], roots[2]) = (roots[2], roots[1]);
        assertFalse(toy.verify(0, path, roots, pre, post));
        (roots[1], roots[2]) = (roots[2], roots[1]);
        assertFalse(toy.verify(0, path, _copy(roots, 2), pre, post));
        assertFalse(toy.verify(0, path, roots, pre, abi.encodePacked(uint64(bytes8(post)) ^ 1)));
        assertFalse(toy.verify(0, path, roots, bytes.concat(pre, hex"00"), post));
    }

    // ------------------------------------------------------------ whole games

    /// @dev Plays game `id` to its end, one second a move; a defender without a move (a forger whose
    ///      lists cannot back it) lets its clock run out. Returns whether the game ended on time.
    function _playOut(uint256 id, ToyTrace defender, ToyTrace challenger, bool randomChallenger, uint256 seed)
        internal
        returns (bool timedOut)
    {
        for (uint256 moves; moves < 200; ++moves) {
            IDisputeGame.Phase p = game.phaseOf(id);
            vm.warp(block.timestamp + 1);
            if (p == IDisputeGame.Phase.Pick) {
                seed = uint256(keccak256(abi.encode(seed)));
                bool moved = randomChallenger ? _randomPick(game, id, seed) : _challenge(game, id, challenger);
                assertTrue(moved, "the challenger always has a legal pick");
            } else if (p == IDisputeGame.Phase.Reveal || p == IDisputeGame.Phase.Step) {
                if (!_defend(game, id, defender)) {
                    _expire(game, id);
                    return true;
                }
            } else {
                return false;
            }
        }
        revert("game too long");
    }

    /// @dev A liar of 2 or 3 levels, of one of four kinds: 0, a wrong primitive at `fault` (every list
    ///      consistent with its parent); 1, that and a forged entry 0 of its list at `fault[0:forged]`
    ///      (disputed by the challenger, it cannot be bound); 2, level 0's entry `fault[0]` forged alone
    ///      (its expansion is honest: the challenger disputes that list's last entry, which the liar
    ///      cannot prove); 3, the wrong primitive and a forged last entry of the list at `fault[0:forged]`.
    ///      The honest challenger wins every game, where the fault and the forgery lead it.
    function testFuzz_play_honestChallengerRefutesAnyFault(uint256 seed) public {
        uint256 levels = 2 + (seed >> 255);
        uint64[] memory sizes = levels == 2
            ? _sizes(uint64(bound(seed, 2, 11)), uint64(bound(seed >> 8, 2, 6)))
            : _sizes(uint64(bound(seed, 2, 7)), uint64(bound(seed >> 8, 2, 5)), uint64(bound(seed >> 164, 2, 4)));
        uint64[] memory fault = new uint64[](levels);
        fault[0] = uint64(bound(seed >> 16, 1, sizes[0] - 1));
        fault[1] = uint64(bound(seed >> 24, 1, sizes[1] - 1));
        if (levels == 3) fault[2] = uint64(bound(seed >> 172, 1, sizes[2] - 1));
        uint64 mask = uint64(bound(seed >> 32, 1, type(uint64).max));
        uint256 kind = (seed >> 180) % 4;
        uint256 forged = 1 + (seed >> 188) % (levels - 1);
        uint64 forgery = uint64(bound(seed >> 196, 1, type(uint64).max));
        ToyTrace liar = _trace(sizes, uint64(seed >> 100), fault, kind == 2 ? 0 : mask);
        ToyTrace honest = _trace(sizes, uint64(seed >> 100), new uint64[](0), 0);
        if (kind == 1) liar.forge(_at(fault, forged), 0, forgery);
        if (kind == 2) liar.forge(new uint64[](0), fault[0], forgery);
        if (kind == 3) liar.forge(_at(fault, forged), sizes[forged] - 1, forgery);
        uint256 id = _open(game, liar);
        bool timedOut = _playOut(id, liar, honest, false, seed);
        IDisputeGame.GameView memory g = game.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.ChallengerWon);
        // Where the game ended: the level, and the disputed entry.
        uint256 level = levels - 1;
        uint256 index = fault[level];
        if (kind == 1) (level, index) = (forged, 0);
        if (kind == 2) (level, index) = (1, sizes[1] - 1);
        bool forgedLast = kind == 3 && fault[forged] == sizes[forged] - 1;
        if (forgedLast) (level, index) = (forged, sizes[forged] - 1);
        // Only a consistent step meets the verifier; a forgery's list loses on time.
        assertEq(timedOut, kind == 1 || kind == 2 || forgedLast);
        assertEq(uint256(g.level), level);
        assertEq(uint256(g.index), index);
        for (uint256 l; l < level; ++l) {
            assertEq(uint256(g.path[l]), uint256(fault[l]));
        }
    }

    /// @dev Random picks (entry 0 and the last entry of lower lists among them) against the honest
    ///      defender: it wins every game, by a bind or by the one-step.
    function testFuzz_play_honestDefenderBeatsRandomPicks(uint256 seed) public {
        uint64[] memory sizes = _sizes(uint64(bound(seed, 2, 9)), uint64(bound(seed >> 8, 2, 5)), 3);
        ToyTrace honest = _trace(sizes, uint64(seed >> 64), new uint64[](0), 0);
        uint256 id = _open(game, honest);
        assertFalse(_playOut(id, honest, honest, true, seed));
        IDisputeGame.GameView memory g = game.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.DefenderWon);
        // A bind of a disputed entry 0 (below level 0), or the one-step at the last level.
        assertTrue(g.index == 0 ? g.level >= 1 : g.level == 2);
    }

    function test_play_arity16ThreeLevels() public {
        DisputeGame wide = new DisputeGame(toy, 4, 1 days);
        game = wide;
        uint64[] memory sizes = _sizes(20, 6, 3);
        uint64[] memory fault = new uint64[](3);
        (fault[0], fault[1], fault[2]) = (17, 5, 2);
        ToyTrace liar = _trace(sizes, 4, fault, 1);
        uint256 id = _open(wide, liar);
        assertFalse(_playOut(id, liar, _trace(sizes, 4, new uint64[](0), 0), false, 0));
        IDisputeGame.GameView memory g = wide.getGame(id);
        assertTrue(g.phase == IDisputeGame.Phase.ChallengerWon);
        assertEq(uint256(g.path[0]), 17);
        assertEq(uint256(g.path[1]), 5);
        assertEq(uint256(g.index), 2);
    }

    // ------------------------------------------------------------ gas

    /// @dev One dissection round (reveal of 16 + pick) at d = 4 on a 2^16-entry list, each move
    ///      measured as its own transaction: the gas inside the game with cold storage (`vm.cool`,
    ///      `lastCallGas`), plus the 21000 base and the calldata cost (EIP-2028: 4 gas per zero byte,
    ///      16 per other byte).
    function test_gas_dissectionMovesAtArity16() public {
        DisputeGame wide = new DisputeGame(toy, 4, 1 days);
        bytes32[] memory c = new bytes32[](16);
        for (uint256 i; i < 16; ++i) {
            c[i] = keccak256(abi.encode(i));
        }
        bytes32 root = Merkle.rootOfPow2(_copy(c));
        uint256 id = wide.create(DEFENDER, CHALLENGER, root, _sizes(1 << 16, 1 << 16), bytes32(0));
        vm.warp(block.timestamp + 60);
        vm.cool(address(wide));
        vm.prank(DEFENDER);
        wide.reveal(id, c);
        uint256 revealGas = vm.lastCallGas().gasTotalUsed + _intrinsic(abi.encodeCall(wide.reveal, (id, c)));
        bytes32[] memory proof = ToyTree.pickProof(c, 5);
        vm.warp(block.timestamp + 60);
        vm.cool(address(wide));
        vm.prank(CHALLENGER);
        wide.pick(id, 5, c[5], proof);
        uint256 pickGas = vm.lastCallGas().gasTotalUsed + _intrinsic(abi.encodeCall(wide.pick, (id, 5, c[5], proof)));
        vm.snapshotValue("DisputeGame", "reveal16_tx", revealGas);
        vm.snapshotValue("DisputeGame", "pick16_tx", pickGas);
        assertLe(revealGas, 80_000, "reveal of 16 children");
        assertLe(pickGas, 80_000, "pick among 16 children");
        assertTrue(wide.phaseOf(id) == IDisputeGame.Phase.Reveal);
    }

    /// @dev The moves of a three-level game at d = 4 below level 0's dissection, through
    ///      PrimitiveStepVerifier, on lists of 2^4, 2^6 and 2^24 entries (a trace, a layer's op
    ///      sub-trace, an op's micro list: SPEC 6.8), each measured as its own transaction like the
    ///      dissection moves (`_tx`). An expansion carries the new list's first reveal (16 children)
    ///      and only updates storage (`create` wrote its slots). Three games: steps inside each list
    ///      (the two expansions and the one-step, no end proofs); the last entry of levels 1 and 2
    ///      (the expansion into level 2 proves its step is level 0's entry 9, 4 hashes; the one-step
    ///      proves its output is level 1's entry 63, 6 hashes); entry 0 of level 2 (a bind, 6 hashes).
    function test_gas_expandAndStepOfAThreeLevelGameAtArity16() public {
        PrimitiveStepVerifier primitive = new PrimitiveStepVerifier();
        DisputeGame wide = new DisputeGame(primitive, 4, 1 days);
        bytes memory pre = abi.encodePacked(uint8(0x01), uint32(0x3f800000), uint32(0x40000000), uint32(0));
        bytes memory post = abi.encodePacked(uint32(0x40400000)); // 1 + 2 = 3
        bytes32[] memory none = new bytes32[](0);

        uint256[3] memory steps = [uint256(9), 37, (1 << 23) + 12_345];
        (uint256 id, SparseTree.Tree[3] memory lists, uint256[2] memory expandGas) =
            _threeLevelGame(wide, steps, pre, post);
        uint256 stepGas =
            _tx(wide, abi.encodeCall(wide.step, (id, pre, post, SparseTree.proof(lists[2], steps[2] - 1), none)));
        assertTrue(wide.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
        assertEq(wide.getGame(id).roots.length, 3);

        steps = [uint256(9), 63, (1 << 24) - 1];
        uint256[2] memory lastGas;
        (id, lists, lastGas) = _threeLevelGame(wide, steps, pre, post);
        uint256 stepLastGas = _tx(
            wide,
            abi.encodeCall(
                wide.step, (id, pre, post, SparseTree.proof(lists[2], steps[2] - 1), SparseTree.proof(lists[1], 63))
            )
        );
        assertTrue(wide.phaseOf(id) == IDisputeGame.Phase.DefenderWon);

        steps = [uint256(9), 37, 0];
        (id, lists,) = _threeLevelGame(wide, steps, pre, post);
        bytes32[] memory bindProof = SparseTree.proof(lists[1], 36);
        uint256 bindGas = _tx(wide, abi.encodeCall(wide.bind, (id, bindProof)));
        assertTrue(wide.phaseOf(id) == IDisputeGame.Phase.DefenderWon);

        vm.snapshotValue("DisputeGame", "expand_to_level1_tx", expandGas[0]);
        vm.snapshotValue("DisputeGame", "expand_to_level2_tx", expandGas[1]);
        vm.snapshotValue("DisputeGame", "expand_to_level2_last_tx", lastGas[1]);
        vm.snapshotValue("DisputeGame", "step_level2_tx", stepGas);
        vm.snapshotValue("DisputeGame", "step_level2_last_tx", stepLastGas);
        vm.snapshotValue("DisputeGame", "bind_level2_tx", bindGas);
        // An expansion pays a first reveal (16 children: 512 calldata bytes and their tree), updates
        // of the path and root slots, and at a last entry an end proof into the parent's tree.
        assertLe(expandGas[0], 80_000, "expansion into level 1 (2^6 entries) with 16 children");
        assertLe(expandGas[1], 80_000, "expansion into level 2 (2^24 entries) with 16 children");
        assertLe(lastGas[0], 80_000, "expansion of level 0's step 9, again");
        assertLe(lastGas[1], 80_000, "expansion of level 1's last entry, with a 4-hash end proof");
        assertLe(stepGas, 120_000, "one-step with 24-hash proof, 3 levels");
        assertLe(stepLastGas, 120_000, "one-step at level 2's last entry, with a 6-hash end proof");
        assertLe(bindGas, 80_000, "bind of level 2's entry 0, 6 hashes");
    }

    /// @dev Opens a three-level game on `wide` (d = 4) over sparse lists of 2^4, 2^6 and 2^24 entries
    ///      and plays it to the defender's answer at level 2's entry `steps[2]`, disputing `steps[l]`
    ///      at each level; each list opens its disputed step's input and output (`pre`'s and `post`'s
    ///      hashes at level 2), and below level 0 its first and last entries are those of its
    ///      parent's step. Returns the gas of the two expansions (`_tx`).
    function _threeLevelGame(DisputeGame wide, uint256[3] memory steps, bytes memory pre, bytes memory post)
        internal
        returns (uint256 id, SparseTree.Tree[3] memory lists, uint256[2] memory expandGas)
    {
        uint256[3] memory depths = [uint256(4), 6, 24];
        // Level 2's step input and output, then the entries around each parent's step.
        bytes32 in2 = steps[2] == 0 ? keccak256("x") : keccak256(pre);
        bytes32 out2 = steps[2] == 0 ? in2 : keccak256(post);
        bytes32 first2 = steps[2] == 1 ? in2 : keccak256("x");
        bytes32 last2 = steps[2] == (1 << depths[2]) - 1 ? out2 : keccak256("y");
        bytes32 first1 = steps[1] == 1 ? first2 : keccak256("a");
        bytes32 last1 = steps[1] == (1 << depths[1]) - 1 ? last2 : keccak256("b");
        uint256 in2At = steps[2] == 0 ? 0 : steps[2] - 1;
        lists[0] = _sparse(depths[0], [steps[0] - 1, steps[0], steps[0], steps[0]], [first1, last1, last1, last1]);
        lists[1] = _sparse(
            depths[1], [uint256(0), steps[1] - 1, steps[1], (1 << depths[1]) - 1], [first1, first2, last2, last1]
        );
        lists[2] = _sparse(depths[2], [uint256(0), in2At, steps[2], (1 << depths[2]) - 1], [first2, in2, out2, last2]);
        uint64[] memory sizes = _sizes(uint64(1) << depths[0], uint64(1) << depths[1], uint64(1) << depths[2]);
        id = wide.create(DEFENDER, CHALLENGER, SparseTree.root(lists[0]), sizes, 0);
        bytes32[] memory c;
        for (uint256 level; level < 3; ++level) {
            SparseTree.Tree memory t = lists[level];
            uint256 target = steps[level];
            for (uint256 depth; depth < t.depth;) {
                uint256 k = t.depth - depth < 4 ? t.depth - depth : 4;
                // Below level 0 the expansion made the list's first reveal.
                if (level == 0 || depth != 0) {
                    c = SparseTree.descendants(t, depth, target >> (t.depth - depth), k);
                    vm.prank(DEFENDER);
                    wide.reveal(id, c);
                }
                uint256 child = (target >> (t.depth - depth - k)) & ((1 << k) - 1);
                vm.prank(CHALLENGER);
                wide.pick(id, child, c[child], ToyTree.pickProof(c, child));
                depth += k;
            }
            if (level == 2) break;
            SparseTree.Tree memory sub = lists[level + 1];
            c = SparseTree.descendants(sub, 0, 0, 4);
            bytes32[] memory end = level > 0 && target == (1 << t.depth) - 1
                ? SparseTree.proof(lists[level - 1], steps[level - 1])
                : new bytes32[](0);
            expandGas[level] = _tx(wide, abi.encodeCall(wide.expand, (id, SparseTree.root(sub), c, end)));
        }
    }

    /// @dev The defender sends `call` to `wide` as its own transaction a minute after the last move:
    ///      the game's and its verifier's storage cold (`vm.cool`), the gas inside the game
    ///      (`lastCallGas`) plus the 21000 base and the calldata cost (`_intrinsic`).
    function _tx(DisputeGame wide, bytes memory call) internal returns (uint256) {
        address verifier = address(wide.verifier());
        vm.warp(block.timestamp + 60);
        vm.cool(address(wide));
        vm.cool(verifier);
        vm.prank(DEFENDER);
        (bool ok, bytes memory ret) = address(wide).call(call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return vm.lastCallGas().gasTotalUsed + _intrinsic(call);
    }

    function _sparse(uint256 depth, uint256[4] memory at, bytes32[4] memory leaf)
        internal
        pure
        returns (SparseTree.Tree memory t)
    {
        t.depth = depth;
        t.fill = keccak256("filler");
        t.at = new uint256[](4);
        t.leaf = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            (t.at[i], t.leaf[i]) = (at[i], leaf[i]);
        }
    }

    function _intrinsic(bytes memory data) internal pure returns (uint256 gas) {
        gas = 21_000;
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    function _append(bytes32[] memory a, bytes32 x) internal pure returns (bytes32[] memory b) {
        b = _copy(a, a.length + 1);
        b[a.length] = x;
    }

    function _copy(bytes32[] memory a) internal pure returns (bytes32[] memory) {
        return _copy(a, a.length);
    }

    /// @dev The first `n` words of `a`, zero-padded past its end.
    function _copy(bytes32[] memory a, uint256 n) internal pure returns (bytes32[] memory b) {
        b = new bytes32[](n);
        for (uint256 i; i < n && i < a.length; ++i) {
            b[i] = a[i];
        }
    }
}
