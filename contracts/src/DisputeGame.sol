// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IStepVerifier} from "./interfaces/IStepVerifier.sol";
import {Merkle} from "./lib/Merkle.sol";
import {ListProofs} from "./lib/ListProofs.sol";
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
} from "./lib/Errors.sol";

/// @title DisputeGame
/// @notice k-ary dissection games (see IDisputeGame and docs/SPEC.md 7). The rules mirror the pure
///         model in bisection/src/game/rules.rs check for check: the same moves are accepted and
///         rejected for the same reasons, in the same order (game over, turn, clock, phase, then the
///         move's own checks), and a rejected move changes nothing.
/// @dev One difference of form, not of rule: a reveal's children are not stored (16 slots would cost
///      far more than the move); they are in the `Revealed` event and calldata, and a pick names the
///      child with its hash and its Merkle proof against the disputed node (which the reveal checked
///      the children hash to). The game holds no ether and calls only the step verifier, by
///      staticcall.
contract DisputeGame is IDisputeGame {
    /// @notice Most levels a game may have.
    uint256 public constant MAX_LEVELS = 16;
    /// @notice Most entries a list may have (keeps every index shift inside 64 bits).
    uint64 public constant MAX_LIST_SIZE = uint64(1) << 48;
    /// @notice Largest arity exponent a deployment may use (64 children per reveal).
    uint8 public constant MAX_ARITY_LOG2 = 6;
    /// @dev The placeholder of a root slot no expansion has written yet.
    bytes32 private constant UNSET = bytes32(uint256(1));

    /// @inheritdoc IDisputeGame
    IStepVerifier public immutable verifier;
    /// @inheritdoc IDisputeGame
    uint8 public immutable arityLog2;
    /// @inheritdoc IDisputeGame
    uint64 public immutable clock;

    /// @dev Everything a move updates but the node sits in slot 0, so a move writes two slots.
    ///      Clocks and timestamps fit 40 bits (clock <= 30 days; timestamps until the year 36812),
    ///      indices 48 bits (lists have at most 2^48 entries). The level arrays have a fixed size and
    ///      no length slot (their lengths follow from `levels` and `level`), so an expansion writes
    ///      only its root and its path entry. At depth 0 the disputed node is the level's root:
    ///      `node` holds it from `create` on but an expansion does not write it.
    struct Game {
        // slot 0
        Phase phase;
        uint8 level;
        uint8 depth;
        uint48 index;
        uint40 lastMove;
        uint40 defenderClock;
        uint40 challengerClock;
        uint32 defenderMoves;
        uint32 challengerMoves;
        // slot 1: the disputed node below depth 0
        bytes32 node;
        // slot 2
        address defender;
        uint8 levels;
        address challenger;
        address owner;
        bytes32 context;
        // sizes[0 .. levels)
        uint64[MAX_LEVELS] sizes;
        // path[0 .. level): the disputed step of each finished level
        uint64[MAX_LEVELS] path;
        // roots[0 .. level]: the root of each level's list entered: the claim's, then each expansion's
        bytes32[MAX_LEVELS] roots;
    }

    Game[] private _games;

    /// @param verifier_ The one-step verifier (a contract).
    /// @param arityLog2_ Each reveal opens 2^arityLog2_ descendants, 1 to MAX_ARITY_LOG2.
    /// @param clock_ Each side's thinking time per game, 1 s to 30 days.
    constructor(IStepVerifier verifier_, uint8 arityLog2_, uint64 clock_) {
        if (address(verifier_).code.length == 0) revert InvalidConfig("verifier is not a contract");
        if (arityLog2_ == 0 || arityLog2_ > MAX_ARITY_LOG2) revert InvalidConfig("arityLog2 out of range");
        if (clock_ == 0 || clock_ > 30 days) revert InvalidConfig("clock out of range");
        verifier = verifier_;
        arityLog2 = arityLog2_;
        clock = clock_;
    }

    /// @inheritdoc IDisputeGame
    function create(address defender, address challenger, bytes32 root, uint64[] calldata sizes, bytes32 context)
        external
        returns (uint256 gameId)
    {
        uint256 levels = sizes.length;
        if (levels == 0 || levels > MAX_LEVELS) revert InvalidLevelSizes();
        for (uint256 l; l < levels; ++l) {
            if (sizes[l] < 2 || sizes[l] > MAX_LIST_SIZE) revert InvalidLevelSizes();
        }
        gameId = _games.length;
        Game storage g = _games.push();
        g.phase = Phase.Reveal;
        g.lastMove = uint40(block.timestamp);
        g.defenderClock = uint40(clock);
        g.challengerClock = uint40(clock);
        g.defender = defender;
        g.levels = uint8(levels);
        g.challenger = challenger;
        g.owner = msg.sender;
        g.roots[0] = root;
        // The node is not read at depth 0; written now, it makes every later write of it an update.
        g.node = root;
        g.context = context;
        for (uint256 l; l < levels; ++l) {
            g.sizes[l] = sizes[l];
        }
        // Every slot an expansion writes gets a placeholder now, so the game's opener pays for the
        // game's storage and an expansion only updates slots (a fresh slot costs 20k more).
        for (uint256 l = 1; l < levels; ++l) {
            g.roots[l] = UNSET;
            g.path[l - 1] = type(uint64).max;
        }
        emit GameCreated(gameId, msg.sender, defender, challenger, root, sizes, context);
    }

    /// @inheritdoc IDisputeGame
    function reveal(uint256 gameId, bytes32[] calldata children) external {
        Game storage g = _move(gameId, Phase.Reveal);
        uint256 left = Merkle.depthFor(g.sizes[g.level]) - g.depth;
        _checkChildren(children, arityLog2 < left ? arityLog2 : left, _node(g));
        g.phase = Phase.Pick;
        emit Revealed(gameId, g.level, g.depth, g.index, children);
    }

    /// @inheritdoc IDisputeGame
    function pick(uint256 gameId, uint256 child, bytes32 childHash, bytes32[] calldata proof) external {
        Game storage g = _move(gameId, Phase.Pick);
        uint256 len = g.sizes[g.level];
        uint256 treeDepth = Merkle.depthFor(len);
        uint256 k = _revealLog2(g, treeDepth);
        if (child >= 1 << k) revert BadPick(child);
        uint256 depth = g.depth + k;
        uint256 index = (uint256(g.index) << k) + child;
        uint256 below = treeDepth - depth;
        // A subtree of padding only is not part of the list: nothing to dispute.
        if (index << below >= len) revert BadPick(child);
        // Level 0's first entry was checked against the claim's input; a lower list's first entry
        // may be disputed (the defender then binds it to the parent's agreed entry).
        if (below == 0 && index == 0 && g.level == 0) revert AgreedEntry();
        if (proof.length != k || Merkle.rootFromPath(childHash, child, proof) != _node(g)) {
            revert BadProof("picked child");
        }
        g.depth = uint8(depth);
        g.index = uint48(index);
        g.node = childHash;
        g.phase = below == 0 ? Phase.Step : Phase.Reveal;
        emit Picked(gameId, g.level, uint8(depth), uint64(index), childHash);
    }

    /// @inheritdoc IDisputeGame
    function expand(uint256 gameId, bytes32 subRoot, bytes32[] calldata children, bytes32[] calldata endProof)
        external
    {
        Game storage g = _move(gameId, Phase.Step);
        uint256 level = g.level;
        if (level + 1 == g.levels) revert WrongAction(gameId, uint8(Phase.Step));
        uint48 index = g.index;
        if (index == 0) revert WrongAction(gameId, uint8(Phase.Step));
        _checkEnd(g, endProof);
        // The new list's first reveal: its root's descendants, as `reveal` would check them.
        uint256 subDepth = Merkle.depthFor(g.sizes[level + 1]);
        _checkChildren(children, arityLog2 < subDepth ? arityLog2 : subDepth, subRoot);
        g.path[level] = index;
        g.level = uint8(level + 1);
        g.roots[level + 1] = subRoot;
        g.depth = 0;
        g.index = 0;
        g.phase = Phase.Pick;
        emit Expanded(gameId, uint8(level), index, subRoot);
        emit Revealed(gameId, uint8(level + 1), 0, 0, children);
    }

    /// @inheritdoc IDisputeGame
    function bind(uint256 gameId, bytes32[] calldata proof) external {
        Game storage g = _move(gameId, Phase.Step);
        uint256 level = g.level;
        if (g.index != 0) revert WrongAction(gameId, uint8(Phase.Step));
        // Entry 0 of the expansion of step p is entry p - 1 of the parent list, which the
        // challenger agreed to when it picked p.
        if (!_inList(g, level - 1, g.path[level - 1] - 1, g.node, proof)) revert BadProof("first entry");
        g.phase = Phase.DefenderWon;
        emit GameResolved(gameId, Phase.DefenderWon, false);
    }

    /// @inheritdoc IDisputeGame
    function step(
        uint256 gameId,
        bytes calldata pre,
        bytes calldata post,
        bytes32[] calldata preProof,
        bytes32[] calldata endProof
    ) external {
        Game storage g = _move(gameId, Phase.Step);
        uint256 level = g.level;
        if (level + 1 != g.levels || g.index == 0) revert WrongAction(gameId, uint8(Phase.Step));
        _checkPre(g, verifier.leafHash(pre), preProof);
        if (verifier.leafHash(post) != g.node) revert BadProof("step output");
        _checkEnd(g, endProof);
        uint64[] memory path = new uint64[](level + 1);
        bytes32[] memory roots = new bytes32[](level + 1);
        for (uint256 l; l < level; ++l) {
            path[l] = g.path[l];
            roots[l] = g.roots[l];
        }
        path[level] = g.index;
        roots[level] = g.roots[level];
        Phase winner = verifier.verify(g.context, path, roots, pre, post) ? Phase.DefenderWon : Phase.ChallengerWon;
        g.phase = winner;
        emit GameResolved(gameId, winner, false);
    }

    /// @inheritdoc IDisputeGame
    function timeout(uint256 gameId) external {
        Game storage g = _game(gameId);
        Phase phase = g.phase;
        if (phase == Phase.DefenderWon || phase == Phase.ChallengerWon) revert GameOver(gameId);
        bool defenderToMove = phase != Phase.Pick;
        uint256 left = defenderToMove ? g.defenderClock : g.challengerClock;
        uint256 elapsed = block.timestamp - g.lastMove;
        if (elapsed <= left) revert NotExpired(gameId, left - elapsed);
        Phase winner;
        if (defenderToMove) {
            g.defenderClock = 0;
            winner = Phase.ChallengerWon;
        } else {
            g.challengerClock = 0;
            winner = Phase.DefenderWon;
        }
        g.phase = winner;
        emit GameResolved(gameId, winner, true);
    }

    /// @inheritdoc IDisputeGame
    function phaseOf(uint256 gameId) external view returns (Phase) {
        return _game(gameId).phase;
    }

    /// @inheritdoc IDisputeGame
    function getGame(uint256 gameId) external view returns (GameView memory v) {
        Game storage g = _game(gameId);
        v.owner = g.owner;
        v.defender = g.defender;
        v.challenger = g.challenger;
        v.phase = g.phase;
        v.level = g.level;
        v.depth = g.depth;
        v.index = g.index;
        v.defenderClock = g.defenderClock;
        v.challengerClock = g.challengerClock;
        v.lastMove = g.lastMove;
        v.defenderMoves = g.defenderMoves;
        v.challengerMoves = g.challengerMoves;
        v.root = g.roots[g.level];
        v.node = _node(g);
        v.context = g.context;
        v.sizes = new uint64[](g.levels);
        for (uint256 l; l < v.sizes.length; ++l) {
            v.sizes[l] = g.sizes[l];
        }
        v.path = new uint64[](g.level);
        v.roots = new bytes32[](g.level + 1);
        for (uint256 l; l < v.path.length; ++l) {
            v.path[l] = g.path[l];
            v.roots[l] = g.roots[l];
        }
        v.roots[g.level] = v.root;
    }

    /// @inheritdoc IDisputeGame
    function gameCount() external view returns (uint256) {
        return _games.length;
    }

    function _game(uint256 gameId) private view returns (Game storage) {
        if (gameId >= _games.length) revert UnknownGame(gameId);
        return _games[gameId];
    }

    /// @dev The checks every move shares, in the model's order, then the mover's clock and move count.
    ///      A later revert of the move undoes these effects with the rest.
    function _move(uint256 gameId, Phase want) private returns (Game storage g) {
        g = _game(gameId);
        Phase phase = g.phase;
        if (phase == Phase.DefenderWon || phase == Phase.ChallengerWon) revert GameOver(gameId);
        bool defenderToMove = phase != Phase.Pick;
        if (msg.sender != (defenderToMove ? g.defender : g.challenger)) revert NotYourTurn(gameId, msg.sender);
        uint256 elapsed = block.timestamp - g.lastMove;
        uint256 left = defenderToMove ? g.defenderClock : g.challengerClock;
        if (elapsed > left) revert ClockExpired(gameId, msg.sender);
        if (phase != want) revert WrongAction(gameId, uint8(phase));
        if (defenderToMove) {
            g.defenderClock = uint40(left - elapsed);
            ++g.defenderMoves;
        } else {
            g.challengerClock = uint40(left - elapsed);
            ++g.challengerMoves;
        }
        g.lastMove = uint40(block.timestamp);
    }

    /// @dev The disputed node: the current list's root at depth 0.
    function _node(Game storage g) private view returns (bytes32) {
        return g.depth == 0 ? g.roots[g.level] : g.node;
    }

    /// @dev Revealed children: exactly 2^k of them, hashing to `node`.
    function _checkChildren(bytes32[] calldata children, uint256 k, bytes32 node) private pure {
        uint256 expected = 1 << k;
        if (children.length != expected) revert ChildCount(expected, children.length);
        if (Merkle.rootOfPow2(children) != node) revert ChildrenMismatch();
    }

    function _revealLog2(Game storage g, uint256 treeDepth) private view returns (uint256) {
        uint256 left = treeDepth - g.depth;
        return arityLog2 < left ? arityLog2 : left;
    }

    /// @dev Below level 0, the last entry of the expansion of step p is entry p of the parent list:
    ///      the disputed node is proven there (`proof`, of the parent's tree depth) when it is its
    ///      list's last entry, and `proof` is empty otherwise.
    function _checkEnd(Game storage g, bytes32[] calldata proof) private view {
        uint256 level = g.level;
        bool ok = level == 0 || g.index != g.sizes[level] - 1
            ? proof.length == 0
            : _inList(g, level - 1, g.path[level - 1], g.node, proof);
        if (!ok) revert BadProof("last entry");
    }

    /// @dev The disputed step's input is entry `index - 1` of the current list.
    function _checkPre(Game storage g, bytes32 pre, bytes32[] calldata proof) private view {
        if (!_inList(g, g.level, g.index - 1, pre, proof)) revert BadProof("step input");
    }

    /// @dev `leaf` is entry `index` of the list the game entered at `level`.
    function _inList(Game storage g, uint256 level, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        private
        view
        returns (bool)
    {
        return ListProofs.inGameList(g.roots[level], g.sizes[level], index, leaf, proof);
    }
}
