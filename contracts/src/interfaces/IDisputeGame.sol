// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "./IStepVerifier.sol";

/// @title IDisputeGame
/// @notice k-ary dissection games between a claim's defender and one challenger (docs/SPEC.md 7),
///         many in one contract. A game is played over a hierarchy of committed lists: level 0 is
///         the claim's list (root = trace root); at each level the defender reveals the 2^d
///         descendants of the disputed node, the challenger picks one; at a disputed step the
///         defender expands it into the next level's list or, at the last level, proves it through
///         the step verifier. Each side has a chess clock; `timeout` ends a game whose mover ran out.
interface IDisputeGame {
    /// @notice What a game waits for, or who won it.
    enum Phase {
        None,
        Reveal,
        Pick,
        Step,
        DefenderWon,
        ChallengerWon
    }

    /// @notice A game's state (clocks as of the last move). `root` is the root of the list being
    ///         dissected, `roots` that of every level's list entered so far, level 0 first
    ///         (`roots[level] == root`), `path` the disputed step of each finished level.
    struct GameView {
        address owner;
        address defender;
        address challenger;
        Phase phase;
        uint8 level;
        uint8 depth;
        uint64 index;
        uint64 defenderClock;
        uint64 challengerClock;
        uint64 lastMove;
        uint32 defenderMoves;
        uint32 challengerMoves;
        bytes32 root;
        bytes32 node;
        bytes32 context;
        uint64[] sizes;
        uint64[] path;
        bytes32[] roots;
    }

    /// @notice A game was opened by `owner` over the level-0 list `root`.
    event GameCreated(
        uint256 indexed gameId,
        address indexed owner,
        address indexed defender,
        address challenger,
        bytes32 root,
        uint64[] sizes,
        bytes32 context
    );
    /// @notice The defender revealed the descendants of node (`depth`, `index`) of the current list.
    event Revealed(uint256 indexed gameId, uint8 level, uint8 depth, uint64 index, bytes32[] children);
    /// @notice The challenger disputes node (`depth`, `index`) of the current list.
    event Picked(uint256 indexed gameId, uint8 level, uint8 depth, uint64 index, bytes32 node);
    /// @notice The defender expanded step `index` of level `level` into the list `subRoot` (a
    ///         `Revealed` event of its first children follows).
    event Expanded(uint256 indexed gameId, uint8 level, uint64 index, bytes32 subRoot);
    /// @notice The game ended; `byTimeout` when a clock ran out, else through the one-step or a `bind`.
    event GameResolved(uint256 indexed gameId, Phase winner, bool byTimeout);

    /// @notice The one-step verifier of every game.
    function verifier() external view returns (IStepVerifier);
    /// @notice Each reveal opens 2^arityLog2 descendants (fewer at the bottom of a tree).
    function arityLog2() external view returns (uint8);
    /// @notice Each side's total thinking time per game, in seconds.
    function clock() external view returns (uint64);

    /// @notice Opens a game; the caller becomes its owner (the contract that settles its stakes).
    /// @param defender Moves reveal, expand, bind and step.
    /// @param challenger Moves pick.
    /// @param root The level-0 list's root (its first and last entries were checked by the owner).
    /// @param sizes Entries of each level's lists, level 0 first (1 to MAX_LEVELS levels, each 2 to 2^48).
    /// @param context Passed to the verifier (names the computation, e.g. the claim's commitment).
    function create(address defender, address challenger, bytes32 root, uint64[] calldata sizes, bytes32 context)
        external
        returns (uint256 gameId);

    /// @notice Defender: the 2^reveal descendants of the disputed node; they must hash to it.
    function reveal(uint256 gameId, bytes32[] calldata children) external;

    /// @notice Challenger: dispute revealed child `child`, given with its proof (siblings inside the
    ///         revealed subtree, bottom up) against the disputed node.
    function pick(uint256 gameId, uint256 child, bytes32 childHash, bytes32[] calldata proof) external;

    /// @notice Defender, at a disputed step `i >= 1` of a level above the last: commit its expansion
    ///         and make the new list's first reveal, so that the challenger moves next (a pick).
    ///         The expansion's first and last entries are not proven here: its entry 0 is bound to
    ///         entry i - 1 of the current list when the challenger disputes it (`bind`), its last
    ///         entry to entry i when that is disputed (`endProof` of the move answering it).
    /// @param subRoot Root of the expansion.
    /// @param children The 2^k descendants of `subRoot`, k = min(arityLog2, expansion tree depth),
    ///        checked as `reveal` checks them (`ChildCount`, `ChildrenMismatch`); emitted in a
    ///        `Revealed` event after `Expanded`.
    /// @param endProof Below level 0, when `i` is the current list's last entry: its proof as entry
    ///        `path[level - 1]` of the parent list (the parent's tree depth); empty otherwise.
    function expand(uint256 gameId, bytes32 subRoot, bytes32[] calldata children, bytes32[] calldata endProof) external;

    /// @notice Defender, at a disputed entry 0 of a list below level 0: prove it is entry
    ///         `path[level - 1] - 1` of the parent list (which the challenger agreed to); the defender
    ///         wins.
    /// @param proof Its siblings in the parent list's tree, bottom up.
    function bind(uint256 gameId, bytes32[] calldata proof) external;

    /// @notice Defender, at a disputed step `i >= 1` of the last level: reveal its input and output
    ///         states; the verifier re-executes it, given the game's path and the roots of its lists
    ///         (right: defender wins; wrong: challenger wins).
    /// @param preProof Proof of `pre`'s leaf as entry i - 1 of the current list.
    /// @param endProof As in `expand`: below level 0, when `i` is the list's last entry, the proof of
    ///        `post`'s leaf as entry `path[level - 1]` of the parent list; empty otherwise.
    function step(
        uint256 gameId,
        bytes calldata pre,
        bytes calldata post,
        bytes32[] calldata preProof,
        bytes32[] calldata endProof
    ) external;

    /// @notice Anyone: ends the game when the side to move has run out of time; the other side wins.
    function timeout(uint256 gameId) external;

    /// @notice The game's phase; `DefenderWon` or `ChallengerWon` once over.
    function phaseOf(uint256 gameId) external view returns (Phase);

    /// @notice The whole state of a game.
    function getGame(uint256 gameId) external view returns (GameView memory);

    /// @notice Number of games opened.
    function gameCount() external view returns (uint256);
}
