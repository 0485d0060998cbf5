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

    function test_expand_rejectsBadProofsAndAOneStepAboveTheLastLevel() public {
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
        bytes32[] memory forged = liar.expandArgs(g, game.arityLog2()).children;
        forged[3] = bytes32(uint256(0xEE));
        bytes32 before = _gameHash(id);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "step input"));
        game.expand(id, bytes32(uint256(x.pre) ^ 1), x.preProof, x.subRoot, x.first, x.last, x.children);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "expansion's first entry"));
        game.expand(id, x.pre, x.preProof, x.subRoot, x.last, x.last, x.children);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "expansion's last entry"));
        game.expand(id, x.pre, x.preProof, x.subRoot, x.first, x.first, x.children);
        vm.expectRevert(abi.encodeWithSelector(ChildCount.selector, 4, 2));
        game.expand(id, x.pre, x.preProof, x.subRoot, x.first, x.last, x.first);
        vm.expectRevert(ChildrenMismatch.selector);
        game.expand(id, x.pre, x.preProof, x.subRoot, x.first, x.last, forged);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.step(id, abi.encodePacked(uint64(1)), abi.encodePacked(uint64(2)), x.preProof);
        assertEq(_gameHash(id), before);
        vm.expectEmit(address(game));
        emit IDisputeGame.Expanded(id, 0, 3, x.subRoot);
        vm.expectEmit(address(game));
        emit IDisputeGame.Revealed(id, 1, 0, 0, x.children);
        game.expand(id, x.pre, x.preProof, x.subRoot, x.first, x.last, x.children);
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
        (bytes memory pre, bytes memory post, bytes32[] memory preProof) = liar.stepArgs(g);
        vm.startPrank(DEFENDER);
        vm.expectRevert(abi.encodeWithSelector(WrongAction.selector, id, uint8(IDisputeGame.Phase.Step)));
        game.expand(id, bytes32(0), preProof, bytes32(0), preProof, preProof, preProof);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "step output"));
        game.step(id, pre, pre, preProof);
        vm.expectRevert(abi.encodeWithSelector(BadProof.selector, "step input"));
        game.step(id, post, post, preProof);
        game.step(id, pre, post, preProof);
        vm.stopPrank();
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
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
        (bytes memory pre, bytes memory post, bytes32[] memory preProof) = honest.stepArgs(g);
        vm.expectCall(
            address(toy), abi.encodeCall(IStepVerifier.verify, (bytes32(uint256(0xC0)), fault, roots, pre, post))
        );
        vm.prank(DEFENDER);
        game.step(id, pre, post, preProof);
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
        (bytes memory pre, bytes memory post,) = honest.stepArgs(g);
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

    function _playOut(uint256 id, ToyTrace defender, ToyTrace challenger, bool randomChallenger, uint256 seed)
        internal
    {
        for (uint256 moves; moves < 200; ++moves) {
            IDisputeGame.Phase p = game.phaseOf(id);
            vm.warp(block.timestamp + 1);
            if (p == IDisputeGame.Phase.Pick) {
                seed = uint256(keccak256(abi.encode(seed)));
                bool moved = randomChallenger ? _randomPick(game, id, seed) : _challenge(game, id, challenger);
                assertTrue(moved, "the challenger always has a legal pick");
            } else if (p == IDisputeGame.Phase.Reveal || p == IDisputeGame.Phase.Step) {
                _defend(game, id, defender);
            } else {
                return;
            }
        }
        revert("game too long");
    }

    function testFuzz_play_honestChallengerRefutesAnyFault(uint256 seed) public {
        uint64[] memory sizes = _sizes(uint64(bound(seed, 2, 11)), uint64(bound(seed >> 8, 2, 6)));
        uint64[] memory fault = new uint64[](2);
        fault[0] = uint64(bound(seed >> 16, 1, sizes[0] - 1));
        fault[1] = uint64(bound(seed >> 24, 1, sizes[1] - 1));
        uint64 mask = uint64(bound(seed >> 32, 1, type(uint64).max));
        ToyTrace liar = _trace(sizes, uint64(seed >> 100), fault, mask);
        ToyTrace honest = _trace(sizes, uint64(seed >> 100), new uint64[](0), 0);
        uint256 id = _open(game, liar);
        _playOut(id, liar, honest, false, seed);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.ChallengerWon);
        assertEq(game.getGame(id).path.length, 1);
        assertEq(uint256(game.getGame(id).path[0]), uint256(fault[0]));
    }

    function testFuzz_play_honestDefenderBeatsRandomPicks(uint256 seed) public {
        uint64[] memory sizes = _sizes(uint64(bound(seed, 2, 9)), uint64(bound(seed >> 8, 2, 5)), 3);
        ToyTrace honest = _trace(sizes, uint64(seed >> 64), new uint64[](0), 0);
        uint256 id = _open(game, honest);
        _playOut(id, honest, honest, true, seed);
        assertTrue(game.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
        assertEq(game.getGame(id).path.length, 2);
    }

    function test_play_arity16ThreeLevels() public {
        DisputeGame wide = new DisputeGame(toy, 4, 1 days);
        game = wide;
        uint64[] memory sizes = _sizes(20, 6, 3);
        uint64[] memory fault = new uint64[](3);
        (fault[0], fault[1], fault[2]) = (17, 5, 2);
        ToyTrace liar = _trace(sizes, 4, fault, 1);
        uint256 id = _open(wide, liar);
        _playOut(id, liar, _trace(sizes, 4, new uint64[](0), 0), false, 0);
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

    /// @dev The two expansions and the one-step of a three-level game at d = 4 whose lists have
    ///      2^4, 2^6 and 2^24 entries (a trace, a layer's op sub-trace, an op's micro list: SPEC 6.8),
    ///      through PrimitiveStepVerifier, each measured as its own transaction like the dissection
    ///      moves. An expansion carries the new list's first reveal (16 children). The lists are
    ///      sparse: only the entries the game opens differ from a filler.
    function test_gas_expandAndStepOfAThreeLevelGameAtArity16() public {
        PrimitiveStepVerifier primitive = new PrimitiveStepVerifier();
        DisputeGame wide = new DisputeGame(primitive, 4, 1 days);
        bytes memory pre = abi.encodePacked(uint8(0x01), uint32(0x3f800000), uint32(0x40000000), uint32(0));
        bytes memory post = abi.encodePacked(uint32(0x40400000)); // 1 + 2 = 3
        uint256[3] memory steps = [uint256(9), 37, (1 << 23) + 12_345];
        (bytes32 a, bytes32 b, bytes32 x, bytes32 y) = (keccak256("a"), keccak256("b"), keccak256("x"), keccak256("y"));
        // Each list opens its disputed step's input and output; below level 0 its first and last
        // entries are those of the parent's step.
        SparseTree.Tree[3] memory lists = [
            _sparse(4, [uint256(8), 9, 9, 9], [a, b, b, b]),
            _sparse(6, [uint256(0), 36, 37, 63], [a, x, y, b]),
            _sparse(24, [uint256(0), steps[2] - 1, steps[2], (1 << 24) - 1], [x, keccak256(pre), keccak256(post), y])
        ];
        uint256 id = wide.create(DEFENDER, CHALLENGER, SparseTree.root(lists[0]), _sizes(1 << 4, 1 << 6, 1 << 24), 0);
        uint256[2] memory expandGas;
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
            bytes memory call = abi.encodeCall(
                wide.expand,
                (
                    id,
                    SparseTree.node(t, t.depth, target - 1),
                    SparseTree.proof(t, target - 1),
                    SparseTree.root(sub),
                    SparseTree.proof(sub, 0),
                    SparseTree.proof(sub, (1 << sub.depth) - 1),
                    c
                )
            );
            vm.warp(block.timestamp + 60);
            vm.cool(address(wide));
            vm.prank(DEFENDER);
            (bool ok,) = address(wide).call(call);
            expandGas[level] = vm.lastCallGas().gasTotalUsed + _intrinsic(call);
            assertTrue(ok, "expand");
        }
        bytes32[] memory preProof = SparseTree.proof(lists[2], steps[2] - 1);
        vm.warp(block.timestamp + 60);
        vm.cool(address(wide));
        vm.cool(address(primitive));
        vm.prank(DEFENDER);
        wide.step(id, pre, post, preProof);
        uint256 stepGas =
            vm.lastCallGas().gasTotalUsed + _intrinsic(abi.encodeCall(wide.step, (id, pre, post, preProof)));
        vm.snapshotValue("DisputeGame", "expand_to_level1_tx", expandGas[0]);
        vm.snapshotValue("DisputeGame", "expand_to_level2_tx", expandGas[1]);
        vm.snapshotValue("DisputeGame", "step_level2_tx", stepGas);
        // An expansion pays a first reveal (16 children: 512 calldata bytes and their tree) on top
        // of its proofs (2 x 6 hashes into the op sub-trace, 2 x 24 into a 2^24-step micro list)
        // and of the new path and root slots (the first expansion creates both arrays' slots).
        assertLe(expandGas[0], 170_000, "expansion into level 1 (2^6 entries) with 16 children");
        assertLe(expandGas[1], 190_000, "expansion into level 2 (2^24 entries) with 16 children");
        assertLe(stepGas, 120_000, "one-step with 24-hash proof, 3 levels");
        assertTrue(wide.phaseOf(id) == IDisputeGame.Phase.DefenderWon);
        assertEq(wide.getGame(id).roots.length, 3);
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

    function _copy(bytes32[] memory a) internal pure returns (bytes32[] memory) {
        return _copy(a, a.length);
    }

    function _copy(bytes32[] memory a, uint256 n) internal pure returns (bytes32[] memory b) {
        b = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            b[i] = a[i];
        }
    }
}
