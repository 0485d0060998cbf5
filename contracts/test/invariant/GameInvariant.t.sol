// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "../utils/Test.sol";
import {Claims} from "../../src/Claims.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {IClaims} from "../../src/interfaces/IClaims.sol";
import {IDisputeGame} from "../../src/interfaces/IDisputeGame.sol";
import {ToyStepVerifier} from "../harness/ToyStepVerifier.sol";
import {ToyTrace} from "../harness/ToyTrace.sol";
import {GamePlay} from "../harness/GamePlay.sol";

/// @notice Random claims (honest, or false: a faulty primitive, a forged first entry of an
///         expansion, or an honest expansion of a forged entry), challenges, moves, time jumps,
///         timeouts, settlements, finalizations and withdrawals. In every game one side plays the
///         honest toy-VM strategy and answers at once; the other plays randomly (random picks, its own
///         false trace, or stalls). Keeps the ghost ledger and counts every rule the invariants forbid.
contract GameHandler is GamePlay {
    Claims public immutable claims;
    DisputeGame public immutable game;
    bytes32 public immutable modelId;
    ToyTrace public immutable honest;
    /// @dev The false claims' traces (see GameInvariantTest.setUp).
    ToyTrace[3] public liars;

    address public constant CLAIMANT = address(0xC1A1);
    address[3] public watchers = [address(0x3001), address(0x3002), address(0x3003)];

    uint256 public ghostIn;
    uint256 public ghostOut;
    /// @dev A game won by the side not playing honestly.
    uint256 public dishonestWins;
    /// @dev A clock that moved other than "the mover's clock drops by the time it took".
    uint256 public clockViolations;
    /// @dev A finalization that succeeded while a game on the claim was open.
    uint256 public openFinalizations;

    mapping(uint256 claimId => bool) public isFalse;
    mapping(uint256 claimId => ToyTrace) public traceOf;
    uint256[] public gameIds;

    constructor(Claims claims_, DisputeGame game_, bytes32 modelId_, ToyTrace honest_, ToyTrace[3] memory liars_) {
        claims = claims_;
        game = game_;
        modelId = modelId_;
        honest = honest_;
        liars = liars_;
    }

    function _vm() internal pure returns (VmLike) {
        return VmLike(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    }

    function post(bool lying, uint256 which, uint256 bond) external {
        ToyTrace t = lying ? liars[which % 3] : honest;
        bond = 1 ether + bond % 5 ether;
        ToyTrace.ClaimArgs memory a = t.claimArgs();
        _vm().deal(CLAIMANT, CLAIMANT.balance + bond);
        _vm().prank(CLAIMANT);
        uint256 id = claims.postClaim{value: bond}(
            modelId, a.input, a.output, a.traceRoot, a.sizes, a.inputProof, a.outputProof
        );
        isFalse[id] = lying;
        traceOf[id] = t;
        ghostIn += bond;
    }

    function challenge(uint256 claimSeed, uint256 who, uint256 bond) external {
        uint256 n = claims.claimCount();
        if (n == 0) return;
        uint256 id = claimSeed % n;
        IClaims.Claim memory c = claims.getClaim(id);
        if (c.status != IClaims.Status.Pending || block.timestamp >= c.deadline) return;
        ToyTrace.ClaimArgs memory a = traceOf[id].claimArgs();
        address w = watchers[who % 3];
        bond = 1 ether + bond % 5 ether;
        _vm().deal(w, w.balance + bond);
        _vm().prank(w);
        uint256 g =
            claims.challenge{value: bond}(id, modelId, keccak256(a.input), keccak256(a.output), a.traceRoot, a.sizes);
        ghostIn += bond;
        gameIds.push(g);
        _honestReply(g);
    }

    /// @dev The adversary's move in a random game: a random pick against an honest claim, or the
    ///      liar's own moves for a false one (none where its lists cannot back one: it stalls); then
    ///      the honest side answers at once.
    function move(uint256 gameSeed, uint256 moveSeed) external {
        if (gameIds.length == 0) return;
        uint256 g = gameIds[gameSeed % gameIds.length];
        IDisputeGame.GameView memory before = game.getGame(g);
        if (uint8(before.phase) >= uint8(IDisputeGame.Phase.DefenderWon)) return;
        uint256 claimId = claims.getChallenge(g).claimId;
        bool moved;
        if (isFalse[claimId]) {
            if (before.phase != IDisputeGame.Phase.Pick && before.defenderClock >= block.timestamp - before.lastMove) {
                moved = _defend(game, g, traceOf[claimId]);
            }
        } else if (before.challengerClock >= block.timestamp - before.lastMove) {
            moved = _randomPick(game, g, moveSeed);
        }
        if (moved) _checkClocks(g, before);
        _honestReply(g);
    }

    /// @dev The honest side of game `g` moves until the adversary is to move or the game is over.
    function _honestReply(uint256 g) internal {
        uint256 claimId = claims.getChallenge(g).claimId;
        for (uint256 i; i < 4; ++i) {
            IDisputeGame.GameView memory before = game.getGame(g);
            if (uint8(before.phase) >= uint8(IDisputeGame.Phase.DefenderWon)) return;
            bool moved;
            if (isFalse[claimId]) {
                if (before.phase == IDisputeGame.Phase.Pick) moved = _challenge(game, g, honest);
            } else if (before.phase != IDisputeGame.Phase.Pick) {
                moved = _defend(game, g, honest);
            }
            if (!moved) return;
            _checkClocks(g, before);
        }
    }

    function _checkClocks(uint256 g, IDisputeGame.GameView memory b) internal {
        IDisputeGame.GameView memory a = game.getGame(g);
        uint256 spent = block.timestamp - b.lastMove;
        bool defenderMoved = b.phase != IDisputeGame.Phase.Pick;
        uint256 dWant = defenderMoved ? b.defenderClock - spent : b.defenderClock;
        uint256 cWant = defenderMoved ? b.challengerClock : b.challengerClock - spent;
        if (a.defenderClock != dWant || a.challengerClock != cWant || a.lastMove != block.timestamp) {
            ++clockViolations;
        }
    }

    /// @dev Time passes only while adversaries are to move (honest sides answer at once).
    function warp(uint256 s) external {
        _vm().warp(block.timestamp + s % 3 hours);
    }

    function timeout(uint256 gameSeed) external {
        if (gameIds.length == 0) return;
        try game.timeout(gameIds[gameSeed % gameIds.length]) {} catch {}
    }

    function settle(uint256 gameSeed) external {
        if (gameIds.length == 0) return;
        uint256 g = gameIds[gameSeed % gameIds.length];
        IDisputeGame.Phase p = game.phaseOf(g);
        if (uint8(p) >= uint8(IDisputeGame.Phase.DefenderWon)) {
            bool honestWon = isFalse[claims.getChallenge(g).claimId]
                ? p == IDisputeGame.Phase.ChallengerWon
                : p == IDisputeGame.Phase.DefenderWon;
            if (!honestWon) ++dishonestWins;
        }
        try claims.settle(g) {} catch {}
    }

    function finalize(uint256 claimSeed) external {
        uint256 n = claims.claimCount();
        if (n == 0) return;
        uint256 id = claimSeed % n;
        uint256 open = claims.getClaim(id).openGames;
        try claims.finalize(id) {
            if (open != 0) ++openFinalizations;
        } catch {}
    }

    function withdraw(uint256 who) external {
        address a = who % 4 == 3 ? CLAIMANT : watchers[who % 4];
        uint256 owed = claims.balanceOf(a);
        _vm().prank(a);
        try claims.withdraw() {
            ghostOut += owed;
        } catch {}
    }

    function gameCount() external view returns (uint256) {
        return gameIds.length;
    }
}

interface VmLike {
    function warp(uint256) external;
    function deal(address, uint256) external;
    function prank(address) external;
}

contract GameInvariantTest is Test {
    Claims internal claims;
    DisputeGame internal game;
    GameHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        ModelRegistry registry = new ModelRegistry();
        ToyStepVerifier toy = new ToyStepVerifier();
        game = new DisputeGame(toy, 2, 1 hours);
        claims = new Claims(registry, game, 1 ether, 1 days);
        bytes32 modelId = registry.register(keccak256("weights"), keccak256("arch"), "toy");
        uint64[] memory sizes = new uint64[](2);
        (sizes[0], sizes[1]) = (6, 5);
        uint64[] memory fault = new uint64[](2);
        (fault[0], fault[1]) = (4, 3);
        ToyTrace honest = new ToyTrace(toy, sizes, 11, new uint64[](0), 0);
        // A consistent liar (a wrong primitive); the same with a forged entry 0 of the expansion of
        // its step 4 (it cannot bind it); an honest trace but for its output, entry 5, forged (the
        // expansion of step 5 is honest: it cannot prove that list's last entry is its output).
        ToyTrace liar = new ToyTrace(toy, sizes, 11, fault, 0x1234);
        ToyTrace firstForger = new ToyTrace(toy, sizes, 11, fault, 0x1234);
        uint64[] memory step4 = new uint64[](1);
        step4[0] = 4;
        firstForger.forge(step4, 0, 0x99);
        ToyTrace outputForger = new ToyTrace(toy, sizes, 11, new uint64[](0), 0);
        outputForger.forge(new uint64[](0), 5, 0x4321);
        handler = new GameHandler(claims, game, modelId, honest, [liar, firstForger, outputForger]);
        targetContract(address(handler));
    }

    /// @dev Solvency: every wei held is owed, as a bond not yet paid out or a credited balance.
    function invariant_balanceEqualsBondsPlusCredits() public view {
        uint256 credited = claims.balanceOf(handler.CLAIMANT());
        for (uint256 i; i < 3; ++i) {
            credited += claims.balanceOf(handler.watchers(i));
        }
        assertEq(address(claims).balance, claims.totalBonded() + credited, "balance = bonded + credited");
        assertEq(address(claims).balance, handler.ghostIn() - handler.ghostOut(), "in - out");
    }

    /// @dev totalBonded is exactly the bonds of pending claims and unsettled challenges: once every
    ///      game is settled and every claim finalized or rejected, nothing stays bonded.
    function invariant_bondedIsPendingClaimsPlusOpenChallenges() public view {
        uint256 bonded;
        uint256 n = claims.claimCount();
        for (uint256 i; i < n; ++i) {
            IClaims.Claim memory c = claims.getClaim(i);
            if (c.status == IClaims.Status.Pending) bonded += c.bond;
        }
        for (uint256 i; i < handler.gameCount(); ++i) {
            IClaims.Challenge memory ch = claims.getChallenge(handler.gameIds(i));
            if (!ch.settled) bonded += ch.bond;
        }
        assertEq(claims.totalBonded(), bonded, "bonded = pending claims + open challenges");
    }

    /// @dev A claim never finalizes while a game on it is open.
    function invariant_noFinalizationWhileAGameIsOpen() public view {
        assertEq(handler.openFinalizations(), 0, "finalized with an open game");
        uint256 n = claims.claimCount();
        for (uint256 i; i < n; ++i) {
            IClaims.Claim memory c = claims.getClaim(i);
            if (c.status == IClaims.Status.Finalized) assertEq(uint256(c.openGames), 0, "finalized with open games");
        }
    }

    /// @dev Clocks only decrease, and only for the side that moved.
    function invariant_clocksRunOnlyForTheMover() public view {
        assertEq(handler.clockViolations(), 0, "clock moved for the wrong side");
    }

    /// @dev The honest side wins every game, against random moves, a consistent liar, forgers, and
    ///      stalling.
    function invariant_honestSideWins() public view {
        assertEq(handler.dishonestWins(), 0, "the dishonest side won a game");
        for (uint256 i; i < handler.gameCount(); ++i) {
            uint256 g = handler.gameIds(i);
            IDisputeGame.Phase p = game.phaseOf(g);
            if (p == IDisputeGame.Phase.DefenderWon) {
                assertFalse(handler.isFalse(claims.getChallenge(g).claimId));
            } else if (p == IDisputeGame.Phase.ChallengerWon) {
                assertTrue(handler.isFalse(claims.getChallenge(g).claimId));
            }
        }
    }
}
