// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {Claims} from "../src/Claims.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IClaims} from "../src/interfaces/IClaims.sol";
import {IDisputeGame} from "../src/interfaces/IDisputeGame.sol";
import {ToyStepVerifier} from "./harness/ToyStepVerifier.sol";
import {ToyTrace} from "./harness/ToyTrace.sol";
import {GamePlay} from "./harness/GamePlay.sol";
import {
    BondTooLow,
    ChallengeWindowClosed,
    ClaimMismatch,
    ClaimNotPending,
    GameNotOver,
    GamesOpen,
    UnknownChallenge,
    UnknownClaim
} from "../src/lib/Errors.sol";

/// @notice Claims with challenges: games opened against the claimant, payouts, finalization gates.
contract ClaimsGameTest is Test, GamePlay {
    ModelRegistry internal registry;
    ToyStepVerifier internal toy;
    DisputeGame internal game;
    Claims internal claims;
    bytes32 internal modelId;

    uint256 internal constant MIN_BOND = 1 ether;
    uint64 internal constant WINDOW = 1 days;
    uint64 internal constant CLOCK = 1 hours;
    address internal constant CLAIMANT = address(0xC1A1);
    address internal constant W1 = address(0x3001);
    address internal constant W2 = address(0x3002);
    address internal constant W3 = address(0x3003);

    ToyTrace internal honest;
    ToyTrace internal liar;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ModelRegistry();
        toy = new ToyStepVerifier();
        game = new DisputeGame(toy, 2, CLOCK);
        claims = new Claims(registry, game, MIN_BOND, WINDOW);
        modelId = registry.register(keccak256("weights"), keccak256("arch"), "toy");
        uint64[] memory sizes = new uint64[](2);
        (sizes[0], sizes[1]) = (7, 4);
        uint64[] memory fault = new uint64[](2);
        (fault[0], fault[1]) = (5, 2);
        honest = new ToyTrace(toy, sizes, 3, new uint64[](0), 0);
        liar = new ToyTrace(toy, sizes, 3, fault, 0x40);
        vm.deal(CLAIMANT, 100 ether);
        vm.deal(W1, 100 ether);
        vm.deal(W2, 100 ether);
        vm.deal(W3, 100 ether);
    }

    function _root(ToyTrace t) internal view returns (bytes32) {
        return t.root(new uint64[](0));
    }

    function _post(ToyTrace t, uint256 bond) internal returns (uint256) {
        ToyTrace.ClaimArgs memory a = t.claimArgs();
        vm.prank(CLAIMANT);
        return
            claims.postClaim{value: bond}(modelId, a.input, a.output, a.traceRoot, a.sizes, a.inputProof, a.outputProof);
    }

    /// @dev `who` challenges claim `claimId`, posted from trace `claimed`.
    function _challenge(uint256 claimId, ToyTrace claimed, address who, uint256 bond) internal returns (uint256) {
        ToyTrace.ClaimArgs memory a = claimed.claimArgs();
        vm.prank(who);
        return
            claims.challenge{value: bond}(
                claimId, modelId, keccak256(a.input), keccak256(a.output), a.traceRoot, a.sizes
            );
    }

    /// @dev Plays game `id` to the end: the defender from `def`; the challenger honest from `chal`,
    ///      or random picks when `chal` is zero.
    function _play(uint256 id, ToyTrace def, ToyTrace chal) internal {
        for (uint256 i; i < 100; ++i) {
            IDisputeGame.Phase p = game.phaseOf(id);
            if (p == IDisputeGame.Phase.Pick) {
                bool moved = address(chal) == address(0) ? _randomPick(game, id, i) : _challenge(game, id, chal);
                assertTrue(moved);
            } else if (p == IDisputeGame.Phase.Reveal || p == IDisputeGame.Phase.Step) {
                assertTrue(_defend(game, id, def));
            } else {
                return;
            }
        }
        revert("game too long");
    }

    function _drain(address who) internal {
        if (claims.balanceOf(who) == 0) return;
        vm.prank(who);
        claims.withdraw();
    }

    // ------------------------------------------------------------ challenge

    function test_challenge_opensAGameAgainstTheClaimant() public {
        uint256 c = _post(liar, 2 ether);
        uint256 g = _challenge(c, liar, W1, MIN_BOND);
        IDisputeGame.GameView memory v = game.getGame(g);
        assertEq(v.owner, address(claims));
        assertEq(v.defender, CLAIMANT);
        assertEq(v.challenger, W1);
        assertEq(v.root, _root(liar));
        assertEq(v.context, claims.getClaim(c).claimHash);
        assertEq(v.sizes.length, 2);
        IClaims.Challenge memory ch = claims.getChallenge(g);
        assertEq(ch.challenger, W1);
        assertEq(uint256(ch.bond), MIN_BOND);
        assertEq(uint256(ch.claimId), c);
        assertFalse(ch.settled);
        assertEq(uint256(claims.getClaim(c).openGames), 1);
        assertEq(claims.totalBonded(), 3 ether);
        assertEq(address(claims).balance, 3 ether);
    }

    function test_challenge_revertsOnBadBondMismatchClosedWindowAndUnknownClaim() public {
        uint256 c = _post(liar, MIN_BOND);
        (bytes32 lr, bytes32 hr, uint64[] memory sizes) = (_root(liar), _root(honest), liar.sizes());
        ToyTrace.ClaimArgs memory a = liar.claimArgs();
        (bytes32 ih, bytes32 oh) = (keccak256(a.input), keccak256(a.output));
        vm.prank(W1);
        vm.expectRevert(abi.encodeWithSelector(BondTooLow.selector, MIN_BOND - 1, MIN_BOND));
        claims.challenge{value: MIN_BOND - 1}(c, modelId, ih, oh, lr, sizes);
        vm.prank(W1);
        vm.expectRevert(abi.encodeWithSelector(ClaimMismatch.selector, c));
        claims.challenge{value: MIN_BOND}(c, modelId, ih, oh, hr, sizes);
        uint64[] memory other = liar.sizes();
        other[1] = 5;
        vm.prank(W1);
        vm.expectRevert(abi.encodeWithSelector(ClaimMismatch.selector, c));
        claims.challenge{value: MIN_BOND}(c, modelId, ih, oh, lr, other);
        vm.prank(W1);
        vm.expectRevert(abi.encodeWithSelector(UnknownClaim.selector, 9));
        claims.challenge{value: MIN_BOND}(9, modelId, ih, oh, lr, sizes);
        vm.warp(block.timestamp + WINDOW);
        vm.prank(W1);
        vm.expectRevert(abi.encodeWithSelector(ChallengeWindowClosed.selector, c, block.timestamp));
        claims.challenge{value: MIN_BOND}(c, modelId, ih, oh, lr, sizes);
        assertEq(address(claims).balance, MIN_BOND);
    }

    /// @dev A challenge as its own transaction: cold storage, the 21000 base, the calldata cost and the
    ///      gas inside `Claims` (`lastCallGas`), which opens the game, whose `create` writes every slot
    ///      the game's expansions will update. Of this suite's two-level claim and of a three-level
    ///      one, after a first challenge initialized the game counter.
    function test_challenge_gasOfTwoAndThreeLevelClaims() public {
        uint64[] memory sizes = new uint64[](3);
        (sizes[0], sizes[1], sizes[2]) = (7, 4, 3);
        ToyTrace deep = new ToyTrace(toy, sizes, 3, new uint64[](0), 0);
        uint256[2] memory ids = [_post(liar, MIN_BOND), _post(deep, MIN_BOND)];
        ToyTrace[2] memory traces = [liar, deep];
        _challenge(ids[0], liar, W1, MIN_BOND);
        uint256[2] memory gas;
        for (uint256 i; i < 2; ++i) {
            ToyTrace.ClaimArgs memory a = traces[i].claimArgs();
            bytes memory call = abi.encodeCall(
                claims.challenge, (ids[i], modelId, keccak256(a.input), keccak256(a.output), a.traceRoot, a.sizes)
            );
            vm.cool(address(claims));
            vm.cool(address(game));
            vm.prank(W2);
            (bool ok,) = address(claims).call{value: MIN_BOND}(call);
            assertTrue(ok);
            gas[i] = vm.lastCallGas().gasTotalUsed + 21_000 + _calldataGas(call);
            IDisputeGame.GameView memory v = game.getGame(i + 1);
            assertEq(v.challenger, W2);
            assertEq(v.sizes.length, 2 + i);
        }
        vm.snapshotValue("Claims", "challenge_2_levels_tx", gas[0]);
        vm.snapshotValue("Claims", "challenge_3_levels_tx", gas[1]);
        assertLe(gas[0], 320_000, "challenge of a two-level claim");
        assertLe(gas[1], 365_000, "challenge of a three-level claim");
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    // ------------------------------------------------------------ settle

    function test_settle_winningChallengersRejectTheClaimAndOnlyTheFirstGetsTheClaimBond() public {
        uint256 c = _post(liar, 5 ether);
        uint256 g1 = _challenge(c, liar, W1, 1 ether);
        uint256 g2 = _challenge(c, liar, W2, 2 ether);
        _play(g2, liar, honest);
        _play(g1, liar, honest);
        assertTrue(game.phaseOf(g1) == IDisputeGame.Phase.ChallengerWon);
        assertTrue(game.phaseOf(g2) == IDisputeGame.Phase.ChallengerWon);
        claims.settle(g2);
        assertTrue(claims.getClaim(c).status == IClaims.Status.Rejected);
        assertEq(claims.balanceOf(W2), 7 ether);
        vm.expectRevert(abi.encodeWithSelector(UnknownChallenge.selector, g2));
        claims.settle(g2);
        claims.settle(g1);
        assertEq(claims.balanceOf(W1), 1 ether);
        assertEq(claims.balanceOf(CLAIMANT), 0);
        assertEq(claims.totalBonded(), 0);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, c));
        claims.finalize(c);
        _drain(W1);
        _drain(W2);
        assertEq(address(claims).balance, 0);
    }

    function test_settle_losingChallengerBondGoesToTheClaimant() public {
        uint256 c = _post(honest, 2 ether);
        uint256 g = _challenge(c, honest, W1, 3 ether);
        vm.expectRevert(abi.encodeWithSelector(GameNotOver.selector, g));
        claims.settle(g);
        _play(g, honest, ToyTrace(address(0)));
        assertTrue(game.phaseOf(g) == IDisputeGame.Phase.DefenderWon);
        claims.settle(g);
        assertEq(claims.balanceOf(CLAIMANT), 3 ether);
        assertEq(claims.balanceOf(W1), 0);
        assertTrue(claims.getClaim(c).status == IClaims.Status.Pending);
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(c);
        assertEq(claims.balanceOf(CLAIMANT), 5 ether);
        _drain(CLAIMANT);
        assertEq(address(claims).balance, 0);
    }

    function test_settle_revertsForAGameNotOpenedByAChallenge() public {
        uint64[] memory sizes = honest.sizes();
        uint256 g = game.create(CLAIMANT, W1, _root(honest), sizes, bytes32(0));
        vm.warp(block.timestamp + 2 * CLOCK);
        game.timeout(g);
        vm.expectRevert(abi.encodeWithSelector(UnknownChallenge.selector, g));
        claims.settle(g);
        vm.expectRevert(abi.encodeWithSelector(UnknownChallenge.selector, g));
        claims.getChallenge(g);
    }

    function test_settle_timeoutOfAStallingClaimantRejectsTheClaim() public {
        uint256 c = _post(honest, 2 ether);
        uint256 g = _challenge(c, honest, W1, 1 ether);
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(g);
        claims.settle(g);
        assertTrue(claims.getClaim(c).status == IClaims.Status.Rejected);
        assertEq(claims.balanceOf(W1), 3 ether);
    }

    // ------------------------------------------------------------ finalize

    function test_finalize_waitsForEveryOpenGame() public {
        uint256 c = _post(honest, 2 ether);
        uint256 g1 = _challenge(c, honest, W1, 1 ether);
        uint256 g2 = _challenge(c, honest, W2, 1 ether);
        _play(g1, honest, ToyTrace(address(0)));
        _defend(game, g2, honest); // then the challenger of g2 stalls past its clock
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(GamesOpen.selector, c, 2));
        claims.finalize(c);
        claims.settle(g1);
        vm.expectRevert(abi.encodeWithSelector(GamesOpen.selector, c, 1));
        claims.finalize(c);
        game.timeout(g2);
        claims.settle(g2);
        claims.finalize(c);
        assertTrue(claims.getClaim(c).status == IClaims.Status.Finalized);
        assertEq(claims.balanceOf(CLAIMANT), 4 ether);
        assertEq(claims.totalBonded(), 0);
    }

    function testFuzz_settle_noWeiStuckAfterEveryGameResolves(uint256 seed) public {
        bool lying = seed & 1 == 1;
        ToyTrace claimed = lying ? liar : honest;
        uint256 c = _post(claimed, bound(seed >> 8, MIN_BOND, 10 ether));
        uint256 n = bound(seed >> 80, 1, 3);
        uint256[] memory games = new uint256[](n);
        address[3] memory ws = [W1, W2, W3];
        for (uint256 i; i < n; ++i) {
            games[i] = _challenge(c, claimed, ws[i], bound(seed >> (100 + 16 * i), MIN_BOND, 5 ether));
        }
        bool anyWatcher;
        for (uint256 i; i < n; ++i) {
            // an honest claim meets random picks; a false one an honest watcher or random picks
            bool watcher = lying && (seed >> (200 + i)) & 1 == 0;
            anyWatcher = anyWatcher || watcher;
            _play(games[n - 1 - i], claimed, watcher ? honest : ToyTrace(address(0)));
            claims.settle(games[n - 1 - i]);
        }
        vm.warp(block.timestamp + WINDOW);
        if (claims.getClaim(c).status == IClaims.Status.Pending) claims.finalize(c);
        assertTrue(lying || claims.getClaim(c).status == IClaims.Status.Finalized, "an honest claim survives");
        assertTrue(!anyWatcher || claims.getClaim(c).status == IClaims.Status.Rejected, "a watched false claim falls");
        assertEq(claims.totalBonded(), 0);
        _drain(CLAIMANT);
        _drain(W1);
        _drain(W2);
        _drain(W3);
        assertEq(address(claims).balance, 0);
    }
}
